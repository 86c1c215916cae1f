#!/usr/bin/env bash
# `ralphsup status` on a large progress file (issue 2): wall time and peak RSS
# of `status` and `status --json` on a 100,000-school batch (default), next to
# a baseline in the same run: Python's json.load of the same file (what the
# seed's batch_status.py did first). Usage: bench/bench_status.sh [N] [BUILD]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
N=${1:-100000}
RALPHSUP="$ROOT/${2:-build}/supervisor/ralphsup"
PY=/usr/bin/python3
DIR=$(mktemp -d /tmp/ralphsup-bench-status.XXXXXX)
trap 'rm -rf "$DIR"' EXIT
"$PY" "$ROOT/bench/gen_progress.py" "$N" "$DIR"
SIZE=$(du -m "$DIR/batch_progress.json" | cut -f1)
echo "progress file: $N schools, ${SIZE} MiB"
measure() { # label, command...
  local label=$1; shift
  local best=999999 rss=0
  for _ in 1 2 3; do
    /usr/bin/time -f "%e %M" -o "$DIR/t" "$@" >/dev/null
    read -r t m <"$DIR/t"
    best=$(awk -v a="$best" -v b="$t" 'BEGIN{print (b<a)?b:a}')
    rss=$m
  done
  printf "%-34s best of 3: %6.2f s   peak RSS %6.1f MiB\n" "$label" "$best" "$(awk -v k="$rss" 'BEGIN{print k/1024}')"
  echo "$best" >"$DIR/last"
}
measure "ralphsup status" "$RALPHSUP" status "$DIR/config/bench.toml"
a=$(cat "$DIR/last")
measure "ralphsup status --json" "$RALPHSUP" status --json "$DIR/config/bench.toml"
measure "baseline: python3 json.load" "$PY" -c "import json,sys; json.load(open(sys.argv[1]))" "$DIR/batch_progress.json"
b=$(cat "$DIR/last")
awk -v a="$a" -v b="$b" 'BEGIN{printf "ratio python json.load / ralphsup status: %.2f\n", (a>0)?b/a:0}'
