#!/bin/bash
# Big-batch machinery (issue 15) on a small batch: the status summary
# (<log_dir>/summary.json, store/summary.c) gives `status` exactly what the
# progress file gives it, and is refused as soon as the file changed; the
# audit trail is packed every [git] pack_every commits and at the end, only
# ralphsup's own objects, with git fsck clean and every version readable; and
# bench/bench_scale.sh runs as a smoke test (20 schools).
source "$(dirname "$0")/lib.sh"

A=$(new_tmp)
GIT_EXTRA="pack_every = 4" make_batch "$A" "School A" "School B" "School C" "School D" "School E" "School F"
plan "$A" '{"School C": {"default": "failed_permanent"}, "School E": {"default": "done_warm"}}'
C="$A/config/batch.toml"
git -C "$A" -c user.name=u -c user.email=u@invalid commit -q --allow-empty -m "user: a second commit"
echo "the user's own file" >"$A/notes.txt"
git -C "$A" add notes.txt
user_loose=$(git -C "$A" count-objects -v | sed -n 's/^count: //p')
rs start "$C"
assert_eq "$RS_RC" 0 "the batch finishes"
assert_eq "$(git -C "$A" status --porcelain --untracked-files=no)" "A  notes.txt" "the user's staged file is still staged, the progress file committed"
S="$A/logs/summary.json"
assert_eq "$(test -s "$S" && echo yes)" yes "the supervisor keeps logs/summary.json"
assert_le "$(stat -c %s "$S")" 8192 "the summary is small ($(stat -c %s "$S") bytes: no pending or completed lists)"

# ---- status from the summary = status from the file ----------------------------------------
rs status "$C"
text_summary=$RS_OUT
json_summary=$("$RALPHSUP" status --json "$C")
assert_contains "$text_summary" "batch itest: 5 completed, 1 failed, 0 pending (of 6)" "status counts (from the summary)"
assert_contains "$text_summary" "School C:" "the failed school and its reason are listed"
mv "$S" "$A/summary.saved"
rs status "$C"
assert_eq "$RS_OUT" "$text_summary" "status text without the summary (the file parsed) is the same, byte for byte"
assert_eq "$("$RALPHSUP" status --json "$C")" "$json_summary" "status --json is the same too"
mv "$A/summary.saved" "$S"

# ---- a summary that no longer describes the file is refused ----------------------------------
"$PY" - "$A/batch_progress.json" <<'PYEOF'
import json, sys
p = sys.argv[1]
d = json.load(open(p))
d["pending"].append(d["completed"].pop()["name"])
json.dump(d, open(p, "w"), indent=2)
PYEOF
rs status "$C"
assert_contains "$RS_OUT" "4 completed, 1 failed, 1 pending (of 6)" "after an outside edit of the progress file, status shows the file, not the summary"
touch -d '2000-01-01' "$A/batch_progress.json"
rs status "$C"
assert_contains "$RS_OUT" "4 completed, 1 failed, 1 pending (of 6)" "also when only its mtime changed"
printf 'garbage\n{' >"$S"
rs status "$C"
assert_eq "$RS_RC" 0 "an unreadable summary: status still exits 0"
assert_contains "$RS_OUT" "4 completed, 1 failed, 1 pending (of 6)" "and reads the file"

# ---- the packed audit trail -------------------------------------------------------------------
check "git fsck --strict is clean" git -C "$A" fsck --strict --no-progress
packs=$(ls "$A"/.git/objects/pack/*.pack 2>/dev/null | wc -l)
assert_le 2 "$packs" "the audit trail was packed as it went and at the end ($packs packs)"
loose=$(git -C "$A" count-objects -v | sed -n 's/^count: //p')
assert_eq "$loose" "$user_loose" "no loose object of ralphsup's is left; the user's $user_loose stay"
n=0
for c in $(git -C "$A" rev-list HEAD -- batch_progress.json); do
    git -C "$A" show "$c:batch_progress.json" | "$PY" -c 'import json,sys; json.load(sys.stdin)' && n=$((n + 1))
done
assert_eq "$n" "$(git -C "$A" rev-list --count HEAD -- batch_progress.json)" "every committed version of the progress file reads back from the packs ($n)"
rs recover "$C"
assert_le 0 "$RS_RC" "recover runs over the packed history (exit $RS_RC)"

# ---- bench smoke ----------------------------------------------------------------------------------
if [ -x "$RALPHSUP_BUILD_ROOT/bench/scale-commit" ]; then
    out=$(cd "$RALPHSUP_SOURCE_ROOT" && BUILD=$(realpath --relative-to="$RALPHSUP_SOURCE_ROOT" "$RALPHSUP_BUILD_ROOT") \
        bash bench/bench_scale.sh 20 2>&1)
    rc=$?
    assert_eq "$rc" 0 "bench/bench_scale.sh 20 runs"
    assert_contains "$out" "ralphsup CPU per school: first tenth" "it prints the CPU per school"
    assert_contains "$out" "git gc of it" "and .git next to git gc"
fi
finish
