# lib.sh: shared helpers of the end-to-end tests (sourced, not run).
#
# Each e2e test runs the REAL Claude Code CLI (pinned; contrib/install-claude.sh
# or RALPHSUP_CLAUDE) under the REAL ralphsup binary ($RALPHSUP) against the
# scripted Messages API (tests/fakeapi/fakeapi.py) on 127.0.0.1, in a scratch
# batch under /tmp. It does not mock anything else and never talks to a
# network: every request log is checked for loopback peers only.
#
# A test does:
#   . "$(dirname "$0")/lib.sh"
#   e2e_init NAME                       # temp dir, claude, traps
#   e2e_batch SCHOOLS_JSON [LIMITS_TOML] # git-initialised batch dir + config
#   e2e_fakeapi SCENARIO                 # server started, URL exported to e2e_run
#   e2e_start [ARGS...]                  # ralphsup start CONFIG ARGS (E2E_RC, E2E_SECS)
#   ... assertions (check / pyassert / pyprog) ...
#   e2e_common_checks                    # loopback-only log, no survivor processes
#   e2e_finish                           # summary line, exit status
#
# Env: RALPHSUP (binary, required), RALPHSUP_SOURCE_ROOT, PYTHON,
#      RALPHSUP_CLAUDE (default: contrib/install-claude.sh), KEEP_TMP=1 keeps
#      the temp dir (it is always kept when a check failed).
# Only processes this test started are killed, by PID.

set -u

E2E_ROOT="${RALPHSUP_SOURCE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
E2E_PY="${PYTHON:-python3}"
E2E_PASS=0
E2E_FAIL=0
E2E_SRV_PID=""
E2E_SUP_PID=""
E2E_RC=""
E2E_SECS=""
T=""

ok()  { E2E_PASS=$((E2E_PASS + 1)); echo "ok - $1"; }
bad() { E2E_FAIL=$((E2E_FAIL + 1)); echo "not ok - $1"; }
note() { echo "# $*"; }
# check NAME COMMAND...: passes when the command succeeds
check() {
    local name="$1"; shift
    if "$@"; then ok "$name"; else bad "$name"; fi
}

# pyprog NAME <<'EOF' ... EOF: run a Python check program (stdin) with the
# helpers below predefined; it passes when it exits 0. Anything it prints is
# shown (as # comments) — print the reason before sys.exit(1).
#   B: batch dir, P(): the parsed progress file, JL(path): parsed JSON lines,
#   EV(): events.jsonl, REQ(): fakeapi request log, GITLOG(): list of commits
#   as dicts {subject, body, trailers{key: [values]}}, die(msg).
pyprog() {
    local name="$1" out rc
    out="$("$E2E_PY" -c '
import json, os, subprocess, sys
B = os.environ["E2E_BATCH"]
def die(msg):
    print(msg); sys.exit(1)
def JL(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(x) for x in f if x.strip()]
def P():
    with open(os.path.join(B, "batch_progress.json"), encoding="utf-8") as f:
        return json.load(f)
def EV():
    return JL(os.path.join(B, "logs", "events.jsonl"))
def REQ():
    return [r for r in JL(os.environ["E2E_REQLOG"]) if r.get("event") == "request"]
def GITLOG():
    raw = subprocess.run(["git", "-C", B, "log", "--format=%H%x1f%s%x1f%b%x1f%(trailers:only,unfold)%x1e"],
                         capture_output=True, text=True, check=True).stdout
    out = []
    for rec in raw.split("\x1e"):
        rec = rec.strip("\n")
        if not rec:
            continue
        h, subj, body, tr = rec.split("\x1f")
        t = {}
        for line in tr.splitlines():
            if ": " in line:
                k, v = line.split(": ", 1)
                t.setdefault(k, []).append(v)
        out.append({"hash": h, "subject": subj, "body": body, "trailers": t})
    out.reverse()  # oldest first
    return out
exec(sys.stdin.read())
' 2>&1)"
    rc=$?
    [ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/#   /'
    if [ $rc -eq 0 ]; then ok "$name"; else bad "$name"; fi
}

e2e_cleanup() {
    if [ -n "$E2E_SUP_PID" ] && kill -0 "$E2E_SUP_PID" 2>/dev/null; then
        kill -TERM "$E2E_SUP_PID" 2>/dev/null
        sleep 1
        kill -KILL "$E2E_SUP_PID" 2>/dev/null
        wait "$E2E_SUP_PID" 2>/dev/null
    fi
    # Processes of this batch's agent trees (our descendants), by PID.
    if [ -n "$T" ]; then
        local p
        for p in $(e2e_batch_pids); do kill -KILL "$p" 2>/dev/null; done
    fi
    if [ -n "$E2E_SRV_PID" ] && kill -0 "$E2E_SRV_PID" 2>/dev/null; then
        kill -TERM "$E2E_SRV_PID" 2>/dev/null
        wait "$E2E_SRV_PID" 2>/dev/null
    fi
    if [ -n "$T" ]; then
        if [ "$E2E_FAIL" -eq 0 ] && [ -z "${KEEP_TMP:-}" ]; then rm -rf "$T"; else echo "# kept $T"; fi
    fi
}

# e2e_init NAME: temp dir, ralphsup and claude located, cleanup trap.
e2e_init() {
    local name="$1"
    [ -n "${RALPHSUP:-}" ] && [ -x "$RALPHSUP" ] || { echo "Bail out! RALPHSUP is not set to the ralphsup binary"; exit 1; }
    T="$(mktemp -d "/tmp/ralphsup-e2e-$name.XXXXXX")"
    trap e2e_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    E2E_CLAUDE="${RALPHSUP_CLAUDE:-}"
    if [ -z "$E2E_CLAUDE" ]; then
        E2E_CLAUDE="$("$E2E_ROOT/contrib/install-claude.sh")" || { echo "Bail out! contrib/install-claude.sh failed"; exit 1; }
    fi
    note "claude: $E2E_CLAUDE ($("$E2E_CLAUDE" --version </dev/null 2>&1)); ralphsup: $RALPHSUP; tmp: $T"
    E2E_BATCH="$T/batch"
    E2E_CONFIG="$E2E_BATCH/config/batch.toml"
    E2E_REQLOG="$T/fakeapi-requests.jsonl"
    export E2E_BATCH E2E_REQLOG
    mkdir -p "$T/home"
    E2E_ENV=(PATH="/usr/local/bin:/usr/bin:/bin" HOME="$T/home" TZ=UTC LANG=C.UTF-8
             ANTHROPIC_API_KEY="sk-e2e-dummy-not-a-secret")
}

# e2e_merge EXTRA DEFAULT...: TOML "key = value" lines: the test's own
# (EXTRA), then each DEFAULT whose key EXTRA did not set.
e2e_merge() {
    local extra="$1" kv
    shift
    [ -n "$extra" ] && printf '%s\n' "$extra"
    for kv in "$@"; do
        printf '%s\n' "$extra" | grep -q "^${kv%% *} *=" || printf '%s\n' "$kv"
    done
}

# e2e_batch SCHOOLS_JSON [EXTRA_LIMITS_TOML [EXTRA_AGENT_ENV_TOML]]: a fresh
# git-initialised batch ($E2E_BATCH) with the school list, the shipped prompt
# and a config ($E2E_CONFIG) whose agent is the pinned claude. The extra lines
# replace the defaults with the same key.
e2e_batch() {
    local schools="$1" limits="${2:-}" agentenv="${3:-}"
    mkdir -p "$E2E_BATCH/config" "$E2E_BATCH/data" "$E2E_BATCH/prompts"
    printf '%s\n' "$schools" > "$E2E_BATCH/data/schools.json"
    cp "$E2E_ROOT/prompts/batch_loop.md" "$E2E_BATCH/prompts/"
    cat > "$E2E_CONFIG" <<EOF
# written by tests/e2e ($(basename "$0"))
[batch]
name = "e2e"
root = ".."
schools = "data/schools.json"
order = "list"

[agent]
command = "$E2E_CLAUDE"
args = ["--permission-mode", "acceptEdits", "--allowedTools", "Bash,Read,Write,Edit"]

[agent.env]
$(e2e_merge "$agentenv" 'CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC = "1"' 'DISABLE_AUTOUPDATER = "1"' \
    'CLAUDE_CODE_MAX_RETRIES = "3"')

[limits]
$(e2e_merge "$limits" 'max_attempts_per_school = 3' 'iteration_timeout = "3m"' 'stall_timeout = "1m"' \
    'kill_grace = "3s"' 'transient_backoff = "1s"' 'transient_backoff_max = "2s"')

[git]
enabled = true

[report]
on_finish = false
EOF
    git -C "$E2E_BATCH" init -q
}

# e2e_fakeapi SCENARIO_NAME: start the scripted API (scenario file name
# without .json from tests/fakeapi/scenarios/); sets E2E_PORT.
e2e_fakeapi() {
    local scen="$E2E_ROOT/tests/fakeapi/scenarios/$1.json"
    "$E2E_PY" "$E2E_ROOT/tests/fakeapi/fakeapi.py" --scenario "$scen" \
        --port-file "$T/fakeapi.port" --log "$E2E_REQLOG" --max-seconds 900 \
        > "$T/fakeapi.out" 2> "$T/fakeapi.err" &
    E2E_SRV_PID=$!
    local _
    for _ in $(seq 100); do [ -s "$T/fakeapi.port" ] && break; sleep 0.1; done
    E2E_PORT="$(cat "$T/fakeapi.port" 2>/dev/null)"
    if [ -z "$E2E_PORT" ]; then echo "Bail out! fakeapi did not start"; cat "$T/fakeapi.err"; exit 1; fi
    E2E_ENV+=(ANTHROPIC_BASE_URL="http://127.0.0.1:$E2E_PORT")
}

# The environment of every ralphsup run: nothing of the calling session
# (no IS_SANDBOX, no real credentials), a scratch HOME, the fake API.
# `env` execs the command, so a backgrounded `env ... ralphsup` keeps its PID.
e2e_env() {
    env -i "${E2E_ENV[@]}" "$@"
}

# e2e_start_bg [ARGS...]: `ralphsup start CONFIG ARGS` in the background
# (E2E_SUP_PID); output appended to $T/ralphsup.out.
e2e_start_bg() {
    E2E_T0=$(date +%s.%N)
    echo "### ralphsup start $*" >> "$T/ralphsup.out"
    env -i "${E2E_ENV[@]}" "$RALPHSUP" start "$E2E_CONFIG" "$@" >> "$T/ralphsup.out" 2>&1 < /dev/null &
    E2E_SUP_PID=$!
}

# e2e_wait_sup: wait for the background ralphsup; sets E2E_RC and E2E_SECS.
e2e_wait_sup() {
    wait "$E2E_SUP_PID"
    E2E_RC=$?
    E2E_SUP_PID=""
    E2E_SECS=$(awk -v a="$E2E_T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    export E2E_SECS
    note "ralphsup exited $E2E_RC after ${E2E_SECS}s"
}

# e2e_start [ARGS...]: run `ralphsup start CONFIG ARGS` to its end.
e2e_start() {
    e2e_start_bg "$@"
    e2e_wait_sup
}

# e2e_wait_for FILE PYTHON_EXPR_OVER_L SECONDS: poll a JSON-lines file until
# the expression over its parsed lines L is true. Return 1 on timeout.
e2e_wait_for() {
    local file="$1" expr="$2" secs="$3" i
    for i in $(seq $((secs * 5))); do
        if [ -s "$file" ] && "$E2E_PY" -c '
import json, sys
L = []
for x in open(sys.argv[1], encoding="utf-8"):
    try: L.append(json.loads(x))
    except ValueError: pass
sys.exit(0 if eval(sys.argv[2]) else 1)' "$file" "$expr" 2>/dev/null; then
            return 0
        fi
        sleep 0.2
    done
    return 1
}

# PIDs of live processes whose environment names this batch (RALPHSUP_ROOT)
# or carries a RALPHSUP_RUN_TOKEN recorded in this batch's events.jsonl.
e2e_batch_pids() {
    "$E2E_PY" - "$E2E_BATCH" <<'EOF'
import json, os, sys
batch = sys.argv[1]
tokens = set()
try:
    for x in open(os.path.join(batch, "logs", "events.jsonl"), encoding="utf-8"):
        try:
            r = json.loads(x)
        except ValueError:
            continue
        if r.get("run_token"):
            tokens.add(r["run_token"])
except OSError:
    pass
me = os.getpid()
for d in os.listdir("/proc"):
    if not d.isdigit() or int(d) == me:
        continue
    try:
        env = open(f"/proc/{d}/environ", "rb").read().split(b"\0")
    except OSError:
        continue
    hit = False
    for kv in env:
        k, _, v = kv.partition(b"=")
        v = v.decode("utf-8", "replace")
        if k == b"RALPHSUP_RUN_TOKEN" and v in tokens:
            hit = True
        if k == b"RALPHSUP_ROOT" and v.rstrip("/") == batch.rstrip("/"):
            hit = True
    if hit:
        print(d)
EOF
}

# e2e_no_survivors: no process of this batch's iterations is alive.
e2e_no_survivors() {
    local pids p
    pids="$(e2e_batch_pids)"
    if [ -n "$pids" ]; then
        for p in $pids; do note "survivor $p: $(tr '\0\n' '  ' < "/proc/$p/cmdline" 2>/dev/null | cut -c1-150)"; done
        return 1
    fi
    return 0
}

e2e_loopback_only() {
    pyprog "fakeapi log: only 127.0.0.1 peers, only HEAD / and POST /v1/messages?beta=true, no key value" <<'EOF'
L = JL(os.environ["E2E_REQLOG"])
reqs = [r for r in L if r.get("event") == "request"]
if not reqs: die("no requests logged")
bad = [r for r in reqs if r.get("peer") != "127.0.0.1"
       or (r.get("method"), r.get("path")) not in (("HEAD", "/"), ("POST", "/v1/messages?beta=true"))]
if bad: die("unexpected requests: %r" % bad[:3])
if "sk-e2e-dummy" in open(os.environ["E2E_REQLOG"], encoding="utf-8").read(): die("key value in the log")
print("%d requests" % len(reqs))
EOF
}

# e2e_common_checks: what every test asserts at its end.
e2e_common_checks() {
    e2e_loopback_only
    check "no claude/bash/sleep process of the batch survives" e2e_no_survivors
    check "the lock holder is gone (no live.json left)" test ! -e "$E2E_BATCH/logs/live.json"
}

e2e_finish() {
    if [ "$E2E_FAIL" -ne 0 ]; then
        echo "# --- ralphsup output (tail) ---"
        tail -n 40 "$T/ralphsup.out" 2>/dev/null | sed 's/^/# /'
    fi
    echo "# $E2E_PASS passed, $E2E_FAIL failed"
    [ "$E2E_FAIL" -eq 0 ]
}

# e2e_status: `ralphsup status CONFIG`, its output shown as comments.
e2e_status() {
    local out rc
    out="$(e2e_env "$RALPHSUP" status "$E2E_CONFIG" 2>&1)"
    rc=$?
    printf '%s\n' "$out" | sed 's/^/#   /'
    return $rc
}

# e2e_last_out: the output of the last `ralphsup start` of this test.
e2e_last_out() {
    awk '/^### ralphsup start/ { buf = ""; next } { buf = buf $0 "\n" } END { printf "%s", buf }' "$T/ralphsup.out"
}

# e2e_wait_cmdline CMDLINE: wait up to 30 s for a process of this batch's
# agents whose command line is exactly CMDLINE (e.g. "sleep 300"); prints its
# PID. Return 1 on timeout.
e2e_wait_cmdline() {
    local p _
    for _ in $(seq 300); do
        for p in $(e2e_batch_pids); do
            [ "$(tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null)" = "$1 " ] && { echo "$p"; return 0; }
        done
        sleep 0.1
    done
    return 1
}
