#!/usr/bin/env python3
"""Per-kernel GPU time of attnc calls at the benchmark shape (GPU machine).

Runs the patterns of bench/compare.py (same tensors and inputs) through attnc under
torch.profiler and prints, per pattern, the CUDA time per call of every kernel the call
launched: the forward kernel, the summary pre-pass (document masks), the routing pre-passes
(MoBA), memsets; with --backward, those of kern.backward (preparation, query intervals,
key-tile kernel, dQ store, memsets). Tells where a pattern's time goes before any kernel is
changed.

    python3 bench/kernel_dev/profile_kernels.py [--patterns moba_bs512_top3,document_causal]
        [--backward]
"""
import argparse
import collections
import os
import sys

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import compare  # noqa: E402  (the benchmark's shape and patterns)

import attnc  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--patterns", default="moba_bs512_top3,document_causal,sliding_w1024,causal")
    ap.add_argument("--examples", default="examples")
    ap.add_argument("--calls", type=int, default=10)
    ap.add_argument("--backward", action="store_true", help="profile kern.backward")
    args = ap.parse_args()

    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    shape = (compare.B, compare.H, compare.N, compare.D)
    q, k, v = (torch.randn(*shape, device="cuda", dtype=compare.DTYPE) for _ in range(3))
    pats = compare.make_patterns(q, k, v, gen)
    for name in args.patterns.split(","):
        pat = pats[name]
        kern = attnc.compile(os.path.join(args.examples, name + ".attn"), dtype="bf16",
                             head_dim=compare.D)
        extra = pat.get("attnc_inputs", {})
        if args.backward:
            o, lse = kern(q, k, v, scale=compare.SCALE, return_lse=True, **extra)
            do = torch.randn_like(o)

            def call():
                kern.backward(q, k, v, o, lse, do, scale=compare.SCALE, **extra)
        else:
            def call():
                kern(q, k, v, scale=compare.SCALE, **extra)
        for _ in range(3):  # warm up (module load, allocator)
            call()
        torch.cuda.synchronize()
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            for _ in range(args.calls):
                call()
            torch.cuda.synchronize()
        per_kernel = collections.defaultdict(float)
        for event in prof.events():
            if event.device_type == torch.autograd.DeviceType.CUDA:
                us = getattr(event, "device_time", None)
                us = event.cuda_time if us is None else us
                per_kernel[event.name] += us / 1e3 / args.calls
        total = sum(per_kernel.values())
        print(f"== {name}: {total:.3f} ms per call (GPU time of its kernels)")
        for kname, ms in sorted(per_kernel.items(), key=lambda x: -x[1]):
            print(f"   {ms:8.3f} ms  {100 * ms / total:5.1f}%  {kname[:90]}")


if __name__ == "__main__":
    main()
