#!/usr/bin/env bash
# Whole-migration benchmark: two real migrationd daemons (sim backend) on loopback, driven by
# migrationctl. Prints a table and one JSON object per measurement (lines starting with '{').
#
#   bench/migration-bench.sh                # defaults below; takes several minutes and ~10 GiB of disk
#   RUNS=5 BIG_MIB=2048 bench/migration-bench.sh
#   PEER_LINK=insecure bench/migration-bench.sh   # plaintext peer link, to compare with the default mutual TLS
#
# What it measures (every figure is the median of RUNS runs; the domain moves A->B, B->A, A->B, ...):
#   1. throughput: a BIG_GIB guest with random page contents, idle, one connection, no cap, divided by
#      single-stream iperf3 on loopback measured in the same run. Two figures per migration: "whole"
#      (stream bytes / total time, start to the CLI's success) and "stream" (stream bytes / (total time -
#      set-up), set-up being start -> the destination's Accept: connecting and building the domain).
#      The sim keeps guest memory in RAM (/dev/shm/migrationd-sim-*, whatever the state directory), so
#      the series differ in the state directories (journal, domain files) and in prefaulting only.
#      Series: "fresh" (state on BENCH_DIR: the destination writes into new guest memory, first touches
#      included, populated ahead of the stream by its sim-populate thread), "tmpfs" (both state
#      directories on /dev/shm too, DEST_TMPFS=0 skips it) and "prefault" (daemons with --sim-prefault:
#      the destination prefaults the whole guest memory while it builds the domain, before Accept; the
#      "stream" figure is then the transfer into prefaulted memory).
#      Every series starts with WARMUP unmeasured round trips (default 5) so that the daemons' JIT has
#      compiled both directions' paths: a long-running daemon does not pay that per migration (measured
#      here: the stream rate of the first migrations of a new daemon pair is 30-50 % lower; the warm-up
#      runs are kept in runs.jsonl as warmup_* for that comparison).
#   2. downtime at both ends (source: pause -> Running heard; destination: last stream byte -> unpause),
#      from `migrationctl status --format json` on each daemon: a static 1 GiB guest with a 30 ms target,
#      and a 1 GiB guest dirtying 100 MiB/s with a 300 ms target.
#   3. CPU seconds of both daemon processes (utime+stime from /proc/PID/stat) per GiB moved, read after the
#      source has finished freeing its copy of the guest (sim frees it in the background once the guest
#      runs on the destination); the JSON also has each side's share and the sim's memory work (the
#      destination's prefault and the source's freeing, threads sim-reaper and the set-up) where measured.
#   4. the daemons run with DAEMON_XMX (default -Xmx128m) for every run, including the BIG_GIB guest; the
#      heap in use after the big runs is read with jcmd GC.heap_info.
#
# Environment: RUNS (3), BIG_MIB (4096), SMALL_MIB (1024), DIRTY_RATE (100MiB/s), BENCH_DIR (a new directory
# under ${TMPDIR:-/var/tmp}; guest memory needs about 2 x BIG_MIB free in /dev/shm, checked at start and
# removed at the end with the state directories), DAEMON_XMX (-Xmx128m), DEST_TMPFS (auto|0|1),
# KEEP (1 = keep the logs, state directories and guest memory),
# BUILD_TREE (another checkout, packaged, whose daemon and CLI run instead of this one's: before/after),
# BENCHES (which series to run, default "fresh static dirty tmpfs prefault"; e.g. BENCHES=static for a quick
# look), WARMUP (5 round trips per series).
#
# Further series, not in the default set:
#   BENCHES=compress   a SMALL_MIB guest behind --bandwidth COMPRESS_CAP (default 128MiB/s, about 1 Gbit/s),
#                      daemons with --compression off, then with the default (auto: LZ4 behind such a cap):
#                      a compressible guest (a zero guest whose sequential writer touched every page, saved,
#                      its workload set to idle in the file, restored: a few bytes per page, the best case) and
#                      a random one (the worst case). The table has total time and bytes on the wire; the
#                      summary the ratios auto/off.
#   BENCHES=converge   a SMALL_MIB guest dirtying CONVERGE_RATE (default 300MB/s) over its whole memory behind
#                      --bandwidth COMPRESS_CAP with the default policy (it throttles the guest when a round does
#                      not shrink the dirty set): total time, rounds and the throttle at the last round. Then
#                      QEMU (qemu-system-x86_64, TCG unless /dev/kvm) with the same memory, a guest that dirties
#                      the same rate (bench/qemu-guest/dirty.S, assembled here with as/ld, paced by the TSC) and
#                      auto-converge, capped likewise, RUNS times (QEMU_TIMEOUT s each, default 300): total time,
#                      the highest throttle, how long a throttle was on, the dirty rate QEMU measured
#                      (CONVERGE_QEMU=0 leaves QEMU out, e.g. for a before/after run with BUILD_TREE).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../bin/lib/common.sh"
. "$HERE/lib/peer-link.sh"
MIGRATIOND_HOME=$(cd "$HERE/.." && pwd)
JDK=$(find_jdk)
if [ -z "${BUILD_TREE:-}" ]; then
  build_if_needed control-api
  build_if_needed daemon
fi
for tool in iperf3 jq; do
  command -v "$tool" >/dev/null || { echo "migration-bench: $tool is required (apt-get install $tool)" >&2; exit 1; }
done

RUNS=${RUNS:-3}
BIG_MIB=${BIG_MIB:-4096}
SMALL_MIB=${SMALL_MIB:-1024}
BIG_GIB=$(awk -v m="$BIG_MIB" 'BEGIN {printf "%.3f", m / 1024}')
SMALL_GIB=$(awk -v m="$SMALL_MIB" 'BEGIN {printf "%.3f", m / 1024}')
DIRTY_RATE=${DIRTY_RATE:-100MiB/s}
COMPRESS_CAP=${COMPRESS_CAP:-128MiB/s}
CONVERGE_RATE=${CONVERGE_RATE:-300000000}
DAEMON_XMX=${DAEMON_XMX:--Xmx128m}
DEST_TMPFS=${DEST_TMPFS:-auto}
BENCHES=${BENCHES:-fresh static dirty tmpfs prefault}
WARMUP=${WARMUP:-5}
wanted() { case " $BENCHES " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
BENCH_DIR=${BENCH_DIR:-$(mktemp -d "${TMPDIR:-/var/tmp}/migration-bench.XXXXXX")}
mkdir -p "$BENCH_DIR"
PIDS=()
CUR_A=""; CUR_B=""
# the daemons and the CLI run from copies of the module jars: a build during the run cannot swap them
mkdir -p "$BENCH_DIR/jars"
# BUILD_TREE: run another checkout's build instead (packaged there, e.g. an older commit to compare with)
CP_DAEMON=$(MIGRATIOND_HOME=${BUILD_TREE:-$MIGRATIOND_HOME} module_classpath daemon)
CP_CTL=$(MIGRATIOND_HOME=${BUILD_TREE:-$MIGRATIOND_HOME} module_classpath control-api)
cp "${CP_DAEMON%%:*}" "$BENCH_DIR/jars/daemon.jar"; cp "${CP_CTL%%:*}" "$BENCH_DIR/jars/control-api.jar"
CP_DAEMON="$BENCH_DIR/jars/daemon.jar:${CP_DAEMON#*:}"; CP_CTL="$BENCH_DIR/jars/control-api.jar:${CP_CTL#*:}"

# the sim keeps guest memory in /dev/shm: the source's copy and the destination's (2 x BIG_MIB) must fit there
need_kib=$(( (2 * BIG_MIB + 1024) * 1024 ))
avail_kib=$(df -Pk /dev/shm | awk 'NR==2 {print $4}')
if [ "$avail_kib" -lt "$need_kib" ]; then
  echo "migration-bench: /dev/shm has $((avail_kib / 1024 / 1024)) GiB free, needs $((need_kib / 1024 / 1024)) GiB for guest memory" >&2
  exit 1
fi

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  [ -n "${IPERF_PID:-}" ] && kill "$IPERF_PID" 2>/dev/null || true
  if [ "${KEEP:-0}" = 1 ]; then echo "migration-bench: kept $BENCH_DIR" >&2; else
    remove_sim_memory "$BENCH_DIR"; [ -n "${SHM_DIR:-}" ] && remove_sim_memory "$SHM_DIR"
    rm -rf "$BENCH_DIR" "${SHM_DIR:-/nonexistent}"
  fi
}
trap cleanup EXIT
trap 'echo "migration-bench: interrupted" >&2; exit 130' INT TERM

free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$(( 10000 + RANDOM % 20000 )) # below the ephemeral range (ip_local_port_range), where outgoing sockets bind
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  echo "migration-bench: no free loopback port" >&2; exit 1
}

ctl() { "$JDK/bin/java" --enable-native-access=ALL-UNNAMED -XX:TieredStopAtLevel=1 -cp "$CP_CTL" \
          dev.migrationd.control.cli.MigrationCtl "$@"; }

# start_pair STATE_ROOT: starts hostA and hostB with state under STATE_ROOT; sets A/B ports and pids
start_pair() {
  local root=$1; shift
  DAEMON_EXTRA=("$@"); STATE_ROOT=$root
  A_CTL=$(free_port); A_PEER=$(free_port); A_MET=$(free_port)
  B_CTL=$(free_port); B_PEER=$(free_port); B_MET=$(free_port)
  start_daemon hostA "$root" "$A_CTL" "$A_PEER" "$A_MET" hostB "$B_PEER"; A_PID=$!
  start_daemon hostB "$root" "$B_CTL" "$B_PEER" "$B_MET" hostA "$A_PEER"; B_PID=$!
  wait_ready hostA "$A_CTL" "$A_PID"
  wait_ready hostB "$B_CTL" "$B_PID"
  CUR_A=127.0.0.1:$A_CTL; CUR_B=127.0.0.1:$B_CTL
}


start_daemon() { # name root ctl peer metrics peer-name peer-port
  local link; link=$(peer_link_flags "$1")
  # shellcheck disable=SC2086
  "$JDK/bin/java" --enable-native-access=ALL-UNNAMED $DAEMON_XMX ${MIGRATIOND_JAVA_OPTS:-} -cp "$CP_DAEMON" \
    dev.migrationd.daemon.MigrationDaemon --name "$1" --backend sim --state-dir "$2/$1" \
    --control-listen "127.0.0.1:$3" --peer-listen "127.0.0.1:$4" --metrics-listen "127.0.0.1:$5" \
    --peer "$6=127.0.0.1:$7" --peer-allow "$6=migrate,query" $link \
    ${DAEMON_EXTRA[@]+"${DAEMON_EXTRA[@]}"} >>"$BENCH_DIR/$1.log" 2>&1 &
  PIDS+=($!)
}

wait_ready() { # name ctl-port pid
  for _ in $(seq 1 120); do
    if ctl domains --daemon "127.0.0.1:$2" >/dev/null 2>&1; then return 0; fi
    kill -0 "$3" 2>/dev/null || { tail -n 5 "$BENCH_DIR/$1.log" >&2; echo "migration-bench: $1 exited" >&2; exit 1; }
    sleep 0.5
  done
  echo "migration-bench: $1 did not come up" >&2; exit 1
}

stop_pair() {
  local pid
  for pid in "$A_PID" "$B_PID"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "$A_PID" "$B_PID"; do
    for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  done
}

stat_ticks() { # STAT_FILE [sys] -> utime+stime (or stime alone) in clock ticks: fields 14 and 15 after the comm
  sed 's/^.*) //' "$1" | awk -v only_sys="${2:-}" '{print only_sys ? $13 : $12 + $13}'
}
cpu_ticks() { stat_ticks "/proc/$1/stat"; }
sys_ticks() { stat_ticks "/proc/$1/stat" sys; } # kernel: socket copies, page faults
sim_mem_ticks() { # CPU of the sim's own guest-memory threads (sim-prefault, sim-populate, sim-reaper), in clock ticks
  local t sum=0 comm
  for t in /proc/"$1"/task/*; do
    comm=$(cat "$t/comm" 2>/dev/null) || continue
    case "$comm" in sim-prefault|sim-populate|sim-reaper) sum=$((sum + $(stat_ticks "$t/stat"))) ;; esac
  done
  echo "$sum"
}
CLK_TCK=$(getconf CLK_TCK)

heap_used() { # PID -> bytes of Java heap in use (jcmd GC.heap_info, first "used" figure)
  "$JDK/bin/jcmd" "$1" GC.heap_info 2>/dev/null | sed -n 's/.* used \([0-9]*\)K.*/\1/p' | head -n1 \
    | awk '{printf "%d", $1 * 1024} END {if (NR == 0) print "n/a"}'
}

secs() { # protobuf JSON duration ("0.012s") or empty -> seconds
  local v=${1%s}; [ -n "$v" ] && [ "$v" != null ] && printf '%s' "$v" || printf '0'
}

median() { # numbers on stdin -> median
  sort -g | awk '{a[NR] = $1} END {if (NR == 0) {print "nan"} else if (NR % 2) {print a[(NR + 1) / 2]} else {printf "%.6g\n", (a[NR / 2] + a[NR / 2 + 1]) / 2}}'
}

# migrate_once LABEL FROM_ADDR TO_ADDR TO_HOST DOMAIN GIB [migrate options...]: one migration; appends
# one JSON line to $BENCH_DIR/runs.jsonl
migrate_once() {
  local label=$1 from=$2 to=$3 host=$4 dom=$5 gib=$6; shift 6
  local a0 b0 a1 b1 as0 bs0 as1 bs1 out id src dst
  a0=$(cpu_ticks "$A_PID"); b0=$(cpu_ticks "$B_PID"); as0=$(sys_ticks "$A_PID"); bs0=$(sys_ticks "$B_PID")
  local m0 m1; m0=$(( $(sim_mem_ticks "$A_PID") + $(sim_mem_ticks "$B_PID") ))
  out=$(ctl migrate "$dom" --to "$host" --daemon "$from" --format json "$@") \
    || { echo "migration-bench: migration of $dom failed:" >&2; echo "$out" | tail -n 3 >&2; exit 1; }
  # the source frees its copy in the background: count that CPU too, and do not let it overlap the next run
  local src_name=hostA; [ "$from" = "$CUR_A" ] || src_name=hostB
  for _ in $(seq 1 600); do
    compgen -G "$STATE_ROOT/$src_name/sim/.destroying-*" >/dev/null || break
    sleep 0.05
  done
  a1=$(cpu_ticks "$A_PID"); b1=$(cpu_ticks "$B_PID"); as1=$(sys_ticks "$A_PID"); bs1=$(sys_ticks "$B_PID")
  m1=$(( $(sim_mem_ticks "$A_PID") + $(sim_mem_ticks "$B_PID") ))
  # which daemon was the source: the one whose address the migration was started on
  local src_cpu dst_cpu src_sys dst_sys
  if [ "$from" = "$CUR_A" ]; then src_cpu=$((a1 - a0)); dst_cpu=$((b1 - b0)); src_sys=$((as1 - as0)); dst_sys=$((bs1 - bs0))
  else src_cpu=$((b1 - b0)); dst_cpu=$((a1 - a0)); src_sys=$((bs1 - bs0)); dst_sys=$((as1 - as0)); fi
  id=$(echo "$out" | tail -n 1 | jq -r .id)
  src=$(ctl status "$id" --daemon "$from" --format json)
  dst=$(ctl status "$id" --daemon "$to" --format json)
  jq -cn --arg lbl "$label" --arg id "$id" --argjson gib "$gib" --argjson src "$src" --argjson dst "$dst" \
     --argjson cpu "$(awk -v t=$((a1 - a0 + b1 - b0)) -v hz="$CLK_TCK" 'BEGIN {printf "%.3f", t / hz}')" \
     --arg sc "$(awk -v t="$src_cpu" -v hz="$CLK_TCK" 'BEGIN {printf "%.3f", t / hz}')" \
     --arg dc "$(awk -v t="$dst_cpu" -v hz="$CLK_TCK" 'BEGIN {printf "%.3f", t / hz}')" \
     --arg ss "$(awk -v t="$src_sys" -v hz="$CLK_TCK" 'BEGIN {printf "%.3f", t / hz}')" \
     --arg sm "$(awk -v t="$((m1 - m0))" -v hz="$CLK_TCK" 'BEGIN {printf "%.3f", t / hz}')" \
     --arg ds "$(awk -v t="$dst_sys" -v hz="$CLK_TCK" 'BEGIN {printf "%.3f", t / hz}')" \
     '{bench: $lbl, migration: $id, guest_gib: $gib,
       outcome: $src.result.outcome, rounds: ($src.result.rounds // 0),
       bytes_sent: ($src.result.bytesSent // "0" | tonumber),
       wire_bytes: ($src.result.wireBytes // $src.result.bytesSent // "0" | tonumber),
       compression: ($src.result.compression // ""),
       last_throttle_pct: ($src.lastRound.throttlePercent // 0),
       total_s: ($src.result.totalTime // "0s" | rtrimstr("s") | tonumber),
       setup_s: ($src.result.setupTime // "0s" | rtrimstr("s") | tonumber),
       downtime_source_ms: (($src.result.downtimeSource // "0s" | rtrimstr("s") | tonumber) * 1000),
       downtime_destination_ms: (($dst.result.downtimeDestination // "0s" | rtrimstr("s") | tonumber) * 1000),
       cpu_s_both_daemons: $cpu,
       cpu_s_source: ($sc | tonumber), cpu_s_destination: ($dc | tonumber),
       cpu_s_sim_memory: ($sm | tonumber),
       sys_s_source: ($ss | tonumber), sys_s_destination: ($ds | tonumber),
       downtime_parts_source: ($src.result.downtimeParts // {}),
       downtime_parts_destination: ($dst.result.downtimeParts // {})}
     | . + {throughput_gib_s: (if .total_s > 0 then .bytes_sent / .total_s / 1073741824 else 0 end),
            stream_gib_s: (if .total_s > .setup_s then .bytes_sent / (.total_s - .setup_s) / 1073741824 else 0 end),
            cpu_s_per_gib: (if .bytes_sent > 0 then .cpu_s_both_daemons / (.bytes_sent / 1073741824) else 0 end),
            cpu_s_per_gib_without_sim_memory: (if .bytes_sent > 0 then (.cpu_s_both_daemons - .cpu_s_sim_memory) / (.bytes_sent / 1073741824) else 0 end)}' \
     | tee -a "$BENCH_DIR/runs.jsonl" >&2
  [ "$(echo "$src" | jq -r .result.outcome)" = OUTCOME_SUCCEEDED ] || { echo "migration-bench: $label did not succeed" >&2; exit 1; }
}

# series LABEL DOMAIN GIB [options]: RUNS migrations back and forth
series() {
  local label=$1 dom=$2 gib=$3; shift 3
  local i
  for i in $(seq 1 "$WARMUP"); do # unmeasured; ends where it started
    migrate_once "warmup_$label" "$CUR_A" "$CUR_B" hostB "$dom" "$gib" "$@"
    migrate_once "warmup_$label" "$CUR_B" "$CUR_A" hostA "$dom" "$gib" "$@"
  done
  for i in $(seq 1 "$RUNS"); do
    if [ $((i % 2)) = 1 ]; then migrate_once "$label" "$CUR_A" "$CUR_B" hostB "$dom" "$gib" "$@"
    else migrate_once "$label" "$CUR_B" "$CUR_A" hostA "$dom" "$gib" "$@"; fi
  done
  # leave the domain on hostA for the next series
  if [ $((RUNS % 2)) = 1 ]; then ctl domain destroy "$dom" --daemon "$CUR_B" >/dev/null; else ctl domain destroy "$dom" --daemon "$CUR_A" >/dev/null; fi
}

stat_of() { # LABEL FIELD -> median over the runs of that label
  jq -r --arg l "$1" "select(.bench == \$l) | .$2" "$BENCH_DIR/runs.jsonl" | median
}

echo "migration-bench: $RUNS runs each; big guest ${BIG_GIB} GiB; daemons $DAEMON_XMX; state in $BENCH_DIR" >&2
echo "migration-bench: machine: $(nproc) cores, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# --- iperf3 single stream on loopback ---------------------------------------------------------------
IPERF_GBPS=()
for i in $(seq 1 "$RUNS"); do
  port=$(free_port)
  iperf3 -s -1 -p "$port" >/dev/null 2>&1 & IPERF_PID=$!
  sleep 0.5
  bps=$(iperf3 -c 127.0.0.1 -p "$port" -t 5 -J | jq '.end.sum_received.bits_per_second')
  wait "$IPERF_PID" 2>/dev/null || true; IPERF_PID=""
  IPERF_GBPS+=("$bps")
  jq -cn --argjson bps "$bps" '{bench: "iperf3_loopback_single_stream", gib_s: ($bps / 8 / 1073741824)}' | tee -a "$BENCH_DIR/runs.jsonl" >&2
done
IPERF_GIBS=$(stat_of iperf3_loopback_single_stream gib_s)

# --- the daemons -----------------------------------------------------------------------------------
start_pair "$BENCH_DIR/state"

# 1. throughput, big random guest, fresh destination memory
HEAP_A=n/a; HEAP_B=n/a
if wanted fresh; then
  ctl domain create big --daemon "$CUR_A" --memory "${BIG_MIB}MiB" --fill random >/dev/null
  series throughput_fresh big "$BIG_GIB"
  HEAP_A=$(heap_used "$A_PID"); HEAP_B=$(heap_used "$B_PID")
fi

# 2. downtime
if wanted static; then
  ctl domain create static --daemon "$CUR_A" --memory "${SMALL_MIB}MiB" --fill random >/dev/null
  series downtime_static_30ms static "$SMALL_GIB" --max-downtime 30ms
fi
if wanted dirty; then
  ctl domain create dirty --daemon "$CUR_A" --memory "${SMALL_MIB}MiB" --fill random --dirty-rate "$DIRTY_RATE" --working-set 25% >/dev/null
  series "downtime_dirty_300ms" dirty "$SMALL_GIB" --max-downtime 300ms
fi
stop_pair

# 1b. throughput with both state directories (journal, domain files) on tmpfs too; guest memory is in
# /dev/shm in every series
if wanted tmpfs && [ "$DEST_TMPFS" != 0 ]; then
  SHM_DIR=$(mktemp -d /dev/shm/migration-bench.XXXXXX)
  start_pair "$SHM_DIR"
  ctl domain create big --daemon "$CUR_A" --memory "${BIG_MIB}MiB" --fill random >/dev/null
  series throughput_tmpfs big "$BIG_GIB"
  stop_pair
  remove_sim_memory "$SHM_DIR"
  rm -rf "$SHM_DIR"
fi

# 1c. throughput into prefaulted destination memory (--sim-prefault)
if wanted prefault; then
  PF_ROOT=$BENCH_DIR/state-prefault
  start_pair "$PF_ROOT" --sim-prefault
  ctl domain create big --daemon "$CUR_A" --memory "${BIG_MIB}MiB" --fill random >/dev/null
  series throughput_prefault big "$BIG_GIB"
  stop_pair
  remove_sim_memory "$PF_ROOT"
  rm -rf "$PF_ROOT"
fi

# 5. compression behind a cap: off, then the default (auto), on a compressible and a random guest
if wanted compress; then
  SAVES=$BENCH_DIR/saves; mkdir -p "$SAVES"
  for mode in off auto; do
    start_pair "$BENCH_DIR/state-compress-$mode" --compression "$mode" --save-dirs "$SAVES"
    # a zero guest whose writer touches every page, saved, made idle in the file (its workload descriptor page,
    # magic SIMDLKW1, rate at offset 16), restored: a static guest of a few bytes per page
    ctl domain create comp --daemon "$CUR_A" --memory "${SMALL_MIB}MiB" --fill zero --dirty-rate 4GiB/s \
      --working-set 100% --pattern sequential >/dev/null
    sleep 3
    rm -f "$SAVES/comp.xen"
    ctl save comp "$SAVES/comp.xen" --force --daemon "$CUR_A" >/dev/null
    python3 - "$SAVES/comp.xen" <<'PY'
import mmap, struct, sys
with open(sys.argv[1], "r+b") as f, mmap.mmap(f.fileno(), 0) as m:
    at = m.find(b"SIMDLKW1")
    if at < 0:
        sys.exit("migration-bench: no workload descriptor in the saved guest")
    m[at + 16:at + 24] = struct.pack("<q", 0)
PY
    ctl restore "$SAVES/comp.xen" --name comp --daemon "$CUR_A" >/dev/null
    series "compress_${mode}_compressible" comp "$SMALL_GIB" --bandwidth "$COMPRESS_CAP"
    ctl domain create crand --daemon "$CUR_A" --memory "${SMALL_MIB}MiB" --fill random >/dev/null
    series "compress_${mode}_random" crand "$SMALL_GIB" --bandwidth "$COMPRESS_CAP"
    stop_pair
  done
fi

# 6. convergence: a guest dirtying faster than the capped link
if wanted converge; then
  start_pair "$BENCH_DIR/state-converge"
  ctl domain create hot --daemon "$CUR_A" --memory "${SMALL_MIB}MiB" --fill random --dirty-rate "${CONVERGE_RATE}/s" \
    --working-set 100% >/dev/null
  series converge_dirty_300mbs hot "$SMALL_GIB" --bandwidth "$COMPRESS_CAP"
  stop_pair
  if [ "${CONVERGE_QEMU:-1}" = 1 ] && command -v qemu-system-x86_64 >/dev/null && command -v as >/dev/null && command -v ld >/dev/null; then
    # the guest's pacing: 64 pages per chunk, TSC ticks per chunk at CONVERGE_RATE (TCG's rdtsc is the host's TSC)
    tsc_mhz=$(sed -n 's/.*tsc: Detected \([0-9.]*\) MHz.*/\1/p' <(dmesg 2>/dev/null) | head -n1)
    [ -n "$tsc_mhz" ] || tsc_mhz=$(awk -F: '/cpu MHz/ {print $2; exit}' /proc/cpuinfo)
    ticks=$(awk -v mhz="$tsc_mhz" -v rate="$CONVERGE_RATE" 'BEGIN {printf "%d", 64 * 4096 / rate * mhz * 1e6}')
    as --32 --defsym TICKS_PER_CHUNK="$ticks" --defsym PAGES_PER_CHUNK=64 -o "$BENCH_DIR/dirty.o" "$HERE/qemu-guest/dirty.S"
    ld -m elf_i386 -Ttext=0x100000 -z max-page-size=0x1000 -o "$BENCH_DIR/dirty.elf" "$BENCH_DIR/dirty.o"
    cap_bytes=$(awk -v c="$COMPRESS_CAP" 'BEGIN {n = c + 0; u = c; sub(/^[0-9.]+/, "", u);
      f = (u ~ /^GiB/) ? 1073741824 : (u ~ /^MiB/) ? 1048576 : (u ~ /^KiB/) ? 1024 : (u ~ /^GB/) ? 1e9 : (u ~ /^MB/) ? 1e6 : 1;
      printf "%d", n * f}')
    KVM=(); [ -w /dev/kvm ] && KVM=(-accel kvm)
    for i in $(seq 1 "$RUNS"); do
      port=$(free_port)
      rm -f "$BENCH_DIR/qs.sock" "$BENCH_DIR/qd.sock"
      qemu-system-x86_64 "${KVM[@]}" -nodefaults -display none -m "${SMALL_MIB}M" -kernel "$BENCH_DIR/dirty.elf" \
        -qmp "unix:$BENCH_DIR/qs.sock,server=on,wait=off" >>"$BENCH_DIR/qemu.log" 2>&1 & qs=$!
      qemu-system-x86_64 "${KVM[@]}" -nodefaults -display none -m "${SMALL_MIB}M" -kernel "$BENCH_DIR/dirty.elf" -incoming defer \
        -qmp "unix:$BENCH_DIR/qd.sock,server=on,wait=off" >>"$BENCH_DIR/qemu.log" 2>&1 & qd=$!
      PIDS+=("$qs" "$qd")
      sleep 2 # the guest boots and starts writing
      out=$(python3 "$HERE/qmp.py" "$BENCH_DIR/qs.sock" "$BENCH_DIR/qd.sock" "$port" --max-bandwidth "$cap_bytes" \
        --auto-converge --timeout "${QEMU_TIMEOUT:-300}")
      kill -TERM "$qs" "$qd" 2>/dev/null || true; wait "$qs" "$qd" 2>/dev/null || true
      echo "$out" | jq -c --arg tcg "${KVM[*]:-tcg}" '{bench: "qemu_autoconverge", accel: $tcg} + .' | tee -a "$BENCH_DIR/runs.jsonl" >&2
    done
  else
    echo "migration-bench: converge: no qemu-system-x86_64 or as/ld; QEMU's side skipped" >&2
  fi
fi

# --- summary ---------------------------------------------------------------------------------------
printf '\n%-26s %8s %8s %8s %8s %9s %9s %9s %9s %7s\n' bench "whole" "vs iperf" "stream" "vs iperf" "down src" "down dst" "CPU s/GiB" "w/o simmem" rounds
printf '%-26s %8s %8s %8s %8s %9s %9s %9s %9s %7s\n' "" "GiB/s" "" "GiB/s" "" "ms" "ms" "all" "s/GiB" ""
printf '%-26s %8.3f %8s %8s %8s %9s %9s %9s %9s %7s\n' "iperf3 loopback, 1 stream" "$IPERF_GIBS" 1.000 - - - - - - -
for label in throughput_fresh throughput_tmpfs throughput_prefault downtime_static_30ms downtime_dirty_300ms \
    compress_off_compressible compress_auto_compressible compress_off_random compress_auto_random converge_dirty_300mbs; do
  grep -q "\"bench\":\"$label\"" "$BENCH_DIR/runs.jsonl" || continue
  tp=$(stat_of "$label" throughput_gib_s)
  st=$(stat_of "$label" stream_gib_s)
  printf '%-26s %8.3f %8.3f %8.3f %8.3f %9.1f %9.1f %9.2f %9.2f %7s\n' "$label" "$tp" "$(awk -v a="$tp" -v b="$IPERF_GIBS" 'BEGIN {printf "%.3f", a / b}')" \
    "$st" "$(awk -v a="$st" -v b="$IPERF_GIBS" 'BEGIN {printf "%.3f", a / b}')" \
    "$(stat_of "$label" downtime_source_ms)" "$(stat_of "$label" downtime_destination_ms)" \
    "$(stat_of "$label" cpu_s_per_gib)" "$(stat_of "$label" cpu_s_per_gib_without_sim_memory)" "$(stat_of "$label" rounds)"
  jq -cn --arg l "$label" --argjson tp "$tp" --argjson st "$st" --argjson ip "$IPERF_GIBS" --argjson runs "$RUNS" \
     --argjson ds "$(stat_of "$label" downtime_source_ms)" --argjson dd "$(stat_of "$label" downtime_destination_ms)" \
     --argjson cpu "$(stat_of "$label" cpu_s_per_gib)" --argjson r "$(stat_of "$label" rounds)" \
     --argjson cs "$(stat_of "$label" cpu_s_source)" --argjson cd "$(stat_of "$label" cpu_s_destination)" \
     --argjson su "$(stat_of "$label" setup_s)" --argjson cm "$(stat_of "$label" cpu_s_per_gib_without_sim_memory)" \
     '{summary: $l, runs: $runs, median_throughput_gib_s: $tp, ratio_to_iperf3: ($tp / $ip),
       median_stream_gib_s: $st, stream_ratio_to_iperf3: ($st / $ip), median_setup_s: $su,
       median_cpu_s_source: $cs, median_cpu_s_destination: $cd,
       median_cpu_s_per_gib_without_sim_memory: $cm,
       median_downtime_source_ms: $ds, median_downtime_destination_ms: $dd, median_cpu_s_per_gib: $cpu, median_rounds: $r}'
done
jq -cn --arg xmx "$DAEMON_XMX" --arg a "$HEAP_A" --arg b "$HEAP_B" --argjson gib "$BIG_GIB" \
   '{summary: "heap", daemon_opts: $xmx, big_guest_gib: $gib, heap_used_after_big_runs_bytes: {hostA: $a, hostB: $b}}'
if wanted compress; then
  printf '\n%-28s %9s %12s %12s %s\n' "compression at $COMPRESS_CAP" "total s" "stream MiB" "wire MiB" codec
  for label in compress_off_compressible compress_auto_compressible compress_off_random compress_auto_random; do
    printf '%-28s %9.2f %12.1f %12.1f %s\n' "$label" "$(stat_of "$label" total_s)" \
      "$(stat_of "$label" bytes_sent | awk '{print $1 / 1048576}')" "$(stat_of "$label" wire_bytes | awk '{print $1 / 1048576}')" \
      "$(jq -r --arg l "$label" 'select(.bench == $l) | .compression' "$BENCH_DIR/runs.jsonl" | sort -u | tr '\n' ' ')"
  done
  jq -cn --argjson c "$(awk -v a="$(stat_of compress_auto_compressible total_s)" -v b="$(stat_of compress_off_compressible total_s)" 'BEGIN {printf "%.3f", a / b}')" \
     --argjson r "$(awk -v a="$(stat_of compress_auto_random total_s)" -v b="$(stat_of compress_off_random total_s)" 'BEGIN {printf "%.3f", a / b}')" \
     --arg cap "$COMPRESS_CAP" '{summary: "compress", cap: $cap, compressible_auto_over_off: $c, random_auto_over_off: $r}'
fi
if wanted converge; then
  jq -cn --arg cap "$COMPRESS_CAP" --arg rate "$CONVERGE_RATE" --argjson t "$(stat_of converge_dirty_300mbs total_s)" \
     --argjson rounds "$(stat_of converge_dirty_300mbs rounds)" --argjson th "$(stat_of converge_dirty_300mbs last_throttle_pct)" \
     --argjson d "$(stat_of converge_dirty_300mbs downtime_source_ms)" \
     '{summary: "converge", cap: $cap, dirty_bytes_per_s: $rate, median_total_s: $t, median_rounds: $rounds,
       median_last_throttle_pct: $th, median_downtime_source_ms: $d}'
  if grep -q '"bench":"qemu_autoconverge"' "$BENCH_DIR/runs.jsonl"; then
    jq -cn --argjson t "$(stat_of qemu_autoconverge total_s)" --argjson th "$(stat_of qemu_autoconverge max_throttle_pct)" \
       --argjson ts "$(stat_of qemu_autoconverge throttled_s)" --argjson dr "$(stat_of qemu_autoconverge dirty_pages_rate_max)" \
       --argjson d "$(stat_of qemu_autoconverge downtime_ms)" \
       --arg done "$(jq -r 'select(.bench == "qemu_autoconverge") | .status' "$BENCH_DIR/runs.jsonl" | tr '\n' ' ')" \
       '{summary: "converge_qemu_autoconverge", median_total_s: $t, median_max_throttle_pct: $th, median_throttled_s: $ts,
         median_dirty_pages_rate_max: $dr, median_downtime_ms: $d, statuses: $done}'
  fi
fi
echo "(iperf3 median $IPERF_GIBS GiB/s; medians of $RUNS runs; per-run JSON in $BENCH_DIR/runs.jsonl while KEEP=1)"
