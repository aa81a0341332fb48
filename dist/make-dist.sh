#!/usr/bin/env bash
# Builds the self-contained distribution from the daemon's and the CLI's jars: a jlink'd runtime (no JDK or
# Maven needed on the target), launchers, default config, the systemd unit, shell completion, AOT caches
# for fast start-up; then the Debian package and an OCI image of it. Run by Maven (dist module, package
# phase); by hand:  dist/make-dist.sh VERSION JDK JARS_DIR CLI_CLASSPATH_FILE OUT_DIR
#   JARS_DIR            the daemon's runtime jars, its own and the project's included
#   CLI_CLASSPATH_FILE  the CLI's runtime class path as Maven resolved it (dependency:build-classpath)
#
# OUT_DIR gets:
#   migrationd-VERSION/            the distribution tree (what /usr/lib/migrationd holds once installed)
#   migrationd_DEBVERSION_amd64.deb
#   migrationd-VERSION-oci.tar     an OCI image layout, as a tar (skopeo/podman: oci-archive:FILE)
set -euo pipefail
VERSION=$1 JDK=$2 JARS=$(realpath "$3") CLI_CLASSPATH=$(realpath "$4") OUT=$(realpath "$5")
SRC=$(cd "$(dirname "$0")/src" && pwd)
. "$(dirname "$0")/../bin/lib/common.sh" # remove_sim_memory
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIST="$OUT/migrationd-$VERSION"
DEBVERSION=$(printf '%s' "$VERSION" | sed 's/-SNAPSHOT$/~snapshot/; s/-/~/g')
# JDK modules the daemon and CLI use (jdeps --print-module-deps over their class path, plus java.logging
# and java.management, which it folds into the modules that require them).
MODULES=java.base,java.desktop,java.logging,java.management,java.naming,java.sql,jdk.httpserver,jdk.jfr,jdk.management,jdk.unsupported
say() { echo "make-dist: $*"; }

rm -rf "$DIST" "$OUT/deb" "$OUT/oci" "$OUT"/*.deb "$OUT"/*-oci.tar
mkdir -p "$DIST/bin" "$DIST/lib" "$DIST/etc/default" "$DIST/systemd" "$DIST/share/bash-completion/completions" \
  "$DIST/share/doc"

say "jlink runtime ($MODULES)"
"$JDK/bin/jlink" --add-modules "$MODULES" --strip-debug --no-man-pages --no-header-files \
  --generate-cds-archive --output "$DIST/runtime"

say "jars"
cp "$JARS"/*.jar "$DIST/lib/"
classpath() { # jar names -> $home/lib/a.jar:$home/lib/b.jar...
  local sep="" j
  for j in "$@"; do printf '%s%s' "$sep" "\$home/lib/$j"; sep=:; done
}
mapfile -t daemon_jars < <(cd "$DIST/lib" && ls daemon-*.jar; ls *.jar | grep -v '^daemon-' | sort)
# the CLI opens only its own jars (fewer to search at start)
# (where Maven picked another version of a library for the daemon than for the CLI alone, the daemon's is taken:
# one copy of each library ships)
cli_jars=("$(cd "$DIST/lib" && ls control-api-*.jar)")
for j in $(tr ':' '\n' < "$CLI_CLASSPATH" | xargs -n1 basename | sort); do
  if [ ! -f "$DIST/lib/$j" ]; then
    same=$(cd "$DIST/lib" && ls "${j%%-[0-9]*}"-[0-9]*.jar 2>/dev/null | head -n1)
    [ -n "$same" ] || { echo "make-dist: the CLI's $j is not among the daemon's jars" >&2; exit 1; }
    j=$same
  fi
  cli_jars+=("$j")
done

write_launcher() { # name main-class classpath aot-name default-opts env-var
  local name=$1 main=$2 cp=$3 aot=$4 opts=$5 env=$6
  cat > "$DIST/bin/$name" <<LAUNCHER
#!/bin/sh
# $name $VERSION: runs on the Java runtime shipped beside it ($name --help for its options).
# JVM options: \$$env. Made by dist/make-dist.sh.
self=\$(readlink -f "\$0")
home=\$(cd "\$(dirname "\$self")/.." && pwd)
aot=
[ -r "\$home/lib/$aot" ] && aot="-XX:AOTCache=\$home/lib/$aot"
exec "\$home/runtime/bin/java" \$aot $opts --enable-native-access=ALL-UNNAMED \${$env:-} \\
  -cp "$cp" $main "\$@"
LAUNCHER
  chmod 0755 "$DIST/bin/$name"
}
write_launcher migrationd dev.migrationd.daemon.MigrationDaemon \
  "$(classpath "${daemon_jars[@]}")" migrationd.aot "" MIGRATIOND_JAVA_OPTS
# the CLI lives for a fraction of a second: C1 only and the serial collector start fastest
write_launcher migrationctl dev.migrationd.control.cli.MigrationCtl \
  "$(classpath "${cli_jars[@]}")" migrationctl.aot "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC" \
  MIGRATIONCTL_JAVA_OPTS

say "config, unit, completion, docs"
install -m 0644 "$SRC/dist/migrationd.conf" "$DIST/etc/migrationd.conf"
install -m 0644 "$ROOT/systemd/migrationd.default" "$DIST/etc/default/migrationd"
install -m 0644 "$ROOT/systemd/migrationd.service" "$DIST/systemd/migrationd.service"
install -m 0644 "$ROOT/systemd/xen.conf" "$DIST/systemd/xen.conf"
install -m 0644 "$ROOT/README.md" "$DIST/share/doc/README.md"
"$DIST/bin/migrationctl" completion > "$DIST/share/bash-completion/completions/migrationctl"
(cd "$DIST/share/bash-completion/completions" && "$DIST/runtime/bin/java" -cp "$DIST/lib/*" \
  picocli.AutoComplete --force --name migrationd --completionScript migrationd dev.migrationd.daemon.MigrationDaemon >/dev/null)

say "AOT cache for the CLI (JEP 483/514: classes loaded and linked by a training run, mapped at start)"
train_dir=$(mktemp -d "${TMPDIR:-/tmp}/migrationd-train.XXXXXX")
daemon_pid=
peer_pid=
cleanup_training() {
  local p
  for p in $daemon_pid $peer_pid; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null || true; done
  remove_sim_memory "$train_dir" # the training guest's memory, in /dev/shm
  rm -rf "$train_dir"
}
trap cleanup_training EXIT
start_training_daemon() { # name log [flags...] -> sets started_pid, waits for its ports
  local name=$1 log=$2; shift 2
  "$DIST/bin/migrationd" --name "$name" --state-dir "$train_dir/$name" --control-listen 127.0.0.1:0 \
    --peer-listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 "$@" >"$log" 2>&1 &
  started_pid=$!
  for _ in $(seq 1 600); do
    grep -q 'event=daemon_started' "$log" && return 0
    kill -0 "$started_pid" 2>/dev/null || { cat "$log" >&2; echo "make-dist: training daemon $name died" >&2; exit 1; }
    sleep 0.2
  done
  cat "$log" >&2; echo "make-dist: training daemon $name did not start" >&2; exit 1
}
# LOG control|peer: the port (the control address is written ADDRESS:PORT, the peer one as a port)
log_port() { sed -n "s/.*event=daemon_started.* $2=\\(127\\.0\\.0\\.1:\\)\\{0,1\\}\\([0-9]*\\).*/\\2/p" "$1"; }
# a daemon to talk to (sim backend, ports picked by the kernel). It has no peers and the CLI's training talks
# only to its control API, so its peer link (an ephemeral loopback port, for seconds) runs without TLS
# material rather than with certificates made for nothing.
start_training_daemon train "$train_dir/daemon.log" --insecure-peer-link; daemon_pid=$started_pid
port=$(log_port "$train_dir/daemon.log" control)
t0=$(date +%s)
MIGRATIONCTL_JAVA_OPTS="-XX:AOTCacheOutput=$DIST/lib/migrationctl.aot -Xlog:aot=warning" \
  "$DIST/bin/migrationctl" list --daemon "127.0.0.1:$port" >/dev/null 2>"$train_dir/cli.log" \
  || { cat "$train_dir/cli.log" >&2; echo "make-dist: the CLI's training run failed" >&2; exit 1; }
say "CLI cache trained on 'migrationctl list' in $(( $(date +%s) - t0 ))s"
kill -TERM "$daemon_pid"; wait "$daemon_pid" || true; daemon_pid=
[ -s "$DIST/lib/migrationctl.aot" ] || { echo "make-dist: no CLI AOT cache was written" >&2; exit 1; }

say "AOT cache for the daemon, trained on migrations in both directions (its first migration warms up slowly)"
# The trained daemon (hostA) and a plain peer (hostB, the training's other end), linked as a user links them:
# mutual TLS with certificates made for the training. The cache is written when hostA exits. Ports are the
# kernel's: hostB learns hostA's, and what it may do, by a reload of its config file (SIGHUP).
t0=$(date +%s)
"$DIST/bin/migrationctl" certs --dir "$train_dir/tls" hostA hostB >/dev/null
tls() { echo "--tls-ca $train_dir/tls/ca.pem --tls-cert $train_dir/tls/$1.pem --tls-key $train_dir/tls/$1.key"; }
: >"$train_dir/b.conf"
# shellcheck disable=SC2046
start_training_daemon hostB "$train_dir/b.log" --config "$train_dir/b.conf" $(tls hostB)
peer_pid=$started_pid
# shellcheck disable=SC2046
MIGRATIOND_JAVA_OPTS="-XX:AOTCacheOutput=$DIST/lib/migrationd.aot -Xlog:aot=warning" \
  start_training_daemon hostA "$train_dir/a.log" --peer "hostB=127.0.0.1:$(log_port "$train_dir/b.log" peer)" \
  $(tls hostA) --peer-allow hostB=migrate,query
daemon_pid=$started_pid
printf 'peer.hostA = 127.0.0.1:%s\npeer.hostA.allow = migrate,query\n' "$(log_port "$train_dir/a.log" peer)" >"$train_dir/b.conf"
kill -HUP "$peer_pid"
for _ in $(seq 1 300); do grep -q 'event=config_reloaded' "$train_dir/b.log" && break; sleep 0.1; done
grep -q 'event=config_reloaded' "$train_dir/b.log" || { cat "$train_dir/b.log" >&2; echo "make-dist: training peer did not reload" >&2; exit 1; }
a_ctl=127.0.0.1:$(log_port "$train_dir/a.log" control)
b_ctl=127.0.0.1:$(log_port "$train_dir/b.log" control)
train_ctl() { "$DIST/bin/migrationctl" "$@" >>"$train_dir/cli.log" 2>&1; }
# a loaded build machine can take long to answer the first call: wait until both answer
for ctl_addr in "$a_ctl" "$b_ctl"; do
  for _ in $(seq 1 60); do "$DIST/bin/migrationctl" domains --daemon "$ctl_addr" >/dev/null 2>&1 && break; sleep 1; done
done
train_ctl domain create t --daemon "$a_ctl" --memory 128MiB --fill random --dirty-rate 16MiB/s \
  || { cat "$train_dir/cli.log" "$train_dir/a.log" >&2; echo "make-dist: training guest not created" >&2; exit 1; }
# A training migration that fails is not retried: the cache only records which classes and methods ran, and
# the ones that did are enough (the training JVM, which records, is a different mode from the one users run;
# one trial build once saw an impossible NullPointerException in it). At least one migration each way must
# succeed, or the cache would miss half of the daemon.
to_b=0; to_a=0
for _ in 1 2; do
  train_ctl migrate t --to hostB --daemon "$a_ctl" && to_b=$((to_b + 1))
  "$DIST/bin/migrationctl" domains --daemon "$b_ctl" 2>/dev/null | grep -qw t && { train_ctl migrate t --to hostA --daemon "$b_ctl" && to_a=$((to_a + 1)); }
done
kill -TERM "$daemon_pid"; wait "$daemon_pid" || true; daemon_pid=
kill -TERM "$peer_pid"; wait "$peer_pid" || true; peer_pid=
if [ $to_b = 0 ] || [ $to_a = 0 ]; then
  cat "$train_dir/cli.log" "$train_dir/a.log" >&2
  echo "make-dist: the daemon's training needs a migration each way to succeed (to hostB: $to_b, to hostA: $to_a)" >&2; exit 1
fi
[ -s "$DIST/lib/migrationd.aot" ] || { cat "$train_dir/a.log" >&2; echo "make-dist: no daemon AOT cache was written" >&2; exit 1; }
say "daemon cache trained in $(( $(date +%s) - t0 ))s ($to_b migrations to hostB, $to_a back)"

say "Debian package"
"$(dirname "$0")/make-deb.sh" "$DIST" "$DEBVERSION" "$OUT"
say "OCI image"
"$(dirname "$0")/make-oci.sh" "$DIST" "$VERSION" "$OUT"
say "done: $DIST, $(ls "$OUT"/*.deb), $OUT/migrationd-$VERSION-oci.tar"
