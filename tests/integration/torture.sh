#!/bin/bash
# Torture: `start` over many schools (the scripted agent, behaviour "done": no
# tool in its own session, so every process of an iteration is the agent or a
# short-lived child in its process group) killed with kill -9 at random
# instants, again and again, then let it finish; with jobs = 1 and jobs = 4.
#
# After every kill: the progress file parses and holds every school in exactly
# one place; no agent process of the batch is left (within 3 s: the agent dies
# by its parent-death signal); the schools completed in the file and in
# `git show HEAD:batch_progress.json` only grow, and every school ever
# committed as completed is still completed. At the end: `start` finishes the
# batch, no commit of the first-parent history lost a school completed in an
# earlier one, `git fsck --strict` is clean, every school is completed once in the
# file and has at most one `Ralphsup-Event: completed` commit, and each
# completed school's CSV exists and verifies (the fifteen columns of the lead
# contract, as many rows as the entry's coaches; checked here in Python, not
# by ralphsup).
#
# Scale (figures in bench/RESULTS.md):
#   RALPHSUP_TORTURE_KILLS    kills per jobs setting (default 40: the suite's
#                             budget; the issue's 300 is
#                             `RALPHSUP_TORTURE_KILLS=300 meson test -C build integration-torture`)
#   RALPHSUP_TORTURE_SCHOOLS  schools in the batch (default 100)
#   RALPHSUP_TORTURE_PACK_EVERY  [git] pack_every (default 3: the audit trail is packed
#                             every third commit, so many kills land while a pack is
#                             written or loose copies are removed; at the end the packs
#                             hold the history and no loose object of it is left behind)
#   RALPHSUP_TORTURE_SEAL_EVERY  [batch] seal_every (default 7: completed entries are
#                             sealed into segment files every 7, so kills land while a
#                             segment or the file naming it is written; every version
#                             of the file, on disk and in every commit, must find each
#                             sealed school in full in a segment of that same version)
#   SEED                      random seed (default: a fresh one, printed)
source "$(dirname "$0")/lib.sh"

KILLS=${RALPHSUP_TORTURE_KILLS:-40}
NSCH=${RALPHSUP_TORTURE_SCHOOLS:-100}
PACK_EVERY=${RALPHSUP_TORTURE_PACK_EVERY:-3}
SEAL_EVERY=${RALPHSUP_TORTURE_SEAL_EVERY:-7}
SEED=${SEED:-$RANDOM$RANDOM}
echo "# torture: $KILLS kills per jobs setting, $NSCH schools, SEED=$SEED"

# fsck_quiet DIR: git fsck --strict, without the (expected) dangling commits of killed runs
fsck_quiet() { local o r=0; o=$(git -C "$1" fsck --strict --no-progress 2>&1) || r=$?; printf '%s\n' "$o" | grep -v '^dangling ' | grep . | sed 's/^/#   /'; return $r; }

# torture DIR JOBS: the kills, then the final start, then the checks; prints
# "BAD ..." lines for every violation and one "FIGURES {json}" line
torture() {
    "$PY" - "$RALPHSUP" "$1" "$2" "$KILLS" "$NSCH" "$SEED" <<'EOF'
import csv, json, os, random, signal, subprocess, sys, time
exe, root, jobs, kills, nsch, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
cfg = os.path.join(root, "config", "batch.toml")
prog = os.path.join(root, "batch_progress.json")
random.seed(seed * 10 + jobs)
schools = ["School Number %d" % i for i in range(1, nsch + 1)]
bad = []
def BAD(msg):
    bad.append(msg)
    print("BAD " + msg, flush=True)

def agent_pids():
    """Processes of this batch's iterations: RALPHSUP_RUN_TOKEN set and RALPHSUP_ROOT = root."""
    out = []
    want = ("RALPHSUP_ROOT=" + root).encode()
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/environ" % p, "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if want in env and any(e.startswith(b"RALPHSUP_RUN_TOKEN=") for e in env):
            out.append(p)
    return out

def cmdline(p):
    try:
        with open("/proc/%s/cmdline" % p, "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "(gone)"

def name_of(x):
    return x if isinstance(x, str) else x["name"]

def expand(d, read, where):
    """Replace each sealed (name-only) completed entry by its entry in full from the segments named, read
    through read(path relative to the root); a sealed school in no segment is a violation."""
    full = {}
    for rel in d.get("segments", []):
        try:
            seg = json.loads(read(rel))
        except Exception as e:
            BAD("%s: segment %s: %s" % (where, rel, e))
            continue
        for x in seg["completed"]:
            full[x["name"]] = x
    out = []
    for x in d["completed"]:
        if isinstance(x, str):
            if x not in full:
                BAD("%s: %r is sealed but in no segment of this version" % (where, x))
                continue
            x = full[x]
        out.append(x)
    d["completed"] = out
    return d

def read_disk(rel):
    with open(os.path.join(root, rel), "rb") as f:
        return f.read()

def places(d, where):
    """Check each school is in exactly one place; return the completed names."""
    seen = {}
    cur = d.get("in_progress") or ([d["current"]] if d.get("current") else [])
    for k, names in (("pending", d["pending"]), ("completed", [name_of(x) for x in d["completed"]]),
                     ("failed", [x["name"] for x in d["failed"]]), ("in_progress", [x["name"] for x in cur])):
        for n in names:
            if n in seen:
                BAD("%s: %r in %s and in %s" % (where, n, seen[n], k))
            seen[n] = k
    if sorted(seen) != sorted(schools):
        BAD("%s: schools lost or added: %d listed" % (where, len(seen)))
    if d["failed"]:
        BAD("%s: failed schools %s" % (where, [x["name"] for x in d["failed"]]))
    return set(name_of(x) for x in d["completed"])

def git_read(rev):
    return lambda rel: subprocess.run(["git", "-C", root, "show", "%s:%s" % (rev, rel)], stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL, check=True).stdout

def head_progress():
    r = subprocess.run(["git", "-C", root, "show", "HEAD:batch_progress.json"], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL)
    return json.loads(r.stdout) if r.returncode == 0 else None

t_start = time.monotonic()
prev_file, prev_head, ever_committed = set(), set(), set()
killed = early = 0
max_gone = 0.0
inst = []  # the kill instants (seconds after the spawn)
gitdir = os.path.join(root, ".git")
locks_seen, ref_locked, lock_waits, busy = {}, False, 0, 0
# The kill instants are uniform in [0, D]; D follows a target line so that
# about 80 % of the batch is completed by the last kill, evenly (the batch never
# finishes before it: the rest is left to the final start).
D = 0.2
last_out = os.path.join(root, "torture.out")
starts = 0
for k in range(kills):
    # A batch the killed runs already finished leaves nothing to kill: the
    # remaining starts would only exit 0 and read as kills that never
    # happened (jobs = 4 can get there when a lock wait lets one run go long).
    if len(prev_file) == nsch:
        break
    starts += 1
    with open(last_out, "wb") as out:
        p = subprocess.Popen([exe, "start", "--jobs", str(jobs), cfg], stdin=subprocess.DEVNULL, stdout=out,
                             stderr=subprocess.STDOUT)
        # A ref lock left by a kill mid-commit is waited for 2 s by the next
        # start before it is removed (docs/progress.md): let that start live
        # past it, or no start would ever get further.
        at = random.uniform(0, D) + (2.2 if ref_locked else 0)
        lock_waits += 1 if ref_locked else 0
        time.sleep(at)
        busy += 1 if agent_pids() else 0  # an iteration was in flight at the kill
        try:
            p.send_signal(signal.SIGKILL)
        except ProcessLookupError:
            pass
        rc = p.wait()
    if rc == -signal.SIGKILL:
        killed += 1
        inst.append(at)
    else:
        early += 1
        if rc != 0:
            BAD("kill %d: start exited %d before the kill: %s" % (k, rc, open(last_out, errors="replace").read()[-800:]))
    locks = sorted(os.path.relpath(os.path.join(dp, f), gitdir) for dp, _, fs in os.walk(gitdir) for f in fs
                   if f.endswith(".lock"))
    for l in locks:
        locks_seen[l] = locks_seen.get(l, 0) + 1
    ref_locked = any(l.startswith("refs/") or l == "HEAD.lock" for l in locks)
    # no agent process is left
    t0 = time.monotonic()
    left = agent_pids()
    while left and time.monotonic() - t0 < 3:
        time.sleep(0.02)
        left = agent_pids()
    max_gone = max(max_gone, time.monotonic() - t0)
    if left:
        BAD("kill %d: agent processes left after 3 s: %s" % (k, "; ".join("%s %s" % (q, cmdline(q)) for q in left)))
    # the progress file parses; completed only grows
    try:
        with open(prog) as f:
            d = json.load(f)
        comp = places(d, "kill %d, file" % k)
        expand(d, read_disk, "kill %d, file" % k)
    except Exception as e:
        BAD("kill %d: progress file: %s" % (k, e))
        continue
    try:
        h = head_progress()
        hcomp = places(h, "kill %d, HEAD" % k) if h else set()
        if h:
            expand(h, git_read("HEAD"), "kill %d, HEAD" % k)
    except Exception as e:
        BAD("kill %d: HEAD:batch_progress.json: %s" % (k, e))
        continue
    if not prev_file <= comp:
        BAD("kill %d: no longer completed in the file: %s" % (k, sorted(prev_file - comp)))
    if not prev_head <= hcomp:
        BAD("kill %d: no longer completed at HEAD: %s" % (k, sorted(prev_head - hcomp)))
    ever_committed |= hcomp
    if not ever_committed <= comp:
        BAD("kill %d: committed as completed, no longer completed: %s" % (k, sorted(ever_committed - comp)))
    if not hcomp <= comp:
        BAD("kill %d: completed at HEAD but not in the file: %s" % (k, sorted(hcomp - comp)))
    prev_file, prev_head = comp, hcomp
    # slow to lengthen, quick to shorten: a batch finished early leaves nothing to kill
    target = 0.8 * nsch * (k + 1) / kills
    if len(comp) < target:
        D = min(D * 1.15, 1.5)
    elif len(comp) > target:
        D = max(D * 0.85, 0.1)
t_kills = time.monotonic() - t_start
before_final = len(prev_file)

# let it finish
r = subprocess.run([exe, "start", "--jobs", str(jobs), cfg], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                   stderr=subprocess.STDOUT, timeout=600)
if r.returncode != 0:
    BAD("final start exited %d: %s" % (r.returncode, r.stdout.decode(errors="replace")[-1500:]))
left = agent_pids()
if left:
    BAD("agent processes left after the final start: %s" % left)
d = json.load(open(prog))
comp = places(d, "final file")
nsegments = len(d.get("segments", []))
if d.get("status") != "finished" or d["pending"] or d.get("in_progress") or d.get("current"):
    BAD("final file: status %r, %d pending, in flight %r" % (d.get("status"), len(d["pending"]), d.get("in_progress")))
if len(d["completed"]) != nsch or comp != set(schools):
    BAD("final file: %d completed entries, %d schools" % (len(d["completed"]), len(comp)))
if not ever_committed <= comp:
    BAD("final: committed as completed, no longer completed: %s" % sorted(ever_committed - comp))
h = head_progress()
if h != d:
    BAD("final: HEAD:batch_progress.json differs from the file")
expand(d, read_disk, "final file")
# every school committed as completed stays completed in every later commit
# (the whole first-parent history, not only the HEADs seen after the kills)
revs = subprocess.run(["git", "-C", root, "rev-list", "--first-parent", "--reverse", "HEAD"], stdout=subprocess.PIPE,
                      check=True).stdout.decode().split()
blobs = subprocess.run(["git", "-C", root, "cat-file", "--batch"], input="".join("%s:batch_progress.json\n" % c for c in revs).encode(),
                       stdout=subprocess.PIPE, check=True).stdout
pos, hist, hist_checked, seg_refs = 0, set(), 0, []
for c in revs:
    eol = blobs.index(b"\n", pos)
    head = blobs[pos:eol].split()
    pos = eol + 1
    if head[-1] == b"missing":
        continue
    size = int(head[2])
    body, pos = blobs[pos:pos + size], pos + size + 1
    try:
        v = json.loads(body)
        hc = set(name_of(x) for x in v["completed"])
        seg_refs += [(c, rel) for rel in v.get("segments", [])]
    except Exception as e:
        BAD("commit %s: batch_progress.json: %s" % (c[:12], e))
        continue
    if not hist <= hc:
        BAD("commit %s: no longer completed: %s" % (c[:12], sorted(hist - hc)[:10]))
    hist |= hc
    hist_checked += 1
if not hist <= comp:
    BAD("final: committed as completed in history, no longer completed: %s" % sorted(hist - comp)[:10])
# every segment a committed version names is in that commit
chk = subprocess.run(["git", "-C", root, "cat-file", "--batch-check"], input="".join("%s:%s\n" % cr for cr in seg_refs).encode(),
                     stdout=subprocess.PIPE, check=True).stdout.decode().splitlines()
missing = [cr for cr, line in zip(seg_refs, chk) if line.endswith("missing")]
if missing:
    BAD("commits naming a segment they do not hold: %s" % ["%s:%s" % (c[:12], r) for c, r in missing[:5]])
# at most one `completed` commit per school
log = subprocess.run(["git", "-C", root, "log", "--format=%(trailers:key=Ralphsup-Event,valueonly,separator=,)|%(trailers:key=Ralphsup-School,valueonly,separator=,)"],
                     stdout=subprocess.PIPE, check=True).stdout.decode()
ncommits = len(log.splitlines())
done_commits, catchup = {}, 0
for line in log.splitlines():
    ev, _, sch = line.partition("|")
    if ev == "completed":
        done_commits[sch] = done_commits.get(sch, 0) + 1
    elif ev == "uncommitted":
        catchup += 1
twice = sorted(s for s, n in done_commits.items() if n > 1)
if twice:
    BAD("schools with two completed commits: %s" % twice[:10])
if set(done_commits) - set(schools):
    BAD("completed commits for unknown schools: %s" % sorted(set(done_commits) - set(schools))[:10])
# each completed school's CSV exists and verifies
HEADER = ["school", "coach_name", "title", "sport", "email", "phone", "nmdp_overlap", "overlap_evidence",
          "source_url", "evidence_url", "evidence_quote", "evidence_date", "evidence_type", "confidence",
          "overlap_checked"]
for x in d["completed"]:
    path = os.path.join(root, x["csv"])
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except Exception as e:
        BAD("%s: CSV %s: %s" % (x["name"], x["csv"], e))
        continue
    if not rows or rows[0] != HEADER:
        BAD("%s: CSV %s: header %r" % (x["name"], x["csv"], rows[:1]))
    elif len(rows) - 1 != x["coaches"] or any(len(r) != 15 for r in rows[1:]):
        BAD("%s: CSV %s: %d rows for %d coaches" % (x["name"], x["csv"], len(rows) - 1, x["coaches"]))
    elif any(r[0] != x["name"] for r in rows[1:]):
        BAD("%s: CSV %s names another school" % (x["name"], x["csv"]))
try:
    runs = sum(1 for _ in open(os.path.join(root, ".fake", "log")))
except OSError:
    runs = 0
inst.sort()
fig = {"jobs": jobs, "schools": nsch, "starts": starts, "kills": killed, "kills_with_agent_running": busy, "exited_before_kill": early, "agent_runs": runs,
       "completed_before_final": before_final, "completed": len(comp), "completed_commits": sum(done_commits.values()),
       "catch_up_commits": catchup, "commits": ncommits, "segments": nsegments, "segment_refs_checked": len(seg_refs), "commits_checked": hist_checked, "kill_phase_s": round(t_kills, 1),
       "total_s": round(time.monotonic() - t_start, 1), "max_s_to_no_agent": round(max_gone, 2),
       "kill_instant_ms": [round(inst[int(q * (len(inst) - 1))] * 1000) for q in (0, 0.5, 1)] if inst else [],
       "git_locks_left": locks_seen, "lock_waits": lock_waits, "bad": len(bad)}
print("FIGURES " + json.dumps(fig), flush=True)
EOF
}

for J in 1 4; do
    A=$(new_tmp)
    s=()
    for i in $(seq "$NSCH"); do s+=("School Number $i"); done
    LIMITS="jobs = $J
spawn_interval = \"0s\"" GIT_EXTRA="pack_every = $PACK_EVERY" BATCH_EXTRA="seal_every = $SEAL_EVERY" make_batch "$A" "${s[@]}"
    rs init "$A/config/batch.toml"
    assert_eq "$RS_RC" 0 "jobs = $J: init exits 0"
    out=$(torture "$A" "$J" 2>&1)
    fig=$(printf '%s\n' "$out" | sed -n 's/^FIGURES //p')
    echo "# jobs = $J: $fig"
    if [ -z "$fig" ]; then not_ok "jobs = $J: the torture ran to its end"; diag "$(printf '%s\n' "$out" | tail -30)"; continue; fi
    bad=$(printf '%s\n' "$out" | grep '^BAD' | head -20)
    [ -z "$bad" ] && ok "jobs = $J: after every kill the progress file parses, holds every school once, completed only grows (file and HEAD), no agent process is left; the final start finishes, every school completed once with at most one completed commit, every CSV verifies" ||
        { not_ok "jobs = $J: torture checks"; diag "$bad"; }
    killed=$(json_get <(echo "$fig") 'd["kills"]')
    starts=$(json_get <(echo "$fig") 'd["starts"]')
    assert_le "$starts" "$((killed * 10 / 9 + 1))" "jobs = $J: at least 90 % of the $starts runs of start were really killed ($killed)"
    assert_le "$((KILLS / 2))" "$starts" "jobs = $J: at least half of the $KILLS runs of start were made before the batch ran out of work ($starts)"
    before=$(json_get <(echo "$fig") 'd["completed_before_final"]')
    assert_le 1 "$before" "jobs = $J: the killed runs made progress ($before of $NSCH completed before the final start)"
    check "jobs = $J: git fsck --strict passes" fsck_quiet "$A"
    if [ "$SEAL_EVERY" -gt 0 ]; then
        nseg=$(json_get <(echo "$fig") 'd["segments"]')
        assert_le "$((NSCH / SEAL_EVERY / 2))" "$nseg" "jobs = $J: completed entries were sealed as the batch went ($nseg segments, every version's found in full)"
    fi
    if [ "$PACK_EVERY" -gt 0 ]; then
        npack=$(ls "$A"/.git/objects/pack/*.pack 2>/dev/null | wc -l)
        assert_le 1 "$npack" "jobs = $J: the audit trail was packed as it went ($npack packs)"
        loose=$(git -C "$A" count-objects -v | sed -n 's/^count: //p')
        # the user's initial commit (tree, commit) and what killed runs left loose
        echo "# jobs = $J: $npack packs, $loose loose objects left ($(du -sk "$A/.git/objects" | cut -f1) KiB of objects)"
    fi
    no_batch_survivors "$A" "jobs = $J: no agent process survives at the end"
done

finish
