#!/bin/bash
# The audit trail never touches the user's work: a staged new file, a staged
# modification with an unstaged one on top, and an unstaged modification all
# survive init and start exactly as they were (not committed, not unstaged),
# the ralphsup commits contain only the progress file (plus the CSVs when
# [git] include_outputs), and the progress file is clean afterwards.
source "$(dirname "$0")/lib.sh"

A=$(new_tmp)
make_batch "$A" "Alpha University" "Beta University"
CA="$A/config/batch.toml"
printf 'line 1\nline 2\n' >"$A/notes.txt"
printf 'tracked v1\n' >"$A/tracked.txt"
git -C "$A" add notes.txt tracked.txt
git -C "$A" commit -q -m "user: notes"
base=$(git -C "$A" rev-parse HEAD)
# staged new file, staged modification + unstaged change on top, unstaged-only change
printf 'brand new\n' >"$A/new.txt"
git -C "$A" add new.txt
printf 'tracked v2 (staged)\n' >"$A/tracked.txt"
git -C "$A" add tracked.txt
printf 'tracked v3 (not staged)\n' >"$A/tracked.txt"
printf 'line 1 edited\nline 2\n' >"$A/notes.txt"

snapshot() {
    git -C "$A" diff --cached --binary -- . ':!batch_progress.json' >"$A/.staged.$1"
    git -C "$A" diff --binary -- . ':!batch_progress.json' >"$A/.unstaged.$1"
    git -C "$A" status --porcelain -- new.txt tracked.txt notes.txt >"$A/.status.$1"
}
snapshot before
assert_eq "$(cat "$A/.status.before")" "A  new.txt
 M notes.txt
MM tracked.txt" "setup: git status shows the user's staged and unstaged work"

rs init "$CA"
assert_eq "$RS_RC" 0 "init exits 0"
snapshot init
cmp -s "$A/.staged.before" "$A/.staged.init" && ok "init: the staged changes are still staged, unchanged" || not_ok "init: the staged changes are still staged, unchanged"
cmp -s "$A/.unstaged.before" "$A/.unstaged.init" && ok "init: the unstaged changes are untouched" || not_ok "init: the unstaged changes are untouched"
assert_eq "$(git -C "$A" diff-tree --no-commit-id --name-only -r HEAD)" "batch_progress.json" "init commit contains only batch_progress.json"

rs start "$CA"
assert_eq "$RS_RC" 0 "start exits 0"
snapshot start
cmp -s "$A/.staged.before" "$A/.staged.start" && ok "start: the staged changes are still staged, unchanged" || { not_ok "start: the staged changes are still staged, unchanged"; diag "$(diff "$A/.staged.before" "$A/.staged.start")"; }
cmp -s "$A/.unstaged.before" "$A/.unstaged.start" && ok "start: the unstaged changes are untouched" || not_ok "start: the unstaged changes are untouched"
assert_eq "$(cat "$A/.status.start")" "$(cat "$A/.status.before")" "start: git status of the user's files is the same"
assert_eq "$(cat "$A/tracked.txt")" "tracked v3 (not staged)" "the work tree file is untouched"
assert_eq "$(git -C "$A" show :tracked.txt)" "tracked v2 (staged)" "the index still holds the staged version"
files=$(git -C "$A" log --format= --name-only "$base..HEAD" | sort -u)
assert_eq "$files" "batch_progress.json" "every ralphsup commit touches only batch_progress.json"
assert_eq "$(git -C "$A" log --format=%s "$base..HEAD" | grep -vc '^ralphsup: ')" 0 "every new commit is a ralphsup commit"
assert_eq "$(git -C "$A" status --porcelain -- batch_progress.json)" "" "git status: the progress file is clean after the run"
assert_eq "$(git -C "$A" show HEAD:batch_progress.json | cmp -s - "$A/batch_progress.json" && echo same)" same \
    "HEAD holds exactly the progress file on disk"
assert_eq "$(git -C "$A" show HEAD:new.txt 2>/dev/null)" "" "the staged new file was not committed"
assert_eq "$(git -C "$A" show HEAD:tracked.txt)" "tracked v1" "the staged modification was not committed"

# include_outputs: the CSVs are committed along, the user's staged work still is not.
B=$(new_tmp)
make_batch "$B" "Alpha University"
sed -i 's/^author_name = "ralphsup"/author_name = "ralphsup"\ninclude_outputs = true/' "$B/config/batch.toml"
printf 'brand new\n' >"$B/new.txt"
git -C "$B" add new.txt
rs start "$B/config/batch.toml"
assert_eq "$RS_RC" 0 "include_outputs: start exits 0"
c=$(git -C "$B" log --format=%H --grep='^ralphsup: completed Alpha University' -1)
assert_eq "$(git -C "$B" diff-tree --no-commit-id --name-only -r "$c" | sort | tr '\n' ' ')" "batch_progress.json output/alpha-university.csv " \
    "include_outputs: the completed commit holds the progress file and the CSV"
assert_eq "$(git -C "$B" status --porcelain -- new.txt)" "A  new.txt" "include_outputs: the staged new file is still staged, not committed"
assert_eq "$(git -C "$B" status --porcelain -- batch_progress.json output)" "" "include_outputs: progress file and CSV clean"
check "git fsck --strict passes" git -C "$A" fsck --strict --no-progress
no_batch_survivors "$A" "no agent process survives (first batch)"
no_batch_survivors "$B" "no agent process survives (include_outputs batch)"

finish
