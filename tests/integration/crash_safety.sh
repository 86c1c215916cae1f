#!/bin/bash
# Crash safety: kill -9 at random moments never leaves an unreadable progress
# file or a corrupt repository. 200 × `init --reset` killed while it saves and
# commits; then a running `start` killed several times at random points, and
# a final `start` still finishes the batch.
source "$(dirname "$0")/lib.sh"

A=$(new_tmp)
make_batch "$A" "Alpha University" "Beta University" "Gamma University" "Delta University" \
    "Epsilon University" "Zeta University"
CA="$A/config/batch.toml"
# git fsck --strict, without the (expected) dangling commits of killed runs in the output
fsck_quiet() { local o r=0; o=$(git -C "$1" fsck --strict --no-progress 2>&1) || r=$?; printf '%s\n' "$o" | grep -v '^dangling ' | grep . | sed 's/^/#   /'; return $r; }
PA="$A/batch_progress.json"
rs init "$CA"
assert_eq "$RS_RC" 0 "init exits 0"

# ---- 200 × kill -9 of init --reset ------------------------------------------------------
out=$("$PY" - "$RALPHSUP" "$CA" "$PA" <<'EOF'
import json, os, random, signal, subprocess, sys, time
exe, cfg, prog = sys.argv[1:4]
random.seed(int(os.environ.get("SEED", "0")) or None)
bad, killed, finished = [], 0, 0
# Calibrate: how long does one init --reset take here?
t = time.monotonic()
subprocess.run([exe, "init", "--reset", cfg], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
               stderr=subprocess.DEVNULL)
dur = time.monotonic() - t
for i in range(200):
    p = subprocess.Popen([exe, "init", "--reset", cfg], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    time.sleep(random.uniform(0, dur * 1.2))
    try:
        p.send_signal(signal.SIGKILL)
    except ProcessLookupError:
        pass
    rc = p.wait()
    if rc == -signal.SIGKILL:
        killed += 1
    else:
        finished += 1
    try:
        with open(prog) as f:
            d = json.load(f)
        if len(d["pending"]) + len(d["completed"]) + len(d["failed"]) != 6:
            bad.append("%d: wrong school count" % i)
    except Exception as e:
        bad.append("%d: %s" % (i, e))
print("duration %.1f ms, killed %d, finished %d" % (dur * 1000, killed, finished))
for b in bad[:10]:
    print("BAD " + b)
EOF
)
echo "# $(echo "$out" | head -1)"
assert_not_contains "$out" "BAD" "after each of 200 kill -9 of init --reset the progress file parses and is complete"
killed=$(echo "$out" | sed -n 's/.*killed \([0-9]*\).*/\1/p' | head -1)
assert_le 50 "${killed:-0}" "most of the 200 runs were really killed mid-way (${killed:-0})"
check "git fsck --strict passes after the kills" fsck_quiet "$A"
left=$(find "$A" -maxdepth 1 -name 'batch_progress.json.tmp*' | wc -l)
diag "temp files of the progress file left by the kills: $left (removed by the next run, which holds the lock)"
stale=$(find "$A/.git" -name '*.lock' | sed "s|^$A/||" | tr '\n' ' ')
rs init --reset "$CA"
assert_eq "$RS_RC" 0 "init --reset after the kills exits 0"
[ -n "$stale" ] && diag "git lock files left by the killed runs: $stale" "$RS_OUT"
same_as_head() { git -C "$A" show HEAD:batch_progress.json 2>/dev/null | cmp -s - "$PA"; }
check "the final init is committed: HEAD holds the progress file on disk" same_as_head
left=$(find "$A" -maxdepth 1 -name 'batch_progress.json.tmp*' | wc -l)
assert_eq "$left" 0 "the next run removed the temp files of killed saves"

# ---- kill -9 of a running start at random points ---------------------------------------------
plan "$A" '{"Gamma University": {"1": "failed_retryable", "default": "done"}}'
for i in 1 2 3 4 5 6 7 8; do
    bg_start "$A/sup.$i.out" "$RALPHSUP" start "$CA"
    sleep "0.$(printf '%03d' $((RANDOM % 400)))"
    kill -KILL "$BG_PID" 2>/dev/null
    bg_wait "$BG_PID"
    "$PY" -c 'import json,sys; json.load(open(sys.argv[1]))' "$PA" 2>/dev/null && ok "start killed at a random point ($i): progress file parses (rc $BG_RC)" ||
        not_ok "start killed at a random point ($i): progress file parses"
done
check "git fsck --strict passes after killing start" fsck_quiet "$A"
rs start "$CA"
assert_eq "$RS_RC" 0 "start again finishes the batch"
[ "$RS_RC" = 0 ] || diag "$RS_OUT"
assert_file_json "$PA" 'd["status"] == "finished" and len(d["completed"]) == 6 and d["pending"] == [] and d["current"] is None' \
    "all 6 schools completed"
assert_file_json "$PA" 'all(a["outcome"] in ("completed", "failed") for x in d["completed"] for a in x["attempts"])' \
    "no cancelled/stopped attempts recorded (kill -9 interruptions are not attempts)"
check "the final run is committed: HEAD holds the progress file on disk" same_as_head
[ "$RS_RC" = 0 ] && ! same_as_head && diag "$RS_OUT"
no_batch_survivors "$A" "no agent process survives"

# ---- a kill -9 between save and commit: the next start commits what is on disk ---------------
# (Simulated exactly: the last commit undone, the file on disk kept, as a kill after the save leaves it.)
git -C "$A" reset -q --soft HEAD~1
git -C "$A" reset -q
check "the progress file differs from HEAD after the simulated kill" eval "! same_as_head"
rs start "$CA"
assert_eq "$RS_RC" 0 "start on the finished batch exits 0"
assert_contains "$RS_OUT" "as a previous run left it" "start says it committed the uncommitted progress file"
check "HEAD holds the progress file again" same_as_head
ev=$(git -C "$A" log -1 --format='%(trailers:key=Ralphsup-Event,valueonly)' | tr -d '\n')
assert_eq "$ev" "uncommitted" "the catch-up commit has Ralphsup-Event: uncommitted"
n0=$(git -C "$A" rev-list --count HEAD)
rs start "$CA"
assert_eq "$(git -C "$A" rev-list --count HEAD)" "$n0" "a second start commits nothing (the file is committed)"
check "git fsck --strict passes at the end" fsck_quiet "$A"

finish
