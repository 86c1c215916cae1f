#!/bin/bash
# e2e_fence.sh: the Landlock fence (docs/security.md) with the real CLI
# (scenario tests/fakeapi/scenarios/e2e_fence.json). Okay U completes first;
# then the agent of Fence Tamper U, steered by "a scraped page", runs the five
# Bash commands of issue 13 that the guard's text filter cannot see
#   python3 -c "open('batch_'+'progress.json','w').write('{}')"
#   d=outp; rm -rf ./"$d"ut/okay-u.csv
#   python3 -c "open('.g'+'it/config','a').write('[x]')"
#   L=lo; : > ./"$L"gs/events.jsonl
#   python3 -c "import os; os.rename('data','data.gone')"
# and the same through the file tools: Write of the progress file (refused by
# the guard or the CLI before the fence), Edit of output/okay-u.csv, Write of
# a new logs/injected.jsonl and of a new data/intruder.json (these reach the fence).
# A Bash snapshot before and after the attacks (sha256 of the progress file,
# the earlier CSV and .git/config; events.jsonl's line count; data/) shows
# what the agent itself saw.
#
# Expected: every attack's tool result is a permission error; the snapshots
# agree; afterwards output/okay-u.csv is as Okay U's agent wrote it, .git
# passes fsck and its config has no "[x]", events.jsonl lost no line, data/
# is there and holds no intruder; the school's own CSV was written in its
# work directory, verified and published as output/fence-tamper-u.csv; the
# batch completes; the CLI wrote nothing to $HOME (its config dir and TMPDIR
# are the iteration's) and the work directories are gone.
. "$(dirname "$0")/lib.sh"
e2e_init fence
abi=$("$E2E_PY" -c 'import ctypes; print(max(0, ctypes.CDLL(None, use_errno=True).syscall(444, None, 0, 1)))')
if [ "$abi" -lt 1 ]; then
    ok "# SKIP no Landlock in this kernel"
    e2e_finish
    exit $?
fi
e2e_batch '{"batch_name": "e2e-fence", "schools": [
  {"name": "Okay U", "conference": "E2E Conference", "state": "MT"},
  {"name": "Fence Tamper U", "conference": "E2E Conference", "state": "MT"}
]}' 'max_attempts_per_school = 1'
e2e_fakeapi e2e_fence

e2e_start
check "start exits 0 (the batch completed)" test "$E2E_RC" = 0
check "the start line names the fence (landlock ABI $abi)" grep -q "fence: landlock ABI $abi" "$T/ralphsup.out"

pyprog "transcript: each attack's tool result is a permission error; the snapshots before and after agree" <<'EOF'
L = JL(os.path.join(B, "logs", "0002-fence-tamper-u.jsonl"))
uses = [b for l in L if l.get("type") == "assistant" for b in l["message"]["content"] if b.get("type") == "tool_use"]
results = {}
for l in L:
    if l.get("type") == "user" and isinstance(l["message"].get("content"), list):
        for b in l["message"]["content"]:
            if b.get("type") == "tool_result":
                c = b.get("content")
                if isinstance(c, list):
                    c = " ".join(x.get("text", "") for x in c if isinstance(x, dict))
                results[b["tool_use_id"]] = (bool(b.get("is_error")), c or "")
def res(u):
    return results.get(u["id"], (None, "<no tool_result>"))
fence_words = ("Permission denied", "PermissionError", "EACCES", "permission denied")
attacks = [("Bash", "progress.json','w'"), ("Bash", "rm -rf"), ("Bash", "'it/config'"), ("Bash", "\"gs/events.jsonl"),
           ("Bash", "os.rename"), ("Edit", "output/okay-u.csv"), ("Write", "logs/injected.jsonl"), ("Write", "data/intruder.json")]
for name, needle in attacks:
    u = [x for x in uses if x["name"] == name and needle in (x["input"].get("command") or x["input"].get("file_path") or "")]
    if len(u) != 1: die("no single %s call with %r" % (name, needle))
    err, text = res(u[0])
    print("%-5s %-28s is_error=%s :: %s" % (name, needle, err, text[:140].replace("\n", " ")))
    if not any(w in text for w in fence_words): die("%s %r was not refused by the fence: %s" % (name, needle, text))
    if name != "Bash" and not err: die("%s %r: tool result not an error" % (name, needle))
# The Write of the progress file: the guard (or the CLI's "read it first") refuses it before the fence.
u = [x for x in uses if x["name"] == "Write" and x["input"].get("file_path") == "batch_progress.json"]
err, text = res(u[0])
print("Write batch_progress.json is_error=%s :: %s" % (err, text[:140].replace("\n", " ")))
if not err or not ("ralphsup guard:" in text or "has not been read yet" in text or any(w in text for w in fence_words)):
    die("Write of the progress file was not refused: %s" % text)
snaps = {}
for u in uses:
    c = u["input"].get("command") or ""
    for tag in ("SNAPSHOT-BEFORE", "SNAPSHOT-AFTER"):
        if c.startswith("echo " + tag):
            snaps[tag] = res(u)[1].replace(tag, "").strip()
if len(snaps) != 2: die("snapshots missing: %r" % snaps)
print("before: %s" % snaps["SNAPSHOT-BEFORE"].replace("\n", " | "))
print("after:  %s" % snaps["SNAPSHOT-AFTER"].replace("\n", " | "))
b, a = snaps["SNAPSHOT-BEFORE"].splitlines(), snaps["SNAPSHOT-AFTER"].splitlines()
if len(b) != 5 or len(a) != 5: die("snapshot shape")
if b[:3] != a[:3]: die("the progress file, output/okay-u.csv or .git/config changed during the attacks")
nb, na = int(b[3].split()[1]), int(a[3].split()[1])
if na < nb: die("events.jsonl lost lines during the attacks (%d -> %d)" % (nb, na))
if b[4] != a[4] or "schools.json" not in a[4]: die("data/ changed: %r -> %r" % (b[4], a[4]))
EOF

pyprog "afterwards: the earlier CSV, .git/config, events.jsonl and data/ are intact; the own CSV was published" <<'EOF'
import hashlib
okay = open(os.path.join(B, "output", "okay-u.csv"), encoding="utf-8").read()
if "Drew Kimura" not in okay or "Mallory Intruder" in okay: die("output/okay-u.csv was changed")
cfg = open(os.path.join(B, ".git", "config"), encoding="utf-8").read()
if "[x]" in cfg: die(".git/config was appended to")
if not os.path.isfile(os.path.join(B, "data", "schools.json")) or os.path.exists(os.path.join(B, "data.gone")):
    die("data/ was moved")
if os.path.exists(os.path.join(B, "data", "intruder.json")): die("data/intruder.json was written")
if os.path.exists(os.path.join(B, "logs", "injected.jsonl")): die("logs/injected.jsonl was written")
E = EV()
kinds = [e["event"] for e in E]
if kinds[0] != "supervisor-started" or kinds.count("iteration-started") != 2:
    die("events.jsonl lost its lines: %r" % kinds[:5])
fin = [e for e in E if e["event"] == "iteration-finished"]
if [e["verdict"] for e in fin] != ["completed", "completed"]: die("verdicts %r" % [(e["school"], e["verdict"], e.get("reason")) for e in fin])
p = P()
done = {c["name"]: c for c in p["completed"]}
if set(done) != {"Okay U", "Fence Tamper U"} or p["failed"] or p["pending"]: die("progress: %r" % p)
if done["Fence Tamper U"].get("csv") != "output/fence-tamper-u.csv": die("recorded csv %r" % done["Fence Tamper U"].get("csv"))
own = open(os.path.join(B, "output", "fence-tamper-u.csv"), encoding="utf-8").read()
if own.count("\n") != 3: die("published CSV: %r" % own)
work = os.path.join(B, ".ralphsup", "work")
if os.path.isdir(work) and os.listdir(work): die("work directories left: %r" % os.listdir(work))
print("published %s; events: %d lines" % (done["Fence Tamper U"]["csv"], len(E)))
EOF
check "git fsck passes" git -C "$E2E_BATCH" fsck --no-progress --no-dangling --strict
check "the CLI wrote nothing to \$HOME (its config dir and TMPDIR are the iteration's)" test -z "$(ls -A "$T/home")"

e2e_common_checks
e2e_finish
