#!/bin/bash
# The lead contract end to end (docs/protocol.md, "The lead contract"): each
# school's first attempt writes a CSV that breaks one rule with counts that
# match its RALPH_DONE, and must fail with the reason that names the row and
# column; the retry prompt must carry that reason; the retry writes a good
# CSV and completes. A good CSV completes at once, a yes share above
# max_yes_share completes flagged for review (progress file and report), and
# [verify] level = "counts" accepts a nine-column CSV.
source "$(dirname "$0")/lib.sh"

A=$(new_tmp)
make_batch "$A" "Good University" "No Evidence University" "Possible University" "Other School University" \
    "Duplicate University" "Two Emails University" "Nine Columns University" "Header Only University" \
    "Other File University" "Stale University" "Domain University" "Warm University"
plan "$A" '{
  "Good University": {"default": "done"},
  "No Evidence University": {"1": "done_bad_yes_without_evidence", "default": "done"},
  "Possible University": {"1": "done_bad_possible", "default": "done"},
  "Other School University": {"1": "done_bad_other_school", "default": "done"},
  "Duplicate University": {"1": "done_bad_duplicate_coach", "default": "done"},
  "Two Emails University": {"1": "done_bad_two_emails", "default": "done"},
  "Nine Columns University": {"1": "done_bad_nine_columns", "default": "done"},
  "Header Only University": {"1": "done_header_only", "default": "done"},
  "Other File University": {"1": "done_other_file", "default": "done"},
  "Stale University": {"1": "done_not_written", "default": "done"},
  "Domain University": {"default": "done"},
  "Warm University": {"default": "done_warm"}
}'
# The school list gives email domains for two schools: the fake agent's addresses are @example.edu.
"$PY" - "$A/data/schools.json" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
for s in d["schools"]:
    if s["name"] == "Good University":
        s["email_domains"] = ["example.edu"]
        s["athletics_url"] = "https://athletics.example.edu"
    if s["name"] == "Domain University":
        s["email_domains"] = ["utah.edu"]
json.dump(d, open(sys.argv[1], "w"), indent=1)
PYEOF
# A CSV left from long ago at Stale University's path: claiming it is not enough.
mkdir -p "$A/output"
printf 'school,coach_name,title,sport,email,phone,nmdp_overlap,overlap_evidence,source_url,evidence_url,evidence_quote,evidence_date,evidence_type,confidence,overlap_checked\n' >"$A/output/stale-university.csv"
for i in 1 2 3 4; do
    yes=no ev=',,,,,,school'
    [ $i = 1 ] && yes=yes ev=',https://news.example.edu/x,"Coach Number 1 hosted a drive",2024,host,high,coach'
    printf 'Stale University,Coach Number %d,Head Coach,Golf,,,%s,,https://athletics.example.edu/staff%s\n' $i $yes "$ev" \
        >>"$A/output/stale-university.csv"
done
touch -d '2020-01-01 00:00:00' "$A/output/stale-university.csv"
C="$A/config/batch.toml"
P="$A/batch_progress.json"
rs start "$C"
assert_eq "$RS_RC" 0 "start: every school ends completed (exit 0)"
[ "$RS_RC" = 0 ] || diag "$RS_OUT"

HEADER='school,coach_name,title,sport,email,phone,nmdp_overlap,overlap_evidence,source_url,evidence_url,evidence_quote,evidence_date,evidence_type,confidence,overlap_checked'
# expect_retry SCHOOL REASON: attempt 1 failed with exactly REASON, the retry's prompt shows it, attempt 2 completed
expect_retry() {
    local school=$1 reason=$2 key
    key=$(printf '%s' "$school" | tr -c 'A-Za-z0-9' '_')
    assert_file_json "$P" "W(\"$school\") == \"completed\" and R(\"$school\") == [(\"failed\", $(jstr_py "$reason")), (\"completed\", \"\")]" \
        "$school: attempt 1 fails with: $reason"
    local p2
    p2=$(cat "$A/.fake/$key.prompt2" 2>/dev/null)
    assert_contains "$p2" "Previous attempt failed because: $reason" "$school: the retry prompt carries the reason"
}
jstr_py() { "$PY" -c 'import json, sys; print(json.dumps(sys.argv[1]))' "$1"; }

assert_file_json "$P" 'W("Good University") == "completed" and len(R("Good University")) == 1 and S("Good University")["coaches"] == 4 and S("Good University")["overlaps"] == 1 and "review" not in S("Good University")' \
    "a good CSV on the school's email domain completes at the first attempt, not flagged"
expect_retry "No Evidence University" \
    "RALPH_DONE csv output/no-evidence-university.csv breaks the lead contract: row 1 (Coach Number 1): nmdp_overlap is yes but evidence_url is empty"
expect_retry "Possible University" \
    "RALPH_DONE csv output/possible-university.csv breaks the lead contract: row 2 (Coach Number 2): nmdp_overlap must be yes or no, got \"possible\""
expect_retry "Other School University" \
    "RALPH_DONE csv output/other-school-university.csv breaks the lead contract: row 2 (Coach Number 2): school is \"Some Other University\", expected \"Other School University\""
expect_retry "Duplicate University" \
    "RALPH_DONE csv output/duplicate-university.csv breaks the lead contract: row 3 (Coach Number 1): coach_name repeats row 1 (one row per coach)"
expect_retry "Two Emails University" \
    "RALPH_DONE csv output/two-emails-university.csv breaks the lead contract: row 2 (Coach Number 2): email \"coach2@example.edu; coach2b@example.edu\" is not one valid address (one address per cell, nothing else)"
expect_retry "Nine Columns University" \
    "RALPH_DONE csv output/nine-columns-university.csv breaks the lead contract: header: missing column \"evidence_url\" after \"source_url\" (the header is exactly ${HEADER})"
expect_retry "Header Only University" \
    "RALPH_DONE csv output/header-only-university.csv breaks the lead contract: the CSV has a header but no rows (list the coaches; a school without any is a RALPH_FAILED)"
expect_retry "Other File University" \
    "RALPH_DONE csv output/other-file.csv breaks the lead contract: output/other-file.csv is not this school's CSV (write output/other-file-university.csv)"
assert_file_json "$P" 'W("Stale University") == "completed" and R("Stale University")[0][0] == "failed" and "output/stale-university.csv was not written during this attempt (last modified " in R("Stale University")[0][1] and R("Stale University")[0][1].endswith("before it started): write it again") and R("Stale University")[1][0] == "completed"' \
    "a CSV left from before the attempt fails it (not written during this attempt); the retry that writes it completes"
check "Stale University: the retry prompt carries the reason" grep -q "Previous attempt failed because: RALPH_DONE csv output/stale-university.csv breaks the lead contract: output/stale-university.csv was not written during this attempt" "$A/.fake/Stale_University.prompt2"
assert_file_json "$P" 'W("Domain University") == "failed" and len(R("Domain University")) == 3 and S("Domain University")["reason"] == "RALPH_DONE csv output/domain-university.csv breaks the lead contract: row 1 (Coach Number 1): email \"coach1@example.edu\" is not on the school'"'"'s email domains (utah.edu); row 2 (Coach Number 2): email \"coach2@example.edu\" is not on the school'"'"'s email domains (utah.edu); row 3 (Coach Number 3): email \"coach3@example.edu\" is not on the school'"'"'s email domains (utah.edu); row 4 (Coach Number 4): email \"coach4@example.edu\" is not on the school'"'"'s email domains (utah.edu)"' \
    "addresses off the school's email_domains fail every attempt, each row named"
assert_file_json "$P" 'W("Warm University") == "completed" and S("Warm University")["overlaps"] == 3 and S("Warm University")["review"] == "3 of 4 rows are yes (75%), above [verify] max_yes_share 0.5"' \
    "a yes share above max_yes_share completes, flagged for review in the progress file"
check "the completed iteration's event carries the review" grep -q '"event":"iteration-finished","school":"Warm University".*"verdict":"completed".*"review":"3 of 4 rows are yes' "$A/logs/events.jsonl"
check "the first prompt names the athletics site and the email domains" grep -q "^Athletics site: https://athletics.example.edu$" "$A/.fake/Good_University.prompt1"
check "the first prompt names the email domains" grep -q "^Staff e-mail domains: example.edu$" "$A/.fake/Good_University.prompt1"

# The report: evidence columns on the lead sheets, the review on the Run sheet and counted on the Summary.
rs report "$C" --date 2026-11-24
assert_eq "$RS_RC" 0 "report: complete"
out=$("$PY" - "$A/output/master_report_2026-11-24.xlsx" <<'PYEOF' 2>&1
import sys, openpyxl
wb = openpyxl.load_workbook(sys.argv[1])
leads = list(wb["Leads"].iter_rows(values_only=True))
assert list(leads[0])[9:] == ["evidence_url", "evidence_quote", "evidence_date", "evidence_type", "confidence",
                              "overlap_checked"], leads[0]
warm = list(wb["Warm leads"].iter_rows(values_only=True))
assert all(r[9] and r[9].startswith("https://news.example.edu/") and r[13] == "high" for r in warm[1:]), warm[1:3]
run = {r[0]: r for r in wb["Run"].iter_rows(values_only=True)}
assert run["school"][8] == "review", run["school"]
assert run["Warm University"][8] == "3 of 4 rows are yes (75%), above [verify] max_yes_share 0.5", run["Warm University"]
assert run["Good University"][8] is None, run["Good University"]
summ = {r[0]: r[1] for r in wb["Summary"].iter_rows(values_only=True) if r and r[0]}
assert summ["Schools flagged for review (see Run)"] == 1, summ
print("ok")
PYEOF
)
assert_eq "$out" ok "report: evidence columns on Leads and Warm leads, the review on Run, counted on Summary"

# [verify] level = "counts": a nine-column CSV from another tool completes; the counts still decide.
B=$(new_tmp)
VERIFY='level = "counts"' make_batch "$B" "Nine Columns University" "Wrong Count University"
plan "$B" '{"Nine Columns University": {"default": "done_bad_nine_columns"},
            "Wrong Count University": {"default": "done_wrong_count"}}'
rs start "$B/config/batch.toml"
assert_eq "$RS_RC" 0 "level counts: the batch runs to its end"
assert_file_json "$B/batch_progress.json" 'W("Nine Columns University") == "completed" and len(R("Nine Columns University")) == 1 and S("Nine Columns University")["coaches"] == 4' \
    "level counts: a nine-column CSV completes at the first attempt"
assert_file_json "$B/batch_progress.json" 'W("Wrong Count University") == "failed" and S("Wrong Count University")["reason"] == "RALPH_DONE claimed 4 coaches, CSV has 3 rows"' \
    "level counts: a count mismatch still fails"

# A bad [verify] value stops start before anything runs (exit 78, file:line:col).
sed -i 's/^level = "counts"$/level = "strict"/' "$B/config/batch.toml"
rs start "$B/config/batch.toml"
assert_eq "$RS_RC" 78 "a bad [verify] level is a config error (78)"
assert_contains "$RS_OUT" "batch.toml:" "the error names the file"
assert_contains "$RS_OUT" "[verify] level: expected \"leads\" or \"counts\", got \"strict\"" "the error names the key and the values"

finish
