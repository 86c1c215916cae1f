#!/usr/bin/env bash
# Set up ralphsup on a fresh Debian bookworm machine, idempotently:
#   1. install the Debian packages needed to build, test and benchmark
#      (as root, or through sudo);
#   2. install the pinned Claude Code CLI from npm into .deps/npm;
#   3. configure and build into build/ (meson + ninja).
# Re-running it only does what is missing. Options via environment:
#   RALPHSUP_BUILD_DIR   build directory (default: build)
#   RALPHSUP_WERROR=1    build with -Werror (CI does)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

PACKAGES=(
  # build
  gcc g++ meson ninja-build pkg-config git
  # fuzzing (tests/fuzz): clang with libFuzzer and the sanitizer runtimes
  clang libclang-rt-dev
  libuv1-dev libjansson-dev libgit2-dev libxlsxwriter-dev libtomlplusplus-dev libcriterion-dev
  libcurl4-openssl-dev libxml2-dev   # `ralphsup audit`: fetch evidence pages, HTML to text
  # runtime helpers: setpriv (parent-death signal), ps/pgrep for tests
  util-linux procps
  # tests and benchmarks: independent xlsx reader, baselines, jq, /usr/bin/time
  python3 python3-openpyxl python3-xlsxwriter python3-pandas jq time curl bc
  # man pages (scdoc sources, rendered with man -l in a test) and the bash completion's test
  scdoc man-db bash-completion
  # tests of the service side (docs/operations.md): promtool (checks the [metrics] textfile;
  # Debian ships it only in the prometheus package, which on a host running systemd also
  # starts a Prometheus server: `systemctl disable --now prometheus` if unwanted) and
  # systemd-analyze (verifies contrib/systemd/ralphsup@.service)
  prometheus systemd
  python3-yaml   # tests/integration/scaleout.sh: the contrib/k8s manifests
  # the Claude Code CLI comes from npm
  nodejs npm
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    # nodejs/npm may come from elsewhere (e.g. NodeSource): accept working binaries.
    case "$p" in
      nodejs) command -v node >/dev/null 2>&1 && continue ;;
      npm) command -v npm >/dev/null 2>&1 && continue ;;
    esac
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=()
  if [ "$(id -u)" != 0 ]; then SUDO=(sudo); fi
  "${SUDO[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

bash "$ROOT/contrib/install-claude.sh" >/dev/null

BUILD=${RALPHSUP_BUILD_DIR:-build}
args=()
if [ "${RALPHSUP_WERROR:-0}" = 1 ]; then args+=(-Dwerror=true); fi
if [ ! -f "$BUILD/build.ninja" ]; then
  meson setup "$BUILD" "${args[@]}" >/dev/null
elif ((${#args[@]})); then
  meson configure "$BUILD" "${args[@]}" >/dev/null
fi
ninja -C "$BUILD" >/dev/null
echo "setup: built $ROOT/$BUILD/supervisor/ralphsup"
