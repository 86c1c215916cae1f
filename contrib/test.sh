#!/usr/bin/env bash
# Run every test suite of ralphsup (unit, integration, e2e with the real
# Claude Code CLI) twice: in a -Werror build, then in an AddressSanitizer +
# UndefinedBehaviorSanitizer build; then the fuzz suite, briefly (a clang
# build in build-fuzz/, contrib/fuzz.sh; RALPHSUP_FUZZ_SECONDS per target,
# default 8). Sets the machine up first (idempotent).
# Prints one closing line "tests: N passed, N failed" and exits non-zero if
# anything failed, including sanitizer reports that Criterion's forked
# workers would otherwise swallow (LIBRARIES.md §6.5).
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

RALPHSUP_WERROR=1 bash contrib/setup.sh || exit 1

if [ ! -f build-asan/build.ninja ]; then
  meson setup build-asan -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false -Dbench=false >/dev/null || exit 1
fi
ninja -C build-asan >/dev/null || exit 1

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:handle_segv=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

passed=0
failed=0
status=0
count() { # $1 = build dir
  local log="$1/meson-logs/testlog.json"
  [ -f "$log" ] || return
  local p f
  p=$(grep -c '"result": "OK"' "$log" || true)
  f=$(grep -c -E '"result": "(FAIL|TIMEOUT|ERROR|UNEXPECTEDPASS)"' "$log" || true)
  passed=$((passed + p))
  failed=$((failed + f))
}

echo "== tests (-Werror build) =="
meson test -C build --print-errorlogs --num-processes 2 || status=1
count build

echo "== tests (ASan + UBSan build) =="
meson test -C build-asan --print-errorlogs --num-processes 2 --timeout-multiplier 3 || status=1
count build-asan
if grep -l -E "LeakSanitizer|AddressSanitizer|runtime error:" build-asan/meson-logs/testlog.txt >/dev/null 2>&1; then
  echo "sanitizer reports found in build-asan/meson-logs/testlog.txt:"
  grep -n -E -A5 "LeakSanitizer|AddressSanitizer|runtime error:" build-asan/meson-logs/testlog.txt | head -60
  failed=$((failed + 1))
  status=1
fi

echo "== fuzz (libFuzzer, clang, ASan + UBSan; ${RALPHSUP_FUZZ_SECONDS:=8} s per target) =="
export RALPHSUP_FUZZ_SECONDS
bash contrib/fuzz.sh || status=1
count build-fuzz

echo "tests: $passed passed, $failed failed"
exit $status
