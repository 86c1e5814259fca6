#!/usr/bin/env python3
"""Side by side of Nsight Compute exports (bench/kernel_dev/ncu_rivals.sh's, or any `ncu -i
REP --page details|raw --csv`): one column per file, one row per metric whose name matches one
of the patterns (case-insensitive substrings; the defaults are the ones that tell where a
kernel's cycles go: duration, issue slots, pipes, shared memory, warp stalls).

    python3 bench/kernel_dev/ncu_compare.py A.csv B.csv [--match stall --match pipe]
"""
import argparse
import csv
import sys

DEFAULT = ["Duration", "Elapsed Cycles", "Executed Ipc", "Issue Slots Busy", "No Eligible",
           "Warp Cycles Per Issued", "Issued Instructions", "Registers Per Thread",
           "L1/TEX Cache Throughput", "Compute (SM) Throughput", "Memory Throughput",
           "smsp__pcsamp_warps_issue_stalled", "pipe_tensor", "inst_executed_pipe",
           "mem_shared", "Stall"]


def metrics(path):
    """{metric name: value string} of the first kernel in a details or raw CSV export."""
    with open(path, newline="") as f:
        rows = [r for r in csv.reader(f) if r]
    if not rows:
        return {}
    head = rows[0]
    out = {}
    if "Metric Name" in head:  # details page: a row per metric
        name, value = head.index("Metric Name"), head.index("Metric Value")
        unit = head.index("Metric Unit") if "Metric Unit" in head else None
        kernel = rows[1][head.index("ID")] if len(rows) > 1 else None
        for r in rows[1:]:
            if kernel is not None and r[head.index("ID")] != kernel:
                break
            key = r[name] + (f" [{r[unit]}]" if unit is not None and r[unit] else "")
            out.setdefault(key, r[value])
    elif len(rows) >= 3:  # raw page: names, units, then a row per kernel
        for n, u, v in zip(rows[0], rows[1], rows[2]):
            out[n + (f" [{u}]" if u else "")] = v
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="+")
    ap.add_argument("--match", action="append", help="metric name substrings (default: a set)")
    args = ap.parse_args()
    pats = [p.lower() for p in (args.match or DEFAULT)]
    tables = [metrics(f) for f in args.files]
    names = []
    for t in tables:
        for n in t:
            if n not in names and any(p in n.lower() for p in pats):
                names.append(n)
    width = max([len(n) for n in names] + [10])
    print(f"{'metric':{width}}  " + "  ".join(f"{f.split('/')[-1][:24]:>24}" for f in args.files))
    for n in names:
        print(f"{n:{width}}  " + "  ".join(f"{t.get(n, '-')[:24]:>24}" for t in tables))


if __name__ == "__main__":
    sys.exit(main())
