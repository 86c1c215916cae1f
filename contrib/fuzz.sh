#!/usr/bin/env bash
# Build the libFuzzer targets (tests/fuzz/) with clang under ASan + UBSan
# into build-fuzz/ and run the 'fuzz' meson suite: each target for
# RALPHSUP_FUZZ_SECONDS (default 10) over its seeds, after replaying the
# inputs of past findings. contrib/test.sh runs it short; a longer run:
#   RALPHSUP_FUZZ_SECONDS=600 bash contrib/fuzz.sh            # 10 min per target
#   RALPHSUP_FUZZ_SECONDS=300 bash contrib/fuzz.sh fuzz-json  # one target
# Corpora grow in build-fuzz/tests/fuzz/corpus-<target>/ (kept between runs);
# a finding is written to corpus-<target>.artifacts/ (see tests/fuzz/README.md).
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BUILD=${RALPHSUP_FUZZ_BUILD_DIR:-build-fuzz}
if [ ! -f "$BUILD/build.ninja" ]; then
  CC=clang CXX=clang++ meson setup "$BUILD" -Dfuzz=true -Dtests=false -Dbench=false \
    -Db_sanitize=address,undefined -Db_lundef=false >/dev/null || exit 1
fi
ninja -C "$BUILD" >/dev/null || exit 1
exec meson test -C "$BUILD" --suite fuzz --print-errorlogs --num-processes "${RALPHSUP_FUZZ_JOBS:-2}" "$@"
