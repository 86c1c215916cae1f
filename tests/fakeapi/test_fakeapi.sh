#!/bin/bash
# test_fakeapi.sh: self-test of the scripted Messages API (tests/fakeapi/fakeapi.py)
# against the REAL Claude Code CLI (pinned, installed by contrib/install-claude.sh
# into .deps/npm, or the binary named by RALPHSUP_CLAUDE).
#
# One server with scenarios/selftest.json serves every case; the claude runs go
# one after the other. Checks: every scenario file validates; a Write tool call
# created the CSV at the extracted path; a Bash tool call ran; total_cost_usd is
# the one the scripted usage implies; 429-then-OK retried (api_retry line); a
# cut stream is answered again through the non-streaming fallback; a
# subscription-style 429 gives a rate_limit_event; an unmatched prompt gets the
# "no route" text; the request log shows only loopback peers and only the two
# endpoints the CLI uses; SIGTERM stops the server.
#
# Env: RALPHSUP_SOURCE_ROOT (default: this file's repo), PYTHON (default python3),
#      RALPHSUP_CLAUDE (default: output of contrib/install-claude.sh).
set -u

ROOT="${RALPHSUP_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}"
PY="${PYTHON:-python3}"
FAKEAPI="$ROOT/tests/fakeapi/fakeapi.py"
T="$(mktemp -d /tmp/fakeapi-test.XXXXXX)"
SRV_PID=""
PASS=0
FAIL=0

cleanup() {
    if [ -n "$SRV_PID" ] && kill -0 "$SRV_PID" 2>/dev/null; then
        kill -TERM "$SRV_PID" 2>/dev/null
        wait "$SRV_PID" 2>/dev/null
    fi
    if [ "$FAIL" -eq 0 ] && [ -z "${KEEP_TMP:-}" ]; then rm -rf "$T"; else echo "# kept $T"; fi
}
trap cleanup EXIT

ok()   { PASS=$((PASS + 1)); echo "ok - $1"; }
bad()  { FAIL=$((FAIL + 1)); echo "not ok - $1"; }
check() { # check NAME COMMAND...: pass when the command succeeds
    local name="$1"; shift
    if "$@"; then ok "$name"; else bad "$name"; fi
}
# jq-free JSON assertions: pyassert FILE 'python expression over L (list of parsed lines)'
pyassert() {
    "$PY" - "$1" "$2" <<'EOF'
import json, sys
L = [json.loads(x) for x in open(sys.argv[1], encoding="utf-8") if x.strip()]
ok = eval(sys.argv[2], {"L": L, "abs": abs, "any": any, "all": all, "len": len})
sys.exit(0 if ok else 1)
EOF
}

CLAUDE="${RALPHSUP_CLAUDE:-}"
if [ -z "$CLAUDE" ]; then
    CLAUDE="$("$ROOT/contrib/install-claude.sh")" || { echo "Bail out! contrib/install-claude.sh failed"; exit 1; }
fi
echo "# claude: $CLAUDE ($("$CLAUDE" --version </dev/null 2>&1))"

# 1. every shipped scenario validates
quiet() { "$@" > /dev/null 2>&1; }
for f in "$ROOT"/tests/fakeapi/scenarios/*.json; do
    check "scenario $(basename "$f") validates" quiet "$PY" "$FAKEAPI" --check --scenario "$f"
done
printf '{"routes":[{"turns":[{"kind":"message","time":2}]}]}' > "$T/bad.json"
check "a misspelt step key is rejected" test "$("$PY" "$FAKEAPI" --check --scenario "$T/bad.json" >/dev/null 2>&1; echo $?)" = 2

# 2. start the server
"$PY" "$FAKEAPI" --scenario "$ROOT/tests/fakeapi/scenarios/selftest.json" \
    --port-file "$T/port" --log "$T/requests.jsonl" --max-seconds 300 > "$T/server.out" 2> "$T/server.err" &
SRV_PID=$!
for _ in $(seq 50); do [ -s "$T/port" ] && break; sleep 0.1; done
PORT="$(cat "$T/port" 2>/dev/null)"
if [ -z "$PORT" ]; then echo "Bail out! fakeapi did not start"; cat "$T/server.err"; exit 1; fi
check "stdout first line is the base URL" test "$(head -n1 "$T/server.out")" = "http://127.0.0.1:$PORT"

# run_claude NAME SCHOOL [ENV=VALUE...]: one claude -p run in $T/NAME (cwd) -> $T/NAME.jsonl
run_claude() {
    local name="$1" school="$2"; shift 2
    local slug; slug="$(echo "$school" | tr 'A-Z ' 'a-z-')"
    mkdir -p "$T/$name" "$T/home-$name"
    local prompt="Scripted self-test of the fake Messages API.
School: $school
Slug: $slug
Output CSV: $T/$name/output/$slug.csv
Output CSV (relative): output/$slug.csv
Attempt: 1 of 3"
    (cd "$T/$name" && env -i PATH="$PATH" HOME="$T/home-$name" TZ=UTC \
        ANTHROPIC_BASE_URL="http://127.0.0.1:$PORT" ANTHROPIC_API_KEY=sk-test-dummy \
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_AUTOUPDATER=1 \
        CLAUDE_CODE_MAX_RETRIES=3 API_TIMEOUT_MS=20000 "$@" \
        timeout 60 "$CLAUDE" -p "$prompt" --output-format stream-json --verbose \
        --permission-mode acceptEdits --allowedTools "Bash,Read,Write,Edit" \
        < /dev/null > "$T/$name.jsonl" 2> "$T/$name.err")
    echo $? > "$T/$name.rc"
}

# 3. tools, thinking, 429 then OK, cost
run_claude alpha "Selftest Alpha"
check "alpha: claude exit 0" test "$(cat "$T/alpha.rc")" = 0
check "alpha: Write created the CSV at the extracted path" \
    grep -qx '"Selftest Alpha",Selftest Coach' "$T/alpha/output/selftest-alpha.csv"
check "alpha: Bash ran in the cwd" grep -qx 'bash-ran-selftest-alpha' "$T/alpha/bash_ran.txt"
check "alpha: 429 then OK gave one api_retry line" \
    pyassert "$T/alpha.jsonl" 'len([r for r in L if r.get("subtype") == "api_retry" and r.get("error_status") == 429]) == 1'
check "alpha: result success with total_cost_usd 0.3175" \
    pyassert "$T/alpha.jsonl" '[r for r in L if r["type"] == "result" and r["subtype"] == "success" and not r["is_error"] and abs(r["total_cost_usd"] - 0.3175) < 1e-9 and r["num_turns"] == 3]'
check "alpha: RALPH_DONE with the substituted school and csv" \
    pyassert "$T/alpha.jsonl" '[r for r in L if r["type"] == "result" and "RALPH_DONE: {\"school\": \"Selftest Alpha\", \"coaches\": 1, \"overlaps\": 0, \"csv\": \"output/selftest-alpha.csv\"}" in r["result"]]'
check "alpha: thinking block streamed" \
    pyassert "$T/alpha.jsonl" 'any(c.get("type") == "thinking" for r in L if r["type"] == "assistant" for c in r["message"]["content"])'
check "alpha: server saw turns 0,0,1,2 (429 counted on turn 0)" \
    pyassert "$T/requests.jsonl" '[(r["turn"], r["kind"], r["status"]) for r in L if r.get("route") == "alpha"] == [(0, "error", 429), (0, "message", 200), (1, "message", 200), (2, "message", 200)]'

# 4. cut stream -> non-streaming fallback
run_claude cut "Selftest Cut"
check "cut: claude exit 0 with the recovered text" \
    pyassert "$T/cut.jsonl" '[r for r in L if r["type"] == "result" and r["result"].endswith("recovered after cut: Selftest Cut")]'
check "cut: second request was the non-streaming fallback" \
    pyassert "$T/requests.jsonl" '[(r["kind"], r["stream"], r["status"]) for r in L if r.get("route") == "cut"] == [("cut", True, 200), ("message", False, 200)]'

# 5. subscription-style 429 -> rate_limit_event
run_claude sub "Selftest Subscriber" ANTHROPIC_API_KEY= CLAUDE_CODE_OAUTH_TOKEN=sk-ant-oat01-fake \
    CLAUDE_CODE_SUBSCRIPTION_TYPE=max
check "subscriber: exit 1" test "$(cat "$T/sub.rc")" = 1
check "subscriber: rate_limit_event rejected five_hour" \
    pyassert "$T/sub.jsonl" '[r for r in L if r["type"] == "rate_limit_event" and r["rate_limit_info"]["status"] == "rejected" and r["rate_limit_info"]["rateLimitType"] == "five_hour"]'
check "subscriber: result says session limit" \
    pyassert "$T/sub.jsonl" '[r for r in L if r["type"] == "result" and r["is_error"] and r["api_error_status"] == 429 and r["result"].startswith("You\u0027ve hit your session limit")]'
check "subscriber: sent Authorization, no x-api-key" \
    pyassert "$T/requests.jsonl" '[r for r in L if r.get("route") == "subscriber" and r["authorization"] and not r["x_api_key"]]'

# 6. a prompt no route matches
run_claude nomatch "Nobody Matches This"
check "unmatched prompt: scripted 'no route' reply, exit 0" \
    pyassert "$T/nomatch.jsonl" '[r for r in L if r["type"] == "result" and not r["is_error"] and "no route of scenario selftest matched" in r["result"]]'

# 7. the log: loopback only, only HEAD / and POST /v1/messages?beta=true, no key values
check "log: every request came from 127.0.0.1" \
    pyassert "$T/requests.jsonl" 'all(r["peer"] == "127.0.0.1" for r in L if r["event"] == "request") and len([r for r in L if r["event"] == "request"]) >= 10'
check "log: only HEAD / and POST /v1/messages?beta=true" \
    pyassert "$T/requests.jsonl" 'all((r["method"], r["path"]) in (("HEAD", "/"), ("POST", "/v1/messages?beta=true")) for r in L if r["event"] == "request")'
check "log: the API key value is never written" bash -c "! grep -q sk-test-dummy '$T/requests.jsonl'"

# 8. SIGTERM stops the server promptly
kill -TERM "$SRV_PID"
for _ in $(seq 30); do kill -0 "$SRV_PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$SRV_PID" 2>/dev/null; then bad "SIGTERM stops the server within 3 s"; else ok "SIGTERM stops the server within 3 s"; fi
wait "$SRV_PID" 2>/dev/null
SRV_PID=""
check "log ends with a stop event (SIGTERM)" \
    pyassert "$T/requests.jsonl" 'L[-1] == dict(L[-1], event="stop", reason="SIGTERM")'

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
