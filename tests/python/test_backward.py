"""kern.backward on NumPy arrays (the float64 CPU reference backward through the C ABI),
checked against central finite differences of attention written directly in NumPy."""
import numpy as np
import pytest

import attnc
from test_attnc import naive, qkv, rand

GATED = ("attention g { input gate: f32[batch, heads, q_len, d];"
         " input doc: i32[batch, q_len]; mask = causal && doc[b, q] == doc[b, k];"
         " out = out * sigmoid(gate[b, h, q, :]); }")
SOFTCAP = "attention sc { const cap = 30.0; score = cap * tanh(score / cap); mask = causal; }"


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def gated_forward(q, k, v, gate, doc):
    sq, sk = q.shape[2], k.shape[2]
    o, _ = naive(q, k, v, lambda b, h, i, j: (i + (sk - sq) >= j) & (doc[b][i] == doc[b][j]))
    return o * sigmoid(gate)


def softcap_forward(q, k, v):
    o, _ = naive(q, k, v, lambda b, h, i, j: i >= j,
                 score_mod=lambda s, b, h, i, j: 30.0 * np.tanh(s / 30.0))
    return o


def finite_difference(loss, x, picks, eps=1e-4):
    """d loss / d x at the flat indices `picks` (x float64, perturbed in place)."""
    out = []
    flat = x.reshape(-1)
    for i in picks:
        keep = flat[i]
        flat[i] = keep + eps
        up = loss()
        flat[i] = keep - eps
        down = loss()
        flat[i] = keep
        out.append((up - down) / (2 * eps))
    return np.array(out)


def check_against_fd(grads, tensors, loss, seed):
    rng = np.random.default_rng(seed)
    for name, g in grads.items():
        x = tensors[name]
        picks = rng.choice(x.size, size=min(24, x.size), replace=False)
        want = finite_difference(loss, x, picks)
        got = g.reshape(-1)[picks].astype(np.float64)
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4, err_msg=name)


def test_gated_backward_matches_finite_differences():
    kern = attnc.compile(GATED, head_dim=64, arch="none")
    # q_len > kv_len: the first rows keep no key and must get zero gradients.
    q, k, v = qkv(B=1, H=2, Hk=1, Sq=7, Sk=5, seed=11)
    gate = rand(1, 2, 7, 64, seed=12)
    doc = np.array([[0, 0, 0, 1, 1, 1, 1]], dtype=np.int32)
    do = rand(1, 2, 7, 64, seed=13)
    o, lse = kern(q, k, v, gate=gate, doc=doc, return_lse=True)
    dq, dk, dv, grads = kern.backward(q, k, v, o, lse, do, grad_inputs=("gate",), gate=gate,
                                      doc=doc)
    assert dq.shape == q.shape and dk.shape == k.shape and dv.shape == v.shape
    assert dq.dtype == np.float32 and grads["gate"].dtype == np.float32
    assert set(grads) == {"gate"} and grads["gate"].shape == gate.shape
    assert np.all(dq[:, :, :2] == 0)  # rows 0 and 1 keep no key (bottom-right causal)
    t = {n: a.astype(np.float64) for n, a in (("q", q), ("k", k), ("v", v), ("gate", gate))}

    def loss():
        return float(np.sum(do * gated_forward(t["q"], t["k"], t["v"], t["gate"], doc)))
    check_against_fd({"q": dq, "k": dk, "v": dv, "gate": grads["gate"]}, t, loss, seed=1)


def test_output_before_out_is_returned_and_accepted():
    kern = attnc.compile(GATED, head_dim=64, arch="none")
    q, k, v = qkv(B=1, H=2, Hk=1, Sq=7, Sk=5, seed=31)
    gate = rand(1, 2, 7, 64, seed=32)
    doc = np.array([[0, 0, 0, 1, 1, 1, 1]], dtype=np.int32)
    o, lse, before = kern(q, k, v, gate=gate, doc=doc, return_lse=True,
                          return_o_before_out=True)
    want = gated_forward(q.astype(np.float64), k.astype(np.float64), v.astype(np.float64),
                         np.ones_like(gate, dtype=np.float64) * 1e9, doc)  # sigmoid(1e9) = 1
    np.testing.assert_allclose(before, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(o, before * sigmoid(gate.astype(np.float64)), rtol=1e-5,
                               atol=1e-6)
    o2, before2 = kern(q, k, v, gate=gate, doc=doc, return_o_before_out=True)
    np.testing.assert_array_equal(before2, before)
    do = rand(1, 2, 7, 64, seed=33)
    plain = kern.backward(q, k, v, o, lse, do, gate=gate, doc=doc)
    given = kern.backward(q, k, v, o, lse, do, gate=gate, doc=doc, o_before_out=before)
    for a, b in zip(plain, given):
        np.testing.assert_array_equal(a, b)
    dense = attnc.compile("attention d { }", head_dim=64, arch="none")
    with pytest.raises(ValueError, match="has no out expression"):
        dense(q, k, v, return_o_before_out=True)
    with pytest.raises(ValueError, match="O's shape"):
        kern.backward(q, k, v, o, lse, do, gate=gate, doc=doc, o_before_out=before[:, :, :5])


def test_softcap_gqa_backward_matches_finite_differences():
    kern = attnc.compile(SOFTCAP, head_dim=64, arch="none")
    q, k, v = qkv(B=1, H=4, Hk=2, Sq=6, seed=21)
    q *= 20  # make the cap matter
    do = rand(*q.shape, seed=22)
    o, lse = kern(q, k, v, return_lse=True)
    dq, dk, dv = kern.backward(q, k, v, o, lse, do)
    t = {n: a.astype(np.float64) for n, a in (("q", q), ("k", k), ("v", v))}

    def loss():
        return float(np.sum(do * softcap_forward(t["q"], t["k"], t["v"])))
    check_against_fd({"q": dq, "k": dk, "v": dv}, t, loss, seed=2)
    # The scale is the forward's: another one gives other gradients.
    o2, lse2 = kern(q, k, v, scale=0.05, return_lse=True)
    dq2, _, _ = kern.backward(q, k, v, o2, lse2, do, scale=0.05)
    assert not np.allclose(dq, dq2)


def test_dlse_adds_the_gradient_of_a_loss_reading_lse():
    # softcap: the LSE term goes through the score hook's derivative too; GQA, rows that keep
    # no key (q_len > kv_len under a bottom-right causal mask) get nothing from it.
    kern = attnc.compile(SOFTCAP, head_dim=64, arch="none")
    q, k, v = qkv(B=1, H=4, Hk=2, Sq=8, Sk=6, seed=31)
    q *= 20
    do = rand(*q.shape, seed=32)
    w = rand(1, 4, 8, seed=33)
    o, lse = kern(q, k, v, return_lse=True)
    dq, dk, dv = kern.backward(q, k, v, o, lse, do, dlse=w)
    t = {n: a.astype(np.float64) for n, a in (("q", q), ("k", k), ("v", v))}

    def loss():
        o, lse = naive(t["q"], t["k"], t["v"], lambda b, h, i, j: i - 2 >= j,
                       score_mod=lambda s, b, h, i, j: 30.0 * np.tanh(s / 30.0))
        return float(np.sum(do * o) + np.sum(np.where(np.isfinite(lse), w * lse, 0.0)))
    check_against_fd({"q": dq, "k": dk, "v": dv}, t, loss, seed=3)
    with pytest.raises(ValueError, match="dlse must be shaped like lse"):
        kern.backward(q, k, v, o, lse, do, dlse=w[:, :2])


def test_backward_errors():
    kern = attnc.compile(GATED, head_dim=64, arch="none")
    q, k, v = qkv(B=1, H=2, Sq=4, seed=31)
    gate = rand(1, 2, 4, 64, seed=32)
    doc = np.zeros((1, 4), dtype=np.int32)
    o, lse = kern(q, k, v, gate=gate, doc=doc, return_lse=True)
    named = {"gate": gate, "doc": doc}
    with pytest.raises(ValueError, match="lse"):
        kern.backward(q, k, v, o, None, o, **named)
    with pytest.raises(ValueError, match="integer input 'doc'"):
        kern.backward(q, k, v, o, lse, o, grad_inputs=("doc",), **named)
    with pytest.raises(ValueError, match="no input of that name"):
        kern.backward(q, k, v, o, lse, o, grad_inputs=("gat",), **named)
    with pytest.raises(TypeError, match="grad_inputs"):
        kern.backward(q, k, v, o, lse, o, grad_inputs="gate", **named)
    with pytest.raises(ValueError, match="dO must have O's shape"):
        kern.backward(q, k, v, o, lse, o[:, :, :3], **named)
    with pytest.raises(ValueError, match="not bound"):
        kern.backward(q, k, v, o, lse, o, gate=gate)
    floored = attnc.compile("attention t {\n  score = floor(score * 2.0);\n}", head_dim=64,
                            arch="none")
    o, lse = floored(q, k, v, return_lse=True)
    with pytest.raises(ValueError, match=r"^2:11: .*has no derivative"):
        floored.backward(q, k, v, o, lse, o)
