#!/bin/bash
# `ralphsup audit` against a local web server (tests/integration/audit_server.py
# on 127.0.0.1, fixture pages in tests/fixtures/audit/): each kind of evidence
# page is classified right — verified, quote absent, page naming another coach,
# 404, redirect loop, a 50 MB page (read up to max_bytes only), a server that
# stalls (bounded by [audit] timeout), a non-http URL, a lead with no evidence;
# loopback is refused unless [audit] allow_private; requests to one host keep
# [audit] per_host_interval apart; audit.json is committed (event audit),
# `status` shows the counts, the report's Warm leads sheet carries the result,
# --school re-audits one school and keeps the others; exit codes 0/1/64/78.
source "$(dirname "$0")/lib.sh"

A=$(new_tmp)
make_batch "$A" "Alpha University" "Beta College" "Gamma Institute"
plan "$A" '{"*": {"default": "done"}}'
C="$A/config/batch.toml"
rs start "$C"
assert_eq "$RS_RC" 0 "start: the three schools complete"

# The evidence web.
"$PY" "$RALPHSUP_SOURCE_ROOT/tests/integration/audit_server.py" --dir "$RALPHSUP_SOURCE_ROOT/tests/fixtures/audit" \
    --port-file "$A/port" --log "$A/requests.jsonl" --max-seconds 280 &
T_PIDS+=("$!")
wait_for 10 test -s "$A/port" || { not_ok "the test server starts"; finish; }
PORT=$(cat "$A/port")
W="http://127.0.0.1:$PORT"

H='school,coach_name,title,sport,email,phone,nmdp_overlap,overlap_evidence,source_url,evidence_url,evidence_quote,evidence_date,evidence_type,confidence,overlap_checked'
# row SCHOOL NAME OVERLAP URL QUOTE
row() { printf '%s,"%s",Head Coach,Softball,,,%s,,https://example.edu/staff,%s,"%s",2024-04-03,host,high,coach\r\n' "$1" "$2" "$3" "$4" "${5//\"/\"\"}"; }
{
    printf '%s\r\n' "$H"
    row "Alpha University" "Jane Doe" yes "$W/pages/verified.html" "hosted a Be The Match registry drive on April 3, 2024"
    row "Alpha University" "John Roe" yes "$W/pages/noquote.html" "John Roe organised a marrow registry drive"
    row "Alpha University" "Mary Major" yes "$W/pages/othercoach.html" "joined a Get in the Game marrow registry event"
    row "Alpha University" "Pat Minor" yes "$W/missing" "hosted a drive"
    row "Alpha University" "Sam Loop" yes "$W/loop" "hosted a drive"
    row "Alpha University" "Lee Huge" yes "$W/huge" "Coach Lee Huge hosted a Be The Match drive"
    row "Alpha University" "Kim Huge-Top" no "" ""
    row "Alpha University" "Nora None" yes "" ""
} >"$A/output/alpha-university.csv"
{
    printf '%s\r\n' "$H"
    row "Beta College" "Ann Split" yes "$W/hop/2/split.html" 'herself a former donor – said: "Joining the Be The Match registry takes five minutes." Café talk'
    row "Beta College" "Bob Slow" yes "$W/slow" "hosted a drive"
    row "Beta College" "Fay Ftp" yes "ftp://127.0.0.1/x" "hosted a drive"
    row "Beta College" "Jane Doe" yes "http://localhost:$PORT/pages/verified.html" "Be The Match registry drive"
} >"$A/output/beta-college.csv"
{
    printf '%s\r\n' "$H"
    row "Gamma Institute" "Lee Huge" yes "$W/huge-top" "Coach Lee Huge hosted a Be The Match drive"
    row "Gamma Institute" "Jane Doe" yes "$W/pages/verified.html" "Be The Match registry drive"
} >"$A/output/gamma-institute.csv"

# 1. Private addresses are refused by default: nothing reaches the server.
rs audit "$C"
assert_eq "$RS_RC" 1 "audit without allow_private: exit 1 (leads not verified)"
J="$A/output/audit.json"
assert_file_json "$J" 'sum(1 for l in d["leads"] if l["result"] == "unreachable (private address 127.0.0.1)" and l["evidence_url"].startswith("http://127.")) == 10' \
    "every 127.0.0.1 lead is unreachable (private address 127.0.0.1)"
assert_file_json "$J" '[l["result"] for l in d["leads"] if l["evidence_url"].startswith("http://localhost")][0] in ("unreachable (private address 127.0.0.1)", "unreachable (private address ::1)")' \
    "a localhost URL is refused by its resolved address"
check "no request reached the server" test ! -s "$A/requests.jsonl"
assert_contains "$RS_OUT" "audit: 13 warm leads: 0 verified, 0 quote-not-found, 0 name-not-found, 12 unreachable, 1 no-evidence" \
    "the summary line counts each result"

# 2. With allow_private: each page classified right, nothing hangs.
cat >>"$C" <<'EOF2'

[audit]
allow_private = true
timeout = "3s"
connect_timeout = "2s"
per_host_interval = "300ms"
EOF2
t0=$(date +%s)
rs audit "$C"
t1=$(date +%s)
assert_eq "$RS_RC" 1 "audit with allow_private: exit 1 (some leads not verified)"
[ "$RS_RC" = 1 ] || diag "$RS_OUT"
assert_le $((t1 - t0)) 60 "the audit ends within its bounds (a stalled server and a 50 MB page included): $((t1 - t0)) s"
res() { json_get "$J" "[l['result'] for l in d['leads'] if l['school'] == '$1' and l['coach'] == '$2'][0]"; }
assert_eq "$(res "Alpha University" "Jane Doe")" "verified" "quote and surname on the page: verified"
assert_eq "$(res "Alpha University" "John Roe")" "quote-not-found" "the quote is not on the page: quote-not-found"
assert_eq "$(res "Alpha University" "Mary Major")" "name-not-found" "the page names another coach: name-not-found"
assert_eq "$(res "Alpha University" "Pat Minor")" "unreachable (HTTP 404)" "a 404: unreachable (HTTP 404)"
assert_eq "$(res "Alpha University" "Sam Loop")" "unreachable (too many redirects (more than 5))" "a redirect loop: unreachable (too many redirects)"
assert_eq "$(res "Alpha University" "Lee Huge")" "quote-not-found" "a 50 MB page with the quote at its end: quote-not-found (only the first 5 MiB are read)"
assert_file_json "$J" '[l for l in d["leads"] if l["coach"] == "Lee Huge" and l["school"] == "Alpha University"][0]["truncated"] is True and [l for l in d["leads"] if l["coach"] == "Lee Huge" and l["school"] == "Alpha University"][0]["bytes"] == 5 * 1048576' \
    "the 50 MB page: truncated, exactly max_bytes (5 MiB) read"
assert_eq "$(res "Gamma Institute" "Lee Huge")" "verified" "a 50 MB page with the quote at its start: verified"
assert_eq "$(res "Beta College" "Jane Doe")" "verified" "localhost is allowed with allow_private"
assert_eq "$(res "Alpha University" "Nora None")" "no-evidence" "a yes lead without evidence: no-evidence"
assert_file_json "$J" 'not any(l["coach"] == "Kim Huge-Top" for l in d["leads"])' "a no lead is not audited"
assert_eq "$(res "Beta College" "Ann Split")" "verified" "a quote split across tags, with entities, curly quotes and Latin-1: verified (after 3 redirects)"
assert_file_json "$J" '[l for l in d["leads"] if l["coach"] == "Ann Split"][0]["final_url"].endswith("/pages/split.html")' \
    "final_url is the page after the redirects"
assert_eq "$(res "Beta College" "Bob Slow")" "unreachable (timeout after 3s)" "a stalled server: unreachable (timeout after 3s)"
assert_eq "$(res "Beta College" "Fay Ftp")" "unreachable (not an http(s) URL)" "an ftp URL is not fetched"
assert_file_json "$J" 'd["schema_version"] == 1 and d["counts"] == {"verified": 5, "quote-not-found": 2, "name-not-found": 1, "unreachable": 4, "no-evidence": 1}' \
    "audit.json counts"
assert_file_json "$J" 'all(l["fetched_at"].endswith("Z") for l in d["leads"] if l["result"] not in ("no-evidence", "unreachable (not an http(s) URL)")) and [l for l in d["leads"] if l["coach"] == "Jane Doe"][0]["http_status"] == 200' \
    "fetched_at and http_status are recorded"
aborted=$("$PY" -c 'import json,sys; print(max([json.loads(l).get("aborted_after", -1) for l in open(sys.argv[1])]))' "$A/requests.jsonl")
assert_le "$aborted" 20000000 "the server saw the 50 MB transfer stopped early (after $aborted bytes)"
subj=$(git -C "$A" log -1 --format=%s)
assert_contains "$subj" "ralphsup: audit of batch itest: 5 verified of 13 warm leads" "audit.json is committed"
assert_eq "$(git -C "$A" log -1 --format='%(trailers:key=Ralphsup-Event,valueonly)' | head -1)" "audit" "the commit's event is audit"
assert_eq "$(git -C "$A" show --name-only --format= HEAD)" "output/audit.json" "the audit commit holds audit.json only"
check "audit.json is clean in the work tree" test -z "$(git -C "$A" status --porcelain output/audit.json)"

# 3. status shows the counts.
rs status "$C"
assert_contains "$RS_OUT" "audit: 13 warm leads (" "status: the audit line"
assert_contains "$RS_OUT" ": 5 verified, 2 quote-not-found, 1 name-not-found, 4 unreachable, 1 no-evidence" "status: counts per result"
rs status "$C" --json
assert_contains "$RS_OUT" '"audit":{"finished_at":' "status --json: the audit object"
assert_contains "$RS_OUT" '"counts":{"verified":5,"quote-not-found":2' "status --json: counts"

# 4. The report: the Warm leads sheet's audit column, the Summary's count.
rs report "$C" --date 2026-11-24
assert_eq "$RS_RC" 0 "report with audit results: exit 0"
out=$("$PY" - "$A/output/master_report_2026-11-24.xlsx" <<'PYEOF'
import sys, openpyxl
wb = openpyxl.load_workbook(sys.argv[1], read_only=True)
rows = list(wb["Warm leads"].iter_rows(values_only=True))
h = list(rows[0])
a, c, s = h.index("audit"), h.index("coach_name"), h.index("school")
for r in rows[1:]:
    print(f"{r[s]}|{r[c]}|{r[a]}")
for r in wb["Summary"].iter_rows(values_only=True):
    if r and r[0] and str(r[0]).startswith("Warm leads verified"):
        print(f"summary|{r[0]}|{r[1]}")
PYEOF
)
assert_contains "$out" "Alpha University|Jane Doe|verified" "Warm leads: Jane Doe verified"
assert_contains "$out" "Alpha University|Sam Loop|unreachable (too many redirects (more than 5))" "Warm leads: Sam Loop's result"
assert_contains "$out" "Alpha University|Nora None|no-evidence" "Warm leads: no-evidence"
assert_contains "$out" "summary|Warm leads verified (ralphsup audit)|5" "Summary: 5 warm leads verified"
# Until the report knows the evidence columns, they are "extra columns ignored" notes on the Problems sheet.
extra=()
head -1 "$A/output/master_report_2026-11-24.csv" | grep -q evidence_url || extra=(--expect-problem "extra columns ignored")
check_out=$("$PY" "$RALPHSUP_SOURCE_ROOT/tests/report/check_xlsx.py" --xlsx "$A/output/master_report_2026-11-24.xlsx" \
    --csv "$A/output/master_report_2026-11-24.csv" "${extra[@]}" 2>&1) && ok "the independent reader accepts the workbook" || { not_ok "the independent reader accepts the workbook"; diag "$check_out"; }

# 5. --school re-audits one school, keeps the others; its two requests to one host keep the interval.
: >"$A/requests.jsonl"
rs audit "$C" --school "gamma institute"
assert_eq "$RS_RC" 0 "audit --school (all its leads verified): exit 0"
assert_contains "$RS_OUT" "(this run: 2 of 2 leads of Gamma Institute verified)" "--school: this run's count"
assert_file_json "$J" 'len(d["leads"]) == 13 and d["scope"] == "Gamma Institute" and d["counts"]["verified"] == 5' "--school: the other schools' results are kept"
gap=$("$PY" -c '
import json, sys
ts = [json.loads(l)["t"] for l in open(sys.argv[1]) if "aborted_after" not in l]
print(round(ts[1] - ts[0], 3) if len(ts) == 2 else "requests: %d" % len(ts))' "$A/requests.jsonl")
assert_le 0.3 "$gap" "two requests to one host are per_host_interval (300ms) apart: ${gap}s"
assert_eq "$(git -C "$A" log -1 --format='%(trailers:key=Ralphsup-School,valueonly)' | head -1)" "Gamma Institute" "--school: the commit names the school"
rs audit "$C" --school "Nowhere College"
assert_eq "$RS_RC" 64 "--school of no completed school: exit 64"
assert_contains "$RS_OUT" '"Nowhere College" is not a completed school' "--school: says why"

# 6. Config errors: unknown key, with its position (exit 78).
echo 'allow_privat = true' >>"$C"
rs audit "$C"
assert_eq "$RS_RC" 78 "unknown [audit] key: exit 78"
assert_contains "$RS_OUT" "[audit] allow_privat: unknown key; did you mean 'allow_private'?" "unknown [audit] key: named"

# 7. Without audit.json the report says "not audited".
sed -i '/^allow_privat = true$/d' "$C"
rm "$J"
rs report "$C" --date 2026-11-25
out=$("$PY" -c '
import sys, openpyxl
wb = openpyxl.load_workbook(sys.argv[1], read_only=True)
rows = list(wb["Warm leads"].iter_rows(values_only=True))
a = list(rows[0]).index("audit")
print(sorted(set(r[a] for r in rows[1:])))' "$A/output/master_report_2026-11-25.xlsx")
assert_eq "$out" "['not audited']" "no audit.json: every warm lead is \"not audited\""
rs status "$C"
assert_not_contains "$RS_OUT" "audit:" "no audit.json: status has no audit line"
finish
