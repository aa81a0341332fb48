# Shared by bin/build, bin/migrationctl and bin/migrationd. Sourced, not run.
# Finds a JDK >= 25 without help: $MIGRATIOND_JAVA_HOME, $JAVA_HOME, the java on PATH,
# then every JDK under /usr/lib/jvm (newest first). Fails at once with a clear message.

MIGRATIOND_MIN_JAVA=25
MIGRATIOND_HOME=$(cd "$(dirname "$0")/.." && pwd)

_jdk_major() { # $1 = a JDK home; prints its feature version, or nothing
  local rel="$1/release" v
  [ -x "$1/bin/java" ] || return 0
  if [ -r "$rel" ]; then
    v=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$rel")
  else
    v=$("$1/bin/java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)
  fi
  printf '%s' "$v"
}

find_jdk() {
  local cand v path_java
  path_java=$(command -v java 2>/dev/null || true)
  [ -n "$path_java" ] && path_java=$(dirname "$(dirname "$(readlink -f "$path_java")")")
  for cand in "${MIGRATIOND_JAVA_HOME:-}" "${JAVA_HOME:-}" "$path_java" $(ls -d /usr/lib/jvm/*/ 2>/dev/null | sort -rV); do
    [ -n "$cand" ] || continue
    cand=${cand%/}
    v=$(_jdk_major "$cand")
    if [ -n "$v" ] && [ "$v" -ge "$MIGRATIOND_MIN_JAVA" ] 2>/dev/null; then
      printf '%s' "$cand"; return 0
    fi
  done
  echo "migrationd: no JDK >= $MIGRATIOND_MIN_JAVA found (looked at MIGRATIOND_JAVA_HOME, JAVA_HOME, java on PATH, /usr/lib/jvm/*)." >&2
  echo "migrationd: install one (e.g. Temurin 25) or set JAVA_HOME to it." >&2
  return 1
}

# run_mvnw ARGS: the Maven Wrapper with $JDK. Where unzip is missing, a stand-in made of the JDK's jar
# tool unpacks Maven's zip (bin/lib/no-unzip/unzip says why).
run_mvnw() {
  if command -v unzip >/dev/null 2>&1; then
    (cd "$MIGRATIOND_HOME" && JAVA_HOME="$JDK" ./mvnw "$@")
  else
    (cd "$MIGRATIOND_HOME" && PATH="$MIGRATIOND_HOME/bin/lib/no-unzip:$PATH" MIGRATIOND_UNZIP_JDK="$JDK" \
      JAVA_HOME="$JDK" ./mvnw "$@")
  fi
}

# The modules each launchable module is built from (its own sources and pom, and those it depends on).
module_inputs() {
  case "$1" in
    control-api) echo "protocol control-api" ;;
    daemon)      echo "protocol hypervisor-ffm control-api daemon" ;;
    fault-suite) echo "protocol hypervisor-ffm control-api daemon fault-suite" ;;
    *)           echo "$1" ;;
  esac
}

# build_if_needed MODULE: packages MODULE (and what it needs) when its build output is missing or older
# than any source or pom it is built from. A stamp file marks the last successful build: Maven keeps an
# unchanged jar's old timestamp, so the jar itself cannot tell.
build_if_needed() {
  local module=$1 stamp m dirs=() newer=""
  stamp="$MIGRATIOND_HOME/$module/target/.launcher-build-stamp"
  for m in $(module_inputs "$module"); do dirs+=("$MIGRATIOND_HOME/$m/src/main" "$MIGRATIOND_HOME/$m/pom.xml"); done
  if [ -f "$stamp" ] && [ -d "$MIGRATIOND_HOME/$module/target/lib" ]; then
    newer=$(find "${dirs[@]}" "$MIGRATIOND_HOME/pom.xml" -newer "$stamp" -print -quit 2>/dev/null || true)
    [ -z "$newer" ] && return 0
  fi
  echo "migrationd: building $module (first run or sources changed) ..." >&2
  run_mvnw -q -B -DskipTests -pl "$module" -am package >&2 || {
    echo "migrationd: build of $module failed; run 'bin/build -pl $module -am package' to see why" >&2; exit 1; }
  touch "$stamp"
}

# module_classpath MODULE: the module's jar and its runtime dependencies
module_classpath() {
  local module=$1 jar
  jar=$(ls "$MIGRATIOND_HOME/$module"/target/"$module"-*.jar | grep -v -e '-tests.jar' -e '-sources.jar' | head -n1)
  printf '%s:%s' "$jar" "$MIGRATIOND_HOME/$module/target/lib/*"
}

# remove_sim_memory ROOT: deletes the sim backend's guest memory (/dev/shm/migrationd-sim-KEY, whose owner file
# names the state directory's sim/) of every state directory under ROOT; for scripts that delete their state
# directories, since RAM is not freed with them (the next daemon start on the host would remove it too)
remove_sim_memory() {
  local root d owner
  root=$(cd "$1" 2>/dev/null && pwd -L) || root=$1
  for d in /dev/shm/migrationd-sim-*; do
    [ -f "$d/owner" ] || continue
    owner=$(head -c 4096 "$d/owner" | head -n 1)
    case "$owner" in "$root"/*) rm -rf -- "$d" ;; esac
  done
}
