#!/bin/bash
# The shard pod's command (docs/scale-out.md): clone the batch repository,
# run this pod's shard of the batch, push the shard's ref, exit with
# ralphsup's code, so the Job's podFailurePolicy sees ralphsup's exit code.
#
#   JOB_COMPLETION_INDEX  set by an Indexed Job (SLURM_ARRAY_TASK_ID by a Slurm array)
#   RALPHSUP_REPO         the batch repository to clone and push to (URL or path; required)
#   RALPHSUP_SHARDS       N, the number of shards (the Job's completions; required)
#   RALPHSUP_CONFIG       the config, relative to the repository (default config/batch.toml)
#   RALPHSUP_BRANCH       the branch a new shard starts from (default: the repository's HEAD)
#   RALPHSUP_WORKDIR      where to clone (default /work/batch; emptied first unless it is a
#                         clone of RALPHSUP_REPO, which is then fetched)
#   RALPHSUP_BIN          the ralphsup binary (default: ralphsup in PATH)
#   RALPHSUP_START_ARGS   more arguments for `ralphsup start` (e.g. "--max-cost-usd 50")
#   ANTHROPIC_API_KEY_<I>  when set, this index's key (exported as ANTHROPIC_API_KEY): a
#                         shard per account or key (docs/scale-out.md#sizing)
#   RALPHSUP_PUSH_INTERVAL  seconds between pushes of the shard ref while the shard runs
#                         (default 300; 0 = only at the end), so a pod lost with its disk
#                         (node failure, OOM kill of the container) loses at most that much
#
# A shard that a previous pod already pushed (a pod replaced after a crash,
# an eviction or a kill) is resumed from that ref: the schools it completed
# stay completed and its attempts (and their cost) stay recorded. The push
# is a fast-forward: when another pod of the same index pushed first, the
# push is refused and the pod exits 75, so the index is retried from the
# ref that won; its own commits are pushed beside it as
# refs/heads/ralphsup/shard-I-of-N.attempt-<host>-<time>, so `ralphsup merge`
# still counts the attempts (and the cost) of the pod that lost the race.
#
# Exit: ralphsup's code (docs/cli.md); 64 a missing setting; 75 the clone,
# the fetch or the push failed (retry); 143 on SIGTERM after a clean stop.
set -u

die() { echo "ralphsup-shard: $2" >&2; exit "$1"; }

repo=${RALPHSUP_REPO:-}
n=${RALPHSUP_SHARDS:-}
config=${RALPHSUP_CONFIG:-config/batch.toml}
work=${RALPHSUP_WORKDIR:-/work/batch}
bin=${RALPHSUP_BIN:-ralphsup}
index=${JOB_COMPLETION_INDEX:-${SLURM_ARRAY_TASK_ID:-}}
[ -n "$repo" ] || die 64 "RALPHSUP_REPO is not set (the batch repository to clone)"
[ -n "$n" ] || die 64 "RALPHSUP_SHARDS is not set (N, the number of shards)"
[ -n "$index" ] || die 64 "neither JOB_COMPLETION_INDEX nor SLURM_ARRAY_TASK_ID is set"
case "$index" in *[!0-9]* | '') die 64 "the shard index \"$index\" is not a number" ;; esac
key="ANTHROPIC_API_KEY_$index"
[ -n "${!key:-}" ] && export ANTHROPIC_API_KEY="${!key}"
tag="shard-$index-of-$n"
branch="ralphsup/$tag"

# Clone (or reuse a clone of this repository left on a persistent volume).
if [ -d "$work/.git" ] && [ "$(git -C "$work" remote get-url origin 2>/dev/null)" = "$repo" ]; then
    git -C "$work" fetch -q origin || die 75 "cannot fetch $repo"
else
    rm -rf "$work"
    git clone -q "$repo" "$work" || die 75 "cannot clone $repo"
fi
cd "$work" || die 75 "cannot enter $work"
git config user.name >/dev/null || git config user.name "ralphsup shard $index"
git config user.email >/dev/null || git config user.email "ralphsup@localhost"

# Resume this index's pushed state, or start the shard from the base branch.
if git rev-parse -q --verify "refs/remotes/origin/$branch" >/dev/null; then
    git checkout -q -B "$branch" "refs/remotes/origin/$branch" || die 75 "cannot check out origin/$branch"
    echo "ralphsup-shard: $tag resumes from origin/$branch ($(git rev-parse --short HEAD))" >&2
else
    base=${RALPHSUP_BRANCH:+refs/remotes/origin/$RALPHSUP_BRANCH}
    git checkout -q -B "$branch" ${base:+"$base"} || die 75 "cannot create $branch"
    echo "ralphsup-shard: $tag starts from $(git rev-parse --short HEAD)" >&2
fi

# Run the shard. SIGTERM (the pod is deleted, evicted or the Job is stopped)
# is passed on: ralphsup stops its agents within kill_grace and records the
# stop; then the ref is pushed as for every other end.
pid=
pusher=
trap '[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null' TERM INT
# shellcheck disable=SC2086
# --no-report: a shard's own report (its schools only) would die with the pod; merge writes the report.
"$bin" start "$config" --shard "auto/$n" --no-report ${RALPHSUP_START_ARGS:-} &
pid=$!
interval=${RALPHSUP_PUSH_INTERVAL:-300}
if [ "$interval" -gt 0 ] 2>/dev/null; then
    # Periodic pushes (fast-forward only; a refused one is left to the final push).
    (trap - TERM INT; while sleep "$interval"; do
        git push -q origin "refs/heads/$branch:refs/heads/$branch" 2>/dev/null
    done) &
    pusher=$!
fi
rc=0
while :; do
    wait "$pid"
    rc=$?
    kill -0 "$pid" 2>/dev/null || break # a trapped signal interrupted wait: wait again
done
trap - TERM INT
[ -n "$pusher" ] && kill "$pusher" 2>/dev/null && wait "$pusher" 2>/dev/null

# Push whatever the shard committed, even after a failure: the next pod of
# this index resumes from it, and merge reads it.
if git rev-parse -q --verify "refs/heads/$branch" >/dev/null; then
    if ! git push -q origin "refs/heads/$branch:refs/heads/$branch"; then
        side="refs/heads/$branch.attempt-$(hostname)-$(date -u +%Y%m%dT%H%M%S)-$$"
        echo "ralphsup-shard: the push of $branch was refused (another pod of index $index pushed first);" \
            "this pod's commits go to $side (merge counts their attempts)" >&2
        git push -q origin "refs/heads/$branch:$side" || echo "ralphsup-shard: cannot push $side either" >&2
        exit 75
    fi
fi
echo "ralphsup-shard: $tag ralphsup exited $rc" >&2
exit "$rc"
