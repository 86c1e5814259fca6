#!/usr/bin/env python3
"""Side-by-side backward benchmark: attnc's kern.backward against FlexAttention's backward
(Triton; and its FLASH / FlashAttention-4 backend with --flash, where it is installed), on
the same torch tensors, in one process, on one GPU.

The patterns and the benchmark shape are bench/compare.py's (bf16, B=2, H=16, N=16384,
D=128, scale 1/sqrt(D)). For each pattern:
  * attnc: the forward once (o, lse), then kern.backward(q, k, v, o, lse, do) timed;
  * Flex: flex_attention under autograd; the forward once, then torch.autograd.grad of its
    output with the same dO timed (retain_graph, so only the backward runs);
  * dQ, dK, dV of attnc against Flex's (relative L2 error), and both against a float64
    reference of one (b, h) computed in float64 on the GPU (reference_grads below);
  * useful TFLOP/s = 10 * D * kept pairs / time (the backward's five products of the kept
    pairs: S, dP, dV, dK, dQ; 2 FLOPs each per multiply-add, D per pair).

Usage (on the GPU machine, from an installed tree):
    PYTHONPATH=python python3 bench/compare_backward.py --examples examples \
        [--patterns causal,sliding_w1024] [--json out.json] [--no-flex] [--flash] [--no-triton]
"""
import argparse
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402  (the patterns, the shape, kept_pairs, bench)
from torch.nn.attention.flex_attention import (  # noqa: E402
    BlockMask, create_block_mask, flex_attention)

B, H, N, D, SCALE, DEV, DTYPE = (compare.B, compare.H, compare.N, compare.D, compare.SCALE,
                                 compare.DEV, compare.DTYPE)


def reference_grads(q, k, v, do, pat, b=0, h=1, rows=2048):
    """float64 dQ, dK and dV of one (b, h) (no GQA at the benchmark shape), computed in blocks
    of `rows` query rows so that no N x N matrix is ever whole."""
    qd, kd, vd, dod = (t[b, h].double() for t in (q, k, v, do))
    bt, ht = torch.tensor(b, device=DEV), torch.tensor(h, device=DEV)
    ki = torch.arange(N, device=DEV).view(1, -1)
    dq = torch.zeros_like(qd)
    dk = torch.zeros_like(kd)
    dv = torch.zeros_like(vd)
    post = pat.get("post")
    for r0 in range(0, N, rows):
        qi = torch.arange(r0, min(N, r0 + rows), device=DEV).view(-1, 1)
        raw = (qd[r0:r0 + rows] @ kd.T) * SCALE
        raw.requires_grad_(True)
        s = raw
        if pat.get("score_mod"):
            s = pat["score_mod"](s, bt, ht, qi, ki)
        if pat.get("mask_mod"):
            s = s.masked_fill(~pat["mask_mod"](bt, ht, qi, ki), float("-inf"))
        p = torch.nan_to_num(torch.softmax(s, dim=-1), nan=0.0)
        vv = vd.clone().requires_grad_(True)
        o = p @ vv
        if post:
            gate = pat["attnc_inputs"]["gate"][b, h, r0:r0 + rows].double()
            o = o * torch.sigmoid(gate)
        graw, gv = torch.autograd.grad(o, (raw, vv), dod[r0:r0 + rows])
        dv += gv
        dq[r0:r0 + rows] = (graw @ kd) * SCALE
        dk += (graw.T @ qd[r0:r0 + rows]) * SCALE
    return dq, dk, dv


def rel_err(a, b):
    a, b = a.double(), b.double()
    return float((a - b).norm() / max(b.norm(), 1e-30))


def eager_block_mask(mask_mod, batches, heads):
    """create_block_mask without torch.compile (minutes on a fresh machine), one (batch, head)
    at a time: eager, it materialises the whole [B, H, N, N] mask (64 GiB for MoBA's)."""
    if batches == 1 and heads == 1:
        return create_block_mask(mask_mod, None, None, N, N, device=DEV, _compile=False)
    parts = [[create_block_mask(lambda _b, _h, q, k, b=b, h=h: mask_mod(b, h, q, k), None, None,
                                N, N, device=DEV, _compile=False) for h in range(heads)]
             for b in range(batches)]

    def stack(name):
        tensors = [[getattr(m, name) for m in row] for row in parts]
        if tensors[0][0] is None:
            return None
        return torch.cat([torch.cat(row, dim=1) for row in tensors], dim=0)
    return BlockMask.from_kv_blocks(stack("kv_num_blocks"), stack("kv_indices"),
                                    stack("full_kv_num_blocks"), stack("full_kv_indices"),
                                    BLOCK_SIZE=parts[0][0].BLOCK_SIZE, mask_mod=mask_mod,
                                    seq_lengths=(N, N))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--examples", default="examples")
    ap.add_argument("--patterns", default="")
    ap.add_argument("--json", default="")
    ap.add_argument("--no-flex", action="store_true", help="attnc only")
    ap.add_argument("--flash", action="store_true",
                    help="also Flex with kernel_options={'BACKEND': 'FLASH'} (FlashAttention-4)")
    ap.add_argument("--deterministic", action="store_true", help="attnc's deterministic mode")
    ap.add_argument("--recompute-before-out", action="store_true",
                    help="programs with `out`: the backward recomputes the output before it"
                         " instead of reading the forward's")
    ap.add_argument("--no-triton", action="store_true",
                    help="skip Flex's Triton backend (with --flash: FA4 alone beside attnc)")
    args = ap.parse_args()
    # One process compiles many patterns: without this, Flex falls back to eager silently.
    torch._dynamo.config.recompile_limit = 64
    torch._dynamo.config.accumulated_recompile_limit = 4096

    import attnc
    torch.manual_seed(0)
    q = torch.randn(B, H, N, D, device=DEV, dtype=DTYPE)
    k = torch.randn(B, H, N, D, device=DEV, dtype=DTYPE)
    v = torch.randn(B, H, N, D, device=DEV, dtype=DTYPE)
    do = torch.randn(B, H, N, D, device=DEV, dtype=DTYPE)
    pats = compare.make_patterns(q, k, v, None)
    names = [p for p in args.patterns.split(",") if p] or list(pats)
    flex = torch.compile(flex_attention, dynamic=False)
    nan = float("nan")
    results = []
    for name in names:
        pat = pats[name]
        row = {"pattern": name}
        kept = compare.kept_pairs(pat)
        row["density"] = kept / (B * H * N * N)
        flops = 10.0 * D * kept
        extra = pat.get("attnc_inputs", {})
        ref = reference_grads(q, k, v, do, pat)

        # attnc
        try:
            kern = attnc.compile(os.path.join(args.examples, name + ".attn"), dtype="bf16",
                                 head_dim=D, tiering="off")
            # A program with `out` (gated_causal) keeps the output before it from the
            # forward, as Flex's autograd keeps the output its torch epilogue reads.
            saved = {}
            if pat.get("post") and not args.recompute_before_out:
                o, lse, saved["o_before_out"] = kern(q, k, v, scale=SCALE, return_lse=True,
                                                     return_o_before_out=True, **extra)
            else:
                o, lse = kern(q, k, v, scale=SCALE, return_lse=True, **extra)

            def run_attnc():
                return kern.backward(q, k, v, o, lse, do, scale=SCALE,
                                     deterministic=args.deterministic, **saved, **extra)
            dq, dk, dv = run_attnc()
            torch.cuda.synchronize()
            row["attnc_ms"] = compare.bench(run_attnc, warmup=10, rep=100)
            row["attnc_tflops"] = flops / row["attnc_ms"] / 1e9
            row["attnc_ref_err"] = max(rel_err(dq[0, 1], ref[0]), rel_err(dk[0, 1], ref[1]),
                                       rel_err(dv[0, 1], ref[2]))
            attnc_grads = (dq, dk, dv)
        except Exception as e:
            row["attnc_error"] = str(e)[:300]
            attnc_grads = None

        # Flex (Triton, then FLASH)
        backends = [] if args.no_flex else ([] if args.no_triton else [("flex", {})]) + (
            [("flash", {"BACKEND": "FLASH"})] if args.flash else [])
        bm = None
        if backends and pat.get("mask_mod") is not None:
            try:
                bm = eager_block_mask(pat["mask_mod"], B if pat.get("batch_dependent") else 1,
                                      H if pat.get("head_dependent") else 1)
            except Exception as e:
                for col, _ in backends:
                    row[col + "_error"] = "create_block_mask: " + str(e)[:280]
                backends = []
        for col, options in backends:
            try:
                qg, kg, vg = (t.detach().requires_grad_(True) for t in (q, k, v))
                out = flex(qg, kg, vg, score_mod=pat.get("score_mod"), block_mask=bm,
                           scale=SCALE, kernel_options=options or None)
                if pat.get("post"):
                    out = pat["post"](out)

                def run_flex():
                    return torch.autograd.grad(out, (qg, kg, vg), do, retain_graph=True)
                fq, fk, fv = run_flex()
                torch.cuda.synchronize()
                row[col + "_ms"] = compare.bench(run_flex, warmup=10, rep=100)
                row[col + "_tflops"] = flops / row[col + "_ms"] / 1e9
                row[col + "_ref_err"] = max(rel_err(fq[0, 1], ref[0]), rel_err(fk[0, 1], ref[1]),
                                            rel_err(fv[0, 1], ref[2]))
                if attnc_grads is not None:
                    row["attnc_vs_" + col + "_err"] = max(
                        rel_err(a, f) for a, f in zip(attnc_grads, (fq, fk, fv)))
                del out, fq, fk, fv
            except Exception as e:
                row[col + "_error"] = str(e)[:300]
        row["ok"] = row.get("attnc_ref_err", 1.0) < 2e-2
        results.append(row)
        print(json.dumps(row), flush=True)
        del bm
        torch.cuda.empty_cache()

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"patterns": results, "torch": torch.__version__,
                       "gpu": torch.cuda.get_device_name()}, f, indent=1)
    print(f"\n{'pattern':18} {'dens':>6} {'attnc ms':>9} {'TF':>6} {'flex ms':>8} {'TF':>6} "
          f"{'flash ms':>8} {'TF':>6} {'attnc err':>9} {'flex err':>8} {'ok':>3}")
    for r in results:
        print(f"{r['pattern']:18} {r['density']:6.3f} {r.get('attnc_ms', nan):9.3f} "
              f"{r.get('attnc_tflops', nan):6.1f} {r.get('flex_ms', nan):8.3f} "
              f"{r.get('flex_tflops', nan):6.1f} {r.get('flash_ms', nan):8.3f} "
              f"{r.get('flash_tflops', nan):6.1f} {r.get('attnc_ref_err', nan):9.1e} "
              f"{r.get('flex_ref_err', nan):8.1e} {'yes' if r.get('ok') else 'NO':>3}")
        for key in ("attnc_error", "flex_error", "flash_error"):
            if key in r:
                print(f"  {key}: {r[key]}")


if __name__ == "__main__":
    main()
