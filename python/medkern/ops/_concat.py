"""cat: parallel concatenation along any dimension (and of channel-blocked tensors)."""

from __future__ import annotations

import numpy as np

from .. import _core
from ._conv import _is_int

__all__ = ["cat", "cat_blocked"]

_DTYPES = tuple(np.dtype(d) for d in (np.float32, np.uint16, np.int8, np.uint8, np.int32))


def _inputs(tensors, op: str) -> list:
    if isinstance(tensors, np.ndarray) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{op}: tensors must be a list or tuple of numpy arrays, "
                        f"got {type(tensors).__name__}")
    if len(tensors) == 0:
        raise ValueError(f"{op}: needs at least one array")
    xs = []
    for i, t in enumerate(tensors):
        if not isinstance(t, np.ndarray):
            raise TypeError(f"{op}: tensors[{i}] must be a numpy.ndarray, got {type(t).__name__}")
        if t.dtype not in _DTYPES:
            raise TypeError(f"{op}: tensors[{i}] dtype {t.dtype.name} is not supported "
                            "(float32, uint16, int8, uint8, int32)")
        if t.dtype != tensors[0].dtype:
            raise TypeError(f"{op}: tensors[{i}] dtype {t.dtype.name} differs from tensors[0] "
                            f"dtype {tensors[0].dtype.name}")
        xs.append(np.ascontiguousarray(t))  # visible copy only for non-contiguous inputs
    return xs


def _out(out, op: str):
    if out is not None and not isinstance(out, np.ndarray):
        raise TypeError(f"{op}: out must be a numpy.ndarray, got {type(out).__name__}")
    return out


def cat(tensors, dim: int = 0, *, out: np.ndarray | None = None) -> np.ndarray:
    """Concatenate arrays along ``dim`` in parallel, as torch.cat.

    All arrays share a dtype and every dimension but ``dim``. With ``out`` (C-contiguous, the
    concatenated shape, same dtype) the result is written there and ``out`` is returned.

    >>> import numpy as np, medkern
    >>> a, b = np.zeros((1, 2, 3, 3), np.float32), np.ones((1, 5, 3, 3), np.float32)
    >>> medkern.ops.cat([a, b], dim=1).shape
    (1, 7, 3, 3)
    """
    op = "cat"
    if not _is_int(dim):
        raise TypeError(f"{op}: dim must be an int, got {dim!r}")
    return _core.cat(_inputs(tensors, op), int(dim), _out(out, op))


def cat_blocked(tensors, channels, *, out: np.ndarray | None = None) -> np.ndarray:
    """Concatenate channel-blocked float32 arrays (N, Cb, H, W, 16) / (N, Cb, D, H, W, 16)
    along channels. ``channels[i]`` is the real channel count of tensors[i] (its lanes past it
    are ignored); the result has ceil(sum / 16) blocks with zero padding lanes, the same
    layout ``medkern.to_blocked`` of the NCHW concatenation would give."""
    op = "cat_blocked"
    xs = _inputs(tensors, op)
    if not isinstance(channels, (list, tuple)) or not all(_is_int(c) for c in channels):
        raise TypeError(f"{op}: channels must be a list of ints, got {channels!r}")
    return _core.cat_blocked(xs, [int(c) for c in channels], _out(out, op))
