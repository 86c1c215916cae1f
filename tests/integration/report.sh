#!/bin/bash
# `ralphsup report` end to end on a batch run with the fake agent: the report
# reads only the CSVs of completed schools named in the progress file, never
# an earlier master report, wherever --out points; a completed school whose
# CSV is missing, or that names none, is a named problem (exit 1); --date
# must be a calendar date (64); a write failure is 73.
source "$(dirname "$0")/lib.sh"

# check_report XLSX CSV ROWS WARM [ARGS...]: tests/report/check_xlsx.py reads the workbook back
check_report() {
    local x=$1 c=$2 rows=$3 warm=$4
    shift 4
    local out
    if out=$("$PY" "$RALPHSUP_SOURCE_ROOT/tests/report/check_xlsx.py" --xlsx "$x" --csv "$c" \
        --expect-rows "$rows" --expect-warm "$warm" "$@" 2>&1); then
        ok "workbook read back: $rows leads, $warm warm ($x)"
    else
        not_ok "workbook read back: $rows leads, $warm warm ($x)"
        diag "$out"
    fi
}

A=$(new_tmp)
make_batch "$A" "Alpha University" "Beta College" "Gamma Institute" "Delta State University"
plan "$A" '{"*": {"default": "done"}}'
sed -i 's/^on_finish = false$/on_finish = true/' "$A/config/batch.toml"
C="$A/config/batch.toml"
D=2026-11-24
rs start "$C"
assert_eq "$RS_RC" 0 "start: the 4 schools complete"
[ "$RS_RC" = 0 ] || diag "$RS_OUT"
assert_contains "$RS_OUT" "(16 leads, 4 warm)" "the finish report counts 16 leads, 4 warm"
fin=$(ls "$A"/output/master_report_*.csv 2>/dev/null | head -1)
check "the finish report is in output/ (report_dir defaults to output_dir)" test -f "$fin"

# --out elsewhere: the finish report in output/ is not an input.
rs report "$C" --date "$D" --out "$A/elsewhere"
assert_eq "$RS_RC" 0 "report --out elsewhere: complete (exit 0)"
assert_contains "$RS_OUT" "4 files, 16 leads, 4 warm leads" "report --out elsewhere: the true counts"
assert_not_contains "$RS_OUT" "output/master_report_" "report --out elsewhere: the finish report is not named as an input"
check_report "$A/elsewhere/master_report_$D.xlsx" "$A/elsewhere/master_report_$D.csv" 16 4
# ... and a second time, with two earlier reports lying around (output/ and elsewhere/).
rs report "$C" --date 2026-11-25 --out "$A/elsewhere"
assert_contains "$RS_OUT" "4 files, 16 leads, 4 warm leads" "report again next to its own earlier output"
rs report "$C" --date "$D"
assert_contains "$RS_OUT" "4 files, 16 leads, 4 warm leads" "report into output/ itself"
check_report "$A/output/master_report_$D.xlsx" "$A/output/master_report_$D.csv" 16 4

# A stray CSV in output/ is listed, not read.
cp "$A/output/alpha-university.csv" "$A/output/stray.csv"
rs report "$C" --date "$D" --out "$A/elsewhere"
assert_eq "$RS_RC" 0 "a stray csv is a note, not a problem (exit 0)"
assert_contains "$RS_OUT" "note: output/stray.csv: not in progress file" "the stray csv is named"
assert_contains "$RS_OUT" "4 files, 16 leads, 4 warm leads" "its rows are not counted"
rm -f "$A/output/stray.csv"

# --date must be a calendar date.
rs report "$C" --date 2020-02-30
assert_eq "$RS_RC" 64 "--date 2020-02-30: exit 64"
assert_contains "$RS_OUT" '--date "2020-02-30" is not a calendar date: 2020-02 has 29 days' "--date: says why"
rs report "$C" --date 2024-02-29 --out "$A/leap"
assert_eq "$RS_RC" 0 "--date 2024-02-29 (a leap day) is accepted"

# A completed school whose CSV is missing on disk: named, partial (exit 1).
cp "$A/batch_progress.json" "$A/progress.good"
mv "$A/output/beta-college.csv" "$A/beta.away"
rs report "$C" --date "$D" --out "$A/elsewhere"
assert_eq "$RS_RC" 1 "a completed school's csv missing: partial (exit 1)"
assert_contains "$RS_OUT" 'completed school "Beta College": cannot open' "the missing csv names its school"
assert_contains "$RS_OUT" "3 files, 12 leads, 3 warm leads" "the other schools are still counted"
check_report "$A/elsewhere/master_report_$D.xlsx" "$A/elsewhere/master_report_$D.csv" 12 3 \
    --expect-partial --expect-problem 'completed school "Beta College"'
mv "$A/beta.away" "$A/output/beta-college.csv"

# A completed school without a csv path: a named problem with its fix, one prefix.
"$PY" - "$A/batch_progress.json" <<'PYEOF'
import json, sys
p = sys.argv[1]
d = json.load(open(p))
for s in d["completed"]:
    if s["name"] == "Gamma Institute":
        s["csv"] = None
json.dump(d, open(p, "w"), indent=2)
PYEOF
rs report "$C" --date "$D" --out "$A/elsewhere"
assert_eq "$RS_RC" 1 "a completed school without a csv path: partial (exit 1)"
assert_contains "$RS_OUT" 'ralphsup: report: batch_progress.json: completed school "Gamma Institute" has no csv path' \
    "no csv path: named, after the progress file"
assert_contains "$RS_OUT" 'set its "csv"' "no csv path: says what to do"
assert_not_contains "$RS_OUT" "report: report:" "no doubled prefix"
assert_contains "$RS_OUT" "3 files, 12 leads, 3 warm leads" "the other schools are still counted"
# The fix the message names works: init --resume fills the path in from the school's output CSV.
rs init "$C" --resume
assert_eq "$RS_RC" 0 "init --resume on the entry without a csv path"
rs report "$C" --date "$D" --out "$A/elsewhere"
assert_eq "$RS_RC" 0 "after init --resume: complete report (exit 0)"
assert_contains "$RS_OUT" "4 files, 16 leads, 4 warm leads" "after init --resume: Gamma Institute counted again"
cp "$A/progress.good" "$A/batch_progress.json"

# An output that cannot be written: 73, named once.
rs report "$C" --date "$D" --out "$A/output/alpha-university.csv/sub"
assert_eq "$RS_RC" 73 "report --out under a file: exit 73"
assert_contains "$RS_OUT" "ralphsup report: cannot write the report in $A/output/alpha-university.csv/sub:" \
    "cannot write: names the directory"
assert_not_contains "$RS_OUT" "report: report:" "cannot write: no doubled prefix"

finish
