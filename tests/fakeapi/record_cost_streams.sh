#!/bin/bash
# record_cost_streams.sh: record the REAL Claude Code CLI's stream-json output
# against the scripted Messages API (scenarios/cost_usage.json: 1-hour and
# 5-minute cache writes, cache reads, final output counts only in
# message_delta) with and without --include-partial-messages, for the cost
# estimate tests (tests/unit/core/test_iteration.c, tests/integration/cost.sh).
#
# Usage: tests/fakeapi/record_cost_streams.sh OUTDIR [TAG]
#   writes OUTDIR/cost_<TAG>_partial.jsonl and OUTDIR/cost_<TAG>_plain.jsonl
#   (TAG defaults to the CLI version with dots as dashes, e.g. 2-1-197).
#        tests/fakeapi/record_cost_streams.sh --prices
#   prints the CLI's own price per million tokens of each kind for its model
#   (scenarios/cost_prices.json: one request of 1M tokens of one kind each).
# Env: RALPHSUP_CLAUDE (default: contrib/install-claude.sh's binary),
#      CLAUDE_MODEL (passed as --model when set), PYTHON (default python3).
#
# The CLI runs in /tmp/ralphsup-cost-rec/NAME/work with HOME=/tmp/ralphsup-cost-rec/NAME/home
# (removed afterwards), so the recordings name only those paths. They hold no
# key (the fake key sk-test-dummy never appears in the CLI's stdout; checked).
set -eu

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PY="${PYTHON:-python3}"
OUT="${1:?usage: record_cost_streams.sh OUTDIR [TAG] | --prices}"
SCENARIO=cost_usage
[ "$OUT" = --prices ] && SCENARIO=cost_prices
CLAUDE="${RALPHSUP_CLAUDE:-$("$ROOT/contrib/install-claude.sh")}"
VERSION="$("$CLAUDE" --version </dev/null | awk 'NR == 1 { print $1 }')"
TAG="${2:-$(echo "$VERSION" | tr . -)}"
# A fixed directory, so the paths inside the recordings do not depend on a
# random name (the CLI splits them over several text deltas).
T=/tmp/ralphsup-cost-rec
rm -rf "$T"
mkdir -p "$T"
SRV=""
cleanup() {
    [ -n "$SRV" ] && kill -TERM "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null
    [ -n "${KEEP_TMP:-}" ] && echo "kept $T" >&2 || rm -rf "$T"
}
trap cleanup EXIT

"$PY" "$ROOT/tests/fakeapi/fakeapi.py" --scenario "$ROOT/tests/fakeapi/scenarios/$SCENARIO.json" \
    --port-file "$T/port" --log "$T/requests.jsonl" --max-seconds 600 > "$T/server.out" 2> "$T/server.err" &
SRV=$!
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.1; done
PORT="$(cat "$T/port")"

if [ "$SCENARIO" = cost_prices ]; then
    for kind in input output cache_write cache_write_1h cache_write_nosplit cache_read; do
        mkdir -p "$T/$kind/home" "$T/$kind/work"
        model=()
        [ -n "${CLAUDE_MODEL:-}" ] && model=(--model "$CLAUDE_MODEL")
        (cd "$T/$kind/work" && env -i PATH="$PATH" HOME="$T/$kind/home" TZ=UTC \
            ANTHROPIC_BASE_URL="http://127.0.0.1:$PORT" ANTHROPIC_API_KEY=sk-test-dummy \
            CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_AUTOUPDATER=1 \
            timeout 60 "$CLAUDE" -p "Price: $kind" --output-format stream-json --verbose "${model[@]}" \
            < /dev/null > "$T/$kind.jsonl" 2>/dev/null) || true
        "$PY" -c '
import json, sys
L = [json.loads(x) for x in open(sys.argv[1]) if x.strip()]
init = [r for r in L if r.get("subtype") == "init"]
res = [r for r in L if r["type"] == "result"]
print("claude %s model %s: %-20s $%s per million tokens" % (sys.argv[3], init[0]["model"] if init else "?",
      sys.argv[2], res[0]["total_cost_usd"] if res else "? (no result line)"))' "$T/$kind.jsonl" "$kind" "$VERSION"
    done
    exit 0
fi
mkdir -p "$OUT"

record() { # record NAME [claude args...]
    local name="$1"; shift
    local d="$T/$name"
    mkdir -p "$d/work" "$d/home"
    local prompt="Scripted recording for the cost estimate tests.
School: Cost Recording University
Slug: cost-recording-university
Output CSV: $d/work/output/cost-recording-university.csv
Output CSV (relative): output/cost-recording-university.csv
Attempt: 1 of 3"
    local model=()
    [ -n "${CLAUDE_MODEL:-}" ] && model=(--model "$CLAUDE_MODEL")
    (cd "$d/work" && env -i PATH="$PATH" HOME="$d/home" TZ=UTC \
        ANTHROPIC_BASE_URL="http://127.0.0.1:$PORT" ANTHROPIC_API_KEY=sk-test-dummy \
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_AUTOUPDATER=1 \
        CLAUDE_CODE_MAX_RETRIES=2 API_TIMEOUT_MS=20000 \
        timeout 120 "$CLAUDE" -p "$prompt" --output-format stream-json --verbose "${model[@]}" \
        --permission-mode acceptEdits --allowedTools "Bash,Read,Write,Edit" "$@" \
        < /dev/null > "$d/out.jsonl" 2> "$d/err.txt") || {
        echo "record_cost_streams.sh: claude failed for $name:" >&2
        cat "$d/err.txt" >&2
        exit 1
    }
    if grep -q 'sk-test-dummy' "$d/out.jsonl"; then
        echo "record_cost_streams.sh: the key appears in the output; not writing it" >&2
        exit 1
    fi
    cp "$d/out.jsonl" "$OUT/cost_${TAG}_$name.jsonl"
    echo "$OUT/cost_${TAG}_$name.jsonl ($(wc -c < "$OUT/cost_${TAG}_$name.jsonl") bytes, claude $VERSION)"
}

record partial --include-partial-messages
record plain
