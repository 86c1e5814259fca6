"""Tests of the Python package on the CPU backend: attnc's float64 reference through the C
ABI, compared with attention written directly in NumPy from the pattern's definition."""
import os

import numpy as np
import pytest

import attnc

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def naive(q, k, v, keep, score_mod=None, scale=None):
    """float64 attention; keep(b, h, qi, ki) -> bool array [Sq, Sk]."""
    B, H, Sq, D = q.shape
    Hk, Sk = k.shape[1], k.shape[2]
    scale = 1.0 / np.sqrt(D) if scale is None else scale
    o = np.zeros((B, H, Sq, D))
    lse = np.full((B, H, Sq), -np.inf)
    qi = np.arange(Sq)[:, None]
    ki = np.arange(Sk)[None, :]
    for b in range(B):
        for h in range(H):
            kh = h // (H // Hk)
            s = q[b, h].astype(np.float64) @ k[b, kh].astype(np.float64).T * scale
            if score_mod is not None:
                s = score_mod(s, b, h, qi, ki)
            m = np.broadcast_to(keep(b, h, qi, ki), s.shape)
            s = np.where(m, s, -np.inf)
            for r in range(Sq):
                if not np.isfinite(s[r]).any():
                    continue
                mx = s[r].max()
                p = np.exp(s[r] - mx)
                o[b, h, r] = p @ v[b, kh].astype(np.float64) / p.sum()
                lse[b, h, r] = mx + np.log(p.sum())
    return o, lse


def rand(*shape, seed):
    return np.random.default_rng(seed).uniform(-1, 1, size=shape).astype(np.float32)


def qkv(B=1, H=2, Hk=None, Sq=37, Sk=None, D=64, seed=0):
    Hk = Hk or H
    Sk = Sk or Sq
    return rand(B, H, Sq, D, seed=seed), rand(B, Hk, Sk, D, seed=seed + 1), rand(B, Hk, Sk, D, seed=seed + 2)


def close(a, b):
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_causal_example_file():
    kern = attnc.compile(os.path.join(ROOT, "examples", "causal.attn"), head_dim=64, arch="none")
    q, k, v = qkv(seed=1)
    o, lse = kern(q, k, v, return_lse=True)
    ro, rl = naive(q, k, v, lambda b, h, i, j: i >= j)
    close(o, ro)
    close(lse, rl)


def test_sliding_window_param():
    src = "attention sw { param window: int = 1024; mask = causal && q - k < window; }"
    kern = attnc.compile(src, head_dim=64, arch="none")
    assert kern.params == {"window": "int"}
    q, k, v = qkv(Sq=41, seed=2)
    o = kern(q, k, v, window=5)
    ro, _ = naive(q, k, v, lambda b, h, i, j: (i >= j) & (i - j < 5))
    close(o, ro)


def test_document_mask_input():
    src = "attention docs { input doc: i32[q_len]; mask = causal && doc[q] == doc[k]; }"
    kern = attnc.compile(src, head_dim=64, arch="none")
    q, k, v = qkv(Sq=30, seed=3)
    doc = np.repeat(np.arange(3, dtype=np.int32), [7, 15, 8])
    o = kern(q, k, v, doc=doc)
    ro, _ = naive(q, k, v, lambda b, h, i, j: (i >= j) & (doc[i] == doc[j]))
    close(o, ro)


def test_softcap_score_and_gqa():
    src = "attention sc { const cap = 30.0; score = cap * tanh(score / cap); mask = causal; }"
    kern = attnc.compile(src, head_dim=64, arch="none")
    q, k, v = qkv(B=2, H=4, Hk=2, Sq=19, seed=4)
    q *= 40  # make the cap matter
    o = kern(q, k, v)
    ro, _ = naive(q, k, v, lambda b, h, i, j: i >= j,
                  score_mod=lambda s, b, h, i, j: 30.0 * np.tanh(s / 30.0))
    close(o, ro)


def test_gated_output_and_empty_rows():
    src = ("attention g { input gate: f32[batch, heads, q_len, d]; mask = causal;"
           " out = out * sigmoid(gate[b, h, q, :]); }")
    kern = attnc.compile(src, head_dim=64, arch="none")
    # q_len > kv_len: bottom-right causal leaves the first rows with no key.
    q, k, v = qkv(Sq=12, Sk=8, seed=5)
    gate = rand(1, 2, 12, 64, seed=6)
    o, lse = kern(q, k, v, gate=gate, return_lse=True)
    ro, rl = naive(q, k, v, lambda b, h, i, j: i + (8 - 12) >= j)
    ro = ro * (1 / (1 + np.exp(-gate.astype(np.float64))))
    ro[:, :, :4] = 0.0  # empty rows: O = 0 exactly, the epilogue is not applied
    close(o, ro)
    assert np.all(o[:, :, :4] == 0) and np.all(np.isneginf(lse[:, :, :4]))
    close(lse[:, :, 4:], rl[:, :, 4:])


def test_errors_are_python_exceptions():
    with pytest.raises(attnc.CompileError) as err:
        attnc.compile("attention bad {\n  mask = causal && q - k < windw;\n}", arch="none")
    assert "<string>:2:" in str(err.value) and "windw" in str(err.value)
    kern = attnc.compile("attention c { mask = causal; }", head_dim=64, arch="none")
    q, k, v = qkv(seed=7)
    with pytest.raises(TypeError, match="no param or input named 'window'"):
        kern(q, k, v, window=3)
    with pytest.raises(ValueError, match="4 dims"):
        kern(q[0], k, v)
    with pytest.raises(ValueError, match="multiple of kv heads"):
        kern(q, k[:, :1].repeat(3, axis=1), v[:, :1].repeat(3, axis=1))
    with pytest.raises(FileNotFoundError):
        attnc.compile("no/such/file.attn", arch="none")
