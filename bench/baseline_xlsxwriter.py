#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Baseline for bench/bench_report.sh: the same report done the usual Python
way -- csv module + XlsxWriter in constant_memory mode (run with
/usr/bin/python3, python3-xlsxwriter). It reads batch_progress.json, streams
every completed school's CSV, writes master_report_<date>.csv and a workbook
with Summary, Leads, Warm leads, Failed and Run sheets. It does *less* than
ralphsup (no U+FFFD sanitising, no 32,767 truncation, no Problems sheet).
Usage: baseline_xlsxwriter.py ROOT OUT_DIR
"""
import csv
import json
import os
import sys

import xlsxwriter

COLS = ["school", "coach_name", "title", "sport", "email", "phone", "nmdp_overlap",
        "overlap_evidence", "source_url"]
TRUTHY = {"yes", "true", "1", "y"}


def main():
    root, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    prog = json.load(open(os.path.join(root, "batch_progress.json"), encoding="utf-8"))
    wb = xlsxwriter.Workbook(os.path.join(out, "master_report_py.xlsx"),
                             {"constant_memory": True, "strings_to_formulas": False,
                              "strings_to_numbers": False, "strings_to_urls": False})
    summary = wb.add_worksheet("Summary")
    leads = wb.add_worksheet("Leads")
    warm_ws = wb.add_worksheet("Warm leads")
    failed_ws = wb.add_worksheet("Failed")
    run_ws = wb.add_worksheet("Run")
    bold = wb.add_format({"bold": True})
    for ws in (leads, warm_ws):
        ws.write_row(0, 0, COLS, bold)
        ws.freeze_panes(1, 0)
    lr = wr = 1
    per_school = []
    with open(os.path.join(out, "master_report_py.csv"), "w", encoding="utf-8-sig", newline="") as mf:
        w = csv.writer(mf)
        w.writerow(COLS)
        for s in prog["completed"]:
            rows = warm = 0
            with open(os.path.join(root, s["csv"]), encoding="utf-8-sig", errors="replace", newline="") as f:
                rd = csv.reader(f)
                head = [h.strip().lower() for h in next(rd)]
                idx = [head.index(c) for c in COLS]
                for rec in rd:
                    if not rec:
                        continue
                    vals = [rec[i] for i in idx]
                    w.writerow(["'" + v if v[:1] in ("=", "+", "-", "@", "\t", "\r") else v for v in vals])
                    for c, v in enumerate(vals):
                        if v:
                            leads.write_string(lr, c, v)
                    lr += 1
                    rows += 1
                    if vals[6].strip().lower() in TRUTHY:
                        for c, v in enumerate(vals):
                            if v:
                                warm_ws.write_string(wr, c, v)
                        wr += 1
                        warm += 1
            per_school.append((s["name"], rows, warm, s))
    leads.autofilter(0, 0, lr - 1, 8)
    warm_ws.autofilter(0, 0, wr - 1, 8)
    failed_ws.write_row(0, 0, ["school", "reason", "attempts"], bold)
    for i, s in enumerate(prog["failed"], start=1):
        failed_ws.write_string(i, 0, s["name"])
        failed_ws.write_string(i, 1, s.get("reason") or "")
        failed_ws.write_number(i, 2, len(s.get("attempts", [])))
    run_ws.write_row(0, 0, ["school", "status", "attempts", "cost (USD)", "coaches", "overlaps"], bold)
    for i, (name, rows, warm, s) in enumerate(per_school, start=1):
        run_ws.write_string(i, 0, name)
        run_ws.write_string(i, 1, "completed")
        run_ws.write_number(i, 2, len(s.get("attempts", [])))
        run_ws.write_number(i, 3, s.get("cost_usd", 0))
        run_ws.write_number(i, 4, rows)
        run_ws.write_number(i, 5, warm)
    top = sorted(per_school, key=lambda t: (-t[2], t[0]))[:10]
    summary.write_string(0, 0, "Batch")
    summary.write_string(0, 1, prog.get("batch_name", ""))
    summary.write_string(1, 0, "Coaches researched")
    summary.write_number(1, 1, lr - 1)
    summary.write_string(2, 0, "NMDP overlaps")
    summary.write_number(2, 1, wr - 1)
    for k, (name, rows, warm, _) in enumerate(top):
        summary.write_string(4 + k, 0, name)
        summary.write_number(4 + k, 1, warm)
    if top:
        ch = wb.add_chart({"type": "bar"})
        ch.add_series({"categories": ["Summary", 4, 0, 3 + len(top), 0],
                       "values": ["Summary", 4, 1, 3 + len(top), 1]})
        summary.insert_chart("D2", ch)
    wb.close()
    print("baseline_xlsxwriter: rows=%d warm=%d" % (lr - 1, wr - 1))


if __name__ == "__main__":
    main()
