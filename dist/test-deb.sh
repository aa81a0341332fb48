#!/usr/bin/env bash
# Installs the Debian package on this machine and runs a migration between two daemons started exactly as
# migrationd.service starts them (its ExecStart, with /etc/default/migrationd's environment, as the unit's
# User=), for machines where systemd is not PID 1; then purges the package. Needs root.
#   dist/test-deb.sh [DEB]        (default: the one bin/build verify left in dist/target)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEB=${1:-$(ls "$ROOT"/dist/target/migrationd_*_amd64.deb 2>/dev/null | head -n1)}
[ -n "$DEB" ] && [ -f "$DEB" ] || { echo "test-deb: no package; build it with bin/build package" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "test-deb: needs root (it installs $DEB)" >&2; exit 2; }
WORK=$(mktemp -d /tmp/migrationd-deb-test.XXXXXX)
chmod 0755 "$WORK"   # the service user reads its config here
PIDS=()
ok=0
check() { if eval "$2"; then echo "ok    $1"; else echo "FAIL  $1" >&2; exit 1; fi; }
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$p" 2>/dev/null || true
  done
  if dpkg -s migrationd >/dev/null 2>&1; then dpkg --purge migrationd >/dev/null 2>&1 || true; fi
  if [ "$ok" = 1 ]; then rm -rf "$WORK"; else echo "test-deb: logs kept in $WORK" >&2; fi
}
trap cleanup EXIT

if dpkg -s migrationd >/dev/null 2>&1; then
  echo "test-deb: migrationd is installed on this machine already; not touching it" >&2; exit 2
fi
echo "test-deb: installing $(basename "$DEB")"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$DEB" >"$WORK/install.log" 2>&1 || { cat "$WORK/install.log" >&2; exit 1; }
check "the service user exists" 'getent passwd migrationd >/dev/null'
check "/var/lib/migrationd is owned by migrationd, mode 0700" '[ "$(stat -c %U:%a /var/lib/migrationd)" = migrationd:700 ]'
check "/usr/bin/migrationctl and /usr/sbin/migrationd run" '[ -x /usr/bin/migrationctl ] && [ -x /usr/sbin/migrationd ]'
check "the config and the unit are in place" '[ -f /etc/migrationd/migrationd.conf ] && [ -f /etc/default/migrationd ] && [ -f /lib/systemd/system/migrationd.service ]'
check "the installed unit verifies" 'systemd-analyze verify /lib/systemd/system/migrationd.service >"$WORK/verify.log" 2>&1 && [ ! -s "$WORK/verify.log" ]'

UNIT=/lib/systemd/system/migrationd.service
exec_start=$(sed -n 's/^ExecStart=//p' "$UNIT")
user=$(sed -n 's/^User=//p' "$UNIT"); group=$(sed -n 's/^Group=//p' "$UNIT")
check "ExecStart is the packaged daemon" '[ "${exec_start%% *}" = /usr/sbin/migrationd ]'
free_port() { local p; for _ in $(seq 1 200); do p=$(( 20000 + RANDOM % 10000 )); (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }; done; exit 1; }
A_PEER=$(free_port) B_PEER=$(free_port)
A_CTL="unix:$WORK/hostA-run/control.sock" B_CTL="unix:$WORK/hostB-run/control.sock"
# the peer link is mutual TLS: a lab CA and the two hosts' certificates, made by the packaged migrationctl
env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin /usr/bin/migrationctl certs --dir "$WORK/tls" hostA hostB >"$WORK/certs.log" 2>&1
chown -R "$user:$group" "$WORK/tls"
check "migrationctl certs made a CA and keys only the service user reads" \
  '[ -f "$WORK/tls/ca.pem" ] && [ "$(stat -c %U:%a "$WORK/tls/hostA.key")" = "$user:600" ]'
start() { # name peer other other-peer
  local state="$WORK/$1" conf="$WORK/$1.conf"
  install -d -o "$user" -g "$group" -m 0700 "$state"
  # the control socket as packaged (mode 0660, group migrationd), in a directory of the service user's, as
  # RuntimeDirectory= makes /run/migrationd
  install -d -o "$user" -g "$group" -m 0755 "$WORK/$1-run"
  sed -e "s|^state-dir .*|state-dir = $state|" -e "s|^control-listen .*|control-listen = unix:$WORK/$1-run/control.sock|" \
      -e "s|127.0.0.1:7101|127.0.0.1:$2|" \
      -e "s|127.0.0.1:9101|127.0.0.1:0|" /etc/migrationd/migrationd.conf > "$conf"
  printf 'name = %s\npeer.%s = 127.0.0.1:%s\npeer.%s.allow = migrate,query\n' "$1" "$3" "$4" "$3" >> "$conf"
  printf 'tls-ca = %s\ntls-cert = %s\ntls-key = %s\n' "$WORK/tls/ca.pem" "$WORK/tls/$1.pem" "$WORK/tls/$1.key" >> "$conf"
  chmod 0644 "$conf"
  # as systemd would: the environment file, then ExecStart's ${VAR} and $VAR expanded, as User=/Group=
  ( set -a; . /etc/default/migrationd; set +a; MIGRATIOND_CONFIG=$conf
    cmd=$(eval "echo $exec_start")
    exec setpriv --reuid="$user" --regid="$group" --init-groups env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
      MIGRATIOND_JAVA_OPTS="$MIGRATIOND_JAVA_OPTS" MIGRATIOND_LOG_LEVEL="$MIGRATIOND_LOG_LEVEL" $cmd ) >"$WORK/$1.log" 2>&1 &
  PIDS+=($!)
}
start hostA "$A_PEER" hostB "$B_PEER"
start hostB "$B_PEER" hostA "$A_PEER"
ctl() { env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin /usr/bin/migrationctl "$@"; }
for addr in "$A_CTL" "$B_CTL"; do
  for _ in $(seq 1 240); do ctl domains --daemon "$addr" >/dev/null 2>&1 && break; sleep 0.5; done
done
check "both daemons answer (run as $user)" 'ctl domains --daemon $A_CTL >/dev/null && ctl domains --daemon $B_CTL >/dev/null'
check "the control socket is 0660 $user:migrationd, as packaged" \
  '[ "$(stat -c %a:%U:%G "$WORK/hostA-run/control.sock")" = "660:$user:migrationd" ]'
check "a user outside group migrationd cannot connect to it" \
  '! setpriv --reuid=65534 --regid=65534 --clear-groups env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin /usr/bin/migrationctl domains --daemon "$A_CTL" >"$WORK/nobody.log" 2>&1 && grep -q "permission denied on the control socket" "$WORK/nobody.log"'
check "the daemons run as $user" '[ "$(ps -o user= -p "${PIDS[0]}" | tr -d " ")" = "$user" ] && [ "$(ps -o user= -p "${PIDS[1]}" | tr -d " ")" = "$user" ]'
ctl domain create dom7 --daemon "$A_CTL" --memory 64MiB --vcpus 1 --type hvm --dirty-rate 4MiB/s \
  --working-set 25% --pattern ab >"$WORK/create.log" 2>&1
check "a migration between them succeeds" 'ctl migrate dom7 --to hostB --daemon $A_CTL >"$WORK/migrate.log" 2>&1'
check "dom7 runs on hostB" 'ctl domains --daemon $B_CTL --format json | grep -q "\"name\":\"dom7\".*DOMAIN_STATE_RUNNING"'
check "dom7 is gone from hostA" '! ctl domains --daemon $A_CTL --format json | grep -q "\"name\":\"dom7\""'
for p in "${PIDS[@]}"; do kill -TERM "$p"; done
for p in "${PIDS[@]}"; do wait "$p" || { echo "FAIL  daemon $p exited $? on SIGTERM" >&2; exit 1; }; done
PIDS=()
echo "ok    both daemons stopped cleanly on SIGTERM"
dpkg --purge migrationd >"$WORK/purge.log" 2>&1
check "purge removes the programs and the config" '[ ! -e /usr/lib/migrationd ] && [ ! -e /usr/bin/migrationctl ] && [ ! -e /etc/migrationd/migrationd.conf ]'
ok=1
echo "test-deb: passed"
