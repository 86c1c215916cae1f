#!/bin/bash
# e2e_guard.sh: the agent tries to tamper with what the supervisor owns
# (scenario tests/fakeapi/scenarios/e2e_guard.json): Bash
# `echo '{}' > batch_progress.json`, Read then Write batch_progress.json,
# Read then Edit .git/description, Write a new .git/hooks/post-commit, then
# RALPH_FAILED (not retryable).
#
# Expected: ralphsup's PreToolUse guard (`ralphsup hook guard`, wired in
# through --settings) denies the Bash, the Read of the progress file, the Edit
# and the Write under .git/ with its own reason ("ralphsup guard: ...") in the
# tool result (transcript); the Write of the progress file is refused too (by
# the guard, or — since its Read was denied — by the CLI's own "File has not
# been read yet" check, which runs before hooks); each denial is
# listed in result.permission_denials and in events.jsonl
# ("permission-denied"); the progress file and the repository are intact
# (git fsck; the progress file parses and equals the committed version).
. "$(dirname "$0")/lib.sh"
e2e_init guard
e2e_batch '{"batch_name": "e2e-guard", "schools": [
  {"name": "Guard Tamper University", "conference": "E2E Conference", "state": "MT"}
]}'
e2e_fakeapi e2e_guard
hook_cmd_exists() { env -i "${E2E_ENV[@]}" "$RALPHSUP" hook guard --help > /dev/null 2>&1; }
check "\`ralphsup hook guard --help\` works (the command the supervisor wires in through --settings)" hook_cmd_exists
DESC_BEFORE="$(cat "$E2E_BATCH/.git/description")"

e2e_start
check "start exits 0 (batch finished; the school failed permanently)" test "$E2E_RC" = 0

pyprog "transcript: Bash, Write and Edit denied by the guard with its own reason, listed in permission_denials" <<'EOF'
p = P()
L = JL(os.path.join(B, "logs", "0001-guard-tamper-university.jsonl"))
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
res = L[-1]
if res.get("type") != "result": die("no result line")
denied_ids = {d["tool_use_id"] for d in res.get("permission_denials", [])}
table = []
for u in uses:
    err, text = results.get(u["id"], (None, "<no tool_result>"))
    target = u["input"].get("file_path") or u["input"].get("command")
    table.append((u["name"], target, err, u["id"] in denied_ids, text[:160].replace("\n", " ")))
for row in table:
    print("%-5s %-32s is_error=%s listed=%s :: %s" % row)
def row(name, pred):
    r = [x for x in table if x[0] == name and pred(x[1])]
    if len(r) != 1: die("no single %s call" % name)
    return r[0]
def guard_denied(r):
    name, target, err, listed, text = r
    if not err or not listed or "ralphsup guard:" not in text:
        die("%s %s was not denied by the guard (is_error=%s, listed=%s): %s" % (name, target, err, listed, text))
guard_denied(row("Bash", lambda t: "batch_progress.json" in t))
guard_denied(row("Read", lambda t: t.endswith("batch_progress.json")))
guard_denied(row("Edit", lambda t: ".git/description" in t))
guard_denied(row("Write", lambda t: ".git/hooks/post-commit" in t))
# The Write of the (existing, unread) progress file: the CLI refuses a Write of
# a file that was not Read first before any hook runs; either refusal will do.
name, target, err, listed, text = row("Write", lambda t: t.endswith("batch_progress.json"))
if not err or not ("ralphsup guard:" in text or "has not been read yet" in text):
    die("Write batch_progress.json was not refused: %s" % text)
EOF

pyprog "events.jsonl: a permission-denied event per denied call; the school failed (not retryable) after 1 attempt" <<'EOF'
E = EV()
pd = [e for e in E if e["event"] == "permission-denied"]
print("%d permission-denied events: %s" % (len(pd), " | ".join(e.get("message", "")[:100] for e in pd)))
if len(pd) < 4: die("expected >= 4 permission-denied events (Bash, Read, Edit, Write under .git)")
fi = [e for e in E if e["event"] == "iteration-finished"]
if len(fi) != 1 or fi[0].get("permission_denials", 0) < 4: die("iteration-finished %r" % fi)
p = P()
if [f["name"] for f in p["failed"]] != ["Guard Tamper University"] or len(p["failed"][0]["attempts"]) != 1:
    die("failed %r" % p["failed"])
print("failed: %s" % p["failed"][0]["reason"])
EOF

pyprog "progress file intact: parses, schema fields present, equals HEAD's committed version" <<'EOF'
p = P()
if p.get("schema_version") != 1 or "tampered" in p or p.get("batch_name") is None: die("progress %r" % p)
head = subprocess.run(["git", "-C", B, "show", "HEAD:batch_progress.json"], capture_output=True, text=True, check=True).stdout
if json.loads(head) != p: die("the progress file differs from the committed version")
EOF
check "git fsck --full passes" git -C "$E2E_BATCH" fsck --full --no-progress
check ".git/description unchanged" test "$(cat "$E2E_BATCH/.git/description")" = "$DESC_BEFORE"
check ".git/hooks/post-commit not created" test ! -e "$E2E_BATCH/.git/hooks/post-commit"
check "git status: no stray changes to tracked files" test -z "$(git -C "$E2E_BATCH" status --porcelain --untracked-files=no)"

e2e_common_checks
e2e_finish
