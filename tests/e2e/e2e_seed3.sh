#!/bin/bash
# e2e_seed3.sh: the seed batch of three schools, end to end with the real CLI.
#
# Scenario tests/fakeapi/scenarios/e2e_seed3.json: "Cached College" Reads its
# cache file (cache/cached-college.md, created here) and Writes its CSV at
# once (2 coaches, 0 overlaps); "Uncached University" runs Bash twice, then
# Writes (3 coaches, 1 overlap); "Problematic Institute" reports RALPH_FAILED
# on every attempt. `start CONFIG --max-iterations 30` must finish (exit 0)
# with 2 completed schools whose CSVs were verified and 1 failed school with
# its reason after exactly 3 attempts — and the progress file, the git
# trailers, logs/events.jsonl and the per-iteration transcripts must all tell
# the same story (5 iterations).
. "$(dirname "$0")/lib.sh"
e2e_init seed3
e2e_batch '{"batch_name": "e2e-seed3", "schools": [
  {"name": "Cached College", "conference": "E2E Conference", "state": "CA", "priority": 1},
  {"name": "Uncached University", "conference": "E2E Conference", "state": "OR", "priority": 1},
  {"name": "Problematic Institute", "conference": "E2E Conference", "state": "WA", "priority": 1}
]}'
mkdir -p "$E2E_BATCH/cache"
printf '# Cached College athletics staff (e2e cache)\nE2E-CACHE-MARKER-7f3a\n' > "$E2E_BATCH/cache/cached-college.md"
e2e_fakeapi e2e_seed3

e2e_start --max-iterations 30
check "start exits 0 (batch finished)" test "$E2E_RC" = 0

pyprog "progress: 2 completed with verified CSVs, 1 failed after exactly 3 attempts, 5 iterations" <<'EOF'
p = P()
if p["status"] != "finished": die("status %r" % p["status"])
if p["pending"] or p["current"] or p.get("current_school"): die("pending/current not empty")
if p["iterations"] != 5: die("iterations %r" % p["iterations"])
done = {c["name"]: c for c in p["completed"]}
if set(done) != {"Cached College", "Uncached University"}: die("completed %r" % list(done))
want = {"Cached College": (2, 0), "Uncached University": (3, 1)}
import csv
for n, (rows, ov) in want.items():
    c = done[n]
    if (c["coaches"], c["overlaps"]) != (rows, ov): die("%s counts %r" % (n, (c["coaches"], c["overlaps"])))
    if len(c["attempts"]) != 1 or c["attempts"][0]["outcome"] != "completed": die("%s attempts %r" % (n, c["attempts"]))
    with open(os.path.join(B, c["csv"]), newline="", encoding="utf-8") as f:
        R = list(csv.DictReader(f))
    if len(R) != rows or sum(r["nmdp_overlap"] == "yes" for r in R) != ov or any(r["school"] != n for r in R):
        die("%s CSV does not match: %r" % (n, R))
if len(p["failed"]) != 1: die("failed %r" % p["failed"])
f = p["failed"][0]
if f["name"] != "Problematic Institute": die("failed name %r" % f["name"])
if "staff directory unavailable" not in (f.get("reason") or ""): die("failed reason %r" % f.get("reason"))
if [a["attempt"] for a in f["attempts"]] != [1, 2, 3] or any(a["outcome"] != "failed" for a in f["attempts"]):
    die("failed attempts %r" % f["attempts"])
# The batch total is the sum of the CLI's own total_cost_usd over the iterations' result lines
# (whatever the CLI version's default model costs: 0.0625 with 2.1.197's claude-opus-4-8).
import glob
want_cost = 0.0
for t in glob.glob(os.path.join(B, "logs", "*-*.jsonl")):
    for line in open(t, encoding="utf-8"):
        if line.startswith("{") and '"result"' in line:
            r = json.loads(line)
            if r.get("type") == "result": want_cost += r.get("total_cost_usd") or 0
if want_cost <= 0 or abs(p["cost_usd"] - want_cost) > 1e-6: die("cost %r, the CLI's result lines say %r" % (p["cost_usd"], want_cost))
print("cost $%.5f, failed reason: %s" % (p["cost_usd"], f["reason"]))
EOF

pyprog "git trailers agree: 5 started, 2 completed, 2 attempt-failed + 1 failed at attempt 3, finished" <<'EOF'
G = GITLOG()
ev = [c["trailers"].get("Ralphsup-Event", ["?"])[0] for c in G]
def by(e): return [c for c in G if c["trailers"].get("Ralphsup-Event") == [e]]
started = by("started")
if len(started) != 5: die("started commits: %d (%r)" % (len(started), ev))
if [c["trailers"]["Ralphsup-Iteration"][0] for c in started] != ["1", "2", "3", "4", "5"]: die("iterations in trailers")
comp = {c["trailers"]["Ralphsup-School"][0] for c in by("completed")}
if comp != {"Cached College", "Uncached University"}: die("completed trailers %r" % comp)
af = by("attempt-failed")
if [(c["trailers"]["Ralphsup-School"][0], c["trailers"]["Ralphsup-Attempt"][0]) for c in af] != \
   [("Problematic Institute", "1"), ("Problematic Institute", "2")]: die("attempt-failed %r" % [c["trailers"] for c in af])
fl = by("failed")
if len(fl) != 1 or fl[0]["trailers"]["Ralphsup-School"] != ["Problematic Institute"] or fl[0]["trailers"]["Ralphsup-Attempt"] != ["3"]:
    die("failed commit %r" % fl)
if "staff directory unavailable" not in fl[0]["subject"] + fl[0]["body"]: die("reason not in failed commit")
if ev[-1] != "finished": die("last event %r" % ev[-1])
# the committed progress file is the one on disk
head = subprocess.run(["git", "-C", B, "show", "HEAD:batch_progress.json"], capture_output=True, text=True).stdout
if json.loads(head) != P(): die("HEAD's progress file differs from the working file")
print("events: " + " ".join(ev))
EOF

pyprog "events.jsonl agrees: 5 iteration-started/finished (2 completed, 3 item), batch-finished 2/1" <<'EOF'
E = EV()
st = [e for e in E if e["event"] == "iteration-started"]
fi = [e for e in E if e["event"] == "iteration-finished"]
if [e["iteration"] for e in st] != [1, 2, 3, 4, 5] or [e["iteration"] for e in fi] != [1, 2, 3, 4, 5]:
    die("iterations started %r finished %r" % ([e.get("iteration") for e in st], [e.get("iteration") for e in fi]))
got = [(e["school"], e["attempt"], e["verdict"]) for e in fi]
want = [("Cached College", 1, "completed"), ("Uncached University", 1, "completed"),
        ("Problematic Institute", 1, "item"), ("Problematic Institute", 2, "item"), ("Problematic Institute", 3, "item")]
if got != want: die("finished %r" % got)
if any("staff directory unavailable" not in e["reason"] for e in fi[2:]): die("reasons %r" % [e["reason"] for e in fi[2:]])
bf = [e for e in E if e["event"] == "batch-finished"]
if len(bf) != 1 or (bf[0]["completed"], bf[0]["failed"]) != (2, 1): die("batch-finished %r" % bf)
EOF

pyprog "transcripts logs/<iteration>-<slug>.jsonl: one per iteration, each ends with the CLI's result line" <<'EOF'
p = P()
E = EV()
fi = {e["iteration"]: e for e in E if e["event"] == "iteration-finished"}
files = sorted(x for x in os.listdir(os.path.join(B, "logs")) if x.endswith(".jsonl") and x != "events.jsonl")
slugs = {c["name"]: c["slug"] for c in p["completed"] + p["failed"]}
want = ["%04d-%s.jsonl" % (i, slugs[fi[i]["school"]]) for i in range(1, 6)]
if files != want: die("transcripts %r, expected %r" % (files, want))
for i, fn in enumerate(files, 1):
    L = JL(os.path.join(B, "logs", fn))
    if L[0].get("type") != "system" or L[0].get("subtype") != "init": die("%s: first line %r" % (fn, L[0].get("type")))
    if L[-1].get("type") != "result": die("%s: no result line" % fn)
    if not fi[i].get("transcript", "").endswith(fn): die("%s: event names %r" % (fn, fi[i].get("transcript")))
# the cached school really Read the cache file and got its content, then wrote at once (no Bash)
L = JL(os.path.join(B, "logs", want[0]))
tools = [b["name"] for l in L if l.get("type") == "assistant" for b in l["message"]["content"] if b.get("type") == "tool_use"]
if tools != ["Read", "Write"]: die("cached tools %r" % tools)
if "E2E-CACHE-MARKER-7f3a" not in json.dumps([l for l in L if l.get("type") == "user"]): die("cache content not read")
L = JL(os.path.join(B, "logs", want[1]))
tools = [b["name"] for l in L if l.get("type") == "assistant" for b in l["message"]["content"] if b.get("type") == "tool_use"]
if tools != ["Bash", "Bash", "Write"]: die("uncached tools %r" % tools)
for fn in want[2:]:
    if "RALPH_FAILED" not in JL(os.path.join(B, "logs", fn))[-1].get("result", ""): die("%s: no RALPH_FAILED" % fn)
print(" ".join(files))
EOF

pyprog "fakeapi served each school by its own route (3 + 4 + 3 requests)" <<'EOF'
R = [r for r in REQ() if r["method"] == "POST"]
from collections import Counter
c = Counter(r["route"] for r in R)
if c != Counter({"cached": 3, "uncached": 4, "problematic": 3}): die("routes %r" % c)
EOF

check "status exits 0" e2e_status
e2e_common_checks
# A finished batch: `start` again has nothing to do and writes no commit.
n_before=$(git -C "$E2E_BATCH" rev-list --count HEAD)
e2e_start
check "start on the finished batch exits 0" test "$E2E_RC" = 0
check "start on the finished batch adds no commit" test "$(git -C "$E2E_BATCH" rev-list --count HEAD)" = "$n_before"
check "start on the finished batch says so" grep -q "is finished: 2 completed, 1 failed; nothing to do" "$T/ralphsup.out"
e2e_finish
