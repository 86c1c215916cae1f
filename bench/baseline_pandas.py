#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Baseline for bench/bench_report.sh: the report done with pandas + openpyxl
(run with /usr/bin/python3, python3-pandas, python3-openpyxl). Reads every
completed school's CSV with pd.read_csv(dtype=str), concatenates, writes the
master CSV and a workbook with Summary, Leads, Warm leads, Failed and Run
sheets through DataFrame.to_excel(engine="openpyxl"). Like the XlsxWriter
baseline it does less than ralphsup (and openpyxl turns "=..." cells into
formulas -- a correctness bug we do not fix here, it is only a timing baseline).
Usage: baseline_pandas.py ROOT OUT_DIR
"""
import json
import os
import sys

import pandas as pd

COLS = ["school", "coach_name", "title", "sport", "email", "phone", "nmdp_overlap",
        "overlap_evidence", "source_url"]
TRUTHY = {"yes", "true", "1", "y"}


def main():
    root, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    prog = json.load(open(os.path.join(root, "batch_progress.json"), encoding="utf-8"))
    frames, run = [], []
    for s in prog["completed"]:
        df = pd.read_csv(os.path.join(root, s["csv"]), dtype=str, keep_default_na=False,
                         encoding="utf-8-sig", encoding_errors="replace")
        df.columns = [c.strip().lower() for c in df.columns]
        df = df[COLS]
        warm = df["nmdp_overlap"].str.strip().str.lower().isin(TRUTHY)
        run.append({"school": s["name"], "status": "completed", "attempts": len(s.get("attempts", [])),
                    "cost (USD)": s.get("cost_usd", 0), "coaches": len(df), "overlaps": int(warm.sum())})
        frames.append(df)
    leads = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLS)
    warm = leads[leads["nmdp_overlap"].str.strip().str.lower().isin(TRUTHY)]
    leads.to_csv(os.path.join(out, "master_report_pd.csv"), index=False, encoding="utf-8-sig")
    run_df = pd.DataFrame(run)
    top = run_df.sort_values(["overlaps", "school"], ascending=[False, True]).head(10) if len(run_df) else run_df
    summary = pd.DataFrame({"metric": ["Batch", "Coaches researched", "NMDP overlaps"],
                            "value": [prog.get("batch_name", ""), len(leads), len(warm)]})
    failed = pd.DataFrame([{"school": f["name"], "reason": f.get("reason"), "attempts": len(f.get("attempts", []))}
                           for f in prog["failed"]])
    with pd.ExcelWriter(os.path.join(out, "master_report_pd.xlsx"), engine="openpyxl") as xw:
        summary.to_excel(xw, sheet_name="Summary", index=False)
        top.to_excel(xw, sheet_name="Summary", index=False, startrow=5)
        leads.to_excel(xw, sheet_name="Leads", index=False)
        warm.to_excel(xw, sheet_name="Warm leads", index=False)
        failed.to_excel(xw, sheet_name="Failed", index=False)
        run_df.to_excel(xw, sheet_name="Run", index=False)
    print("baseline_pandas: rows=%d warm=%d" % (len(leads), len(warm)))


if __name__ == "__main__":
    main()
