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


PARAMS_SRC = ("attention p { param window: int = 1024; param bias: float = 0.0;"
              " param on: bool = true; score = score + bias;"
              " mask = causal && q - k < window && on; }")


@pytest.mark.parametrize("named, error, words", [
    # int params: 32-bit ints only; nothing wraps, truncates or converts from text
    ({"window": 2**64 + 5}, ValueError, ["'window'", "int", "18446744073709551621", "range"]),
    ({"window": 2**31}, ValueError, ["'window'", "int", "2147483648", "range"]),
    ({"window": -2**31 - 1}, ValueError, ["'window'", "int", "-2147483649", "range"]),
    ({"window": 3.9}, ValueError, ["'window'", "int", "3.9", "whole number"]),
    ({"window": float("nan")}, ValueError, ["'window'", "int", "nan"]),
    ({"window": float("inf")}, ValueError, ["'window'", "int", "inf"]),
    ({"window": True}, TypeError, ["'window'", "int", "bool True"]),
    ({"window": "5"}, TypeError, ["'window'", "int", "str '5'"]),
    ({"window": None}, TypeError, ["'window'", "int", "NoneType"]),
    # bool params: True/False only
    ({"on": "false"}, TypeError, ["'on'", "bool", "str 'false'"]),
    ({"on": 0}, TypeError, ["'on'", "bool", "int 0"]),
    ({"on": 1}, TypeError, ["'on'", "bool", "int 1"]),
    ({"on": 1.0}, TypeError, ["'on'", "bool", "float 1.0"]),
    ({"on": None}, TypeError, ["'on'", "bool", "NoneType"]),
    # float params: numbers, not NaN, within float32 (inf is allowed)
    ({"bias": float("nan")}, ValueError, ["'bias'", "float", "NaN"]),
    ({"bias": np.float64("nan")}, ValueError, ["'bias'", "float", "NaN"]),
    ({"bias": 1e39}, ValueError, ["'bias'", "float", "1e+39", "float32"]),
    ({"bias": 10**400}, ValueError, ["'bias'", "float", "range"]),
    ({"bias": "0.5"}, TypeError, ["'bias'", "float", "str '0.5'"]),
    ({"bias": False}, TypeError, ["'bias'", "float", "bool False"]),
    ({"bias": [0.5]}, TypeError, ["'bias'", "float", "list"]),
    ({"scale": "0.5"}, TypeError, ["scale", "float", "str '0.5'"]),
])
def test_param_values_are_never_changed_silently(named, error, words):
    kern = attnc.compile(PARAMS_SRC, head_dim=64, arch="none")
    q, k, v = qkv(Sq=9, seed=8)
    with pytest.raises(error) as err:
        kern(q, k, v, **named)
    for w in words:
        assert w in str(err.value)


def test_param_values_accepted():
    kern = attnc.compile(PARAMS_SRC, head_dim=64, arch="none")
    q, k, v = qkv(Sq=17, seed=9)

    def want(window, on=True):
        return naive(q, k, v, lambda b, h, i, j: (i >= j) & (i - j < window) & on)[0]

    for window in (3, 3.0, np.int64(3), np.int32(3), np.float32(3.0)):
        close(kern(q, k, v, window=window), want(3))
    close(kern(q, k, v, window=2**31 - 1), want(2**31 - 1))
    close(kern(q, k, v, window=-2**31), want(-2**31))  # no key kept: O = 0
    for on in (False, np.bool_(False)):
        assert not kern(q, k, v, on=on).any()
    close(kern(q, k, v, on=np.bool_(True)), want(1024))
    close(kern(q, k, v, bias=np.float32(0.25)), want(1024))  # a constant shift cancels
    close(kern(q, k, v, bias=2), want(1024))
    # -inf: every pair gets weight 0, as for a fully masked row
    o, lse = kern(q, k, v, bias=float("-inf"), return_lse=True)
    assert not o.any() and np.all(np.isneginf(lse))


def test_compile_options_are_strict():
    src = "attention c { mask = causal; }"
    with pytest.raises(ValueError, match="head dim 96 is not supported"):
        attnc.compile(src, head_dim=96, arch="none")
    with pytest.raises(ValueError, match="head_dim is an int, got 4294967424, out of range"):
        attnc.compile(src, head_dim=2**32 + 128, arch="none")
    with pytest.raises(ValueError, match="head_dim is an int, got float 64.5"):
        attnc.compile(src, head_dim=64.5, arch="none")
    with pytest.raises(TypeError, match="head_dim is an int, got str '64'"):
        attnc.compile(src, head_dim="64", arch="none")
    assert attnc.compile(src, head_dim=64.0, arch="none").head_dim == 64
    with pytest.raises(TypeError, match="dtype is a string"):
        attnc.compile(src, dtype=None, arch="none")


# The one set of dtype spellings (docs/api.md, docs/cli.md); tests/cli checks the CLI's.
DTYPE_SPELLINGS = {"bf16": "bf16", "bfloat16": "bf16",
                   "fp16": "fp16", "f16": "fp16", "float16": "fp16", "half": "fp16"}
NOT_DTYPES = ["BF16", "Half", "float32", "f32", "fp32", "bf 16", "", "fp8", "torch.float16"]


def test_dtype_spellings_match_the_c_abi():
    assert attnc._DTYPES == DTYPE_SPELLINGS
    src = "attention c { mask = causal; }"
    for spelling, canonical in DTYPE_SPELLINGS.items():
        assert attnc.compile(src, dtype=spelling, head_dim=64, arch="none").dtype == canonical
    opts = attnc._vp()
    assert attnc._lib.attnc_options_create(attnc.ctypes.byref(opts)) == 0
    try:
        for spelling in DTYPE_SPELLINGS:
            assert attnc._lib.attnc_options_set_dtype_name(opts, spelling.encode()) == 0, spelling
        for bad in NOT_DTYPES:
            assert attnc._lib.attnc_options_set_dtype_name(opts, bad.encode()) == 1, bad
            # The C++ parser lists its spellings: the same set, in the same order.
            msg = attnc._lib.attnc_last_error().decode()
            assert msg.endswith("(the kernels compute in bf16 or fp16: "
                                + ", ".join(DTYPE_SPELLINGS) + ")"), msg
            with pytest.raises(ValueError, match="dtype must be one of"):
                attnc.compile(src, dtype=bad, head_dim=64, arch="none")
    finally:
        attnc._lib.attnc_options_destroy(opts)


def test_nvrtc_comes_from_the_nvidia_wheel_only_without_a_toolkit(tmp_path):
    wheel = tmp_path / "site" / "nvidia" / "cu13" / "lib"
    wheel.mkdir(parents=True)
    (wheel / "libnvrtc.so.13").write_bytes(b"")
    (wheel / "libnvrtc-builtins.so.13.2").write_bytes(b"")
    toolkit = tmp_path / "cuda"
    (toolkit / "lib64").mkdir(parents=True)
    site = [str(tmp_path / "elsewhere"), str(tmp_path / "site")]
    assert attnc._nvrtc_wheel_library(site, [None, str(toolkit)]) == str(wheel / "libnvrtc.so.13")
    (toolkit / "lib64" / "libnvrtc.so.13").write_bytes(b"")
    assert attnc._nvrtc_wheel_library(site, [str(toolkit)]) is None
    assert attnc._nvrtc_wheel_library([str(tmp_path / "elsewhere")], []) is None
