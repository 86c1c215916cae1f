#!/bin/bash
# e2e_stress10.sh: ten schools with API trouble, end to end with the real CLI.
#
# Scenario tests/fakeapi/scenarios/e2e_stress10.json: "Stress School 01" gets
# two 429s (no retry-after), 02 a 429 with retry-after: 1, 03 one 529, 04 no
# answer at all on attempt 1 (the supervisor's stall_timeout, 8 s here, must
# kill it; attempt 2 completes), 05 a stream cut once (the CLI's non-streaming
# fallback answers), 06 an SSE overloaded error once, 07-10 plain. All ten
# must complete with verified CSVs, nothing lost or duplicated. Prints the
# average time per school (from the progress file) for the record.
. "$(dirname "$0")/lib.sh"
e2e_init stress10
schools=""
for i in 01 02 03 04 05 06 07 08 09 10; do
    schools="$schools${schools:+,}
  {\"name\": \"Stress School $i\", \"conference\": \"E2E Conference\", \"state\": \"TX\"}"
done
e2e_batch "{\"batch_name\": \"e2e-stress10\", \"schools\": [$schools]}" 'stall_timeout = "8s"'
e2e_fakeapi e2e_stress10

e2e_start --max-iterations 30
check "start exits 0 (batch finished)" test "$E2E_RC" = 0

pyprog "progress: all 10 completed with verified CSVs, none failed/pending, 11 iterations" <<'EOF'
import csv
p = P()
names = ["Stress School %02d" % i for i in range(1, 11)]
if p["status"] != "finished" or p["pending"] or p["failed"] or p["current"]: die("state %r" % {k: p[k] for k in ("status", "pending", "failed", "current")})
got = sorted(c["name"] for c in p["completed"])
if got != names: die("completed %r" % got)
for c in p["completed"]:
    with open(os.path.join(B, c["csv"]), newline="", encoding="utf-8") as f:
        R = list(csv.DictReader(f))
    if (c["coaches"], c["overlaps"]) != (2, 0) or len(R) != 2 or any(r["school"] != c["name"] for r in R):
        die("%s: counts %r, CSV %r" % (c["name"], (c["coaches"], c["overlaps"]), R))
if p["iterations"] != 11: die("iterations %r" % p["iterations"])
EOF

pyprog "Stress School 04: attempt 1 killed by stall_timeout (item failure), attempt 2 completed" <<'EOF'
c = [c for c in P()["completed"] if c["name"] == "Stress School 04"][0]
a = c["attempts"]
if [x["outcome"] for x in a] != ["failed", "completed"] or [x["attempt"] for x in a] != [1, 2]: die("attempts %r" % a)
if "stall" not in (a[0].get("reason") or ""): die("reason %r" % a[0].get("reason"))
# claude handles the supervisor's SIGTERM itself (exit 143) or is killed after kill_grace
if a[0]["exit_status"] not in ("exit 143", "signal 15 (SIGTERM)", "signal 9 (SIGKILL)"): die("exit_status %r" % a[0]["exit_status"])
others = [c for c in P()["completed"] if c["name"] != "Stress School 04"]
if any(len(c["attempts"]) != 1 for c in others): die("other schools needed retries: %r" % [c["name"] for c in others if len(c["attempts"]) != 1])
E = EV()
stops = [e for e in E if e["event"] == "stop-iteration"]
if len(stops) != 1 or stops[0]["school"] != "Stress School 04" or "stall" not in stops[0]["reason"]: die("stop events %r" % stops)
print("attempt 1: %s, %s" % (a[0]["reason"], a[0]["exit_status"]))
EOF

pyprog "API trouble really happened and was retried by the CLI (429 x2, 429+retry-after, 529, cut, sse_error, hang)" <<'EOF'
R = REQ()
from collections import Counter
post = [r for r in R if r["method"] == "POST"]
def n(route, **kw): return sum(1 for r in post if r["route"] == route and all(r.get(k) == v for k, v in kw.items()))
want = {("s01-429x2", 429): 2, ("s02-429-retry-after", 429): 1, ("s03-529", 529): 1}
for (route, st), k in want.items():
    if n(route, status=st) != k: die("%s: %d x %d" % (route, n(route, status=st), st))
if n("s05-cut-once", kind="cut") != 1 or n("s05-cut-once", stream=False) < 1 and n("s05-cut-once", stream=None) < 1:
    die("s05: cut/fallback not seen")
if n("s06-sse-error-once", kind="sse_error") != 1: die("s06: no sse_error")
hangs = [r for r in post if r["route"] == "s04-hang-attempt1" and r["kind"] == "hang"]
if len(hangs) != 1: die("s04 hangs %d" % len(hangs))
ends = [r for r in JL(os.environ["E2E_REQLOG"]) if r.get("event") == "hang_end" and r["req"] == hangs[0]["req"]]
if not ends: die("the hanging request was not closed by the client")
E = EV()
retries = Counter(e["school"] for e in E if e["event"] == "api-retry")
if retries["Stress School 01"] != 2 or retries["Stress School 02"] != 1 or retries["Stress School 03"] != 1:
    die("api-retry events %r" % retries)
print("api-retry events: %r; hang closed after %.1fs" % (dict(retries), ends[0]["hang_s"]))
EOF

pyprog "git log: 11 started, 10 completed, 1 attempt-failed, finished; HEAD == progress file" <<'EOF'
G = GITLOG()
from collections import Counter
c = Counter(x["trailers"].get("Ralphsup-Event", ["?"])[0] for x in G)
if (c["started"], c["completed"], c["attempt-failed"], c["failed"], c["finished"]) != (11, 10, 1, 0, 1): die("events %r" % c)
head = subprocess.run(["git", "-C", B, "show", "HEAD:batch_progress.json"], capture_output=True, text=True).stdout
if json.loads(head) != P(): die("HEAD's progress file differs")
EOF

pyprog "average time per school (progress file)" <<'EOF'
p = P()
d = [c["duration_s"] for c in p["completed"]]
plain = [c["duration_s"] for c in p["completed"] if c["name"] != "Stress School 04"]
print("AVERAGE TIME PER SCHOOL: %.2f s over %d schools (first attempt start -> completion; %.2f s without the stalled one; min %.2f, max %.2f)"
      % (sum(d) / len(d), len(d), sum(plain) / len(plain), min(d), max(d)))
print("batch wall time: %s s" % os.environ.get("E2E_SECS"))
EOF

e2e_common_checks
e2e_finish
