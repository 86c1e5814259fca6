"""attnc as a PyTorch operator: a `torch.library` custom op with a fake implementation and
autograd, so that `torch.compile(fullgraph=True)` traces through it and `loss.backward()`
reaches q, k, v and the float input tensors that require grad, through o and lse.

    import attnc.torch as at
    o = at.attention(q, k, v, "examples/sliding_w1024.attn", window=512)
    attn = at.Attention("examples/gated_causal.attn")
    o = attn(q, k, v, gate=g)

`program` is a compiled `attnc.Kernel`, a path to an .attn file or program text. The kernel is
compiled once per (program, dtype, head dim, device) and kept. CUDA tensors run attnc's
kernels on torch's current stream; CPU tensors run the float64 CPU reference (slow: for
tests and small shapes).
"""
import numbers
import os
from typing import List, Optional, Tuple

import torch

from . import Kernel, compile as _compile

__all__ = ["attention", "Attention"]

_KERNELS = {}  # id -> Kernel: what the op's integer `kernel` argument names
_IDS = {}      # (program key, dtype, head dim, device) -> id


def _program_key(program):
    if isinstance(program, Kernel):
        return ("kernel", id(program))
    if isinstance(program, os.PathLike):
        program = os.fspath(program)
    if not isinstance(program, str):
        raise TypeError(f"attnc.torch: program must be an attnc.Kernel, a path or program text,"
                        f" got {type(program).__name__}")
    if os.path.exists(program):
        return ("path", os.path.realpath(program))
    return ("text", program)


@torch.compiler.assume_constant_result
def _resolve(program, dtype, head_dim, device, names):
    """(kernel id, input names, param names) for the keyword arguments `names`; compiles the
    kernel on the first call for its key. Constant for torch.compile (run at trace time)."""
    key = (_program_key(program), dtype, head_dim, device)
    kid = _IDS.get(key)
    if kid is None:
        if isinstance(program, Kernel):
            kern = program
        else:
            kern = _compile(program, dtype=dtype, head_dim=head_dim)
        kid = len(_KERNELS)
        _KERNELS[kid] = kern
        _IDS[key] = kid
    kern = _KERNELS[kid]
    unknown = [n for n in names if n not in kern.inputs and n not in kern.params]
    if unknown:
        known = sorted(list(kern.inputs) + list(kern.params))
        raise TypeError(f"attnc.torch: {kern.name} has no input or param named {unknown[0]!r}"
                        f" (declared: {', '.join(known) or 'none'})")
    return (kid, tuple(n for n in names if n in kern.inputs),
            tuple(n for n in names if n in kern.params))


def _encode_param(name, value):
    if isinstance(value, bool):
        return f"{name}=b{int(value)}"
    if isinstance(value, numbers.Integral):
        return f"{name}=i{int(value)}"
    if isinstance(value, numbers.Real):
        return f"{name}=f{float(value)!r}"
    raise TypeError(f"attnc.torch: param {name!r} must be a Python number, got"
                    f" {type(value).__name__}")


def _decode_params(params):
    out = {}
    for item in filter(None, params.split(";")):
        name, value = item.split("=", 1)
        kind, text = value[0], value[1:]
        out[name] = bool(int(text)) if kind == "b" else int(text) if kind == "i" else float(text)
    return out


def _names(joined):
    return [n for n in joined.split(",") if n]


def _named(input_names, inputs, params):
    named = dict(zip(_names(input_names), inputs))
    named.update(_decode_params(params))
    return named


def _numpy(t):
    """q, k, v, o, do for the CPU reference (float32; the declared inputs go as torch CPU
    tensors, which keep bfloat16)."""
    return t.detach().to(torch.float32).cpu().numpy()


@torch.library.custom_op("attnc::attention", mutates_args=())
def _attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, kernel: int,
               scale: Optional[float], input_names: str, inputs: List[torch.Tensor],
               params: str) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(o, lse, the output before `out`: for the backward, which then need not recompute it;
    empty for programs without `out`). input_names: the inputs' names, comma-separated, in the
    order of `inputs`; params: "name=<b|i|f><value>" items, semicolon-separated (custom ops
    take no str lists)."""
    kern = _KERNELS[kernel]
    named = _named(input_names, inputs, params)
    if q.is_cuda:
        if kern.has_out:
            return kern(q, k, v, return_lse=True, return_o_before_out=True, scale=scale, **named)
        o, lse = kern(q, k, v, return_lse=True, scale=scale, **named)
        return o, lse, q.new_empty(0)
    got = kern(_numpy(q), _numpy(k), _numpy(v), return_lse=True, scale=scale,
               return_o_before_out=kern.has_out, **named)
    before = torch.from_numpy(got[2]).to(q.dtype) if kern.has_out else q.new_empty(0)
    return torch.from_numpy(got[0]).to(q.dtype), torch.from_numpy(got[1]), before


@_attention.register_fake
def _(q, k, v, kernel, scale, input_names, inputs, params):
    before = torch.empty_like(q) if _KERNELS[kernel].has_out else q.new_empty(0)
    return torch.empty_like(q), q.new_empty(q.shape[:3], dtype=torch.float32), before


@torch.library.custom_op("attnc::attention_backward", mutates_args=())
def _attention_backward(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, o: torch.Tensor,
                        lse: torch.Tensor, do: torch.Tensor, dlse: Optional[torch.Tensor],
                        o_before_out: torch.Tensor, kernel: int,
                        scale: Optional[float], input_names: str,
                        inputs: List[torch.Tensor], params: str,
                        grad_inputs: str) -> List[torch.Tensor]:
    """[dq, dk, dv, then the gradient of each input named in grad_inputs (comma-separated),
    in the inputs' dtypes]."""
    grad_inputs = _names(grad_inputs)
    kern = _KERNELS[kernel]
    named = _named(input_names, inputs, params)
    dtypes = {n: t.dtype for n, t in zip(_names(input_names), inputs)}
    if q.is_cuda:
        before = o_before_out if o_before_out.numel() else None
        got = kern.backward(q, k, v, o, lse, do.contiguous(), scale=scale,
                            grad_inputs=tuple(grad_inputs), dlse=dlse, o_before_out=before,
                            **named)
        grads = got[3] if grad_inputs else {}
        return list(got[:3]) + [grads[n].to(dtypes[n]) for n in grad_inputs]
    got = kern.backward(_numpy(q), _numpy(k), _numpy(v), _numpy(o), lse.cpu().numpy(),
                        _numpy(do), scale=scale, grad_inputs=tuple(grad_inputs),
                        dlse=None if dlse is None else dlse.cpu().numpy(), **named)
    grads = got[3] if grad_inputs else {}
    out = [torch.from_numpy(g).to(t.dtype) for g, t in zip(got[:3], (q, k, v))]
    return out + [torch.from_numpy(grads[n]).to(dtypes[n]) for n in grad_inputs]


@_attention_backward.register_fake
def _(q, k, v, o, lse, do, dlse, o_before_out, kernel, scale, input_names, inputs, params,
      grad_inputs):
    like = dict(zip(_names(input_names), inputs))
    return [torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)] + \
        [torch.empty_like(like[n]) for n in _names(grad_inputs)]


def _setup_context(ctx, inputs, output):
    q, k, v, kernel, scale, input_names, input_tensors, params = inputs
    o, lse, before = output
    ctx.mark_non_differentiable(before)
    ctx.save_for_backward(q, k, v, o, lse, before, *input_tensors)
    ctx.kernel, ctx.scale, ctx.params = kernel, scale, params
    ctx.input_names = input_names
    ctx.grad_inputs = [n for n, t in zip(_names(input_names), input_tensors)
                       if t.requires_grad and t.is_floating_point()]
    ctx.set_materialize_grads(False)


def _backward(ctx, do, dlse, _dbefore):
    q, k, v, o, lse, before, *input_tensors = ctx.saved_tensors
    if do is None and dlse is None:
        return None, None, None, None, None, None, None, None
    if do is None:
        do = torch.zeros_like(o)
    got = _attention_backward(q, k, v, o, lse, do, dlse, before, ctx.kernel, ctx.scale,
                              ctx.input_names, input_tensors, ctx.params,
                              ",".join(ctx.grad_inputs))
    by_name = dict(zip(ctx.grad_inputs, got[3:]))
    input_grads = [by_name.get(n) for n in _names(ctx.input_names)]
    return got[0], got[1], got[2], None, None, None, input_grads, None


_attention.register_autograd(_backward, setup_context=_setup_context)


def _prepare(q, program, inputs_and_params):
    """(kernel id, input names, param names, encoded params) for a call: the kernel compiled
    (once) for q's dtype, head dim and device, the keyword arguments split by the program's
    declarations."""
    if q.dtype not in (torch.bfloat16, torch.float16):
        raise ValueError(f"attnc.torch: q must be bfloat16 or float16, got {q.dtype}")
    dtype = "bf16" if q.dtype == torch.bfloat16 else "fp16"
    names = tuple(sorted(inputs_and_params))
    kid, input_names, param_names = _resolve(program, dtype, int(q.shape[-1]), str(q.device),
                                             names)
    params = ";".join(_encode_param(n, inputs_and_params[n]) for n in param_names)
    return kid, input_names, param_names, params


def attention(q, k, v, program, *, scale=None, return_lse=False, **inputs_and_params):
    """Attention of q [B, H, Sq, D] over k, v [B, Hkv, Sk, D] with the program's mask and
    modifiers (`program`: an attnc.Kernel, a path or program text); its inputs (tensors) and
    params (numbers) as keyword arguments. Differentiable in q, k, v and the float inputs.
    Returns o [B, H, Sq, D], and with return_lse=True (o, lse [B, H, Sq], float32)."""
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"attnc.torch: {name} must be a torch.Tensor, got {type(t).__name__}")
        if t.dim() != 4:
            raise ValueError(f"attnc.torch: {name} must be [batch, heads, tokens, head_dim], got"
                             f" shape {tuple(t.shape)}")
        if t.dtype != q.dtype or t.device != q.device:
            raise ValueError(f"attnc.torch: {name} is {t.dtype} on {t.device}, q is {q.dtype} on"
                             f" {q.device}: q, k and v must agree")
    kid, input_names, _, params = _prepare(q, program, inputs_and_params)
    inputs = [inputs_and_params[n] for n in input_names]
    for n, t in zip(input_names, inputs):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"attnc.torch: input {n!r} must be a torch.Tensor, got"
                            f" {type(t).__name__}")
    o, lse, _ = _attention(q, k, v, kid, None if scale is None else float(scale),
                           ",".join(input_names), inputs, params)
    return (o, lse) if return_lse else o


class Attention(torch.nn.Module):
    """`attention` as a module: the program and its params fixed at construction, the inputs
    (tensors) passed to forward."""

    def __init__(self, program, *, scale=None, **params):
        super().__init__()
        self.program = program
        self.scale = scale
        self.params = params

    def forward(self, q, k, v, **inputs):
        return attention(q, k, v, self.program, scale=self.scale, **self.params, **inputs)

    def extra_repr(self):
        return f"program={self.program!r}, params={self.params}"
