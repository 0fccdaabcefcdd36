"""Convolution (2-D / 3-D, FP32) and im2col / col2im with torch.nn.functional semantics."""

from __future__ import annotations

import numbers
from typing import Any, Sequence

import numpy as np

from .. import _core

__all__ = ["conv2d", "conv3d", "PackedConv", "conv_transpose2d", "conv_transpose3d",
           "PackedConvTranspose", "im2col", "col2im"]


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


_POST_OP_NAMES = ("relu, relu6, leaky_relu, clip, linear, elu, sigmoid, tanh, gelu, hardswish, "
                  "prelu, scale, bias, batch_norm, sum, add, mul")


def _post_ops(post_ops, oc: int, op: str, out=None) -> list:
    """Post-op specs -> (name, a, b) tuples for the binding.

    Accepted items: "relu", "relu6", ("leaky_relu", alpha), ("clip", lo, hi),
    ("linear", alpha, beta), "elu" / ("elu", alpha), "sigmoid", "tanh", "gelu" /
    ("gelu", "tanh") / ("gelu", "none"), "hardswish", ("prelu", w) (scalar or (OC,)),
    ("scale", float or per-channel array), ("bias", per-channel array),
    ("batch_norm", scale, shift) (folded: scale then shift), ("sum", tensor) /
    ("sum", tensor, scale) (adds scale * tensor, a tensor of the output's shape),
    ("add", per-channel array), ("mul", per-channel array).
    """
    if post_ops is None:
        return []
    if isinstance(post_ops, (str, tuple)):
        post_ops = [post_ops]
    if not isinstance(post_ops, (list,)):
        post_ops = list(post_ops)
    out_list = []

    def nargs(name, args, lo, hi):
        if not lo <= len(args) <= hi:
            want = str(lo) if lo == hi else f"{lo} to {hi}"
            raise ValueError(f"{op}: post-op {name} takes {want} arguments, got {len(args)}")

    for item in post_ops:
        if isinstance(item, str):
            name, args = item, ()
        elif isinstance(item, (tuple, list)) and item and isinstance(item[0], str):
            name, args = item[0], tuple(item[1:])
        else:
            raise TypeError(f"{op}: a post-op must be a name or a (name, args...) tuple, "
                            f"got {item!r}")
        if name in ("relu", "sigmoid", "tanh", "hardswish"):
            nargs(name, args, 0, 0)
            out_list.append((name, None, None))
        elif name == "relu6":
            nargs(name, args, 0, 0)
            out_list.append(("clip", 0.0, 6.0))
        elif name == "leaky_relu":
            nargs(name, args, 0, 1)
            out_list.append(("leaky_relu", float(args[0]) if args else 0.01, None))
        elif name == "elu":
            nargs(name, args, 0, 1)
            out_list.append(("elu", float(args[0]) if args else 1.0, None))
        elif name == "gelu":
            nargs(name, args, 0, 1)
            form = args[0] if args else "none"
            if form not in ("none", "tanh"):
                raise ValueError(f"{op}: post-op gelu approximation {form!r} must be 'none' "
                                 "(erf) or 'tanh'")
            out_list.append(("gelu_tanh" if form == "tanh" else "gelu_erf", None, None))
        elif name in ("clip", "linear"):
            nargs(name, args, 2, 2)
            lo, hi = float(args[0]), float(args[1])
            if name == "clip" and lo > hi:
                raise ValueError(f"{op}: post-op clip needs lo <= hi, got ({lo}, {hi})")
            out_list.append((name, lo, hi))
        elif name == "scale":
            nargs(name, args, 1, 1)
            s = args[0]
            out_list.append(("scale", float(s), None) if isinstance(s, numbers.Real)
                            else ("scale", _channel_array(s, oc, "scale", op), None))
        elif name == "prelu":
            nargs(name, args, 1, 1)
            w = args[0]
            if isinstance(w, numbers.Real) or (np.ndim(w) <= 1 and np.size(w) == 1 and oc != 1):
                out_list.append(("prelu", float(np.asarray(w).reshape(-1)[0]), None))
            else:
                out_list.append(("prelu", _channel_array(w, oc, "prelu weight", op), None))
        elif name in ("bias", "add"):
            nargs(name, args, 1, 1)
            out_list.append(("bias", _channel_array(args[0], oc, name, op), None))
        elif name == "mul":
            nargs(name, args, 1, 1)
            out_list.append(("scale", _channel_array(args[0], oc, name, op), None))
        elif name == "batch_norm":
            nargs(name, args, 2, 2)
            out_list.append(("scale", _channel_array(args[0], oc, "batch_norm scale", op), None))
            out_list.append(("bias", _channel_array(args[1], oc, "batch_norm shift", op), None))
        elif name == "sum":
            nargs(name, args, 1, 2)
            t = args[0]
            if not isinstance(t, np.ndarray):
                raise TypeError(f"{op}: post-op sum tensor must be a numpy.ndarray, got "
                                f"{type(t).__name__}")
            if t.dtype != np.float32:
                raise TypeError(f"{op}: post-op sum tensor must have dtype float32, got "
                                f"{t.dtype.name}")
            # The residual is read after the output rows are stored: never alias the output.
            if out is not None and np.may_share_memory(t, out):
                t = t.copy()
            out_list.append(("sum", np.ascontiguousarray(t), float(args[1]) if len(args) > 1
                             else 1.0))
        else:
            raise ValueError(f"{op}: unknown post-op {name!r} ({_POST_OP_NAMES})")
    return out_list


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
    algorithm : {"auto", "direct", "gemm_1x1", "im2col_gemm", "depthwise", "winograd"}
        "auto" applies the documented heuristic (see ``medkern/ops/conv.hpp``). "winograd"
        (3x3 in H and W, any depth in 3-D, stride 1, groups 1; chosen by "auto" on AVX-512
        for >= 16 input and >= 8 output channels) runs Winograd F(4x4, 3x3): 4x fewer multiplies than direct, with
        an error of up to 3e-5 of the output's largest value (direct: up to 5e-6).

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
                 out: np.ndarray | None = None, out_channel_offset: int = 0) -> np.ndarray:
        """Convolve ``x`` (N, C, [D,] H, W); ``post_ops`` run after the bias.

        ``out``: a C-contiguous float32 (N, C_total, ...) array; the result goes into channels
        ``[out_channel_offset, out_channel_offset + out_channels)`` and ``out`` is returned.
        """
        x = _array(x, "input", self._op, self._spatial + 2)
        _check_out(out, out_channel_offset, self._op)
        return self._impl(x, _post_ops(post_ops, self._oc, self._op, out), out,
                          int(out_channel_offset))

    def execute_blocked(self, x, post_ops: Sequence[Any] | None = None,
                        out: np.ndarray | None = None, out_channel_offset: int = 0) -> np.ndarray:
        """Convolve a channel-blocked ``x`` (N, ceil(C/16), [D,] H, W, 16) into the blocked
        result (N, ceil(out_channels/16), [OD,] OH, OW, 16) (``medkern.to_blocked`` /
        ``medkern.from_blocked`` convert; padding lanes of the result are zero).

        Same post-ops as ``__call__``; a ``("sum", t)`` tensor is blocked like the result.
        ``out``: a C-contiguous float32 blocked (N, Cb_total, ..., 16) array; the result goes
        into blocks ``[out_channel_offset/16, ...)``, so ``out_channel_offset`` must be a
        multiple of 16. The direct, gemm_1x1 and winograd algorithms and im2col_gemm for few
        outputs of whole input blocks run on the blocked tensors (``blocked_native_``); the
        others reorder to planar temporaries.

        ``x`` may also be planar (N, C, [D,] H, W): first layers (``planar_blocked_``) read
        their few planar channels in place (a 1-channel input blocked is 16x its size);
        other convolutions reorder it to the blocked layout first.
        """
        x = self._blocked_source(x)
        _check_out(out, out_channel_offset, self._op)
        return self._impl.execute_blocked(x, _post_ops(post_ops, self._oc, self._op, out), out,
                                          int(out_channel_offset))

    def execute_blocked_to_planar(self, x, post_ops: Sequence[Any] | None = None,
                                  out: np.ndarray | None = None,
                                  out_channel_offset: int = 0) -> np.ndarray:
        """:meth:`execute_blocked` with a planar result (N, out_channels, [OD,] OH, OW), or
        channels ``[out_channel_offset, out_channel_offset + out_channels)`` of a planar
        ``out``. The rows go from the kernel to planar through a per-thread row buffer, so a
        blocked network's planar output (a segmentation head) never stores a blocked result
        (16 lanes per pixel for 2 classes). ``x`` as for :meth:`execute_blocked`. Needs
        ``blocked_native_`` (or ``planar_blocked_`` for a planar ``x``) and no ``("sum", t)``
        post-op.

        >>> import numpy as np, medkern
        >>> x = medkern.to_blocked(np.random.rand(1, 32, 12, 10).astype(np.float32))
        >>> head = medkern.ops.PackedConv(np.random.rand(2, 32, 1, 1).astype(np.float32))
        >>> y = head.execute_blocked_to_planar(x)
        >>> y.shape, np.allclose(y, medkern.from_blocked(head.execute_blocked(x), 2))
        ((1, 2, 12, 10), True)
        """
        x = self._blocked_source(x)
        _check_out(out, out_channel_offset, self._op)
        return self._impl.execute_blocked_to_planar(
            x, _post_ops(post_ops, self._oc, self._op, out), out, int(out_channel_offset))

    def _blocked_source(self, x):
        """x as the blocked executes take it: blocked, or planar for a first layer
        (``planar_blocked_``); other planar inputs are reordered to blocked."""
        if isinstance(x, np.ndarray) and x.ndim == self._spatial + 2:
            x = _array(x, "input", self._op, self._spatial + 2)
            if not self._impl.planar_blocked:
                from .._layout import to_blocked
                x = to_blocked(x, "ncdhw" if x.ndim == 5 else "nchw")
            return x
        return _array(x, "input", self._op, self._spatial + 3)

    @property
    def planar_blocked_(self) -> bool:
        """Whether ``execute_blocked`` reads a planar input in place (first layers)."""
        return self._impl.planar_blocked

    def execute_blocked_rows(self, x, rows, post_ops: Sequence[Any] | None = None,
                             out: np.ndarray | None = None) -> np.ndarray:
        """Output slices ``[rows[0], rows[1])`` of the outermost output dimension (OH for
        2-D, OD for 3-D) of :meth:`execute_blocked`: the result holds only those slices,
        (N, ceil(out_channels/16), rows[1] - rows[0], [OH,] OW, 16). A consumer that reduces
        the output band by band (a pool) never holds the whole output. Needs
        ``blocked_native_``; a ``("sum", t)`` tensor holds the same slices.

        >>> import numpy as np, medkern
        >>> x = medkern.to_blocked(np.random.rand(1, 16, 12, 10).astype(np.float32))
        >>> conv = medkern.ops.PackedConv(np.random.rand(32, 16, 3, 3).astype(np.float32),
        ...                               padding=1)
        >>> band = conv.execute_blocked_rows(x, (4, 8))
        >>> np.array_equal(band, conv.execute_blocked(x)[:, :, 4:8])
        True
        """
        x = _array(x, "input", self._op, self._spatial + 3)
        _check_out(out, 0, self._op)
        try:
            r0, r1 = (int(r) for r in rows)
        except (TypeError, ValueError):
            raise TypeError(f"{self._op}: rows must be a pair of ints (first, end), got "
                            f"{rows!r}") from None
        return self._impl.execute_blocked_rows(x, (r0, r1),
                                               _post_ops(post_ops, self._oc, self._op, out), out)

    @property
    def blocked_native_(self) -> bool:
        """Whether ``execute_blocked`` runs without reorders."""
        return self._impl.blocked_native

    def __repr__(self) -> str:
        return f"PackedConv({self._op}, algorithm={self.algorithm_!r}, kernel={self.kernel_!r})"


def _check_out(out, offset, op: str) -> None:
    if not _is_int(offset):
        raise TypeError(f"{op}: out_channel_offset must be an int, got {offset!r}")
    if out is None:
        if offset != 0:
            raise ValueError(f"{op}: out_channel_offset {offset} needs an out= array")
        return
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{op}: out must be a numpy.ndarray, got {type(out).__name__}")
    if out.dtype != np.float32:
        raise TypeError(f"{op}: out must have dtype float32, got {out.dtype.name}")
    if not out.flags.c_contiguous:
        raise ValueError(f"{op}: out must be C-contiguous (it is written in place)")
    if not out.flags.writeable:
        raise ValueError(f"{op}: out must be writeable")


def _conv(n, input, weight, bias, stride, padding, dilation, groups, post_ops, out,
          out_channel_offset, algorithm):
    op = f"conv{n}d"
    weight = _array(weight, "weight", op, n + 2)
    input = _array(input, "input", op, n + 2)
    conv = PackedConv(weight, bias, stride, padding, dilation, groups, algorithm=algorithm)
    return conv(input, post_ops, out, out_channel_offset)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
           post_ops=None, *, out=None, out_channel_offset=0,
           algorithm: str = "auto") -> np.ndarray:
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
        Fused after the bias while the output tile is in cache, in order: "relu", "relu6",
        ("leaky_relu", alpha), ("clip", lo, hi), ("linear", alpha, beta), "elu" /
        ("elu", alpha), "sigmoid", "tanh", "gelu" / ("gelu", "tanh"), "hardswish",
        ("prelu", w) (scalar or per-channel), ("scale", s or per-channel array),
        ("bias", per-channel array), ("batch_norm", scale, shift), ("sum", tensor) /
        ("sum", tensor, scale) (residual of the output's shape; any op may follow),
        ("add", per-channel array), ("mul", per-channel array). At most 10 ops including the
        bias (batch_norm counts 2).
    out : ndarray, float32, (N, C_total, H_out, W_out), optional
        Written in place and returned; channels [out_channel_offset, out_channel_offset +
        C_out) receive the result (C_total >= out_channel_offset + C_out), so a following
        concatenation costs nothing.
    out_channel_offset : int
    algorithm : {"auto", "direct", "gemm_1x1", "im2col_gemm", "depthwise", "winograd"}

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
                 out_channel_offset, algorithm)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
           post_ops=None, *, out=None, out_channel_offset=0,
           algorithm: str = "auto") -> np.ndarray:
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
                 out_channel_offset, algorithm)


# ---- transposed convolution ----------------------------------------------------------------

class PackedConvTranspose:
    """A transposed convolution whose weights are validated and packed once.

    Parameters
    ----------
    weight : ndarray, float32, (in_channels, out_channels/groups, [kD,] kH, kW)
        torch's layout; 4-D for 2-D, 5-D for 3-D.
    bias : ndarray, float32, (out_channels,), optional
    stride, padding, output_padding, groups, dilation
        As in ``torch.nn.functional.conv_transpose2d`` / ``conv_transpose3d``.

    Attributes
    ----------
    algorithm_ : str
        "scatter" (kernel == stride, no padding or dilation: the U-Net up-convolution, each
        output pixel written once from a GEMM) or "col2im" (GEMM + col2im accumulation).

    Examples
    --------
    >>> import numpy as np, medkern
    >>> up = medkern.ops.PackedConvTranspose(np.ones((4, 2, 2, 2), np.float32), stride=2)
    >>> up(np.ones((1, 4, 3, 5), np.float32)).shape
    (1, 2, 6, 10)
    """

    def __init__(self, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                 dilation=1):
        op = ("conv_transpose3d" if isinstance(weight, np.ndarray) and weight.ndim == 5
              else "conv_transpose2d")
        weight = _array(weight, "weight", op)
        if weight.ndim not in (4, 5):
            raise ValueError(f"{op}: weight must be 4-D (2-D transposed convolution) or 5-D "
                             f"(3-D), got {weight.ndim}-D with shape {weight.shape}")
        n = weight.ndim - 2
        if bias is not None:
            bias = _array(bias, "bias", op, 1)
        if not _is_int(groups):
            raise TypeError(f"{op}: groups must be an int, got {groups!r}")
        self._op, self._spatial = op, n
        self._oc = weight.shape[1] * int(groups) if _is_int(groups) else 0
        self._kernel = tuple(weight.shape[2:])
        self._stride = _tuple(stride, n, "stride", op)
        self._padding = _tuple(padding, n, "padding", op)
        self._output_padding = _tuple(output_padding, n, "output_padding", op)
        self._dilation = _tuple(dilation, n, "dilation", op)
        self._impl = _core.ConvTransposeF32(
            weight, bias, n, _dhw(self._stride, 1), _dhw(self._padding, 0),
            _dhw(self._output_padding, 0), _dhw(self._dilation, 1), int(groups))
        self.algorithm_ = self._impl.algorithm
        self.kernel_ = self._impl.kernel

    def _output_size(self, x, output_size):
        """torch's output_size -> the spatial sizes, checked against the valid range."""
        op, n = self._op, self._spatial
        if isinstance(output_size, (tuple, list)) and len(output_size) == n + 2:
            output_size = output_size[2:]
        size = _tuple(tuple(output_size) if isinstance(output_size, (tuple, list))
                      else output_size, n, "output_size", op)
        for i in range(n):
            lo = ((x.shape[2 + i] - 1) * self._stride[i] - 2 * self._padding[i]
                  + self._dilation[i] * (self._kernel[i] - 1) + 1)
            hi = lo + max(self._stride[i], self._dilation[i]) - 1
            if not lo <= size[i] <= hi:
                raise ValueError(f"{op}: requested output_size {tuple(size)}, but valid sizes "
                                 f"along dimension {i} range from {lo} to {hi} (for an input "
                                 f"of shape {x.shape})")
        return list(size)

    def __call__(self, x, post_ops: Sequence[Any] | None = None, out: np.ndarray | None = None,
                 out_channel_offset: int = 0, output_size=None) -> np.ndarray:
        """Transposed convolution of ``x`` (N, C_in, [D,] H, W); see :class:`PackedConv` for
        ``post_ops``, ``out`` and ``out_channel_offset``; ``output_size`` as torch."""
        x = _array(x, "input", self._op, self._spatial + 2)
        _check_out(out, out_channel_offset, self._op)
        size = None if output_size is None else self._output_size(x, output_size)
        return self._impl(x, _post_ops(post_ops, self._oc, self._op, out), out,
                          int(out_channel_offset), size)

    def execute_blocked(self, x, post_ops: Sequence[Any] | None = None,
                        out: np.ndarray | None = None, out_channel_offset: int = 0) -> np.ndarray:
        """Transposed convolution of a channel-blocked ``x`` (N, ceil(C_in/16), [D,] H, W, 16)
        into the blocked result (N, ceil(out_channels/16), [OD,] OH, OW, 16), padding lanes
        zero. Needs ``blocked_supported_`` (kernel == stride, no padding, output padding or
        dilation, groups 1: the U-Net up-convolution). Post-ops, ``out`` and
        ``out_channel_offset`` (a multiple of 16) as :meth:`PackedConv.execute_blocked`, so
        the result can go straight into the blocks of a concat buffer.
        """
        x = _array(x, "input", self._op, self._spatial + 3)
        _check_out(out, out_channel_offset, self._op)
        return self._impl.execute_blocked(x, _post_ops(post_ops, self._oc, self._op, out), out,
                                          int(out_channel_offset))

    @property
    def blocked_supported_(self) -> bool:
        """Whether ``execute_blocked`` accepts this geometry."""
        return self._impl.blocked_supported

    @property
    def blocked_native_(self) -> bool:
        """Whether ``execute_blocked`` runs on a vector kernel (not the scalar reference)."""
        return self._impl.blocked_native

    def __repr__(self) -> str:
        return f"PackedConvTranspose({self._op}, algorithm={self.algorithm_!r})"


def _conv_transpose(n, input, weight, bias, stride, padding, output_padding, groups, dilation,
                    post_ops, out, out_channel_offset, output_size):
    op = f"conv_transpose{n}d"
    weight = _array(weight, "weight", op, n + 2)
    input = _array(input, "input", op, n + 2)
    conv = PackedConvTranspose(weight, bias, stride, padding, output_padding, groups, dilation)
    return conv(input, post_ops, out, out_channel_offset, output_size)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1, post_ops=None, *, out=None, out_channel_offset=0,
                     output_size=None) -> np.ndarray:
    """2-D transposed convolution of float32 NCHW arrays, as
    ``torch.nn.functional.conv_transpose2d`` (weight (C_in, C_out/groups, kH, kW)).

    ``post_ops``, ``out`` and ``out_channel_offset`` as :func:`conv2d`; ``output_size``
    (H, W) picks the output padding as ``torch.nn.ConvTranspose2d`` does.

    Examples
    --------
    >>> import numpy as np, medkern
    >>> x = np.ones((1, 8, 4, 4), np.float32); w = np.ones((8, 4, 2, 2), np.float32)
    >>> medkern.ops.conv_transpose2d(x, w, stride=2).shape
    (1, 4, 8, 8)
    """
    return _conv_transpose(2, input, weight, bias, stride, padding, output_padding, groups,
                           dilation, post_ops, out, out_channel_offset, output_size)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1, post_ops=None, *, out=None, out_channel_offset=0,
                     output_size=None) -> np.ndarray:
    """3-D transposed convolution of float32 NCDHW arrays, as
    ``torch.nn.functional.conv_transpose3d``; arguments as :func:`conv_transpose2d`.

    Examples
    --------
    >>> import numpy as np, medkern
    >>> x = np.ones((1, 4, 2, 3, 3), np.float32); w = np.ones((4, 2, 2, 2, 2), np.float32)
    >>> medkern.ops.conv_transpose3d(x, w, stride=2).shape
    (1, 2, 4, 6, 6)
    """
    return _conv_transpose(3, input, weight, bias, stride, padding, output_padding, groups,
                           dilation, post_ops, out, out_channel_offset, output_size)


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
