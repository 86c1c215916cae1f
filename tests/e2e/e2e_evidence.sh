#!/bin/bash
# e2e_evidence.sh: the lead contract with the real CLI (scenario
# tests/fakeapi/scenarios/e2e_evidence.json). "Evidence University"'s first
# attempt Writes a CSV whose row 1 is a `yes` without an evidence_url and
# claims it with matching counts: ralphsup must fail the attempt with the
# reason that names the row and the column. The scripted API answers the
# retry with the fix (Read the previous CSV, Write it with the evidence,
# RALPH_DONE) only when the retry's prompt carries that reason word for
# word; otherwise it repeats the bad CSV. Expected: 2 attempts, the second
# completed, the CSV on disk is the fixed one.
. "$(dirname "$0")/lib.sh"
e2e_init evidence
e2e_batch '{"batch_name": "e2e-evidence", "schools": [
  {"name": "Evidence University", "conference": "E2E Conference", "state": "UT",
   "athletics_url": "https://athletics.example.edu", "email_domains": ["example.edu"]}
]}'
e2e_fakeapi e2e_evidence

e2e_start
check "start exits 0 (batch finished)" test "$E2E_RC" = 0

pyprog "attempt 1 fails: row 1 (Jordan Avery): nmdp_overlap is yes but evidence_url is empty; attempt 2 completes" <<'EOF'
p = P()
if p["status"] != "finished": die("status %r" % p["status"])
done = {c["name"]: c for c in p["completed"]}
if "Evidence University" not in done: die("not completed: %r" % p)
c = done["Evidence University"]
want = ("RALPH_DONE csv output/evidence-university.csv breaks the lead contract: "
        "row 1 (Jordan Avery): nmdp_overlap is yes but evidence_url is empty")
got = [(a["attempt"], a["outcome"], a.get("reason")) for a in c["attempts"]]
print(got)
if got != [(1, "failed", want), (2, "completed", None)]: die("attempts %r" % got)
if (c["coaches"], c["overlaps"]) != (2, 1): die("counts %r" % ((c["coaches"], c["overlaps"]),))
if "review" in c: die("2 rows, 1 yes is not above max_yes_share 0.5: %r" % c["review"])
EOF

pyprog "the retry's prompt carried the reason (the API served it the 'fix' route), the first did not" <<'EOF'
R = REQ()
by_attempt = {}
for r in R:
    by_attempt.setdefault(str((r.get("vars") or {}).get("attempt")), set()).add(r.get("route"))
print(by_attempt)
if by_attempt.get("1") != {"first"}: die("attempt 1 routes %r" % by_attempt.get("1"))
if by_attempt.get("2") != {"fix"}: die("attempt 2 routes %r (the reason was not in the prompt)" % by_attempt.get("2"))
EOF

pyprog "the CSV on disk is the fixed one: row 1 cites its evidence page, not the staff directory" <<'EOF'
import csv
with open(os.path.join(B, "output", "evidence-university.csv"), newline="", encoding="utf-8") as f:
    R = list(csv.DictReader(f))
r = R[0]
print(r["evidence_url"], "|", r["evidence_quote"])
if r["evidence_url"] != "https://athletics.example.edu/news/2024/4/12/soccer-be-the-match-drive": die("evidence_url %r" % r)
if r["evidence_url"] == r["source_url"] or r["confidence"] != "high" or r["overlap_checked"] != "coach": die("row %r" % r)
EOF

pyprog "events.jsonl: the failed iteration carries the reason, the completed one the CSV" <<'EOF'
E = [e for e in EV() if e.get("event") == "iteration-finished" and e.get("school") == "Evidence University"]
v = [(e.get("attempt"), e.get("verdict")) for e in E]
print(v)
if v != [(1, "item"), (2, "completed")]: die("verdicts %r" % v)
if "evidence_url is empty" not in (E[0].get("reason") or ""): die("reason %r" % E[0].get("reason"))
if E[-1].get("csv") != "output/evidence-university.csv": die("csv %r" % E[-1].get("csv"))
EOF

e2e_finish
