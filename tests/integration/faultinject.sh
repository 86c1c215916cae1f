#!/bin/bash
# Fault injection, one row of docs/failures.md's "Faults" table each (issue 12,
# point 4): EIO and ENOSPC on the progress save and on the git commit (an
# LD_PRELOAD shim, tests/fixtures/faultshim.c, armed mid-run), a read-only batch
# directory (a read-only bind mount), .git/index.lock held by another process,
# the output directory deleted mid-run, the prompt file deleted before a
# SIGHUP, a config made invalid and then SIGHUP, and the wall clock stepped a
# day back and forth (the shim again) while deadlines must hold. Each case
# checks the message, the exit code and that the state is intact: the progress
# file parses, nothing completed is lost, the next start finishes the batch,
# and git fsck is clean. (stdout a closed pipe or /dev/full: stdout.sh.)
#
# Two halves, each a meson test bounded to 60 s: `faultinject.sh io` (the write faults,
# read-only, index.lock) and `faultinject.sh ops` (output dir, prompt, SIGHUP, clock);
# no argument runs both.
source "$(dirname "$0")/lib.sh"
PART=${1:-all}
part() { [ "$PART" = all ] || [ "$PART" = "$1" ]; }

: "${FAULTSHIM:=$RALPHSUP_BUILD_ROOT/tests/integration/faultshim.so}"
[ -f "$FAULTSHIM" ] || { echo "not ok 1 - fault shim $FAULTSHIM missing"; exit 1; }
# Under ASan (the sanitizer build of the suite) the ASan runtime must come first in
# the list of preloaded libraries, before the shim (which the sanitizer build links
# against it too): preload it explicitly, as ASan's own message asks.
asan_rt=$(ldd "$RALPHSUP" 2>/dev/null | awk '$1 ~ /^libasan\.so/ { print $3; exit }')
[ -n "$asan_rt" ] && FAULTSHIM="$asan_rt $FAULTSHIM"
uptime_s() { cut -d' ' -f1 /proc/uptime; } # the test's own clock: never stepped

# intact DIR DESC: the progress file parses, git fsck is clean
intact() {
    check "$2: the progress file parses" "$PY" -c 'import json,sys; json.load(open(sys.argv[1]))' "$1/batch_progress.json"
    check "$2: git fsck --strict is clean" git -C "$1" fsck --strict --no-progress
}
# finish_again DIR N DESC: a start without the fault finishes the batch, N completed, each school once
finish_again() {
    rs start "$1/config/batch.toml"
    assert_eq "$RS_RC" 0 "$3: the next start finishes the batch (0)"
    [ "$RS_RC" = 0 ] || diag "$RS_OUT"
    assert_file_json "$1/batch_progress.json" "d['status'] == 'finished' and len(d['completed']) == $2 and len(set(x['name'] for x in d['completed'])) == $2" \
        "$3: all $2 schools completed, none twice"
}
started() { grep -qs "^$2|" "$1/.fake/log"; }

# ---- EIO / ENOSPC on the progress save, mid-run ---------------------------------------------
part io && for fault in 5:EIO 28:ENOSPC; do
    en=${fault%%:*} name=${fault#*:}
    A=$(new_tmp)
    AGENT_ENV='FAKE_SLOW_S = "1"' make_batch "$A" "First University" "Second University" "Third University"
    plan "$A" '{"Second University": {"default": "slow_done"}}'
    FAULT_ARM="$A/.arm" FAULT_PATH="$A/batch_progress.json" FAULT_ERRNO=$en LD_PRELOAD="$FAULTSHIM" \
        bg_start "$A/sup.out" "$RALPHSUP" start "$A/config/batch.toml"
    SUP=$BG_PID
    wait_for 20 started "$A" "Second University" && touch "$A/.arm"
    bg_wait "$SUP"
    rm -f "$A/.arm"
    out=$(cat "$A/sup.out")
    assert_eq "$BG_RC" 74 "$name on the progress save: exit 74"
    assert_contains "$out" "cannot save progress: $(python3 -c "import os; print(os.strerror($en))")" "$name on the progress save: the error is said"
    assert_contains "$out" "fatal: cannot save the progress file; stopping" "$name on the progress save: says it stops"
    assert_eq "$(events "$A/logs/events.jsonl" 'e.get("event") == "save-failed"' | wc -l)" 1 "$name on the progress save: one save-failed event"
    assert_eq "$(grep -c '^Third University|' "$A/.fake/log")" 0 "$name on the progress save: nothing started after it"
    assert_file_json "$A/batch_progress.json" 'W("First University") == "completed" and W("Second University") != "completed"' \
        "$name on the progress save: the file on disk is the last good save (First completed, Second not)"
    intact "$A" "$name on the progress save"
    no_batch_survivors "$A" "$name on the progress save: no survivors"
    finish_again "$A" 3 "$name on the progress save"
done

# ---- EIO / ENOSPC on the git commit, mid-run: the audit trail never fails the batch ---------
part io && for fault in 5:EIO 28:ENOSPC; do
    en=${fault%%:*} name=${fault#*:}
    G=$(new_tmp)
    AGENT_ENV='FAKE_SLOW_S = "1"' make_batch "$G" "First University" "Second University" "Third University"
    plan "$G" '{"Second University": {"default": "slow_done"}, "Third University": {"default": "slow_done"}}'
    FAULT_ARM="$G/.arm" FAULT_PATH="$G/.git/objects/" FAULT_ERRNO=$en LD_PRELOAD="$FAULTSHIM" \
        bg_start "$G/sup.out" "$RALPHSUP" start "$G/config/batch.toml"
    SUP=$BG_PID
    wait_for 20 started "$G" "Second University" && touch "$G/.arm"
    wait_for 20 started "$G" "Third University" && rm -f "$G/.arm"
    bg_wait "$SUP"
    out=$(cat "$G/sup.out")
    assert_eq "$BG_RC" 0 "$name on the git commit: the batch goes on and finishes (0)"
    assert_contains "$out" "warning: git: commit \"ralphsup: completed Second University" "$name on the git commit: the failed commit is named"
    assert_contains "$out" "$(python3 -c "import os; print(os.strerror($en))")" "$name on the git commit: the error is said"
    assert_file_json "$G/batch_progress.json" 'd["status"] == "finished" and len(d["completed"]) == 3' \
        "$name on the git commit: the progress file has every school"
    assert_eq "$(subjects "$G" | grep -c '^ralphsup: completed Second University')" 0 "$name on the git commit: that commit is missing"
    assert_contains "$(subjects "$G" | head -1)" "ralphsup: finished batch itest: 3 completed" \
        "$name on the git commit: the later commits carry the file (the last says finished)"
    assert_eq "$(git -C "$G" show HEAD:batch_progress.json | cmp - "$G/batch_progress.json" && echo same)" same \
        "$name on the git commit: HEAD holds the progress file as saved"
    intact "$G" "$name on the git commit"
done

# ---- a read-only batch directory ------------------------------------------------------------------
if part io; then
R=$(new_tmp)
AGENT_ENV='FAKE_SLOW_S = "1"' make_batch "$R" "First University" "Second University" "Third University"
plan "$R" '{"Second University": {"default": "slow_done"}}'
rs init "$R/config/batch.toml"
head0=$(git -C "$R" rev-parse HEAD)
if mount --bind "$R" "$R" 2>/dev/null && mount -o remount,ro,bind "$R"; then
    rs start "$R/config/batch.toml"
    umount "$R"
    assert_eq "$RS_RC" 73 "read-only batch directory at start: exit 73"
    assert_contains "$RS_OUT" "cannot take the lock next to $R/batch_progress.json: Read-only file system" \
        "read-only batch directory at start: says where and why"
    assert_eq "$(git -C "$R" rev-parse HEAD)" "$head0" "read-only batch directory at start: nothing committed"
    assert_eq "$(fake_log "$R" | wc -l)" 0 "read-only batch directory at start: nothing run"
    # Made read-only in the middle of a run: the next save fails, 74.
    bg_start "$R/sup.out" "$RALPHSUP" start "$R/config/batch.toml"
    SUP=$BG_PID
    wait_for 20 started "$R" "Second University" && mount --bind "$R" "$R" && mount -o remount,ro,bind "$R"
    bg_wait "$SUP"
    umount "$R"
    out=$(cat "$R/sup.out")
    assert_eq "$BG_RC" 74 "batch directory made read-only mid-run: exit 74"
    assert_contains "$out" "cannot save progress: Read-only file system" "batch directory made read-only mid-run: said"
    assert_eq "$(grep -c '^Third University|' "$R/.fake/log")" 0 "batch directory made read-only mid-run: nothing started after it"
    assert_file_json "$R/batch_progress.json" 'W("First University") == "completed"' "read-only mid-run: First stays completed"
    intact "$R" "read-only mid-run"
    no_batch_survivors "$R" "read-only mid-run: no survivors"
    finish_again "$R" 3 "read-only mid-run"
else
    not_ok "read-only bind mount of $R (needs root)"
fi
fi

# ---- .git/index.lock held by another process for the whole run -----------------------------------
if part io; then
I=$(new_tmp)
make_batch "$I" "First University" "Second University" "Third University"
rs init "$I/config/batch.toml"
( exec 9>"$I/.git/index.lock"; exec sleep 300 ) &
LOCKER=$!
T_PIDS+=("$LOCKER")
wait_for 5 test -e "$I/.git/index.lock"
t0=$(uptime_s)
rs start "$I/config/batch.toml"
t1=$(uptime_s)
assert_eq "$RS_RC" 0 "index.lock held by another process: the batch finishes (0)"
assert_le "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" 40 "index.lock held: each wait is bounded (the run took $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s)"
assert_eq "$(subjects "$I" | grep -c '^ralphsup: completed')" 3 "index.lock held: every transition is committed (commits do not use the index)"
assert_eq "$(grep -c 'the index was not refreshed' <<<"$RS_OUT")" 1 "index.lock held: the stale index is said, once"
assert_contains "$RS_OUT" "git reset -q -- batch_progress.json" "index.lock held: the way to fix the index is said"
pid_alive "$LOCKER" && ok "index.lock held: the other process's lock is left alone" || not_ok "index.lock held: the other process's lock is left alone"
test -e "$I/.git/index.lock" && ok "index.lock held: the lock file is not removed" || not_ok "index.lock held: the lock file is not removed"
kill "$LOCKER"; wait "$LOCKER" 2>/dev/null; rm -f "$I/.git/index.lock"
git -C "$I" reset -q -- batch_progress.json
assert_eq "$(git -C "$I" status --porcelain -- batch_progress.json)" "" "index.lock released and the index reset: batch_progress.json is clean"
intact "$I" "index.lock held"
fi

# ---- the output directory deleted mid-run ------------------------------------------------------
if part ops; then
O=$(new_tmp)
AGENT_ENV='FAKE_SLOW_S = "1"' make_batch "$O" "First University" "Second University" "Third University"
sed -i 's/^author_name = "ralphsup"/&\ninclude_outputs = true/' "$O/config/batch.toml"
plan "$O" '{"Second University": {"default": "slow_done"}}'
bg_start "$O/sup.out" "$RALPHSUP" start "$O/config/batch.toml"
SUP=$BG_PID
wait_for 20 started "$O" "Second University" && rm -rf "$O/output"
bg_wait "$SUP"
assert_eq "$BG_RC" 0 "output directory deleted mid-run: the batch goes on and finishes (0)"
assert_file_json "$O/batch_progress.json" 'd["status"] == "finished" and len(d["completed"]) == 3' \
    "output directory deleted mid-run: every school completed"
check "output directory deleted mid-run: the next school's CSV is written again" test -s "$O/output/third-university.csv"
rs report "$O/config/batch.toml"
assert_contains "$RS_OUT" "output/first-university.csv: completed school \"First University\": cannot open: No such file or directory" \
    "output directory deleted mid-run: report names the lost CSV (partial)"
check "output directory deleted mid-run: with [git] include_outputs the CSV is in git" git -C "$O" cat-file -e HEAD:output/first-university.csv
git -C "$O" checkout -q HEAD -- output/first-university.csv
check "output directory deleted mid-run: git checkout restores it" test -s "$O/output/first-university.csv"
intact "$O" "output directory deleted"
fi

# ---- the prompt file deleted / made invalid, then SIGHUP -----------------------------------------
part ops && for how in deleted invalid; do
    Q=$(new_tmp)
    AGENT_ENV='FAKE_SLOW_S = "2"' make_batch "$Q" "First University" "Second University" "Third University"
    plan "$Q" '{"First University": {"default": "slow_done"}, "Second University": {"default": "slow_done"}}'
    bg_start "$Q/sup.out" "$RALPHSUP" start "$Q/config/batch.toml"
    SUP=$BG_PID
    wait_for 20 started "$Q" "First University"
    if [ $how = deleted ]; then rm "$Q/prompts/batch_loop.md"; else echo 'Write {{csv_pathh}} now.' >>"$Q/prompts/batch_loop.md"; fi
    kill -HUP "$SUP"
    wait_for 20 started "$Q" "Second University" && kill -TERM "$SUP"
    bg_wait "$SUP"
    assert_eq "$BG_RC" 143 "prompt $how, then SIGHUP: the batch went on with the template it loaded (stopped by SIGTERM: 143)"
    assert_eq "$(grep -c "^Second University|" "$Q/.fake/log")" 1 "prompt $how, then SIGHUP: the next school was started after the reload"
    check "prompt $how, then SIGHUP: the next agent got the loaded prompt" grep -q '^Attempt: 1 of 3' "$Q/.fake/Second_University.prompt1"
    head1=$(git -C "$Q" rev-parse HEAD)
    rs start "$Q/config/batch.toml"
    want=66
    [ $how = invalid ] && want=78
    assert_eq "$RS_RC" $want "prompt $how: the next start refuses ($want)"
    if [ $how = deleted ]; then
        assert_contains "$RS_OUT" "prompts/batch_loop.md: cannot read the prompt template: No such file or directory" "prompt deleted: the next start names the file"
    else
        assert_contains "$RS_OUT" "unknown placeholder {{csv_pathh}}" "prompt invalid: the next start names the placeholder"
    fi
    assert_eq "$(git -C "$Q" rev-parse HEAD)" "$head1" "prompt $how: the refused start committed nothing"
    cp "$RALPHSUP_SOURCE_ROOT/prompts/batch_loop.md" "$Q/prompts/"
    intact "$Q" "prompt $how"
    finish_again "$Q" 3 "prompt $how, restored"
done

# ---- a config made invalid, then SIGHUP: the old limits stay; said, logged and committed ---------
if part ops; then
H=$(new_tmp)
AGENT_ENV='FAKE_SLOW_S = "3"' make_batch "$H" "First University" "Second University"
plan "$H" '{"First University": {"default": "slow_done"}}'
bg_start "$H/sup.out" "$RALPHSUP" start "$H/config/batch.toml"
SUP=$BG_PID
wait_for 20 started "$H" "First University"
sed -i 's/^stall_timeout = .*/stall_timeout = "soon"/' "$H/config/batch.toml"
kill -HUP "$SUP"
bg_wait "$SUP"
out=$(cat "$H/sup.out")
assert_eq "$BG_RC" 0 "invalid config, then SIGHUP: the batch finishes under the old limits (0)"
assert_contains "$out" "SIGHUP: config reload failed, keeping the current limits" "invalid config, then SIGHUP: said"
assert_contains "$out" "stall_timeout" "invalid config, then SIGHUP: the bad key is named"
assert_eq "$(events "$H/logs/events.jsonl" 'e.get("event") == "reload-failed" and "stall_timeout" in e.get("message", "")' | wc -l)" 1 \
    "invalid config, then SIGHUP: one reload-failed event naming the key"
c=$(git -C "$H" log --format=%H --grep='^Ralphsup-Event: reload-failed' | head -1)
if [ -n "$c" ]; then
    ok "invalid config, then SIGHUP: a reload-failed commit"
    assert_contains "$(git -C "$H" log -1 --format=%s "$c")" "ralphsup: config reload failed, limits kept: " "the commit subject says the limits were kept"
    assert_contains "$(git -C "$H" log -1 --format=%B "$c")" "stall_timeout" "the commit names the key"
else
    not_ok "invalid config, then SIGHUP: a reload-failed commit"
    diag "$(subjects "$H")"
fi
assert_file_json "$H/batch_progress.json" 'd["status"] == "finished" and len(d["completed"]) == 2' "invalid config, then SIGHUP: both schools completed"
intact "$H" "invalid config, then SIGHUP"
fi

# ---- the wall clock stepped a day back and forth: deadlines are monotonic ----------------------------
if part ops; then
K=$(new_tmp)
LIMITS='stall_timeout = "3s"
iteration_timeout = "5s"
max_runtime = "10m"' make_batch "$K" "Hang University" "Slow University" "Done University"
plan "$K" '{"Hang University": {"1": "hang", "default": "done"}, "Slow University": {"1": "slow_output", "default": "done"}}'
echo 0 >"$K/.clock"
( s=86400; while :; do echo "$s" >"$K/.clock.new" && mv "$K/.clock.new" "$K/.clock"; s=$((-s)); sleep 0.4; done ) &
STEPPER=$!
T_PIDS+=("$STEPPER")
t0=$(uptime_s)
FAULT_CLOCK="$K/.clock" LD_PRELOAD="$FAULTSHIM" timeout 50 "$RALPHSUP" start "$K/config/batch.toml" </dev/null >"$K/out" 2>&1
rc=$?
t1=$(uptime_s)
kill "$STEPPER"; wait "$STEPPER" 2>/dev/null
took=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
assert_eq "$rc" 0 "clock stepped ±1 day every 0.4 s: the batch finishes (0), max_runtime 10m not crossed"
[ "$rc" = 0 ] || diag "$(tail -20 "$K/out")"
assert_le "$took" 40 "clock stepped: the run took $took s of monotonic time"
assert_file_json "$K/batch_progress.json" '"stall_timeout" in R("Hang University")[0][1] and 2.5 <= S("Hang University")["attempts"][0]["duration_s"] < 8' \
    "clock stepped: stall_timeout (3s) fired after 3 s, and the recorded duration is right"
assert_file_json "$K/batch_progress.json" '"iteration_timeout" in R("Slow University")[0][1] and 4.5 <= S("Slow University")["attempts"][0]["duration_s"] < 10' \
    "clock stepped: iteration_timeout (5s) fired after 5 s, and the recorded duration is right"
assert_file_json "$K/batch_progress.json" 'all(0 <= a["duration_s"] < 60 for x in d["completed"] for a in x["attempts"])' \
    "clock stepped: no attempt has a negative or day-long duration"
assert_file_json "$K/batch_progress.json" 'len(d["completed"]) == 3' "clock stepped: all three completed"
days=$(cut -c1-200 "$K/logs/events.jsonl" | grep -o '"ts": *"[0-9-]*' | sort -u | wc -l)
assert_le 2 "$days" "clock stepped: the shim was in effect (the events carry $days different dates)"
intact "$K" "clock stepped"
fi


finish
