"""The operator table of medkern.nn: every tensor operation the modules and the compiler run.

Each entry uses ``medkern.ops.<name>`` when that operator exists and supports the requested
feature (a post-op, writing into a channel slice of a concat buffer), and otherwise a numpy
implementation with torch.nn.functional's semantics defined here. The numpy versions keep the
package complete while the native operators are being extended; ``NATIVE`` records which
native entry points were found.
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers

import numpy as np

from .. import ops as _ops
from .._matmul import matmul as _matmul


def _native(name: str):
    return getattr(_ops, name, None)


def _accepts(fn, param: str) -> bool:
    if fn is None:
        return False
    try:
        return param in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


NATIVE = {name: _native(name) is not None for name in (
    "conv2d", "conv3d", "PackedConv", "conv_transpose2d", "conv_transpose3d",
    "PackedConvTranspose", "max_pool2d", "max_pool3d", "avg_pool2d", "avg_pool3d",
    "adaptive_avg_pool2d", "adaptive_avg_pool3d", "interpolate", "softmax", "cat")}

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


# Post-ops the native convolution fuses: probed once per name with a 1x1 convolution.
@functools.lru_cache(maxsize=None)
def _conv_fuses(name: str) -> bool:
    conv = _native("conv2d")
    if conv is None:
        return False
    x = np.ones((1, 1, 1, 1), np.float32)
    w = np.ones((1, 1, 1, 1), np.float32)
    probe = {"relu": "relu", "relu6": "relu6", "leaky_relu": ("leaky_relu", 0.1),
             "clip": ("clip", 0.0, 1.0), "linear": ("linear", 1.0, 0.0), "elu": "elu",
             "sigmoid": "sigmoid", "tanh": "tanh", "gelu": "gelu", "hardswish": "hardswish",
             "prelu": ("prelu", 0.25), "scale": ("scale", 1.0),
             "bias": ("bias", np.zeros(1, np.float32)),
             "batch_norm": ("batch_norm", np.ones(1, np.float32), np.zeros(1, np.float32)),
             "sum": ("sum", np.ones((1, 1, 1, 1), np.float32)),
             "add": ("add", np.zeros(1, np.float32)), "mul": ("mul", np.ones(1, np.float32))}
    if name not in probe:
        return False
    try:
        conv(x, w, post_ops=[probe[name]])
        return True
    except (ValueError, TypeError):
        return False


# Fused post-ops that turn a NaN into a number (a max/min against a constant that returns the
# constant for NaN): torch propagates NaN, so these are not fused when the input is not
# finite. Probed, so a fixed kernel is used again automatically.
@functools.lru_cache(maxsize=None)
def _conv_drops_nan(name: str) -> bool:
    if name in ("scale", "bias", "batch_norm", "sum", "add", "mul", "linear"):
        return False
    x = np.full((1, 1, 1, 1), np.nan, np.float32)
    w = np.ones((1, 1, 1, 1), np.float32)
    item = {"leaky_relu": ("leaky_relu", 0.1), "clip": ("clip", 0.0, 1.0),
            "prelu": ("prelu", 0.25)}.get(name, name)
    try:
        return not bool(np.isnan(_native("conv2d")(x, w, post_ops=[item])).all())
    except (ValueError, TypeError):
        return True


class Conv:
    """A (transposed) convolution with packed weights and a post-op chain.

    The longest prefix of ``post_ops`` that the native convolution fuses goes into the kernel;
    the rest run in numpy afterwards. ``__call__(x, out=None, offset=0)`` writes the result
    into channels [offset, offset + OC) of ``out`` when given.
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
        self._packed = None
        self._n_fused = None          # resolved at the first call
        self._n_nan_safe = 0
        self._native_out = False
        self.native = False
        if transpose:
            packed = _native("PackedConvTranspose")
            if packed is not None:
                self._packed = packed(self.weight, self.bias, self.stride, self.padding,
                                      self.output_padding, self.groups, self.dilation)
        else:
            self._packed = _ops.PackedConv(self.weight, self.bias, self.stride, self.padding,
                                           self.dilation, self.groups)
        if self._packed is not None:
            self.native = True
            self._native_out = _accepts(self._packed.__call__, "out_channel_offset")

    def _fusable_prefix(self) -> int:
        n = 0
        for item in self.post_ops:
            if not _conv_fuses(post_op_name(item)):
                break
            n += 1
        return n

    def _native_call(self, x, post, out, offset):
        if out is not None and self._native_out:
            return self._packed(x, post_ops=post, out=out, out_channel_offset=offset)
        if out is not None and offset == 0 and out.shape[1] == self.oc:
            return self._packed(x, post_ops=post, out=out)
        return self._packed(x, post_ops=post)

    def __call__(self, x: np.ndarray, out: np.ndarray | None = None, offset: int = 0,
                 finite: bool | None = None):
        """``finite``: whether x holds only finite values (checked here when None and the
        fused chain has a post-op that would drop a NaN)."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        if self._packed is None:
            y = self._numpy_transpose(x)
            rest = self.post_ops
        else:
            if self._n_fused is None:
                self._n_fused = self._fusable_prefix()
                while True:   # the kernel also caps the chain length
                    try:
                        self._native_call(x, self.post_ops[:self._n_fused], None, 0)
                        break
                    except ValueError:
                        if self._n_fused == 0:
                            raise
                        self._n_fused -= 1
                self._n_nan_safe = next((i for i, it in enumerate(self.post_ops[:self._n_fused])
                                         if _conv_drops_nan(post_op_name(it))), self._n_fused)
            n = self._n_fused
            if self._n_nan_safe < n:
                if finite is None:
                    finite = bool(np.isfinite(x).all())
                if not finite:
                    n = self._n_nan_safe
            fused, rest = self.post_ops[:n], self.post_ops[n:]
            if not rest and out is not None:
                r = self._native_call(x, fused, out, offset)
                if r is out:
                    return out
                y = r
            else:
                y = self._native_call(x, fused, None, 0)
        for item in rest:
            apply_post_op(y, item)
        if out is None:
            return y
        out[:, offset:offset + self.oc] = y
        return out

    def _numpy_transpose(self, x: np.ndarray) -> np.ndarray:
        """conv_transpose as GEMM (medkern.matmul) + col2im (medkern.ops)."""
        n, cin = x.shape[:2]
        g = self.groups
        k = self.weight.shape[2:]
        spatial = x.shape[2:]
        if isinstance(self.padding, str):
            raise ValueError(f"conv_transpose{self.nd}d: string padding is not supported")
        size = tuple((s - 1) * st - 2 * p + d * (kk - 1) + op + 1 for s, st, p, d, kk, op in zip(
            spatial, self.stride, self.padding, self.dilation, k, self.output_padding))
        cin_g = cin // g
        ocg = self.weight.shape[1]
        kvol = int(np.prod(k))
        L = int(np.prod(spatial))
        if g == 1 and tuple(k) == self.stride and not any(self.padding) and \
                not any(self.output_padding) and all(d == 1 for d in self.dilation):
            return self._numpy_transpose_nonoverlapping(x)
        # Fold into the uncropped output, then crop the padding; output_padding beyond the
        # padding adds rows/cols at the end that no input reaches (zeros before the bias).
        full = tuple((s - 1) * st + d * (kk - 1) + 1 for s, st, d, kk in zip(
            spatial, self.stride, self.dilation, k))
        out = np.zeros((n, self.oc) + size, np.float32)
        crop = (slice(None), slice(None)) + tuple(
            slice(p, min(p + o, f)) for p, o, f in zip(self.padding, size, full))
        dst = (slice(None), slice(None)) + tuple(
            slice(0, min(p + o, f) - p) for p, o, f in zip(self.padding, size, full))
        for gi in range(g):
            wg = self.weight[gi * cin_g:(gi + 1) * cin_g].reshape(cin_g, ocg * kvol)
            wt = np.ascontiguousarray(wg.T)
            cols = np.empty((n, ocg * kvol, L), np.float32)
            for b in range(n):
                xb = np.ascontiguousarray(x[b, gi * cin_g:(gi + 1) * cin_g].reshape(cin_g, L))
                cols[b] = _matmul(wt, xb)
            folded = _ops.col2im(cols, full, k, dilation=self.dilation, padding=0,
                                 stride=self.stride)
            out[:, gi * ocg:(gi + 1) * ocg][dst] = folded[crop]
        if self.bias is not None:
            out += self.bias.reshape((1, -1) + (1,) * self.nd)
        return out


    def _numpy_transpose_nonoverlapping(self, x: np.ndarray) -> np.ndarray:
        """kernel == stride (the U-Net up-convolution): every output pixel receives exactly one
        input pixel, so it is one GEMM (OC*kvol x C) @ (C x HW) and a pixel shuffle."""
        n, cin = x.shape[:2]
        k = self.weight.shape[2:]
        nd = len(k)
        spatial = x.shape[2:]
        L = int(np.prod(spatial))
        if getattr(self, "_wt_shuffle", None) is None:
            self._wt_shuffle = np.ascontiguousarray(self.weight.reshape(cin, -1).T)
        out = np.empty((n, self.oc) + tuple(s * kk for s, kk in zip(spatial, k)), np.float32)
        # (OC, k..., spatial...) -> (OC, s0, k0, s1, k1, ...)
        perm = [0] + [a for i in range(nd) for a in (1 + nd + i, 1 + i)]
        for b in range(n):
            y = _matmul(self._wt_shuffle, np.ascontiguousarray(x[b].reshape(cin, L)))
            y = y.reshape((self.oc,) + tuple(k) + tuple(spatial)).transpose(perm)
            out[b] = y.reshape(out.shape[1:])
        if self.bias is not None:
            out += self.bias.reshape((1, -1) + (1,) * nd)
        return out


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


# ---- pooling -------------------------------------------------------------------------------


def _pool_geometry(L, k, s, p, d, ceil_mode):
    eff = d * (k - 1) + 1
    num = L + 2 * p - eff
    if num < 0:
        raise ValueError(f"pool: window {eff} (kernel {k}, dilation {d}) does not fit the "
                         f"padded size {L + 2 * p}")
    o = (-(-num // s) if ceil_mode else num // s) + 1
    if ceil_mode and (o - 1) * s >= L + p:   # torch: the last window must start inside
        o -= 1
    right = max(0, (o - 1) * s + eff - L - p)
    return o, right


def _check_pool(x, nd, op, kernel_size, stride, padding, dilation):
    if x.ndim not in (nd + 1, nd + 2):
        raise ValueError(f"{op}: input must be {nd + 2}-D, got {x.ndim}-D with shape {x.shape}")
    k = _ntuple(kernel_size, nd)
    s = k if stride is None or (not isinstance(stride, numbers.Integral) and len(stride) == 0) \
        else _ntuple(stride, nd)
    p = _ntuple(padding, nd)
    d = _ntuple(dilation, nd)
    for kk, pp in zip(k, p):
        if pp * 2 > kk:
            raise ValueError(f"{op}: padding {p} must be at most half of kernel_size {k}")
    return k, s, p, d


def _windows(xp, k, s, d, outs, nd):
    """Yield strided views, one per kernel offset, each of the output's spatial shape."""
    for off in np.ndindex(*k):
        idx = [slice(None), slice(None)]
        for i in range(nd):
            start = off[i] * d[i]
            idx.append(slice(start, start + s[i] * (outs[i] - 1) + 1, s[i]))
        yield xp[tuple(idx)]


def max_pool(x, nd, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    op = f"max_pool{nd}d"
    name = op
    fn = _native(name)
    if fn is not None:
        return fn(x, kernel_size, stride, padding, dilation, ceil_mode)
    k, s, p, d = _check_pool(x, nd, op, kernel_size, stride, padding, dilation)
    geo = [_pool_geometry(x.shape[2 + i], k[i], s[i], p[i], d[i], ceil_mode) for i in range(nd)]
    outs = [g[0] for g in geo]
    pads = [(0, 0), (0, 0)] + [(p[i], geo[i][1]) for i in range(nd)]
    xp = np.pad(x, pads, constant_values=-np.inf) if any(sum(q) for q in pads) else x
    out = None
    for w in _windows(xp, k, s, d, outs, nd):
        if out is None:
            out = np.array(w, dtype=np.float32)
        else:
            np.maximum(out, w, out=out)   # propagates NaN as torch does
    return out


def avg_pool(x, nd, kernel_size, stride=None, padding=0, ceil_mode=False,
             count_include_pad=True, divisor_override=None):
    op = f"avg_pool{nd}d"
    fn = _native(op)
    if fn is not None:
        return fn(x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)
    k, s, p, d = _check_pool(x, nd, op, kernel_size, stride, padding, 1)
    geo = [_pool_geometry(x.shape[2 + i], k[i], s[i], p[i], 1, ceil_mode) for i in range(nd)]
    outs = [g[0] for g in geo]
    pads = [(0, 0), (0, 0)] + [(p[i], geo[i][1]) for i in range(nd)]
    xp = np.pad(x, pads) if any(sum(q) for q in pads) else x
    acc = np.zeros(x.shape[:2] + tuple(outs), np.float64)
    for w in _windows(xp, k, s, d, outs, nd):
        acc += w
    if divisor_override:
        acc /= divisor_override
    else:
        div = np.ones((1, 1) + (1,) * nd)
        for i in range(nd):
            L = x.shape[2 + i]
            start = np.arange(outs[i]) * s[i] - p[i]
            end = np.minimum(start + k[i], L + p[i])
            if count_include_pad:
                cnt = end - start
            else:
                cnt = np.minimum(end, L) - np.maximum(start, 0)
            shape = [1] * (nd + 2)
            shape[2 + i] = outs[i]
            div = div * cnt.reshape(shape)
        acc /= div
    return acc.astype(np.float32)


def adaptive_avg_pool(x, nd, output_size):
    op = f"adaptive_avg_pool{nd}d"
    fn = _native(op)
    if fn is not None:
        return fn(x, output_size)
    if x.ndim != nd + 2:
        raise ValueError(f"{op}: input must be {nd + 2}-D, got {x.ndim}-D with shape {x.shape}")
    outs = _ntuple(output_size if output_size is not None else x.shape[2:], nd)
    outs = tuple(x.shape[2 + i] if o is None else o for i, o in enumerate(
        output_size if isinstance(output_size, (tuple, list)) else outs))
    y = x.astype(np.float64)
    for i in range(nd):
        ax = 2 + i
        L, o = y.shape[ax], outs[i]
        if o == L:
            continue
        parts = []
        for j in range(o):
            a, b = (j * L) // o, -(-((j + 1) * L) // o)
            parts.append(np.take(y, np.arange(a, b), axis=ax).mean(axis=ax, keepdims=True))
        y = np.concatenate(parts, axis=ax)
    return y.astype(np.float32)


# ---- resampling ----------------------------------------------------------------------------


def interpolate(x, size=None, scale_factor=None, mode="nearest", align_corners=None):
    fn = _native("interpolate")
    if fn is not None:
        return fn(x, size=size, scale_factor=scale_factor, mode=mode,
                  align_corners=align_corners)
    nd = x.ndim - 2
    modes = {"nearest": None, "linear": 1, "bilinear": 2, "trilinear": 3}
    if mode not in modes:
        raise ValueError(f"interpolate: mode {mode!r} is not supported (nearest, linear, "
                         "bilinear, trilinear)")
    if modes[mode] is not None and modes[mode] != nd:
        raise ValueError(f"interpolate: mode {mode!r} needs {modes[mode] + 2}-D input, got "
                         f"{x.ndim}-D")
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: exactly one of size and scale_factor must be given")
    if size is not None:
        outs = _ntuple(size, nd)
        scales = [x.shape[2 + i] / outs[i] for i in range(nd)]
    else:
        sf = [float(v) for v in (scale_factor if isinstance(scale_factor, (tuple, list))
                                 else [scale_factor] * nd)]
        outs = tuple(int(math.floor(x.shape[2 + i] * sf[i])) for i in range(nd))
        scales = [1.0 / f for f in sf]
    y = x
    for i in range(nd):
        ax = 2 + i
        L, o = x.shape[ax], outs[i]
        dst = np.arange(o, dtype=np.float64)
        if mode == "nearest":
            src = np.minimum(np.floor(dst * np.float32(scales[i])).astype(np.int64), L - 1)
            y = np.take(y, src, axis=ax)
            continue
        if align_corners:
            pos = dst * ((L - 1) / (o - 1)) if o > 1 else np.zeros(o)
        else:
            pos = np.maximum((dst + 0.5) * scales[i] - 0.5, 0.0)
        i0 = np.minimum(np.floor(pos).astype(np.int64), L - 1)
        i1 = np.minimum(i0 + 1, L - 1)
        lam = (pos - i0).astype(np.float32)
        shape = [1] * y.ndim
        shape[ax] = o
        lam = lam.reshape(shape)
        y = np.take(y, i0, axis=ax) * (1 - lam) + np.take(y, i1, axis=ax) * lam
    return np.ascontiguousarray(y, dtype=np.float32)


# ---- the rest ------------------------------------------------------------------------------


def softmax(x, dim):
    fn = _native("softmax")
    if fn is not None:
        return fn(x, dim)
    with np.errstate(invalid="ignore", over="ignore"):
        m = np.max(x, axis=dim, keepdims=True)
        e = np.exp(x - m)
        return (e / np.sum(e, axis=dim, keepdims=True)).astype(np.float32)


def cat(tensors, dim=0, out=None):
    fn = _native("cat")
    if fn is not None:
        return fn(list(tensors), dim, out=out) if out is not None else fn(list(tensors), dim)
    return np.concatenate(tensors, axis=dim, out=out)


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
