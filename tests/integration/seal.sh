#!/bin/bash
# Sealed segments (issue 15, docs/progress.md "Sealed segments"): with
# [batch] seal_every = 2, every second completed school's full entry moves
# from batch_progress.json into batch_progress.segments/NNNNNN.json, written
# and committed once; the progress file lists the sealed schools by name (the
# seed's schema). Everything that reads the batch sees every entry whole:
# status (from the summary and from the file), report, retry; every committed
# version names only segments its own commit holds; a missing or damaged
# segment makes the file unreadable by name (exit 65) and `recover` brings it
# back byte for byte from the audit trail.
source "$(dirname "$0")/lib.sh"

A=$(new_tmp)
BATCH_EXTRA="seal_every = 2" make_batch "$A" "School A" "School B" "School C" "School D" "School E" "School F" "School G"
plan "$A" '{"School C": {"default": "failed_permanent"}}'
C="$A/config/batch.toml"
P="$A/batch_progress.json"
rs start "$C"
assert_eq "$RS_RC" 0 "the batch runs to its end (6 completed, 1 failed)"
[ "$RS_RC" = 0 ] || diag "$RS_OUT"

# ---- the files ---------------------------------------------------------------------------------
out=$("$PY" - "$A" <<'PYEOF'
import json, os, sys
root = sys.argv[1]
d = json.load(open(os.path.join(root, "batch_progress.json")))
print("completed", [c if isinstance(c, str) else "FULL:" + c["name"] for c in d["completed"]])
print("segments", d.get("segments"))
seen = []
for rel in d["segments"]:
    s = json.load(open(os.path.join(root, rel)))
    assert s["batch_name"] == "itest" and s["schema_version"] == 1, s
    for c in s["completed"]:
        assert c["csv"] == "output/%s.csv" % c["slug"] and c["coaches"] == 4 and len(c["attempts"]) == 1, c
        assert c["attempts"][0]["outcome"] == "completed", c
        seen.append(c["name"])
    print("segment", s["segment"], [c["name"] for c in s["completed"]])
print("sealed", sorted(seen))
PYEOF
)
assert_contains "$out" "completed ['School A', 'School B', 'School D', 'School E', 'School F', 'School G']" \
    "every completed school is sealed, listed by name only (as in the seed schema)"
assert_contains "$out" "segments ['batch_progress.segments/000001.json', 'batch_progress.segments/000002.json', 'batch_progress.segments/000003.json']" \
    "three segments named, every second completion"
assert_contains "$out" "segment 2 ['School D', 'School E']" "a segment holds the entries sealed together, in full"
assert_contains "$out" "sealed ['School A', 'School B', 'School D', 'School E', 'School F', 'School G']" \
    "each sealed school is in full in exactly one segment, with its csv, coaches and attempt"
[ -n "$(printf '%s\n' "$out" | grep -c . | grep -v '^5$')" ] && diag "$out"

# ---- the audit trail ------------------------------------------------------------------------------
tree=$(git -C "$A" ls-tree -r --name-only HEAD)
assert_contains "$tree" "batch_progress.segments/000003.json" "HEAD holds the segments"
refs=$(for c in $(git -C "$A" rev-list HEAD -- batch_progress.json); do
    git -C "$A" show "$c:batch_progress.json" | "$PY" -c 'import json,sys; [print(r) for r in json.load(sys.stdin).get("segments", [])]' |
        sed "s|^|$c:|"
done)
nref=$(printf '%s\n' "$refs" | grep -c .)
missing=$(printf '%s\n' "$refs" | git -C "$A" cat-file --batch-check | grep -c missing || true)
assert_le 6 "$nref" "committed versions name segments ($nref references)"
assert_eq "$missing" 0 "every committed version's segments are in its own commit"
check "git fsck --strict is clean" git -C "$A" fsck --strict --no-progress
assert_eq "$(git -C "$A" status --porcelain --untracked-files=no)" "" "the index matches every committed file (no second hash of the blobs)"
for s in 1 2 3; do
    assert_eq "$(git -C "$A" rev-list --count HEAD -- "batch_progress.segments/00000$s.json")" 1 "segment $s was written and committed once"
done

# ---- readers see every entry whole -----------------------------------------------------------------
rs status "$C"
assert_contains "$RS_OUT" "batch itest: 6 completed, 1 failed, 0 pending (of 7)" "status counts"
text_summary=$RS_OUT
mv "$A/logs/summary.json" "$A/summary.saved"
rs status "$C"
assert_eq "$RS_OUT" "$text_summary" "status from the file (and its segments) = status from the summary"
mv "$A/summary.saved" "$A/logs/summary.json"
rs report "$C" --date 2026-11-24
assert_eq "$RS_RC" 0 "report exits 0"
assert_contains "$RS_OUT" "6 files, 24 leads, 6 warm leads" "the report reads every sealed school's CSV (6 x 4 leads)"

# retry the failed school: it completes, in full, next to the sealed names
rs retry "$C" "School C"
assert_eq "$RS_RC" 0 "retry of the failed school"
plan "$A" '{}'
rs start "$C"
assert_eq "$RS_RC" 0 "the retried school completes"
out=$("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print([c if isinstance(c, str) else "FULL:" + c["name"] for c in d["completed"]], len(d["segments"]))' "$P")
assert_eq "$out" "['School A', 'School B', 'School D', 'School E', 'School F', 'School G', 'FULL:School C'] 3" \
    "one more completed school stays in full until seal_every of them are"

# ---- a missing or damaged segment; recover ----------------------------------------------------------
S2="$A/batch_progress.segments/000002.json"
sum2=$(sha256sum <"$S2")
rm "$S2"
rs start "$C"
assert_eq "$RS_RC" 65 "a missing segment: the progress file is unreadable (exit 65)"
assert_contains "$RS_OUT" "batch_progress.segments/000002.json" "the message names the segment file"
assert_contains "$RS_OUT" "No such file" "and why"
rs report "$C" --date 2026-11-24
assert_eq "$RS_RC" 65 "report refuses it too"
rs recover "$C"
assert_eq "$RS_RC" 0 "recover restores it"
assert_eq "$(sha256sum <"$S2")" "$sum2" "the segment is back, byte for byte, from the audit trail"
rs status "$C"
assert_contains "$RS_OUT" "7 completed, 0 failed, 0 pending (of 7)" "readable again, nothing lost"
head -c 300 "$S2" >"$S2.cut" && mv "$S2.cut" "$S2"
rs start "$C"
assert_eq "$RS_RC" 65 "a truncated segment: exit 65"
assert_contains "$RS_OUT" "000002.json:" "named with its position"
rs recover "$C"
assert_eq "$RS_RC" 0 "recover"
assert_eq "$(sha256sum <"$S2")" "$sum2" "restored byte for byte"

# ---- shards whose entries are sealed: merge reads the segments from each shard's commit ------------
H=$(new_tmp)
BATCH_EXTRA="seal_every = 1" LIMITS='spawn_interval = "0s"' make_batch "$H" "School A" "School B" "School C" "School D" "School E" "School F"
for i in 0 1; do
    rs start --shard $i/2 "$H/config/batch.toml"
    assert_eq "$RS_RC" 0 "shard $i/2 runs, sealing every completed school"
done
check "shard 0's entries are sealed" test -s "$H/batch_progress.shard-0-of-2.segments/000003.json"
rm -rf "$H"/batch_progress.shard-*.segments # merge reads the shards' commits, not the work tree
rs merge "$H/config/batch.toml"
assert_eq "$RS_RC" 0 "merge of the sealed shards"
assert_contains "$RS_OUT" "6 completed, 0 failed, 0 pending" "every school merged"
assert_contains "$RS_OUT" "24 leads, 6 warm leads" "its report reads every school's CSV"
assert_eq "$("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sorted((c["name"], c["csv"], len(c["attempts"])) for c in d["completed"]) == [("School %s" % x, "output/school-%s.csv" % x.lower(), 1) for x in "ABCDEF"], "segments" in d)' "$H/batch_progress.json")"     "True False" "the merged file holds every entry in full, from the shards' segments"

# ---- defaults and bad values -------------------------------------------------------------------------
B=$(new_tmp)
make_batch "$B" "School A" "School B" "School C"
rs start "$B/config/batch.toml"
assert_eq "$RS_RC" 0 "a small batch with the default seal_every"
check "a batch smaller than seal_every (default 200) is never sealed" test ! -e "$B/batch_progress.segments"
assert_eq "$("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(all(isinstance(c, dict) for c in d["completed"]), "segments" in d)' "$B/batch_progress.json")" \
    "True False" "its file is the one earlier versions wrote"
sed -i 's/^order = "list"$/order = "list"\nseal_every = -1/' "$B/config/batch.toml"
rs start "$B/config/batch.toml"
assert_eq "$RS_RC" 78 "seal_every = -1: a config error (78)"
assert_contains "$RS_OUT" "seal_every" "naming the key"
finish
