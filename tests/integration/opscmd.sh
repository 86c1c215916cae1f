#!/bin/bash
# The operator's commands of issue 14, point 5 (docs/operations.md):
#  - `retry` / `skip` without a supervisor: applied under the lock, one commit,
#    history kept, attempts reset (the retried school gets its full attempts);
#  - unknown school names and schools in the wrong state: 65, the name said,
#    nothing changed;
#  - `retry` / `skip` while `start` runs: the supervisor applies and commits
#    them (one commit each), and runs the retried school;
#  - `start --max-schools N`: a trial run stops cleanly after N schools, exit 0;
#  - `status --watch`: repeated output off a terminal, exits 0 on SIGINT;
#  - the agent does not inherit ralphsup's ignored SIGUSR1 and SIGPIPE;
#  - `stop` / `reload --shard I/N` signal the supervisor of that shard only.
source "$(dirname "$0")/lib.sh"
export ANTHROPIC_API_KEY=sk-ant-test-opscmd-0000
ncommits() { git -C "$1" rev-list --count HEAD; }
pj() { "$PY" -c "import json,sys; p=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$1/batch_progress.json" "$2"; }

# ralphsup ignores SIGUSR1 (a request to the lock's holder) and SIGPIPE (main.c); the agent,
# exec'd by the keeper, must get both back at their defaults (an ignored signal survives exec).
ign=$("$RALPHSUP" keeper --grace 1000 -- /bin/grep '^SigIgn:' /proc/self/status | awk '{print $2}')
assert_eq "$(( 0x${ign:-1} & (1 << 9 | 1 << 12) ))" 0 "the agent's SIGUSR1 and SIGPIPE are not ignored (SigIgn $ign)"

# ---- without a supervisor -------------------------------------------------------------
A=$(new_tmp)
LIMITS='max_attempts_per_school = 2' make_batch "$A" "Alpha University" "Beta University" "Gamma College" "Delta State"
CA="$A/config/batch.toml"
plan "$A" '{"Alpha University": {"run1": "failed_retryable", "run2": "failed_retryable", "default": "done"},
            "Beta University": {"default": "failed_permanent"}}'
rs start "$CA" --max-schools 2
assert_eq "$RS_RC" 0 "start --max-schools 2: exit 0"
assert_contains "$RS_OUT" "trial run: --max-schools 2 reached (2 finished in this run)" "the trial run says why it stopped"
assert_eq "$(pj "$A" "len(p['completed'])+len(p['failed'])")" 2 "two schools finished in the trial run"
assert_eq "$(pj "$A" "p['status'], len(p['pending'])")" "('stopped', 2)" "status stopped, two pending"
assert_eq "$(pj "$A" "p['stopped']['limit']")" max_schools "stopped.limit is max_schools"
assert_eq "$(pj "$A" "[f['name'] for f in p['failed']]")" "['Alpha University', 'Beta University']" "Alpha and Beta failed"

n0=$(ncommits "$A")
rs retry "$CA" "Alpha Universty"
assert_eq "$RS_RC" 65 "retry of an unknown school: 65"
assert_contains "$RS_OUT" 'unknown school "Alpha Universty"' "the unknown name is said"
assert_contains "$RS_OUT" 'did you mean "Alpha University"' "with the nearest name"
rs retry "$CA" "Gamma College"
assert_eq "$RS_RC" 65 "retry of a pending school: 65"
assert_contains "$RS_OUT" '"Gamma College" is pending, not failed' "the state is said"
rs skip "$CA" "Gamma College"
assert_eq "$RS_RC" 64 "skip without --reason: 64"
rs skip "$CA" "Alpha University" --reason "no roster"
assert_eq "$RS_RC" 65 "skip of a failed school: 65"
assert_eq "$(ncommits "$A")" "$n0" "refused requests commit nothing"

rs retry "$CA" "alpha-university"
assert_eq "$RS_RC" 0 "retry by slug: 0"
assert_contains "$RS_OUT" 'retried "Alpha University": back at the front of pending (2 earlier attempts kept' "retry says what it did"
assert_eq "$(ncommits "$A")" "$((n0 + 1))" "retry: one commit"
assert_eq "$(subjects "$A" | head -1)" "ralphsup: retried Alpha University (operator)" "retry's commit subject"
assert_contains "$(git -C "$A" log -1 --format=%B)" "Ralphsup-Event: retried" "retry's trailer"
assert_eq "$(pj "$A" "p['pending'][0]")" "Alpha University" "the retried school is first in pending"
assert_eq "$(pj "$A" "[(h['name'], len(h['attempts']), h['attempts_reset']) for h in p['retry_history']]")" \
    "[('Alpha University', 2, 2)]" "its two attempts are kept in its history, reset"

rs skip "$CA" "Delta State" "Gamma College" --reason "no athletics site"
assert_eq "$RS_RC" 0 "skip of two pending schools: 0"
assert_eq "$(subjects "$A" | head -1)" "ralphsup: skipped Delta State, Gamma College (operator: no athletics site)" "skip's subject"
assert_eq "$(pj "$A" "[f['reason'] for f in p['failed'] if f['name']=='Gamma College']")" \
    "['skipped by the operator: no athletics site']" "the skipped school failed with the operator's reason"
assert_eq "$(pj "$A" "p['pending']")" "['Alpha University']" "only the retried school is pending"

# The retried school gets max_attempts_per_school afresh: run 3 is "done" (2 would have been the last).
rs start "$CA"
assert_eq "$RS_RC" 0 "start after the retry finishes the batch"
assert_eq "$(pj "$A" "[(c['name'], len(c['attempts'])) for c in p['completed']]")" "[('Alpha University', 3)]" \
    "the retried school completed on its third attempt, history kept"
rs status "$CA"
assert_contains "$RS_OUT" "skipped by the operator: no athletics site" "status shows the skip's reason"
rs retry "$CA" --failed
assert_eq "$RS_RC" 0 "retry --failed: 0"
assert_eq "$(pj "$A" "p['pending']")" "['Beta University', 'Delta State', 'Gamma College']" \
    "retry --failed puts every failed school back, in the failed list's order"

# ---- while a supervisor runs -------------------------------------------------------------
B=$(new_tmp)
make_batch "$B" "One College" "Two College" "Three College"
CB="$B/config/batch.toml"
plan "$B" '{"One College": {"run1": "failed_permanent", "default": "done"}, "Two College": {"run1": "hang"}}'
bg_start "$B/sup.out" "$RALPHSUP" start "$CB"
SUP=$BG_PID
wait_for 20 grep -qs '^Two College|.*|hang|' "$B/.fake/log" || not_ok "the second school's agent started"
sleep 0.3
rs retry "$CB" "One College"
assert_eq "$RS_RC" 0 "retry while the supervisor runs: 0"
assert_contains "$RS_OUT" "applied and committed by the running supervisor (PID $SUP)" "the supervisor applied it"
assert_eq "$(subjects "$B" | head -1)" "ralphsup: retried One College (operator)" "the supervisor committed the retry"
rs skip "$CB" "Two College" --reason "hangs"
assert_eq "$RS_RC" 65 "skip of the school in flight: 65"
assert_contains "$RS_OUT" '"Two College" is in flight (attempt 1)' "the school in flight is named"
rs skip "$CB" "Three College" --reason "out of scope"
assert_eq "$RS_RC" 0 "skip while the supervisor runs: 0"
assert_eq "$(subjects "$B" | head -1)" "ralphsup: skipped Three College (operator: out of scope)" "the supervisor committed the skip"
assert_eq "$(ls -A "$B/batch_progress.json.ops" | wc -l)" 0 "the request queue is empty"
# status --watch, not on a terminal: plain repeated output, SIGINT ends it with 0.
"$RALPHSUP" status "$CB" --watch >"$B/watch.out" 2>&1 &
W=$!
T_PIDS+=("$W")
sleep 3
kill -INT "$W"
bg_wait "$W"
assert_eq "$BG_RC" 0 "status --watch exits 0 on SIGINT"
assert_le 2 "$(grep -c '^batch itest' "$B/watch.out")" "status --watch printed the status at least twice in 3 s"
assert_not_contains "$(cat "$B/watch.out")" $'\033' "no escape sequences off a terminal"
# On a terminal (script(1) gives it one): the screen is cleared before each status.
script -qec "timeout -s INT 3 '$RALPHSUP' status '$CB' --watch" "$B/watch.tty" </dev/null >/dev/null 2>&1
assert_le 2 "$(grep -o $'\033\[H\033\[2J' "$B/watch.tty" | wc -l)" "status --watch on a terminal clears and redraws (2 s apart)"
assert_le 2 "$(grep -c 'batch itest' "$B/watch.tty")" "... the status each time"
"$RALPHSUP" stop "$CB" --wait >/dev/null
bg_wait "$SUP"
assert_eq "$BG_RC" 143 "stop: 143"
assert_eq "$(pj "$B" "p['pending']")" "['Two College', 'One College']" \
    "the cancelled school back at the front, the retried one next, the skipped one failed"
assert_contains "$(cat "$B/sup.out")" "retried One College (operator)" "the supervisor's log says the retry"
assert_eq "$(events "$B/logs/events.jsonl" "e['event'] == 'retried'" | wc -l)" 1 "one retried event"

# stop and reload --shard I/N: they find the supervisor of that shard (its own progress file and lock),
# not the unsharded batch's; a bad --shard is a usage error. Birch University and Cedar State hash to
# shard 1 of 2 (docs/scale-out.md), Alder College and Dogwood Tech to shard 0.
S=$(new_tmp)
AGENT_ENV='FAKE_DEFAULT = "slow_done"
FAKE_SLOW_S = "30"' make_batch "$S" "Alder College" "Birch University" "Cedar State" "Dogwood Tech"
CS=$S/config/batch.toml
bg_start "$S/sup.out" "$RALPHSUP" start "$CS" --shard 1/2
SHS=$BG_PID
wait_for 20 grep -qs '"iteration-started"' "$S/logs/shard-1-of-2/events.jsonl"
rs stop "$CS"
assert_eq "$RS_RC" 69 "stop without --shard: no supervisor on the whole batch's lock (69)"
assert_contains "$RS_OUT" "no supervisor is running batch itest" "... and says so"
rs stop "$CS" --shard 0/2
assert_eq "$RS_RC" 69 "stop --shard 0/2: not the running shard (69)"
rs stop "$CS" --shard 3/2
assert_eq "$RS_RC" 64 "stop --shard 3/2: a usage error (64)"
rs reload "$CS" --shard 1/2
assert_eq "$RS_RC" 0 "reload --shard 1/2: signalled"
assert_contains "$RS_OUT" "sent SIGHUP to ralphsup PID $SHS" "... the shard's supervisor"
rs stop "$CS" --shard 1/2 --wait
assert_eq "$RS_RC" 0 "stop --shard 1/2 --wait: signalled and waited"
assert_contains "$RS_OUT" "sent SIGTERM to ralphsup PID $SHS" "... the shard's supervisor"
bg_wait "$SHS"
assert_eq "$BG_RC" 143 "the shard's start exits 143"
assert_contains "$(cat "$S/sup.out")" "reload" "the shard's supervisor logged the reload"
finish
