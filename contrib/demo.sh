#!/usr/bin/env bash
# The no-key demo: run the built-in demo batch (config/demo.toml, four
# FICTIONAL schools, one of which fails on purpose) end to end with the REAL
# Claude Code CLI against the scripted Messages API in tests/fakeapi on
# 127.0.0.1. The model's replies are scripted; the CLI really executes the
# tool calls they contain (Write a CSV, run Bash), and ralphsup really
# supervises, verifies, commits and reports.
#
# Usage: bash contrib/setup.sh && bash contrib/demo.sh [DIR]
# DIR (default: a new /tmp/ralphsup-demo.XXXXXX) receives a scratch copy of
# the batch: its git repository, progress file, logs, CSVs and report.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${RALPHSUP_BUILD_DIR:-build}
RALPHSUP="$ROOT/$BUILD/supervisor/ralphsup"
[ -x "$RALPHSUP" ] || { echo "demo: $RALPHSUP is missing; run: bash contrib/setup.sh" >&2; exit 1; }
CLAUDE=$(bash "$ROOT/contrib/install-claude.sh")
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

DEMO=${1:-$(mktemp -d /tmp/ralphsup-demo.XXXXXX)}
mkdir -p "$DEMO/config" "$DEMO/data" "$DEMO/prompts" "$DEMO/home" "$DEMO/logs"
cp "$ROOT/config/demo.toml" "$DEMO/config/"
cp "$ROOT/data/demo_schools.json" "$DEMO/data/"
cp "$ROOT/prompts/batch_loop.md" "$DEMO/prompts/"
CONFIG="$DEMO/config/demo.toml"

"$PY" "$ROOT/tests/fakeapi/fakeapi.py" --scenario "$ROOT/tests/fakeapi/scenarios/demo.json" \
  --port-file "$DEMO/fakeapi.port" --log "$DEMO/logs/fakeapi-requests.jsonl" --max-seconds 1800 >/dev/null &
FAKE=$!
trap 'kill $FAKE 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$DEMO/fakeapi.port" ] && break; sleep 0.1; done
PORT=$(cat "$DEMO/fakeapi.port")

echo "== ralphsup demo =========================================================="
echo "Batch:   $CONFIG"
echo "         4 fictional schools; \"Riverbend Institute of Technology\" fails on purpose"
echo "Agent:   the real Claude Code CLI $("$CLAUDE" --version 2>/dev/null | head -1)"
echo "API:     a SCRIPTED fake Messages API on http://127.0.0.1:$PORT — the model's"
echo "         replies are scripted; no API key and no network are used."
echo "==========================================================================="

export ANTHROPIC_BASE_URL="http://127.0.0.1:$PORT"
export ANTHROPIC_API_KEY="demo-key-not-a-real-secret"
export HOME="$DEMO/home"
export PATH="$(dirname "$CLAUDE"):$PATH"
git -C "$DEMO" init -q

rc=0
"$RALPHSUP" start "$CONFIG" || rc=$?

echo
echo "== ralphsup status =========================================================="
"$RALPHSUP" status "$CONFIG" || true
echo
echo "== git log (the audit trail) ================================================"
git -C "$DEMO" log --format='%h %s' | head -20
echo
echo "== where to look ============================================================"
echo "progress file:   $DEMO/batch_progress.json"
echo "status:          $RALPHSUP status $CONFIG"
echo "audit trail:     git -C $DEMO log --format='%h %s%n%(trailers)'"
echo "decisions:       $DEMO/logs/events.jsonl"
echo "transcripts:     $DEMO/logs/<iteration>-<slug>.jsonl"
for f in "$DEMO"/output/master_report_*; do [ -e "$f" ] && echo "master report:   $f"; done
echo "(the model's replies were scripted by tests/fakeapi/scenarios/demo.json)"
exit $rc
