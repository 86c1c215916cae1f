#!/bin/bash
# The progress file validated and reconciled with the school list (docs/progress.md,
# "Validation and reconciliation"): a seed file written with aliases runs each school
# exactly once under `start`; `init --resume` counts it right; each inconsistency is
# either repaired and said, or refused (65) with the field named; unknown fields survive
# a save; a school added to the list joins pending at start (said and committed); a
# UTF-8 BOM is accepted; `recover` keeps the unreadable file before restoring.
source "$(dirname "$0")/lib.sh"

SCHOOLS=("Northfield State University" "Lakeshore College" "Riverbend Institute of Technology" "University of Utah")
# aliased_batch DIR: the four schools, an alias table, and a CSV for Northfield (done before)
aliased_batch() {
    make_batch "$1" "${SCHOOLS[@]}"
    cat >"$1/data/aliases.json" <<'EOF'
{"Northfield State University": ["Northfield State"], "Lakeshore College": ["Lakeshore"],
 "Riverbend Institute of Technology": ["Riverbend Tech"], "University of Utah": ["Utah", "U of U"],
 "Mesa Verde University": ["Mesa Verde"]}
EOF
    sed -i 's|^schools = "data/schools.json"|&\naliases = "data/aliases.json"|' "$1/config/batch.toml"
    mkdir -p "$1/output"
    printf 'name,title\n' >"$1/output/northfield-state-university.csv"
}
# The seed file of the issue: current_school and pending entries under aliases or
# other spellings, one school twice in pending, the current one pending too.
write_seed() {
    cat >"$1/batch_progress.json" <<'EOF'
{"batch_name": "itest", "started": null, "last_updated": null, "current_school": "Utah",
 "completed": ["northfield state"], "failed": [],
 "pending": ["lakeshore college", "Lakeshore", "University of Utah", "Riverbend Tech"]}
EOF
}

# ---- a seed file with aliases, run by start: each school exactly once ----------------
S=$(new_tmp)
aliased_batch "$S"
write_seed "$S"
CS="$S/config/batch.toml"
PS="$S/batch_progress.json"
rs start "$CS"
assert_eq "$RS_RC" 0 "seed with aliases: start exits 0"
[ "$RS_RC" = 0 ] || diag "$RS_OUT"
assert_contains "$RS_OUT" 'current "Utah" is "University of Utah" in the school list: name made canonical' \
    "start says the current school's alias was made canonical"
assert_contains "$RS_OUT" 'pending[0] "lakeshore college" is "Lakeshore College" in the school list' \
    "start says a pending spelling was made canonical"
assert_contains "$RS_OUT" 'pending[1] "Lakeshore College" is also pending[0]: kept once' \
    "start says the school twice in pending (once by alias) is kept once"
assert_contains "$RS_OUT" 'completed[0] "Northfield State University": slug and csv path filled in (output/northfield-state-university.csv)' \
    "start fills the seed entry's slug and csv path"
assert_eq "$(fake_log "$S" | cut -d'|' -f1 | sort | tr '\n' ';')" \
    "Lakeshore College;Riverbend Institute of Technology;University of Utah;" \
    "the agent ran each of the three schools not done exactly once (and not the completed one)"
assert_file_json "$PS" 'len(d["completed"]) == 4 and sorted(x["name"] for x in d["completed"]) == sorted(["Northfield State University", "Lakeshore College", "Riverbend Institute of Technology", "University of Utah"]) and d["pending"] == [] and d["failed"] == [] and d["status"] == "finished" and d["schema_version"] == 1' \
    "four completed entries, one per school, under canonical names; nothing pending"
assert_file_json "$PS" 'S("Northfield State University")["slug"] == "northfield-state-university" and S("Northfield State University")["csv"] == "output/northfield-state-university.csv" and d["iterations"] == 3' \
    "the upgraded seed entry has its slug and csv; 3 iterations"
rec=$(git -C "$S" log --format=%H --grep 'Ralphsup-Event: reconciled')
assert_eq "$(printf '%s\n' "$rec" | grep -c .)" 1 "one reconciled commit"
assert_contains "$(git -C "$S" log -1 --format=%B "$rec")" 'pending[1] "Lakeshore College" is also pending[0]: kept once' \
    "the reconciled commit lists the repairs"
# A second start has nothing to reconcile and nothing to run.
before=$(git -C "$S" rev-parse HEAD)
rs start "$CS"
assert_eq "$RS_RC" 0 "start on the finished batch exits 0"
assert_contains "$RS_OUT" "is finished" "start on the finished batch says it is finished"
assert_eq "$(git -C "$S" rev-parse HEAD)" "$before" "nothing reconciled or committed the second time"

# ---- a school added after init joins pending at start; removed ones are reported ------
"$PY" - "$S/data" <<'EOF'
import json, sys
d = sys.argv[1]
l = json.load(open(d + "/schools.json"))
l["schools"] = [s for s in l["schools"] if s["name"] != "Riverbend Institute of Technology"]
l["schools"].append({"name": "Mesa Verde", "conference": "Test Conference", "state": "AZ", "priority": 2})
json.dump(l, open(d + "/schools.json", "w"), indent=1)
EOF
rs start "$CS"
assert_eq "$RS_RC" 0 "start after adding a school exits 0"
assert_contains "$RS_OUT" "added to pending (new in the school list): Mesa Verde University" \
    "start says the new school (listed by alias) joins pending under its canonical name"
assert_contains "$RS_OUT" "kept as completed although no longer in the school list: Riverbend Institute of Technology" \
    "start reports the removed school (completed, kept)"
assert_contains "$(git -C "$S" log --format=%s | grep reconciled | head -1)" "ralphsup: reconciled batch itest with the school list (1 change)" \
    "the addition is committed as one reconciled transition"
assert_contains "$(git -C "$S" log --format=%B --grep 'Ralphsup-Event: reconciled' -1)" "added to pending (new in the school list): Mesa Verde University" \
    "the reconciled commit names the added school"
assert_eq "$(fake_log "$S" | grep -c '^Mesa Verde University|')" 1 "the new school ran once"
assert_file_json "$PS" 'len(d["completed"]) == 5 and W("Mesa Verde University") == "completed" and W("Riverbend Institute of Technology") == "completed"' \
    "five completed: the new school added, the removed one kept"

# ---- the shipped demo config and list, a seed with other spellings ----------------------
M=$(new_tmp)
mkdir -p "$M/config" "$M/data" "$M/prompts" "$M/.bin" "$M/.fake"
cp "$RALPHSUP_SOURCE_ROOT/config/demo.toml" "$M/config/"
cp "$RALPHSUP_SOURCE_ROOT/data/demo_schools.json" "$M/data/"
cp "$RALPHSUP_SOURCE_ROOT/prompts/batch_loop.md" "$M/prompts/"
install -m 0755 "$FAKE_CLAUDE" "$M/.bin/claude"
sed -i "s|^command = \"claude\".*|command = \"$M/.bin/claude\"|; s|^\[agent.env\]|&\nFAKE_STATE = \"$M/.fake\"|; s|^on_finish = true|on_finish = false|" \
    "$M/config/demo.toml"
sed -i 's|^\[agent\]$|&\nwritable = [".fake"]|' "$M/config/demo.toml"  # the fake agent's state, under the fence
git -C "$M" init -q
cat >"$M/batch_progress.json" <<'EOF'
{"batch_name": "demo", "started": null, "last_updated": null, "current_school": "lakeshore college",
 "completed": [], "failed": [],
 "pending": ["Northfield State University", "lakeshore college", "mesa-verde-university", "LAKESHORE COLLEGE",
             "Riverbend Institute of Technology"]}
EOF
rs start "$M/config/demo.toml"
assert_eq "$RS_RC" 0 "demo batch with a seed file: start exits 0"
[ "$RS_RC" = 0 ] || diag "$RS_OUT"
assert_eq "$(fake_log "$M" | cut -d'|' -f1 | sort | tr '\n' ';')" \
    "Lakeshore College;Mesa Verde University;Northfield State University;Riverbend Institute of Technology;" \
    "demo: the agent ran each of the four schools exactly once"
assert_file_json "$M/batch_progress.json" 'len(d["completed"]) == 4 and len(set(x["name"] for x in d["completed"])) == 4 and d["pending"] == [] and d["iterations"] == 4' \
    "demo: four completed entries, one per school, after four iterations"

# ---- init --resume on the same seed: the right counts ----------------------------------
R=$(new_tmp)
aliased_batch "$R"
write_seed "$R"
rs init --resume "$R/config/batch.toml"
assert_eq "$RS_RC" 0 "init --resume on the seed file exits 0"
assert_contains "$RS_OUT" "2 pending, 1 current (interrupted; \`ralphsup start\` requeues it), 1 completed, 0 failed (4 schools)" \
    "init --resume counts 4 schools: 2 pending, 1 current, 1 completed"
assert_not_contains "$RS_OUT" "added to pending" "no school done or current under an alias is added to pending again"
assert_file_json "$R/batch_progress.json" 'd["pending"] == ["Lakeshore College", "Riverbend Institute of Technology"] and d["current"]["name"] == "University of Utah" and d["current"]["slug"] == "university-of-utah" and d["completed"][0]["name"] == "Northfield State University"' \
    "init --resume saved canonical names, each school once"
assert_contains "$(git -C "$R" log -1 --format=%B | git interpret-trailers --parse)" "Ralphsup-Event: reconciled" \
    "init --resume commits a reconciled transition"
rs status "$R/config/batch.toml"
assert_contains "$RS_OUT" "2 pending (of 4)" "status then counts 4 schools"

# ---- each inconsistency: repaired and said, or refused with the field named -----------
V=$(new_tmp)
aliased_batch "$V"
CV="$V/config/batch.toml"
PV="$V/batch_progress.json"
# vcase DESC RC NEEDLE PYTHON [CHECK]: a schema_version 1 file made by PYTHON from a base
# (d: the document; C(name), F(name), H(name): entries), run through `init --resume`;
# exit code RC, NEEDLE in its output, CHECK (optional, assert_file_json) on the file after.
vcase() {
    local desc=$1 rc=$2 needle=$3 py=$4 check=${5:-}
    "$PY" - "$PV" "$py" <<'EOF'
import json, sys, re
def slug(n): return re.sub(r"[^a-z0-9]+", "-", n.lower()).strip("-")
def A(it, outcome="completed", cost=0.25):
    return {"attempt": 1, "iteration": it, "started": "2026-11-24T10:00:00Z", "finished": "2026-11-24T10:05:00Z",
            "duration_s": 300.0, "cost_usd": cost, "cost_estimated": False, "outcome": outcome, "class": outcome,
            "reason": None, "exit_status": "exit 0", "session_id": "s%d" % it}
def C(n, it=1, fin="2026-11-24T10:05:00Z"):
    return {"name": n, "slug": slug(n), "started": "2026-11-24T10:00:00Z", "finished": fin, "duration_s": 300.0,
            "cost_usd": 0.25, "coaches": 4, "overlaps": 1, "csv": "output/%s.csv" % slug(n), "attempts": [A(it)]}
def F(n, it=1):
    return {"name": n, "slug": slug(n), "started": "2026-11-24T10:00:00Z", "finished": "2026-11-24T10:05:00Z",
            "duration_s": 300.0, "cost_usd": 0.25, "reason": "agent reported failure: no staff page",
            "attempts": [A(it, "failed")]}
def H(n, it=1):
    return {"name": n, "slug": slug(n), "started": "2026-11-24T10:00:00Z", "finished": None, "duration_s": 0,
            "cost_usd": 0.25, "attempts": [A(it, "failed")]}
d = {"schema_version": 1, "batch_name": "itest", "status": "stopped", "started": "2026-11-24T10:00:00Z",
     "last_updated": "2026-11-24T11:00:00Z", "current_school": None, "current": None,
     "pending": ["Lakeshore College", "Riverbend Institute of Technology", "University of Utah"],
     "completed": [C("Northfield State University")], "failed": [], "retry_history": [],
     "iterations": 1, "cost_usd": 0.25, "cost_estimated": False, "stopped": None}
exec(sys.argv[2])
json.dump(d, open(sys.argv[1], "w"), indent=2)
EOF
    cp "$PV" "$V/case.json"
    local head
    head=$(git -C "$V" rev-parse -q --verify HEAD)
    rs init --resume "$CV"
    if [ "$RS_RC" = "$rc" ]; then ok "$desc: exit $rc"; else not_ok "$desc: exit $rc"; diag "got $RS_RC" "$RS_OUT"; fi
    assert_contains "$RS_OUT" "$needle" "$desc: says so"
    if [ "$rc" != 0 ]; then
        cmp -s "$PV" "$V/case.json" && ok "$desc: the file is left as it was" || not_ok "$desc: the file is left as it was"
        assert_eq "$(git -C "$V" rev-parse -q --verify HEAD)" "$head" "$desc: nothing committed"
    fi
    [ -z "$check" ] || assert_file_json "$PV" "$check" "$desc: the file after"
}
git -C "$V" add -A >/dev/null
vcase "a name twice in pending" 0 'pending[3] "Lakeshore College" is also pending[0]: kept once' \
    'd["pending"].append("Lakeshore College")' 'd["pending"].count("Lakeshore College") == 1'
vcase "a school both completed and pending" 0 'pending[0] "Northfield State University" is also completed[0]: removed from pending' \
    'd["pending"].insert(0, "Northfield State University")' '"Northfield State University" not in d["pending"] and len(d["completed"]) == 1'
vcase "completed under an alias, pending under the canonical name" 0 'is also completed[0]: removed from pending' \
    'd["completed"] = [C("Utah")]' 'd["completed"][0]["name"] == "University of Utah" and "University of Utah" not in d["pending"]'
vcase "the same school completed twice" 0 'completed[0] "Northfield State University" is also completed[1]: merged into it (1 attempt moved)' \
    'd["completed"].append(C("Northfield State University", it=2, fin="2026-11-24T11:05:00Z")); d["iterations"] = 2; d["cost_usd"] = 0.5' \
    'len(d["completed"]) == 1 and len(d["completed"][0]["attempts"]) == 2 and abs(d["completed"][0]["cost_usd"] - 0.5) < 1e-9'
vcase "retry history of a completed school" 0 'retry_history[0] "Northfield State University" is also completed[0]: its attempts merged into it' \
    'd["retry_history"] = [H("Northfield State University", it=2)]; d["iterations"] = 2' \
    'd["retry_history"] == [] and len(d["completed"][0]["attempts"]) == 2'
vcase "a school current and pending" 0 'pending[0] "Lakeshore College" is also current: removed from pending' \
    'd["current"] = {"name": "Lakeshore College", "slug": "lakeshore-college", "attempt": 1, "iteration": 2, "started": "2026-11-24T10:00:00Z", "supervisor_pid": 1, "pid": 0, "run_token": "lakeshore-college:2:1:0"}; d["current_school"] = "Lakeshore College"' \
    '"Lakeshore College" not in d["pending"] and d["current"]["name"] == "Lakeshore College"'
vcase "missing cost_usd" 0 'cost_usd was missing: recomputed as $0.50, the sum of the 2 attempts recorded' \
    'd["completed"].append(C("Lakeshore College", it=2)); d["pending"].remove("Lakeshore College"); del d["cost_usd"]; d["iterations"] = 2' \
    'abs(d["cost_usd"] - 0.5) < 1e-9'
vcase "failed and pending" 65 'pending[0] "Lakeshore College" is also failed[0]: remove it from "failed" to run it again, or from "pending" to leave it failed' \
    'd["failed"] = [F("Lakeshore College")]'
vcase "completed and failed" 65 'failed[0] "Northfield State University" is also completed[0]' \
    'd["failed"] = [F("Northfield State University")]'
vcase "completed and failed under an alias" 65 'failed[0] "Northfield State University" is also completed[0]' \
    'd["failed"] = [F("Northfield State")]'
vcase "current and failed" 65 'current "University of Utah" is also failed[0]' \
    'd["pending"].remove("University of Utah"); d["failed"] = [F("University of Utah")]; d["current"] = {"name": "Utah", "attempt": 1, "iteration": 2}'
vcase "retry history of a school in no list" 65 'retry_history[0] "Lakeshore College" is neither pending nor current' \
    'd["pending"].remove("Lakeshore College"); d["retry_history"] = [H("Lakeshore College")]'
vcase "missing pending" 65 'missing required field "pending"' 'del d["pending"]'
vcase "missing completed" 65 'missing required field "completed"' 'del d["completed"]'
vcase "missing iterations" 65 'missing required field "iterations"' 'del d["iterations"]'
vcase "coaches as a string" 65 'completed[0].coaches must be a whole number >= 0 (got a string "4")' \
    'd["completed"][0]["coaches"] = "4"'
vcase "a negative cost" 65 'completed[0].attempts[0].cost_usd must be a number >= 0 (USD) (got -1)' \
    'd["completed"][0]["attempts"][0]["cost_usd"] = -1'
vcase "cost_estimated as a string" 65 'cost_estimated must be true or false (got a string "no")' 'd["cost_estimated"] = "no"'
vcase "an unknown status" 65 'status must be one of initialized, running, finished, stopped, cancelled (got "done")' \
    'd["status"] = "done"'
rs start "$CV"
assert_eq "$RS_RC" 65 "start on a refused file exits 65"
assert_contains "$RS_OUT" "ralphsup recover" "start on an unreadable file points at recover"
assert_eq "$(fake_log "$V" | grep -c .)" 0 "start on a refused file runs nothing"
# A conflict that only shows once names are canonical: refused by start's reconcile.
vcase "completed and pending under an alias, then failed" 65 'failed[0] "Lakeshore College" is also completed[1]' \
    'd["completed"].append(C("Lakeshore")); d["failed"] = [F("lakeshore college")]; d["pending"].remove("Lakeshore College")'
rs start "$CV"
assert_eq "$RS_RC" 65 "start refuses the conflict found after canonicalisation (65)"
assert_contains "$RS_OUT" 'failed[0] "Lakeshore College" is also completed[1]' "start names both fields"
assert_contains "$RS_OUT" "nothing was run or changed" "start says nothing was run or changed"
assert_eq "$(fake_log "$V" | grep -c .)" 0 "start ran nothing"

# ---- unknown fields are kept across saves ---------------------------------------------
vcase "unknown fields" 0 "2 pending" \
    'd["operator_note"] = {"by": "ops", "tags": ["west", 1, 2.5, None]}; d["completed"][0]["reviewed"] = True; d["completed"][0]["attempts"][0]["model"] = "claude-x"; d["current"] = {"name": "University of Utah", "attempt": 1, "iteration": 2, "host": "box1"}; d["pending"].remove("University of Utah"); d["current_school"] = "University of Utah"'
assert_file_json "$PV" 'd["operator_note"] == {"by": "ops", "tags": ["west", 1, 2.5, None]} and d["completed"][0]["reviewed"] is True and d["completed"][0]["attempts"][0]["model"] == "claude-x" and d["current"]["host"] == "box1"' \
    "unknown fields at top level, in a school entry, an attempt and current survive init --resume's save"
LIMITS='max_iterations = 10' rs start "$CV"
assert_eq "$RS_RC" 0 "start on the file with unknown fields runs the batch"
assert_file_json "$PV" 'd["operator_note"]["by"] == "ops" and S("Northfield State University")["reviewed"] is True and S("Northfield State University")["attempts"][0]["model"] == "claude-x" and d["status"] == "finished"' \
    "unknown fields survive every save of a whole run"

# ---- status counts each school once --------------------------------------------------
vcase "pending twice, for status" 0 "kept once" 'd["pending"].append("Lakeshore College")'
"$PY" - "$PV" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["pending"] = ["Lakeshore College", "Northfield State University", "Lakeshore College"]
json.dump(d, open(sys.argv[1], "w"))
EOF
rs status "$CV"
assert_contains "$RS_OUT" "1 completed, 0 failed, 1 pending (of 2)" "status counts a school both completed and pending, and one twice in pending, once"

# ---- a UTF-8 BOM ------------------------------------------------------------------------
B=$(new_tmp)
aliased_batch "$B"
rs init "$B/config/batch.toml"
printf '\xef\xbb\xbf' | cat - "$B/batch_progress.json" >"$B/bom.json" && mv "$B/bom.json" "$B/batch_progress.json"
rs status "$B/config/batch.toml"
assert_eq "$RS_RC" 0 "status accepts a progress file that starts with a UTF-8 BOM"
assert_contains "$RS_OUT" "4 pending (of 4)" "status reads it fully"
rs start "$B/config/batch.toml"
assert_eq "$RS_RC" 0 "start accepts it too"
assert_contains "$RS_OUT" "skipped the UTF-8 byte order mark" "start says the BOM was skipped"
assert_eq "$(head -c 3 "$B/batch_progress.json" | od -An -tx1 | tr -d ' ')" "7b0a20" "the saved file has no BOM"

# ---- recover keeps the unreadable file -------------------------------------------------
printf '{"schema_version": 1, "pending": [' >"$B/batch_progress.json"
cp "$B/batch_progress.json" "$B/corrupt.json"
rs recover "$B/config/batch.toml"
assert_eq "$RS_RC" 0 "recover exits 0"
kept=$(ls "$B"/batch_progress.json.corrupt-* 2>/dev/null)
assert_eq "$(printf '%s\n' "$kept" | grep -c .)" 1 "recover kept one copy of the unreadable file"
[ -n "$kept" ] && cmp -s "$kept" "$B/corrupt.json" && ok "the copy holds the unreadable bytes" || not_ok "the copy holds the unreadable bytes"
assert_contains "$RS_OUT" "kept the unreadable file as $kept" "recover says where the copy is"
case "$kept" in *.corrupt-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z) ok "the copy is named <progress>.corrupt-<UTC time>" ;; *) not_ok "the copy is named <progress>.corrupt-<UTC time>"; diag "$kept" ;; esac
assert_file_json "$B/batch_progress.json" 'd["status"] == "finished" and len(d["completed"]) == 4' "the newest good version is restored"
assert_contains "$(git -C "$B" log -1 --format=%B)" "The unreadable file was kept as batch_progress.json.corrupt-" \
    "the recovered commit says where the copy is"
assert_eq "$(git -C "$B" ls-files | grep -c corrupt)" 0 "the copy is not committed"

finish
