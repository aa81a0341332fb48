#!/usr/bin/env bash
# The path a new user takes, side by side with QEMU's own precopy and the wire, in one run on one machine:
# fresh migrationd daemons with default settings (as the README starts them, sim backend, state on
# BENCH_DIR), a guest of MIB MiB, migrated MIGRATIONS times back and forth between the same two daemons;
# QEMU 7+ (qemu-system-x86_64, KVM when /dev/kvm is there, else TCG) migrating a guest of the same size and
# contents into a fresh destination over QMP (bench/qmp.py, QEMU's cap lifted, its default 300 ms
# downtime limit); single-stream iperf3 on loopback. Every figure is a median over RUNS; the runs
# interleave the three so that the machine's load falls on all of them alike.
#
#   bench/default-path-bench.sh                      # RUNS=3 MIB=1024 MIGRATIONS=10 SERIES="random zero"
#   RUNS=5 SERIES=random bench/default-path-bench.sh
#
# Series: "random" (every page random, idle: the worst case for zero pages and compression), "zero"
# (every page zero, idle: the first migration only). Prints one JSON object per measurement (lines
# starting with '{') and a table: migrationd's first and MIGRATIONS-th migration (total as the daemon
# reports it, and the CLI's wall time for the first), QEMU's total, the wire time (migrationd's stream
# bytes at iperf3's rate) and the ratios; downtime at both ends; CPU seconds of both daemons per GiB of
# guest on the first migration.
# Environment: RUNS, MIB, MIGRATIONS, SERIES, BENCH_DIR, KEEP=1; what runs: the checkout's build by default
# (as bin/migrationd runs it), DIST=dist/target/migrationd-VERSION (the distribution's launchers, with
# their AOT caches), or DAEMON_CP and CTL_CP (class paths of another build, e.g. a copy of an older one).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../bin/lib/common.sh"
. "$HERE/lib/peer-link.sh"
JDK=$(find_jdk)
for tool in iperf3 jq python3 qemu-system-x86_64; do
  command -v "$tool" >/dev/null || { echo "default-path-bench: $tool is required (apt-get install iperf3 jq python3 qemu-system-x86)" >&2; exit 1; }
done
RUNS=${RUNS:-3}
MIB=${MIB:-1024}
MIGRATIONS=${MIGRATIONS:-10}
SERIES=${SERIES:-random zero}
BENCH_DIR=${BENCH_DIR:-$(mktemp -d "${TMPDIR:-/var/tmp}/default-path-bench.XXXXXX")}
mkdir -p "$BENCH_DIR/jars"
if [ -n "${DIST:-}" ]; then
  DIST=$(cd "$DIST" && pwd)
elif [ -z "${DAEMON_CP:-}" ]; then
  build_if_needed control-api
  build_if_needed daemon
  # run from copies of the jars: a build during the run cannot swap them
  DAEMON_CP=$(module_classpath daemon); CTL_CP=$(module_classpath control-api)
  cp "${DAEMON_CP%%:*}" "$BENCH_DIR/jars/daemon.jar"; cp "${CTL_CP%%:*}" "$BENCH_DIR/jars/control-api.jar"
  DAEMON_CP="$BENCH_DIR/jars/daemon.jar:${DAEMON_CP#*:}"; CTL_CP="$BENCH_DIR/jars/control-api.jar:${CTL_CP#*:}"
fi
GUEST_GIB=$(awk -v m="$MIB" 'BEGIN {printf "%.4f", m / 1024}')
KVM=(); [ -w /dev/kvm ] && KVM=(-accel kvm)
PIDS=()
RESULTS=$BENCH_DIR/runs.jsonl

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  rm -f "/dev/shm/default-path-bench.$$.mem"
  if [ "${KEEP:-0}" = 1 ]; then echo "default-path-bench: kept $BENCH_DIR" >&2; else remove_sim_memory "$BENCH_DIR"; rm -rf "$BENCH_DIR"; fi
}
trap cleanup EXIT
trap 'echo "default-path-bench: interrupted" >&2; exit 130' INT TERM

free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$(( 10000 + RANDOM % 20000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  echo "default-path-bench: no free loopback port" >&2; exit 1
}
ctl() {
  if [ -n "${DIST:-}" ]; then "$DIST/bin/migrationctl" "$@"; else
    "$JDK/bin/java" --enable-native-access=ALL-UNNAMED -XX:TieredStopAtLevel=1 -cp "$CTL_CP" dev.migrationd.control.cli.MigrationCtl "$@"
  fi
}
now() { date +%s.%N; }
ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
CLK_TCK=$(getconf CLK_TCK)
median() {
  sort -g | awk '{a[NR] = $1} END {if (NR == 0) {print "nan"} else if (NR % 2) {print a[(NR + 1) / 2]} else {printf "%.6g\n", (a[NR / 2] + a[NR / 2 + 1]) / 2}}'
}
med() { jq -r --arg k "$1" "select(.kind == \$k) | .$2" "$RESULTS" | median; } # KIND FIELD

# --- migrationd: a fresh pair per run ---------------------------------------------------------------
if [ -n "${DIST:-}" ]; then DAEMON_CMD=("$DIST/bin/migrationd"); else
  DAEMON_CMD=("$JDK/bin/java" --enable-native-access=ALL-UNNAMED -cp "$DAEMON_CP" dev.migrationd.daemon.MigrationDaemon)
fi
start_daemon() { # name state ctl peer metrics peer-name peer-port (the launcher execs java: $! is the JVM)
  local link; link=$(peer_link_flags "$1")
  # shellcheck disable=SC2086
  "${DAEMON_CMD[@]}" --name "$1" --backend sim --state-dir "$2" --control-listen "127.0.0.1:$3" --peer-listen "127.0.0.1:$4" \
    --metrics-listen "127.0.0.1:$5" --peer "$6=127.0.0.1:$7" --peer-allow "$6=migrate,query" $link \
    ${DAEMON_EXTRA:-} >>"$BENCH_DIR/$1.log" 2>&1 &
  PIDS+=($!)
}
wait_ready() { # ctl-port pid
  for _ in $(seq 1 240); do
    ctl domains --daemon "127.0.0.1:$1" >/dev/null 2>&1 && return 0
    kill -0 "$2" 2>/dev/null || { echo "default-path-bench: a daemon exited (see $BENCH_DIR/*.log)" >&2; exit 1; }
    sleep 0.5
  done
  echo "default-path-bench: a daemon did not come up" >&2; exit 1
}

migrationd_run() { # RUN FILL MIGRATIONS
  local run=$1 fill=$2 n=$3 root="$BENCH_DIR/state.$1.$2"
  local ac ap am bc bp bm a b i from to host t0 t1 c0 c1 out id src dst
  ac=$(free_port); ap=$(free_port); am=$(free_port); bc=$(free_port); bp=$(free_port); bm=$(free_port)
  start_daemon hostA "$root/hostA" "$ac" "$ap" "$am" hostB "$bp"; a=$!
  start_daemon hostB "$root/hostB" "$bc" "$bp" "$bm" hostA "$ap"; b=$!
  wait_ready "$ac" "$a"; wait_ready "$bc" "$b"
  # filling a big guest can outlast the CLI's call deadline on a loaded machine: then wait until it is there
  if ! ctl domain create g --daemon "127.0.0.1:$ac" --memory "${MIB}MiB" --fill "$fill" >/dev/null 2>&1; then
    for _ in $(seq 1 300); do
      ctl domains --daemon "127.0.0.1:$ac" 2>/dev/null | grep -qw g && break
      sleep 1
    done
    ctl domains --daemon "127.0.0.1:$ac" | grep -qw g || { echo "default-path-bench: guest not created" >&2; exit 1; }
  fi
  for i in $(seq 1 "$n"); do
    if [ $((i % 2)) = 1 ]; then from=$ac; to=$bc; host=hostB; else from=$bc; to=$ac; host=hostA; fi
    c0=$(( $(ticks "$a") + $(ticks "$b") ))
    t0=$(now)
    out=$(ctl migrate g --to "$host" --daemon "127.0.0.1:$from" --format json) \
      || { echo "default-path-bench: migration failed: $(echo "$out" | tail -n 2)" >&2; exit 1; }
    t1=$(now)
    # the source frees its copy in the background (the sim's reaper, as Xen does): counted, not overlapped
    for _ in $(seq 1 600); do compgen -G "$root/*/sim/.destroying-*" >/dev/null || break; sleep 0.05; done
    c1=$(( $(ticks "$a") + $(ticks "$b") ))
    id=$(echo "$out" | tail -n 1 | jq -r .id)
    src=$(ctl status "$id" --daemon "127.0.0.1:$from" --format json)
    dst=$(ctl status "$id" --daemon "127.0.0.1:$to" --format json)
    [ "$(echo "$src" | jq -r .result.outcome)" = OUTCOME_SUCCEEDED ] || { echo "default-path-bench: migration $i did not succeed" >&2; exit 1; }
    jq -cn --arg kind "migrationd_${fill}_$i" --argjson run "$run" --argjson src "$src" --argjson dst "$dst" \
       --argjson wall "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}')" \
       --argjson cpu "$(awk -v t=$((c1 - c0)) -v hz="$CLK_TCK" 'BEGIN {printf "%.3f", t / hz}')" --argjson gib "$GUEST_GIB" \
       '{kind: $kind, run: $run, cli_wall_s: $wall, cpu_s_both_daemons: $cpu, cpu_s_per_guest_gib: ($cpu / $gib),
         bytes: ($src.result.bytesSent // "0" | tonumber),
         total_s: ($src.result.totalTime // "0s" | rtrimstr("s") | tonumber),
         setup_s: ($src.result.setupTime // "0s" | rtrimstr("s") | tonumber),
         downtime_source_ms: (($src.result.downtimeSource // "0s" | rtrimstr("s") | tonumber) * 1000),
         downtime_destination_ms: (($dst.result.downtimeDestination // "0s" | rtrimstr("s") | tonumber) * 1000)}' \
       | tee -a "$RESULTS" >&2
  done
  for i in "$a" "$b"; do kill -TERM "$i" 2>/dev/null || true; done
  for i in "$a" "$b"; do for _ in $(seq 1 300); do kill -0 "$i" 2>/dev/null || break; sleep 0.1; done; done
  remove_sim_memory "$root"
  rm -rf "$root"
}

# --- QEMU: a guest of the same size and contents into a fresh destination ---------------------------
qemu_run() { # RUN FILL
  local run=$1 fill=$2 mem="/dev/shm/default-path-bench.$$.mem" port s d out
  rm -f "$mem"
  if [ "$fill" = random ]; then head -c "${MIB}M" /dev/urandom >"$mem"; else truncate -s "${MIB}M" "$mem"; fi
  port=$(free_port)
  qemu-system-x86_64 "${KVM[@]}" -nodefaults -display none -m "${MIB}M" -machine pc,memory-backend=ram0 \
    -object "memory-backend-file,id=ram0,size=${MIB}M,mem-path=$mem,share=on" \
    -qmp "unix:$BENCH_DIR/qs.sock,server=on,wait=off" >>"$BENCH_DIR/qemu.log" 2>&1 & s=$!
  qemu-system-x86_64 "${KVM[@]}" -nodefaults -display none -m "${MIB}M" -machine pc,memory-backend=ram0 \
    -object "memory-backend-ram,id=ram0,size=${MIB}M" -incoming defer \
    -qmp "unix:$BENCH_DIR/qd.sock,server=on,wait=off" >>"$BENCH_DIR/qemu.log" 2>&1 & d=$!
  PIDS+=("$s" "$d")
  out=$(python3 "$HERE/qmp.py" "$BENCH_DIR/qs.sock" "$BENCH_DIR/qd.sock" "$port")
  kill -TERM "$s" "$d" 2>/dev/null || true; wait "$s" "$d" 2>/dev/null || true
  rm -f "$mem" "$BENCH_DIR/qs.sock" "$BENCH_DIR/qd.sock"
  echo "$out" | jq -c --arg kind "qemu_$fill" --argjson run "$run" '{kind: $kind, run: $run} + .' | tee -a "$RESULTS" >&2
}

iperf_run() { # RUN
  local port bps srv
  port=$(free_port)
  iperf3 -s -1 -p "$port" >/dev/null 2>&1 & srv=$!
  sleep 0.5
  bps=$(iperf3 -c 127.0.0.1 -p "$port" -t 3 -J | jq '.end.sum_received.bits_per_second')
  wait "$srv" 2>/dev/null || true
  jq -cn --argjson run "$1" --argjson bps "$bps" '{kind: "iperf3", run: $run, gib_s: ($bps / 8 / 1073741824)}' | tee -a "$RESULTS" >&2
}

echo "default-path-bench: ${DIST:-${DAEMON_CP%%:*}}" >&2
echo "default-path-bench: $RUNS runs; guest $MIB MiB; $MIGRATIONS migrations per pair; series $SERIES; qemu ${KVM[*]:-TCG}; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for run in $(seq 1 "$RUNS"); do
  iperf_run "$run"
  for fill in $SERIES; do
    n=$MIGRATIONS; [ "$fill" = zero ] && n=1
    migrationd_run "$run" "$fill" "$n"
    qemu_run "$run" "$fill"
  done
done

# --- summary ----------------------------------------------------------------------------------------
IPERF=$(med iperf3 gib_s)
r() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "nan"}'; }
printf '\niperf3 loopback single stream: %.3f GiB/s (median of %s)\n' "$IPERF" "$RUNS"
printf '%-7s %9s %9s %9s %9s %9s %8s %8s %8s %11s %11s %9s\n' series "first s" "CLI s" "tenth s" "QEMU s" "wire s" \
  "1st/QEMU" "1st/wire" "10th/1st" "down 1st ms" "down 10th" "CPU s/GiB"
for fill in $SERIES; do
  last=$MIGRATIONS; [ "$fill" = zero ] && last=1
  f=$(med "migrationd_${fill}_1" total_s); w=$(med "migrationd_${fill}_1" cli_wall_s)
  t=$(med "migrationd_${fill}_$last" total_s); q=$(med "qemu_$fill" total_s)
  wire=$(awk -v b="$(med "migrationd_${fill}_1" bytes)" -v g="$IPERF" 'BEGIN {printf "%.6f", b / 1073741824 / g}')
  printf '%-7s %9.2f %9.2f %9.2f %9.2f %9.3f %8s %8s %8s %5.0f/%-5.0f %5.0f/%-5.0f %9.2f\n' "$fill" "$f" "$w" "$t" "$q" "$wire" \
    "$(r "$f" "$q")" "$(r "$f" "$wire")" "$(r "$t" "$f")" \
    "$(med "migrationd_${fill}_1" downtime_source_ms)" "$(med "migrationd_${fill}_1" downtime_destination_ms)" \
    "$(med "migrationd_${fill}_$last" downtime_source_ms)" "$(med "migrationd_${fill}_$last" downtime_destination_ms)" \
    "$(med "migrationd_${fill}_1" cpu_s_per_guest_gib)"
  jq -cn --arg s "$fill" --argjson runs "$RUNS" --argjson f "$f" --argjson w "$w" --argjson t "$t" --argjson q "$q" \
     --argjson wire "$wire" --argjson ip "$IPERF" --argjson qd "$(med "qemu_$fill" downtime_ms)" \
     --argjson setup "$(med "migrationd_${fill}_1" setup_s)" --argjson cpu "$(med "migrationd_${fill}_1" cpu_s_per_guest_gib)" \
     --argjson gib "$GUEST_GIB" --argjson last "$last" \
     '{summary: $s, runs: $runs, iperf3_gib_s: $ip, first_total_s: $f, first_cli_wall_s: $w, first_setup_s: $setup,
       last_migration: $last, last_total_s: $t, qemu_total_s: $q, qemu_downtime_ms: $qd, wire_s: $wire,
       first_over_qemu: ($f / $q), first_over_wire: (if $wire > 0 then $f / $wire else null end), last_over_first: ($t / $f),
       last_whole_gib_s: ($gib / $t), last_whole_over_iperf3: ($gib / $t / $ip), first_cpu_s_per_gib: $cpu}'
done
echo "(medians of $RUNS runs; QEMU downtime in the JSON; per-run JSON in $RESULTS while KEEP=1)"
