#!/usr/bin/env bash
# An OCI image of a distribution tree, written without a container engine: an OCI image layout (oci-layout,
# index.json, blobs/sha256/...) packed as one tar, which skopeo and podman read as oci-archive:FILE, e.g.
#   skopeo copy oci-archive:migrationd-VERSION-oci.tar docker://REGISTRY/migrationd:VERSION
# Two layers: the shared libraries the Java runtime links against (copied from this build host, a Debian 12
# like the hosts it runs on) with a minimal /etc; then the distribution under /opt/migrationd. No shell:
# the entry point runs the runtime's java directly (JVM options: $JDK_JAVA_OPTIONS, read by java itself).
# Layers are reproducible (sorted names, mtime 0, root-owned).
#   dist/make-oci.sh DIST_DIR VERSION OUT_DIR
set -euo pipefail
DIST=$(realpath "$1") VERSION=$2 OUT=$(realpath "$3")
WORK="$OUT/oci"
rm -rf "$WORK"
mkdir -p "$WORK/layout/blobs/sha256" "$WORK/base" "$WORK/app/opt"

# ---- layer 1: the libraries the runtime needs, and /etc -------------------------------------------------
libs=$( { ldd "$DIST/runtime/bin/java"; find "$DIST/runtime/lib" -name '*.so' -exec ldd {} \; ; } 2>/dev/null \
  | awk '/=> \// {print $3} /^\t\/lib64\// {print $1}' | sort -u)
for l in $libs; do
  case "$l" in "$DIST"/*) continue ;; esac
  mkdir -p "$WORK/base$(dirname "$l")"
  cp -L "$l" "$WORK/base$l"
done
mkdir -p "$WORK/base/etc" "$WORK/base/tmp" "$WORK/base/var/lib/migrationd" "$WORK/base/etc/migrationd" \
  "$WORK/base/proc" "$WORK/base/sys" "$WORK/base/dev"
chmod 1777 "$WORK/base/tmp"
printf 'root:x:0:0:root:/root:/sbin/nologin\nmigrationd:x:65532:65532:migrationd:/var/lib/migrationd:/sbin/nologin\n' > "$WORK/base/etc/passwd"
printf 'root:x:0:\nmigrationd:x:65532:\n' > "$WORK/base/etc/group"
printf 'passwd: files\ngroup: files\nhosts: files dns\n' > "$WORK/base/etc/nsswitch.conf"

# ---- layer 2: the distribution ----------------------------------------------------------------------
cp -a "$DIST" "$WORK/app/opt/migrationd"
cp "$DIST/etc/migrationd.conf" "$WORK/base/etc/migrationd/migrationd.conf"

blob() { # file media-type -> prints "digest size", moves the file into blobs
  local d s
  d=$(sha256sum "$1" | cut -d' ' -f1); s=$(stat -c %s "$1")
  mv "$1" "$WORK/layout/blobs/sha256/$d"
  echo "sha256:$d $s"
}
layer() { # dir -> prints "diffid digest size"
  local tarf="$WORK/layer.tar" diff
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
    -C "$1" -cf "$tarf" .
  diff=$(sha256sum "$tarf" | cut -d' ' -f1)
  gzip -n -6 "$tarf"
  echo "sha256:$diff $(blob "$tarf.gz")"
}
read -r base_diff base_digest base_size <<<"$(layer "$WORK/base")"
read -r app_diff app_digest app_size <<<"$(layer "$WORK/app")"

# the daemon's class path as its launcher builds it, with home = /opt/migrationd
cp=$(sed -n 's/^  -cp "\(.*\)" dev.migrationd.daemon.MigrationDaemon.*/\1/p' "$DIST/bin/migrationd" | sed 's|\$home|/opt/migrationd|g')
[ -n "$cp" ] || { echo "make-oci: cannot read the class path from $DIST/bin/migrationd" >&2; exit 1; }
entry=$(printf '"%s",' /opt/migrationd/runtime/bin/java \
  --enable-native-access=ALL-UNNAMED -cp "$cp" dev.migrationd.daemon.MigrationDaemon)
cat > "$WORK/config.json" <<JSON
{"architecture":"amd64","os":"linux",
 "config":{"Entrypoint":[${entry%,}],"Cmd":["--config","/etc/migrationd/migrationd.conf"],
  "Env":["PATH=/opt/migrationd/bin:/usr/bin:/bin","LANG=C.UTF-8"],"WorkingDir":"/var/lib/migrationd",
  "ExposedPorts":{"7101/tcp":{},"9101/tcp":{}},
  "Labels":{"org.opencontainers.image.title":"migrationd","org.opencontainers.image.version":"$VERSION"}},
 "rootfs":{"type":"layers","diff_ids":["$base_diff","$app_diff"]},
 "history":[{"created_by":"dist/make-oci.sh: shared libraries and /etc"},{"created_by":"dist/make-oci.sh: /opt/migrationd"}]}
JSON
read -r config_digest config_size <<<"$(blob "$WORK/config.json")"
cat > "$WORK/manifest.json" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
 "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"$config_digest","size":$config_size},
 "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"$base_digest","size":$base_size},
  {"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"$app_digest","size":$app_size}]}
JSON
read -r manifest_digest manifest_size <<<"$(blob "$WORK/manifest.json")"
cat > "$WORK/layout/index.json" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",
 "manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"$manifest_digest","size":$manifest_size,
  "annotations":{"org.opencontainers.image.ref.name":"$VERSION"}}]}
JSON
echo '{"imageLayoutVersion":"1.0.0"}' > "$WORK/layout/oci-layout"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$WORK/layout" -cf "$OUT/migrationd-$VERSION-oci.tar" .
rm -rf "$WORK"
