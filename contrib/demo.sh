#!/usr/bin/env bash
# The no-key demo: run the built-in demo batch (config/demo.toml, four
# FICTIONAL schools, one of which fails on purpose) end to end with the REAL
# Claude Code CLI against the scripted Messages API in tests/fakeapi on
# 127.0.0.1. The model's replies are scripted; the CLI really executes the
# tool calls they contain (Write a CSV, run Bash), and ralphsup really
# supervises, verifies, commits and reports. Then `ralphsup audit` fetches the
# warm leads' evidence pages (fictional, data/demo_evidence, served on
# 127.0.0.1 by tests/integration/audit_server.py) and the report is written
# again with each lead's audit result.
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

# The evidence pages the scripted warm leads cite (evidence_url = ${evidence_base}/pages/...).
"$PY" "$ROOT/tests/integration/audit_server.py" --dir "$ROOT/data/demo_evidence" \
  --port-file "$DEMO/evidence.port" --log "$DEMO/logs/evidence-requests.jsonl" --max-seconds 1800 >/dev/null &
EVIDENCE=$!
trap 'kill $EVIDENCE 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$DEMO/evidence.port" ] && break; sleep 0.1; done
EPORT=$(cat "$DEMO/evidence.port")

"$PY" "$ROOT/tests/fakeapi/fakeapi.py" --scenario "$ROOT/tests/fakeapi/scenarios/demo.json" \
  --var "evidence_base=http://127.0.0.1:$EPORT" \
  --port-file "$DEMO/fakeapi.port" --log "$DEMO/logs/fakeapi-requests.jsonl" --max-seconds 1800 >/dev/null &
FAKE=$!
trap 'kill $FAKE $EVIDENCE 2>/dev/null || true' EXIT
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
echo "== notifications ([notify] command: each event's JSON on its stdin) ==========="
cat "$DEMO/logs/notifications.jsonl" 2>/dev/null || echo "(none)"
echo
echo "== metrics ([metrics] textfile, for node_exporter; HELP/TYPE lines left out) =="
grep -v '^#' "$DEMO/logs/ralphsup.prom" 2>/dev/null || echo "(none)"
echo
echo "== ralphsup audit (is each warm lead's evidence on its page?) ==============="
echo "(evidence pages: fictional, served on http://127.0.0.1:$EPORT from data/demo_evidence)"
"$RALPHSUP" audit "$CONFIG" || true
echo
echo "== ralphsup report (again, with the audit results) ==========================="
"$RALPHSUP" report "$CONFIG" || true
for x in "$DEMO"/output/master_report_*.xlsx; do
  [ -e "$x" ] || continue
  echo "Warm leads sheet of $(basename "$x"):"
  "$PY" - "$x" <<'PYEOF' || true
import sys, openpyxl
rows = list(openpyxl.load_workbook(sys.argv[1], read_only=True)["Warm leads"].iter_rows(values_only=True))
head = list(rows[0])
cols = [c for c in ("school", "coach_name", "evidence_url", "evidence_quote", "audit") if c in head]
for r in rows:
    print("  " + " | ".join(str(r[head.index(c)] or "")[:60] for c in cols))
PYEOF
done
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
echo "notifications:   $DEMO/logs/notifications.jsonl ([notify] in config/demo.toml)"
echo "metrics:         $DEMO/logs/ralphsup.prom ([metrics] textfile)"
echo "audit results:   $DEMO/output/audit.json (the Warm leads sheet's audit column)"
echo "transcripts:     $DEMO/logs/<iteration>-<slug>.jsonl"
for f in "$DEMO"/output/master_report_*; do [ -e "$f" ] && echo "master report:   $f"; done
echo "(the model's replies were scripted by tests/fakeapi/scenarios/demo.json)"
exit $rc
