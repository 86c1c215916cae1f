#!/bin/bash
# The merge Job's command (docs/scale-out.md): clone the batch repository,
# merge the N shard refs it holds into one progress file, CSVs and report
# (`ralphsup merge --from origin`), push the merge commit to the branch, and
# copy the report to RALPHSUP_REPORT_OUT when set (a volume).
#
#   RALPHSUP_REPO, RALPHSUP_CONFIG, RALPHSUP_WORKDIR, RALPHSUP_BIN   as for entrypoint.sh
#   RALPHSUP_BRANCH         the branch the merge commit goes on (default: the repository's HEAD)
#   RALPHSUP_MERGE_ARGS     more arguments for `ralphsup merge` (e.g. --allow-partial)
#   RALPHSUP_REPORT_OUT     a directory to copy master_report_* to
#
# Exit: merge's code (1 partial: the missing or unfinished shards are named);
# 64 a missing setting; 75 the clone or the push failed.
set -u

die() { echo "ralphsup-merge: $2" >&2; exit "$1"; }

repo=${RALPHSUP_REPO:-}
config=${RALPHSUP_CONFIG:-config/batch.toml}
work=${RALPHSUP_WORKDIR:-/work/merge}
bin=${RALPHSUP_BIN:-ralphsup}
[ -n "$repo" ] || die 64 "RALPHSUP_REPO is not set (the batch repository to clone)"
rm -rf "$work"
git clone -q ${RALPHSUP_BRANCH:+--branch "$RALPHSUP_BRANCH"} "$repo" "$work" || die 75 "cannot clone $repo"
cd "$work" || die 75 "cannot enter $work"
git config user.name >/dev/null || git config user.name "ralphsup merge"
git config user.email >/dev/null || git config user.email "ralphsup@localhost"
before=$(git rev-parse HEAD)
# shellcheck disable=SC2086
"$bin" merge "$config" --from origin ${RALPHSUP_MERGE_ARGS:-}
rc=$?
if [ "$(git rev-parse HEAD)" != "$before" ]; then # a merge commit was written
    git push -q origin HEAD || die 75 "cannot push the merge commit"
fi
if [ -n "${RALPHSUP_REPORT_OUT:-}" ]; then
    mkdir -p "$RALPHSUP_REPORT_OUT"
    find . -path ./.git -prune -o -name 'master_report_*' -type f -exec cp {} "$RALPHSUP_REPORT_OUT"/ \;
fi
exit "$rc"
