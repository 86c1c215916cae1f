#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Report benchmark (issue 5 acceptance): on the same generated data, in the
# same invocation, time and measure peak RSS of
#   1. ralphsup's report (build/bench/report-bench: load progress + rs_report_generate)
#   2. Python csv + XlsxWriter (constant_memory)   bench/baseline_xlsxwriter.py
#   3. pandas + openpyxl                           bench/baseline_pandas.py
# at 24, 1,000 and 10,000 schools x 40 coaches, and print the ratios.
# Targets at 10,000: >= 10x faster than XlsxWriter, >= 20x faster than pandas,
# peak RSS <= 32 MiB.
#
# Usage: bench/bench_report.sh [BUILD_DIR] [SIZES...]
#   BUILD_DIR defaults to ./build; SIZES to "24 1000 10000".
#   BENCH_DIR (default /tmp/ralphsup-bench-report) holds the generated data,
#   reused when present (delete it to regenerate).
# Python is always /usr/bin/python3 (the distribution python with
# python3-xlsxwriter, python3-pandas and python3-openpyxl).
# All three put their temporary files in $TMPDIR (else /tmp), so setting
# TMPDIR (e.g. to a tmpfs) applies to all of them alike.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
shift || true
sizes=${*:-"24 1000 10000"}
bench_dir=${BENCH_DIR:-/tmp/ralphsup-bench-report}
py=/usr/bin/python3
exe="$build/bench/report-bench"
[ -x "$exe" ] || { echo "bench_report: $exe not built (ninja -C $build bench/report-bench)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench_report: needs GNU time (/usr/bin/time)" >&2; exit 2; }
mkdir -p "$bench_dir"

# measure NAME CMD... -> sets $secs, $kib and $cpu (user+sys s); output goes to $bench_dir/NAME.log
measure() {
    local name=$1
    shift
    /usr/bin/time -f "%e %M %U %S" -o "$bench_dir/$name.time" "$@" >"$bench_dir/$name.log" 2>&1 || {
        echo "bench_report: $name failed (exit $?), see $bench_dir/$name.log" >&2
        tail -5 "$bench_dir/$name.log" >&2
        return 1
    }
    read -r secs kib usr sys <"$bench_dir/$name.time"
    cpu=$(echo "$usr + $sys" | bc -l)
}

printf '%-8s %-22s %10s %10s %12s\n' schools tool "wall (s)" "cpu (s)" "peak RSS"
results=()
for n in $sizes; do
    data="$bench_dir/data-$n"
    if [ ! -f "$data/batch_progress.json" ]; then
        rm -rf "$data"
        "$py" "$here/gen_report_data.py" "$data" "$n" >/dev/null
    fi
    rm -rf "$bench_dir/out-$n"
    sync

    measure "c-$n" "$exe" "$data" "$bench_dir/out-$n/c"
    c_s=$secs c_k=$kib c_c=$cpu
    # report-bench resets the kernel's RSS high-water mark after loading the
    # progress file (to print the report phase's own peak), which also resets
    # what time(1) sees: the whole process's peak is the largest of time(1)'s
    # figure and the two high-water marks report-bench prints (VmHWM before
    # the reset, and VmHWM at the end, which time(1) can under-read slightly
    # once the writer thread's memory is gone).
    for phase in "loading the progress file" "report phase"; do
        k=$(sed -n "s/.*$phase \([0-9.]*\) MiB.*/\1/p" "$bench_dir/c-$n.log")
        if [ -n "$k" ]; then
            k=$(echo "$k * 1024 / 1" | bc)
            [ "$k" -gt "$c_k" ] && c_k=$k
        fi
    done
    grep "report phase" "$bench_dir/c-$n.log" | sed 's/^report-bench: /         /' || true
    printf '%-8s %-22s %10s %10.2f %9.1f MiB\n' "$n" "ralphsup (C)" "$c_s" "$c_c" "$(echo "$c_k/1024" | bc -l)"
    measure "xw-$n" "$py" "$here/baseline_xlsxwriter.py" "$data" "$bench_dir/out-$n/xw"
    xw_s=$secs xw_k=$kib xw_c=$cpu
    printf '%-8s %-22s %10s %10.2f %9.1f MiB\n' "$n" "csv + XlsxWriter" "$xw_s" "$xw_c" "$(echo "$xw_k/1024" | bc -l)"
    measure "pd-$n" "$py" "$here/baseline_pandas.py" "$data" "$bench_dir/out-$n/pd"
    pd_s=$secs pd_k=$kib pd_c=$cpu
    printf '%-8s %-22s %10s %10.2f %9.1f MiB\n' "$n" "pandas + openpyxl" "$pd_s" "$pd_c" "$(echo "$pd_k/1024" | bc -l)"
    results+=("$n $c_s $c_k $xw_s $pd_s $c_c $xw_c $pd_c")
done

echo
printf '%-8s %14s %14s %16s %16s %14s\n' schools "xlsxwriter/C" "pandas/C" "cpu xlsxwriter/C" "cpu pandas/C" "C peak RSS"
status=0
for r in "${results[@]}"; do
    read -r n c_s c_k xw_s pd_s c_c xw_c pd_c <<<"$r"
    # Sub-10 ms runs are rounded to 0.00 by time(1): clamp to 0.01 s.
    cs=$(echo "if ($c_s < 0.01) 0.01 else $c_s" | bc -l)
    rxw=$(echo "$xw_s / $cs" | bc -l)
    rpd=$(echo "$pd_s / $cs" | bc -l)
    cc=$(echo "if ($c_c < 0.01) 0.01 else $c_c" | bc -l)
    printf '%-8s %13.1fx %13.1fx %15.1fx %15.1fx %10.1f MiB\n' "$n" "$rxw" "$rpd" "$(echo "$xw_c / $cc" | bc -l)" \
        "$(echo "$pd_c / $cc" | bc -l)" "$(echo "$c_k/1024" | bc -l)"
    if [ "$n" = 10000 ]; then
        ok=$(echo "$rxw >= 10 && $rpd >= 20 && $c_k <= 32768" | bc -l)
        if [ "$ok" = 1 ]; then
            echo "targets at 10,000 schools: met (>= 10x XlsxWriter, >= 20x pandas, <= 32 MiB)"
        else
            echo "targets at 10,000 schools: NOT met (>= 10x XlsxWriter, >= 20x pandas, <= 32 MiB)"
            status=1
        fi
    fi
done
exit $status
