"""Trains a small transformer whose attention is attnc's sliding window (examples/
sliding_w1024.attn with window=128) through attnc.torch, on synthetic data: each sequence
repeats a random block of `period` tokens, so the next token is the one `period` places back
and the loss falls once the attention has learnt to look there.

    python3 examples/python/train_sliding_window.py [--steps 800] [--lr 3e-3] [--period 24]
                                                    [--compile] [--sdpa]

Needs a CUDA GPU; float32 weights, bf16 activations under autocast. Prints the loss every 50
steps and fails unless it falls to half (on the H200: 4.31 -> 0.013 in 800 steps). --sdpa runs
the same model on PyTorch's scaled_dot_product_attention, for comparison.
"""
import argparse
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
import attnc.torch as at  # noqa: E402

PROGRAM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sliding_w1024.attn")


class Block(nn.Module):
    def __init__(self, width, heads, window, sdpa):
        super().__init__()
        self.heads, self.window, self.sdpa = heads, window, sdpa
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width, bias=False)
        self.proj = nn.Linear(width, width, bias=False)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))
        self.attention = at.Attention(PROGRAM, window=window)

    def forward(self, x):
        b, n, w = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, n, 3, self.heads, w // self.heads).unbind(2)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        if self.sdpa:  # the same attention through PyTorch, for comparison
            i = torch.arange(n, device=x.device)
            keep = (i[:, None] >= i[None, :]) & (i[:, None] - i[None, :] < self.window)
            o = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)
        else:
            o = self.attention(q, k, v)
        x = x + self.proj(o.transpose(1, 2).reshape(b, n, w))
        return x + self.mlp(self.norm2(x))


class Model(nn.Module):
    def __init__(self, vocab, width, heads, layers, length, window, sdpa):
        super().__init__()
        self.embed = nn.Embedding(vocab, width)
        self.position = nn.Parameter(torch.randn(length, width) * 0.02)
        self.blocks = nn.ModuleList(Block(width, heads, window, sdpa) for _ in range(layers))
        self.head = nn.Linear(width, vocab)

    def forward(self, tokens):
        x = self.embed(tokens) + self.position[: tokens.shape[1]]
        for block in self.blocks:
            x = block(x)
        return self.head(x)


def batch(size, length, vocab, period, generator):
    block = torch.randint(0, vocab, (size, period), generator=generator)
    return block.repeat(1, math.ceil(length / period))[:, :length]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=800)
    ap.add_argument("--compile", action="store_true", help="torch.compile the model")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--period", type=int, default=24)
    ap.add_argument("--sdpa", action="store_true",
                    help="the same model with PyTorch's scaled_dot_product_attention instead")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        sys.exit("train_sliding_window: needs a CUDA GPU")
    torch.manual_seed(0)
    vocab, length, period = 64, 512, args.period
    model = Model(vocab, width=256, heads=4, layers=2, length=length, window=128,
                  sdpa=args.sdpa)
    # float32 weights, bf16 activations (autocast): AdamW's updates are lost in bf16 weights.
    model = model.cuda()
    step_fn = torch.compile(model, fullgraph=True) if args.compile else model
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
    generator = torch.Generator().manual_seed(1)
    first = last = None
    for step in range(args.steps):
        tokens = batch(16, length + 1, vocab, period, generator).cuda()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            logits = step_fn(tokens[:, :-1])
        # Only positions after the first period are predictable.
        loss = F.cross_entropy(logits[:, period:].float().reshape(-1, vocab),
                               tokens[:, period + 1:].reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        last = loss.item()
        first = last if first is None else first
        if step % 50 == 0 or step == args.steps - 1:
            print(f"step {step:4d}  loss {last:.4f}", flush=True)
    print(f"loss {first:.3f} -> {last:.3f}")
    if not last < 0.5 * first:
        sys.exit("train_sliding_window: the loss did not fall")


if __name__ == "__main__":
    main()
