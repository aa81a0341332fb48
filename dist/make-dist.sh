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
cleanup_training() { [ -z "$daemon_pid" ] || { kill -TERM "$daemon_pid" 2>/dev/null; wait "$daemon_pid" 2>/dev/null || true; }; rm -rf "$train_dir"; }
trap cleanup_training EXIT
# a daemon to talk to (sim backend, ports picked by the kernel). The daemon gets no cache yet: one worth its
# build time is trained on a whole migration (its first migration is what warms up slowly). It has no peers and
# the CLI's training talks only to its control API, so its peer link (an ephemeral loopback port, for seconds)
# runs without TLS material rather than with certificates made for nothing.
"$DIST/bin/migrationd" --name train --state-dir "$train_dir/state" --control-listen 127.0.0.1:0 \
  --peer-listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --insecure-peer-link >"$train_dir/daemon.log" 2>&1 &
daemon_pid=$!
port=
for _ in $(seq 1 300); do
  port=$(sed -n 's/.*event=daemon_started.* control=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$train_dir/daemon.log")
  [ -n "$port" ] && break
  kill -0 "$daemon_pid" 2>/dev/null || { cat "$train_dir/daemon.log" >&2; echo "make-dist: training daemon died" >&2; exit 1; }
  sleep 0.2
done
[ -n "$port" ] || { cat "$train_dir/daemon.log" >&2; echo "make-dist: training daemon did not start" >&2; exit 1; }
t0=$(date +%s)
MIGRATIONCTL_JAVA_OPTS="-XX:AOTCacheOutput=$DIST/lib/migrationctl.aot -Xlog:aot=warning" \
  "$DIST/bin/migrationctl" list --daemon "127.0.0.1:$port" >/dev/null 2>"$train_dir/cli.log" \
  || { cat "$train_dir/cli.log" >&2; echo "make-dist: the CLI's training run failed" >&2; exit 1; }
say "CLI cache trained on 'migrationctl list' in $(( $(date +%s) - t0 ))s"
kill -TERM "$daemon_pid"; wait "$daemon_pid" || true; daemon_pid=
[ -s "$DIST/lib/migrationctl.aot" ] || { echo "make-dist: no CLI AOT cache was written" >&2; exit 1; }

say "Debian package"
"$(dirname "$0")/make-deb.sh" "$DIST" "$DEBVERSION" "$OUT"
say "OCI image"
"$(dirname "$0")/make-oci.sh" "$DIST" "$VERSION" "$OUT"
say "done: $DIST, $(ls "$OUT"/*.deb), $OUT/migrationd-$VERSION-oci.tar"
