#!/bin/bash
# The operator's paths around a batch (issue 8, points 5-8):
#  - `stop` and `status` work when the config of a running batch no longer
#    validates (a typo, or not even TOML), and say so; `reload` refuses (78);
#  - `resume` after a kill -9 kills the interrupted iteration's leftovers
#    (a tool process in its own session) before it clears the run token;
#  - `start` checks the prompt template and the hook fragments before its
#    first commit, and `doctor` reports both;
#  - doctor's hints work (no `recover` without git; one ref for a detached
#    HEAD, and the exit code docs/cli.md states);
#  - the limit options accept 0 = unlimited, a limit stop names the way on,
#    and a start that is stopped at once by a limit commits nothing.
source "$(dirname "$0")/lib.sh"

start_sup() {
    bg_start "$1/sup.out" "$RALPHSUP" start "$1/config/batch.toml"
    SUP=$BG_PID
}
wait_agent() {
    wait_for 10 grep -qs "^$2|.*|$3|" "$1/.fake/log" && sleep 0.3
}
ncommits() { git -C "$1" rev-list --count HEAD; }
export ANTHROPIC_API_KEY=sk-ant-test-operator-0000

# ---- stop / status / reload with a config that has a typo ----------------------------
A=$(new_tmp)
make_batch "$A" "Alpha University" "Beta University"
plan "$A" '{"Alpha University": {"run1": "hang", "default": "done"}}'
CA="$A/config/batch.toml"
start_sup "$A"
wait_agent "$A" "Alpha University" hang || not_ok "agent started"
tok=$(grep '^Alpha University|' "$A/.fake/log" | cut -d'|' -f6)
cp "$CA" "$A/good.toml"
sed -i 's/^\[limits\]$/[limits]\nmax_cots_usd = 5/' "$CA"
rs doctor "$CA"
assert_contains "$RS_OUT" "max_cots_usd" "the typo is real: doctor rejects the config"
rs status "$CA"
assert_eq "$RS_RC" 0 "status with a typo in the config of a running batch: 0"
assert_contains "$RS_OUT" "current: Alpha University" "status with a broken config shows the current school"
assert_contains "$RS_OUT" "supervisor: running (PID $SUP)" "status with a broken config sees the running supervisor"
assert_contains "$RS_OUT" "warning: $CA has errors ($CA:" "status says the config has errors"
assert_contains "$RS_OUT" "using progress file $A/batch_progress.json to show the batch" "status names the progress file it used"
rs status "$CA" --json
assert_eq "$RS_RC" 0 "status --json with a broken config: 0"
assert_contains "$RS_OUT" '"running":true' "status --json with a broken config: running"
rs reload "$CA"
assert_eq "$RS_RC" 78 "reload with a typo in the config: 78 (its purpose is to apply the config)"
assert_contains "$RS_OUT" "max_cots_usd" "reload names the bad key"
pid_alive "$SUP" && ok "the refused reload signalled nothing" || not_ok "the refused reload signalled nothing"
rs stop "$CA"
assert_eq "$RS_RC" 0 "stop with a typo in the config: 0 (signalled)"
assert_contains "$RS_OUT" "warning: $CA has errors" "stop says the config has errors"
assert_contains "$RS_OUT" "using progress file $A/batch_progress.json to find the supervisor" "stop names the progress file it used"
assert_contains "$RS_OUT" "sent SIGTERM to ralphsup PID $SUP (batch itest)" "stop signalled the supervisor of batch itest"
bg_wait "$SUP"
assert_eq "$BG_RC" 143 "the stopped start exits 143"
assert_file_json "$A/batch_progress.json" 'd["pending"] == ["Alpha University", "Beta University"] and d["current"] is None and d["status"] == "cancelled"' \
    "after stop: the school is requeued at the front, status cancelled"
no_survivors "$tok" "after stop: no process of the iteration survives"
rs stop "$CA"
assert_eq "$RS_RC" 69 "stop with a broken config and no supervisor: 69"
assert_contains "$RS_OUT" "no supervisor is running batch itest" "stop with a broken config: says no supervisor runs"
rm "$CA"
rs stop "$CA"
assert_eq "$RS_RC" 66 "stop with no config file at all: 66"
cp "$A/good.toml" "$CA"

# ---- the same when the config is not even valid TOML ------------------------------------
B=$(new_tmp)
make_batch "$B" "Alpha University"
plan "$B" '{"Alpha University": {"run1": "hang", "default": "done"}}'
CB="$B/config/batch.toml"
start_sup "$B"
wait_agent "$B" "Alpha University" hang || not_ok "agent started"
sed -i 's/^\[limits\]$/[limits]\nmax_cost_usd = /' "$CB"
rs status "$CB"
assert_eq "$RS_RC" 0 "status with a TOML syntax error in the config: 0"
assert_contains "$RS_OUT" "TOML syntax error" "status: the warning gives the syntax error"
assert_contains "$RS_OUT" "current: Alpha University" "status with a syntax error: [batch] root still found"
rs stop "$CB"
assert_eq "$RS_RC" 0 "stop with a TOML syntax error in the config: 0"
bg_wait "$SUP"
assert_eq "$BG_RC" 143 "stop with a TOML syntax error: start exits 143"
assert_file_json "$B/batch_progress.json" 'd["pending"] == ["Alpha University"] and d["current"] is None' \
    "stop with a TOML syntax error: the school is requeued"

# ---- resume after kill -9 kills the leftovers of the interrupted iteration --------------
C=$(new_tmp)
make_batch "$C" "Alpha University" "Beta University"
plan "$C" '{"Alpha University": {"run1": "grandchild_hang", "default": "done"}}'
CC="$C/config/batch.toml"
start_sup "$C"
wait_agent "$C" "Alpha University" grandchild_hang || not_ok "agent started"
# ready: the tool process runs in its own session with the token (a fixed sleep is not enough under load)
wait_for 20 grep -qs '^Alpha University|1|grandchild_hang$' "$C/.fake/ready" || not_ok "the agent's tool process is set up"
gc=$(cat "$C/.fake/Alpha_University.grandchild" 2>/dev/null)
tok=$(grep '^Alpha University|' "$C/.fake/log" | cut -d'|' -f6)
# The iteration keeper (docs/processes.md) kills the tree when only the supervisor dies; to
# leave leftovers for resume, the keeper dies with it (as when the OOM killer takes both).
ap=$(grep '^Alpha University|' "$C/.fake/log" | tail -1 | cut -d'|' -f5)
kp=$(awk '{print $4}' "/proc/$ap/stat" 2>/dev/null)
assert_contains "$(tr '\0' ' ' <"/proc/$kp/cmdline" 2>/dev/null)" " keeper " "the agent's parent is its keeper (pid $kp)"
kill -KILL "$SUP" "$kp"
bg_wait "$SUP"
assert_eq "$BG_RC" 137 "kill -9 of the supervisor"
pid_alive "$gc" && ok "the setsid tool process (pid $gc) outlived the kill -9 (so the check below can fail)" ||
    not_ok "the setsid tool process outlived the kill -9"
rs resume "$CC"
assert_eq "$RS_RC" 0 "resume after kill -9: 0"
assert_contains "$RS_OUT" "requeued Alpha University at the front of pending" "resume requeues the interrupted school"
# The tool process and the agent's own sleep child: both outlived the agent.
nk=$(printf '%s\n' "$RS_OUT" | sed -n 's/.*; \([0-9]*\) leftover process.* of the interrupted iteration killed$/\1/p')
assert_le 1 "${nk:-0}" "resume says how many leftovers it killed ($nk)"
pid_alive "$gc" && not_ok "resume killed the setsid tool process (pid $gc) at once" || ok "resume killed the setsid tool process (pid $gc) at once"
no_survivors "$tok" "resume leaves no process carrying the interrupted run token"
assert_contains "$(git -C "$C" log -1 --format=%B)" "$nk leftover process" "the resume commit records the kill"
rs resume "$CC"
assert_eq "$RS_RC" 0 "a second resume: 0 (idempotent)"
assert_contains "$RS_OUT" "nothing to resume" "a second resume has nothing to do"
rs start "$CC"
assert_eq "$RS_RC" 0 "start after resume finishes the batch"
no_survivors "$tok" "after resume and start: no process carries the interrupted run token"
no_batch_survivors "$C" "after resume and start: no agent process of the batch survives"
assert_file_json "$C/batch_progress.json" 'd["status"] == "finished" and [x["name"] for x in d["completed"]].count("Alpha University") == 1 and [a["outcome"] for a in S("Alpha University")["attempts"]] == ["completed"]' \
    "Alpha University completed exactly once, as one attempt"

# ---- start checks the prompt and the hook fragments before its first commit -------------
D=$(new_tmp)
make_batch "$D" "Alpha University"
CD="$D/config/batch.toml"
cp "$D/prompts/batch_loop.md" "$D/good_prompt.md"
printf 'Extra: {{school.nmae}}\n' >>"$D/prompts/batch_loop.md"
n0=$(ncommits "$D")
# doctor first, then start
rs doctor "$CD"
assert_eq "$RS_RC" 1 "doctor with a bad prompt placeholder: 1"
assert_contains "$RS_OUT" "✗ prompt" "doctor: ✗ prompt"
assert_contains "$RS_OUT" "unknown placeholder {{school.nmae}}" "doctor names the bad placeholder"
rs start "$CD"
assert_eq "$RS_RC" 78 "start with a bad prompt: 78"
assert_contains "$RS_OUT" "unknown placeholder {{school.nmae}}" "start names the bad placeholder"
assert_contains "$RS_OUT" "nothing was started or committed" "start says nothing was committed"
assert_eq "$(ncommits "$D")" "$n0" "start with a bad prompt: no commit (not even \"initialized\")"
[ -e "$D/batch_progress.json" ] && not_ok "start with a bad prompt: no progress file" || ok "start with a bad prompt: no progress file"
cp "$D/good_prompt.md" "$D/prompts/batch_loop.md"
# start first, then doctor: an invalid hooks/<name>.settings.json
mkdir -p "$D/hooks"
printf '{"hooks": {"PostToolUse": [{"matcher": "Bash"}]}, "permissions": {}}\n' >"$D/hooks/audit.settings.json"
rs start "$CD"
assert_eq "$RS_RC" 78 "start with an invalid hook fragment: 78"
assert_contains "$RS_OUT" "audit.settings.json" "start names the fragment"
assert_eq "$(ncommits "$D")" "$n0" "start with an invalid hook fragment: no commit"
[ -e "$D/batch_progress.json" ] && not_ok "start with an invalid fragment: no progress file" || ok "start with an invalid fragment: no progress file"
rs doctor "$CD"
assert_eq "$RS_RC" 1 "doctor with an invalid hook fragment: 1 (it said ready. before)"
assert_contains "$RS_OUT" "✗ hooks" "doctor: ✗ hooks"
assert_contains "$RS_OUT" "only \"hooks\" is allowed in a fragment, found \"permissions\"" "doctor gives the fragment's problem"
assert_not_contains "$RS_OUT" "ready." "doctor does not say ready."
# with a progress file: still nothing committed
rs init "$CD"
assert_eq "$RS_RC" 0 "init"
n1=$(ncommits "$D")
rs start "$CD"
assert_eq "$RS_RC" 78 "start of an initialised batch with an invalid fragment: 78"
assert_eq "$(ncommits "$D")" "$n1" "start of an initialised batch with an invalid fragment: no commit"
printf '{"hooks": {"PostToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "true"}]}]}}\n' >"$D/hooks/audit.settings.json"
rs doctor "$CD"
assert_contains "$RS_OUT" "✓ hooks        1 fragment in hooks/ merged with the guard" "doctor: a valid fragment is ✓"
rs start "$CD"
assert_eq "$RS_RC" 0 "start with the fixed fragment runs the batch"

# ---- doctor's hints -----------------------------------------------------------------------
E=$(new_tmp)
make_batch "$E" "Alpha University"
CE="$E/config/batch.toml"
sed -i 's/^\[git\]$/[git]\nenabled = false/' "$CE"
echo '{"batch_name": "itest", "pending": [' >"$E/batch_progress.json"
rs doctor "$CE"
assert_contains "$RS_OUT" "✗ progress" "doctor: an unreadable progress file is ✗"
assert_not_contains "$RS_OUT" "ralphsup recover" "doctor does not suggest recover with [git] enabled = false"
assert_contains "$RS_OUT" "init $CE --reset" "doctor suggests init --reset instead"
rs start "$CE"
assert_eq "$RS_RC" 65 "start with an unreadable progress file: 65"
assert_not_contains "$RS_OUT" "ralphsup recover" "start does not suggest recover with [git] enabled = false"
assert_contains "$RS_OUT" "init $CE --reset" "start suggests init --reset instead"
rs status "$CE"
assert_eq "$RS_RC" 65 "status with an unreadable progress file: 65"
assert_not_contains "$RS_OUT" "ralphsup recover" "status does not suggest recover with [git] enabled = false"
rs init "$CE" --resume
assert_eq "$RS_RC" 65 "init --resume with an unreadable progress file: 65"
assert_not_contains "$RS_OUT" "ralphsup recover" "init --resume does not suggest recover with [git] enabled = false"
rs init "$CE" --reset
assert_eq "$RS_RC" 0 "the suggested init --reset works"
# detached HEAD with ref = "HEAD"
F=$(new_tmp)
make_batch "$F" "Alpha University"
CF="$F/config/batch.toml"
git -C "$F" commit -q --allow-empty -m "user: second"
git -C "$F" checkout -q --detach HEAD
rs doctor "$CF"
assert_contains "$RS_OUT" "HEAD is detached" "doctor: detached HEAD"
assert_contains "$RS_OUT" 'set [git] ref = "refs/heads/ralphsup/audit"' "doctor suggests the ref start suggests"
rs start "$CF"
assert_eq "$RS_RC" 78 "start on a detached HEAD: 78 (docs/cli.md)"
assert_contains "$RS_OUT" 'set [git] ref = "refs/heads/ralphsup/audit"' "start suggests the same ref"
sed -i 's/^\[git\]$/[git]\nref = "refs\/heads\/ralphsup\/audit"/' "$CF"
rs start "$CF"
assert_eq "$RS_RC" 0 "the suggested ref works: start runs the batch"
assert_contains "$(git -C "$F" log --format=%s refs/heads/ralphsup/audit)" "ralphsup: finished batch itest" \
    "the audit trail is on refs/heads/ralphsup/audit"
grep -q 'HEAD is detached.*| 78\|78 .*detached' "$RALPHSUP_SOURCE_ROOT/docs/cli.md" && ok "docs/cli.md documents 78 for a detached HEAD" ||
    not_ok "docs/cli.md documents 78 for a detached HEAD"

# ---- limits: 0 = unlimited, the way on, no commit when stopped at once -----------------
G=$(new_tmp)
LIMITS='max_iterations = 1' make_batch "$G" "Alpha University" "Beta University" "Gamma University"
CG="$G/config/batch.toml"
rs start "$CG" --max-runtime -5m
assert_eq "$RS_RC" 64 "--max-runtime -5m: 64"
rs start "$CG" --max-cost-usd -1
assert_eq "$RS_RC" 64 "--max-cost-usd -1: 64"
rs start "$CG" --max-iterations 0
assert_eq "$RS_RC" 64 "--max-iterations 0: 64 (the config's range is 1 to 1000000; there is no unlimited)"
rs start --help
assert_not_contains "$RS_OUT" "for this run" "start --help does not call --max-iterations per run"
assert_contains "$RS_OUT" "across" "start --help: --max-iterations counts across invocations"
rs start "$CG" --max-runtime 0 --max-cost-usd 0
assert_eq "$RS_RC" 3 "start --max-runtime 0 --max-cost-usd 0 is accepted; max_iterations = 1 stops it: 3"
assert_contains "$RS_OUT" "max_iterations reached (1 of 1)" "the limit is named"
assert_contains "$RS_OUT" "to go on: \`ralphsup start $CG --max-iterations 3\`, or raise [limits] max_iterations in $CG" \
    "the terminal names the way on"
assert_file_json "$G/batch_progress.json" 'd["stopped"]["limit"] == "max_iterations" and "--max-iterations 3" in d["stopped"]["reason"]' \
    "stopped.reason names the way on"
assert_contains "$(git -C "$G" log -1 --format=%B)" "--max-iterations 3" "the stop commit names the way on"
n0=$(ncommits "$G")
p0=$(md5sum <"$G/batch_progress.json")
rs start "$CG"
assert_eq "$RS_RC" 3 "start again at the limit: 3"
assert_contains "$RS_OUT" "nothing started, nothing committed" "start at the limit says nothing was done"
assert_contains "$RS_OUT" "--max-iterations 3" "start at the limit names the way on"
rs start "$CG"
assert_eq "$(ncommits "$G")" "$n0" "two starts at the limit add no commit"
assert_eq "$(md5sum <"$G/batch_progress.json")" "$p0" "two starts at the limit leave the progress file as it was"
rs start "$CG" --max-iterations 3
assert_eq "$RS_RC" 0 "the suggested --max-iterations 3 finishes the batch"
assert_file_json "$G/batch_progress.json" 'd["status"] == "finished" and len(d["completed"]) == 3 and d["iterations"] == 3' \
    "all three schools completed in 3 iterations"
# a cost limit names the way on too: Alpha ($0.0123) completes, Beta's first run passes max_cost_usd
H=$(new_tmp)
LIMITS='max_cost_usd = 1' make_batch "$H" "Alpha University" "Beta University"
plan "$H" '{"Beta University": {"run1": "cost_high", "default": "done"}}'
CH="$H/config/batch.toml"
rs start "$CH"
assert_eq "$RS_RC" 3 "max_cost_usd 1: the second school passes it: 3"
assert_contains "$RS_OUT" "to go on: \`ralphsup start $CH --max-cost-usd " "a cost stop names the way on"
assert_contains "$RS_OUT" "or raise [limits] max_cost_usd in $CH" "a cost stop names the config key"
want=$(printf '%s\n' "$RS_OUT" | sed -n 's/.*--max-cost-usd \([0-9.]*\)`.*/\1/p' | head -1)
spent=$(json_get "$H/batch_progress.json" 'd["cost_usd"]')
assert_le "$spent" "$want" "the suggested amount ($want) is above the spend ($spent)"
n0=$(ncommits "$H")
rs start "$CH"
assert_eq "$RS_RC" 3 "start again at the cost limit: 3"
assert_contains "$RS_OUT" "--max-cost-usd $want" "start at the cost limit names the same way on"
assert_eq "$(ncommits "$H")" "$n0" "start at the cost limit adds no commit"
rs start "$CH" --max-cost-usd "$want"
assert_eq "$RS_RC" 0 "the suggested --max-cost-usd $want finishes the batch"
rs start "$CH" --max-cost-usd 0
assert_eq "$RS_RC" 0 "--max-cost-usd 0 on the finished batch: 0"

finish
