#!/bin/bash
# e2e_auth.sh: the API answers 401 to every request (scenario
# tests/fakeapi/scenarios/e2e_auth.json). The batch must stop as fatal, exit
# 77, within seconds, telling the user what to fix (ANTHROPIC_API_KEY), with
# the school requeued at the front of pending and no attempt counted.
# Two batches: one where the CLI gives up after one request (x-should-retry:
# false: the result line says "Invalid API key"), one where the CLI would
# retry the 401 ten times (~3 min) and ralphsup must stop it at its first
# retry line.
. "$(dirname "$0")/lib.sh"
e2e_init auth
e2e_fakeapi e2e_auth

# auth_case LABEL FIRST_SCHOOL [AGENT_ENV]
auth_case() {
    local label="$1" first="$2" agentenv="${3:-}"
    E2E_BATCH="$T/batch-$label"
    E2E_CONFIG="$E2E_BATCH/config/batch.toml"
    export E2E_BATCH
    e2e_batch "{\"batch_name\": \"e2e-auth\", \"schools\": [
      {\"name\": \"$first\", \"conference\": \"E2E Conference\", \"state\": \"ID\"},
      {\"name\": \"Auth Later College\", \"conference\": \"E2E Conference\", \"state\": \"ID\"}]}" '' "$agentenv"
    e2e_start
    check "$label: start exits 77 (authentication)" test "$E2E_RC" = 77
    check "$label: stopped in under 20 s (${E2E_SECS}s)" awk -v s="$E2E_SECS" 'BEGIN { exit !(s < 20.0) }'
    check "$label: the output tells the user to fix ANTHROPIC_API_KEY" grep -q ANTHROPIC_API_KEY <(e2e_last_out)
    FIRST="$first" pyprog "$label: progress stopped as fatal, school requeued at the front, no attempt counted, committed" <<'EOF'
p = P()
first = os.environ["FIRST"]
if p["status"] != "stopped": die("status %r" % p["status"])
if p["pending"] != [first, "Auth Later College"]: die("pending %r" % p["pending"])
if p["completed"] or p["failed"] or p["current"]: die("completed/failed/current")
hist = [a for r in p.get("retry_history", []) for a in r.get("attempts", [])]
if [a["outcome"] for a in hist] != ["stopped"] or [a["class"] for a in hist] != ["fatal"]: die("attempts %r" % hist)
st = p.get("stopped") or {}
if "401" not in st.get("reason", "") and "auth" not in st.get("reason", "").lower(): die("stopped %r" % st)
G = GITLOG()
if G[-1]["trailers"].get("Ralphsup-Event") != ["stopped"] or "Exit code 77" not in G[-1]["body"]: die("last commit %r" % G[-1])
print("stopped: %s" % st["reason"])
EOF
    check "$label: no process of the batch survives" e2e_no_survivors
}

auth_case no-retry "Auth First University"
pyprog "no-retry: the CLI sent one request and gave up (Invalid API key)" <<'EOF'
R = [r for r in REQ() if r["method"] == "POST"]
if len(R) != 1 or R[0]["status"] != 401 or R[0]["route"] != "unauthorized": die("requests %r" % R)
L = JL(os.path.join(B, "logs", "0001-auth-first-university.jsonl"))
if "Invalid API key" not in L[-1].get("result", "") or L[-1].get("api_error_status") != 401: die("result %r" % L[-1])
EOF

auth_case retried "Auth Retried University" 'CLAUDE_CODE_MAX_RETRIES = "10"'
pyprog "retried: ralphsup stopped the CLI at its first authentication_failed retry (not after 10)" <<'EOF'
R = [r for r in REQ() if r["method"] == "POST" and r["route"] == "unauthorized-retried"]
if not 1 <= len(R) <= 3: die("%d requests" % len(R))
E = EV()
s = [e for e in E if e["event"] == "stop-iteration"]
if len(s) != 1: die("stop-iteration %r" % s)
print("%d requests; stop reason: %s" % (len(R), s[0]["reason"]))
EOF

e2e_common_checks
e2e_finish
