"""attnc.torch: the custom op, its autograd and torch.compile. CPU tests run the float64
reference through the op (wherever torch is installed); CUDA tests run attnc's kernels
against torch's scaled_dot_product_attention."""
import math
import os

import pytest

torch = pytest.importorskip("torch", reason="torch is not installed: attnc.torch untested here")

import attnc.torch as at  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EX = os.environ.get("ATTNC_EXAMPLES_DIR", os.path.join(ROOT, "examples"))
CUDA = torch.cuda.is_available()


def naive(q, k, v, keep, gate=None):
    """float64 attention with autograd; keep [Sq, Sk] bool; gate multiplies o by sigmoid."""
    q, k, v = (t.double() for t in (q, k, v))
    group = q.shape[1] // k.shape[1]
    k = k.repeat_interleave(group, 1)
    v = v.repeat_interleave(group, 1)
    s = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    s = s.masked_fill(~keep, float("-inf"))
    o = torch.softmax(s, -1).nan_to_num(0.0) @ v
    if gate is not None:
        o = o * torch.sigmoid(gate.double())
    return o


def leaves(*shapes, dtype=torch.bfloat16, device="cpu", seed=0):
    g = torch.Generator().manual_seed(seed)
    return [(torch.rand(s, generator=g) * 2 - 1).to(device=device, dtype=dtype).requires_grad_()
            for s in shapes]


def causal(sq, sk, device="cpu"):
    return torch.ones(sq, sk, dtype=torch.bool, device=device).tril()


def rel(a, b):
    return ((a.double() - b.double()).norm() / b.double().norm().clamp_min(1e-30)).item()


def check_grads(got, want, tol):
    for name, g, w in got_want(got, want):
        assert rel(g, w) < tol, f"{name}: relative error {rel(g, w):.2e}"


def got_want(got, want):
    return [(n, g, w) for n, g, w in zip(("dq", "dk", "dv", "dgate"), got, want)]


@pytest.mark.parametrize("heads,kv_heads,sq", [(2, 2, 37), (4, 2, 50)])
def test_forward_and_backward_match_float64_on_cpu(heads, kv_heads, sq):
    q, k, v = leaves((1, heads, sq, 64), (1, kv_heads, sq, 64), (1, kv_heads, sq, 64))
    o = at.attention(q, k, v, os.path.join(EX, "causal.attn"))
    w = torch.rand(o.shape, generator=torch.Generator().manual_seed(9))
    (o.double() * w).sum().backward()
    got = [t.grad.clone() for t in (q, k, v)]
    for t in (q, k, v):
        t.grad = None
    want_o = naive(q, k, v, causal(sq, sq))
    (want_o * w).sum().backward()
    assert rel(o, want_o) < 1e-2
    check_grads(got, [t.grad for t in (q, k, v)], 2e-2)


def test_input_gradient_flows_when_the_input_requires_grad():
    q, k, v, gate = leaves((1, 2, 40, 64), (1, 2, 40, 64), (1, 2, 40, 64), (1, 2, 40, 64))
    attn = at.Attention(os.path.join(EX, "gated_causal.attn"))
    o = attn(q, k, v, gate=gate)
    w = torch.rand(o.shape, generator=torch.Generator().manual_seed(3))
    (o.double() * w).sum().backward()
    got = [t.grad.clone() for t in (q, k, v, gate)]
    for t in (q, k, v, gate):
        t.grad = None
    (naive(q, k, v, causal(40, 40), gate) * w).sum().backward()
    check_grads(got, [t.grad for t in (q, k, v, gate)], 2e-2)
    # An input that does not require grad gets none, and costs no input gradient.
    gate2 = gate.detach()
    o2 = attn(q, k, v, gate=gate2)
    o2.sum().backward()
    assert gate2.grad is None


def test_params_are_passed_and_checked():
    q, k, v = leaves((1, 2, 64, 64), (1, 2, 64, 64), (1, 2, 64, 64))
    o = at.attention(q, k, v, os.path.join(EX, "sliding_w1024.attn"), window=8)
    keep = causal(64, 64) & ~causal(64, 64).tril(-8)
    assert rel(o, naive(q, k, v, keep)) < 1e-2
    with pytest.raises(TypeError, match="no input or param named 'windw'"):
        at.attention(q, k, v, os.path.join(EX, "sliding_w1024.attn"), windw=8)
    with pytest.raises(ValueError, match="q must be bfloat16 or float16"):
        at.attention(q.float(), k.float(), v.float(), os.path.join(EX, "causal.attn"))
    with pytest.raises(ValueError, match="k is torch.float16 on cpu, q is torch.bfloat16"):
        at.attention(q, k.half(), v, os.path.join(EX, "causal.attn"))
    with pytest.raises(ValueError, match=r"v must be \[batch, heads, tokens, head_dim\]"):
        at.attention(q, k, v[0], os.path.join(EX, "causal.attn"))


def test_program_text_is_compiled_once_per_dtype_and_head_dim():
    q, k, v = leaves((1, 1, 9, 64), (1, 1, 9, 64), (1, 1, 9, 64))
    text = "attention once { mask = causal; }"
    before = len(at._KERNELS)
    at.attention(q, k, v, text)
    at.attention(q, k, v, text)
    assert len(at._KERNELS) == before + 1


def test_lse_is_returned_and_differentiable():
    q, k, v = leaves((1, 4, 20, 64), (1, 2, 20, 64), (1, 2, 20, 64))
    o, lse = at.attention(q, k, v, os.path.join(EX, "causal.attn"), return_lse=True)
    assert lse.shape == (1, 4, 20) and lse.dtype == torch.float32
    w = torch.rand(lse.shape, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    ((o.double() * 0.5).sum() + (lse * w).sum()).backward()
    got = [t.grad.clone() for t in (q, k, v)]
    for t in (q, k, v):
        t.grad = None
    kk, vv = (t.double().repeat_interleave(2, 1) for t in (k, v))
    s = q.double() @ kk.transpose(-1, -2) / 8.0
    s = s.masked_fill(~causal(20, 20), float("-inf"))
    want_lse = torch.logsumexp(s, -1)
    want_o = torch.softmax(s, -1) @ vv
    assert (lse - want_lse).abs().max().item() < 1e-2
    ((want_o * 0.5).sum() + (want_lse * w).sum()).backward()
    check_grads(got, [t.grad for t in (q, k, v)], 2e-2)
    # A loss through lse alone.
    for t in (q, k, v):
        t.grad = None
    _, lse = at.attention(q, k, v, os.path.join(EX, "causal.attn"), return_lse=True)
    lse.sum().backward()
    assert q.grad is not None and v.grad.abs().max().item() == 0.0


def test_opcheck_schema_fake_and_autograd_registration():
    q, k, v = leaves((1, 2, 24, 64), (1, 2, 24, 64), (1, 2, 24, 64))
    kid, names, _, params = at._prepare(q, os.path.join(EX, "causal.attn"), {})
    torch.library.opcheck(torch.ops.attnc.attention.default,
                          (q, k, v, kid, None, ",".join(names), [], params))


def test_compile_fullgraph_has_no_graph_break():
    q, k, v = leaves((1, 2, 32, 64), (1, 2, 32, 64), (1, 2, 32, 64))
    path = os.path.join(EX, "causal.attn")

    def step(q, k, v):
        return at.attention(q, k, v, path).float().square().sum()

    explained = torch._dynamo.explain(step)(q, k, v)
    assert explained.graph_break_count == 0, explained.break_reasons
    compiled = torch.compile(step, fullgraph=True, backend="aot_eager")
    loss = compiled(q, k, v)
    loss.backward()
    want = [t.grad.clone() for t in (q, k, v)]
    for t in (q, k, v):
        t.grad = None
    step(q, k, v).backward()
    check_grads([t.grad for t in (q, k, v)], want, 1e-6)


@pytest.mark.skipif(not CUDA, reason="no CUDA device: attnc's GPU kernels untested here")
@pytest.mark.parametrize("program,is_causal", [("dense.attn", False), ("causal.attn", True)])
def test_cuda_matches_sdpa_forward_and_backward(program, is_causal):
    q, k, v = leaves((2, 4, 300, 128), (2, 4, 300, 128), (2, 4, 300, 128), device="cuda")
    o = at.attention(q, k, v, os.path.join(EX, program))
    do = torch.randn_like(o)
    o.backward(do)
    got = [t.grad.clone() for t in (q, k, v)]
    for t in (q, k, v):
        t.grad = None
    ref = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=is_causal)
    ref.backward(do)
    assert rel(o, ref) < 2e-2
    check_grads(got, [t.grad for t in (q, k, v)], 3e-2)


@pytest.mark.skipif(not CUDA, reason="no CUDA device: attnc's GPU kernels untested here")
def test_cuda_compile_fullgraph_inductor_and_cuda_graph():
    q, k, v = leaves((1, 4, 256, 64), (1, 4, 256, 64), (1, 4, 256, 64), device="cuda")
    path = os.path.join(EX, "sliding_w1024.attn")
    f = torch.compile(lambda q, k, v: at.attention(q, k, v, path, window=64), fullgraph=True)
    o = f(q, k, v)
    assert rel(o, at.attention(q, k, v, path, window=64)) < 1e-6
    # CUDA graph capture of the forward and the backward.
    static = [t.detach().clone().requires_grad_() for t in (q, k, v)]
    torch.cuda.synchronize()
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(2):  # warm up (kernel compile, workspace) outside the capture
            at.attention(*static, path, window=64).sum().backward()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    for t in static:
        t.grad = None
    with torch.cuda.graph(graph):
        out = at.attention(*static, path, window=64)
        out.sum().backward()
    for t, src in zip(static, (q, k, v)):
        t.data.copy_(src.detach() * 0.5)
    graph.replay()
    torch.cuda.synchronize()
    want = at.attention(*(t.detach() * 0.5 for t in (q, k, v)), path, window=64)
    assert rel(out, want) < 1e-6


@pytest.mark.skipif(not CUDA, reason="no CUDA device: attnc's GPU kernels untested here")
@pytest.mark.parametrize("program,head_dim", [("softcap_causal.attn", 128), ("causal.attn", 64)])
def test_cuda_gradients_through_o_and_lse_match_the_cpu_reference(program, head_dim):
    shapes = ((1, 4, 200, head_dim), (1, 2, 150, head_dim), (1, 2, 150, head_dim))
    gpu = leaves(*shapes, device="cuda", seed=5)
    cpu = [t.detach().cpu().requires_grad_() for t in gpu]
    w = torch.rand(1, 4, 200, generator=torch.Generator().manual_seed(6))
    grads = []
    for q, k, v in (gpu, cpu):
        o, lse = at.attention(q, k, v, os.path.join(EX, program), return_lse=True)
        ((o.float() * 0.5).sum() + (lse * w.to(lse.device)).sum()).backward()
        grads.append([t.grad.float().cpu() for t in (q, k, v)])
    check_grads(grads[0], grads[1], 3e-2)
