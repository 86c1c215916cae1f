#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Stream-reader benchmark: generate a realistic >= 200 MiB stream-json file
# (bench/gen_stream.py, seeded), then run over the same file
#   jq -c 'select(.type=="result")|.total_cost_usd'     (the reference)
#   stream-bench FILE                                    (rs_stream, 64 KiB reads)
# each RUNS times (best wall time, highest peak RSS), check that both sum the
# same total_cost_usd over the same number of result lines, and check the
# targets:
#   throughput  >= 10 x jq
#   peak RSS    <= 16 MiB + the longest line
# Exit 0 when every target is met, 1 when one is missed, 2 on a setup error.
#
# usage: bench/bench_stream.sh [DIR]       (DIR for the data file, default /tmp)
# env:   STREAM_BENCH=path/to/stream-bench (default: newest build*/bench/stream-bench)
#        MIB=210 SEED=1 RUNS=3 RATIO=10
set -eu

dir=${1:-/tmp}
root=$(cd "$(dirname "$0")/.." && pwd)
mib=${MIB:-210}
seed=${SEED:-1}
runs=${RUNS:-3}
want_ratio=${RATIO:-10}

bench=${STREAM_BENCH:-$(ls -t "$root"/build*/bench/stream-bench 2>/dev/null | head -n 1 || true)}
[ -n "$bench" ] && [ -x "$bench" ] || { echo "bench_stream: stream-bench not built (set STREAM_BENCH)" >&2; exit 2; }
command -v jq >/dev/null || { echo "bench_stream: jq not found (apt package jq)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench_stream: /usr/bin/time not found (apt package time)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "bench_stream: python3 not found" >&2; exit 2; }

data=$dir/rs-stream-bench-$mib-$seed.jsonl
if [ ! -s "$data" ]; then
    python3 "$root/bench/gen_stream.py" "$data.tmp" --mib "$mib" --seed "$seed"
    mv "$data.tmp" "$data"
fi

work=$(mktemp -d /tmp/rs-bench-stream.XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM

# Every command runs RUNS times under /usr/bin/time -f "%e %M" (peak RSS);
# the wall time is taken with a nanosecond clock and the CPU time (user+sys)
# with getrusage, because %e/%U have only 10 ms resolution. The speed ratio
# uses the best wall time of each; the CPU-time ratio is printed too (on a
# loaded machine it is the steadier figure).
ralphsup=${RALPHSUP:-$(dirname "$(dirname "$bench")")/supervisor/ralphsup}
python3 - "$data" "$bench" "$runs" "$want_ratio" "$work" "$ralphsup" <<'EOF'
import os, resource, subprocess, sys, time
data, bench, runs, want_ratio, work = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
ralphsup = sys.argv[6]


def measure(name, argv):
    best_wall, best_cpu, rss = None, None, 0
    for _ in range(runs):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        with open(os.path.join(work, name + ".out"), "w") as out:
            subprocess.run(["/usr/bin/time", "-f", "%e %M", "-o", os.path.join(work, name + ".time")] + argv,
                           stdout=out, check=True)
        wall = time.perf_counter() - t0
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        with open(os.path.join(work, name + ".time")) as f:
            rss = max(rss, int(f.read().split()[-1]))
        best_wall = wall if best_wall is None else min(best_wall, wall)
        best_cpu = cpu if best_cpu is None else min(best_cpu, cpu)
    return best_wall, best_cpu, rss


jq_s, jq_cpu, jq_rss = measure("jq", ["jq", "-c", 'select(.type=="result")|.total_cost_usd', data])
sb_s, sb_cpu, sb_rss = measure("sb", [bench, data])
# The same file through `ralphsup replay`: the supervisor's own parser AND its
# policy (markers, cost, loop detection, verdict) — what a real run does.
rp = None
if os.access(ralphsup, os.X_OK):
    rp = measure("rp", [ralphsup, "replay", "--quiet", data])

mib = os.path.getsize(data) / (1 << 20)
jq_sum, jq_n = 0.0, 0
with open(os.path.join(work, "jq.out")) as f:
    for line in f:
        line = line.strip()
        if line and line != "null":
            jq_sum += float(line)
        jq_n += 1
sb = {}
with open(os.path.join(work, "sb.out")) as f:
    for line in f:
        k, _, v = line.partition(" ")
        sb[k] = v.strip()
sb_sum, sb_n = float(sb["total_cost_usd"]), int(sb["results"])
longest = int(sb["longest_line"])

ratio = jq_s / sb_s
cpu_ratio = jq_cpu / sb_cpu if sb_cpu > 0 else float("inf")
bound_kib = 16 * 1024 + (longest + 1023) // 1024
sums_ok = jq_n == sb_n and abs(jq_sum - sb_sum) <= 1e-9 * max(1.0, abs(jq_sum))
print(f"data          {data}: {mib:.1f} MiB, {sb['lines']} lines, longest line {longest} bytes; best of {runs} runs")
print(f"jq            {jq_s:7.3f} s wall {jq_cpu:7.3f} s cpu  {mib / jq_s:8.1f} MiB/s  peak RSS {jq_rss / 1024:6.1f} MiB")
print(f"stream-bench  {sb_s:7.3f} s wall {sb_cpu:7.3f} s cpu  {mib / sb_s:8.1f} MiB/s  peak RSS {sb_rss / 1024:6.1f} MiB")
print(f"totals        jq {jq_sum!r} over {jq_n} results, stream-bench {sb_sum!r} over {sb_n} results: "
      f"{'equal' if sums_ok else 'DIFFERENT'}")
print(f"speed ratio   {ratio:.1f}x wall, {cpu_ratio:.1f}x cpu (target >= {want_ratio:g}x wall): "
      f"{'ok' if ratio >= want_ratio else 'MISSED'}")
if rp:
    rp_s, rp_cpu, rp_rss = rp
    print(f"ralphsup replay {rp_s:5.3f} s wall {rp_cpu:7.3f} s cpu  {mib / rp_s:8.1f} MiB/s  peak RSS {rp_rss / 1024:6.1f} MiB"
          f"  ({jq_s / rp_s:.1f}x jq)")
print(f"peak RSS      {sb_rss / 1024:.1f} MiB (bound 16 MiB + longest line = {bound_kib / 1024:.1f} MiB): "
      f"{'ok' if sb_rss <= bound_kib else 'MISSED'}")
sys.exit(0 if sums_ok and ratio >= want_ratio and sb_rss <= bound_kib else 1)
EOF
