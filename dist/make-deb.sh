#!/usr/bin/env bash
# The Debian package of a distribution tree (plain dpkg-deb; files owned by root):
#   /usr/lib/migrationd/{bin,lib,runtime}   the programs and their Java runtime
#   /usr/sbin/migrationd, /usr/bin/migrationctl
#   /etc/migrationd/migrationd.conf, /etc/default/migrationd   (conffiles)
#   /lib/systemd/system/migrationd.service
#   /usr/share/bash-completion/completions/{migrationctl,migrationd}
#   /usr/share/doc/migrationd/{README.md,examples/xen.conf}
# postinst creates the system user migrationd and /var/lib/migrationd (0700).
#   dist/make-deb.sh DIST_DIR DEBVERSION OUT_DIR
set -euo pipefail
DIST=$(realpath "$1") DEBVERSION=$2 OUT=$(realpath "$3")
SRC=$(cd "$(dirname "$0")/src/debian" && pwd)
PKG="$OUT/deb/migrationd"
rm -rf "$OUT/deb"
mkdir -p "$PKG/DEBIAN" "$PKG/usr/lib/migrationd" "$PKG/usr/sbin" "$PKG/usr/bin" "$PKG/etc/migrationd" "$PKG/etc/default" \
  "$PKG/lib/systemd/system" "$PKG/usr/share/bash-completion/completions" "$PKG/usr/share/doc/migrationd/examples"
cp -a "$DIST/bin" "$DIST/lib" "$DIST/runtime" "$PKG/usr/lib/migrationd/"
ln -s ../lib/migrationd/bin/migrationd "$PKG/usr/sbin/migrationd"
ln -s ../lib/migrationd/bin/migrationctl "$PKG/usr/bin/migrationctl"
install -m 0644 "$DIST/etc/migrationd.conf" "$PKG/etc/migrationd/migrationd.conf"
install -m 0644 "$DIST/etc/default/migrationd" "$PKG/etc/default/migrationd"
install -m 0644 "$DIST/systemd/migrationd.service" "$PKG/lib/systemd/system/migrationd.service"
install -m 0644 "$DIST/share/bash-completion/completions/"* "$PKG/usr/share/bash-completion/completions/"
install -m 0644 "$DIST/share/doc/README.md" "$PKG/usr/share/doc/migrationd/README.md"
install -m 0644 "$DIST/systemd/xen.conf" "$PKG/usr/share/doc/migrationd/examples/xen.conf"
size=$(du -sk --exclude=DEBIAN "$PKG" | cut -f1)
sed -e "s/@VERSION@/$DEBVERSION/" -e "s/@SIZE@/$size/" "$SRC/control" > "$PKG/DEBIAN/control"
install -m 0644 "$SRC/conffiles" "$PKG/DEBIAN/conffiles"
install -m 0755 "$SRC/postinst" "$SRC/prerm" "$SRC/postrm" "$PKG/DEBIAN/"
dpkg-deb --root-owner-group -Zgzip -z6 --build "$PKG" "$OUT/migrationd_${DEBVERSION}_amd64.deb" >/dev/null
rm -rf "$OUT/deb"
