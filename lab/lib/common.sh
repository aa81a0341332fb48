# The Xen lab's shared definitions: paths, the cache, logging. Sourced by bin/xen-lab, not run.
# Every wait in the lab is bounded; the bounds are named here.

LAB_DIR="$MIGRATIOND_HOME/lab"
LAB_CACHE="${MIGRATIOND_LAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/migrationd-xen-lab}"
LAB_DEBS="$LAB_CACHE/debs"

LAB_APT_TIMEOUT=900          # s, one apt-get download of all packages (about 80 MB)
LAB_APT_INSTALL_TIMEOUT=900  # s, installing host tools (qemu-system-x86)
LAB_MAVEN_TIMEOUT=900        # s, building the daemon's jars
LAB_LOCK_TIMEOUT=1800        # s, waiting for another build of the same cache to finish

lab_log()  { printf 'xen-lab: %s\n' "$*" >&2; }
lab_die()  { printf 'xen-lab: %s\n' "$*" >&2; exit 1; }

# lab_busybox: the busybox of the cached Debian busybox-static package (the host needs none of its own)
lab_busybox() { printf '%s' "$LAB_CACHE/tools/busybox"; }

# lab_now_ms: wall-clock milliseconds since the epoch
lab_now_ms() { local t; t=$(date +%s%N); printf '%s' "${t:0:-6}"; }

# lab_seconds START_MS: seconds elapsed since START_MS, with one decimal
lab_seconds() { local d=$(( $(lab_now_ms) - $1 )); printf '%d.%d' $((d / 1000)) $(((d % 1000) / 100)); }

# The two hosts and their addresses on the lab link (a virtual Ethernet between the two QEMUs)
LAB_HOSTS="hostA hostB"
lab_host_index() { case $1 in hostA) echo 1 ;; hostB) echo 2 ;; *) lab_die "unknown host '$1' (hostA or hostB)" ;; esac; }
lab_host_addr()  { echo "10.77.0.$(lab_host_index "$1")"; }
lab_hosts_lines() { local h; for h in $LAB_HOSTS; do echo "$(lab_host_addr "$h") $h"; done; }
