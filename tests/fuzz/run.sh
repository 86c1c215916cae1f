#!/usr/bin/env bash
# Run one libFuzzer target for a bounded time: the 'fuzz' meson suite calls
# it once per target (meson.build), contrib/fuzz.sh for longer runs.
#   run.sh TARGET WORK_CORPUS REGRESS_DIR SEED_DIR...
# WORK_CORPUS (in the build directory) receives the inputs libFuzzer finds;
# REGRESS_DIR (tests/fuzz/regress/<target>, the inputs of past findings) and
# the seed directories are only read. Every input of all of them is run
# first, so a finding that comes back fails the suite at once.
# Environment: RALPHSUP_FUZZ_SECONDS (default 10) per target,
# RALPHSUP_FUZZ_ARGS extra libFuzzer flags. Exits non-zero on a crash, a
# leak, a broken property, an input slower than 1 s or over 2 GiB of RSS
# (libFuzzer writes the input as crash-*/leak-*/timeout-*/oom-* under
# WORK_CORPUS/../artifacts/).
set -uo pipefail
target=$1 work=$2 regress=$3
shift 3
mkdir -p "$work" "$work.artifacts"
dirs=("$work")
for d in "$regress" "$@"; do
  [ -d "$d" ] && dirs+=("$d")
done
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
# shellcheck disable=SC2086
# -error_exitcode / -timeout_exitcode: libFuzzer's defaults (77, 70) would read as "skipped" (77)
# to meson, so a finding has to exit 1 to fail the suite.
exec "$target" -max_total_time="${RALPHSUP_FUZZ_SECONDS:-10}" -timeout=1 -rss_limit_mb=2048 -max_len=65536 \
  -error_exitcode=1 -timeout_exitcode=1 \
  -print_final_stats=1 -artifact_prefix="$work.artifacts/" ${RALPHSUP_FUZZ_ARGS:-} "${dirs[@]}"
