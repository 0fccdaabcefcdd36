"""Max / average / adaptive average pooling with torch.nn.functional semantics."""

from __future__ import annotations

import numpy as np

from .. import _core
from ._conv import _array, _is_int, _tuple

__all__ = ["max_pool2d", "max_pool3d", "avg_pool2d", "avg_pool3d", "adaptive_avg_pool2d",
           "adaptive_avg_pool3d"]


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


def _avg_pool(n, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override):
    op = f"avg_pool{n}d"
    x, unbatched = _input(input, n, op)
    k = _tuple(kernel_size, n, "kernel_size", op)
    if divisor_override is None:
        div = 0
    elif _is_int(divisor_override):
        div = int(divisor_override)
        if div < 1:
            raise ValueError(f"{op}: divisor_override {div} must be a positive int")
    else:
        raise TypeError(f"{op}: divisor_override must be None or an int, got {divisor_override!r}")
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
