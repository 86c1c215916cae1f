#!/bin/bash
# Signals to a running supervisor: SIGTERM and SIGINT cancel cleanly (143 /
# 130, the school requeued without burning an attempt), kill -9 leaves no
# agent behind and the next start requeues and finishes, SIGHUP reloads the
# limits (a lowered max_cost_usd stops the batch with exit 3; an invalid file
# keeps the old limits), and stop/reload without a supervisor exit 69.
source "$(dirname "$0")/lib.sh"

ms_now() { echo $(($(date +%s%N) / 1000000)); }
# start_sup DIR: start the supervisor of DIR in the background (SUP = its pid)
start_sup() {
    bg_start "$1/sup.out" "$RALPHSUP" start "$1/config/batch.toml"
    SUP=$BG_PID
}
# wait_agent DIR SCHOOL BEHAVIOUR: until the agent of SCHOOL has set up BEHAVIOUR
# (fake-claude appends "school|run|behaviour" to .fake/ready then: traps set, grandchild running)
wait_agent() {
    wait_for 10 grep -qs "^$2|[0-9]*|$3\$" "$1/.fake/ready"
}
agent_pid() { grep "^$2|" "$1/.fake/log" | tail -1 | cut -d'|' -f5; }

# ---- SIGTERM while an agent ignores TERM -----------------------------------------------
A=$(new_tmp)
LIMITS='kill_grace = "1s"' make_batch "$A" "Alpha University" "Beta University"
plan "$A" '{"Alpha University": {"run1": "ignore_term", "default": "done"}}'
start_sup "$A"
wait_agent "$A" "Alpha University" ignore_term || not_ok "agent started"
tok=$(grep '^Alpha University|' "$A/.fake/log" | cut -d'|' -f6)
assert_contains " $(token_pids "$tok" | tr '\n' ' ') " " $(agent_pid "$A" "Alpha University") " \
    "the token scan sees the running agent (so the survivor checks can fail)"
t0=$(ms_now)
kill -TERM "$SUP"
bg_wait "$SUP"
dt=$(($(ms_now) - t0))
assert_eq "$BG_RC" 143 "SIGTERM: exit 143"
# Bounds with a margin for a loaded machine: not before kill_grace, and not much after it.
assert_le 1000 "$dt" "SIGTERM with an agent ignoring TERM: waits kill_grace (1 s) before the kill (took ${dt} ms)"
assert_le "$dt" 5000 "SIGTERM with an agent ignoring TERM: exits soon after kill_grace (took ${dt} ms)"
no_survivors "$tok" "SIGTERM: no process of the iteration survives (token $tok)"
P="$A/batch_progress.json"
assert_file_json "$P" 'd["current"] is None and d["pending"] == ["Alpha University", "Beta University"] and d["status"] == "cancelled"' \
    "SIGTERM: the school is back at the front of pending, status cancelled"
assert_file_json "$P" '[o for o, r in R("Alpha University")] == ["cancelled"] and d["failed"] == []' \
    "SIGTERM: the attempt is recorded as cancelled, not failed"
assert_file_json "$P" '"SIGTERM" in d["stopped"]["reason"]' "SIGTERM: stopped.reason names the signal"
s=$(subjects "$A" | head -1)
assert_contains "$s" "ralphsup: stopped batch itest: cancelled by SIGTERM" "last commit: stopped ... cancelled by SIGTERM"
rs start "$A/config/batch.toml"
assert_eq "$RS_RC" 0 "restart after SIGTERM completes the batch"
assert_eq "$(grep '^Alpha University|' "$A/.fake/log" | tail -1 | cut -d'|' -f2)" 1 "the restart runs Alpha University as attempt 1 (no attempt burned)"
assert_file_json "$P" 'd["status"] == "finished" and sorted(x["name"] for x in d["completed"]) == ["Alpha University", "Beta University"]' \
    "restart: both schools completed"
no_batch_survivors "$A" "SIGTERM batch: no survivors at the end"

# ---- a second SIGTERM kills at once, without waiting for kill_grace ---------------------
G=$(new_tmp)
LIMITS='kill_grace = "20s"' make_batch "$G" "Alpha University"
plan "$G" '{"Alpha University": {"run1": "ignore_term", "default": "done"}}'
start_sup "$G"
wait_agent "$G" "Alpha University" ignore_term || not_ok "agent started"
tok=$(grep '^Alpha University|' "$G/.fake/log" | cut -d'|' -f6)
kill -TERM "$SUP"
# The cancel event is logged while the first SIGTERM is handled; the second comes after it.
wait_for 10 grep -qs '"cancel"' "$G/logs/events.jsonl" && ok "first SIGTERM: the cancel is logged" ||
    not_ok "first SIGTERM: the cancel is logged"
pid_alive "$SUP" && ok "first SIGTERM: still waiting for the agent (kill_grace 20s)" || not_ok "first SIGTERM: still waiting for the agent (kill_grace 20s)"
t0=$(ms_now)
kill -TERM "$SUP"
bg_wait "$SUP"
dt=$(($(ms_now) - t0))
assert_eq "$BG_RC" 143 "second SIGTERM: exit 143"
assert_contains "$(cat "$G/sup.out")" "SIGTERM again: killing the agent now" "second SIGTERM: says it kills the agent now"
assert_le "$dt" 5000 "second SIGTERM kills the agent at once, not after kill_grace 20s (took ${dt} ms)"
no_survivors "$tok" "second SIGTERM: no process of the iteration survives"
assert_file_json "$G/batch_progress.json" 'd["pending"] == ["Alpha University"] and d["failed"] == [] and d["current"] is None' \
    "second SIGTERM: the school is requeued, no attempt burned"

# ---- SIGINT --------------------------------------------------------------------------------
B=$(new_tmp)
make_batch "$B" "Alpha University" "Beta University"
plan "$B" '{"Alpha University": {"run1": "hang", "default": "done"}}'
start_sup "$B"
wait_agent "$B" "Alpha University" hang || not_ok "agent started"
tok=$(grep '^Alpha University|' "$B/.fake/log" | cut -d'|' -f6)
kill -INT "$SUP"
bg_wait "$SUP"
assert_eq "$BG_RC" 130 "SIGINT: exit 130"
no_survivors "$tok" "SIGINT: no process of the iteration survives"
assert_file_json "$B/batch_progress.json" 'd["pending"][0] == "Alpha University" and d["current"] is None and "SIGINT" in d["stopped"]["reason"]' \
    "SIGINT: requeued at the front, stopped.reason names SIGINT"
rs start "$B/config/batch.toml"
assert_eq "$RS_RC" 0 "restart after SIGINT completes the batch"

# ---- kill -9 of the supervisor -------------------------------------------------------------
C=$(new_tmp)
make_batch "$C" "Alpha University" "Beta University"
plan "$C" '{"Alpha University": {"run1": "grandchild_hang", "default": "done"}}'
start_sup "$C"
wait_agent "$C" "Alpha University" grandchild_hang || not_ok "agent started"
ap=$(agent_pid "$C" "Alpha University")
gc=$(cat "$C/.fake/Alpha_University.grandchild" 2>/dev/null)
tok=$(grep '^Alpha University|' "$C/.fake/log" | cut -d'|' -f6)
pid_alive "$gc" && ok "the agent's setsid grandchild runs (pid $gc)" || not_ok "the agent's setsid grandchild runs"
assert_contains " $(token_pids "$tok" | tr '\n' ' ') " " $gc " "the token scan finds the grandchild in its own session"
kill -KILL "$SUP"
bg_wait "$SUP"
assert_eq "$BG_RC" 137 "kill -9: the supervisor died"
wait_gone "$ap" 3 && ok "kill -9: the agent (pid $ap) died with its supervisor (parent-death signal)" ||
    not_ok "kill -9: the agent (pid $ap) died with its supervisor (parent-death signal)"
assert_file_json "$C/batch_progress.json" 'd["current"] is not None and d["current"]["name"] == "Alpha University" and d["current"]["run_token"] == "'"$tok"'"' \
    "kill -9: the progress file still names the current school and its run token"
rs status "$C/config/batch.toml"
assert_contains "$RS_OUT" "current: Alpha University" "status after kill -9 shows the school that was current"
assert_contains "$RS_OUT" "interrupted" "status after kill -9 says it was interrupted"
assert_contains "$RS_OUT" "supervisor: not running" "status after kill -9: no supervisor running (the lock died with it)"
rs start "$C/config/batch.toml"
assert_eq "$RS_RC" 0 "restart after kill -9 finishes the batch"
assert_contains "$RS_OUT" "requeued Alpha University" "restart says it requeued the interrupted school"
assert_contains "$(subjects "$C")" "ralphsup: requeued Alpha University (interrupted run; no attempt counted)" \
    "commit: requeued ... interrupted"
pid_alive "$gc" && not_ok "the grandchild (pid $gc) is gone after the restart" || ok "the grandchild (pid $gc) is gone after the restart"
no_survivors "$tok" "kill -9: no process of the interrupted iteration survives"
assert_file_json "$C/batch_progress.json" 'd["status"] == "finished" and len(d["completed"]) == 2 and [a["attempt"] for a in S("Alpha University")["attempts"]] == [1]' \
    "after the restart both schools completed; Alpha University completed as attempt 1"
no_batch_survivors "$C" "kill -9 batch: no survivors at the end"

# ---- SIGHUP: invalid config keeps the limits; lowered max_cost_usd stops (3) ---------------
D=$(new_tmp)
LIMITS='max_cost_usd = 10
stall_timeout = "60s"' make_batch "$D" "Alpha University" "Beta University" "Gamma University"
plan "$D" '{"Beta University": {"run1": "hang", "default": "done"}}'
CD="$D/config/batch.toml"
start_sup "$D"
wait_agent "$D" "Beta University" hang || not_ok "agent started"
tok=$(grep '^Beta University|' "$D/.fake/log" | cut -d'|' -f6)
cp "$CD" "$D/good.toml"
sed -i 's/^max_cost_usd = 10/max_cost_usd = "lots"/' "$CD"
rs reload "$CD"
assert_eq "$RS_RC" 78 "reload with an invalid config: 78, nothing signalled"
kill -HUP "$SUP"
wait_for 5 grep -qs '"reload-failed"' "$D/logs/events.jsonl" && ok "SIGHUP with an invalid config: reload-failed logged" ||
    not_ok "SIGHUP with an invalid config: reload-failed logged"
# (That it really goes on is shown below: the next reload is applied and stops it with 3.)
pid_alive "$SUP" && ok "SIGHUP with an invalid config: the supervisor keeps running" || not_ok "SIGHUP with an invalid config: the supervisor keeps running"
assert_contains "$(cat "$D/sup.out")" "keeping the current limits" "SIGHUP with an invalid config: says it keeps the limits"
sed 's/^max_cost_usd = 10/max_cost_usd = 0.01/' "$D/good.toml" >"$CD"
rs reload "$CD"
assert_eq "$RS_RC" 0 "reload with max_cost_usd below the spend: signalled"
bg_wait "$SUP"
assert_eq "$BG_RC" 3 "SIGHUP lowering max_cost_usd below the spend: exit 3"
no_survivors "$tok" "SIGHUP stop: no process of the iteration survives"
assert_file_json "$D/batch_progress.json" 'd["stopped"]["limit"] == "max_cost_usd" and "max_cost_usd" in d["stopped"]["reason"] and d["pending"][:2] == ["Beta University", "Gamma University"] and d["status"] == "stopped"' \
    "progress: stopped.limit max_cost_usd, the school requeued at the front"
last=$(git -C "$D" log -1 --format=%B)
assert_contains "$(git -C "$D" log -1 --format=%s)" "ralphsup: stopped batch itest: max_cost_usd" "last commit subject names max_cost_usd"
assert_contains "$last" "Limit: max_cost_usd" "last commit body names the limit"
assert_contains "$(subjects "$D")" "ralphsup: limits reloaded: max_cost_usd 10" "the reload is committed with the change"
n=$(events "$D/logs/events.jsonl" 'e.get("event") == "limits-reloaded"' | wc -l)
assert_eq "$n" 1 "one limits-reloaded event (the invalid reload changed nothing)"
assert_file_json "$D/batch_progress.json" 'W("Alpha University") == "completed" and W("Gamma University") == "pending"' \
    "the school finished before the reload stays completed"

# ---- stop / reload without a supervisor ---------------------------------------------------------
rs stop "$CD"
assert_eq "$RS_RC" 69 "stop without a running supervisor: 69"
rs reload "$CD"
assert_eq "$RS_RC" 69 "reload without a running supervisor: 69"
assert_contains "$RS_OUT" "no supervisor is running" "reload says no supervisor is running"

finish
