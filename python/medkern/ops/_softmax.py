"""Numerically stable softmax along any dimension."""

from __future__ import annotations

import numpy as np

from .. import _core
from ._conv import _array, _is_int

__all__ = ["softmax"]


def softmax(input: np.ndarray, dim: int, *, out: np.ndarray | None = None) -> np.ndarray:
    """softmax(input, dim) of a float32 array, as torch.nn.functional.softmax.

    Along the channel dimension of NCHW (dim=1) the work is vectorised across pixels. ``out``
    (a C-contiguous float32 array of input's shape, or input itself for in-place) receives
    the result.
    """
    op = "softmax"
    x = _array(input, "input", op)
    if not _is_int(dim):
        raise TypeError(f"{op}: dim must be an int, got {dim!r}")
    if x.ndim == 0:
        raise ValueError(f"{op}: input must have at least one dimension")
    if out is not None and not isinstance(out, np.ndarray):
        raise TypeError(f"{op}: out must be a numpy.ndarray, got {type(out).__name__}")
    if out is not None and out.dtype != np.float32:
        raise TypeError(f"{op}: out dtype {out.dtype.name} must be float32")
    return _core.softmax(x, int(dim), out)
