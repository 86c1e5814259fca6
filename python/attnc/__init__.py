"""attnc: compile attention patterns and run them on torch tensors (GPU) or NumPy arrays
(the float64 CPU reference).

    import attnc
    kern = attnc.compile("examples/sink4_w1024.attn", dtype="bf16", head_dim=128)
    o = kern(q, k, v, window=512)                 # torch CUDA tensors [B, H, S, D]
    o, lse = kern(q, k, v, return_lse=True)
    dq, dk, dv = kern.backward(q, k, v, o, lse, do)  # the backward pass (needs o and lse)

Pure Python over the C ABI (include/attnc/attnc.h) through ctypes: no compiled extension,
so it works with any Python 3. Tensors are passed as pointers and strides: any layout whose
last dimension is contiguous works (BHSD, or BSHD viewed as q.transpose(1, 2)).
"""
import ctypes
import ctypes.util
import glob
import math
import numbers
import operator
import os
import reprlib
import sys

__all__ = ["compile", "Kernel", "Context", "Error", "CompileError", "DeviceError",
           "device_available", "library_path"]

# attnc_status codes
_OK, _INVALID, _PARSE, _COMPILE, _NO_DEVICE, _CUDA, _UNSUPPORTED, _IO, _INTERNAL = range(9)
# attnc_dtype codes
_I32, _I64, _F32, _F16, _BF16, _U8 = range(6)
(_ROLE_Q, _ROLE_K, _ROLE_V, _ROLE_O, _ROLE_DO, _ROLE_DQ, _ROLE_DK, _ROLE_DV,
 _ROLE_O_BEFORE_OUT) = range(9)


class Error(RuntimeError):
    """An attnc failure; the message is attnc's."""


class CompileError(Error):
    """The program has errors (diagnostics in the message) or could not be compiled."""


class DeviceError(Error):
    """No CUDA driver or GPU, or a CUDA call failed."""


def _find_library():
    env = os.environ.get("ATTNC_LIBRARY")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    for rel in ("lib/libattnc.so",            # the wheel: attnc/lib
                "../../lib/libattnc.so",      # installed: PREFIX/python/attnc
                "../../build/libattnc.so"):   # source tree: python/attnc
        p = os.path.normpath(os.path.join(here, rel))
        if os.path.exists(p):
            return p
    found = ctypes.util.find_library("attnc")
    if found:
        return found
    raise ImportError("attnc: cannot find libattnc.so (not bundled: attnc was not installed from "
                      "its wheel); set ATTNC_LIBRARY to its path")


def _nvrtc_wheel_library(search_path, toolkit_roots):
    """The nvidia-cuda-nvrtc wheel's libnvrtc on `search_path` (sys.path), or None: also None
    when a CUDA toolkit under one of `toolkit_roots` has its own (libattnc prefers that)."""
    if any(r and glob.glob(os.path.join(r, "lib64", "libnvrtc.so.*")) for r in toolkit_roots):
        return None
    for entry in search_path:
        for sub in ("nvidia/cu*/lib", "nvidia/cuda_nvrtc/lib"):
            found = [p for p in glob.glob(os.path.join(entry or ".", sub, "libnvrtc.so.*"))
                     if "builtins" not in os.path.basename(p)]
            if found:
                return sorted(found)[-1]
    return None


def _preload_nvrtc_wheel():
    """libattnc opens NVRTC on first use: ATTNC_NVRTC_LIBRARY, else the CUDA toolkit. Where
    there is no toolkit, load the nvidia-cuda-nvrtc wheel's copy (PyTorch installs it) so that
    libattnc's dlopen of the soname finds it already loaded."""
    if os.environ.get("ATTNC_NVRTC_LIBRARY"):
        return
    roots = [os.environ.get(v) for v in ("CUDA_HOME", "CUDA_PATH")] + ["/usr/local/cuda"]
    path = _nvrtc_wheel_library(sys.path, roots)
    if path:
        try:
            ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
        except OSError:
            pass  # libattnc's own search then reports what it tried


library_path = _find_library()
_preload_nvrtc_wheel()
_lib = ctypes.CDLL(library_path)

_vp = ctypes.c_void_p
_cp = ctypes.c_char_p
_i64 = ctypes.c_int64


def _sig(name, res, *args):
    f = getattr(_lib, name)
    f.restype = res
    f.argtypes = list(args)
    return f


_sig("attnc_version", _cp)
_sig("attnc_last_error", _cp)
_sig("attnc_status_string", _cp, ctypes.c_int)
_sig("attnc_context_create", ctypes.c_int, _cp, ctypes.POINTER(_vp))
_sig("attnc_context_destroy", None, _vp)
_sig("attnc_context_last_error", _cp, _vp)
_sig("attnc_context_diagnostics", _cp, _vp)
_sig("attnc_context_cache_stats", ctypes.c_int, _vp, ctypes.POINTER(ctypes.c_uint64),
     ctypes.POINTER(ctypes.c_uint64), ctypes.POINTER(ctypes.c_uint64))
_sig("attnc_context_cache_dir", _cp, _vp)
_sig("attnc_options_create", ctypes.c_int, ctypes.POINTER(_vp))
_sig("attnc_options_destroy", None, _vp)
_sig("attnc_options_set_dtype", ctypes.c_int, _vp, ctypes.c_int)
_sig("attnc_options_set_dtype_name", ctypes.c_int, _vp, _cp)
_sig("attnc_options_set_head_dim", ctypes.c_int, _vp, ctypes.c_int)
_sig("attnc_options_set_arch", ctypes.c_int, _vp, _cp)
_sig("attnc_options_define", ctypes.c_int, _vp, _cp, _cp)
_sig("attnc_options_set_attention", ctypes.c_int, _vp, _cp)
_sig("attnc_options_set_tiering", ctypes.c_int, _vp, ctypes.c_int)
_sig("attnc_compile", ctypes.c_int, _vp, _cp, _cp, _vp, ctypes.POINTER(_vp))
_sig("attnc_compile_file", ctypes.c_int, _vp, _cp, _vp, ctypes.POINTER(_vp))
_sig("attnc_kernel_release", None, _vp)
_sig("attnc_kernel_name", _cp, _vp)
_sig("attnc_kernel_arch", _cp, _vp)
_sig("attnc_kernel_cuda_source", _cp, _vp)
_sig("attnc_kernel_is_optimized", ctypes.c_int, _vp)
_sig("attnc_kernel_wait_optimized", ctypes.c_int, _vp)
_sig("attnc_kernel_optimized_ms", ctypes.c_double, _vp)
_sig("attnc_kernel_param_count", ctypes.c_int, _vp)
_sig("attnc_kernel_has_out", ctypes.c_int, _vp)
_sig("attnc_kernel_param_name", _cp, _vp, ctypes.c_int, ctypes.POINTER(ctypes.c_int))
_sig("attnc_kernel_input_count", ctypes.c_int, _vp)
_sig("attnc_kernel_input_name", _cp, _vp, ctypes.c_int, ctypes.POINTER(ctypes.c_int),
     ctypes.POINTER(ctypes.c_int))
_sig("attnc_args_create", ctypes.c_int, ctypes.POINTER(_vp))
_sig("attnc_args_destroy", None, _vp)
_sig("attnc_args_set_tensor", ctypes.c_int, _vp, ctypes.c_int, _vp, ctypes.c_int, ctypes.c_int,
     ctypes.c_int, ctypes.c_int, ctypes.c_int, _i64, _i64, _i64)
_sig("attnc_args_set_lse", ctypes.c_int, _vp, _vp, _i64, _i64, _i64)
_sig("attnc_args_set_dlse", ctypes.c_int, _vp, _vp, _i64, _i64, _i64)
_sig("attnc_args_set_input", ctypes.c_int, _vp, _cp, _vp, ctypes.c_int, ctypes.c_int,
     ctypes.POINTER(_i64), ctypes.POINTER(_i64))
_sig("attnc_args_set_param_int", ctypes.c_int, _vp, _cp, _i64)
_sig("attnc_args_set_param_float", ctypes.c_int, _vp, _cp, ctypes.c_double)
_sig("attnc_args_set_param_bool", ctypes.c_int, _vp, _cp, ctypes.c_int)
_sig("attnc_args_set_scale", ctypes.c_int, _vp, ctypes.c_float)
_sig("attnc_args_set_input_grad", ctypes.c_int, _vp, _cp, _vp, ctypes.c_int, ctypes.POINTER(_i64))
_sig("attnc_args_set_deterministic", ctypes.c_int, _vp, ctypes.c_int)
_sig("attnc_run", ctypes.c_int, _vp, _vp, _vp, _vp)
_sig("attnc_run_reference", ctypes.c_int, _vp, _vp, _vp, ctypes.c_int)
_sig("attnc_run_backward", ctypes.c_int, _vp, _vp, _vp, _vp)
_sig("attnc_run_reference_backward", ctypes.c_int, _vp, _vp, _vp, ctypes.c_int)
_sig("attnc_device_available", ctypes.c_int)

__version__ = _lib.attnc_version().decode()


def _message(ctx=None):
    msg = b""
    if ctx:
        msg = _lib.attnc_context_last_error(ctx) or b""
    if not msg:
        msg = _lib.attnc_last_error() or b""
    return msg.decode(errors="replace")


def _check(status, ctx=None):
    if status == _OK:
        return
    msg = _message(ctx) or _lib.attnc_status_string(status).decode()
    if status == _INVALID:
        raise ValueError(msg)
    if status in (_PARSE, _COMPILE):
        raise CompileError(msg)
    if status in (_NO_DEVICE, _CUDA):
        raise DeviceError(msg)
    if status == _IO:
        raise OSError(msg)
    raise Error(msg)


def device_available():
    """True when a CUDA driver and GPU are present."""
    return _lib.attnc_device_available() == _OK


class Context:
    """A kernel cache (memory + disk). `cache_dir`: None for the default location
    ($ATTNC_CACHE_DIR, else the XDG cache dir), "" for memory only."""

    def __init__(self, cache_dir=None):
        h = _vp()
        _check(_lib.attnc_context_create(None if cache_dir is None else cache_dir.encode(),
                                         ctypes.byref(h)))
        self._h = h

    def __del__(self):
        if getattr(self, "_h", None):
            _lib.attnc_context_destroy(self._h)
            self._h = None

    def cache_stats(self):
        """dict(compilations, memory_hits, disk_hits)."""
        c, m, d = ctypes.c_uint64(), ctypes.c_uint64(), ctypes.c_uint64()
        _check(_lib.attnc_context_cache_stats(self._h, ctypes.byref(c), ctypes.byref(m),
                                              ctypes.byref(d)), self._h)
        return {"compilations": c.value, "memory_hits": m.value, "disk_hits": d.value}

    @property
    def cache_dir(self):
        return _lib.attnc_context_cache_dir(self._h).decode()


_default_context = None


def _context(ctx):
    global _default_context
    if ctx is not None:
        return ctx
    if _default_context is None:
        _default_context = Context()
    return _default_context


# Every accepted spelling of the kernels' compute type, to its canonical name: the same set
# as the C++ runtime::parseDataType (the CLI's --dtype); tests/python checks they agree.
_DTYPES = {"bf16": "bf16", "bfloat16": "bf16",
           "fp16": "fp16", "f16": "fp16", "float16": "fp16", "half": "fp16"}

_INT32_MIN, _INT32_MAX = -2**31, 2**31 - 1
# Float params reach the GPU as float32; a larger finite value would silently become inf.
_FLOAT32_MAX = 3.4028234663852886e38


def _is_bool(value):
    return isinstance(value, bool) or (_is_numpy(value)
                                       and type(value).__name__ in ("bool_", "bool"))


def _describe(value):
    return f"{type(value).__name__} {reprlib.repr(value)}"


def _int_value(what, value, lo=_INT32_MIN, hi=_INT32_MAX):
    """`value` as an int in [lo, hi]. Takes ints (anything with __index__: NumPy integers
    too) and integral floats; raises TypeError for bools and non-numbers, ValueError for
    fractions, NaN, inf and values out of range, rather than truncating or wrapping."""
    if _is_bool(value):
        raise TypeError(f"attnc: {what} is an int, got the bool {value!r} (pass an int)")
    try:
        v = operator.index(value)
    except TypeError:
        if not isinstance(value, numbers.Real):
            raise TypeError(f"attnc: {what} is an int, got {_describe(value)}") from None
        try:
            f = float(value)
        except OverflowError:
            raise ValueError(f"attnc: {what} is an int, got {_describe(value)}, out of"
                             " range") from None
        if not f.is_integer():
            raise ValueError(f"attnc: {what} is an int, got {_describe(value)}, which is not a"
                             " whole number") from None
        v = int(f)
    if not lo <= v <= hi:
        raise ValueError(f"attnc: {what} is an int, got {reprlib.repr(v)}, out of range"
                         f" ({lo} to {hi})")
    return v


def _float_value(what, value):
    """`value` as a float: ints and floats (NumPy ones too); ±inf is allowed (a score of -inf
    gives the pair weight 0), NaN and finite values beyond float32 are ValueErrors, bools
    and non-numbers TypeErrors."""
    if _is_bool(value) or isinstance(value, (str, bytes)):
        raise TypeError(f"attnc: {what} is a float, got {_describe(value)}")
    try:
        if isinstance(value, numbers.Real):
            f = float(value)
        else:
            f = float(operator.index(value))
    except TypeError:
        raise TypeError(f"attnc: {what} is a float, got {_describe(value)}") from None
    except OverflowError:
        raise ValueError(f"attnc: {what} is a float, got {reprlib.repr(value)}, out of"
                         " range") from None
    if math.isnan(f):
        raise ValueError(f"attnc: {what} is a float, got NaN")
    if math.isfinite(f) and abs(f) > _FLOAT32_MAX:
        raise ValueError(f"attnc: {what} is a float, got {value!r}, beyond the float32 range"
                         " the kernels compute in (write inf for infinity)")
    return f


def _bool_value(what, value):
    """`value` as a bool: only True/False (Python or NumPy); 0, 1, "false" raise TypeError."""
    if not _is_bool(value):
        raise TypeError(f"attnc: {what} is a bool, got {_describe(value)} (pass True or False)")
    return bool(value)


def _dtype_name(dtype):
    """The canonical name of a dtype spelling: "bf16" or "fp16"."""
    if not isinstance(dtype, str):
        raise TypeError(f"attnc: dtype is a string ({', '.join(_DTYPES)}), got"
                        f" {_describe(dtype)}")
    if dtype not in _DTYPES:
        raise ValueError(f"attnc: dtype must be one of {', '.join(_DTYPES)} (got {dtype!r})")
    return _DTYPES[dtype]


_TIERING = {"auto": 0, "off": 1, "on": 2}


def compile(source_or_path, dtype="bf16", head_dim=128, arch=None, defines=None,
            attention=None, context=None, tiering="auto"):
    """Compiles an attnc program (a path to a .attn file, or source text).

    dtype: "bf16" (also "bfloat16") or "fp16" (also "f16", "float16", "half"); the kernel's
    `dtype` attribute is the canonical name. head_dim: 64, 128 or 256.

    arch: "auto" (this GPU), "sm_80", "sm_90a", or "none" (CPU reference only); the
    default is "auto" when a GPU is present and "none" otherwise.
    tiering: "auto", "on" or "off". A tiered compile that misses the cache returns a quick
    kernel at once and compiles the optimized one in the background (Kernel.optimized,
    Kernel.wait_optimized()); "auto" tiers compiles for arch "auto" unless ATTNC_TIERED=0."""
    if tiering not in _TIERING:
        raise ValueError(f"attnc: tiering must be one of auto, on, off (got {tiering!r})")
    ctx = _context(context)
    opts = _vp()
    _check(_lib.attnc_options_create(ctypes.byref(opts)))
    try:
        dtype = _dtype_name(dtype)
        head_dim = _int_value("head_dim", head_dim)
        _check(_lib.attnc_options_set_dtype_name(opts, dtype.encode()))
        _check(_lib.attnc_options_set_head_dim(opts, head_dim))
        if arch is None:
            arch = "auto" if device_available() else "none"
        _check(_lib.attnc_options_set_arch(opts, arch.encode()))
        _check(_lib.attnc_options_set_tiering(opts, _TIERING[tiering]))
        for name, value in (defines or {}).items():
            text = ("true" if value else "false") if _is_bool(value) else str(value)
            _check(_lib.attnc_options_define(opts, name.encode(), text.encode()))
        if attention:
            _check(_lib.attnc_options_set_attention(opts, attention.encode()))
        h = _vp()
        is_path = "\n" not in source_or_path and "{" not in source_or_path
        if is_path:
            if not os.path.exists(source_or_path):
                raise FileNotFoundError(f"attnc: no such file: {source_or_path}")
            st = _lib.attnc_compile_file(ctx._h, source_or_path.encode(), opts, ctypes.byref(h))
        else:
            st = _lib.attnc_compile(ctx._h, source_or_path.encode(), b"<string>", opts,
                                    ctypes.byref(h))
        if st == _PARSE:
            raise CompileError(_lib.attnc_context_diagnostics(ctx._h).decode() or _message(ctx._h))
        _check(st, ctx._h)
        return Kernel(h, ctx, dtype, head_dim)
    finally:
        _lib.attnc_options_destroy(opts)


def _is_torch(x):
    return type(x).__module__.startswith("torch")


def _is_numpy(x):
    return type(x).__module__.startswith("numpy")


_TORCH_DT = {"torch.bfloat16": _BF16, "torch.float16": _F16, "torch.float32": _F32,
             "torch.int32": _I32, "torch.int64": _I64, "torch.uint8": _U8, "torch.bool": _U8}
_NP_DT = {"float32": _F32, "float16": _F16, "int32": _I32, "int64": _I64, "uint8": _U8,
          "bool": _U8}


def _torch_input_info(device):
    """For Kernel._bind_named: a declared input given as a torch tensor (or data torch takes)
    on `device`, as (pointer, dtype code, shape, strides)."""
    import torch

    def info(name, t):
        if not _is_torch(t):
            t = torch.as_tensor(t, device=device)
        if not t.is_cuda or t.device != device:
            raise ValueError(f"attnc: input {name!r} must be on {device}")
        dt = _TORCH_DT.get(str(t.dtype))
        if dt is None:
            raise ValueError(f"attnc: input {name!r} has unsupported dtype {t.dtype}")
        return _vp(t.data_ptr()), dt, tuple(t.shape), tuple(t.stride())
    return info


def _numpy_input_info(keep):
    """For Kernel._bind_named: a declared input as a C-contiguous NumPy array, or a torch CPU
    tensor (NumPy has no bfloat16), appended to `keep`, which must outlive the call."""
    import numpy as np

    def info(name, t):
        if _is_torch(t):
            if t.is_cuda:
                raise ValueError(f"attnc: input {name!r} is a CUDA tensor, but q, k, v are NumPy"
                                 " arrays (the CPU reference)")
            t = t.detach().contiguous()
            dt = _TORCH_DT.get(str(t.dtype))
            if dt is None:
                raise ValueError(f"attnc: input {name!r} has unsupported dtype {t.dtype}")
            keep.append(t)
            return _vp(t.data_ptr()), dt, tuple(t.shape), tuple(t.stride())
        a = np.ascontiguousarray(t)
        dt = _NP_DT.get(str(a.dtype))
        if dt is None:
            raise ValueError(f"attnc: input {name!r} has unsupported dtype {a.dtype}")
        keep.append(a)
        strides = tuple(s // a.itemsize for s in a.strides)
        return _vp(a.ctypes.data), dt, a.shape, strides
    return info


def _forward_result(out, lse, before):
    """The forward's return value: out, then lse and the output before `out` when asked."""
    extra = tuple(t for t in (lse, before) if t is not None)
    return (out,) + extra if extra else out


class Kernel:
    """A compiled attention. Call it with q, k, v ([B, H, S, D]) and the program's declared
    inputs and params as keyword arguments."""

    def __init__(self, handle, ctx, dtype, head_dim):
        self._h = handle
        self._ctx = ctx
        self.dtype = dtype
        self.head_dim = head_dim
        self.name = _lib.attnc_kernel_name(handle).decode()
        self.arch = _lib.attnc_kernel_arch(handle).decode()
        # The program has an `out` expression: the forward can return the output before it.
        self.has_out = bool(_lib.attnc_kernel_has_out(handle))
        self.params = {}
        for i in range(_lib.attnc_kernel_param_count(handle)):
            kind = ctypes.c_int()
            n = _lib.attnc_kernel_param_name(handle, i, ctypes.byref(kind)).decode()
            self.params[n] = ("int", "float", "bool")[kind.value]
        self.inputs = {}
        for i in range(_lib.attnc_kernel_input_count(handle)):
            dt, rank = ctypes.c_int(), ctypes.c_int()
            n = _lib.attnc_kernel_input_name(handle, i, ctypes.byref(dt), ctypes.byref(rank))
            self.inputs[n.decode()] = (dt.value, rank.value)

    def __del__(self):
        if getattr(self, "_h", None):
            _lib.attnc_kernel_release(self._h)
            self._h = None

    @property
    def cuda_source(self):
        return _lib.attnc_kernel_cuda_source(self._h).decode()

    @property
    def optimized(self):
        """False while a tiered kernel still runs its quick binary."""
        return bool(_lib.attnc_kernel_is_optimized(self._h))

    def wait_optimized(self):
        """Waits for a tiered kernel's optimized binary (returns at once otherwise); raises
        CompileError if its background compile failed (the quick kernel then stays)."""
        _check(_lib.attnc_kernel_wait_optimized(self._h))
        return self

    @property
    def optimized_ms(self):
        """Milliseconds from the compile call until the optimized binary was ready (the
        compile itself when not tiered); None while it is not ready."""
        ms = _lib.attnc_kernel_optimized_ms(self._h)
        return ms if ms >= 0 else None

    def __call__(self, q, k, v, out=None, return_lse=False, scale=None,
                 return_o_before_out=False, **named):
        """o = kern(q, k, v, **inputs_and_params); with return_lse=True (o, lse); with
        return_o_before_out=True (programs with an `out` expression) also the output before
        `out`, last: kern.backward(..., o_before_out=it) then need not recompute it."""
        if _is_torch(q):
            return self._run_torch(q, k, v, out, return_lse, scale, named, return_o_before_out)
        if _is_numpy(q):
            return self._run_numpy(q, k, v, out, return_lse, scale, named, return_o_before_out)
        raise TypeError("attnc: q, k, v must be torch tensors or NumPy arrays")

    # -- shared argument binding
    def _bind_named(self, args, named, tensor_info):
        for name, value in named.items():
            if name in self.params:
                kind = self.params[name]
                what = f"param {name!r}"
                if kind == "int":
                    _check(_lib.attnc_args_set_param_int(args, name.encode(),
                                                         _int_value(what, value)))
                elif kind == "float":
                    _check(_lib.attnc_args_set_param_float(args, name.encode(),
                                                           _float_value(what, value)))
                else:
                    _check(_lib.attnc_args_set_param_bool(args, name.encode(),
                                                          int(_bool_value(what, value))))
            elif name in self.inputs:
                ptr, dt, shape, strides = tensor_info(name, value)
                rank = len(shape)
                dims = (_i64 * rank)(*shape)
                strd = (_i64 * rank)(*strides)
                _check(_lib.attnc_args_set_input(args, name.encode(), ptr, dt, rank, dims, strd),
                       self._ctx._h)
            else:
                known = sorted(list(self.params) + list(self.inputs))
                raise TypeError(f"attnc: {self.name} has no param or input named {name!r}"
                                f" (declared: {', '.join(known) or 'none'})")

    @staticmethod
    def _check_qkv_shapes(q, k, v):
        for n, t in (("q", q), ("k", k), ("v", v)):
            if len(t.shape) != 4:
                raise ValueError(f"attnc: {n} must have 4 dims [batch, heads, tokens, head_dim],"
                                 f" got shape {tuple(t.shape)}")
        if k.shape != v.shape:
            raise ValueError(f"attnc: k and v shapes differ: {tuple(k.shape)} vs {tuple(v.shape)}")
        if q.shape[0] != k.shape[0] or q.shape[3] != k.shape[3]:
            raise ValueError(f"attnc: q {tuple(q.shape)} and k {tuple(k.shape)} disagree on batch"
                             " or head_dim")
        if k.shape[1] == 0 or q.shape[1] % k.shape[1] != 0:
            raise ValueError(f"attnc: q heads ({q.shape[1]}) must be a multiple of kv heads"
                             f" ({k.shape[1]})")

    def _check_torch_qkv(self, q, k, v):
        import torch
        self._check_qkv_shapes(q, k, v)
        for n, t in (("q", q), ("k", k), ("v", v)):
            if not t.is_cuda:
                raise ValueError(f"attnc: {n} must be a CUDA tensor (use NumPy arrays for the CPU"
                                 " reference)")
            if t.device != q.device:
                raise ValueError(f"attnc: {n} is on {t.device}, q on {q.device}")
            if t.dtype not in (torch.bfloat16, torch.float16):
                raise ValueError(f"attnc: {n} must be bf16 or fp16, got {t.dtype}")
            if t.dtype != q.dtype:
                raise ValueError(f"attnc: {n} is {t.dtype} but q is {q.dtype}")
            if t.stride(3) != 1:
                raise ValueError(f"attnc: {n} must be contiguous in its last dim")
        want = torch.bfloat16 if self.dtype == "bf16" else torch.float16
        if q.dtype != want:
            raise ValueError(f"attnc: kernel was compiled for {self.dtype}, tensors are {q.dtype}")
        if q.shape[3] != self.head_dim:
            raise ValueError(f"attnc: kernel was compiled for head_dim {self.head_dim},"
                             f" tensors have {q.shape[3]}")

    def _run_torch(self, q, k, v, out, return_lse, scale, named, return_before=False):
        import torch
        self._check_torch_qkv(q, k, v)
        if out is None:
            out = torch.empty(q.shape, dtype=q.dtype, device=q.device)
        before = torch.empty(q.shape, dtype=q.dtype, device=q.device) if return_before else None
        lse = None
        if return_lse:
            lse = torch.empty(q.shape[:3], dtype=torch.float32, device=q.device)

        info = _torch_input_info(q.device)
        args = _vp()
        _check(_lib.attnc_args_create(ctypes.byref(args)))
        try:
            dt = _TORCH_DT[str(q.dtype)]
            bound = ((_ROLE_Q, q), (_ROLE_K, k), (_ROLE_V, v), (_ROLE_O, out)) + (
                ((_ROLE_O_BEFORE_OUT, before),) if before is not None else ())
            for role, t in bound:
                _check(_lib.attnc_args_set_tensor(args, role, _vp(t.data_ptr()), dt, t.shape[0],
                                                  t.shape[1], t.shape[2], t.shape[3],
                                                  t.stride(0), t.stride(1), t.stride(2)))
            if lse is not None:
                _check(_lib.attnc_args_set_lse(args, _vp(lse.data_ptr()), lse.stride(0),
                                               lse.stride(1), lse.stride(2)))
            if scale is not None:
                _check(_lib.attnc_args_set_scale(args, _float_value("scale", scale)))
            self._bind_named(args, named, info)
            stream = torch.cuda.current_stream(q.device).cuda_stream
            _check(_lib.attnc_run(self._ctx._h, self._h, args, _vp(stream)), self._ctx._h)
        finally:
            _lib.attnc_args_destroy(args)
        return _forward_result(out, lse, before)

    def _run_numpy(self, q, k, v, out, return_lse, scale, named, return_before=False):
        import numpy as np
        self._check_qkv_shapes(q, k, v)
        arrs = []
        for n, t in (("q", q), ("k", k), ("v", v)):
            if t.dtype not in (np.float32, np.float16):
                raise ValueError(f"attnc: {n} must be float32 or float16, got {t.dtype}")
            t = np.ascontiguousarray(t, dtype=np.float32)
            arrs.append(t)
        q, k, v = arrs
        if out is None:
            out = np.empty(q.shape, dtype=np.float32)
        elif out.dtype != np.float32 or out.shape != q.shape or not out.flags.c_contiguous:
            raise ValueError("attnc: out must be a C-contiguous float32 array shaped like q")
        lse = np.empty(q.shape[:3], dtype=np.float32) if return_lse else None
        before = np.empty(q.shape, dtype=np.float32) if return_before else None
        keep = []
        info = _numpy_input_info(keep)
        args = _vp()
        _check(_lib.attnc_args_create(ctypes.byref(args)))
        try:
            bound = ((_ROLE_Q, q), (_ROLE_K, k), (_ROLE_V, v), (_ROLE_O, out)) + (
                ((_ROLE_O_BEFORE_OUT, before),) if before is not None else ())
            for role, t in bound:
                st = [s // t.itemsize for s in t.strides]
                _check(_lib.attnc_args_set_tensor(args, role, _vp(t.ctypes.data), _F32,
                                                  t.shape[0], t.shape[1], t.shape[2], t.shape[3],
                                                  st[0], st[1], st[2]))
            if lse is not None:
                st = [s // 4 for s in lse.strides]
                _check(_lib.attnc_args_set_lse(args, _vp(lse.ctypes.data), st[0], st[1], st[2]))
            if scale is not None:
                _check(_lib.attnc_args_set_scale(args, _float_value("scale", scale)))
            self._bind_named(args, named, info)
            _check(_lib.attnc_run_reference(self._ctx._h, self._h, args, 0), self._ctx._h)
        finally:
            _lib.attnc_args_destroy(args)
        return _forward_result(out, lse, before)

    # -- backward
    def backward(self, q, k, v, o, lse, do, scale=None, grad_inputs=(), deterministic=False,
                 dlse=None, o_before_out=None, **named):
        """The backward pass: the gradients of sum(do * o) with respect to q, k, v (and to
        the float inputs named in `grad_inputs`), for the forward that produced o and lse
        (`kern(q, k, v, return_lse=True)`) with the same scale, inputs and params.

        Returns (dq, dk, dv), shaped like q, k, v; with grad_inputs, (dq, dk, dv, grads), a
        dict of float32 gradients shaped like the inputs. Masks, routing and integer inputs
        are not differentiated; dk and dv sum over the query heads of each KV group.
        torch CUDA tensors run on the GPU on torch's current stream (deterministic=True:
        bit-identical dq, dk, dv run to run); NumPy arrays run the float64 CPU reference,
        results in float32 as the forward's. dlse (float32 [batch, heads, q_len], like lse):
        the gradient of a loss that also reads lse; its term is added to the gradients.
        o_before_out (programs with an `out` expression): the forward's output before `out`
        (`kern(..., return_o_before_out=True)`); without it the GPU backward recomputes it,
        which costs about a forward."""
        if lse is None:
            raise ValueError("attnc: backward needs the forward's lse: run the forward with"
                             " return_lse=True")
        if o is None or do is None:
            raise ValueError("attnc: backward needs the forward's output o and its gradient do")
        if isinstance(grad_inputs, (str, bytes)):
            raise TypeError(f"attnc: grad_inputs is a sequence of input names, got the string"
                            f" {grad_inputs!r} (write ({grad_inputs!r},))")
        grad_inputs = tuple(grad_inputs)
        for name in grad_inputs:
            if not isinstance(name, str):
                raise TypeError(f"attnc: grad_inputs holds input names, got {_describe(name)}")
            if name not in self.inputs:
                raise ValueError(f"attnc: a gradient was asked for {name!r}, but {self.name}"
                                 f" has no input of that name (inputs:"
                                 f" {', '.join(self.inputs) or 'none'})")
            if name not in named:
                raise ValueError(f"attnc: a gradient was asked for input {name!r}, which was"
                                 " not passed")
        if len(set(grad_inputs)) != len(grad_inputs):
            raise ValueError(f"attnc: grad_inputs names an input twice: {grad_inputs}")
        if not isinstance(deterministic, bool):
            raise TypeError(f"attnc: deterministic is a bool, got {_describe(deterministic)}")
        if _is_torch(q):
            return self._backward_torch(q, k, v, o, lse, do, scale, grad_inputs, deterministic,
                                        dlse, named, o_before_out)
        if _is_numpy(q):
            return self._backward_numpy(q, k, v, o, lse, do, scale, grad_inputs, dlse, named,
                                        o_before_out)
        raise TypeError("attnc: q, k, v must be torch tensors or NumPy arrays")

    def _bind_backward(self, args, tensors, lse, scale, named, info, grads, deterministic,
                       dlse=None):
        """Binds (role, pointer, dtype code, tensor) for Q, K, V, O, dO, dQ, dK, dV, the LSE
        (element strides), the scale, the named inputs and params, and `grads`
        {name: (pointer, strides)}."""
        for role, ptr, dt, t, st in tensors:
            _check(_lib.attnc_args_set_tensor(args, role, ptr, dt, t.shape[0], t.shape[1],
                                              t.shape[2], t.shape[3], st[0], st[1], st[2]))
        ptr, st = lse
        _check(_lib.attnc_args_set_lse(args, ptr, st[0], st[1], st[2]))
        if scale is not None:
            _check(_lib.attnc_args_set_scale(args, _float_value("scale", scale)))
        self._bind_named(args, named, info)
        for name, (ptr, strides) in grads.items():
            strd = (_i64 * len(strides))(*strides)
            _check(_lib.attnc_args_set_input_grad(args, name.encode(), ptr, len(strides), strd))
        _check(_lib.attnc_args_set_deterministic(args, int(deterministic)))
        if dlse is not None:
            ptr, st = dlse
            _check(_lib.attnc_args_set_dlse(args, ptr, st[0], st[1], st[2]))

    def _backward_torch(self, q, k, v, o, lse, do, scale, grad_inputs, deterministic, dlse,
                        named, o_before_out=None):
        import torch
        self._check_torch_qkv(q, k, v)
        for n, t in (("o", o), ("do", do)) + (
                (("o_before_out", o_before_out),) if o_before_out is not None else ()):
            if not _is_torch(t) or not t.is_cuda or t.device != q.device:
                raise ValueError(f"attnc: {n} must be a CUDA tensor on {q.device}")
            if t.dtype != q.dtype:
                raise ValueError(f"attnc: {n} is {t.dtype} but q is {q.dtype}")
        if not _is_torch(lse) or not lse.is_cuda or lse.device != q.device:
            raise ValueError(f"attnc: lse must be a CUDA tensor on {q.device}")
        if lse.dtype != torch.float32 or lse.dim() != 3:
            raise ValueError(f"attnc: lse must be float32 [batch, heads, q_len], got {lse.dtype}"
                             f" {tuple(lse.shape)}")
        if dlse is not None:
            if not _is_torch(dlse) or not dlse.is_cuda or dlse.device != q.device:
                raise ValueError(f"attnc: dlse must be a CUDA tensor on {q.device}")
            if dlse.dtype != torch.float32 or tuple(dlse.shape) != tuple(lse.shape):
                raise ValueError(f"attnc: dlse must be float32 shaped like lse {tuple(lse.shape)},"
                                 f" got {dlse.dtype} {tuple(dlse.shape)}")
            if dlse.stride(2) != 1:
                dlse = dlse.contiguous()
        dq, dk, dv = torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)
        grads = {n: torch.zeros(tuple(named[n].shape), dtype=torch.float32, device=q.device)
                 for n in grad_inputs}
        dt = _TORCH_DT[str(q.dtype)]
        tensors = [(role, _vp(t.data_ptr()), dt, t, t.stride()) for role, t in
                   ((_ROLE_Q, q), (_ROLE_K, k), (_ROLE_V, v), (_ROLE_O, o), (_ROLE_DO, do),
                    (_ROLE_DQ, dq), (_ROLE_DK, dk), (_ROLE_DV, dv)) + (
                       ((_ROLE_O_BEFORE_OUT, o_before_out),) if o_before_out is not None else ())]
        args = _vp()
        _check(_lib.attnc_args_create(ctypes.byref(args)))
        try:
            self._bind_backward(args, tensors, (_vp(lse.data_ptr()), lse.stride()), scale, named,
                                _torch_input_info(q.device),
                                {n: (_vp(g.data_ptr()), g.stride()) for n, g in grads.items()},
                                deterministic,
                                None if dlse is None else (_vp(dlse.data_ptr()), dlse.stride()))
            stream = torch.cuda.current_stream(q.device).cuda_stream
            _check(_lib.attnc_run_backward(self._ctx._h, self._h, args, _vp(stream)),
                   self._ctx._h)
        finally:
            _lib.attnc_args_destroy(args)
        return (dq, dk, dv, grads) if grad_inputs else (dq, dk, dv)

    def _backward_numpy(self, q, k, v, o, lse, do, scale, grad_inputs, dlse, named,
                        o_before_out=None):
        import numpy as np
        self._check_qkv_shapes(q, k, v)
        arrs = []
        named_arrays = (("q", q), ("k", k), ("v", v), ("o", o), ("do", do)) + (
            (("o_before_out", o_before_out),) if o_before_out is not None else ())
        for n, t in named_arrays:
            if not _is_numpy(t) or t.dtype not in (np.float32, np.float16):
                raise ValueError(f"attnc: {n} must be a float32 or float16 NumPy array, got"
                                 f" {getattr(t, 'dtype', type(t).__name__)}")
            if t.ndim != 4:
                raise ValueError(f"attnc: {n} must have 4 dims [batch, heads, tokens, head_dim],"
                                 f" got shape {t.shape}")
            arrs.append(np.ascontiguousarray(t, dtype=np.float32))
        q, k, v, o, do = arrs[:5]
        before = arrs[5:]  # the output before `out`, validated (the reference recomputes it)
        lse = np.ascontiguousarray(lse, dtype=np.float32)
        if lse.ndim != 3:
            raise ValueError(f"attnc: lse must be [batch, heads, q_len], got shape {lse.shape}")
        if dlse is not None:
            dlse = np.ascontiguousarray(dlse, dtype=np.float32)
            if dlse.shape != lse.shape:
                raise ValueError(f"attnc: dlse must be shaped like lse {lse.shape}, got"
                                 f" {dlse.shape}")
        dq, dk, dv = (np.empty(t.shape, dtype=np.float32) for t in (q, k, v))
        grads = {n: np.zeros(np.shape(named[n]), dtype=np.float32) for n in grad_inputs}
        elems = lambda a: [s // a.itemsize for s in a.strides]  # noqa: E731
        tensors = [(role, _vp(t.ctypes.data), _F32, t, elems(t)) for role, t in
                   ((_ROLE_Q, q), (_ROLE_K, k), (_ROLE_V, v), (_ROLE_O, o), (_ROLE_DO, do),
                    (_ROLE_DQ, dq), (_ROLE_DK, dk), (_ROLE_DV, dv)) + tuple(
                       (_ROLE_O_BEFORE_OUT, t) for t in before)]
        keep = []
        args = _vp()
        _check(_lib.attnc_args_create(ctypes.byref(args)))
        try:
            self._bind_backward(args, tensors, (_vp(lse.ctypes.data), elems(lse)), scale, named,
                                _numpy_input_info(keep),
                                {n: (_vp(g.ctypes.data), elems(g)) for n, g in grads.items()},
                                False,
                                None if dlse is None else (_vp(dlse.ctypes.data), elems(dlse)))
            _check(_lib.attnc_run_reference_backward(self._ctx._h, self._h, args, 0),
                   self._ctx._h)
        finally:
            _lib.attnc_args_destroy(args)
        return (dq, dk, dv, grads) if grad_inputs else (dq, dk, dv)
