"""The operator table of medkern.nn: every tensor operation the modules and the compiler run,
on ``medkern.ops`` (element-wise post-ops that are not fused into a convolution run in numpy
with torch.nn.functional's semantics, NaN propagating as in torch).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .. import _core, _memory
from .. import ops as _ops
from .._matmul import matmul as _matmul


# ---- element-wise operations (post-ops) ------------------------------------------------------


def _erf(x: np.ndarray) -> np.ndarray:
    try:
        from scipy.special import erf
        return erf(x).astype(np.float32, copy=False)
    except ImportError:  # Abramowitz-Stegun 7.1.26, |error| < 1.5e-7
        s = np.sign(x)
        a = np.abs(x).astype(np.float64)
        t = 1.0 / (1.0 + 0.3275911 * a)
        y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t
                   + 0.254829592) * t * np.exp(-a * a)
        return (s * y).astype(np.float32)


def _per_channel(v, x: np.ndarray) -> np.ndarray | float:
    """A scalar, or an (C,) array broadcast over dim 1 of x."""
    if isinstance(v, numbers.Real):
        return float(v)
    a = np.asarray(v, dtype=np.float32).reshape(-1)
    if a.size == 1:
        return float(a[0])
    return a.reshape((1, a.size) + (1,) * (x.ndim - 2))


def post_op_name(item) -> str:
    return item if isinstance(item, str) else item[0]


def _planes_contiguous(a: np.ndarray) -> bool:
    """Whether the dimensions after N and C are C-contiguous (float32)."""
    want = 4
    for size, stride in zip(a.shape[:1:-1], a.strides[:1:-1]):
        if size > 1 and stride != want:
            return False
        want *= size
    return True


def core_post_items(item, channels: int):
    """The medkern.ops chain of one graph post-op item, or None where the numpy path stays
    (unknown names, per-channel data of another length)."""
    name = post_op_name(item)
    args = () if isinstance(item, str) else tuple(item[1:])

    def per_channel(v):
        a = np.asarray(v, dtype=np.float32).reshape(-1)
        if a.size == 1:
            a = np.full(channels, a[0], np.float32)
        return np.ascontiguousarray(a) if a.size == channels else None

    if name in ("relu", "sigmoid", "tanh", "hardswish"):
        return [(name,)]
    if name == "relu6":
        return [("clip", 0.0, 6.0)]
    if name in ("leaky_relu", "elu"):
        return [(name, float(args[0]) if args else (0.01 if name == "leaky_relu" else 1.0))]
    if name in ("clip", "linear"):
        return [(name, float(args[0]), float(args[1]))]
    if name == "gelu":
        return [("gelu_tanh",)] if args and args[0] == "tanh" else [("gelu_erf",)]
    if name == "batch_norm":
        s, b = per_channel(args[0]), per_channel(args[1])
        return None if s is None or b is None else [("scale", s), ("bias", b)]
    if name in ("scale", "mul", "bias", "add"):
        a = per_channel(args[0])
        return None if a is None else [("scale" if name in ("scale", "mul") else "bias", a)]
    return None


def post_ops_planar(x: np.ndarray, items, out: np.ndarray | None = None) -> np.ndarray | None:
    """out = items(x) (a chain, in order) by the C++ chain kernel (parallel, one pass) when
    the items and layouts allow it, else None (the caller takes apply_post_op). out=None:
    a new aligned array."""
    if x.dtype != np.float32 or x.ndim < 3 or not _planes_contiguous(x):
        return None
    if out is not None:
        if out.shape != x.shape or not _planes_contiguous(out):
            return None
        if np.may_share_memory(x, out) and (x.ctypes.data != out.ctypes.data or
                                            x.strides != out.strides):
            return None   # in place only as the very same view
    core = []
    for item in items:
        c = core_post_items(item, x.shape[1])
        if c is None:
            return None
        core += c
    if len(core) > 10:   # PostOps::kMax
        return None
    return _core.post_ops_planar(x, _memory.empty(x.shape) if out is None else out, core)


def apply_post_op(x: np.ndarray, item) -> np.ndarray:
    """One post-op of the medkern.ops contract on x, in place (x is a float32 array we own)."""
    name = post_op_name(item)
    args = () if isinstance(item, str) else tuple(item[1:])
    with np.errstate(over="ignore", invalid="ignore"):
        if name == "relu":
            np.maximum(x, 0, out=x, where=~np.isnan(x))
        elif name == "relu6":
            np.clip(x, 0, 6, out=x, where=~np.isnan(x))
        elif name == "leaky_relu":
            a = float(args[0]) if args else 0.01
            np.multiply(x, a, out=x, where=x < 0)
        elif name == "clip":
            np.clip(x, args[0], args[1], out=x, where=~np.isnan(x))
        elif name == "linear":
            x *= np.float32(args[0])
            x += np.float32(args[1])
        elif name == "elu":
            a = np.float32(args[0] if args else 1.0)
            neg = x < 0
            x[neg] = a * np.expm1(x[neg])
        elif name == "sigmoid":
            # Split by sign so exp never overflows.
            e = np.exp(-np.abs(x))
            x[...] = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
        elif name == "tanh":
            np.tanh(x, out=x)
        elif name == "gelu":
            if args and args[0] == "tanh":
                c = np.float32(math.sqrt(2 / math.pi))
                x[...] = 0.5 * x * (1 + np.tanh(c * (x + np.float32(0.044715) * x * x * x)))
            else:
                x[...] = 0.5 * x * (1 + _erf(x * np.float32(1 / math.sqrt(2))))
        elif name == "hardswish":
            x[...] = x * np.clip(x + 3, 0, 6) / 6
        elif name == "prelu":
            w = _per_channel(args[0], x)
            x[...] = np.where(x >= 0, x, x * w)
        elif name in ("scale", "mul"):
            x *= _per_channel(args[0], x)
        elif name in ("bias", "add"):
            x += _per_channel(args[0], x)
        elif name == "batch_norm":
            x *= _per_channel(args[0], x)
            x += _per_channel(args[1], x)
        elif name == "sum":
            scale = float(args[1]) if len(args) > 1 else 1.0
            x += args[0] if scale == 1.0 else np.float32(scale) * args[0]
        else:
            raise ValueError(f"post-op: unknown post-op {name!r}")
    return x


class Conv:
    """A (transposed) convolution with packed weights and a post-op chain.

    The post-ops run fused in the kernel (the chain is split only where it exceeds the
    kernel's capacity; the rest runs in numpy afterwards). ``__call__(x, out=None, offset=0)``
    writes the result into channels [offset, offset + OC) of ``out`` when given;
    ``blocked(xb, out=None, offset=0)`` does the same on channel-blocked tensors
    (nC[d]hw16c, offset a multiple of 16; transposed convolutions with kernel == stride only).
    """

    def __init__(self, weight, bias, *, nd: int, stride, padding, dilation, groups,
                 transpose: bool = False, output_padding=0, post_ops=()):
        self.weight = np.ascontiguousarray(weight, dtype=np.float32)
        self.bias = None if bias is None else np.ascontiguousarray(bias, dtype=np.float32)
        self.nd, self.transpose = nd, transpose
        self.stride = _ntuple(stride, nd)
        self.padding = padding if isinstance(padding, str) else _ntuple(padding, nd)
        self.dilation = _ntuple(dilation, nd)
        self.output_padding = _ntuple(output_padding, nd)
        self.groups = int(groups)
        self.oc = self.weight.shape[1] * self.groups if transpose else self.weight.shape[0]
        self.post_ops = list(post_ops)
        self._n_fused = None          # resolved at the first call
        if transpose:
            self._packed = _ops.PackedConvTranspose(self.weight, self.bias, self.stride,
                                                    self.padding, self.output_padding,
                                                    self.groups, self.dilation)
        else:
            self._packed = _ops.PackedConv(self.weight, self.bias, self.stride, self.padding,
                                           self.dilation, self.groups)
        #: whether ``blocked`` runs on blocked tensors without reorders
        self.blocked_native = self._packed.blocked_native_
        #: whether ``blocked`` also reads a planar input in place (first layers)
        self.planar_blocked = not transpose and self._packed.planar_blocked_

    def _split(self, run):
        """(fused, rest) of the chain: all of it unless the kernel's chain is too short."""
        if self._n_fused is None:
            n = len(self.post_ops)
            while True:
                try:
                    run(self.post_ops[:n])
                    break
                except ValueError:
                    if n == 0:
                        raise
                    n -= 1
            self._n_fused = n
        return self.post_ops[:self._n_fused], self.post_ops[self._n_fused:]

    def __call__(self, x: np.ndarray, out: np.ndarray | None = None, offset: int = 0):
        x = np.ascontiguousarray(x, dtype=np.float32)
        fused, rest = self._split(lambda p: self._packed(x, post_ops=p))
        if rest:
            y = self._packed(x, post_ops=fused)
            for item in rest:
                apply_post_op(y, item)
            if out is None:
                return y
            out[:, offset:offset + self.oc] = y
            return out
        if out is None:
            return self._packed(x, post_ops=fused)
        return self._packed(x, post_ops=fused, out=out, out_channel_offset=offset)

    def blocked_rows(self, xb: np.ndarray, rows, out: np.ndarray | None = None):
        """Output slices [rows[0], rows[1]) of the outermost dimension of ``blocked``."""
        return self._packed.execute_blocked_rows(xb, rows, post_ops=self.post_ops, out=out)

    def blocked_to_planar(self, xb: np.ndarray, out: np.ndarray | None = None,
                          offset: int = 0):
        """The blocked execute with a planar result, or None when the convolution cannot
        (a transposed or not natively blocked one, or a sum post-op): the caller reorders
        then."""
        if self.transpose or not self.blocked_native or any(
                isinstance(p, tuple) and p[0] == "sum" for p in self.post_ops):
            return None
        return self._packed.execute_blocked_to_planar(xb, post_ops=self.post_ops, out=out,
                                                      out_channel_offset=offset)

    def blocked(self, xb: np.ndarray, out: np.ndarray | None = None, offset: int = 0):
        """The blocked execute; post-ops that do not fit the kernel's chain raise."""
        if out is None:
            return self._packed.execute_blocked(xb, post_ops=self.post_ops)
        return self._packed.execute_blocked(xb, post_ops=self.post_ops, out=out,
                                            out_channel_offset=offset)


def _ntuple(v, n: int) -> tuple:
    if isinstance(v, numbers.Integral):
        return (int(v),) * n
    t = tuple(int(e) for e in v)
    if len(t) == 1:
        return t * n
    return t


def conv(x, weight, bias=None, *, nd, stride=1, padding=0, dilation=1, groups=1,
         post_ops=(), transpose=False, output_padding=0):
    return Conv(weight, bias, nd=nd, stride=stride, padding=padding, dilation=dilation,
                groups=groups, transpose=transpose, output_padding=output_padding,
                post_ops=post_ops)(x)


# ---- pooling, resampling, softmax, concat: medkern.ops ------------------------------------


def max_pool(x, nd, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    fn = _ops.max_pool2d if nd == 2 else _ops.max_pool3d
    return fn(x, kernel_size, stride, padding, dilation, ceil_mode)


def max_pool_blocked(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                     out=None):
    return _ops.max_pool_blocked(x, kernel_size, stride, padding, dilation, ceil_mode, out=out)


def avg_pool_blocked(x, kernel_size, stride=None, padding=0, ceil_mode=False,
                     count_include_pad=True, divisor_override=None, out=None):
    return _ops.avg_pool_blocked(x, kernel_size, stride, padding, ceil_mode, count_include_pad,
                                 divisor_override, out=out)


def avg_pool(x, nd, kernel_size, stride=None, padding=0, ceil_mode=False,
             count_include_pad=True, divisor_override=None):
    fn = _ops.avg_pool2d if nd == 2 else _ops.avg_pool3d
    return fn(x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)


def adaptive_avg_pool(x, nd, output_size):
    fn = _ops.adaptive_avg_pool2d if nd == 2 else _ops.adaptive_avg_pool3d
    return fn(x, output_size)


def interpolate(x, size=None, scale_factor=None, mode="nearest", align_corners=None):
    return _ops.interpolate(x, size=size, scale_factor=scale_factor, mode=mode,
                            align_corners=align_corners)


def softmax(x, dim):
    return _ops.softmax(x, dim)


def cat(tensors, dim=0, out=None):
    if out is not None:
        return _ops.cat(list(tensors), dim, out=out)
    return _ops.cat(list(tensors), dim)


def linear(x, weight_t: np.ndarray, bias=None):
    """x (..., K) @ weight_t (K, N) + bias with medkern.matmul."""
    lead = x.shape[:-1]
    a = np.ascontiguousarray(x.reshape(-1, x.shape[-1]), dtype=np.float32)
    y = _matmul(a, weight_t)
    if bias is not None:
        y += bias
    return y.reshape(lead + (weight_t.shape[1],))


def batch_norm(x, scale, shift):
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return (x * scale.reshape(shape) + shift.reshape(shape)).astype(np.float32, copy=False)
