#!/bin/bash
# Every failure class of docs/failures.md, end to end: a batch of schools,
# each assigned a behaviour of the fake agent (tests/fixtures/fake-claude.sh),
# then the progress file, the exit code, logs/events.jsonl and the commit
# subjects are checked. Separate small batches cover the classes that end the
# batch: too many transient errors (75), authentication (77), and a missing
# agent command (69).
source "$(dirname "$0")/lib.sh"

# ---- batch A: item failures, retries, waits; the batch runs to its end ----------
A=$(new_tmp)
source "$(dirname "$0")/faults.sh"
fault_batch "$A"
CA="$A/config/batch.toml"
PA="$A/batch_progress.json"
t0=$(date +%s)
rs start "$CA"
t1=$(date +%s)
assert_eq "$RS_RC" 0 "batch A: start exits 0 when every school is completed or failed"
[ "$RS_RC" = 0 ] || diag "$RS_OUT"
no_batch_survivors "$A" "batch A: no process of any iteration survives"
assert_le $((t1 - t0)) 90 "batch A ran in $((t1 - t0)) s"
assert_file_json "$PA" 'd["status"] == "finished" and d["current"] is None and d["pending"] == []' \
    "batch A: progress file says finished, nothing pending, nothing current"

# done
assert_file_json "$PA" 'W("Done University") == "completed" and S("Done University")["coaches"] == 4 and S("Done University")["overlaps"] == 1 and S("Done University")["csv"] == "output/done-university.csv"' \
    "done: completed with the verified figures and the CSV path"
# done_wrong_count
assert_file_json "$PA" 'W("Wrong Count University") == "failed" and len(R("Wrong Count University")) == 3 and all(o == "failed" and r == "RALPH_DONE claimed 4 coaches, CSV has 3 rows" for o, r in R("Wrong Count University")) and S("Wrong Count University")["reason"] == "RALPH_DONE claimed 4 coaches, CSV has 3 rows"' \
    "done_wrong_count: 3 failed attempts \"RALPH_DONE claimed 4 coaches, CSV has 3 rows\", then failed"
# done_escape / symlink
assert_file_json "$PA" 'W("Escape University") == "failed" and len(R("Escape University")) == 3 and "outside the output directory" in R("Escape University")[0][1] and "symlink" in R("Escape University")[1][1] and "outside the output directory" in S("Escape University")["reason"]' \
    "done_escape: ../outside.csv and a symlink to /etc/passwd are refused (outside the output directory)"
assert_file_json "$PA" 'not [x for x in d["completed"] if "passwd" in (x.get("csv") or "") or "outside" in (x.get("csv") or "")]' \
    "done_escape: no completed entry points outside the output directory"
# failed_permanent
assert_file_json "$PA" 'W("Permanent University") == "failed" and len(R("Permanent University")) == 1 and "not retryable" in S("Permanent University")["reason"] and "staff directory unreachable" in S("Permanent University")["reason"]' \
    "failed_permanent: failed after 1 attempt with the agent's reason"
# failed_retryable
assert_file_json "$PA" 'W("Retryable University") == "failed" and [o for o, r in R("Retryable University")] == ["failed"] * 3 and "staff directory unreachable" in S("Retryable University")["reason"]' \
    "failed_retryable: failed after 3 attempts"
# no_marker
assert_file_json "$PA" 'W("No Marker University") == "failed" and len(R("No Marker University")) == 3 and S("No Marker University")["reason"] == "finished without RALPH_DONE/RALPH_FAILED"' \
    "no_marker: \"finished without RALPH_DONE/RALPH_FAILED\""
# no_result
assert_file_json "$PA" 'W("No Result University") == "failed" and "interrupted" in S("No Result University")["reason"]' \
    "no_result: exit 0 without a result line is \"interrupted\""
# exit_nonzero
assert_file_json "$PA" 'W("Exit Two University") == "failed" and "status 2" in S("Exit Two University")["reason"] and S("Exit Two University")["attempts"][0]["exit_status"] == "exit 2"' \
    "exit_nonzero: failed with \"status 2\", exit_status \"exit 2\""
# crash
assert_file_json "$PA" 'W("Crash University") == "failed" and "signal 11" in S("Crash University")["reason"] and S("Crash University")["attempts"][0]["exit_status"].startswith("signal 11")' \
    "crash: failed with \"signal 11\""
# hang -> stall
assert_file_json "$PA" 'W("Hang University") == "completed" and R("Hang University")[0][0] == "failed" and "stall_timeout" in R("Hang University")[0][1] and R("Hang University")[1][0] == "completed"' \
    "hang: attempt 1 stopped by stall_timeout (3s), attempt 2 completed"
# slow_output -> iteration timeout
assert_file_json "$PA" 'W("Slow University") == "completed" and "iteration_timeout" in R("Slow University")[0][1] and 5.5 <= S("Slow University")["attempts"][0]["duration_s"] < 12' \
    "slow_output: attempt 1 stopped by iteration_timeout (6s) although output kept coming"
# repeat
assert_file_json "$PA" '"repeated Bash `curl -s https://athletics.example.edu/staff` 5×" in R("Repeat University")[0][1] and W("Repeat University") == "completed"' \
    "repeat: stopped at \"repeated Bash \`curl ...\` 5×\""
# cost_high
assert_file_json "$PA" 'W("Costly University") == "failed" and len(R("Costly University")) == 1 and "max_cost_per_school_usd" in S("Costly University")["reason"]' \
    "cost_high: per-school cap reached, failed at once (1 attempt)"
# usage_limit
assert_file_json "$PA" 'W("Usage Limit University") == "completed" and [o for o, r in R("Usage Limit University")] == ["transient", "completed"] and "usage limit" in R("Usage Limit University")[0][1]' \
    "usage_limit: a transient attempt (not counted), then completed"
assert_file_json "$PA" '(lambda a: a[1]["started"] >= a[0]["finished"])(S("Usage Limit University")["attempts"])' \
    "usage_limit: the retry started after the first attempt ended"
ul=$(events "$A/logs/events.jsonl" 'e.get("school") == "Usage Limit University" and e.get("event") in ("iteration-finished", "iteration-started")' | "$PY" -c '
import json, sys, datetime
ev = [json.loads(l) for l in sys.stdin]
def ts(e):
    for k in ("ts", "time", "at"):
        if k in e:
            return datetime.datetime.fromisoformat(e[k].replace("Z", "+00:00")).timestamp()
    return None
fin = [ts(e) for e in ev if e["event"] == "iteration-finished"]
st = [ts(e) for e in ev if e["event"] == "iteration-started"]
print("%.1f" % (st[1] - fin[0]) if len(st) > 1 and fin and st[1] and fin[0] else "none")')
assert_le 2 "${ul/none/0}" "usage_limit: waited until the reset (${ul}s between attempt end and retry; reset was 3s ahead)"
assert_file_json "$PA" '[a["attempt"] for a in S("Usage Limit University")["attempts"]] == [1, 1]' \
    "usage_limit: the retry is still attempt 1 (no attempt burned)"
# api_429 once
assert_file_json "$PA" 'W("Transient University") == "completed" and [o for o, r in R("Transient University")] == ["transient", "completed"] and "429" in R("Transient University")[0][1] and [a["attempt"] for a in S("Transient University")["attempts"]] == [1, 1]' \
    "api_429 once: transient (no attempt burned), then completed"
# wrong_school
assert_file_json "$PA" 'W("Wrong School University") == "completed" and R("Wrong School University")[0] == ("failed", "finished without RALPH_DONE/RALPH_FAILED for this school; a marker named another school: RALPH_DONE for \"Some Other University\"")' \
    "wrong_school: the marker for another school is ignored, and the reason names it and the school"
n=$(events "$A/logs/events.jsonl" 'e.get("event") == "marker-ignored" and e.get("school") == "Wrong School University" and "Some Other University" in e.get("message", "")' | wc -l)
assert_eq "$n" 1 "wrong_school: a marker-ignored event is logged"
# grandchild
assert_file_json "$PA" 'W("Grandchild University") == "completed"' \
    "grandchild: the iteration finishes although a grandchild holds stdout open"
gc=$(cat "$A/.fake/Grandchild_University.grandchild" 2>/dev/null)
if [ -n "$gc" ] && ! pid_alive "$gc"; then ok "grandchild: the setsid grandchild (pid $gc) ignoring TERM is dead"
else not_ok "grandchild: the setsid grandchild (pid ${gc:-?}) ignoring TERM is dead"; fi

# commits and events for the whole batch
subj=$(subjects "$A")
assert_contains "$subj" "ralphsup: failed Wrong Count University after 3 attempts: RALPH_DONE claimed 4 coaches, CSV has 3 rows" \
    "commit subject of a failed school names attempts and reason"
assert_contains "$subj" "ralphsup: attempt 1/3 failed for Wrong Count University: RALPH_DONE claimed 4 coaches, CSV has 3 rows" \
    "commit subject of a failed attempt"
assert_contains "$subj" "ralphsup: failed Permanent University after 1 attempt:" "commit subject of a permanent failure"
assert_contains "$subj" "ralphsup: completed Done University (4 coaches, 1 overlap," "commit subject of a completion"
assert_contains "$subj" "ralphsup: requeued Transient University after a transient error" "commit subject of a transient requeue"
assert_contains "$subj" "ralphsup: finished batch itest: 8 completed, 9 failed" "commit subject of the batch end"
tr=$(git -C "$A" log -1 --format=%B --grep='^ralphsup: failed Crash University' | git interpret-trailers --parse)
assert_contains "$tr" "Ralphsup-Event: failed" "failed commit has the Ralphsup-Event trailer"
assert_contains "$tr" "Ralphsup-School: Crash University" "failed commit has the Ralphsup-School trailer"
n=$(events "$A/logs/events.jsonl" 'e.get("event") == "iteration-finished"' | wc -l)
runs=$(fake_log "$A" | wc -l)
assert_eq "$n" "$runs" "every agent run has one iteration-finished event ($runs)"
n=$(events "$A/logs/events.jsonl" 'e.get("event") == "iteration-finished" and e.get("verdict") == "transient"' | wc -l)
assert_eq "$n" 2 "two transient verdicts logged (usage limit, 429)"
n=$(events "$A/logs/events.jsonl" 'e.get("event") == "stop-iteration"' | wc -l)
assert_eq "$n" 4 "four iterations stopped by the supervisor (stall, timeout, repeat, cost)"
assert_file_json "$PA" 'd["iterations"] == '"$runs" "iterations counter equals the number of agent runs"
check "git fsck --strict passes" git -C "$A" fsck --strict --no-progress

# ---- batch A2: a 70 MiB line and an 11 MB line (own batch: its output takes seconds under ASan) ----
A2=$(new_tmp)
LIMITS='max_line_bytes = 16777216' make_batch "$A2" "Big Line University"
plan "$A2" '{"Big Line University": {"default": "big_line"}}'
rs start "$A2/config/batch.toml"
assert_eq "$RS_RC" 0 "batch A2: start exits 0"
assert_file_json "$A2/batch_progress.json" 'W("Big Line University") == "completed" and len(R("Big Line University")) == 1' \
    "big_line: a 70 MiB line (over max_line_bytes 16 MiB) and an 11 MB line do not fail the school"
n=$(events "$A2/logs/events.jsonl" 'e.get("event") == "iteration-finished" and e.get("school") == "Big Line University" and e.get("oversize_lines") == 1 and e.get("bad_lines") == 0' | wc -l)
assert_eq "$n" 1 "big_line: exactly one oversize line counted (the 11 MB line parsed), no bad lines"
n=$(events "$A2/logs/events.jsonl" 'e.get("event") == "oversize-line" and e.get("school") == "Big Line University"' | wc -l)
assert_eq "$n" 1 "big_line: the oversize line is logged"
no_batch_survivors "$A2" "batch A2: no survivors"

# ---- batch B: transient errors in a row stop the batch (75) -------------------------
B=$(new_tmp)
LIMITS='max_consecutive_transients = 2' make_batch "$B" "Busy University" "Other University"
plan "$B" '{"Busy University": {"default": "api_429"}}'
t0=$(date +%s)
rs start "$B/config/batch.toml"
t1=$(date +%s)
assert_eq "$RS_RC" 75 "api_429 repeatedly: exit 75 after max_consecutive_transients (2) is exceeded"
assert_contains "$RS_OUT" "max_consecutive_transients" "the stop names max_consecutive_transients"
assert_eq "$(fake_log "$B" | grep -c '^Busy University|1|')" 3 "3 runs, all as attempt 1 (transients do not burn attempts)"
assert_file_json "$B/batch_progress.json" 'd["pending"][0] == "Busy University" and d["stopped"]["limit"] == "max_consecutive_transients" and [o for o, r in R("Busy University")] == ["transient"] * 3 and d["failed"] == []' \
    "progress: school back at the front of pending, 3 transient outcomes, stopped.limit set"
assert_le 2 $((t1 - t0)) "backoff between transient retries (1s, 2s) took $((t1 - t0)) s"
n=$(fake_log "$B" | grep -c '^Other University')
assert_eq "$n" 0 "the next school was not started"
assert_contains "$(subjects "$B" | head -1)" "ralphsup: stopped batch itest:" "last commit: stopped"
no_batch_survivors "$B" "batch B: no survivors"

# ---- batch C: authentication failure is fatal at once (77) ---------------------------
C=$(new_tmp)
LIMITS='stall_timeout = "60s"' make_batch "$C" "Locked University" "Other University"
plan "$C" '{"Locked University": {"default": "api_401"}}'
t0=$(date +%s%N)
rs start "$C/config/batch.toml"
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
assert_eq "$RS_RC" 77 "api_401 in an api_retry line: exit 77"
assert_le "$ms" 5000 "stopped within 5 s (took ${ms} ms; the agent itself would have retried for minutes)"
assert_contains "$RS_OUT" "authentication" "the message is about authentication"
assert_file_json "$C/batch_progress.json" 'd["pending"][0] == "Locked University" and d["failed"] == [] and "authentication" in d["stopped"]["reason"]' \
    "progress: school requeued, no attempt failed, stopped reason names authentication"
no_batch_survivors "$C" "batch C: no survivors (the hanging agent was killed)"

# ---- batch E: `status` while the supervisor waits for a usage-limit reset -------------
E=$(new_tmp)
AGENT_ENV='FAKE_USAGE_RESET_S = "5"' make_batch "$E" "Waiting University"
plan "$E" '{"Waiting University": {"run1": "usage_limit", "default": "done"}}'
bg_start "$E/sup.out" "$RALPHSUP" start "$E/config/batch.toml"
SUP=$BG_PID
# Both forms are asked in the same poll: asked one after the other, the second
# could come after the 5 s wait has ended on a slow machine.
st_waiting() { "$RALPHSUP" status "$E/config/batch.toml" 2>/dev/null | grep -q 'waiting for usage limit reset at'; }
st_json_waiting() {
    "$RALPHSUP" status --json "$E/config/batch.toml" >"$E/status.json" 2>/dev/null
    "$PY" -c 'import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if d["running"] is True and "usage limit reset" in (d.get("waiting") or (d.get("current") or {}).get("waiting") or "") else 1)' "$E/status.json" 2>/dev/null
}
st_both_waiting() { st_waiting && st_json_waiting; }
if wait_for 5 st_both_waiting; then
    ok "status during the wait says \"waiting for usage limit reset at ...\""
    ok "status --json during the wait: running, waiting for the usage limit reset"
else
    not_ok "status and status --json during the wait say it waits for the usage limit reset"
    diag "$("$RALPHSUP" status "$E/config/batch.toml" 2>&1)" "$(cat "$E/status.json" 2>/dev/null)"
fi
bg_wait "$SUP"
assert_eq "$BG_RC" 0 "after the reset the batch goes on and finishes"
no_batch_survivors "$E" "batch E: no survivors"

# ---- batch F: an API key printed by the agent is redacted everywhere --------------------
F=$(new_tmp)
KEY="sk-ant-api03-TESTSECRETxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
AGENT_ENV="ANTHROPIC_API_KEY = \"$KEY\"" make_batch "$F" "Leaky University"
plan "$F" '{"Leaky University": {"default": "leak_key"}}'
rs start "$F/config/batch.toml"
assert_eq "$RS_RC" 0 "leak_key: the batch finishes (the school failed permanently)"
assert_file_json "$F/batch_progress.json" 'W("Leaky University") == "failed"' "leak_key: failed as reported"
leaks=$(grep -rlF "$KEY" "$F/logs" "$F/batch_progress.json" 2>/dev/null)
[ -z "$leaks" ] && ok "the key appears in no log, transcript or progress file" || { not_ok "the key appears in no log, transcript or progress file"; diag $leaks; }
assert_not_contains "$RS_OUT" "$KEY" "the key does not appear in the supervisor's output"
assert_not_contains "$(git -C "$F" log --format=%B)" "$KEY" "the key does not appear in any commit message"
assert_contains "$(cat "$F"/logs/0001-*.jsonl)" "REDACTED" "the transcript shows the redaction"
no_batch_survivors "$F" "batch F: no survivors"

# ---- batch D: agent command missing (69, nothing spawned) -----------------------------
D=$(new_tmp)
make_batch "$D" "Alpha University"
sed -i "s|^command = .*|command = \"$D/no-such-claude\"|" "$D/config/batch.toml"
rs start "$D/config/batch.toml"
assert_eq "$RS_RC" 69 "missing agent command: exit 69"
assert_contains "$RS_OUT" "not found" "the message says the command was not found"
assert_eq "$(find "$D/logs" -name '*.jsonl' ! -name events.jsonl 2>/dev/null | wc -l)" 0 "no transcript: no iteration was spawned"
[ -e "$D/batch_progress.json" ] && not_ok "missing agent command: checked before the first commit (no progress file)" ||
    ok "missing agent command: checked before the first commit (no progress file)"
assert_eq "$(git -C "$D" log --format=%s)" "user: initial commit" "missing agent command: nothing committed"
sed -i 's|^command = .*|command = "no-such-claude-on-path"|' "$D/config/batch.toml"
rs start "$D/config/batch.toml"
assert_eq "$RS_RC" 69 "agent command not on PATH: exit 69"

finish
