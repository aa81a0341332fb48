# `bin/xen-lab build`: everything the lab boots, from Debian packages and this checkout. Sourced, not run.
#
# Three cached layers, each rebuilt only when its inputs change:
#   debs/                 the .deb files, named as in the Debian pool, checked against the SHA256 of apt's index
#   base/KEY/             xen, vmlinuz and base.cpio (busybox, Xen tools and libraries, kernel modules, the guest
#                         kernel and initramfs, the lab's dom0 scripts); KEY = package versions + lab sources
#   app/KEY/              app.cpio: a jlink'd JDK runtime and the daemon's jars; KEY = JDK + jars + lab tools
#   images/BASE-APP/      dom0.cpio = base.cpio + app.cpio (Linux unpacks concatenated archives in order)
# After a build, LAB_IMAGE names the image directory.

# The dom0 kernel modules (the rest of what the lab needs is built into Debian's kernel); their dependencies
# are added from each module's own .modinfo section.
LAB_DOM0_MODULES="xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs virtio_pci virtio_net"

# Modules of the JDK that are always in the dom0's runtime, whatever jdeps finds: FFM's Unsafe users
# (Netty) need jdk.unsupported; jcmd-style diagnostics are not shipped.
LAB_JLINK_FLOOR="java.base,jdk.unsupported"

lab_as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo -n "$@"
  else lab_die "need root to run: $* (run 'bin/xen-lab build' once as root, or install it yourself)"; fi
}

lab_ensure_host_tools() {
  local t
  for t in apt-get apt-cache dpkg-deb sha256sum timeout flock base64; do
    command -v "$t" >/dev/null 2>&1 ||
      lab_die "the lab needs a Debian-based host; '$t' is missing"
  done
  if ! command -v qemu-system-x86_64 >/dev/null 2>&1; then
    lab_log "installing qemu-system-x86 (QEMU runs the lab's two Xen hosts)"
    DEBIAN_FRONTEND=noninteractive lab_as_root timeout "$LAB_APT_INSTALL_TIMEOUT" \
      apt-get install -y -q --no-install-recommends qemu-system-x86 >&2 ||
      lab_die "installing qemu-system-x86 failed (see above)"
  fi
}

# lab_resolve_packages: "name version pool-file sha256" of the candidate version of each package of lab/packages
# (the kernel resolved), from apt's index in one query; apt-get update once if the index lacks a package
lab_resolve_packages() {
  local p names=() kernel updated=0 out k v name ver file sha
  while :; do
    names=()
    kernel=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n1)
    while read -r p; do
      case $p in ''|'#'*) continue ;; linux-image-amd64) p=$kernel ;; esac
      names+=("$p")
    done < "$LAB_DIR/packages"
    out=""
    if [ -n "$kernel" ]; then
      name=""; ver=""; file=""; sha=""
      while IFS=': ' read -r k v; do
        case $k in
          Package) name=$v; ver=""; file=""; sha="" ;;
          Version) ver=$v ;;
          Filename) file=${v##*/} ;;
          SHA256) sha=$v ;;
          '') [ -n "$name" ] && [ -n "$sha" ] && out+="$name $ver $file $sha"$'\n'; name="" ;;
        esac
      done < <(apt-cache show --no-all-versions "${names[@]}" 2>/dev/null; echo)
    fi
    if [ -n "$kernel" ] && [ "$(grep -c . <<< "$out")" = ${#names[@]} ]; then printf '%s' "$out"; return 0; fi
    [ $updated = 0 ] || lab_die "apt's index does not know every package of lab/packages (after apt-get update)"
    lab_log "apt's index lacks a package of lab/packages: running apt-get update"
    lab_as_root timeout "$LAB_APT_TIMEOUT" apt-get update -q >&2 || lab_die "apt-get update failed"
    updated=1
  done
}

lab_sha256() { sha256sum "$1" | cut -d' ' -f1; }

# lab_fetch_debs RECORDS: downloads what the cache lacks, each file checked against its index SHA256
lab_fetch_debs() {
  local records=$1 name ver file sha want=() got part="$LAB_DEBS/partial"
  mkdir -p "$LAB_DEBS"
  while read -r name ver file sha; do
    [ -f "$LAB_DEBS/$file" ] && [ "$(lab_sha256 "$LAB_DEBS/$file")" = "$sha" ] && continue
    want+=("$name=$ver")
  done <<< "$records"
  [ ${#want[@]} = 0 ] && return 0
  lab_log "downloading ${#want[@]} Debian packages into $LAB_DEBS"
  rm -rf "$part"; mkdir -p "$part"
  local sandbox=()
  [ "$(id -u)" = 0 ] && sandbox=(-o APT::Sandbox::User=root)
  (cd "$part" && timeout "$LAB_APT_TIMEOUT" apt-get download -q "${sandbox[@]}" "${want[@]}" >&2) ||
    lab_die "apt-get download failed or took longer than ${LAB_APT_TIMEOUT}s"
  while read -r name ver file sha; do
    [ -f "$LAB_DEBS/$file" ] && [ "$(lab_sha256 "$LAB_DEBS/$file")" = "$sha" ] && continue
    got=$(ls "$part/${name}_"*.deb 2>/dev/null | head -n1)
    [ -n "$got" ] || lab_die "apt-get download did not produce $name $ver"
    [ "$(lab_sha256 "$got")" = "$sha" ] || lab_die "$got: SHA256 differs from apt's index; not using it"
    mv "$got" "$LAB_DEBS/$file"
  done <<< "$records"
  rm -rf "$part"
}

# lab_hash_inputs FILE...: one hash of the names and contents of the given files (directories recursively)
lab_hash_inputs() {
  local f
  find "$@" -type f ! -name '*~' -print0 | sort -z | while IFS= read -r -d '' f; do
    printf '%s %s\n' "$(lab_sha256 "$f")" "${f#"$MIGRATIOND_HOME"/}"
  done | sha256sum | cut -c1-16
}

# lab_make_cpio DIR OUT: a newc archive of DIR's contents (owned by root inside the guest: the archive is
# written as whoever runs the build; nothing in the lab depends on file owners)
lab_make_cpio() {
  (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | "$(lab_busybox)" cpio -o -H newc 2>/dev/null) > "$2.tmp"
  mv "$2.tmp" "$2"
}

# lab_install_busybox TREE: busybox, /bin/sh and /init; the other applet links are made at boot
# (busybox --install -s), which is much cheaper than one ln per applet here
lab_install_busybox() {
  mkdir -p "$1/bin" "$1/sbin" "$1/usr/bin" "$1/usr/sbin"
  cp "$(lab_busybox)" "$1/bin/busybox"
  ln -s busybox "$1/bin/sh"
}

# lab_module_closure MODDIR NAME...: the modules' paths under MODDIR, each after the modules it depends on
# (read from each module's own .modinfo section: the kernel package ships no modules.dep)
lab_module_closure() {
  local moddir=$1; shift
  declare -A done=()
  local n order=()
  _lab_visit() {
    local m=${1//-/_} f d
    [ -n "${done[$m]:-}" ] && return 0
    f=$(find "$moddir" \( -name "$m.ko" -o -name "${m//_/-}.ko" \) -print -quit)
    [ -n "$f" ] || lab_die "kernel module $1 is not in the kernel package"
    done[$m]=1
    for d in $(tr '\0' '\n' < "$f" | sed -n 's/^depends=//p' | tr ',' ' '); do _lab_visit "$d"; done
    order+=("${f#"$moddir"/}")
  }
  for n in "$@"; do _lab_visit "$n"; done
  printf '%s\n' "${order[@]}"
}

# lab_check_elf_closure LD TREE LIBDIR...: every dynamic ELF file under TREE finds all its libraries in the
# LIBDIRs (or through its own $ORIGIN paths inside TREE), as the dom0's loader LD would
lab_check_elf_closure() {
  local ld=$1 tree=$2 f out miss bad="" libpath
  shift 2
  libpath=$(IFS=:; echo "$*")
  local magic line
  while IFS= read -r -d '' f; do
    IFS= read -r -N 4 magic < "$f" 2>/dev/null || true
    [ "$magic" = $'\x7fELF' ] || continue
    out=$("$ld" --library-path "$libpath" --list "$f" 2>&1) || continue   # static, or not loadable here: skipped
    miss=""
    while IFS= read -r line; do
      case $line in *'not found'*) miss+="$line " ;; *'=> /'*)
        [[ $line =~ ^[[:space:]]*/lib64/ld-linux ]] && continue
        local ok=0 d; for d in "$@" "$tree"; do [[ $line == *"=> $d/"* ]] && ok=1; done
        [ $ok = 1 ] || miss+="$line " ;;
      esac
    done <<< "$out"
    [ -z "$miss" ] || bad+="${f#"$tree"/}: $miss"$'\n'
  done < <(find "$tree" -type f \( -perm -u+x -o -name '*.so*' \) -print0)
  [ -z "$bad" ] || lab_die "libraries missing from the dom0 image:"$'\n'"$bad"
}

# lab_build_base RECORDS KEY OUTDIR
lab_build_base() {
  local records=$1 key=$2 out=$3 work name ver file sha kver m
  work=$(mktemp -d "$LAB_CACHE/work.XXXXXX")
  local root="$work/root" dom0="$work/dom0" guest="$work/guest"
  mkdir -p "$root" "$dom0" "$guest"
  while read -r name ver file sha; do dpkg-deb -x "$LAB_DEBS/$file" "$root"; done <<< "$records"
  kver=$(ls "$root/lib/modules")
  [ "$(wc -w <<< "$kver")" = 1 ] || lab_die "expected one kernel in the packages, found: $kver"

  # the guest: busybox and the workload, as a gzipped initramfs with the same kernel
  lab_install_busybox "$guest"
  cp "$LAB_DIR/guest/init" "$guest/init"; chmod 755 "$guest/init"
  mkdir -p "$guest/proc" "$guest/sys" "$guest/dev" "$guest/tmp"
  lab_make_cpio "$guest" "$work/guest.cpio"

  # the dom0
  lab_install_busybox "$dom0"
  mkdir -p "$dom0"/{proc,sys,dev,run,tmp,root,etc,var/log/xen/console,var/lib/xen,var/lock} "$dom0/lib" "$dom0/usr/lib"
  ln -s /run "$dom0/var/run"
  cp -a "$root/lib64" "$dom0/lib64"
  cp -a "$root/lib/x86_64-linux-gnu" "$dom0/lib/"
  cp -a "$root/usr/lib/x86_64-linux-gnu" "$dom0/usr/lib/"
  find "$dom0/usr/lib/x86_64-linux-gnu" \( -name '*.a' -o -name pkgconfig \) -prune -exec rm -rf {} +
  cp -a "$root/usr/lib/xen-4.17" "$dom0/usr/lib/"
  rm -rf "$dom0/usr/lib/xen-4.17/lib/python" "$dom0/usr/lib/xen-4.17/bin/pygrub"   # no Python in the dom0
  cp -a "$root/usr/bin/"xenstore* "$dom0/usr/bin/"
  cp -a "$root/etc/xen" "$dom0/etc/"
  ln -sf /usr/lib/xen-4.17/bin/xl "$dom0/usr/sbin/xl"
  mkdir -p "$dom0/lib/modules/$kver"
  lab_module_closure "$root/lib/modules/$kver" $LAB_DOM0_MODULES > "$dom0/etc/lab-modules"
  while read -r m; do
    mkdir -p "$dom0/lib/modules/$kver/${m%/*}"
    cp "$root/lib/modules/$kver/$m" "$dom0/lib/modules/$kver/$m"
  done < "$dom0/etc/lab-modules"
  cp "$LAB_DIR/dom0/inittab" "$dom0/etc/inittab"
  mkdir -p "$dom0/lab/guest"
  cp "$LAB_DIR/dom0/rc" "$LAB_DIR/dom0/cmd" "$LAB_DIR/dom0/sync-clock" "$dom0/lab/"
  cp "$LAB_DIR/dom0/migrationd" "$dom0/usr/sbin/migrationd"
  chmod 755 "$dom0/lab/rc" "$dom0/lab/cmd" "$dom0/lab/sync-clock" "$dom0/usr/sbin/migrationd"
  ln -s /bin/busybox "$dom0/init"
  printf 'root:x:0:0:root:/root:/bin/sh\n' > "$dom0/etc/passwd"
  printf 'root:x:0:\ntty:x:5:\n' > "$dom0/etc/group"
  printf 'passwd: files\ngroup: files\nhosts: files\n' > "$dom0/etc/nsswitch.conf"
  printf '127.0.0.1 localhost\n%s\n' "$(lab_hosts_lines)" > "$dom0/etc/hosts"
  cp "$root/boot/vmlinuz-$kver" "$dom0/lab/guest/vmlinuz"
  "$(lab_busybox)" gzip -9 < "$work/guest.cpio" > "$dom0/lab/guest/initrd.gz"
  cp "$LAB_DIR"/guest/*.cfg "$dom0/lab/guest/"
  lab_check_elf_closure "$root/lib64/ld-linux-x86-64.so.2" "$dom0" "$dom0/lib/x86_64-linux-gnu" "$dom0/usr/lib/x86_64-linux-gnu"

  mkdir -p "$work/out"
  "$(lab_busybox)" gunzip -c "$root/boot/xen-4.17-amd64.gz" > "$work/out/xen"
  cp "$root/boot/vmlinuz-$kver" "$work/out/vmlinuz"
  mkdir -p "$work/out/sysroot/lib" "$work/out/sysroot/usr/lib"   # the dom0's libraries, to check the app layer against
  cp -a "$dom0/lib64" "$work/out/sysroot/"
  cp -a "$dom0/lib/x86_64-linux-gnu" "$work/out/sysroot/lib/"
  cp -a "$dom0/usr/lib/x86_64-linux-gnu" "$work/out/sysroot/usr/lib/"
  lab_make_cpio "$dom0" "$work/out/base.cpio"
  { printf 'base %s\nkernel %s\n' "$key" "$kver"; printf '%s\n' "$records"; } > "$work/out/manifest"
  rm -rf "$out"; mv "$work/out" "$out"
  rm -rf "$work"
}

# lab_daemon_jars: the daemon's jar and its runtime dependencies, built first when missing or stale
lab_daemon_jars() {
  timeout "$LAB_MAVEN_TIMEOUT" bash -c '. "$(dirname "$0")/lib/common.sh"; JDK=$(find_jdk); build_if_needed daemon' \
    "$MIGRATIOND_HOME/bin/xen-lab" || lab_die "building the daemon failed or took longer than ${LAB_MAVEN_TIMEOUT}s"
  ls "$MIGRATIOND_HOME"/daemon/target/daemon-*.jar | grep -v -e '-tests.jar' -e '-sources.jar'
  ls "$MIGRATIOND_HOME"/daemon/target/lib/*.jar
}

# lab_build_app JDK KEY OUTDIR SYSROOT JAR...: SYSROOT holds the dom0's libraries (the runtime must find its own)
lab_build_app() {
  local jdk=$1 key=$2 out=$3 sysroot=$4; shift 4
  local work mods
  work=$(mktemp -d "$LAB_CACHE/work.XXXXXX")
  local app="$work/app"
  mkdir -p "$app/opt/migrationd/lib" "$app/opt/lab-tools"
  cp "$@" "$app/opt/migrationd/lib/"
  # the class path as an explicit list in one fixed order: a 'lib/*' wildcard follows the directory's order,
  # which differs between this machine's file system and the dom0's, and class-data sharing refuses an archive
  # whose class path order differs ("shared class paths mismatch": every JVM start then parses all classes)
  (cd "$app/opt/migrationd/lib" && ls -1 | LC_ALL=C sort | sed 's|^|/opt/migrationd/lib/|' | paste -sd: -) \
    > "$app/opt/migrationd/classpath"
  mods=$("$jdk/bin/jdeps" --print-module-deps --ignore-missing-deps --multi-release 25 -q \
           --class-path "$app/opt/migrationd/lib/*" "$@" 2>/dev/null) || lab_die "jdeps failed on the daemon's jars"
  mods="$LAB_JLINK_FLOOR,$mods"
  # the dom0 is headless: the desktop module's X11 and sound libraries (which need libX11 and ALSA) are left out
  "$jdk/bin/jlink" --add-modules "$mods" --strip-debug --no-man-pages --no-header-files \
    --exclude-files='**/libawt_xawt.so,**/libsplashscreen.so,**/libjsound.so' \
    --output "$app/opt/jre" >&2 || lab_die "jlink failed"
  # the JDK's own classes pre-parsed (start-up under the emulator is mostly class loading), dumped with the
  # module options every dom0 launcher passes: an archive dumped without --enable-native-access (jlink's
  # --generate-cds-archive) makes each start log "Mismatched values for property
  # jdk.module.enable.native.access" and load the module graph the slow way
  "$app/opt/jre/bin/java" -Xshare:dump --enable-native-access=ALL-UNNAMED -Xlog:cds=warning >&2 ||
    lab_die "dumping the runtime's class-data-sharing archive failed"
  lab_check_elf_closure "$sysroot/lib64/ld-linux-x86-64.so.2" "$app/opt/jre" \
    "$sysroot/lib/x86_64-linux-gnu" "$sysroot/usr/lib/x86_64-linux-gnu"
  if compgen -G "$LAB_DIR/tools/*.java" >/dev/null; then
    "$jdk/bin/javac" --release 25 -d "$app/opt/lab-tools" -cp "$app/opt/migrationd/lib/*" "$LAB_DIR"/tools/*.java >&2 ||
      lab_die "compiling lab/tools failed"
  fi
  lab_train_cds "$app" "$work"
  mkdir -p "$work/out"
  lab_make_cpio "$app" "$work/out/app.cpio"
  printf 'app %s\nmodules %s\n' "$key" "$mods" > "$work/out/manifest"
  rm -rf "$out"; mv "$work/out" "$out"
  rm -rf "$work"
}

LAB_CDS_TIMEOUT=180   # s, one training run of the daemon or the CLI on this machine

# lab_train_cds APP WORK: class-data-sharing archives of the daemon's and the CLI's classes, made by running them
# here once with the dom0's runtime (the daemon with the sim backend until it has started; the CLI's 'stream
# synth'). The dom0's JVMs map them instead of parsing and verifying the same classes under the emulator; the
# JVM accepts them at another path of the same jars, and ignores a missing or stale archive.
lab_train_cds() {
  local app=$1 t="$2/cds" java="$1/opt/jre/bin/java" cp pid n
  cp=$(sed "s|/opt/migrationd/|$app/opt/migrationd/|g" "$app/opt/migrationd/classpath")   # the dom0's order
  mkdir -p "$t"
  # the peer link's TLS as the dom0s run it (certificates made by this runtime's CLI), so its classes are archived too
  timeout "$LAB_CDS_TIMEOUT" "$java" --enable-native-access=ALL-UNNAMED -cp "$cp" dev.migrationd.control.cli.MigrationCtl \
    certs --dir "$t/tls" cds > "$t/certs.log" 2>&1 || { tail -n 5 "$t/certs.log" >&2; lab_die "migrationctl certs failed in the dom0's runtime"; }
  "$java" -XX:ArchiveClassesAtExit="$app/opt/migrationd/daemon.jsa" -Xlog:cds=off -Xlog:cds+dynamic=off \
    --enable-native-access=ALL-UNNAMED -cp "$cp" dev.migrationd.daemon.MigrationDaemon --backend sim --name cds \
    --state-dir "$t/state" --control-listen 127.0.0.1:0 --peer-listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 \
    --tls-ca "$t/tls/ca.pem" --tls-cert "$t/tls/cds.pem" --tls-key "$t/tls/cds.key" \
    > "$t/daemon.log" 2>&1 &
  pid=$!
  for n in $(seq $((LAB_CDS_TIMEOUT * 2))); do grep -q event=daemon_started "$t/daemon.log" && break; sleep 0.5; done
  kill -TERM "$pid" 2>/dev/null
  for n in $(seq $((LAB_CDS_TIMEOUT * 2))); do [ -d "/proc/$pid" ] || break; sleep 0.5; done
  [ -d "/proc/$pid" ] && kill -KILL "$pid"
  wait "$pid" 2>/dev/null || true
  [ -s "$app/opt/migrationd/daemon.jsa" ] || { tail -n 5 "$t/daemon.log" >&2; lab_die "the daemon's CDS training run made no archive"; }
  timeout "$LAB_CDS_TIMEOUT" "$java" -XX:ArchiveClassesAtExit="$app/opt/migrationd/cli.jsa" -Xlog:cds=off -Xlog:cds+dynamic=off \
    --enable-native-access=ALL-UNNAMED -cp "$cp" dev.migrationd.control.cli.MigrationCtl \
    stream synth "$t/train.img" --guest hvm --width 64 --pages 512 --force > "$t/cli.log" 2>&1 ||
    { tail -n 5 "$t/cli.log" >&2; lab_die "the CLI's CDS training run failed"; }
}

# lab_prune DIR KEEP: removes all but the KEEP most recently used entries of DIR
lab_prune() {
  local old
  [ -d "$1" ] || return 0
  ls -1t "$1" | tail -n +"$(($2 + 1))" | while read -r old; do rm -rf "${1:?}/$old"; done
}

lab_build() {
  local records basekey appkey jdk jars name ver file sha
  lab_ensure_host_tools
  mkdir -p "$LAB_CACHE"
  exec 9> "$LAB_CACHE/.lock"
  flock -w "$LAB_LOCK_TIMEOUT" 9 || lab_die "another build holds $LAB_CACHE/.lock for more than ${LAB_LOCK_TIMEOUT}s"
  rm -rf "$LAB_CACHE"/work.*

  records=$(lab_resolve_packages)
  lab_fetch_debs "$records"
  local bbdeb
  bbdeb=$(while read -r name ver file sha; do if [ "$name" = busybox-static ]; then echo "$file"; fi; done <<< "$records")
  if [ ! -x "$LAB_CACHE/tools/busybox" ] || [ "$(cat "$LAB_CACHE/tools/busybox.deb" 2>/dev/null)" != "$bbdeb" ]; then
    local t; t=$(mktemp -d "$LAB_CACHE/work.XXXXXX")
    dpkg-deb -x "$LAB_DEBS/$bbdeb" "$t"
    mkdir -p "$LAB_CACHE/tools"; mv "$t/bin/busybox" "$LAB_CACHE/tools/busybox"; rm -rf "$t"
    printf '%s\n' "$bbdeb" > "$LAB_CACHE/tools/busybox.deb"
  fi

  basekey=$( { printf '%s\n' "$records"; lab_hash_inputs "$LAB_DIR/packages" "$LAB_DIR/dom0" "$LAB_DIR/guest" \
               "$LAB_DIR/lib/build.sh" "$LAB_DIR/lib/common.sh"; } | sha256sum | cut -c1-16)
  if [ ! -f "$LAB_CACHE/base/$basekey/manifest" ]; then
    local t0; t0=$(lab_now_ms)
    lab_log "building the dom0 and guest images (base $basekey)"
    mkdir -p "$LAB_CACHE/base"
    lab_build_base "$records" "$basekey" "$LAB_CACHE/base/$basekey"
    lab_log "base image built in $(lab_seconds "$t0") s"
  fi
  touch "$LAB_CACHE/base/$basekey"

  jdk=$(. "$MIGRATIOND_HOME/bin/lib/common.sh"; find_jdk) || lab_die "no JDK 25 found"
  mapfile -t jars < <(lab_daemon_jars)
  appkey=$( { sed -n 's/^\(JAVA_VERSION\|IMPLEMENTOR\|JAVA_RUNTIME_VERSION\)=//p' "$jdk/release"; \
              lab_hash_inputs "${jars[@]}" "$LAB_DIR/tools" "$LAB_DIR/lib/build.sh"; } | sha256sum | cut -c1-16)
  if [ ! -f "$LAB_CACHE/app/$appkey/manifest" ]; then
    local t0; t0=$(lab_now_ms)
    lab_log "building the dom0's Java runtime and daemon layer (app $appkey)"
    mkdir -p "$LAB_CACHE/app"
    lab_build_app "$jdk" "$appkey" "$LAB_CACHE/app/$appkey" "$LAB_CACHE/base/$basekey/sysroot" "${jars[@]}"
    lab_log "app layer built in $(lab_seconds "$t0") s"
  fi
  touch "$LAB_CACHE/app/$appkey"

  LAB_IMAGE="$LAB_CACHE/images/$basekey-$appkey"
  if [ ! -f "$LAB_IMAGE/manifest" ]; then
    rm -rf "$LAB_IMAGE.tmp"; mkdir -p "$LAB_IMAGE.tmp"
    ln "$LAB_CACHE/base/$basekey/xen" "$LAB_IMAGE.tmp/xen"
    ln "$LAB_CACHE/base/$basekey/vmlinuz" "$LAB_IMAGE.tmp/vmlinuz"
    cat "$LAB_CACHE/base/$basekey/base.cpio" "$LAB_CACHE/app/$appkey/app.cpio" > "$LAB_IMAGE.tmp/dom0.cpio"
    cat "$LAB_CACHE/base/$basekey/manifest" "$LAB_CACHE/app/$appkey/manifest" > "$LAB_IMAGE.tmp/manifest"
    rm -rf "$LAB_IMAGE"; mv "$LAB_IMAGE.tmp" "$LAB_IMAGE"
  fi
  touch "$LAB_IMAGE"
  lab_prune "$LAB_CACHE/images" 3; lab_prune "$LAB_CACHE/base" 3; lab_prune "$LAB_CACHE/app" 3
  lab_prune_debs "$records"
  flock -u 9
}

# lab_prune_debs RECORDS: removes .deb files no package of the current list uses
lab_prune_debs() {
  local f keep name ver file sha
  keep=$(while read -r name ver file sha; do echo "$file"; done <<< "$1")
  for f in "$LAB_DEBS"/*.deb; do
    [ -e "$f" ] || continue
    grep -qxF "${f##*/}" <<< "$keep" || rm -f "$f"
  done
}
