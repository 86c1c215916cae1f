#!/usr/bin/env bash
# Big batches (issue 15): one batch of N schools (default: 1000, then 10000)
# whose agent is the scripted fake CLI (tests/fixtures/fake-claude.sh,
# behaviour "done": it writes its CSV and claims RALPH_DONE at once), jobs = 1,
# [git] pack_every at its default (100). Prints, per N:
#   - ralphsup's own CPU per school (utime + stime of the `ralphsup start`
#     process only, from /proc, sampled every 0.2 s against the number of
#     agent runs so far) over the first and the last tenth of the batch, and
#     their ratio (target at 10,000: last <= 1.5 x first);
#   - save + commit p50 / p99 at the start and at the end of an N-school batch
#     (build/bench/scale-commit: rs_progress_save + rs_git_commit, 200 each;
#     target at 10,000: p50 <= 20 ms);
#   - .git after the batch next to `git gc --prune=now` of a copy of it (the
#     floor; target <= 2x), and the loose objects left;
#   - `ralphsup status` wall time while the batch runs (at half way) and after
#     it (best of 3; target <= 100 ms);
#   - peak RSS of `ralphsup start` (VmHWM; target <= 64 MiB);
#   - the wall time of the whole batch.
# Not part of CI (a 10,000 run takes long: see bench/RESULTS.md); CI may run
# `bench/bench_scale.sh 50` as a smoke test.
# Usage: bench/bench_scale.sh [N...]   (BUILD=build-dir, KEEP=1 keeps the dirs)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
RALPHSUP="$ROOT/$BUILD/supervisor/ralphsup"
SCALE_COMMIT="$ROOT/$BUILD/bench/scale-commit"
NS=("$@")
[ ${#NS[@]} -gt 0 ] || NS=(1000 10000)
TICKS=$(getconf CLK_TCK)
DIR=$(mktemp -d /tmp/ralphsup-bench-scale.XXXXXX)
trap '[ -n "${KEEP:-}" ] && echo "kept $DIR" || rm -rf "$DIR"' EXIT

make_batch() { # DIR N
    local d=$1 n=$2
    mkdir -p "$d/config" "$d/data" "$d/prompts" "$d/.bin" "$d/.fake"
    git -C "$d" init -q
    git -C "$d" -c user.name=bench -c user.email=bench@invalid commit -q --allow-empty -m "user: initial commit"
    cp "$ROOT/prompts/batch_loop.md" "$d/prompts/"
    install -m 0755 "$ROOT/tests/fixtures/fake-claude.sh" "$d/.bin/claude"
    python3 - "$d/data/schools.json" "$n" <<'EOF'
import json, sys
n = int(sys.argv[2])
json.dump({"batch_name": "scale", "schools": [{"name": "Scale University %05d" % i, "conference": "Bench",
                                                "state": "CO"} for i in range(1, n + 1)]}, open(sys.argv[1], "w"))
EOF
    cat >"$d/config/batch.toml" <<TOML
[batch]
name = "scale"
root = ".."
schools = "data/schools.json"
order = "list"

[agent]
command = "$d/.bin/claude"
# the fake agent's log of runs (what the CPU samples count) stays writable under the fence
writable = ["$d/.fake"]

[agent.env]
FAKE_DEFAULT = "done"
FAKE_STATE = "$d/.fake"

[limits]
jobs = 1
spawn_interval = "0s"
max_iterations = 1000000

[git]
author_name = "bench"

[report]
on_finish = false
TOML
}

# status_ms CONFIG: best of 3 wall times of `ralphsup status`, in ms
status_ms() {
    local best=999999 t0 t1 ms
    for _ in 1 2 3; do
        t0=$(date +%s%N)
        "$RALPHSUP" status "$1" >/dev/null 2>&1 || true
        t1=$(date +%s%N)
        ms=$(((t1 - t0) / 1000000))
        [ "$ms" -lt "$best" ] && best=$ms
    done
    echo "$best"
}

fail=0
for n in "${NS[@]}"; do
    d="$DIR/n$n"
    make_batch "$d" "$n"
    echo "== $n schools"
    "$SCALE_COMMIT" "$n" $((n < 800 ? n / 4 : 200)) 100 | sed 's/^/  /'
    t0=$(date +%s.%N)
    "$RALPHSUP" start "$d/config/batch.toml" >"$d/out.log" 2>&1 </dev/null &
    pid=$!
    : >"$d/samples"
    hwm=0 status_mid=
    while kill -0 "$pid" 2>/dev/null; do
        if read -r -a st <"/proc/$pid/stat" 2>/dev/null; then
            runs=0
            [ -f "$d/.fake/log" ] && runs=$(wc -l <"$d/.fake/log")
            echo "$runs $((st[13] + st[14]))" >>"$d/samples"
            h=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
            [ -n "$h" ] && [ "$h" -gt "$hwm" ] && hwm=$h
            if [ -z "$status_mid" ] && [ "$runs" -ge $((n / 2)) ]; then
                status_mid=$(status_ms "$d/config/batch.toml")
            fi
        fi
        sleep 0.2
    done
    wait "$pid" || { echo "ralphsup failed"; tail -20 "$d/out.log"; exit 1; }
    t1=$(date +%s.%N)
    done_n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["completed"]))' "$d/batch_progress.json")
    [ "$done_n" = "$n" ] || { echo "$done_n of $n completed"; exit 1; }
    # CPU per school over the first and the last tenth, from the samples (runs, cpu ticks)
    read -r first last < <(awk -v n="$n" -v k="$TICKS" '
        { r[NR] = $1; c[NR] = $2 }
        END {
            lo = n / 10; hi = n - n / 10
            for (i = 1; i <= NR; i++) {
                if (a == "" && r[i] >= 1) { a = i }
                if (b == "" && r[i] >= lo) { b = i }
                if (e == "" && r[i] >= hi) { e = i }
            }
            f = (r[b] > r[a]) ? (c[b] - c[a]) * 1000 / k / (r[b] - r[a]) : 0
            l = (r[NR] > r[e]) ? (c[NR] - c[e]) * 1000 / k / (r[NR] - r[e]) : 0
            printf "%.2f %.2f\n", f, l
        }' "$d/samples")
    ratio=$(awk -v f="$first" -v l="$last" 'BEGIN{printf "%.2f", (f > 0) ? l / f : 0}')
    git_kb=$(du -sk "$d/.git" | cut -f1)
    loose=$(git -C "$d" count-objects -v | sed -n 's/^count: //p')
    packs=$(ls "$d"/.git/objects/pack/*.pack 2>/dev/null | wc -l)
    cp -a "$d/.git" "$d/gc.git"
    git --git-dir="$d/gc.git" gc -q --prune=now
    gc_kb=$(du -sk "$d/gc.git" | cut -f1)
    rm -rf "$d/gc.git"
    status_end=$(status_ms "$d/config/batch.toml")
    size=$(du -k "$d/batch_progress.json" | cut -f1)
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.0f", b - a}')
    printf '  batch: %s s wall, progress file %.1f MiB, %s commits\n' "$wall" "$(awk -v k="$size" 'BEGIN{print k/1024}')" \
        "$(git -C "$d" rev-list --count HEAD)"
    printf '  ralphsup CPU per school: first tenth %s ms, last tenth %s ms, ratio %s\n' "$first" "$last" "$ratio"
    printf '  .git: %.1f MiB (%s packs, %s loose objects), git gc of it: %.1f MiB, ratio %.2f\n' \
        "$(awk -v k="$git_kb" 'BEGIN{print k/1024}')" "$packs" "$loose" "$(awk -v k="$gc_kb" 'BEGIN{print k/1024}')" \
        "$(awk -v a="$git_kb" -v b="$gc_kb" 'BEGIN{print a/b}')"
    printf '  status: %s ms while running (half way), %s ms after\n' "${status_mid:-?}" "$status_end"
    printf '  peak RSS of ralphsup start: %.1f MiB\n' "$(awk -v k="$hwm" 'BEGIN{print k/1024}')"
    if [ "$n" -ge 10000 ]; then
        awk -v r="$ratio" 'BEGIN{exit !(r > 1.5)}' && { echo "  target missed: CPU ratio > 1.5"; fail=1; }
        awk -v a="$git_kb" -v b="$gc_kb" 'BEGIN{exit !(a > 2 * b)}' && { echo "  target missed: .git > 2x gc"; fail=1; }
        [ "$status_end" -gt 100 ] && { echo "  target missed: status > 100 ms"; fail=1; }
        awk -v k="$hwm" 'BEGIN{exit !(k > 65536)}' && { echo "  target missed: peak RSS > 64 MiB"; fail=1; }
    fi
done
exit $fail
