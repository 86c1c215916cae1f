#!/bin/bash
# The bookkeeping commands on a copy of the real batch (config/west.toml):
# init, status, init --reset / --resume, resume, recover; validation of a bad
# school list (65) and a bad config (78); and the one-supervisor lock (75).
source "$(dirname "$0")/lib.sh"

W=$(new_tmp)
mkdir -p "$W/config" "$W/data" "$W/prompts"
cp "$RALPHSUP_SOURCE_ROOT/config/west.toml" "$W/config/"
cp "$RALPHSUP_SOURCE_ROOT/data/target_schools_west.json" "$RALPHSUP_SOURCE_ROOT/data/school_aliases.json" "$W/data/"
cp "$RALPHSUP_SOURCE_ROOT/prompts/batch_loop.md" "$W/prompts/"
git -C "$W" init -q
CW="$W/config/west.toml"
PW="$W/batch_progress.json"

# ---- init ----------------------------------------------------------------------------
rs init "$CW"
assert_eq "$RS_RC" 0 "init on a copy of config/west.toml exits 0"
assert_contains "$RS_OUT" "24 pending, 0 completed, 0 failed" "init reports 24 pending"
assert_file_json "$PW" 'len(d["pending"]) == 24 and d["completed"] == [] and d["failed"] == [] and d["current"] is None and d["status"] == "initialized" and d["batch_name"] == "west-2026"' \
    "progress file: 24 pending, nothing else"
assert_file_json "$PW" 'd["pending"][:2] == ["University of California, Los Angeles", "University of Southern California"] and d["pending"][-1] == "University of Wyoming"' \
    "pending is in priority order (priority 1 first, list order within a priority)"
assert_eq "$(git -C "$W" rev-list --count HEAD)" 1 "exactly one commit"
assert_eq "$(git -C "$W" log -1 --format=%s)" "ralphsup: initialized batch west-2026 (24 schools pending)" "commit subject"
tr=$(git -C "$W" log -1 --format=%B | git interpret-trailers --parse)
assert_contains "$tr" "Ralphsup-Event: init" "commit trailer Ralphsup-Event: init"
assert_contains "$tr" "Ralphsup-Batch: west-2026" "commit trailer Ralphsup-Batch"
assert_eq "$(git -C "$W" show HEAD:batch_progress.json | cmp - "$PW" && echo same)" same "the committed file is the file on disk"
assert_eq "$(git -C "$W" status --porcelain -- batch_progress.json)" "" "progress file clean in git status"

# ---- status ----------------------------------------------------------------------------
rs status "$CW"
assert_eq "$RS_RC" 0 "status exits 0"
assert_contains "$RS_OUT" "batch west-2026: 0 completed, 0 failed, 24 pending (of 24)" "status text counts"
assert_contains "$RS_OUT" "supervisor: not running" "status text: not running"
RS_JSON=$("$RALPHSUP" status --json "$CW")
printf '%s' "$RS_JSON" >"$W/status.json"
assert_file_json "$W/status.json" 'd["total"] == 24 and d["pending"] == 24 and d["completed"] == 0 and d["running"] is False and d["current"] is None and d["eta_s"] is None' \
    "status --json parses and has the counts"

# ---- the ETA divides the work left by the concurrency achieved (issue 11) ----------------
# 4 schools completed in 100 s each, 20 pending: ETA 20 × 100 s / 4 when the four ran at once,
# 20 × 100 s when they ran one after another (a gap between them does not count).
cp "$PW" "$W/progress.saved"
eta_with() { # START_OFFSETS... (seconds): write the file, print status --json's eta_s
    "$PY" - "$PW" "$@" <<'EOF'
import json, sys, re, datetime
p = sys.argv[1]; offs = [int(x) for x in sys.argv[2:]]
d = json.load(open(p))
t0 = datetime.datetime(2026, 11, 24, 20, 0, 0, tzinfo=datetime.timezone.utc)
iso = lambda s: (t0 + datetime.timedelta(seconds=s)).strftime("%Y-%m-%dT%H:%M:%SZ")
done, d["pending"] = d["pending"][:len(offs)], d["pending"][len(offs):]
for i, (name, o) in enumerate(zip(done, offs)):
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    a = {"attempt": 1, "iteration": i + 1, "started": iso(o), "finished": iso(o + 100), "duration_s": 100.0,
         "cost_usd": 0.5, "cost_estimated": False, "outcome": "completed", "class": "completed", "reason": None,
         "exit_status": "exit 0"}
    d["completed"].append({"name": name, "slug": slug, "started": iso(o), "finished": iso(o + 100),
                           "duration_s": 100.0, "cost_usd": 0.5, "coaches": 3, "overlaps": 0,
                           "csv": "output/schools/%s.csv" % slug, "attempts": [a]})
d["iterations"] = len(offs); d["cost_usd"] = 0.5 * len(offs)
json.dump(d, open(p, "w"), indent=2)
EOF
    "$RALPHSUP" status --json "$CW" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["eta_s"])'
    cp "$W/progress.saved" "$PW"
}
assert_eq "$(eta_with 0 0 0 0)" "500.0" "status ETA: 4 schools that ran at once → 20 × 100 s / 4"
assert_eq "$(eta_with 0 100 300 1000)" "2000.0" "status ETA: 4 schools one after another (with gaps) → 20 × 100 s"
assert_eq "$(eta_with 0 0 100 100)" "1000.0" "status ETA: 4 schools two at a time → concurrency 2"

# ---- init again ----------------------------------------------------------------------------
before=$(git -C "$W" rev-parse HEAD)
rs init "$CW"
assert_eq "$RS_RC" 64 "init again without --reset/--resume and without a TTY: exit 64"
assert_contains "$RS_OUT" "--reset" "the refusal names --reset"
assert_eq "$(git -C "$W" rev-parse HEAD)" "$before" "nothing committed by the refusal"

rs init --reset "$CW"
assert_eq "$RS_RC" 0 "init --reset exits 0"
assert_eq "$(git -C "$W" log -1 --format=%s)" "ralphsup: reset batch west-2026 (24 schools pending)" "reset commit subject"
assert_contains "$(git -C "$W" log -1 --format=%B | git interpret-trailers --parse)" "Ralphsup-Event: reset" "reset trailer"

# --resume: add a school (with its alias entry), remove one
"$PY" - "$W/data" <<'EOF'
import json, sys
d = sys.argv[1]
l = json.load(open(d + "/target_schools_west.json"))
l["schools"] = [s for s in l["schools"] if s["name"] != "University of Wyoming"]
l["schools"].append({"name": "Seattle U", "conference": "WAC", "state": "WA", "priority": 1})
json.dump(l, open(d + "/target_schools_west.json", "w"), indent=1)
a = json.load(open(d + "/school_aliases.json"))
a["Seattle University"] = ["Seattle U", "SeattleU"]
json.dump(a, open(d + "/school_aliases.json", "w"), indent=1)
EOF
rs init --resume "$CW"
assert_eq "$RS_RC" 0 "init --resume exits 0"
assert_contains "$RS_OUT" "University of Wyoming" "--resume reports the removed school"
assert_file_json "$PW" 'd["pending"][-1] == "Seattle University" and "University of Wyoming" not in d["pending"] and len(d["pending"]) == 24' \
    "--resume: the new school (given by alias) appended under its canonical name, the removed one dropped"
assert_contains "$(git -C "$W" log -1 --format=%s)" "ralphsup: resumed batch west-2026 (2 changes)" "--resume commit subject counts 2 changes"
assert_contains "$(git -C "$W" log -1 --format=%B | git interpret-trailers --parse)" "Ralphsup-Event: reconciled" "--resume trailer"
rs init --reset --resume "$CW"
assert_eq "$RS_RC" 64 "--reset with --resume is a usage error (64)"

# ---- resume ------------------------------------------------------------------------------
before=$(git -C "$W" rev-parse HEAD)
rs resume "$CW"
assert_eq "$RS_RC" 0 "resume with nothing current exits 0"
assert_contains "$RS_OUT" "nothing to resume" "resume says there is nothing to resume"
assert_eq "$(git -C "$W" rev-parse HEAD)" "$before" "resume with nothing current commits nothing"
# Make a school current as a killed supervisor would leave it.
"$PY" - "$PW" <<'EOF'
import json, sys
p = sys.argv[1]
d = json.load(open(p))
name = d["pending"].pop(0)
d["current"] = {"name": name, "slug": "university-of-california-los-angeles", "attempt": 1, "iteration": 1,
                "started": "2026-11-24T10:00:00Z", "supervisor_pid": 999999, "pid": 0,
                "run_token": "university-of-california-los-angeles:1:999999:deadbeef"}
d["iterations"] = 1
d["status"] = "running"
json.dump(d, open(p, "w"), indent=2)
EOF
rs status "$CW"
assert_contains "$RS_OUT" "current: University of California, Los Angeles" "status shows the interrupted current school"
rs resume "$CW"
assert_eq "$RS_RC" 0 "resume exits 0"
assert_file_json "$PW" 'd["current"] is None and d["pending"][0] == "University of California, Los Angeles" and d["pending"].count("University of California, Los Angeles") == 1 and len(d["pending"]) == 24' \
    "resume puts the current school back at the front of pending"
assert_contains "$(git -C "$W" log -1 --format=%s)" "ralphsup: requeued University of California, Los Angeles" "resume commit subject"
before=$(git -C "$W" rev-parse HEAD)
cp "$PW" "$W/before.json"
rs resume "$CW"
assert_eq "$RS_RC" 0 "resume again exits 0"
assert_eq "$(git -C "$W" rev-parse HEAD)" "$before" "resume is idempotent: no new commit"
"$PY" -c 'import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); a.pop("last_updated"); b.pop("last_updated"); sys.exit(a!=b)' "$PW" "$W/before.json" &&
    ok "resume is idempotent: same state" || not_ok "resume is idempotent: same state"

# ---- recover --------------------------------------------------------------------------------
good=$(git -C "$W" rev-parse HEAD)
rs recover "$CW"
assert_eq "$RS_RC" 0 "recover on a good file exits 0"
assert_contains "$RS_OUT" "nothing to recover" "recover on a good file does nothing"
rm "$PW"
rs status "$CW"
assert_eq "$RS_RC" 66 "status without a progress file: exit 66"
rs recover "$CW"
assert_eq "$RS_RC" 0 "recover after deleting the progress file exits 0"
assert_contains "$RS_OUT" "${good:0:12}" "recover names the commit it restored from"
assert_eq "$(git -C "$W" show "$good:batch_progress.json" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["pending"])')" \
    "$(json_get "$PW" 'd["pending"]' | tr -d '\n' | "$PY" -c 'import json,sys; print(json.loads(sys.stdin.read()))')" \
    "recover restored the newest good version (same pending list)"
assert_contains "$(git -C "$W" log -1 --format=%s)" "ralphsup: recovered progress file from commit ${good:0:12}" "recover commit subject names the commit"
assert_contains "$(git -C "$W" log -1 --format=%B)" "missing" "recover commit body says the file was missing"
# Corrupt it (the newest committed version is the recovered one, which is good).
good=$(git -C "$W" rev-parse HEAD)
printf '{"schema_version": 1, "pending": [' >"$PW"
rs start "$CW"
assert_eq "$RS_RC" 65 "start with an unreadable progress file: exit 65"
assert_contains "$RS_OUT" "ralphsup recover" "start points at ralphsup recover"
rs recover "$CW"
assert_eq "$RS_RC" 0 "recover after corrupting the progress file exits 0"
assert_contains "$RS_OUT" "${good:0:12}" "recover names the newest good commit"
assert_file_json "$PW" 'len(d["pending"]) == 24 and d["pending"][0] == "University of California, Los Angeles"' "recovered file parses and has the state"
assert_contains "$(git -C "$W" log -1 --format=%B)" "unreadable" "recover commit body says the file was unreadable"
check "git fsck --strict passes" git -C "$W" fsck --strict --no-progress

# ---- a bad school list: every problem, with positions, nothing written ---------------------
X=$(new_tmp)
mkdir -p "$X/config" "$X/data" "$X/prompts"
cp "$RALPHSUP_SOURCE_ROOT/config/west.toml" "$X/config/"
cp "$RALPHSUP_SOURCE_ROOT/data/school_aliases.json" "$X/data/"
cp "$RALPHSUP_SOURCE_ROOT/prompts/batch_loop.md" "$X/prompts/"
cat >"$X/data/target_schools_west.json" <<'EOF'
{
  "batch_name": "west-2026",
  "schools": [
    {"name": "University of California, Los Angeles", "conference": "Big Ten", "state": "CA", "priority": 1},
    {"name": "UCLA", "conference": "Big Ten", "state": "CA"},
    {"name": "University of Oregon", "conference": "Big Ten", "state": "OR", "priority": 5},
    {"name": "University of Washington", "state": "WA"},
    {"name": "University of Utah" "conference": "Big 12", "state": "UT"},
    {"name": "Stanford University", "conference": "ACC", "state": "CA"}
  ]
}
EOF
git -C "$X" init -q
rs init "$X/config/west.toml"
assert_eq "$RS_RC" 65 "a bad school list: exit 65"
assert_contains "$RS_OUT" "target_schools_west.json:5:5:" "duplicate reported at its position (5:5)"
assert_contains "$RS_OUT" "duplicate of schools[0]" "duplicate-by-alias names the earlier entry"
assert_contains "$RS_OUT" "target_schools_west.json:6:5:" "bad priority reported at its position (6:5)"
assert_contains "$RS_OUT" "priority must be 1, 2 or 3, got 5" "bad priority message"
assert_contains "$RS_OUT" "target_schools_west.json:7:5:" "missing field reported at its position (7:5)"
assert_contains "$RS_OUT" "missing required field \"conference\"" "missing field message"
assert_contains "$RS_OUT" "target_schools_west.json:8:" "syntax error reported on its line (8)"
assert_contains "$RS_OUT" "JSON syntax error" "syntax error message"
n=$(printf '%s\n' "$RS_OUT" | grep -c 'target_schools_west.json:[0-9]*:[0-9]*:')
assert_eq "$n" 4 "exactly four problems reported"
[ -e "$X/batch_progress.json" ] && not_ok "no progress file written" || ok "no progress file written"
git -C "$X" rev-parse -q --verify HEAD >/dev/null && not_ok "no commit made" || ok "no commit made"
rs start "$X/config/west.toml"
assert_eq "$RS_RC" 65 "start with the bad list: exit 65 too"
[ -e "$X/batch_progress.json" ] && not_ok "start wrote no progress file" || ok "start wrote no progress file"

# ---- an invalid config: 78 with file:line:col ----------------------------------------------
cp "$RALPHSUP_SOURCE_ROOT/data/target_schools_west.json" "$X/data/"
sed -i 's/^order = "priority"/ordr = "priority"/; s/^max_attempts_per_school = 3 /max_attempts_per_school = 0 /' "$X/config/west.toml"
l1=$(grep -n '^ordr' "$X/config/west.toml" | cut -d: -f1)
l2=$(grep -n '^max_attempts_per_school' "$X/config/west.toml" | cut -d: -f1)
rs init "$X/config/west.toml"
assert_eq "$RS_RC" 78 "an invalid config: exit 78"
assert_contains "$RS_OUT" "west.toml:$l1:1: [batch] ordr: unknown key; did you mean 'order'?" "unknown key with file:line:col and a suggestion"
assert_contains "$RS_OUT" "west.toml:$l2:" "bad value reported with its line"
assert_contains "$RS_OUT" "max_attempts_per_school" "bad value names the key"
rs status "$X/config/west.toml"
assert_eq "$RS_RC" 66 "status with the invalid config goes on from [batch] root/progress: 66, no progress file"
assert_contains "$RS_OUT" "west.toml has errors" "status says the config has errors"
rs stop "$X/config/west.toml"
assert_eq "$RS_RC" 69 "stop with the invalid config goes on to the lock: 69, no supervisor"
assert_contains "$RS_OUT" "west.toml has errors" "stop says the config has errors"
[ -e "$X/batch_progress.json" ] && not_ok "invalid config: no progress file" || ok "invalid config: no progress file"

# ---- a second supervisor: 75 naming the holder's PID ----------------------------------------
L=$(new_tmp)
make_batch "$L" "Alpha University" "Beta University"
plan "$L" '{"Alpha University": {"default": "hang"}}'
CL="$L/config/batch.toml"
bg_start "$L/sup.out" "$RALPHSUP" start "$CL"
SUP=$BG_PID
wait_for 10 grep -qs '^Alpha University' "$L/.fake/log" && ok "first supervisor runs a hanging agent" || not_ok "first supervisor runs a hanging agent"
rs start "$CL"
assert_eq "$RS_RC" 75 "second start: exit 75"
assert_contains "$RS_OUT" "$SUP" "second start names the holder's PID ($SUP)"
rs init --reset "$CL"
assert_eq "$RS_RC" 75 "init --reset while a supervisor runs: exit 75"
rs resume "$CL"
assert_eq "$RS_RC" 75 "resume while a supervisor runs: exit 75"
rs status "$CL"
assert_eq "$RS_RC" 0 "status while a supervisor runs: exit 0"
assert_contains "$RS_OUT" "supervisor: running (PID $SUP)" "status names the running supervisor"
assert_contains "$RS_OUT" "current: Alpha University" "status shows the current school"
rs stop --wait "$CL"
assert_eq "$RS_RC" 0 "stop --wait exits 0"
bg_wait "$SUP"
assert_eq "$BG_RC" 143 "the first supervisor ends with 143 after stop"
no_batch_survivors "$L" "no survivors after stop"
rs stop "$CL"
assert_eq "$RS_RC" 69 "stop without a running supervisor: 69"

finish
