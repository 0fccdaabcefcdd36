"""Max / average / adaptive average pooling with torch.nn.functional semantics."""

from __future__ import annotations

import numpy as np

from .. import _core
from ._conv import _array, _is_int, _tuple

__all__ = ["max_pool2d", "max_pool3d", "avg_pool2d", "avg_pool3d", "adaptive_avg_pool2d",
           "adaptive_avg_pool3d", "max_pool_blocked", "avg_pool_blocked"]


def _input(x, n: int, op: str):
    """float32 (N, C, spatial) array; an unbatched (C, spatial) input gets N = 1."""
    x = _array(x, "input", op)
    if x.ndim == n + 1:
        return x[None], True
    if x.ndim != n + 2:
        raise ValueError(f"{op}: input must be {n + 2}-D (N, C, {'D, H, W' if n == 3 else 'H, W'})"
                         f" or {n + 1}-D unbatched, got {x.ndim}-D with shape {x.shape}")
    return x, False


def _stride(stride, kernel: tuple, n: int, op: str) -> tuple:
    if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0):
        return kernel
    return _tuple(stride, n, "stride", op)


def _max_pool(n, input, kernel_size, stride, padding, dilation, ceil_mode):
    op = f"max_pool{n}d"
    x, unbatched = _input(input, n, op)
    k = _tuple(kernel_size, n, "kernel_size", op)
    out = _core.max_pool(x, op, list(k), list(_stride(stride, k, n, op)),
                         list(_tuple(padding, n, "padding", op)),
                         list(_tuple(dilation, n, "dilation", op)), bool(ceil_mode))
    return out[0] if unbatched else out


def _divisor(divisor_override, op) -> int:
    """divisor_override as the kernels take it: 0 for None, else a positive int."""
    if divisor_override is None:
        return 0
    if _is_int(divisor_override):
        div = int(divisor_override)
        if div < 1:
            raise ValueError(f"{op}: divisor_override {div} must be a positive int")
        return div
    raise TypeError(f"{op}: divisor_override must be None or an int, got {divisor_override!r}")


def _avg_pool(n, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override):
    op = f"avg_pool{n}d"
    x, unbatched = _input(input, n, op)
    k = _tuple(kernel_size, n, "kernel_size", op)
    div = _divisor(divisor_override, op)
    out = _core.avg_pool(x, op, list(k), list(_stride(stride, k, n, op)),
                         list(_tuple(padding, n, "padding", op)), bool(ceil_mode),
                         bool(count_include_pad), div)
    return out[0] if unbatched else out


def _adaptive(n, input, output_size):
    op = f"adaptive_avg_pool{n}d"
    x, unbatched = _input(input, n, op)
    if _is_int(output_size):
        size = (int(output_size),) * n
    elif isinstance(output_size, (tuple, list)) and len(output_size) == n:
        # None keeps the input size, as in torch.
        size = tuple(x.shape[2 + i] if v is None else v for i, v in enumerate(output_size))
        if not all(_is_int(v) for v in size):
            raise TypeError(f"{op}: output_size must be ints or None, got {output_size!r}")
    else:
        raise TypeError(f"{op}: output_size must be an int or a sequence of {n} ints, "
                        f"got {output_size!r}")
    out = _core.adaptive_avg_pool(x, op, [int(v) for v in size])
    return out[0] if unbatched else out


def max_pool2d(input: np.ndarray, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False) -> np.ndarray:
    """2-D max pooling of an (N, C, H, W) float32 array, as torch.nn.functional.max_pool2d.

    >>> import numpy as np, medkern
    >>> medkern.ops.max_pool2d(np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4), 2)
    array([[[[ 5.,  7.],
             [13., 15.]]]], dtype=float32)
    """
    return _max_pool(2, input, kernel_size, stride, padding, dilation, ceil_mode)


def max_pool3d(input: np.ndarray, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False) -> np.ndarray:
    """3-D max pooling of an (N, C, D, H, W) float32 array, as torch.nn.functional.max_pool3d."""
    return _max_pool(3, input, kernel_size, stride, padding, dilation, ceil_mode)


def avg_pool2d(input: np.ndarray, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override=None) -> np.ndarray:
    """2-D average pooling, as torch.nn.functional.avg_pool2d."""
    return _avg_pool(2, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


def avg_pool3d(input: np.ndarray, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override=None) -> np.ndarray:
    """3-D average pooling, as torch.nn.functional.avg_pool3d."""
    return _avg_pool(3, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


def adaptive_avg_pool2d(input: np.ndarray, output_size) -> np.ndarray:
    """Adaptive 2-D average pooling (output_size 1 is global average pooling)."""
    return _adaptive(2, input, output_size)


def adaptive_avg_pool3d(input: np.ndarray, output_size) -> np.ndarray:
    """Adaptive 3-D average pooling, as torch.nn.functional.adaptive_avg_pool3d."""
    return _adaptive(3, input, output_size)


def _blocked_input(x, op: str):
    """A channel-blocked float32 (N, Cb, [D,] H, W, 16) array (strided views along N and Cb,
    e.g. a block slice of a concat buffer, are read in place) and its spatial rank."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{op}: input must be a numpy.ndarray, got {type(x).__name__}")
    if x.dtype != np.float32:
        raise TypeError(f"{op}: input must have dtype float32, got {x.dtype.name}")
    if x.ndim not in (5, 6) or x.shape[-1] != 16:
        raise ValueError(f"{op}: a blocked input must be 5-D (N, ceil(C/16), H, W, 16) or 6-D "
                         f"(N, ceil(C/16), D, H, W, 16), got shape {x.shape}")
    inner = x[0, 0] if x.shape[0] and x.shape[1] else None
    if inner is not None and not inner.flags.c_contiguous:
        x = np.ascontiguousarray(x)   # visible copy: the kernel reads contiguous blocks
    return x, x.ndim - 3


def _blocked_out(out, op: str):
    if out is None:
        return None
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{op}: out must be a numpy.ndarray, got {type(out).__name__}")
    if out.dtype != np.float32:
        raise TypeError(f"{op}: out must have dtype float32, got {out.dtype.name}")
    if not out.flags.writeable:
        raise ValueError(f"{op}: out must be writeable")
    return out


def max_pool_blocked(input: np.ndarray, kernel_size, stride=None, padding=0, dilation=1,
                     ceil_mode: bool = False, *, out: np.ndarray | None = None) -> np.ndarray:
    """Max pooling of a channel-blocked (nChw16c / nCdhw16c) float32 array, as
    ``max_pool2d`` / ``max_pool3d`` per channel (``medkern.to_blocked`` converts); the result
    is blocked, padding lanes zero. ``out``: a float32 blocked array of the result's shape,
    contiguous from the spatial dimensions on (e.g. a block slice of a larger buffer).

    >>> import numpy as np, medkern
    >>> x = np.random.rand(1, 20, 8, 8).astype(np.float32)
    >>> y = medkern.ops.max_pool_blocked(medkern.to_blocked(x), 2)
    >>> np.array_equal(medkern.from_blocked(y, 20), medkern.ops.max_pool2d(x, 2))
    True
    """
    x, n = _blocked_input(input, "max_pool_blocked")
    op = f"max_pool{n}d"
    k = _tuple(kernel_size, n, "kernel_size", op)
    return _core.pool_blocked(x, op, "max", list(k), list(_stride(stride, k, n, op)),
                              list(_tuple(padding, n, "padding", op)),
                              list(_tuple(dilation, n, "dilation", op)), bool(ceil_mode), True, 0,
                              _blocked_out(out, op))


def avg_pool_blocked(input: np.ndarray, kernel_size, stride=None, padding=0,
                     ceil_mode: bool = False, count_include_pad: bool = True,
                     divisor_override=None, *, out: np.ndarray | None = None) -> np.ndarray:
    """Average pooling of a channel-blocked float32 array, as ``avg_pool2d`` / ``avg_pool3d``
    per channel; see :func:`max_pool_blocked`."""
    x, n = _blocked_input(input, "avg_pool_blocked")
    op = f"avg_pool{n}d"
    k = _tuple(kernel_size, n, "kernel_size", op)
    div = _divisor(divisor_override, op)
    return _core.pool_blocked(x, op, "avg", list(k), list(_stride(stride, k, n, op)),
                              list(_tuple(padding, n, "padding", op)), [1] * n, bool(ceil_mode),
                              bool(count_include_pad), div, _blocked_out(out, op))
