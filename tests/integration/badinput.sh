#!/bin/bash
# Bad input, one row of docs/failures.md's "Bad input" table each (issue 12,
# point 5): what an agent claims (a RALPH_DONE whose CSV is a FIFO, a 2 GiB
# sparse file, holds a NUL byte, has two columns swapped; a marker split
# across two text blocks) and what a user gives (a school name of 10,000
# characters, names made only of punctuation, a school list changed under a
# running batch). Each must end with a clear reason, never hang, never be
# accepted as done. The rows covered elsewhere (a marker for another school,
# a symlinked CSV, duplicate coaches, a progress file edited into an invalid
# state) are named in the table with their test.
source "$(dirname "$0")/lib.sh"

# ---- what the agent claims ----------------------------------------------------------
A=$(new_tmp)
LIMITS='max_attempts_per_school = 1
stall_timeout = "10s"
iteration_timeout = "20s"' make_batch "$A" "Fifo University" "Huge University" "Nul University" \
    "Swapped University" "Split University"
plan "$A" '{
  "Fifo University": {"default": "done_fifo"},
  "Huge University": {"default": "done_huge"},
  "Nul University": {"default": "done_nul"},
  "Swapped University": {"default": "done_header_swapped"},
  "Split University": {"default": "done_split_marker"}
}'
PA="$A/batch_progress.json"
t0=$(date +%s)
timeout 50 "$RALPHSUP" start "$A/config/batch.toml" </dev/null >"$A/out" 2>&1
rc=$?
t1=$(date +%s)
assert_eq "$rc" 0 "bad claims: start ends (0) — no read blocks the loop (took $((t1 - t0)) s)"
[ "$rc" = 0 ] || diag "$(tail -20 "$A/out")"
assert_file_json "$PA" 'd["status"] == "finished" and d["completed"] == []' "bad claims: none is accepted as completed"
reason() { json_get "$PA" "next((x.get(\"reason\") or \"\" for x in d[\"failed\"] if x[\"name\"] == \"$1\"), \"(not failed)\")"; }
r=$(reason "Fifo University")
assert_contains "$r" "is not a regular file (a FIFO)" "CSV a FIFO: refused as not a regular file (reason: $r)"
r=$(reason "Huge University")
assert_contains "$r" "bytes, more than the" "CSV of 2 GiB (sparse): refused by the size cap (reason: ${r:0:160})"
r=$(reason "Nul University")
assert_contains "$r" "NUL" "CSV with a NUL byte: refused, the NUL named (reason: ${r:0:200})"
assert_contains "$r" "line 3, field 2: a NUL byte (0x00)" "CSV with a NUL byte: line and field named"
r=$(reason "Swapped University")
assert_contains "$r" "coach_name" "CSV with two header columns swapped: refused, the column named (reason: ${r:0:200})"
r=$(reason "Split University")
assert_contains "$r" "marker" "marker split across two text blocks: not taken as RALPH_DONE, the reason says so (reason: ${r:0:200})"
check "bad claims: the progress file is still valid JSON" "$PY" -c 'import json,sys; json.load(open(sys.argv[1]))' "$PA"
no_batch_survivors "$A" "bad claims: no survivors"

# ---- a school name of 10,000 characters ------------------------------------------------
B=$(new_tmp)
long=$(head -c 10000 /dev/zero | tr '\0' 'a')
make_batch "$B" "Ordinary University" "$long"
rs init "$B/config/batch.toml"
assert_eq "$RS_RC" 65 "a 10,000-character school name: init exits 65"
assert_contains "$RS_OUT" "schools.json:" "the 10,000-character name: the file is named"
assert_contains "$RS_OUT" "256" "the 10,000-character name: the cap (256 bytes) is said"
[ ${#RS_OUT} -lt 2000 ] && ok "the message does not echo 10,000 characters (${#RS_OUT} bytes)" ||
    not_ok "the message does not echo 10,000 characters (${#RS_OUT} bytes)"
[ -e "$B/batch_progress.json" ] && not_ok "the 10,000-character name: nothing written" || ok "the 10,000-character name: nothing written"

# ---- names made only of punctuation; a 256-byte name ----------------------------------
P=$(new_tmp)
n256=$(printf 'Univ %.0s' $(seq 51) | head -c 256)
make_batch "$P" '!!!' '???' '...' '/../' "$n256"
rs start "$P/config/batch.toml"
assert_eq "$RS_RC" 0 "punctuation-only names and a 256-byte name: the batch runs (0)"
[ "$RS_RC" = 0 ] || diag "$RS_OUT"
slugs=$(json_get "$P/batch_progress.json" '" ".join(x["slug"] for x in d["completed"])')
assert_eq "$(tr ' ' '\n' <<<"$slugs" | sort -u | wc -l)" 5 "five distinct slugs: $slugs"
bad=$(tr ' ' '\n' <<<"$slugs" | grep -vE '^[a-z0-9]+(-[a-z0-9]+)*$|^$' || true)
assert_eq "$bad" "" "every slug is [a-z0-9-] only (no '.', '/', empty)"
long_slug=$(tr ' ' '\n' <<<"$slugs" | awk '{ if (length($0) > m) m = length($0) } END { print m }')
assert_le "$long_slug" 128 "the longest slug is bounded ($long_slug bytes)"
outside=$(find "$P" -name '*.csv' ! -path "$P/output/*" | grep -v '/.fake/' || true)
assert_eq "$outside" "" "every CSV is inside output/"
assert_eq "$(find "$P/output" -maxdepth 1 -name '*.csv' | wc -l)" 5 "five CSVs in output/, one per school"

# ---- the school list changed under a running batch -------------------------------------
L=$(new_tmp)
AGENT_ENV='FAKE_SLOW_S = "3"' make_batch "$L" "First University" "Second University"
plan "$L" '{"First University": {"default": "slow_done"}}'
bg_start "$L/sup.out" "$RALPHSUP" start "$L/config/batch.toml"
SUP=$BG_PID
wait_for 10 grep -qs '^First University|' "$L/.fake/log" || not_ok "the first agent started"
# Replace the list: Second is dropped, Third is new.
"$PY" - "$L/data/schools.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["schools"] = [s for s in d["schools"] if s["name"] != "Second University"]
d["schools"].append(dict(d["schools"][0], name="Third University"))
json.dump(d, open(sys.argv[1], "w"))
PY
bg_wait "$SUP"
assert_eq "$BG_RC" 0 "list changed under a running batch: that start goes on with the list it read (0)"
ran=$(fake_log "$L" | cut -d'|' -f1 | sort | tr '\n' ';')
assert_eq "$ran" "First University;Second University;" "the running batch ran the schools it started with"
rs start "$L/config/batch.toml"
assert_eq "$RS_RC" 0 "the next start reconciles with the new list (0)"
assert_contains "$RS_OUT" "added to pending (new in the school list): Third University" "the new school is said and added"
assert_contains "$RS_OUT" "kept as completed although no longer in the school list: Second University" \
    "the dropped school is kept as completed, and said"
assert_eq "$(fake_log "$L" | grep -c '^Third University|')" 1 "the new school ran once"
assert_file_json "$L/batch_progress.json" 'len(d["completed"]) == 3 and d["pending"] == []' "all three completed, none lost"
no_batch_survivors "$L" "list change: no survivors"

finish
