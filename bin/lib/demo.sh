#!/usr/bin/env bash
# `migrationctl demo`: a live migration between two real migrationd daemons on this machine.
# Starts hostA and hostB on loopback (sim backend, temporary state directories), creates dom7 (1 GiB,
# dirtying memory with the a-b pattern), migrates it to hostB with live progress, then shows that dom7
# runs on hostB and not on hostA, that its memory checks out and that its workload keeps counting.
# The daemons talk mutual TLS with certificates made on the fly by `migrationctl certs` (nothing committed).
# Stops the daemons it started on every exit path (success, failure, Ctrl-C); leaves nothing running.
set -euo pipefail
. "$(dirname "$0")/common.sh"
MIGRATIOND_HOME=$(cd "$(dirname "$0")/../.." && pwd) # common.sh assumes a script in bin/
JDK=$(find_jdk)
build_if_needed control-api
build_if_needed daemon

DEMO_DIR=$(mktemp -d "${TMPDIR:-/tmp}/migrationd-demo.XXXXXX")
PIDS=()
OK=0

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
fail() { echo "demo: FAILED: $*" >&2; exit 1; }

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  done
  if [ "$OK" = 1 ]; then
    rm -rf "$DEMO_DIR"
  else
    echo "demo: daemon logs kept in $DEMO_DIR (hostA.log, hostB.log)" >&2
  fi
}
trap cleanup EXIT
trap 'echo; echo "demo: interrupted" >&2; exit 130' INT TERM

free_port() { # a loopback port nobody listens on, below the kernel's ephemeral range (outgoing sockets take those)
  local p lo
  lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  for _ in $(seq 1 200); do
    p=$(( 10000 + RANDOM % (lo - 10000) ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  fail "no free loopback port"
}

A_CTL=$(free_port); A_PEER=$(free_port); A_MET=$(free_port)
B_CTL=$(free_port); B_PEER=$(free_port); B_MET=$(free_port)

ctl() { "$JDK/bin/java" --enable-native-access=ALL-UNNAMED -cp "$(module_classpath control-api)" \
          dev.migrationd.control.cli.MigrationCtl "$@"; }

start_daemon() { # name ctl peer metrics peer-name peer-port
  "$JDK/bin/java" --enable-native-access=ALL-UNNAMED -Xmx512m -cp "$(module_classpath daemon)" \
    dev.migrationd.daemon.MigrationDaemon --name "$1" --backend sim --state-dir "$DEMO_DIR/$1" \
    --control-listen "127.0.0.1:$2" --peer-listen "127.0.0.1:$3" --metrics-listen "127.0.0.1:$4" \
    --peer "$5=127.0.0.1:$6" --peer-allow "$5=migrate,query" \
    --tls-ca "$DEMO_DIR/tls/ca.pem" --tls-cert "$DEMO_DIR/tls/$1.pem" --tls-key "$DEMO_DIR/tls/$1.key" \
    >"$DEMO_DIR/$1.log" 2>&1 &
  PIDS+=($!)
}

wait_ready() { # name ctl-port
  for _ in $(seq 1 60); do
    if ctl domains --daemon "127.0.0.1:$2" >/dev/null 2>&1; then return 0; fi
    kill -0 "${PIDS[-1]}" 2>/dev/null || true
    sleep 0.5
  done
  tail -n 5 "$DEMO_DIR/$1.log" >&2 || true
  fail "$1 did not come up on 127.0.0.1:$2"
}

say "migrationctl certs: a lab CA and certificates for hostA and hostB (mutual TLS between the daemons)"
ctl certs --dir "$DEMO_DIR/tls" hostA hostB || fail "certs exited $?"

say "starting two daemons: hostA (control 127.0.0.1:$A_CTL) and hostB (control 127.0.0.1:$B_CTL)"
start_daemon hostA "$A_CTL" "$A_PEER" "$A_MET" hostB "$B_PEER"
start_daemon hostB "$B_CTL" "$B_PEER" "$B_MET" hostA "$A_PEER"
wait_ready hostA "$A_CTL"
wait_ready hostB "$B_CTL"
echo "hostA pid ${PIDS[0]}, hostB pid ${PIDS[1]}; metrics at http://127.0.0.1:$A_MET/metrics and :$B_MET"

say "creating dom7 on hostA: 1 GiB, 2 vCPUs, HVM, dirtying 50 MiB/s over 25% of memory (a-b pattern)"
ctl domain create dom7 --daemon "127.0.0.1:$A_CTL" --memory 1GiB --vcpus 2 --type hvm \
    --dirty-rate 50MiB/s --working-set 25% --pattern ab

say "migrationctl migrate dom7 --to hostB"
START=$(date +%s)
ctl migrate dom7 --to hostB --daemon "127.0.0.1:$A_CTL" || fail "migrate exited $?"
echo "(migration took $(( $(date +%s) - START ))s wall time, including the CLI's start-up)"

say "where dom7 runs now"
ctl domains --daemon "127.0.0.1:$B_CTL"
ctl domains --daemon "127.0.0.1:$B_CTL" --format json | grep -q '"name":"dom7".*"state":"DOMAIN_STATE_RUNNING"' \
  || fail "dom7 is not running on hostB"
ctl domains --daemon "127.0.0.1:$A_CTL"
if ctl domains --daemon "127.0.0.1:$A_CTL" --format json | grep -q '"name":"dom7"'; then fail "dom7 is still on hostA"; fi
echo "dom7 runs on hostB and not on hostA"

say "checking dom7's memory on hostB (paused briefly for a stable reading)"
ctl domain inspect dom7 --daemon "127.0.0.1:$B_CTL" | tee "$DEMO_DIR/inspect1.txt" || fail "the a-b check failed"
C1=$(sed -n 's/^workload counter *//p' "$DEMO_DIR/inspect1.txt")
sleep 2
ctl domain inspect dom7 --daemon "127.0.0.1:$B_CTL" > "$DEMO_DIR/inspect2.txt" || fail "the a-b check failed"
C2=$(sed -n 's/^workload counter *//p' "$DEMO_DIR/inspect2.txt")
[ -n "$C1" ] && [ -n "$C2" ] && [ "$C2" -gt "$C1" ] || fail "the workload is not counting ($C1 -> $C2)"
echo "workload counter $C1 -> $C2 two seconds later: dom7 keeps running on hostB"

say "history on hostA"
ctl list --daemon "127.0.0.1:$A_CTL"

OK=1
say "demo passed; stopping the daemons"
