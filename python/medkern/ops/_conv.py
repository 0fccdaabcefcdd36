"""Convolution (2-D / 3-D, FP32) and im2col / col2im with torch.nn.functional semantics."""

from __future__ import annotations

import numbers
from typing import Any, Sequence

import numpy as np

from .. import _core

__all__ = ["conv2d", "conv3d", "PackedConv", "im2col", "col2im"]


# ---- argument normalisation ----------------------------------------------------------------

def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _tuple(v, n: int, name: str, op: str) -> tuple:
    """An int or a length-n sequence of ints -> an n-tuple."""
    if _is_int(v):
        return (int(v),) * n
    if isinstance(v, (tuple, list)) and len(v) == n and all(_is_int(x) for x in v):
        return tuple(int(x) for x in v)
    raise TypeError(f"{op}: {name} must be an int or a sequence of {n} ints, got {v!r}")


def _dhw(t: tuple, fill: int) -> list:
    """(H, W) or (D, H, W) -> [D, H, W] with D = fill for 2-D."""
    return [fill] * (3 - len(t)) + list(t)


def _padding(padding, n: int, kernel: tuple, stride: tuple, dilation: tuple, op: str):
    """torch's padding forms (int, n ints, "same", "valid") plus n (before, after) pairs."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0,) * n, (0,) * n
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{op}: padding='same' is not supported for strided "
                                 f"convolutions (stride {stride})")
            total = [d * (k - 1) for d, k in zip(dilation, kernel)]
            before = tuple(t // 2 for t in total)
            return before, tuple(t - b for t, b in zip(total, before))
        raise ValueError(f"{op}: padding string {padding!r} must be 'same' or 'valid'")
    if isinstance(padding, (tuple, list)) and len(padding) == n and all(
            isinstance(p, (tuple, list)) for p in padding):
        if not all(len(p) == 2 and _is_int(p[0]) and _is_int(p[1]) for p in padding):
            raise TypeError(f"{op}: asymmetric padding must be {n} (before, after) int pairs, "
                            f"got {padding!r}")
        return tuple(int(p[0]) for p in padding), tuple(int(p[1]) for p in padding)
    p = _tuple(padding, n, "padding", op)
    return p, p


def _array(x, name: str, op: str, ndim: int | None = None) -> np.ndarray:
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{op}: {name} must be a numpy.ndarray, got {type(x).__name__}")
    if x.dtype != np.float32:
        raise TypeError(f"{op}: {name} must have dtype float32, got {x.dtype.name} "
                        f"(convert explicitly, e.g. {name}.astype(np.float32))")
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"{op}: {name} must be {ndim}-D, got {x.ndim}-D with shape {x.shape}")
    # Visible copy: the kernels read C-contiguous arrays.
    return np.ascontiguousarray(x)


def _channel_array(v, oc: int, name: str, op: str) -> np.ndarray:
    a = np.ascontiguousarray(np.asarray(v, dtype=np.float32))
    if a.shape != (oc,):
        raise ValueError(f"{op}: post-op {name} must have shape ({oc},) (one value per output "
                         f"channel), got {a.shape}")
    return a


def _post_ops(post_ops, oc: int, op: str) -> list:
    """Post-op specs -> (name, a, b) tuples for the binding.

    Accepted items: "relu", "relu6", ("leaky_relu", alpha), ("clip", lo, hi),
    ("linear", alpha, beta), ("scale", float or per-channel array), ("bias", per-channel
    array), ("batch_norm", scale, shift) (folded: scale then shift).
    """
    if post_ops is None:
        return []
    if isinstance(post_ops, (str, tuple)):
        post_ops = [post_ops]
    out = []
    for item in post_ops:
        name, args = (item, ()) if isinstance(item, str) else (item[0], tuple(item[1:]))
        if name == "relu":
            out.append(("relu", None, None))
        elif name == "relu6":
            out.append(("clip", 0.0, 6.0))
        elif name == "leaky_relu":
            out.append(("leaky_relu", float(args[0]) if args else 0.01, None))
        elif name in ("clip", "linear"):
            if len(args) != 2:
                raise ValueError(f"{op}: post-op {name} needs 2 arguments, got {len(args)}")
            out.append((name, float(args[0]), float(args[1])))
        elif name == "scale":
            if len(args) != 1:
                raise ValueError(f"{op}: post-op scale needs 1 argument")
            s = args[0]
            out.append(("scale", float(s), None) if isinstance(s, numbers.Real)
                       else ("scale", _channel_array(s, oc, "scale", op), None))
        elif name == "bias":
            out.append(("bias", _channel_array(args[0], oc, "bias", op), None))
        elif name == "batch_norm":
            if len(args) != 2:
                raise ValueError(f"{op}: post-op batch_norm needs (scale, shift)")
            out.append(("scale", _channel_array(args[0], oc, "batch_norm scale", op), None))
            out.append(("bias", _channel_array(args[1], oc, "batch_norm shift", op), None))
        else:
            raise ValueError(f"{op}: unknown post-op {name!r} (relu, relu6, leaky_relu, clip, "
                             "linear, scale, bias, batch_norm)")
    return out


# ---- convolution ---------------------------------------------------------------------------

class PackedConv:
    """A convolution whose weights are validated and packed once, for repeated calls.

    Parameters
    ----------
    weight : ndarray, float32, (out_channels, in_channels/groups, [kD,] kH, kW)
        4-D for a 2-D convolution, 5-D for 3-D.
    bias : ndarray, float32, (out_channels,), optional
    stride, padding, dilation, groups
        As in ``torch.nn.functional.conv2d`` / ``conv3d``; ``padding`` also accepts a
        sequence of ``(before, after)`` pairs per spatial dimension.
    algorithm : {"auto", "direct", "gemm_1x1", "im2col_gemm"}
        "auto" applies the documented heuristic (see ``medkern/ops/conv.hpp``).

    Attributes
    ----------
    algorithm_ : str
        The algorithm chosen at construction.
    kernel_ : str
        The kernel registry row that runs.

    Examples
    --------
    >>> import numpy as np, medkern
    >>> conv = medkern.ops.PackedConv(np.ones((8, 4, 3, 3), np.float32), padding=1)
    >>> conv(np.ones((2, 4, 5, 5), np.float32), post_ops=["relu"]).shape
    (2, 8, 5, 5)
    """

    def __init__(self, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
                 algorithm: str = "auto"):
        op = "conv3d" if isinstance(weight, np.ndarray) and weight.ndim == 5 else "conv2d"
        weight = _array(weight, "weight", op)
        if weight.ndim not in (4, 5):
            raise ValueError(f"{op}: weight must be 4-D (2-D convolution) or 5-D (3-D), got "
                             f"{weight.ndim}-D with shape {weight.shape}")
        n = weight.ndim - 2
        if bias is not None:
            bias = _array(bias, "bias", op, 1)
        if not _is_int(groups):
            raise TypeError(f"{op}: groups must be an int, got {groups!r}")
        kernel = tuple(weight.shape[2:])
        stride_t = _tuple(stride, n, "stride", op)
        dilation_t = _tuple(dilation, n, "dilation", op)
        before, after = _padding(padding, n, kernel, stride_t, dilation_t, op)
        self._op = op
        self._spatial = n
        self._oc = weight.shape[0]
        self._impl = _core.ConvF32(weight, bias, n, _dhw(stride_t, 1), _dhw(before, 0),
                                   _dhw(after, 0), _dhw(dilation_t, 1), int(groups), algorithm)
        self.algorithm_ = self._impl.algorithm
        self.kernel_ = self._impl.kernel

    def __call__(self, x, post_ops: Sequence[Any] | None = None,
                 out: np.ndarray | None = None) -> np.ndarray:
        """Convolve ``x`` (N, C, [D,] H, W); ``post_ops`` run after the bias."""
        x = _array(x, "input", self._op, self._spatial + 2)
        return self._impl(x, _post_ops(post_ops, self._oc, self._op), out)

    def __repr__(self) -> str:
        return f"PackedConv({self._op}, algorithm={self.algorithm_!r}, kernel={self.kernel_!r})"


def _conv(n, input, weight, bias, stride, padding, dilation, groups, post_ops, out, algorithm):
    op = f"conv{n}d"
    weight = _array(weight, "weight", op, n + 2)
    input = _array(input, "input", op, n + 2)
    conv = PackedConv(weight, bias, stride, padding, dilation, groups, algorithm=algorithm)
    return conv(input, post_ops, out)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
           post_ops=None, *, out=None, algorithm: str = "auto") -> np.ndarray:
    """2-D convolution of float32 NCHW arrays, as ``torch.nn.functional.conv2d``.

    Parameters
    ----------
    input : ndarray, float32, (N, C_in, H, W)
    weight : ndarray, float32, (C_out, C_in/groups, kH, kW)
    bias : ndarray, float32, (C_out,), optional
    stride, dilation : int or (int, int)
    padding : int, (int, int), "same", "valid", or ((top, bottom), (left, right))
    groups : int
    post_ops : sequence, optional
        Fused after the bias while the output tile is in cache: "relu", "relu6",
        ("leaky_relu", alpha), ("clip", lo, hi), ("linear", alpha, beta),
        ("scale", s or per-channel array), ("bias", per-channel array),
        ("batch_norm", scale, shift). At most 4 ops including the bias (batch_norm counts 2).
    out : ndarray, float32, (N, C_out, H_out, W_out), optional
        Written in place and returned.
    algorithm : {"auto", "direct", "gemm_1x1", "im2col_gemm"}

    Returns
    -------
    ndarray, float32, (N, C_out, H_out, W_out)

    Examples
    --------
    >>> import numpy as np, medkern
    >>> x = np.ones((1, 1, 4, 4), np.float32); w = np.ones((1, 1, 3, 3), np.float32)
    >>> medkern.ops.conv2d(x, w, padding="same")[0, 0]
    array([[4., 6., 6., 4.],
           [6., 9., 9., 6.],
           [6., 9., 9., 6.],
           [4., 6., 6., 4.]], dtype=float32)
    """
    return _conv(2, input, weight, bias, stride, padding, dilation, groups, post_ops, out,
                 algorithm)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
           post_ops=None, *, out=None, algorithm: str = "auto") -> np.ndarray:
    """3-D convolution of float32 NCDHW arrays, as ``torch.nn.functional.conv3d``.

    Arguments as :func:`conv2d` with three spatial dimensions (D, H, W).

    Examples
    --------
    >>> import numpy as np, medkern
    >>> x = np.ones((1, 2, 4, 5, 6), np.float32); w = np.ones((3, 2, 3, 3, 3), np.float32)
    >>> medkern.ops.conv3d(x, w, padding=1).shape
    (1, 3, 4, 5, 6)
    """
    return _conv(3, input, weight, bias, stride, padding, dilation, groups, post_ops, out,
                 algorithm)


# ---- im2col / col2im -----------------------------------------------------------------------

def im2col(input, kernel_size, dilation=1, padding=0, stride=1) -> np.ndarray:
    """Extract sliding blocks, as ``torch.nn.functional.unfold`` (also for 5-D input).

    Parameters
    ----------
    input : ndarray, float32, (N, C, H, W) or (N, C, D, H, W)
    kernel_size, dilation, padding, stride : int or tuple (padding also (before, after) pairs)

    Returns
    -------
    ndarray, float32, (N, C * prod(kernel_size), L), L the number of block positions; row
    ``(c*kH + kh)*kW + kw``, column ``oh*OW + ow`` (3-D: with kD / OD in front).

    Examples
    --------
    >>> import numpy as np, medkern
    >>> medkern.ops.im2col(np.ones((1, 2, 4, 4), np.float32), 3).shape
    (1, 18, 4)
    """
    op = "im2col"
    x = _array(input, "input", op)
    if x.ndim not in (4, 5):
        raise ValueError(f"{op}: input must be 4-D or 5-D, got {x.ndim}-D with shape {x.shape}")
    n = x.ndim - 2
    k = _tuple(kernel_size, n, "kernel_size", op)
    d = _tuple(dilation, n, "dilation", op)
    s = _tuple(stride, n, "stride", op)
    before, after = _padding(padding, n, k, s, d, op)
    return _core.im2col(x, n, _dhw(k, 1), _dhw(s, 1), _dhw(before, 0), _dhw(after, 0),
                        _dhw(d, 1))


def col2im(input, output_size, kernel_size, dilation=1, padding=0, stride=1) -> np.ndarray:
    """Sum sliding blocks back into an image, as ``torch.nn.functional.fold`` (the adjoint of
    :func:`im2col`).

    Parameters
    ----------
    input : ndarray, float32, (N, C * prod(kernel_size), L)
    output_size : (H, W) or (D, H, W)
    kernel_size, dilation, padding, stride : as :func:`im2col`

    Returns
    -------
    ndarray, float32, (N, C, *output_size)

    Examples
    --------
    >>> import numpy as np, medkern
    >>> medkern.ops.col2im(np.ones((1, 18, 4), np.float32), (4, 4), 3).shape
    (1, 2, 4, 4)
    """
    op = "col2im"
    col = _array(input, "input", op, 3)
    if not isinstance(output_size, (tuple, list)) or len(output_size) not in (2, 3):
        raise TypeError(f"{op}: output_size must be (H, W) or (D, H, W), got {output_size!r}")
    n = len(output_size)
    size = _tuple(tuple(output_size), n, "output_size", op)
    k = _tuple(kernel_size, n, "kernel_size", op)
    d = _tuple(dilation, n, "dilation", op)
    s = _tuple(stride, n, "stride", op)
    before, after = _padding(padding, n, k, s, d, op)
    kvol = int(np.prod(k))
    if kvol <= 0 or col.shape[1] % kvol != 0:
        raise ValueError(f"{op}: input dimension 1 ({col.shape[1]}) must be a multiple of the "
                         f"kernel volume {kvol} (kernel_size {k})")
    shape = [col.shape[0], col.shape[1] // kvol, *size]
    return _core.col2im(col, shape, n, _dhw(k, 1), _dhw(s, 1), _dhw(before, 0),
                        _dhw(after, 0), _dhw(d, 1))
