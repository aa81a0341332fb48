# The lab's scenarios and its command line. Sourced, not run.
#
# A scenario is a function scn_NAME RUN that records checks with lab_check and steps with lab_step. Every
# scenario starts from hosts with no guest (lab_reset) and leaves them so when it ends normally.
# Check outcomes:
#   PASS   holds
#   FAIL   does not hold (a product or lab defect)
#   XFAIL  a known-wrong behaviour of today's product, as expected (not a pass; the line says what was seen)
#   XPASS  a check marked known-wrong held: the expectation is out of date (counts as a failure)
#   CRASH  the emulator crashed under a JVM (hs_err file with a fault in JIT-compiled code): not a verdict on
#          the product; the run fails and says so

# 'all': the implemented scenarios that hold on this lab today, in order
LAB_SCENARIOS="boot xl-pv-save-restore xl-pvh-save-restore pv-live-refused pv-save-restore pvh-save-restore xl-interop pvh-live"
# implemented, run only by name (each with why it is not part of 'all')
LAB_EXTRA_SCENARIOS="xl-pvh-live daemon-smoke jvm-stability libxl-probe pvh-live-v2 cancel kill-source kill-destination compare-xl pvh-live-same-host"
lab_extra_why() {
  case $1 in
    xl-pvh-live) echo "xl migrate of the PVH guest; under a loaded machine the guest can miss libxl's 60 s suspend deadline" ;;
    daemon-smoke) echo "migrationd --backend xen in both dom0s and 'domains' from this machine; the daemon's start under the emulator can take minutes on a loaded machine" ;;
    jvm-stability) echo "measures how often JIT-heavy JVM runs survive the emulator, per set of JVM flags" ;;
    libxl-probe) echo "drives libxl over FFM from a JVM in hostA's dom0 (configuration JSON, cooperative suspend/resume, create_restore)" ;;
    pvh-live-v2) echo "pvh-live with the v2 stream; the same path as pvh-live past the destination's reader, so 'all' runs only the default (legacy) stream" ;;
    cancel|kill-source|kill-destination) echo "a PVH migration cancelled, or one daemon SIGKILLed and restarted, mid-stream (pass; by name because each adds a daemon restart and a partial transfer to every run)" ;;
    pvh-live-same-host) echo "two daemons in hostA's dom0 move the PVH guest between them (temporary names); passes; by name because it restarts hostA's daemon as two" ;;
    compare-xl) echo "xl migrate and migrationctl migrate of the same PVH guest, with numbers (a measurement, not a check that belongs in every run); its migrationctl half does as many rounds as xl (--max-rounds 5), XEN_LAB_MIGRATE_OPTS replaces its options" ;;
  esac
}
# named by the lab's issues, not implemented yet: 'run NAME' fails and says so
LAB_PENDING_SCENARIOS=""
lab_pending_why() {
  case $1 in
  esac
}
LAB_SCENARIO_TIMEOUT=${XEN_LAB_SCENARIO_TIMEOUT:-900}   # s, one scenario

lab_check() { # SCENARIO CHECK OUTCOME DETAIL
  local line
  line=$(printf '%-5s %s/%s: %s' "$3" "$1" "$2" "$4")
  printf '%s\n' "$line"
  printf '%s\n' "$line" >> "$LAB_RUN/summary"
}

lab_timing() { # SCENARIO STEP SECONDS
  printf '%s %s %s\n' "$1" "$2" "$3" >> "$LAB_RUN/timings"
}

# lab_step SCENARIO STEP HOST TIMEOUT SCRIPT: lab_exec, timed; the output goes to RUN/SCENARIO.log and
# into LAB_OUT; the elapsed seconds into LAB_SECS
lab_step() {
  local scn=$1 step=$2 h=$3 t=$4 script=$5 t0 rc
  t0=$(lab_now_ms)
  LAB_OUT=$(lab_exec "$LAB_RUN" "$h" "$t" "$script") && rc=0 || rc=$?
  LAB_SECS=$(lab_seconds "$t0")
  lab_timing "$scn" "$step" "$LAB_SECS"
  { printf '== %s %s on %s (%s s, rc %s)\n' "$scn" "$step" "$h" "$LAB_SECS" "$rc"; printf '%s\n' "$LAB_OUT"; } >> "$LAB_RUN/$scn.log"
  return $rc
}

# lab_reset RUN: no guest on either host, no console logs, no migration listener
lab_reset() {
  local h
  for h in $LAB_HOSTS; do
    lab_exec "$1" "$h" 120 '
      for d in $(xl list | sed -n "3,\$p" | cut -d" " -f1); do xl destroy "$d"; done
      n=$(xl list | sed -n "3,\$p" | wc -l)
      [ "$n" = 0 ] || { xl list; exit 1; }
      [ -f /run/lab-listener.pid ] && kill $(cat /run/lab-listener.pid) 2>/dev/null; rm -f /run/lab-listener.pid
      rm -f /var/log/xen/console/guest-*.log /tmp/*.save
      true' >/dev/null || { lab_log "$h: could not remove the guests of an earlier scenario"; return 1; }
  done
}

# The emulator's own faults: user processes of a dom0 killed by faults that no correct program has (a
# segfault or general protection fault of busybox or xl), seen in the dom0's kernel log. They come and go
# with the emulator (measured: lab/README.md); a scenario during which they happened gets a CRASH line, so
# that its FAIL lines are read as possibly the emulator's doing, not the product's.
LAB_FAULT_PATTERN='segfault at|general protection fault|invalid opcode|traps:'

lab_emulator_faults_reset() {
  local h
  for h in $LAB_HOSTS; do lab_exec "$LAB_RUN" "$h" 30 'dmesg -c > /dev/null' >/dev/null || true; done
}

lab_emulator_faults() {
  local scn=$1 h faults
  for h in $LAB_HOSTS; do
    faults=$(lab_exec "$LAB_RUN" "$h" 30 "dmesg | grep -E '$LAB_FAULT_PATTERN'" || true)
    [ -n "$faults" ] || continue
    printf '== emulator faults on %s\n%s\n' "$h" "$faults" >> "$LAB_RUN/$scn.log"
    lab_check "$scn" "emulator-$h" CRASH "$(grep -c . <<< "$faults") fault(s) of dom0 processes during the scenario (the emulator's): $(head -n 1 <<< "$faults" | sed 's/^\[[^]]*\] *//' | cut -c1-120)"
  done
}

scn_boot() {
  local run=$1 h info
  lab_check boot hosts-up PASS "both dom0s ready ${LAB_BOOT_SECONDS} s after QEMU start"
  lab_timing boot boot "$LAB_BOOT_SECONDS"
  for h in $LAB_HOSTS; do
    if lab_step boot "xl-info-$h" "$h" 60 'xl info'; then
      info=$(sed -n 's/^\(xen_version\|total_memory\|free_memory\|nr_cpus\|virt_caps\) *: */\1=/p' <<< "$LAB_OUT" | tr '\n' ' ')
      if grep -q '^xen_version *: 4\.17' <<< "$LAB_OUT"; then lab_check boot "xl-info-$h" PASS "$info"
      else lab_check boot "xl-info-$h" FAIL "not Xen 4.17: $info"; fi
    else
      lab_check boot "xl-info-$h" FAIL "xl info failed: $(tail -n 3 <<< "$LAB_OUT" | tr '\n' ' ')"
    fi
  done
  if lab_step boot ping hostA 60 "ping -c 3 -W 5 $(lab_host_addr hostB)"; then
    lab_check boot link PASS "hostA reaches hostB over the lab link: $(grep -o 'round-trip.*' <<< "$LAB_OUT")"
  else
    lab_check boot link FAIL "hostA cannot ping hostB: $(tail -n 2 <<< "$LAB_OUT" | tr '\n' ' ')"
  fi
}

LAB_GUEST_START_TIMEOUT=240   # s, xl create until the guest's counter has printed a few lines
LAB_MIGRATE_TIMEOUT=900       # s, one xl migrate / save / restore
LAB_XL_MIGRATE_PORT=8002      # hostB's one-shot listener that hands the connection to 'xl migrate-receive'
LAB_LINES_AFTER=8             # counter lines a moved guest must print at its new place

# lab_par SCENARIO STEP TIMEOUT SCRIPT: the same script on both hosts at once; fails when either fails
lab_par() {
  local h pids=() rc=0 p
  for h in $LAB_HOSTS; do
    ( lab_step "$1" "$2-$h" "$h" "$3" "$4" >/dev/null ) & pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  return $rc
}

# lab_sync_clocks SCENARIO: both dom0s (and their Xens' wall clocks) set from their RTCs, i.e. the host's clock
lab_sync_clocks() {
  lab_par "$1" sync-clock 60 '/lab/sync-clock' || lab_check "$1" sync-clock FAIL "could not set the dom0 clocks (see $LAB_RUN/$1.log)"
}

# lab_counter_lines HOST DOMAIN: the number of counter lines in DOMAIN's console logs on HOST (sh snippet)
lab_count_snippet() { printf 'cat /var/log/xen/console/guest-%s.log /var/log/xen/console/guest-%s--incoming.log 2>/dev/null | grep -c lab-counter' "$1" "$1"; }

# lab_wait_lines SCENARIO STEP HOST DOMAIN N TIMEOUT: waits until DOMAIN's console on HOST has N counter lines
lab_wait_lines() {
  lab_step "$1" "$2" "$3" $(($6 + 30)) "
    t=0
    until [ \"\$($(lab_count_snippet "$4"))\" -ge $5 ]; do
      sleep 1; t=\$((t + 1))
      [ \$t -lt $6 ] || { echo \"only \$($(lab_count_snippet "$4")) counter lines after $6 s\"; xl list; exit 1; }
    done"
}

# lab_create SCENARIO HOST DOMAIN CFG: xl create, then the workload's counter must appear
lab_create() {
  local scn=$1 h=$2 d=$3 cfg=$4
  if ! lab_step "$scn" "create-$d" "$h" "$LAB_GUEST_START_TIMEOUT" "xl create /lab/guest/$cfg"; then
    lab_check "$scn" "create-$d" FAIL "xl create on $h failed: $(tail -n 3 <<< "$LAB_OUT" | tr '\n' ' ')"; return 1
  fi
  local created=$LAB_SECS
  if ! lab_wait_lines "$scn" "counter-$d" "$h" "$d" 4 "$LAB_GUEST_START_TIMEOUT"; then
    lab_check "$scn" "create-$d" FAIL "$d on $h prints no counter: $(tail -n 3 <<< "$LAB_OUT" | tr '\n' ' ')"; return 1
  fi
  lab_check "$scn" "create-$d" PASS "xl create on $h: ${created} s; counter running ${LAB_SECS} s later"
}

# lab_fetch_console SCENARIO HOST DOMAIN: copies the domain's console logs from HOST (its own name's and the
# incoming copy's) and prints their paths in the order the guest wrote them (by the epoch second on each file's
# first counter line): on one host both exist, the original's lines before the move, the incoming copy's after
lab_fetch_console() {
  local scn=$1 h=$2 d=$3 f out first
  for f in "guest-$d--incoming.log" "guest-$d.log"; do
    out="$LAB_RUN/$scn.$h.$f"
    lab_exec "$LAB_RUN" "$h" 60 "[ ! -f /var/log/xen/console/$f ] || cat /var/log/xen/console/$f" > "$out" || true
    if [ -s "$out" ]; then
      first=$(grep -m1 lab-counter "$out" | sed -n 's/.*\b\([0-9]\{9,\}\) [0-9.]* lab-counter .*/\1/p')
      printf '%s %s\n' "${first:-0}" "$out"
    else
      rm -f "$out"
    fi
  done | sort -n -k1,1 | cut -d' ' -f2-
}

# lab_console_check SCENARIO FILE...: runs the counter checker over the logs; LAB_FACTS gets its facts line
lab_console_check() {
  local jdk
  jdk=$(. "$MIGRATIOND_HOME/bin/lib/common.sh"; find_jdk)
  LAB_FACTS=$("$jdk/bin/java" "$LAB_DIR/checker/ConsoleCheck.java" --min-after "$LAB_LINES_AFTER" "$@")
}

lab_fact() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<< "$2"; }

# lab_running_on SCENARIO HOST DOMAIN: DOMAIN exists on HOST and is not paused
lab_check_running() {
  local scn=$1 h=$2 d=$3 st
  if lab_step "$scn" "list-$h" "$h" 30 "xl list $d | tail -n 1"; then
    st=$(awk '{print $5}' <<< "$LAB_OUT")
    if [[ $st == *p* ]]; then lab_check "$scn" "runs-on-$h" FAIL "$d is paused on $h: $LAB_OUT"; return 1; fi
    # s: shut down, c: crashed, d: dying (a guest that panicked right after a move shows ---sc-)
    if [[ $st == *[scd]* ]]; then lab_check "$scn" "runs-on-$h" FAIL "$d is shut down, crashed or dying on $h: $LAB_OUT"; return 1; fi
    lab_check "$scn" "runs-on-$h" PASS "$d on $h, state $st"
  else
    lab_check "$scn" "runs-on-$h" FAIL "$d not on $h: $(tail -n 2 <<< "$LAB_OUT" | tr '\n' ' ')"; return 1
  fi
}

lab_check_absent() {
  local scn=$1 h=$2 d=$3
  if lab_step "$scn" "absent-$h" "$h" 30 "xl domid $d"; then
    lab_check "$scn" "gone-from-$h" FAIL "$d is still on $h (domid $LAB_OUT)"
  else
    lab_check "$scn" "gone-from-$h" PASS "$d is not on $h"
  fi
}

# lab_check_console SCENARIO HOST DOMAIN: 'xl console' on HOST shows the counter
lab_check_console() {
  local scn=$1 h=$2 d=$3
  lab_step "$scn" "xl-console-$h" "$h" 60 "timeout 10 xl console $d 2>&1 | grep -m 2 lab-counter" || true
  if grep -q lab-counter <<< "$LAB_OUT"; then
    lab_check "$scn" "xl-console-$h" PASS "xl console $d on $h: $(tail -n 1 <<< "$LAB_OUT")"
  else
    lab_check "$scn" "xl-console-$h" FAIL "xl console $d on $h shows no counter: $(tail -n 2 <<< "$LAB_OUT" | tr '\n' ' ')"
  fi
}

lab_check_destroy() {
  local scn=$1 h=$2 d=$3
  if lab_step "$scn" "destroy-$h" "$h" 60 "xl destroy $d && ! xl domid $d >/dev/null 2>&1"; then
    lab_check "$scn" "xl-destroy-$h" PASS "xl destroy $d on $h"
  else
    lab_check "$scn" "xl-destroy-$h" FAIL "xl destroy $d on $h: $(tail -n 2 <<< "$LAB_OUT" | tr '\n' ' ')"
  fi
}

# lab_check_counter SCENARIO WHAT FILE...: the counter kept counting across the move (checker over the logs)
lab_check_counter() {
  local scn=$1 what=$2; shift 2
  if [ $# = 0 ]; then lab_check "$scn" counter FAIL "no console log found"; return 1; fi
  if lab_console_check "$@"; then
    lab_check "$scn" counter PASS "kept counting across the $what from $(lab_fact move_at "$LAB_FACTS"); guest-view downtime $(lab_fact downtime_ms "$LAB_FACTS") ms (gap $(lab_fact move_gap_ms "$LAB_FACTS") ms, lines every $(lab_fact median_interval_ms "$LAB_FACTS") ms)"
  else
    lab_check "$scn" counter FAIL "$LAB_FACTS"
  fi
  printf '%s %s\n' "$scn" "$LAB_FACTS" >> "$LAB_RUN/facts"
}

# the sh snippet that prints "elapsed=S tx=BYTES rx=BYTES" around a command (uptime and link0's counters)
lab_measured() {
  printf '%s' "
    n=/sys/class/net/link0/statistics
    tx0=\$(cat \$n/tx_bytes); rx0=\$(cat \$n/rx_bytes); u0=\$(cut -d' ' -f1 /proc/uptime)
    $1
    rc=\$?
    u1=\$(cut -d' ' -f1 /proc/uptime); tx1=\$(cat \$n/tx_bytes); rx1=\$(cat \$n/rx_bytes)
    echo \"lab-measured: elapsed=\$(awk \"BEGIN{print \$u1 - \$u0}\") tx=\$((tx1 - tx0)) rx=\$((rx1 - rx0))\"
    exit \$rc"
}

scn_xl_pvh_live() {
  local scn=xl-pvh-live d=gpvh m
  lab_sync_clocks $scn
  lab_create $scn hostA $d pvh.cfg || return 0
  lab_step $scn listen hostB 30 \
    "setsid nc -l -p $LAB_XL_MIGRATE_PORT -e /usr/lib/xen-4.17/bin/xl migrate-receive > /tmp/xl-migrate-receive.log 2>&1 < /dev/null &
     echo \$! > /run/lab-listener.pid"
  if lab_step $scn xl-migrate hostA $LAB_MIGRATE_TIMEOUT \
       "$(lab_measured "xl migrate -s '' $d 'nc $(lab_host_addr hostB) $LAB_XL_MIGRATE_PORT'")"; then
    m=$(grep lab-measured <<< "$LAB_OUT")
    lab_check $scn xl-migrate PASS "xl migrate $d hostA -> hostB: $(lab_fact elapsed "$m") s, $(( $(lab_fact tx "$m") / 1048576 )) MiB sent on the link"
    lab_timing $scn xl-migrate-in-dom0 "$(lab_fact elapsed "$m")"
  else
    lab_check $scn xl-migrate FAIL "xl migrate failed: $(grep -v lab-measured <<< "$LAB_OUT" | tail -n 3 | tr '\n' ' ')"
    lab_exec "$LAB_RUN" hostB 30 'cat /tmp/xl-migrate-receive.log' >> "$LAB_RUN/$scn.log" || true
    return 0
  fi
  lab_check_absent $scn hostA $d
  lab_check_running $scn hostB $d
  lab_wait_lines $scn counter-after hostB $d "$LAB_LINES_AFTER" 120 || true
  lab_check_counter $scn "migration" $(lab_fetch_console $scn hostA $d) $(lab_fetch_console $scn hostB $d)
  lab_check_console $scn hostB $d
  lab_check_destroy $scn hostB $d
}

# lab_save_restore SCENARIO DOMAIN CFG: xl save, xl restore on hostA; the counter continues
lab_save_restore() {
  local scn=$1 d=$2 cfg=$3 m
  lab_sync_clocks "$scn"
  lab_create "$scn" hostA "$d" "$cfg" || return 0
  if lab_step "$scn" xl-save hostA $LAB_MIGRATE_TIMEOUT "$(lab_measured "xl save $d /tmp/$d.save && echo \"lab-size: \$(wc -c < /tmp/$d.save)\"")"; then
    m=$(grep lab-measured <<< "$LAB_OUT")
    lab_check "$scn" xl-save PASS "xl save $d: $(lab_fact elapsed "$m") s, $(( $(sed -n 's/^lab-size: *//p' <<< "$LAB_OUT") / 1048576 )) MiB"
    lab_timing "$scn" xl-save-in-dom0 "$(lab_fact elapsed "$m")"
  else
    lab_check "$scn" xl-save FAIL "xl save failed: $(tail -n 3 <<< "$LAB_OUT" | tr '\n' ' ')"; return 0
  fi
  lab_check_absent "$scn" hostA "$d"
  if lab_step "$scn" xl-restore hostA $LAB_MIGRATE_TIMEOUT "$(lab_measured "xl restore /tmp/$d.save")"; then
    m=$(grep lab-measured <<< "$LAB_OUT")
    lab_check "$scn" xl-restore PASS "xl restore $d: $(lab_fact elapsed "$m") s"
    lab_timing "$scn" xl-restore-in-dom0 "$(lab_fact elapsed "$m")"
  else
    lab_check "$scn" xl-restore FAIL "xl restore failed: $(tail -n 3 <<< "$LAB_OUT" | tr '\n' ' ')"; return 0
  fi
  lab_check_running "$scn" hostA "$d"
  lab_exec "$LAB_RUN" hostA 10 "rm -f /tmp/$d.save" >/dev/null || true
  # the console log continues in the same file: the counter goes on after the restore
  local before
  before=$(lab_exec "$LAB_RUN" hostA 30 "$(lab_count_snippet "$d")") || before=0
  lab_wait_lines "$scn" counter-after hostA "$d" $((before + LAB_LINES_AFTER)) 120 || true
  lab_check_counter "$scn" "save and restore" $(lab_fetch_console "$scn" hostA "$d")
  lab_check_console "$scn" hostA "$d"
  lab_check_destroy "$scn" hostA "$d"
}

scn_xl_pv_save_restore()  { lab_save_restore xl-pv-save-restore gpv pv.cfg; }
scn_xl_pvh_save_restore() { lab_save_restore xl-pvh-save-restore gpvh pvh.cfg; }

# JVM options of the daemons in the dom0s. Measured under TCG (lab/README.md): the JIT's freshly patched code
# is where the emulator fails; C1 alone (no C2) keeps start-up tolerable and did not crash in the lab's runs.
LAB_DAEMON_JAVA_OPTS=${XEN_LAB_DAEMON_JAVA_OPTS:--XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xmx256m}
LAB_DAEMON_START_TIMEOUT=${XEN_LAB_DAEMON_START_TIMEOUT:-300}   # s, JVM start to "event=daemon_started"
# Daemon limits for the emulator: a source took 25 s between the destination's Accept and its first page (the
# scan of a PVH guest's 1 M PFNs under TCG), longer than the default 30 s window of the minimum incoming rate;
# the first TLS handshake between two fresh daemons outlasted the default 10 s on a loaded machine; so did a
# source's Offer after connecting (it asks libxl for the guest's configuration first: more than 10 s on a
# loaded machine, and the destination closed the connection with "no Offer or Query within 10000 ms")
LAB_DAEMON_LIMITS="--limit incoming-rate-window=180s --limit peer-handshake-timeout=60s --limit offer-timeout=60s"
# more daemon options for a run, e.g. XEN_LAB_DAEMON_OPTS="--compression lz4"
LAB_DAEMON_LIMITS="$LAB_DAEMON_LIMITS ${XEN_LAB_DAEMON_OPTS:-}"

LAB_DOM0_TLS_DIR=/etc/migrationd/tls   # in each dom0: ca.pem, HOST.pem, HOST.key
# the client certificate of this machine's migrationctl: the dom0 daemons' control API (TCP, forwarded to this
# machine, so mutual TLS) makes its name an operator
LAB_CTL_CERT=lab-operator

# lab_tls_certs: a CA of this run, a certificate per lab host and one for this machine's migrationctl, made on
# this machine by 'migrationctl certs' into $LAB_RUN/tls (once per run; the CA's key never leaves this machine)
lab_tls_certs() {
  [ -s "$LAB_RUN/tls/ca.pem" ] && return 0
  # shellcheck disable=SC2086
  "$MIGRATIOND_HOME/bin/migrationctl" certs --dir "$LAB_RUN/tls" $LAB_HOSTS $LAB_CTL_CERT > "$LAB_RUN/tls-certs.log" 2>&1 ||
    { tail -n 5 "$LAB_RUN/tls-certs.log" >&2; return 1; }
}

# lab_tls_install_script HOST: sh that writes HOST's TLS files (from $LAB_RUN/tls) into its dom0, key mode 0600
lab_tls_install_script() {
  local h=$1 f
  printf 'mkdir -p %s && ( umask 077
' "$LAB_DOM0_TLS_DIR"
  for f in ca.pem "$h.pem" "$h.key"; do
    printf "printf '%%s\\n' '%s' > %s/%s\n" "$(cat "$LAB_RUN/tls/$f")" "$LAB_DOM0_TLS_DIR" "$f"
  done
  printf ') || { echo "lab: could not write %s"; exit 1; }\n' "$LAB_DOM0_TLS_DIR"
}

# lab_daemon_start SCENARIO HOST: migrationd --backend xen in HOST's dom0, as an operator would run it: mutual TLS
# on the peer link with the run's certificates, the peer allowed to migrate here and to query
lab_daemon_start() {
  local scn=$1 h=$2 peer
  peer=$(lab_peer_of "$h")
  lab_step "$scn" "daemon-start-$h" "$h" $((LAB_DAEMON_START_TIMEOUT + 30)) "
    if [ -f /run/migrationd.pid ] && [ -d /proc/\$(cat /run/migrationd.pid) ] && grep -q event=daemon_started /var/log/migrationd/daemon.log; then
      echo 'lab: the daemon of an earlier scenario is running'; grep event=daemon_started /var/log/migrationd/daemon.log; exit 0
    fi
    mkdir -p /var/lib/migrationd /var/log/migrationd
    rm -f /var/log/migrationd/hs_err_pid*.log
    $(lab_tls_install_script "$h")
    MIGRATIOND_JAVA_OPTS='$LAB_DAEMON_JAVA_OPTS -XX:ErrorFile=/var/log/migrationd/hs_err_pid%p.log' \
      setsid /usr/sbin/migrationd --backend xen --name $h --state-dir /var/lib/migrationd \
        --control-listen 0.0.0.0:$LAB_DOM0_CONTROL_PORT --metrics-listen 0.0.0.0:$LAB_DOM0_METRICS_PORT \
        --peer-listen $(lab_host_addr "$h"):$LAB_DOM0_PEER_PORT --peer $peer=$(lab_host_addr "$peer"):$LAB_DOM0_PEER_PORT \
        --peer-allow $peer=migrate,query --tls-ca $LAB_DOM0_TLS_DIR/ca.pem \
        --tls-cert $LAB_DOM0_TLS_DIR/$h.pem --tls-key $LAB_DOM0_TLS_DIR/$h.key $LAB_DAEMON_LIMITS \
        --control-tls-ca $LAB_DOM0_TLS_DIR/ca.pem --control-tls-cert $LAB_DOM0_TLS_DIR/$h.pem \
        --control-tls-key $LAB_DOM0_TLS_DIR/$h.key --control-operators cert:$LAB_CTL_CERT \
        > /var/log/migrationd/daemon.log 2>&1 < /dev/null &
    echo \$! > /run/migrationd.pid
    t0=\$(date +%s)
    until grep -q event=daemon_started /var/log/migrationd/daemon.log; do
      [ -d /proc/\$(cat /run/migrationd.pid) ] || { echo 'lab: the daemon exited'; tail -n 20 /var/log/migrationd/daemon.log; exit 1; }
      sleep 1
      # wall-clock seconds: under a loaded emulator one turn of this loop takes far more than 'sleep 1'
      [ \$((\$(date +%s) - t0)) -lt $LAB_DAEMON_START_TIMEOUT ] || { echo 'lab: no daemon_started after $LAB_DAEMON_START_TIMEOUT s'; tail -n 20 /var/log/migrationd/daemon.log; exit 1; }
    done
    grep event=daemon_started /var/log/migrationd/daemon.log"
}

# lab_jvm_crash HOST: prints a one-line verdict when a JVM in HOST's dom0 left an hs_err file:
# "emulator <frame>" when the fault is in the JVM or JIT-compiled code (the emulator's known weakness),
# "product <frame>" when it is in native code the product calls (libxen*, libc through a downcall)
lab_jvm_crash() {
  local out
  out=$(lab_exec "$LAB_RUN" "$1" 30 '
    for f in /var/log/migrationd/hs_err_pid*.log /tmp/hs_err_pid*.log; do
      [ -f "$f" ] || continue
      echo "file=$f"; grep -A1 "^# Problematic frame" "$f" | tail -n 1; grep -m1 "^#  SIG\|^#  Internal Error" "$f"
    done') || return 0
  [ -n "$out" ] || return 0
  local frame
  frame=$(grep '^# ' <<< "$out" | grep -v '^#  ' | head -n 1 | sed 's/^# *//')
  if [[ $frame == C\ \ \[libxen* ]] || [[ $frame == C\ \ \[libc* ]]; then
    echo "product: ${frame} ($(grep -m1 '^#  ' <<< "$out" | sed 's/^# *//'); $(grep -m1 file= <<< "$out"))"
  else
    echo "emulator: ${frame:-no frame} ($(grep -m1 '^#  ' <<< "$out" | sed 's/^# *//'); $(grep -m1 file= <<< "$out"))"
  fi
}

# lab_check_daemon_alive SCENARIO HOST: the daemon still runs; an hs_err file is classified (CRASH for the
# emulator's faults, FAIL for the product's)
lab_check_daemon_alive() {
  local scn=$1 h=$2 crash
  crash=$(lab_jvm_crash "$h")
  case $crash in
    emulator:*) lab_check "$scn" "daemon-$h" CRASH "the JVM crashed under the emulator, not a product verdict: ${crash#emulator: }"; return 1 ;;
    product:*) lab_check "$scn" "daemon-$h" FAIL "the daemon crashed in native code: ${crash#product: }"; return 1 ;;
  esac
  if lab_exec "$LAB_RUN" "$h" 30 '[ -d /proc/$(cat /run/migrationd.pid) ]' >/dev/null; then return 0; fi
  lab_check "$scn" "daemon-$h" FAIL "the daemon exited: $(lab_exec "$LAB_RUN" "$h" 30 'tail -n 3 /var/log/migrationd/daemon.log' | tr '\n' ' ')"
  return 1
}

lab_daemon_stop() {
  lab_exec "$LAB_RUN" "$1" 60 '
    p=$(cat /run/migrationd.pid 2>/dev/null) || exit 0
    kill -TERM "$p" 2>/dev/null
    t=0; while [ -d /proc/$p ] && [ $t -lt 30 ]; do sleep 1; t=$((t + 1)); done
    [ -d /proc/$p ] && kill -KILL "$p"
    rm -f /run/migrationd.pid; true' >/dev/null || true
}

# lab_ctl SCENARIO STEP HOST ARGS...: bin/migrationctl on this machine against HOST's daemon (forwarded port)
lab_ctl() {
  local scn=$1 step=$2 h=$3 t0 rc; shift 3
  t0=$(lab_now_ms)
  LAB_OUT=$(timeout "$LAB_MIGRATE_TIMEOUT" "$MIGRATIOND_HOME/bin/migrationctl" --daemon "127.0.0.1:$(lab_port "$LAB_RUN" "$h" control)" \
    --tls-ca "$LAB_RUN/tls/ca.pem" --tls-cert "$LAB_RUN/tls/$LAB_CTL_CERT.pem" --tls-key "$LAB_RUN/tls/$LAB_CTL_CERT.key" \
    --tls-server-name "$h" "$@" 2>&1) && rc=0 || rc=$?
  LAB_SECS=$(lab_seconds "$t0")
  lab_timing "$scn" "$step" "$LAB_SECS"
  { printf '== %s %s: migrationctl %s (%s s, rc %s)\n' "$scn" "$step" "$*" "$LAB_SECS" "$rc"; printf '%s\n' "$LAB_OUT"; } >> "$LAB_RUN/$scn.log"
  return $rc
}

scn_daemon_smoke() {
  local scn=daemon-smoke h ok=1 line
  lab_create $scn hostA gpv pv.cfg || return 0
  lab_create $scn hostA gpvh pvh.cfg || return 0
  lab_daemons_start $scn || ok=0
  if [ $ok = 1 ]; then
    if lab_ctl $scn domains-hostA hostA domains --format json; then
      printf '%s\n' "$LAB_OUT" > "$LAB_RUN/$scn.domains.json"
      lab_check_domain $scn gpv pv 128
      lab_check_domain $scn gpvh pvh 128
    else
      lab_check $scn domains FAIL "migrationctl domains against hostA: $(tail -n 2 <<< "$LAB_OUT" | tr '\n' ' ')"
    fi
    if lab_ctl $scn domains-hostB hostB domains; then
      lab_check $scn domains-hostB PASS "hostB's daemon answers from this machine: $(head -n 1 <<< "$LAB_OUT")"
    else
      lab_check $scn domains-hostB FAIL "migrationctl domains against hostB: $(tail -n 2 <<< "$LAB_OUT" | tr '\n' ' ')"
    fi
    for h in $LAB_HOSTS; do
      lab_check_daemon_alive $scn "$h" && lab_check $scn "daemon-alive-$h" PASS "still running after the requests"
    done
  fi
}

# lab_daemons_start SCENARIO: the daemon on both hosts at once (their JVMs start in parallel); a PASS line per
# host, or a CRASH/FAIL line saying why not; fails when either did not start. A daemon an earlier scenario of
# the run started is reused (a JVM start takes minutes under the emulator); QEMU's stop ends them with the run.
lab_daemons_start() {
  local scn=$1 h pids=() p rc=0 cds
  lab_tls_certs || { lab_check "$scn" tls-certs FAIL "migrationctl certs failed (see $LAB_RUN/tls-certs.log)"; return 1; }
  for h in $LAB_HOSTS; do
    ( lab_daemon_start "$scn" "$h" > /dev/null; rc=$?
      if grep -q 'daemon of an earlier scenario' <<< "$LAB_OUT"; then echo "(reused: started by an earlier scenario)"; else echo "in $LAB_SECS s"; fi > "$LAB_RUN/$scn.start-$h"
      exit $rc ) & pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  for h in $LAB_HOSTS; do
    if lab_check_daemon_alive "$scn" "$h" && lab_exec "$LAB_RUN" "$h" 30 'grep -q event=daemon_started /var/log/migrationd/daemon.log' >/dev/null; then
      lab_check "$scn" "daemon-start-$h" PASS "migrationd --backend xen up $(cat "$LAB_RUN/$scn.start-$h") (JVM: $LAB_DAEMON_JAVA_OPTS)"
      # an archive the JVM refuses (in part) costs minutes of class loading under the emulator
      cds=$(lab_exec "$LAB_RUN" "$h" 30 "grep -m1 -e '\]\[error\]\[cds' -e '\]\[warning\]\[cds' /var/log/migrationd/daemon.log") || true
      [ -z "$cds" ] || lab_check "$scn" "cds-$h" FAIL "the JVM refused its class-data-sharing archive (in part): $cds"
      lab_ctl_warm "$scn" "$h" || rc=1
    else
      grep -q "^\(CRASH\|FAIL\) *$scn/daemon-$h" "$LAB_RUN/summary" ||
        lab_check "$scn" "daemon-start-$h" FAIL "no daemon_started ($(cat "$LAB_RUN/$scn.start-$h")): $(lab_exec "$LAB_RUN" "$h" 30 'tail -n 2 /var/log/migrationd/daemon.log' | tr '\n' ' ' | cut -c1-300)"
      rc=1
    fi
  done
  return $rc
}

LAB_CTL_WARM_ATTEMPTS=3   # 'domains' calls before a daemon's control port is declared unreachable

# lab_ctl_warm SCENARIO HOST: the first requests a daemon's JVM serves under the emulator load the whole gRPC
# stack and can outlast the CLI's 30 s deadline for one call (measured: the first call of a fresh daemon timed
# out while it was still loading classes). A few bounded 'domains' calls bring it up to speed; each attempt
# is logged, and the check fails when none answered.
lab_ctl_warm() {
  local scn=$1 h=$2 i
  for i in $(seq $LAB_CTL_WARM_ATTEMPTS); do
    if lab_ctl "$scn" "warm-$h-$i" "$h" domains; then
      lab_check "$scn" "control-$h" PASS "the daemon answers 'domains' from this machine (attempt $i of $LAB_CTL_WARM_ATTEMPTS, $LAB_SECS s)"
      return 0
    fi
    grep -q 'cannot reach the daemon' <<< "$LAB_OUT" || break
  done
  lab_check "$scn" "control-$h" FAIL "the daemon's control port does not answer: $(tail -n 1 <<< "$LAB_OUT" | cut -c1-300)"
  return 1
}

# pv-live-refused: 'migrationctl migrate' of a running PV guest on Debian's Xen (no shadow paging, so no PV
# log-dirty) is refused before anything moves, with one line naming the reason and the alternatives; the
# guest keeps running on hostA and nothing appears on hostB.
scn_pv_live_refused() {
  local scn=pv-live-refused d=gpv before line h
  # the daemons first: a JVM starts far faster in a dom0 whose CPUs no guest is busy on
  if ! lab_daemons_start $scn; then for h in $LAB_HOSTS; do lab_daemon_stop "$h"; done; return 0; fi
  if ! lab_create $scn hostA $d pv.cfg; then for h in $LAB_HOSTS; do lab_daemon_stop "$h"; done; return 0; fi
  before=$(lab_exec "$LAB_RUN" hostA 30 "$(lab_count_snippet $d)") || before=0
  if lab_ctl $scn migrate hostA migrate $d --to hostB; then
    lab_check $scn refused FAIL "migrationctl migrate of the PV guest succeeded (expected a refusal): $(tail -n 2 <<< "$LAB_OUT" | tr '\n' ' ')"
  else
    line=$(grep -i 'log-dirty' <<< "$LAB_OUT" | head -n 1)
    if [ -n "$line" ] && grep -q 'shadow paging' <<< "$line" && grep -q EOPNOTSUPP <<< "$line" &&
       grep -q 'save and restore' <<< "$line" && grep -q 'PVH or HVM' <<< "$line"; then
      lab_check $scn refused PASS "refused in $LAB_SECS s: $line"
    else
      lab_check $scn refused FAIL "refused without the reason and the alternatives: $(tail -n 3 <<< "$LAB_OUT" | tr '\n' ' ' | cut -c1-400)"
    fi
  fi
  lab_check_running $scn hostA $d
  if lab_wait_lines $scn counter-after hostA $d $((before + 4)) 120; then
    lab_check $scn counter PASS "the guest's counter goes on on hostA (past line $((before + 4)))"
  else
    lab_check $scn counter FAIL "the guest's counter stopped on hostA: $(tail -n 2 <<< "$LAB_OUT" | tr '\n' ' ')"
  fi
  if lab_step $scn nothing-on-hostB hostB 30 'xl list | sed -n "3,\$p"'; then
    if [ -z "$LAB_OUT" ]; then lab_check $scn nothing-on-hostB PASS "hostB has no guest"
    else lab_check $scn nothing-on-hostB FAIL "hostB has: $(tr '\n' ' ' <<< "$LAB_OUT")"; fi
  else
    lab_check $scn nothing-on-hostB FAIL "xl list on hostB failed"
  fi
  for h in $LAB_HOSTS; do
    lab_check_daemon_alive $scn "$h" && lab_check $scn "daemon-alive-$h" PASS "still running"
  done
}

# lab_daemon_logs SCENARIO: the daemons' last log lines into RUN/SCENARIO.log (after a failure)
lab_daemon_logs() {
  local h
  for h in $LAB_HOSTS; do
    { printf '== %s daemon log on %s (last %s lines)\n' "$1" "$h" "$LAB_DAEMON_LOG_TAIL"
      lab_exec "$LAB_RUN" "$h" 30 "tail -n $LAB_DAEMON_LOG_TAIL /var/log/migrationd/daemon.log" || true; } >> "$LAB_RUN/$1.log"
  done
}
LAB_DAEMON_LOG_TAIL=80

# lab_pvh_live SCENARIO MIGRATE-ARGS...: 'migrationctl migrate gpvh --to hostB' on hostA's daemon moves the running
# PVH guest: afterwards it runs on hostB (counter goes on, xl list/console/destroy work there), gone from hostA
lab_pvh_live() {
  local scn=$1 d=gpvh h; shift
  lab_sync_clocks "$scn"
  # the daemons first: a JVM starts far faster in a dom0 whose CPUs no guest is busy on
  if ! lab_daemons_start "$scn"; then lab_daemon_logs "$scn"; return 0; fi
  lab_create "$scn" hostA $d pvh.cfg || return 0
  # shellcheck disable=SC2086
  if lab_ctl_retried "$scn" migrate hostA migrate $d --to hostB $LAB_MIGRATE_OPTS "$@"; then
    lab_check "$scn" migrate PASS "migrationctl migrate $d --to hostB $*: $LAB_SECS s; $(grep -i -m1 -e 'downtime' <<< "$LAB_OUT" | cut -c1-200)"
  else
    lab_check "$scn" migrate FAIL "migrationctl migrate $d --to hostB $* failed: $(tail -n 3 <<< "$LAB_OUT" | tr '\n' ' ' | cut -c1-400)"
    lab_daemon_logs "$scn"
    return 0
  fi
  lab_check_absent "$scn" hostA $d
  lab_check_running "$scn" hostB $d || { lab_daemon_logs "$scn"; return 0; }
  lab_wait_lines "$scn" counter-after hostB $d "$LAB_LINES_AFTER" 120 || true
  lab_check_counter "$scn" "migration" $(lab_fetch_console "$scn" hostA $d) $(lab_fetch_console "$scn" hostB $d)
  lab_check_console "$scn" hostB $d
  lab_check_destroy "$scn" hostB $d
  for h in $LAB_HOSTS; do
    lab_check_daemon_alive "$scn" "$h" && lab_check "$scn" "daemon-alive-$h" PASS "still running"
  done
  grep -q "^FAIL *$scn/" "$LAB_RUN/summary" && lab_daemon_logs "$scn"
  return 0
}

scn_pvh_live()    { lab_pvh_live pvh-live; }

# lab_ctl_retried SCENARIO STEP HOST ARGS...: lab_ctl of a start command (migrate, save, restore) that is tried
# again, with the same idempotency key, while the CLI cannot reach the daemon (on a loaded machine the control
# TLS handshake of a fresh CLI JVM sometimes did not complete: "Network closed for unknown reason"); the key
# makes a start that did reach the daemon return the same operation instead of starting a second one
lab_ctl_retried() {
  local scn=$1 step=$2 h=$3 key i; shift 3
  key="lab-$scn-$step-$(date +%s%N)"
  for i in $(seq $LAB_CTL_WARM_ATTEMPTS); do
    lab_ctl "$scn" "$step" "$h" "$@" --idempotency-key "$key" && return 0
    grep -q 'cannot reach the daemon' <<< "$LAB_OUT" || return 1
  done
  return 1
}
scn_pvh_live_v2() { lab_pvh_live pvh-live-v2 --stream-format v2; }

# migrationctl migrate's options in the lab: the guest dirties 4 MiB/s of a 16 MiB buffer while the emulated link
# carries about 0.5 MiB/s, so no round ever leaves few enough pages for the downtime policy's target (measured:
# 4400 pages dirty after every round); like xl, a fixed number of rounds and then stop-and-copy
LAB_MIGRATE_OPTS=${XEN_LAB_MIGRATE_OPTS:---policy xen-legacy --max-rounds 3}
# compare-xl's migrationctl half does as many rounds as xl (libxc's save stops after 5 iterations), so that the
# two move the same guest the same way
LAB_COMPARE_OPTS=${XEN_LAB_MIGRATE_OPTS:---policy xen-legacy --max-rounds 5}
LAB_SLOW_BANDWIDTH=${XEN_LAB_SLOW_BANDWIDTH:-2MiB/s}   # keeps the 128 MiB guest's stream flowing for a minute or more
LAB_INCOMING_WAIT=300   # s, the migration started until the destination shows the incoming domain

# lab_migrate_detached SCENARIO HOST ARGS...: 'migrate gpvh ARGS --bandwidth SLOW --detach' on HOST's daemon;
# LAB_MIG gets the migration's id
lab_migrate_detached() {
  local scn=$1 h=$2; shift 2
  LAB_MIG=
  # shellcheck disable=SC2086
  lab_ctl_retried "$scn" migrate-detached "$h" migrate gpvh "$@" $LAB_MIGRATE_OPTS --bandwidth "$LAB_SLOW_BANDWIDTH" --detach || return 1
  LAB_MIG=$(sed -n 's/.*migration \([^: ]*\): .*/\1/p' <<< "$LAB_OUT" | head -n 1)
  [ -n "$LAB_MIG" ]
}

# lab_wait_domain SCENARIO STEP HOST NAME TIMEOUT present|absent: waits until NAME is (or is no longer) on HOST
lab_wait_domain() {
  local want=$6 cond
  if [ "$want" = present ]; then cond="xl domid $4 >/dev/null 2>&1"; else cond="! xl domid $4 >/dev/null 2>&1"; fi
  lab_step "$1" "$2" "$3" $(($5 + 30)) "
    t=0
    until $cond; do
      sleep 1; t=\$((t + 1))
      [ \$t -lt $5 ] || { echo \"$4 still not $want after $5 s\"; xl list; exit 1; }
    done
    echo \"$4 $want after \$t s\"; xl list | sed -n '3,\$p'"
}

# lab_running_copies HOST NAME: how many copies of NAME run (not paused, suspended, crashed or dying) on HOST: 0 or 1 (sh, prints the number)
lab_running_copies() {
  lab_exec "$LAB_RUN" "$1" 30 "xl list | awk '\$1 == \"$2\" || \$1 == \"$2--incoming\" { if (\$5 !~ /[pscd]/) n++ } END { print n + 0 }'"
}

# lab_check_one_copy SCENARIO NAME [WHEN]: exactly one running copy of NAME over both hosts, and it is on hostA with
# its counter going on (WHEN: a suffix for the checks' names)
lab_check_one_copy() {
  local scn=$1 d=$2 w=${3:-} a b before
  a=$(lab_running_copies hostA "$d") || a=?
  b=$(lab_running_copies hostB "$d") || b=?
  if [ "$a" = 1 ] && [ "$b" = 0 ]; then lab_check "$scn" "one-running-copy$w" PASS "runs on hostA only"
  else lab_check "$scn" "one-running-copy$w" FAIL "running copies: hostA $a, hostB $b"; fi
  before=$(lab_exec "$LAB_RUN" hostA 30 "$(lab_count_snippet "$d")") || before=0
  if lab_wait_lines "$scn" "counter-after$w" hostA "$d" $((before + 4)) 180; then
    lab_check "$scn" "counter$w" PASS "the guest's counter goes on on hostA (past line $((before + 4)))"
  else
    lab_check "$scn" "counter$w" FAIL "the guest's counter stopped on hostA: $(tail -n 2 <<< "$LAB_OUT" | tr '\n' ' ')"
  fi
}

# lab_watch_end SCENARIO HOST: 'watch ID' until the migration ends; LAB_OUT has how it ended
lab_watch_end() {
  lab_ctl "$1" watch "$2" watch "$LAB_MIG" || true
}

# cancel: a migration cancelled mid-stream leaves the guest running on hostA (resumed if it had been suspended)
# and nothing on hostB
scn_cancel() {
  local scn=cancel d=gpvh
  lab_sync_clocks $scn
  if ! lab_daemons_start $scn; then lab_daemon_logs $scn; return 0; fi
  lab_create $scn hostA $d pvh.cfg || return 0
  if ! lab_migrate_detached $scn hostA --to hostB; then
    lab_check $scn start FAIL "migrate --detach failed: $(tail -n 2 <<< "$LAB_OUT" | tr '\n' ' ')"; lab_daemon_logs $scn; return 0
  fi
  if ! lab_wait_domain $scn incoming hostB $d $LAB_INCOMING_WAIT present; then
    lab_check $scn incoming FAIL "no incoming domain on hostB: $(tail -n 2 <<< "$LAB_OUT" | tr '\n' ' ')"; lab_daemon_logs $scn; return 0
  fi
  lab_check $scn incoming PASS "hostB is building $d ($(head -n 1 <<< "$LAB_OUT"))"
  if lab_ctl $scn cancel hostA cancel "$LAB_MIG"; then lab_check $scn cancel PASS "cancel $LAB_MIG taken in $LAB_SECS s"
  else lab_check $scn cancel FAIL "cancel failed: $(tail -n 2 <<< "$LAB_OUT" | tr '\n' ' ')"; fi
  lab_watch_end $scn hostA
  if grep -qi cancel <<< "$LAB_OUT"; then lab_check $scn ended-cancelled PASS "$(grep -i -m1 cancel <<< "$LAB_OUT" | cut -c1-200)"
  else lab_check $scn ended-cancelled FAIL "the migration did not end cancelled: $(tail -n 2 <<< "$LAB_OUT" | tr '\n' ' ' | cut -c1-300)"; fi
  if lab_wait_domain $scn gone-from-hostB hostB $d 180 absent; then lab_check $scn nothing-on-hostB PASS "$(head -n 1 <<< "$LAB_OUT")"
  else lab_check $scn nothing-on-hostB FAIL "$(tr '\n' ' ' <<< "$LAB_OUT")"; fi
  lab_check_one_copy $scn $d
  lab_check_running $scn hostA $d || true
  grep -q "^FAIL *$scn/" "$LAB_RUN/summary" && lab_daemon_logs $scn
  return 0
}

# lab_kill_daemon SCENARIO HOST: SIGKILL of HOST's daemon
lab_kill_daemon() {
  lab_step "$1" "kill-daemon-$2" "$2" 60 'p=$(cat /run/migrationd.pid) && kill -KILL "$p" && sleep 1 && ! [ -d /proc/$p ] && rm -f /run/migrationd.pid'
}

# kill-source / kill-destination: SIGKILL of one daemon mid-stream leaves exactly one running copy (on hostA); the
# killed daemon, started again, leaves it so (the destination's journal makes it destroy its partial copy)
lab_kill_mid_stream() {
  local scn=$1 victim=$2 d=gpvh
  lab_sync_clocks "$scn"
  if ! lab_daemons_start "$scn"; then lab_daemon_logs "$scn"; return 0; fi
  lab_create "$scn" hostA $d pvh.cfg || return 0
  if ! lab_migrate_detached "$scn" hostA --to hostB; then
    lab_check "$scn" start FAIL "migrate --detach failed: $(tail -n 2 <<< "$LAB_OUT" | tr '\n' ' ')"; lab_daemon_logs "$scn"; return 0
  fi
  if ! lab_wait_domain "$scn" incoming hostB $d $LAB_INCOMING_WAIT present; then
    lab_check "$scn" incoming FAIL "no incoming domain on hostB"; lab_daemon_logs "$scn"; return 0
  fi
  if lab_kill_daemon "$scn" "$victim"; then lab_check "$scn" sigkill PASS "migrationd on $victim killed mid-stream"
  else lab_check "$scn" sigkill FAIL "could not kill the daemon on $victim"; return 0; fi
  if [ "$victim" = hostA ]; then
    # the destination sees the connection go and destroys its partial copy on its own
    if lab_wait_domain "$scn" gone-from-hostB hostB $d 300 absent; then lab_check "$scn" nothing-on-hostB PASS "$(head -n 1 <<< "$LAB_OUT")"
    else lab_check "$scn" nothing-on-hostB FAIL "$(tr '\n' ' ' <<< "$LAB_OUT")"; fi
  else
    lab_watch_end "$scn" hostA
    lab_check "$scn" source-ended PASS "the source's migration ended: $(grep -i -m1 -e fail -e lost -e cancel <<< "$LAB_OUT" | cut -c1-200)"
  fi
  lab_check_one_copy "$scn" $d
  lab_daemon_start "$scn" "$victim" >/dev/null && lab_check "$scn" "restart-$victim" PASS "migrationd on $victim started again" ||
    lab_check "$scn" "restart-$victim" FAIL "migrationd on $victim did not start again: $(tail -n 2 <<< "$LAB_OUT" | tr '\n' ' ')"
  if lab_wait_domain "$scn" nothing-left-on-hostB hostB $d 180 absent; then lab_check "$scn" nothing-left-on-hostB PASS "$(head -n 1 <<< "$LAB_OUT")"
  else lab_check "$scn" nothing-left-on-hostB FAIL "$(tr '\n' ' ' <<< "$LAB_OUT")"; fi
  lab_check_one_copy "$scn" $d -after-restart
  grep -q "^FAIL *$scn/" "$LAB_RUN/summary" && lab_daemon_logs "$scn"
  return 0
}

scn_kill_source()      { lab_kill_mid_stream kill-source hostA; }
scn_kill_destination() { lab_kill_mid_stream kill-destination hostB; }

# pvh-live-same-host: two daemons in hostA's dom0 ("hostA" on its usual ports, "hostB" on others, peers of each
# other over 127.0.0.1), as 'xl migrate' to localhost: the incoming copy is built as NAME--incoming, the source's
# copy becomes NAME--migratedaway before Go, and at the commit point the new copy takes the name
LAB_SAME_HOST_PEER_PORTS="7111 7211"          # hostA's and the second daemon's peer ports in hostA's dom0
LAB_SAME_HOST_SECOND="7200 9201 /var/lib/migrationd-b /var/log/migrationd-b /run/migrationd-b.pid"   # control, metrics, state, logs, pid

# lab_same_host_daemon_script NAME PEER PEER-PORT OWN-PORT CONTROL METRICS STATE LOGDIR PIDFILE: sh that starts one
# daemon of the pair in hostA's dom0 and waits for daemon_started
lab_same_host_daemon_script() {
  printf '%s' "
    mkdir -p $7 $8; rm -f $8/daemon.log
    $(lab_tls_install_script "$1")
    MIGRATIOND_JAVA_OPTS='$LAB_DAEMON_JAVA_OPTS -XX:ErrorFile=$8/hs_err_pid%p.log' \
      setsid /usr/sbin/migrationd --backend xen --name $1 --state-dir $7 \
        --control-listen 0.0.0.0:$5 --metrics-listen 0.0.0.0:$6 \
        --peer-listen 127.0.0.1:$4 --peer $2=127.0.0.1:$3 \
        --peer-allow $2=migrate,query --tls-ca $LAB_DOM0_TLS_DIR/ca.pem \
        --tls-cert $LAB_DOM0_TLS_DIR/$1.pem --tls-key $LAB_DOM0_TLS_DIR/$1.key $LAB_DAEMON_LIMITS \
        --control-tls-ca $LAB_DOM0_TLS_DIR/ca.pem --control-tls-cert $LAB_DOM0_TLS_DIR/$1.pem \
        --control-tls-key $LAB_DOM0_TLS_DIR/$1.key --control-operators cert:$LAB_CTL_CERT \
        > $8/daemon.log 2>&1 < /dev/null &
    echo \$! > $9
    t=0
    until grep -q event=daemon_started $8/daemon.log; do
      [ -d /proc/\$(cat $9) ] || { echo 'lab: the daemon $1 exited'; tail -n 20 $8/daemon.log; exit 1; }
      sleep 1; t=\$((t + 1))
      [ \$t -lt $LAB_DAEMON_START_TIMEOUT ] || { echo 'lab: no daemon_started from $1 after $LAB_DAEMON_START_TIMEOUT s'; tail -n 20 $8/daemon.log; exit 1; }
    done
    echo \"$1 started after \$t s\""
}

lab_same_host_stop() {
  local ctl metrics state logs pidf
  read -r ctl metrics state logs pidf <<< "$LAB_SAME_HOST_SECOND"
  lab_daemon_stop hostA
  lab_exec "$LAB_RUN" hostA 60 "p=\$(cat $pidf 2>/dev/null) || exit 0; kill -TERM \$p; t=0
    while [ -d /proc/\$p ] && [ \$t -lt 30 ]; do sleep 1; t=\$((t + 1)); done; [ -d /proc/\$p ] && kill -KILL \$p; rm -f $pidf; true" >/dev/null || true
}

scn_pvh_live_same_host() {
  local scn=pvh-live-same-host d=gpvh pa pb ctl metrics state logs pidf before after
  read -r pa pb <<< "$LAB_SAME_HOST_PEER_PORTS"
  read -r ctl metrics state logs pidf <<< "$LAB_SAME_HOST_SECOND"
  lab_sync_clocks $scn
  lab_tls_certs || { lab_check $scn tls-certs FAIL "migrationctl certs failed"; return 0; }
  lab_daemon_stop hostA   # the daemon of earlier scenarios talks to hostB's dom0
  lab_exec "$LAB_RUN" hostA 30 "mkdir -p /var/log/migrationd; rm -f /var/log/migrationd/daemon.log" >/dev/null || true
  local ok=1 pids=() p
  ( lab_step $scn daemon-hostA hostA $((LAB_DAEMON_START_TIMEOUT + 30)) \
      "$(lab_same_host_daemon_script hostA hostB $pb $pa $LAB_DOM0_CONTROL_PORT $LAB_DOM0_METRICS_PORT /var/lib/migrationd /var/log/migrationd /run/migrationd.pid)" >/dev/null ) & pids+=($!)
  ( lab_step $scn daemon-second hostA $((LAB_DAEMON_START_TIMEOUT + 30)) \
      "$(lab_same_host_daemon_script hostB hostA $pa $pb $ctl $metrics $state $logs $pidf)" >/dev/null ) & pids+=($!)
  for p in "${pids[@]}"; do wait "$p" || ok=0; done
  if [ $ok = 0 ]; then
    lab_check $scn daemons FAIL "the two daemons did not both start in hostA's dom0 (see $LAB_RUN/$scn.log)"; lab_same_host_stop; return 0
  fi
  lab_check $scn daemons PASS "two daemons in hostA's dom0, peers over 127.0.0.1"
  lab_ctl_warm $scn hostA || { lab_same_host_stop; return 0; }
  lab_create $scn hostA $d pvh.cfg || { lab_same_host_stop; return 0; }
  before=$(lab_exec "$LAB_RUN" hostA 30 "xl domid $d") || before=?
  # shellcheck disable=SC2086
  if lab_ctl $scn migrate hostA migrate $d --to hostB $LAB_MIGRATE_OPTS; then
    lab_check $scn migrate PASS "migrationctl migrate $d --to hostB (same dom0): $LAB_SECS s; $(grep -i -m1 -e 'downtime' <<< "$LAB_OUT" | cut -c1-200)"
  else
    lab_check $scn migrate FAIL "$(tail -n 3 <<< "$LAB_OUT" | tr '\n' ' ' | cut -c1-400)"
    { lab_exec "$LAB_RUN" hostA 30 "tail -n 60 /var/log/migrationd/daemon.log; tail -n 60 $logs/daemon.log"; } >> "$LAB_RUN/$scn.log" || true
    lab_same_host_stop; return 0
  fi
  after=$(lab_exec "$LAB_RUN" hostA 30 "xl domid $d") || after=?
  if [ "$after" != "$before" ] && [ "$after" != "?" ]; then lab_check $scn new-copy PASS "$d is now domid $after (was $before)"
  else lab_check $scn new-copy FAIL "$d is domid $after (was $before)"; fi
  if lab_step $scn temp-names hostA 30 "xl list | grep -e '$d--incoming' -e '$d--migratedaway'"; then
    lab_check $scn temp-names FAIL "a temporary name is left: $(tr '\n' ' ' <<< "$LAB_OUT")"
  else lab_check $scn temp-names PASS "no $d--incoming or $d--migratedaway left"; fi
  lab_check_running $scn hostA $d || true
  before=$(lab_exec "$LAB_RUN" hostA 30 "$(lab_count_snippet "$d")") || before=0
  lab_wait_lines $scn counter-after hostA $d $((before + LAB_LINES_AFTER)) 120 || true
  lab_check_counter $scn "same-host migration" $(lab_fetch_console $scn hostA $d)
  lab_check_console $scn hostA $d
  lab_check_destroy $scn hostA $d
  lab_same_host_stop
  return 0
}

# lab_link_tx HOST: bytes sent so far on HOST's lab link
lab_link_tx() { lab_exec "$LAB_RUN" "$1" 30 'cat /sys/class/net/link0/statistics/tx_bytes'; }

# compare-xl: the same PVH guest moved from hostA to hostB by 'xl migrate' and by 'migrationctl migrate' on this
# lab, one after the other: total time, downtime (the guest's view: the largest gap in its counter's own
# timestamps; and migrationd's own report), bytes sent on the lab link. Prints the numbers and their ratios;
# absolute times are the emulator's, the ratios are what to read.
scn_compare_xl() {
  local scn=compare-xl d=gpvh m xl_t xl_tx xl_dt md_t md_tx md_dt md_rep tx0 tx1 h
  lab_sync_clocks $scn
  if ! lab_daemons_start $scn; then lab_daemon_logs $scn; return 0; fi
  # 1. xl migrate
  lab_create $scn hostA $d pvh.cfg || return 0
  lab_step $scn listen hostB 30 \
    "setsid nc -l -p $LAB_XL_MIGRATE_PORT -e /usr/lib/xen-4.17/bin/xl migrate-receive > /tmp/xl-migrate-receive.log 2>&1 < /dev/null &
     echo \$! > /run/lab-listener.pid"
  if ! lab_step $scn xl-migrate hostA $LAB_MIGRATE_TIMEOUT \
       "$(lab_measured "xl migrate -s '' $d 'nc $(lab_host_addr hostB) $LAB_XL_MIGRATE_PORT'")"; then
    lab_check $scn xl-migrate FAIL "xl migrate failed: $(grep -v lab-measured <<< "$LAB_OUT" | tail -n 3 | tr '\n' ' ')"; return 0
  fi
  m=$(grep lab-measured <<< "$LAB_OUT")
  xl_t=$(lab_fact elapsed "$m"); xl_tx=$(lab_fact tx "$m")
  lab_wait_lines $scn xl-counter-after hostB $d "$LAB_LINES_AFTER" 120 || true
  lab_check_counter $scn "xl migrate" $(lab_fetch_console $scn hostA $d) $(lab_fetch_console $scn hostB $d)
  xl_dt=$(lab_fact downtime_ms "$LAB_FACTS")
  for h in $LAB_HOSTS; do lab_exec "$LAB_RUN" "$h" 60 "xl destroy $d 2>/dev/null; rm -f /var/log/xen/console/guest-$d*.log; true" >/dev/null; done
  # 2. migrationctl migrate
  lab_create $scn hostA $d pvh.cfg || return 0
  tx0=$(lab_link_tx hostA)
  # shellcheck disable=SC2086
  if ! lab_ctl_retried $scn migrationctl-migrate hostA migrate $d --to hostB $LAB_COMPARE_OPTS; then
    lab_check $scn migrationctl-migrate FAIL "$(tail -n 3 <<< "$LAB_OUT" | tr '\n' ' ' | cut -c1-300)"; lab_daemon_logs $scn; return 0
  fi
  tx1=$(lab_link_tx hostA)
  md_t=$LAB_SECS; md_tx=$((tx1 - tx0))
  md_rep=$(grep -o 'total time [^,]*, downtime [^,]*' <<< "$LAB_OUT" | head -n 1)
  lab_wait_lines $scn md-counter-after hostB $d "$LAB_LINES_AFTER" 120 || true
  lab_check_counter $scn "migrationctl migrate" $(lab_fetch_console $scn hostA $d) $(lab_fetch_console $scn hostB $d)
  md_dt=$(lab_fact downtime_ms "$LAB_FACTS")
  lab_exec "$LAB_RUN" hostB 60 "xl destroy $d" >/dev/null || true
  local line
  line=$(awk -v xt="$xl_t" -v xtx="$xl_tx" -v xd="$xl_dt" -v mt="$md_t" -v mtx="$md_tx" -v md="$md_dt" 'BEGIN {
    printf "xl migrate: total %.1f s, guest downtime %s ms, %.1f MiB on the link | migrationctl migrate: total %.1f s (CLI call), guest downtime %s ms, %.1f MiB | ratio migrationd/xl: total %.2f, downtime %s, bytes %.2f",
      xt, xd, xtx / 1048576, mt, md, mtx / 1048576, (xt > 0 ? mt / xt : 0), (xd > 0 && md != "" ? sprintf("%.2f", md / xd) : "n/a"), (xtx > 0 ? mtx / xtx : 0) }')
  printf 'compare-xl: %s; migrationd reports %s\n' "$line" "${md_rep:-nothing}" | tee -a "$LAB_RUN/compare-xl.txt"
  lab_check $scn numbers PASS "$line; migrationd reports ${md_rep:-nothing}"
}

# Domains whose description is known wrong (checked as XFAIL until fixed, then XPASS): none today.
LAB_KNOWN_WRONG_DOMAIN=""

# lab_check_domain SCENARIO NAME TYPE MIB: the daemon's description of NAME (from RUN/SCENARIO.domains.json)
lab_check_domain() {
  local scn=$1 d=$2 type=$3 mib=$4 json seen_type seen_mem want outcome
  json=$(grep "\"name\": *\"$d\"" "$LAB_RUN/$scn.domains.json" || true)
  if [ -z "$json" ]; then lab_check "$scn" "domain-$d" FAIL "the daemon does not list $d"; return; fi
  seen_type=$(sed -n 's/.*"guestType": *"GUEST_TYPE_\([^"]*\)".*/\1/p' <<< "$json")
  seen_mem=$(sed -n 's/.*"memoryBytes": *"\{0,1\}\([0-9]*\).*/\1/p' <<< "$json")
  want="type $type, $mib MiB"
  local seen="type ${seen_type:-?}, $(( ${seen_mem:-0} / 1048576 )) MiB"
  if [ "${seen_type,,}" = "$type" ] && [ "${seen_mem:-0}" = $((mib * 1048576)) ]; then outcome=PASS; else outcome=FAIL; fi
  if grep -qw "$d" <<< "$LAB_KNOWN_WRONG_DOMAIN"; then
    case $outcome in PASS) outcome=XPASS ;; FAIL) outcome=XFAIL ;; esac
  fi
  lab_check "$scn" "domain-$d" $outcome "listed as $seen (a $want guest)"
}

# jvm-stability (not part of 'all'): how often the JVM survives JIT-heavy work in a dom0 under the emulator,
# per set of JVM flags, with a PVH guest running beside it. Each run: the CLI's 'stream synth' writes a
# checksummed HVM stream of 4096 pages and 'stream verify' reads it back (JIT-heavy, and a wrong byte shows).
# XEN_LAB_JVM_RUNS runs per set (default 6); XEN_LAB_JVM_FLAG_SETS: sets separated by '|' ('-' = no flags).
scn_jvm_stability() {
  local scn=jvm-stability runs=${XEN_LAB_JVM_RUNS:-6} sets flags
  sets=${XEN_LAB_JVM_FLAG_SETS:--|-XX:TieredStopAtLevel=1|-Xint}
  lab_create $scn hostA gpvh pvh.cfg || return 0
  IFS='|' read -r -a flagsets <<< "$sets"
  for flags in "${flagsets[@]}"; do
    [ "$flags" = - ] && flags=""
    lab_step $scn "jvm ${flags:-default}" hostA $((runs * 600)) "
      ok=0; bad=0; total=0; i=0; rm -f /tmp/hs_err_pid*.log
      while [ \$i -lt $runs ]; do
        i=\$((i + 1)); u0=\$(cut -d' ' -f1 /proc/uptime)
        j='/opt/jre/bin/java $flags -XX:SharedArchiveFile=/opt/migrationd/cli.jsa -XX:ErrorFile=/tmp/hs_err_pid%p.log -cp '\$(cat /opt/migrationd/classpath)' dev.migrationd.control.cli.MigrationCtl'
        if \$j stream synth /tmp/jvm.img --guest hvm --width 64 --pages 4096 --force > /tmp/jvm.out 2>&1 &&
           \$j stream verify /tmp/jvm.img >> /tmp/jvm.out 2>&1; then ok=\$((ok + 1)); else bad=\$((bad + 1)); tail -n 2 /tmp/jvm.out; fi
        u1=\$(cut -d' ' -f1 /proc/uptime); total=\$(awk \"BEGIN{print \$total + \$u1 - \$u0}\")
      done
      echo \"lab-jvm: ok=\$ok failed=\$bad hs_err=\$(ls /tmp/hs_err_pid*.log 2>/dev/null | wc -l) mean_s=\$(awk \"BEGIN{printf \\\"%.1f\\\", \$total / $runs}\")\"
      for f in /tmp/hs_err_pid*.log; do [ -f \"\$f\" ] && grep -A1 '^# Problematic frame' \"\$f\" | tail -n 1; done
      rm -f /tmp/jvm.img" || true
    local m; m=$(grep lab-jvm <<< "$LAB_OUT")
    if [ "$(lab_fact failed "$m")" = 0 ] && [ -n "$m" ]; then
      lab_check $scn "flags ${flags:-default}" PASS "$runs synth+verify runs, none failed; $(lab_fact mean_s "$m") s a run"
    else
      lab_check $scn "flags ${flags:-default}" CRASH "${m:-no result}: $(grep '^#\|^[JjCVv] ' <<< "$LAB_OUT" | head -n 2 | tr '\n' ' ')"
    fi
  done
}

# libxl-probe (not part of 'all'): the libxl prototype (LibXl over FFM) driven from a JVM in hostA's dom0 by
# lab/tools/LibXlProbe, for each guest type: what libxenctrl and libxl report about the domain, its libxl JSON
# configuration, a cooperative suspend and resume, and a new domain built by libxl_domain_create_restore from
# the JSON and the libxl v2 stream of an 'xl save' file fed through a pipe, then renamed, unpaused, destroyed.
LAB_PROBE="/opt/jre/bin/java ${XEN_LAB_PROBE_JAVA_OPTS:--XX:TieredStopAtLevel=1 -XX:+UseSerialGC} -XX:SharedArchiveFile=/opt/migrationd/daemon.jsa -XX:ErrorFile=/tmp/hs_err_pid%p.log --enable-native-access=ALL-UNNAMED -cp \$(cat /opt/migrationd/classpath):/opt/lab-tools dev.migrationd.hypervisor.xen.LibXlProbe"

lab_probe() { # SCENARIO STEP ARGS: one probe run in hostA's dom0; PASS/FAIL by its exit status
  local scn=$1 step=$2; shift 2
  if lab_step "$scn" "$step" hostA 900 "$LAB_PROBE $* 2>&1"; then
    lab_check "$scn" "$step" PASS "$(grep '^probe: ' <<< "$LAB_OUT" | grep -v 'context ready' | cut -c8- | tr '\n' ';' | cut -c1-400)"
  else
    local crash; crash=$(lab_jvm_crash hostA)
    if [ -n "$crash" ]; then lab_check "$scn" "$step" CRASH "$crash"
    else lab_check "$scn" "$step" FAIL "$(grep -e '^probe: ' -e 'libxl' -e Exception <<< "$LAB_OUT" | tail -n 4 | tr '\n' ';' | cut -c1-400)"; fi
    return 1
  fi
}

scn_libxl_probe() {
  local scn=libxl-probe d cfg
  lab_sync_clocks $scn
  for d in gpv gpvh; do
    cfg=pv.cfg; [ $d = gpvh ] && cfg=pvh.cfg
    lab_create $scn hostA $d $cfg || continue
    lab_probe $scn "info-$d" info $d || true
    lab_probe $scn "config-$d" config $d || true
    grep -v '^probe: ' <<< "$LAB_OUT" > "$LAB_RUN/$scn.$d.json" || true
    lab_probe $scn "suspend-resume-$d" suspend-resume $d || true
    lab_wait_lines $scn "counter-after-resume-$d" hostA $d $(( $(lab_exec "$LAB_RUN" hostA 30 "$(lab_count_snippet $d)") + 4 )) 120 &&
      lab_check $scn "runs-after-resume-$d" PASS "the counter goes on after libxl_domain_resume(suspend_cancel=1)" ||
      lab_check $scn "runs-after-resume-$d" FAIL "no counter after the resume"
    if lab_step $scn "xl-save-$d" hostA 900 "xl save $d /tmp/$d.save && ls -l /tmp/$d.save"; then
      lab_fetch_file "$LAB_RUN" hostA /tmp/$d.save "$LAB_RUN/$scn.$d.xl-save" || true
      lab_probe $scn "create-restore-$d" restore /tmp/$d.save $d--incoming || true
      lab_probe $scn "rename-$d" rename $d--incoming $d || true
      lab_probe $scn "unpause-$d" unpause $d || true
      lab_wait_lines $scn "counter-after-restore-$d" hostA $d $(( $(lab_exec "$LAB_RUN" hostA 30 "$(lab_count_snippet $d)") + 4 )) 120 &&
        lab_check $scn "runs-after-restore-$d" PASS "the counter goes on in the domain libxl built" ||
        lab_check $scn "runs-after-restore-$d" FAIL "no counter after create_restore/unpause"
      lab_check_console $scn hostA $d
      lab_probe $scn "destroy-$d" destroy $d || true
      lab_exec "$LAB_RUN" hostA 30 "rm -f /tmp/$d.save" >/dev/null || true
    else
      lab_check $scn "xl-save-$d" FAIL "$(tail -n 2 <<< "$LAB_OUT" | tr '\n' ' ')"
    fi
  done
}

lab_usage() {
  sed -n '2,/^set -euo/p' "$MIGRATIOND_HOME/bin/xen-lab" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2
  exit 2
}

# lab_run SCENARIO...: one boot, the scenarios in order, QEMU stopped at the end whatever happens
lab_run() {
  local s scns=() t0 failed=0 rc reuse=0
  if [ "${1:-}" = --reuse ]; then reuse=1; shift; fi
  [ $# -gt 0 ] || lab_usage
  for s in "$@"; do
    if [ "$s" = all ]; then scns+=($LAB_SCENARIOS); continue; fi
    # whole names only: 'pvh-live' is not 'pvh-live-same-host'
    if [[ " $LAB_PENDING_SCENARIOS " == *" $s "* ]]; then
      lab_die "scenario '$s' is not implemented: it $(lab_pending_why "$s")"
    fi
    [[ " $LAB_SCENARIOS $LAB_EXTRA_SCENARIOS " == *" $s "* ]] || lab_die "unknown scenario '$s' (bin/xen-lab list)"
    scns+=("$s")
  done
  t0=$(lab_now_ms)
  if [ $reuse = 1 ]; then
    # the lab that 'bin/xen-lab up' started: no build, no boot, and it keeps running afterwards
    LAB_RUN=$(lab_up_run)
    [ -n "$(lab_qemu_pid "$LAB_RUN" hostA)" ] && [ -n "$(lab_qemu_pid "$LAB_RUN" hostB)" ] || lab_die "the lab is not up (bin/xen-lab up)"
    : > "$LAB_RUN/summary"; : > "$LAB_RUN/timings"; rm -f "$LAB_RUN/facts"
    for s in "${scns[@]}"; do rm -f "$LAB_RUN/$s".*; done
    LAB_BOOT_SECONDS="(already up)"
  else
    lab_build
    mkdir -p "$LAB_RUNS"
    LAB_RUN="$LAB_RUNS/$(date +%Y%m%d-%H%M%S)-$$"
    mkdir -p "$LAB_RUN"; : > "$LAB_RUN/summary"; : > "$LAB_RUN/timings"
    trap 'lab_stop "$LAB_RUN"' EXIT
    trap 'lab_log "interrupted"; exit 130' INT TERM
    lab_log "run directory $LAB_RUN (image $(basename "$LAB_IMAGE"))"
    if ! lab_boot "$LAB_RUN"; then
      lab_check boot hosts-up FAIL "the lab did not boot (serial logs in $LAB_RUN)"
      exit 1
    fi
    lab_log "both hosts up in $LAB_BOOT_SECONDS s"
  fi
  for s in "${scns[@]}"; do
    [ "$s" = boot ] || lab_reset "$LAB_RUN" || { lab_check "$s" reset FAIL "hosts not clean"; continue; }
    lab_emulator_faults_reset
    local ts; ts=$(lab_now_ms)
    "scn_${s//-/_}" "$LAB_RUN" || true
    lab_timing "$s" total "$(lab_seconds "$ts")"
    lab_emulator_faults "$s"
  done
  [ $reuse = 1 ] || lab_stop "$LAB_RUN"
  printf '\n'
  printf 'xen-lab: %s scenario(s) in %s s; timings (s):\n' "${#scns[@]}" "$(lab_seconds "$t0")"
  sed 's/^/  /' "$LAB_RUN/timings"
  if grep -q -e '^FAIL' -e '^XPASS' -e '^CRASH' "$LAB_RUN/summary"; then
    failed=1
    lab_serial_tails "$LAB_RUN"
    lab_log "FAILED: $(grep -c -e '^FAIL' -e '^XPASS' -e '^CRASH' "$LAB_RUN/summary") check(s); logs kept in $LAB_RUN"
  elif [ $reuse = 0 ] && [ -z "${XEN_LAB_KEEP:-}" ]; then
    rm -rf "$LAB_RUN"
  fi
  [ $reuse = 1 ] || lab_prune "$LAB_RUNS" 10
  return $failed
}

lab_up_run() { echo "$LAB_RUNS/up"; }

# lab_list: every scenario with its status: in 'all', by name only (and why), or not implemented (and what it needs)
lab_list() {
  local s
  for s in $LAB_SCENARIOS; do printf '%-22s in all\n' "$s"; done
  printf '%-22s the scenarios above, in this order\n' all
  for s in $LAB_EXTRA_SCENARIOS; do printf '%-22s by name only: %s\n' "$s" "$(lab_extra_why "$s")"; done
  for s in $LAB_PENDING_SCENARIOS; do printf '%-22s NOT IMPLEMENTED: %s\n' "$s" "$(lab_pending_why "$s")"; done
}

lab_main() {
  local cmd=${1:-}; shift || true
  case $cmd in
    build) lab_build; lab_log "image $LAB_IMAGE" ;;
    list) lab_list ;;
    run) lab_run "$@" ;;
    up)
      lab_build
      LAB_RUN=$(lab_up_run)
      [ -z "$(lab_qemu_pid "$LAB_RUN" hostA)$(lab_qemu_pid "$LAB_RUN" hostB)" ] || lab_die "the lab is already up ($LAB_RUN)"
      rm -rf "$LAB_RUN"; mkdir -p "$LAB_RUN"
      lab_boot "$LAB_RUN" || { lab_stop "$LAB_RUN"; lab_die "the lab did not boot (logs in $LAB_RUN)"; }
      lab_log "up in $LAB_BOOT_SECONDS s: bin/xen-lab shell hostA|hostB; bin/xen-lab down to stop" ;;
    down) lab_stop "$(lab_up_run)" ;;
    exec)
      [ $# = 2 ] || lab_usage
      lab_host_index "$1" >/dev/null
      lab_exec "$(lab_up_run)" "$1" "$LAB_EXEC_DEFAULT_TIMEOUT" "$2" ;;
    shell)
      [ $# = 1 ] || lab_usage
      lab_host_index "$1" >/dev/null
      LAB_RUN=$(lab_up_run)
      if [ -n "$(lab_qemu_pid "$LAB_RUN" "$1")" ]; then lab_shell "$LAB_RUN" "$1"; return; fi
      lab_build
      LAB_RUN="$LAB_RUNS/shell-$$"; rm -rf "$LAB_RUN"; mkdir -p "$LAB_RUN"
      trap 'lab_stop "$LAB_RUN"; rm -rf "$LAB_RUN"' EXIT
      lab_log "booting the lab for this shell (it stops when the shell ends; 'bin/xen-lab up' keeps it running)"
      lab_boot "$LAB_RUN" || lab_die "the lab did not boot"
      lab_shell "$LAB_RUN" "$1" ;;
    *) lab_usage ;;
  esac
}

# ==== save files through migrationd, and xl interoperability (PV and PVH) ============================================
# pv-save-restore, pvh-save-restore and xl-interop (in 'all'). Each save file lives in the dom0's /tmp (as the xl
# scenarios' files do); a file moved to the other host goes through this machine (lab_fetch_file/lab_push_file),
# with its FILE.meta when migrationd wrote one.
LAB_SAVE_DIR=/tmp   # where save files go in the dom0s

# lab_copy_save SCENARIO FROM TO FILE: FILE (and FILE.meta, if there is one) from FROM's dom0 to TO's, through this
# machine; checked by size
lab_copy_save() {
  local scn=$1 from=$2 to=$3 f=$4 local_copy t0
  t0=$(lab_now_ms)
  local_copy="$LAB_RUN/$scn.$(basename "$f")"
  for x in "$f" "$f.meta"; do
    if [ "$x" = "$f.meta" ] && ! lab_exec "$LAB_RUN" "$from" 10 "[ -f '$x' ]" >/dev/null; then continue; fi
    if ! lab_fetch_file "$LAB_RUN" "$from" "$x" "$local_copy${x#"$f"}" ||
       ! lab_push_file "$LAB_RUN" "$to" "$local_copy${x#"$f"}" "$x"; then
      lab_check "$scn" "copy-$from-$to" FAIL "could not copy $x from $from to $to"; return 1
    fi
  done
  lab_check "$scn" "copy-$from-$to" PASS "$f ($(( $(wc -c < "$local_copy") / 1048576 )) MiB) copied from $from to $to in $(lab_seconds "$t0") s"
  rm -f "$local_copy" "$local_copy.meta"
}

# lab_verify_here SCENARIO STEP HOST FILE: migrationctl stream verify on this machine of HOST's FILE (fetched); one line
lab_verify_here() {
  local scn=$1 step=$2 h=$3 f=$4 local_copy out
  local_copy="$LAB_RUN/$scn.$(basename "$f")"
  if ! lab_fetch_file "$LAB_RUN" "$h" "$f" "$local_copy"; then
    lab_check "$scn" "$step" FAIL "could not fetch $f from $h"; return 1
  fi
  if out=$("$MIGRATIOND_HOME/bin/migrationctl" stream verify "$local_copy" 2>&1); then
    lab_check "$scn" "$step" PASS "migrationctl stream verify: ${out#"$local_copy": }"
  else
    lab_check "$scn" "$step" FAIL "migrationctl stream verify of $h's $f: $(tail -n 2 <<< "$out" | tr '\n' ' ')"
  fi
  rm -f "$local_copy"
}

# lab_ctl_save SCENARIO STEP HOST DOMAIN FILE [OPTIONS...]: migrationctl save; one PASS/FAIL line
lab_ctl_save() {
  local scn=$1 step=$2 h=$3 d=$4 f=$5; shift 5
  if lab_ctl "$scn" "$step" "$h" save "$d" "$f" --force "$@"; then
    lab_check "$scn" "$step" PASS "migrationctl save $d $f $* on $h in $LAB_SECS s: $(tail -n 1 <<< "$LAB_OUT")"
  else
    lab_check "$scn" "$step" FAIL "migrationctl save $d $* on $h: $(tail -n 3 <<< "$LAB_OUT" | tr '\n' ' ' | cut -c1-400)"
    return 1
  fi
}

# lab_ctl_restore SCENARIO STEP HOST DOMAIN FILE: migrationctl restore FILE --name DOMAIN; one PASS/FAIL line
lab_ctl_restore() {
  local scn=$1 step=$2 h=$3 d=$4 f=$5
  if lab_ctl "$scn" "$step" "$h" restore "$f" --name "$d"; then
    lab_check "$scn" "$step" PASS "migrationctl restore $f on $h in $LAB_SECS s"
  else
    lab_check "$scn" "$step" FAIL "migrationctl restore $f on $h: $(tail -n 3 <<< "$LAB_OUT" | tr '\n' ' ' | cut -c1-400)"
    return 1
  fi
}

# lab_check_runs_on SCENARIO HOST DOMAIN WHAT: DOMAIN runs on HOST, its counter goes on (console logs of both hosts
# read: the guest may have been saved on the other one), and xl console shows it
lab_check_runs_on() {
  local scn=$1 h=$2 d=$3 what=$4 before
  lab_check_running "$scn" "$h" "$d" || return 1
  before=$(lab_exec "$LAB_RUN" "$h" 30 "$(lab_count_snippet "$d")") || before=0
  lab_wait_lines "$scn" "counter-after-$what" "$h" "$d" $((before + LAB_LINES_AFTER)) 120 || true
  lab_check_counter "$scn" "$what" $(lab_fetch_console "$scn" hostA "$d") $(lab_fetch_console "$scn" hostB "$d")
  lab_check_console "$scn" "$h" "$d"
}

# lab_ctl_save_restore SCENARIO DOMAIN CFG FORMAT: through migrationd on both hosts: save --keep-running (the guest
# goes on on hostA), save and restore on hostA, save on hostA and restore on hostB; xl destroy at the end
lab_ctl_save_restore() {
  local scn=$1 d=$2 cfg=$3 format=$4 f h before
  f=$LAB_SAVE_DIR/$d.$format.save
  if ! lab_daemons_start "$scn"; then for h in $LAB_HOSTS; do lab_daemon_stop "$h"; done; return 0; fi
  lab_sync_clocks "$scn"
  lab_create "$scn" hostA "$d" "$cfg" || return 0

  before=$(lab_exec "$LAB_RUN" hostA 30 "$(lab_count_snippet "$d")") || before=0
  if lab_ctl_save "$scn" save-keep-running hostA "$d" "$f" --stream-format "$format" --keep-running; then
    # suspended cooperatively, then resumed with suspend_cancel: the guest goes on where it was
    lab_check_running "$scn" hostA "$d"
    if lab_wait_lines "$scn" counter-after-keep-running hostA "$d" $((before + LAB_LINES_AFTER)) 120; then
      lab_check "$scn" keep-running PASS "the counter goes on on hostA after save --keep-running"
    else
      lab_check "$scn" keep-running FAIL "the counter stopped after save --keep-running: $(tail -n 2 <<< "$LAB_OUT" | tr '\n' ' ')"
    fi
    lab_verify_here "$scn" "verify-$format-file" hostA "$f"
  fi

  lab_ctl_save "$scn" save-on-hostA hostA "$d" "$f" --stream-format "$format" || return 0
  lab_check_absent "$scn" hostA "$d"
  lab_ctl_restore "$scn" restore-on-hostA hostA "$d" "$f" || return 0
  lab_check_runs_on "$scn" hostA "$d" "restore on hostA" || return 0

  lab_ctl_save "$scn" save-for-hostB hostA "$d" "$f" --stream-format "$format" || return 0
  lab_copy_save "$scn" hostA hostB "$f" || return 0
  lab_ctl_restore "$scn" restore-on-hostB hostB "$d" "$f" || return 0
  lab_check_absent "$scn" hostA "$d"
  lab_check_runs_on "$scn" hostB "$d" "restore on hostB" || return 0
  lab_check_destroy "$scn" hostB "$d"
  for h in $LAB_HOSTS; do
    lab_exec "$LAB_RUN" "$h" 10 "rm -f $f $f.meta" >/dev/null || true
    lab_check_daemon_alive "$scn" "$h" && lab_check "$scn" "daemon-alive-$h" PASS "still running"
  done
}

scn_pv_save_restore() { lab_ctl_save_restore pv-save-restore gpv pv.cfg legacy; }
scn_pvh_save_restore() {
  lab_ctl_save_restore pvh-save-restore gpvh pvh.cfg legacy
  lab_reset "$LAB_RUN" || { lab_check pvh-save-restore reset FAIL "hosts not clean between the legacy and v2 files"; return 0; }
  lab_ctl_save_restore pvh-save-restore gpvh pvh.cfg v2
}

# lab_xl_interop SCENARIO DOMAIN CFG: an xl save file restored by migrationd (hostA), then a migrationctl save --xl
# file restored by xl (hostA)
lab_xl_interop() {
  local scn=$1 d=$2 cfg=$3 f h
  if ! lab_daemons_start "$scn"; then for h in $LAB_HOSTS; do lab_daemon_stop "$h"; done; return 0; fi
  lab_sync_clocks "$scn"
  lab_create "$scn" hostA "$d" "$cfg" || return 0

  f=$LAB_SAVE_DIR/$d.from-xl.save
  if lab_step "$scn" "xl-save-$d" hostA $LAB_MIGRATE_TIMEOUT "rm -f $f; xl save $d $f && ls -l $f"; then
    lab_check "$scn" "xl-save-$d" PASS "xl save $d: $(tail -n 1 <<< "$LAB_OUT")"
  else
    lab_check "$scn" "xl-save-$d" FAIL "xl save failed: $(tail -n 3 <<< "$LAB_OUT" | tr '\n' ' ')"; return 0
  fi
  lab_verify_here "$scn" "verify-xl-file-$d" hostA "$f"
  lab_ctl_restore "$scn" "ctl-restore-xl-file-$d" hostA "$d" "$f" || return 0
  lab_check_runs_on "$scn" hostA "$d" "xl save, migrationctl restore" || return 0

  f=$LAB_SAVE_DIR/$d.for-xl.save
  lab_ctl_save "$scn" "ctl-save-xl-$d" hostA "$d" "$f" --xl || return 0
  lab_check_absent "$scn" hostA "$d"
  lab_verify_here "$scn" "verify-ctl-xl-file-$d" hostA "$f"
  if lab_step "$scn" "xl-restore-$d" hostA $LAB_MIGRATE_TIMEOUT "xl restore $f"; then
    lab_check "$scn" "xl-restore-$d" PASS "xl restore of migrationctl save --xl's file"
  else
    lab_check "$scn" "xl-restore-$d" FAIL "xl restore of migrationctl save --xl's file: $(tail -n 3 <<< "$LAB_OUT" | tr '\n' ' ')"; return 0
  fi
  lab_check_runs_on "$scn" hostA "$d" "migrationctl save --xl, xl restore" || return 0
  lab_check_destroy "$scn" hostA "$d"
  lab_exec "$LAB_RUN" hostA 10 "rm -f $LAB_SAVE_DIR/$d.from-xl.save $f $f.meta" >/dev/null || true
}

scn_xl_interop() {
  lab_xl_interop xl-interop gpv pv.cfg
  lab_reset "$LAB_RUN" || { lab_check xl-interop reset FAIL "hosts not clean between the PV and PVH guests"; return 0; }
  lab_xl_interop xl-interop gpvh pvh.cfg
  for h in $LAB_HOSTS; do lab_check_daemon_alive xl-interop "$h" && lab_check xl-interop "daemon-alive-$h" PASS "still running"; done
}
