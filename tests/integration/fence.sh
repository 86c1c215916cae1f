#!/bin/bash
# The Landlock fence (docs/security.md): with the scripted agent, each write
# rule allowed and denied, the published CSV, the work directories, and
# [agent] sandbox = "auto" without Landlock (RALPHSUP_LANDLOCK_ABI=0),
# "landlock" refusing (exit 78) and "off".
. "$(dirname "$0")/lib.sh"

abi=$("$PY" -c 'import ctypes; print(max(0, ctypes.CDLL(None, use_errno=True).syscall(444, None, 0, 1)))')
if [ "$abi" -lt 1 ]; then
    ok "# SKIP no Landlock in this kernel"
    finish
fi

# ---- the rules, fenced (auto) ----
D=$(new_tmp)
mkdir -p "$D/cache"
AGENT_WRITABLE=', "cache"' AGENT_ENV="FAKE_CACHE = \"$D/cache\"" make_batch "$D" "Probe U" "Second U"
plan "$D" '{"Probe U": {"default": "fence_probe"}}'
cp "$D/.git/config" "$D/git-config.before"
rs start "$D/config/batch.toml"
assert_eq "$RS_RC" 0 "fenced batch completes (exit 0)"
assert_contains "$RS_OUT" "fence: landlock ABI $abi" "the start line names the Landlock ABI"
f=$(cat "$D/.fake/Probe_U.fence" 2>/dev/null)
for rule in progress output git events data tmp_root; do
    assert_contains "$f" "$rule:denied" "denied: $rule"
done
for rule in workdir tmpdir cache; do
    assert_contains "$f" "$rule:ok" "allowed: $rule"
done
check ".git/config byte-equal" cmp -s "$D/.git/config" "$D/git-config.before"
check "data/ still there" test -f "$D/data/schools.json"
check "no intruder in output/" test ! -e "$D/output/intruder.csv"
check "published CSV in output/" test -s "$D/output/probe-u.csv"
assert_file_json "$D/batch_progress.json" 'S("Probe U")["csv"] == "output/probe-u.csv" and W("Second U") == "completed"' \
    "the published path is recorded"
check "work directories removed" test -z "$(ls -A "$D/.ralphsup/work" 2>/dev/null)"

# ---- jobs = 2: one worker cannot touch another's work directory ----
J=$(new_tmp)
LIMITS='jobs = 2
spawn_interval = "0s"' AGENT_ENV="FAKE_OTHER_WORK = \"$J/.ralphsup/work\"
FAKE_SLOW_S = \"3\"" make_batch "$J" "Slow U" "Probe U"
plan "$J" '{"Slow U": {"default": "slow_done"}, "Probe U": {"default": "fence_probe"}}'
rs start "$J/config/batch.toml"
assert_eq "$RS_RC" 0 "jobs = 2 completes"
assert_contains "$(cat "$J/.fake/Probe_U.fence" 2>/dev/null)" "other_work:denied" "jobs = 2: another worker's work directory is denied"

# ---- [batch] cache_dir, not made yet: made at start, writable by the agent ----
C=$(new_tmp)
AGENT_ENV="FAKE_CACHE = \"$C/cache\"" make_batch "$C" "Probe U"
sed -i 's/^\[batch\]$/[batch]\ncache_dir = "cache"/' "$C/config/batch.toml"
plan "$C" '{"Probe U": {"default": "fence_probe"}}'
rs start "$C/config/batch.toml"
assert_eq "$RS_RC" 0 "a cache_dir that does not exist yet: the batch completes"
assert_contains "$(cat "$C/.fake/Probe_U.fence" 2>/dev/null)" "cache:ok" "cache_dir: allowed"
assert_contains "$(cat "$C/.fake/Probe_U.fence" 2>/dev/null)" "progress:denied" "cache_dir: the rest still fenced"

# ---- keep_failed_work ----
K=$(new_tmp)
AGENT_EXTRA='keep_failed_work = true' LIMITS='max_attempts_per_school = 1' make_batch "$K" "Bad U"
plan "$K" '{"Bad U": {"default": "failed_permanent"}}'
rs start "$K/config/batch.toml"
check "keep_failed_work: the failed attempt's work directory is kept" test -d "$K/.ralphsup/work/0001-bad-u"

# ---- a verified CSV that cannot be published: a failed attempt, its CSV kept as evidence ----
P=$(new_tmp)
LIMITS='max_attempts_per_school = 1' make_batch "$P" "Pub U" "Next U"
mkdir -p "$P/output/pub-u.csv/in-the-way"   # a directory where the CSV must go: rename(2) fails
rs start "$P/config/batch.toml"
assert_file_json "$P/batch_progress.json" 'W("Pub U") == "failed" and W("Next U") == "completed"' \
    "unpublishable CSV: the school failed, the batch went on"
assert_file_json "$P/batch_progress.json" \
    '"cannot be published as output/pub-u.csv" in (S("Pub U")["attempts"][-1].get("reason") or "") and not S("Pub U").get("csv")' \
    "unpublishable CSV: the reason names the published path, no CSV recorded"
check "unpublishable CSV: kept as evidence in logs/0001-pub-u.csv" test -s "$P/logs/0001-pub-u.csv"
assert_contains "$(events "$P/logs/events.jsonl" 'e.get("event") == "publish-failed"')" '"to"' "a publish-failed event"
t=$(ls "$P"/logs/0001-pub-u.jsonl)
out=$("$RALPHSUP" replay "$t" --config "$P/config/batch.toml" --school "Pub U" 2>&1)
assert_contains "$out" "verdict: completed" "replay checks the kept CSV of the unpublished attempt"

# ---- auto without Landlock, landlock refusing, off ----
A=$(new_tmp)
make_batch "$A" "Probe U"
plan "$A" '{"Probe U": {"default": "fence_probe"}}'
RS_RC=0; RS_OUT=$(RALPHSUP_LANDLOCK_ABI=0 "$RALPHSUP" start "$A/config/batch.toml" </dev/null 2>&1) || RS_RC=$?
assert_eq "$RS_RC" 0 "auto without Landlock runs (exit 0)"
assert_contains "$RS_OUT" "warning: no Landlock in this kernel" "auto without Landlock warns"
assert_contains "$(cat "$A/.fake/Probe_U.fence")" "progress:ok" "auto without Landlock: unfenced (the guard alone)"

L=$(new_tmp)
AGENT_EXTRA='sandbox = "landlock"' make_batch "$L" "Probe U"
RS_RC=0; RS_OUT=$(RALPHSUP_LANDLOCK_ABI=0 "$RALPHSUP" start "$L/config/batch.toml" </dev/null 2>&1) || RS_RC=$?
assert_eq "$RS_RC" 78 "sandbox = landlock without Landlock: exit 78"
assert_contains "$RS_OUT" 'sandbox = "landlock"' "the refusal names the key"
check "nothing ran" test ! -e "$L/.fake/log"

O=$(new_tmp)
AGENT_EXTRA='sandbox = "off"' make_batch "$O" "Probe U"
plan "$O" '{"Probe U": {"default": "fence_probe"}}'
rs start "$O/config/batch.toml"
assert_contains "$RS_OUT" 'sandbox = "off"' "off: said at start"
assert_contains "$(cat "$O/.fake/Probe_U.fence")" "git:ok" "off: unfenced"

# ---- a writable entry that does not exist ----
B=$(new_tmp)
AGENT_WRITABLE=', "nope"' make_batch "$B" "X U"
rs start "$B/config/batch.toml"
assert_eq "$RS_RC" 78 "a missing writable path: exit 78"
assert_contains "$RS_OUT" "writable[1]" "the message names the entry"
finish
