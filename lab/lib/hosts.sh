# The lab's two Xen hosts: QEMU processes, their ports, the command channel into each dom0. Sourced, not run.
#
# Each host is one qemu-system-x86_64 (TCG) booting Xen with the dom0 kernel and image as multiboot modules.
# Two NICs a host: QEMU's user network (the host reaches the dom0's command channel, telnet and daemon ports
# through forwarded 127.0.0.1 ports) and the lab link, a TCP socket netdev between the two QEMUs
# (10.77.0.1 hostA, 10.77.0.2 hostB). The serial line (Xen's and the dom0's console) is logged to a file.
# A run directory holds per host: qemu.pid, serial.log, ports; it is kept when something failed.

LAB_BOOT_TIMEOUT=${XEN_LAB_BOOT_TIMEOUT:-300}  # s, QEMU start to "lab-dom0: ready" (about 15 s on an idle machine)
LAB_STOP_TIMEOUT=15          # s, QEMU's exit after SIGTERM before SIGKILL
LAB_PORT_ATTEMPTS=5          # QEMU starts with fresh ports when a forwarded port was taken meanwhile
LAB_SERIAL_TAIL=40           # lines of each serial log printed on a failure

# Guest-visible machine: TCG with QEMU's most capable CPU (SVM with nested paging, which PVH guests need)
# minus the AVX family, whose emulation made JIT-compiled Java code crash (measured; see lab/README.md).
LAB_QEMU_CPU=${XEN_LAB_CPU:-max,-avx,-avx2,-fma,-f16c,-vaes,-vpclmulqdq,-avx512f}
LAB_QEMU_SMP=${XEN_LAB_SMP:-2}
LAB_QEMU_MEM=${XEN_LAB_MEM:-3072}            # MiB per host
LAB_DOM0_MEM=${XEN_LAB_DOM0_MEM:-1536}       # MiB of it for the dom0 (its root file system lives in RAM)
# smap=0 smep=0: without them the dom0 dies at once under TCG (a page fault in Xen's create_bounce_frame).
# spec-ctrl=eager-fpu: with Xen's default lazy FPU switching, dom0 processes were killed by corrupted state
# (busybox segfaults reading a TLS pointer: 26 in 14000 processes, measured with a PV guest running); with
# eager switching, none in 6000 (lab/README.md).
LAB_XEN_ARGS="dom0_mem=${LAB_DOM0_MEM}M,max:${LAB_DOM0_MEM}M dom0_max_vcpus=$LAB_QEMU_SMP console=com1 com1=115200,8n1 noreboot bootscrub=false smap=0 smep=0 spec-ctrl=eager-fpu loglvl=warning guest_loglvl=warning"

# dom0 ports forwarded to 127.0.0.1 on the host
LAB_DOM0_CMD_PORT=7000
LAB_DOM0_TELNET_PORT=23
LAB_DOM0_CONTROL_PORT=7100
LAB_DOM0_PEER_PORT=7101
LAB_DOM0_METRICS_PORT=9101
LAB_DOM0_XFER_PORT=7002      # one-shot file transfers between this machine and a dom0 (lab_fetch_file, lab_push_file)

LAB_RUNS="$LAB_DIR/runs"

# lab_port_free PORT: no TCP or UDP socket on this machine uses PORT
lab_port_free() {
  ! grep -qi "$(printf ':%04X ' "$1")" /proc/net/tcp /proc/net/tcp6 /proc/net/udp /proc/net/udp6 2>/dev/null
}

LAB_PORT_KINDS="cmd telnet control metrics xfer link"

# lab_pick_ports RUN: writes RUN/ports: per host one port of each of LAB_PORT_KINDS, all free now
lab_pick_ports() {
  local run=$1 base p ok h k i=0 n
  n=$(( $(wc -w <<< "$LAB_PORT_KINDS") * $(wc -w <<< "$LAB_HOSTS") ))
  while :; do
    base=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
    ok=1
    for p in $(seq "$base" $((base + n - 1))); do lab_port_free "$p" || { ok=0; break; }; done
    [ $ok = 1 ] && break
    i=$((i + 1)); [ $i -lt 50 ] || lab_die "found no $n consecutive free ports"
  done
  : > "$run/ports"
  p=$base
  for h in $LAB_HOSTS; do
    for k in $LAB_PORT_KINDS; do printf '%s %s %d\n' "$h" "$k" $p >> "$run/ports"; p=$((p + 1)); done
  done
}

# lab_port RUN HOST KIND: the host-side port of HOST's KIND (cmd, telnet, control, metrics, link)
lab_port() {
  local h k p
  while read -r h k p; do [ "$h" = "$2" ] && [ "$k" = "$3" ] && { echo "$p"; return 0; }; done < "$1/ports"
  lab_die "no $3 port for $2 in $1/ports"
}

lab_peer_of() { case $1 in hostA) echo hostB ;; hostB) echo hostA ;; esac; }

# lab_link_netdev RUN HOST: the lab link, a TCP stream between the two QEMUs (hostA listens, hostB connects,
# so hostA starts first). A UDP socket netdev lost about 0.8 % of the frames when a QEMU fell behind, and
# TCP inside the dom0s then crawled on retransmission timeouts (measured: 0.56 MiB/s).
lab_link_netdev() {
  case $2 in
    hostA) echo "socket,id=l0,listen=127.0.0.1:$(lab_port "$1" hostA link)" ;;
    hostB) echo "socket,id=l0,connect=127.0.0.1:$(lab_port "$1" hostA link)" ;;
  esac
}

# lab_qemu_start RUN HOST: starts HOST's QEMU in the background (QEMU daemonizes once its devices are set up,
# so a port taken meanwhile is an error here)
lab_qemu_start() {
  local run=$1 h=$2 i peer
  i=$(lab_host_index "$h"); peer=$(lab_peer_of "$h")
  [[ "$LAB_IMAGE$run" != *[,\ ]* ]] || lab_die "paths with commas or spaces cannot be passed to QEMU: $LAB_IMAGE $run"
  rm -f "$run/$h.qemu.pid"
  qemu-system-x86_64 -name "lab-$h" -accel tcg -machine pc -cpu "$LAB_QEMU_CPU" -smp "$LAB_QEMU_SMP" -m "$LAB_QEMU_MEM" \
    -nodefaults -display none -no-reboot \
    -chardev "socket,id=ser0,path=$run/$h.serial.sock,server=on,wait=off,logfile=$run/$h.serial.log" \
    -serial chardev:ser0 \
    -kernel "$LAB_IMAGE/xen" -append "$LAB_XEN_ARGS" \
    -initrd "$LAB_IMAGE/vmlinuz console=hvc0 earlyprintk=xen loglevel=4 lab.host=$h lab.addr=$(lab_host_addr "$h"),$LAB_IMAGE/dom0.cpio" \
    -netdev "user,id=u0,net=10.0.2.0/24,restrict=on,hostfwd=tcp:127.0.0.1:$(lab_port "$run" "$h" cmd)-:$LAB_DOM0_CMD_PORT,hostfwd=tcp:127.0.0.1:$(lab_port "$run" "$h" telnet)-:$LAB_DOM0_TELNET_PORT,hostfwd=tcp:127.0.0.1:$(lab_port "$run" "$h" control)-:$LAB_DOM0_CONTROL_PORT,hostfwd=tcp:127.0.0.1:$(lab_port "$run" "$h" metrics)-:$LAB_DOM0_METRICS_PORT,hostfwd=tcp:127.0.0.1:$(lab_port "$run" "$h" xfer)-:$LAB_DOM0_XFER_PORT" \
    -device "virtio-net-pci,netdev=u0,mac=52:54:00:00:00:0$i" \
    -netdev "$(lab_link_netdev "$run" "$h")" \
    -device "virtio-net-pci,netdev=l0,mac=52:54:00:77:00:0$i" \
    -pidfile "$run/$h.qemu.pid" -daemonize > "$run/$h.qemu.log" 2>&1
}

# lab_qemu_pid RUN HOST: the pid of HOST's QEMU if it runs (and is this run's), else nothing
lab_qemu_pid() {
  local pid
  pid=$(cat "$1/$2.qemu.pid" 2>/dev/null) || return 0
  [ -n "$pid" ] && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF "$1/$2.serial.log" && echo "$pid"
  return 0
}

# lab_stop RUN: stops both QEMUs of RUN (SIGTERM, then SIGKILL after LAB_STOP_TIMEOUT)
lab_stop() {
  local run=$1 h pid n
  for h in $LAB_HOSTS; do
    pid=$(lab_qemu_pid "$run" "$h"); [ -n "$pid" ] || continue
    kill -TERM "$pid" 2>/dev/null || true
    for n in $(seq $((LAB_STOP_TIMEOUT * 10))); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
    [ -d "/proc/$pid" ] && { lab_log "$h: QEMU $pid ignored SIGTERM; killing it"; kill -KILL "$pid" 2>/dev/null || true; }
  done
  return 0
}

# lab_serial_tails RUN: the last lines of each host's serial log
lab_serial_tails() {
  local h
  for h in $LAB_HOSTS; do
    [ -f "$1/$h.serial.log" ] || continue
    printf '%s\n' "---- last $LAB_SERIAL_TAIL lines of $1/$h.serial.log" >&2
    tail -n "$LAB_SERIAL_TAIL" "$1/$h.serial.log" | tr -d '\r' >&2
  done
}

# lab_boot RUN: starts both hosts and waits until both dom0s are ready; on failure prints the serial tails
lab_boot() {
  local run=$1 h attempt t0 deadline st
  t0=$(lab_now_ms)
  for attempt in $(seq "$LAB_PORT_ATTEMPTS"); do
    lab_pick_ports "$run"
    st=0
    for h in $LAB_HOSTS; do lab_qemu_start "$run" "$h" || { st=1; break; }; done
    [ $st = 0 ] && break
    lab_stop "$run"
    grep -q -i 'could not set up host forwarding\|address already in use\|Could not bind' "$run"/*.qemu.log ||
      { cat "$run"/*.qemu.log >&2; lab_die "QEMU did not start"; }
    lab_log "a forwarded port was taken meanwhile; new ports (attempt $attempt of $LAB_PORT_ATTEMPTS)"
  done
  [ $st = 0 ] || lab_die "QEMU could not get free ports in $LAB_PORT_ATTEMPTS attempts"
  deadline=$(( $(lab_now_ms) + LAB_BOOT_TIMEOUT * 1000 ))
  for h in $LAB_HOSTS; do
    while :; do
      if grep -q "lab-dom0: ready host=$h" "$run/$h.serial.log" 2>/dev/null; then break; fi
      if grep -q -e 'lab-dom0: FAILED' -e 'Kernel panic' -e 'Panic on CPU' "$run/$h.serial.log" 2>/dev/null; then
        lab_serial_tails "$run"; lab_log "$h: the dom0 did not come up"; return 1
      fi
      [ -n "$(lab_qemu_pid "$run" "$h")" ] || { lab_serial_tails "$run"; lab_log "$h: QEMU exited during boot"; return 1; }
      [ "$(lab_now_ms)" -lt $deadline ] || { lab_serial_tails "$run"; lab_log "$h: not ready after ${LAB_BOOT_TIMEOUT}s"; return 1; }
      sleep 0.5
    done
  done
  for h in $LAB_HOSTS; do   # the channel's listener starts just after "ready"
    until lab_exec "$run" "$h" 30 'true' >/dev/null; do
      [ "$(lab_now_ms)" -lt $deadline ] || { lab_serial_tails "$run"; lab_log "$h: command channel does not answer"; return 1; }
      sleep 1
    done
  done
  LAB_BOOT_SECONDS=$(lab_seconds "$t0")
  return 0
}

LAB_EXEC_DEFAULT_TIMEOUT=120

# lab_exec RUN HOST TIMEOUT SCRIPT: runs SCRIPT (sh) in HOST's dom0 and prints its output (stdout and stderr).
# Returns the script's exit status; 124 when it did not finish within TIMEOUT seconds (it may still run in
# the dom0); 255 when the channel failed (no answer, or the answer lacks its status line).
lab_exec() {
  local run=$1 h=$2 t=$3 script=$4 port out rc last
  port=$(lab_port "$run" "$h" cmd)
  out=$(timeout "$t" bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 255; printf "%s\n" "$2" >&3; cat <&3' \
          _ "$port" "$(printf '%s\n' "$script" | base64 -w0)" 2>/dev/null) && rc=0 || rc=$?
  [ $rc = 124 ] && { printf '%s\n' "$out"; return 124; }
  last=${out##*@@rc=}
  if [ "$last" = "$out" ] || ! [[ $last =~ ^[0-9]+$ ]]; then printf '%s\n' "$out"; return 255; fi
  out=${out%@@rc=*}
  printf '%s' "$out"
  return "$last"
}

LAB_XFER_TIMEOUT=600   # s, one file transfer

# lab_xfer RUN HOST PROG HOST-SIDE: one transfer through HOST's xfer port: the dom0 runs PROG (sh) with the
# connection as its stdin and stdout; this machine runs HOST-SIDE (bash) with the connection on fd 3
lab_xfer() {
  local run=$1 h=$2 prog=$3 hostside=$4 port
  port=$(lab_port "$run" "$h" xfer)
  lab_exec "$run" "$h" 30 "
    [ -f /run/lab-xfer.pid ] && kill \$(cat /run/lab-xfer.pid) 2>/dev/null
    setsid nc -l -p $LAB_DOM0_XFER_PORT -e /bin/sh -c \"$prog\" < /dev/null > /dev/null 2>&1 &
    echo \$! > /run/lab-xfer.pid
    t=0; until netstat -ltn | grep -q ':$LAB_DOM0_XFER_PORT '; do usleep 100000; t=\$((t + 1)); [ \$t -lt 100 ] || exit 1; done" \
    >/dev/null || return 1
  timeout "$LAB_XFER_TIMEOUT" bash -c "exec 3<>/dev/tcp/127.0.0.1/$port || exit 1; $hostside"
}

# lab_fetch_file RUN HOST REMOTE LOCAL: copies a file of HOST's dom0 to this machine (checked by size)
lab_fetch_file() {
  local size
  size=$(lab_exec "$1" "$2" 30 "wc -c < '$3'") || { lab_log "$2: $3 not found"; return 1; }
  lab_xfer "$1" "$2" "cat '$3'" "cat <&3 > '$4'" || return 1
  [ "$(wc -c < "$4")" = "${size//[^0-9]/}" ] || { lab_log "$2: fetched $(wc -c < "$4") of $size bytes of $3"; return 1; }
}

# lab_push_file RUN HOST LOCAL REMOTE: copies a file of this machine into HOST's dom0 (checked by size)
lab_push_file() {
  local size
  lab_xfer "$1" "$2" "cat > '$4'" "cat '$3' >&3; exec 3>&-" || return 1
  size=$(lab_exec "$1" "$2" 60 "t=0; while [ -d /proc/\$(cat /run/lab-xfer.pid) ] && [ \$t -lt 300 ]; do usleep 100000; t=\$((t + 1)); done; wc -c < '$4'") || return 1
  [ "${size//[^0-9]/}" = "$(wc -c < "$3")" ] || { lab_log "$2: pushed $size of $(wc -c < "$3") bytes to $4"; return 1; }
}

# lab_shell RUN HOST: an interactive shell in HOST's dom0 (busybox telnet; leave with Ctrl-] then 'quit' or exit)
lab_shell() {
  lab_log "$2: shell in the dom0 (exit, or Ctrl-] then 'q' to leave)"
  "$(lab_busybox)" telnet 127.0.0.1 "$(lab_port "$1" "$2" telnet)"
}
