#!/usr/bin/env python3
"""Side-by-side forward benchmark: attnc against FlexAttention (and cuDNN / FA2 SDPA for
dense and causal), on the same torch tensors, in one process, on one GPU.

For each pattern of shared/patterns.md at the benchmark shape (bf16, B=2, H=16, N=16384,
D=128, scale 1/sqrt(D)) it:
  * builds the pattern for FlexAttention (torch.compile'd flex_attention, compiled
    create_block_mask) and for attnc (examples/<pattern>.attn through the Python package),
  * checks attnc against Flex on the full output and both against a float64 reference on a
    slice of query rows,
  * times both with triton.testing.do_bench (median) and reports ms, speed-up and useful
    TFLOP/s (4 * D * kept pairs / time), plus compile times.

Usage (on the GPU machine, from an installed tree):
    PYTHONPATH=.gpu/python python3 bench/compare.py --examples .gpu/share/attnc/examples \
        [--patterns causal,sliding_w1024] [--json out.json] [--no-flex]
"""
import argparse
import json
import math
import os
import sys
import tempfile
import time

# NVRTC (12.9+) caches compiled programs across processes in the driver's compute cache
# (~/.nv/ComputeCache) when a driver is present: without this, attnc's cold-compile column
# reads ~0.07 s for any kernel compiled before on the machine. Set before CUDA initialises.
os.environ.setdefault("CUDA_CACHE_DISABLE", "1")

import torch
import torch.nn.functional as F
from torch.nn.attention.flex_attention import create_block_mask, flex_attention

B, H, N, D = 2, 16, 16384, 128
DTYPE = torch.bfloat16
SCALE = 1.0 / math.sqrt(D)
DEV = "cuda"


# --------------------------------------------------------------------------- patterns
def bit_length_small(d):
    """bit_length for 0 <= d < 2^16 on int tensors (0 for 0), pointwise only (no new
    buffers), so FlexAttention can compile it inside a mask_mod."""
    g = (d >= 1).to(torch.int32)
    for s in range(1, 16):
        g = g + (d >= (1 << s)).to(torch.int32)
    return g


def make_patterns(q, k, v, gen):
    """Returns {name: dict(mask_mod, score_mod, post, attnc_inputs, head_dependent,
    batch_dependent)} built on the given tensors."""
    pats = {}
    pats["dense"] = dict(mask_mod=None)
    pats["causal"] = dict(mask_mod=lambda b, h, qi, ki: qi >= ki)
    pats["sliding_w1024"] = dict(mask_mod=lambda b, h, qi, ki: (qi >= ki) & (qi - ki < 1024))
    pats["sink4_w1024"] = dict(
        mask_mod=lambda b, h, qi, ki: (qi >= ki) & ((qi - ki < 1024) | (ki < 4)))
    pats["prefix_lm_2048"] = dict(mask_mod=lambda b, h, qi, ki: (ki < 2048) | (qi >= ki))

    # 16 documents of random length covering N tokens.
    cuts = torch.sort(torch.randperm(N - 1, generator=gen)[:15] + 1).values
    lengths = torch.diff(torch.cat([torch.tensor([0]), cuts, torch.tensor([N])]))
    doc = torch.repeat_interleave(torch.arange(16, dtype=torch.int32), lengths).to(DEV)
    pats["document_causal"] = dict(
        mask_mod=lambda b, h, qi, ki: (doc[qi] == doc[ki]) & (qi >= ki),
        attnc_inputs={"doc": doc.view(1, N).repeat(B, 1).contiguous()})

    stride_h = max(1, 16 // H)
    pats["s2_shards"] = dict(
        mask_mod=lambda b, h, qi, ki: (qi >= ki) & (
            ((qi // 64) - (ki // 64) < 16) | (((ki // 64) + 1 + h * stride_h) % 16 == 0)),
        head_dependent=True)

    T = 1024

    def radial(b, h, qi, ki):
        ft, fk = qi // T, ki // T
        d = (ft - fk).abs()
        g = bit_length_small(d)
        base = torch.where(g == 0, T, 0)  # T >> g, written pointwise for Flex
        for sh in range(1, 16):
            base = torch.where(g == sh, T >> sh, base)
        win = torch.clamp(base, min=128)
        stride = torch.clamp(128 // torch.clamp(base, min=1), min=1)
        return (fk == 0) | (d <= 1) | (((qi % T - ki % T).abs() <= win) &
                                       ((base >= 128) | (d % stride == 0)))
    pats["radial_video"] = dict(mask_mod=radial)

    def natten(b, h, qi, ki):
        qy, qx, ky, kx = qi // 128, qi % 128, ki // 128, ki % 128
        cy, cx = qy.clamp(8, 119), qx.clamp(8, 119)
        return ((ky - cy).abs() <= 8) & ((kx - cx).abs() <= 8)
    pats["natten2d_17"] = dict(mask_mod=natten)

    # MoBA routing built by torch (not timed for Flex): gate = Q . mean(K[blk]), blocks after
    # q's own block excluded, own block forced, top 3 per query token, causal inside.
    bs, nb = 512, N // 512
    kmean = k.float().view(B, H, nb, bs, D).mean(dim=3)            # [B,H,nb,D]
    gate = torch.einsum("bhqd,bhnd->bhqn", q.float(), kmean)        # [B,H,N,nb]
    qblk = (torch.arange(N, device=DEV) // bs).view(1, 1, N, 1)
    blk = torch.arange(nb, device=DEV).view(1, 1, 1, nb)
    gate = gate.masked_fill(blk > qblk, float("-inf")).masked_fill(blk == qblk, float("inf"))
    top = gate.topk(3, dim=-1).indices
    selected = torch.zeros(B, H, N, nb, dtype=torch.bool, device=DEV)
    selected.scatter_(-1, top, True)
    selected &= ~(blk > qblk)  # fewer than 3 allowed blocks: never pick a future one
    del gate, kmean
    pats["moba_bs512_top3"] = dict(
        mask_mod=lambda b, h, qi, ki: selected[b, h, qi, ki // bs] & (qi >= ki),
        head_dependent=True, batch_dependent=True)

    pats["softcap_causal"] = dict(
        mask_mod=lambda b, h, qi, ki: qi >= ki,
        score_mod=lambda s, b, h, qi, ki: 30.0 * torch.tanh(s / 30.0))
    slopes = torch.tensor([2.0 ** (-8.0 * (i + 1) / H) for i in range(H)], device=DEV)
    pats["alibi_causal"] = dict(
        mask_mod=lambda b, h, qi, ki: qi >= ki,
        score_mod=lambda s, b, h, qi, ki: s - slopes[h] * (qi - ki).to(s.dtype))
    g = torch.randn(B, H, N, D, device=DEV, dtype=DTYPE, generator=None)
    pats["gated_causal"] = dict(
        mask_mod=lambda b, h, qi, ki: qi >= ki,
        post=lambda o: o * torch.sigmoid(g.float()).to(o.dtype),
        attnc_inputs={"gate": g})
    return pats


# --------------------------------------------------------------------------- helpers
def kept_pairs(pat):
    """Number of kept (b, h, q, k) pairs, evaluated on the GPU in row chunks."""
    mm = pat.get("mask_mod")
    if mm is None:
        return B * H * N * N
    bs_ = range(B) if pat.get("batch_dependent") else [0]
    hs_ = range(H) if pat.get("head_dependent") else [0]
    total = 0
    kidx = torch.arange(N, device=DEV).view(1, N)
    for b in bs_:
        for h in hs_:
            bt = torch.tensor(b, device=DEV)
            ht = torch.tensor(h, device=DEV)
            for r0 in range(0, N, 2048):
                qidx = torch.arange(r0, min(N, r0 + 2048), device=DEV).view(-1, 1)
                total += int(mm(bt, ht, qidx, kidx).sum())
    total *= (B if not pat.get("batch_dependent") else 1)
    total *= (H if not pat.get("head_dependent") else 1)
    return total


def reference_rows(q, k, v, pat, rows, b=0, h=1):
    """float64 attention for a few query rows of one (b, h)."""
    qd = q[b, h, rows].double()
    kd = k[b, h].double()
    vd = v[b, h].double()
    s = (qd @ kd.T) * SCALE
    qi = torch.tensor(rows, device=DEV).view(-1, 1)
    ki = torch.arange(N, device=DEV).view(1, -1)
    bt, ht = torch.tensor(b, device=DEV), torch.tensor(h, device=DEV)
    if pat.get("score_mod"):
        s = pat["score_mod"](s, bt, ht, qi, ki)
    if pat.get("mask_mod"):
        keep = pat["mask_mod"](bt, ht, qi, ki)
        s = s.masked_fill(~keep, float("-inf"))
    p = torch.softmax(s, dim=-1)
    p = torch.nan_to_num(p, nan=0.0)
    return p @ vd  # the output gate, if any, is applied by the caller


def rel_err(a, b):
    a, b = a.double(), b.double()
    return float((a - b).norm() / max(b.norm(), 1e-30))


def bench(fn, warmup=50, rep=300):
    import triton.testing
    return triton.testing.do_bench(fn, warmup=warmup, rep=rep, return_mode="median")


# --------------------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--examples", default="examples")
    ap.add_argument("--patterns", default="")
    ap.add_argument("--json", default="")
    ap.add_argument("--no-attnc", action="store_true")
    ap.add_argument("--no-flex", action="store_true",
                    help="attnc only (Flex and SDPA columns NaN): skips the minutes of "
                         "FlexAttention compilation")
    args = ap.parse_args()

    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    q = torch.randn(B, H, N, D, device=DEV, dtype=DTYPE)
    k = torch.randn(B, H, N, D, device=DEV, dtype=DTYPE)
    v = torch.randn(B, H, N, D, device=DEV, dtype=DTYPE)
    pats = make_patterns(q, k, v, gen)
    names = [p for p in args.patterns.split(",") if p] or list(pats)

    attnc = None
    if not args.no_attnc:
        try:
            import attnc as attnc_mod
            attnc = attnc_mod
        except Exception as e:  # report, keep the Flex columns
            print(f"attnc: import failed: {e}", file=sys.stderr)

    flex = torch.compile(flex_attention, dynamic=False)
    results = []
    for name in names:
        pat = pats[name]
        row = {"pattern": name}
        kept = kept_pairs(pat)
        row["density"] = kept / (B * H * N * N)
        flops = 4.0 * D * kept

        # FlexAttention: first call (compile) time, then steady state.
        t0 = time.perf_counter()
        bm = None
        nan = float("nan")
        if pat.get("mask_mod") is not None and not args.no_flex:
            bm = create_block_mask(pat["mask_mod"],
                                   B if pat.get("batch_dependent") else None,
                                   H if pat.get("head_dependent") else None, N, N,
                                   device=DEV, _compile=True)
        smod = pat.get("score_mod")
        post = pat.get("post")

        def run_flex():
            o = flex(q, k, v, score_mod=smod, block_mask=bm, scale=SCALE)
            return post(o) if post else o
        if args.no_flex:
            o_flex = None
            row["flex_first_s"] = row["flex_ms"] = row["flex_tflops"] = nan
        else:
            o_flex = run_flex()
            torch.cuda.synchronize()
            row["flex_first_s"] = time.perf_counter() - t0
            row["flex_ms"] = bench(run_flex)
            row["flex_tflops"] = flops / row["flex_ms"] / 1e9

        rows = [0, 1, 63, 1023, 1024, 5000, N // 2, N - 1]
        ref = reference_rows(q, k, v, pat, rows)
        if post:
            ref = ref * torch.sigmoid(pats["gated_causal"]["attnc_inputs"]["gate"][0, 1, rows].double())
        row["flex_ref_err"] = nan if o_flex is None else rel_err(o_flex[0, 1, rows], ref)

        if attnc is not None:
            try:
                path = os.path.join(args.examples, name + ".attn")
                # Cold: a fresh cache directory (NVRTC runs); the compile is tiered, so it
                # returns the quick kernel and the optimized one compiles in the
                # background. Warm: a new context on the same directory once the optimized
                # kernel is there, as a new process would see it (disk-cache hit).
                cache_dir = tempfile.mkdtemp(prefix="attnc-bench-cache-")
                extra = pat.get("attnc_inputs", {})
                t0 = time.perf_counter()
                kern = attnc.compile(path, dtype="bf16", head_dim=D,
                                     context=attnc.Context(cache_dir))
                row["attnc_compile_s"] = time.perf_counter() - t0
                row["attnc_first_tier"] = "optimized" if kern.optimized else "quick"
                if not kern.optimized:
                    # The quick kernel, checked, and timed while it is still the one in use.
                    o_quick = kern(q, k, v, scale=SCALE, **extra)
                    torch.cuda.synchronize()
                    row["attnc_quick_ref_err"] = rel_err(o_quick[0, 1, rows], ref)
                    times = []
                    for _ in range(5):
                        t1 = time.perf_counter()
                        kern(q, k, v, scale=SCALE, **extra)
                        torch.cuda.synchronize()
                        times.append((time.perf_counter() - t1) * 1e3)
                    if not kern.optimized:
                        row["attnc_quick_ms"] = sorted(times)[2]
                    del o_quick
                kern.wait_optimized()
                row["attnc_optimized_s"] = kern.optimized_ms / 1e3
                t0 = time.perf_counter()
                attnc.compile(path, dtype="bf16", head_dim=D, context=attnc.Context(cache_dir))
                row["attnc_compile_warm_s"] = time.perf_counter() - t0

                def run_attnc():
                    return kern(q, k, v, scale=SCALE, **extra)
                o_at = run_attnc()
                torch.cuda.synchronize()
                row["attnc_ms"] = bench(run_attnc)
                row["attnc_tflops"] = flops / row["attnc_ms"] / 1e9
                row["speedup"] = row["flex_ms"] / row["attnc_ms"]
                row["attnc_vs_flex_err"] = nan if o_flex is None else rel_err(o_at, o_flex)
                row["attnc_ref_err"] = rel_err(o_at[0, 1, rows], ref)
                row["ok"] = row["attnc_ref_err"] < 2e-2 and row.get(
                    "attnc_quick_ref_err", 0) < 2e-2 and (
                    o_flex is None or row["attnc_vs_flex_err"] < 2e-2)
            except Exception as e:
                row["attnc_error"] = str(e)[:200]
                row["ok"] = False
        results.append(row)
        print(json.dumps(row), flush=True)
        del bm
        torch.cuda.empty_cache()

    # SDPA backends for dense and causal.
    from torch.nn.attention import SDPBackend, sdpa_kernel
    sdpa = []
    backends = [] if args.no_flex else [(SDPBackend.CUDNN_ATTENTION, "cudnn"),
                                         (SDPBackend.FLASH_ATTENTION, "fa2")]
    for backend, bname in backends:
        for causal in (False, True):
            try:
                with sdpa_kernel(backend):
                    fn = lambda: F.scaled_dot_product_attention(q, k, v, is_causal=causal,
                                                                scale=SCALE)
                    fn()
                    ms = bench(fn)
                kept = B * H * N * (N + 1) / 2 if causal else B * H * N * N
                sdpa.append({"backend": bname, "causal": causal, "ms": ms,
                             "tflops": 4.0 * D * kept / ms / 1e9})
            except Exception as e:
                sdpa.append({"backend": bname, "causal": causal, "error": str(e)[:120]})
    for s in sdpa:
        print(json.dumps(s), flush=True)

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"patterns": results, "sdpa": sdpa,
                       "torch": torch.__version__, "gpu": torch.cuda.get_device_name()}, f,
                      indent=1)

    # Short table last.
    nan = float("nan")
    print(f"\n{'pattern':18} {'dens':>6} {'attnc ms':>9} {'flex ms':>8} {'x':>5} "
          f"{'attnc TF':>8} {'flex TF':>7} {'err':>8} {'cold ms':>7} {'opt s':>5} "
          f"{'quick ms':>8} {'warm ms':>7} {'flex 1st s':>10} {'ok':>3}")
    for r in results:
        print(f"{r['pattern']:18} {r['density']:6.3f} {r.get('attnc_ms', nan):9.3f} "
              f"{r['flex_ms']:8.3f} {r.get('speedup', nan):5.2f} "
              f"{r.get('attnc_tflops', nan):8.1f} {r['flex_tflops']:7.1f} "
              f"{r.get('attnc_ref_err', nan):8.1e} {r.get('attnc_compile_s', nan) * 1e3:7.0f} "
              f"{r.get('attnc_optimized_s', nan):5.1f} {r.get('attnc_quick_ms', nan):8.2f} "
              f"{r.get('attnc_compile_warm_s', nan) * 1e3:7.1f} {r['flex_first_s']:10.1f} "
              f"{'yes' if r.get('ok') else 'NO':>3}")
        if "attnc_error" in r:
            print(f"  attnc error: {r['attnc_error']}")
    for s in sdpa:
        if "ms" in s:
            print(f"sdpa {s['backend']:6} causal={s['causal']!s:5} {s['ms']:8.3f} ms "
                  f"{s['tflops']:6.1f} TF")


if __name__ == "__main__":
    main()
