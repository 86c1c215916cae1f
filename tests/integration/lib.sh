# shellcheck shell=bash disable=SC2034
# Shared helpers of the integration tests (sourced by every script).
#
# The environment gives RALPHSUP (the binary), RALPHSUP_SOURCE_ROOT and
# RALPHSUP_BUILD_ROOT (set by meson; the defaults below let a script run by
# hand from the source tree). Every batch lives in a fresh directory under
# /tmp holding its own `git init` repository; the cleanup trap kills only the
# processes the script started (by PID) and the agent processes of its own
# batches (found by their RALPHSUP_RUN_TOKEN and RALPHSUP_ROOT), then removes
# the directories. Output is TAP-like: "ok N - ..." / "not ok N - ...".
set -u

: "${RALPHSUP_SOURCE_ROOT:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${RALPHSUP_BUILD_ROOT:=$RALPHSUP_SOURCE_ROOT/build}"
: "${RALPHSUP:=$RALPHSUP_BUILD_ROOT/supervisor/ralphsup}"
FAKE_CLAUDE="$RALPHSUP_SOURCE_ROOT/tests/fixtures/fake-claude.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
export GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=tester GIT_AUTHOR_EMAIL=tester@example.org \
    GIT_COMMITTER_NAME=tester GIT_COMMITTER_EMAIL=tester@example.org
unset RALPHSUP_RUN_TOKEN
[ -x "$RALPHSUP" ] || { echo "not ok 1 - ralphsup binary $RALPHSUP missing"; exit 1; }

T_N=0
T_FAIL=0
T_PIDS=()
# Temp dirs are listed in a file: new_tmp runs in $(...) subshells.
T_REG=$(mktemp /tmp/ralphsup-integ-dirs.XXXXXX)

ok() { T_N=$((T_N + 1)); echo "ok $T_N - $*"; }
not_ok() { T_N=$((T_N + 1)); T_FAIL=$((T_FAIL + 1)); echo "not ok $T_N - $*"; }
# known_bug DESC BUG CMD...: an assertion that fails because of a product bug
# reported to the lead; printed as a TAP TODO and not counted as a failure.
known_bug() {
    local desc=$1 bug=$2
    shift 2
    if "$@"; then T_N=$((T_N + 1)); echo "ok $T_N - $desc # TODO passes now: $bug"
    else T_N=$((T_N + 1)); echo "not ok $T_N - $desc # TODO known bug: $bug"; fi
}
# diag LINES...: indented context for a failure
diag() { printf '%s\n' "$@" | sed 's/^/#   /'; }

# check DESC CMD...: ok when CMD succeeds
check() {
    local desc=$1
    shift
    if "$@"; then ok "$desc"; else not_ok "$desc"; diag "command failed: $*"; fi
}
assert_eq() { # GOT WANT DESC
    if [ "$1" = "$2" ]; then ok "$3"; else not_ok "$3"; diag "got:  $1" "want: $2"; fi
}
assert_contains() { # HAYSTACK NEEDLE DESC
    case "$1" in
    *"$2"*) ok "$3" ;;
    *) not_ok "$3"; diag "missing: $2" "in: $(printf '%s' "$1" | head -c 2000)" ;;
    esac
}
assert_not_contains() { # HAYSTACK NEEDLE DESC
    case "$1" in
    *"$2"*) not_ok "$3"; diag "unexpected: $2" ;;
    *) ok "$3" ;;
    esac
}
assert_le() { # A B DESC (numbers; awk compares floats)
    if awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; then ok "$3"; else not_ok "$3"; diag "$1 > $2"; fi
}
# assert_file_json FILE PYEXPR DESC: PYEXPR sees the parsed file as `d`
assert_file_json() {
    local out
    if out=$("$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
def S(n):  # the state of a school in the progress file, wherever it is
    for k in ("completed", "failed", "retry_history"):
        for x in (d.get(k) or []) if isinstance(d, dict) else []:
            if x.get("name") == n:
                return x
    return None
def W(n):  # which list holds it
    for k in ("completed", "failed", "retry_history"):
        if any(x.get("name") == n for x in (d.get(k) or [])):
            return k
    return "pending" if n in (d.get("pending") or []) else None
def R(n):  # the (outcome, reason) pairs of its attempts
    return [(a.get("outcome"), a.get("reason") or "") for a in (S(n) or {}).get("attempts", [])]
ok = eval(sys.argv[2])
if not ok:
    print(json.dumps(d, indent=1)[:3000])
sys.exit(0 if ok else 1)' "$1" "$2" 2>&1); then
        ok "$3"
    else
        not_ok "$3"
        diag "expression: $2" "$out"
    fi
}
# json_get FILE PYEXPR: print eval(PYEXPR) with the file parsed as `d`
json_get() {
    "$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); v = eval(sys.argv[2]); print(v if isinstance(v, str) else json.dumps(v))' "$1" "$2"
}
# events FILE PYEXPR: the events.jsonl records (as `e`) for which PYEXPR holds, one JSON per line
events() {
    "$PY" -c '
import json, sys
for line in open(sys.argv[1]):
    line = line.strip()
    if not line:
        continue
    e = json.loads(line)
    if eval(sys.argv[2]):
        print(json.dumps(e))' "$1" "$2"
}

# ---- processes -------------------------------------------------------------

# token_pids REGEX: PIDs whose environment has RALPHSUP_RUN_TOKEN matching ^REGEX
token_pids() {
    local f
    for f in $(grep -lzE "^RALPHSUP_RUN_TOKEN=$1" /proc/[0-9]*/environ 2>/dev/null); do
        f=${f#/proc/}
        echo "${f%/environ}"
    done
}
# root_pids DIR: agent processes (any token) of the batch in DIR
root_pids() {
    local f p
    for f in $(grep -lzE '^RALPHSUP_RUN_TOKEN=' /proc/[0-9]*/environ 2>/dev/null); do
        if grep -qzxF "RALPHSUP_ROOT=$1" "$f" 2>/dev/null; then
            p=${f#/proc/}
            echo "${p%/environ}"
        fi
    done
}
# expect_gone LOOKUP ARG DESC: within 3 s `LOOKUP ARG` lists no process; else name the survivors
expect_gone() {
    local i left=
    for i in $(seq 30); do
        left=$("$1" "$2")
        [ -z "$left" ] && break
        sleep 0.1
    done
    if [ -z "$left" ]; then
        ok "$3"
    else
        not_ok "$3"
        local p
        for p in $left; do diag "survivor $p: $(tr '\0' ' ' </proc/$p/cmdline 2>/dev/null)"; done
    fi
}
# no_survivors TOKEN_REGEX DESC: no process carries a matching run token
no_survivors() { expect_gone token_pids "$1" "$2"; }
# no_batch_survivors DIR DESC: the same for every agent process of the batch in DIR
no_batch_survivors() { expect_gone root_pids "$1" "$2"; }
pid_alive() { [ -e "/proc/$1" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
# wait_gone PID SECONDS: wait until PID has exited (reaped or zombie)
wait_gone() {
    local i
    for i in $(seq $(($2 * 10))); do pid_alive "$1" || return 0; sleep 0.1; done
    return 1
}
# wait_for SECONDS CMD...: poll CMD every 0.1 s
wait_for() {
    local n=$(($1 * 10)) i
    shift
    for ((i = 0; i < n; i++)); do "$@" && return 0; sleep 0.1; done
    return 1
}

# bg_start OUTFILE CMD...: start CMD in the background, remember its PID in BG_PID
bg_start() {
    local out=$1
    shift
    "$@" >"$out" 2>&1 &
    BG_PID=$!
    T_PIDS+=("$BG_PID")
}
# bg_wait PID: its exit status in BG_RC
bg_wait() { BG_RC=0; { wait "$1"; } 2>/dev/null || BG_RC=$?; }

cleanup() {
    local p d
    local -a T_DIRS
    mapfile -t T_DIRS <"$T_REG"
    for p in "${T_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    for d in "${T_DIRS[@]}"; do
        for p in $(root_pids "$d"); do kill -KILL "$p" 2>/dev/null; done
    done
    wait 2>/dev/null
    if [ "$T_FAIL" -eq 0 ] && [ -z "${KEEP_TMP:-}" ]; then
        for d in "${T_DIRS[@]}"; do rm -rf "$d"; done
    else
        for d in "${T_DIRS[@]}"; do echo "# kept $d"; done
    fi
    rm -f "$T_REG"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

finish() {
    echo "1..$T_N"
    [ "$T_FAIL" -eq 0 ] || { echo "# $T_FAIL of $T_N failed"; exit 1; }
    exit 0
}

# ---- batches ------------------------------------------------------------------

# new_tmp: a fresh directory under /tmp, removed at exit
new_tmp() {
    local d
    d=$(mktemp -d /tmp/ralphsup-integ.XXXXXX)
    echo "$d" >>"$T_REG"
    echo "$d"
}

# make_batch DIR SCHOOL...: a batch in DIR (git init, schools, prompt, config)
# whose agent is the fake CLI. Config: DIR/config/batch.toml; plan: DIR/plan.json;
# fake state: DIR/.fake (outside output/; writable under the fence, plus $AGENT_WRITABLE, e.g.
# `, "cache"`; more [agent] lines from $AGENT_EXTRA). Extra [limits] lines come from
# $LIMITS (one "key = value" per line); extra [agent.env] lines from $AGENT_ENV;
# [verify] lines from $VERIFY; [batch] lines from $BATCH_EXTRA; $SCHOOL_EXTRA is appended to every school object
# (e.g. `, "email_domains": ["example.edu"]`).
make_batch() {
    local dir=$1
    shift
    mkdir -p "$dir/config" "$dir/data" "$dir/prompts"
    git -C "$dir" init -q
    git -C "$dir" commit -q --allow-empty -m "user: initial commit"
    cp "$RALPHSUP_SOURCE_ROOT/prompts/batch_loop.md" "$dir/prompts/"
    mkdir -p "$dir/.bin" "$dir/.fake"
    install -m 0755 "$FAKE_CLAUDE" "$dir/.bin/claude"
    {
        echo '{"batch_name": "itest", "created": "2026-11-24", "schools": ['
        local first=1 s
        for s in "$@"; do
            [ $first = 1 ] || echo ","
            first=0
            printf '  {"name": "%s", "conference": "Test Conference", "state": "CO", "priority": 2%s}' "$s" "${SCHOOL_EXTRA:-}"
        done
        echo
        echo ']}'
    } >"$dir/data/schools.json"
    echo '{}' >"$dir/plan.json"
    cat >"$dir/config/batch.toml" <<EOF
[batch]
name = "itest"
root = ".."
schools = "data/schools.json"
order = "list"
${BATCH_EXTRA:-}

[agent]
command = "$dir/.bin/claude"
args = ["--permission-mode", "acceptEdits"]
# the fake agent's own bookkeeping (outside the batch's state) stays writable under the fence; absolute like
# FAKE_STATE, so a clone of the batch (the shard pods) names the same existing directory
writable = ["$dir/.fake"${AGENT_WRITABLE:-}]
${AGENT_EXTRA:-}

[agent.env]
FAKE_PLAN = "$dir/plan.json"
FAKE_STATE = "$dir/.fake"
${AGENT_ENV:-}

[limits]
$(merged_limits)

[git]
author_name = "ralphsup"
${GIT_EXTRA:-}

[report]
on_finish = false

[verify]
${VERIFY:-}
EOF
}

# merged_limits: the default test limits, each overridden by a line of $LIMITS
merged_limits() {
    local defaults='iteration_timeout = "60s"
stall_timeout = "20s"
kill_grace = "1s"
transient_backoff = "1s"
transient_backoff_max = "2s"
pipe_drain_timeout = "1s"'
    printf '%s\n%s\n' "${LIMITS:-}" "$defaults" | awk -F' *= *' 'NF >= 2 && !seen[$1]++'
}
# plan DIR JSON: set the fake agent's plan
plan() { printf '%s\n' "$2" >"$1/plan.json"; }
# rs ARGS...: run ralphsup with a closed stdin; output in RS_OUT, status in RS_RC
rs() {
    RS_RC=0
    RS_OUT=$("$RALPHSUP" "$@" </dev/null 2>&1) || RS_RC=$?
}
# fake_log DIR: the fake agent's invocation log
fake_log() { cat "$1/.fake/log" 2>/dev/null; }
# subjects DIR: commit subjects, newest first
subjects() { git -C "$1" log --format=%s; }
