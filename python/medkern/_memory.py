"""Arrays whose data starts on a 64-byte boundary."""

from __future__ import annotations

import numpy as np

from . import _core


def empty(shape, dtype=np.float32) -> np.ndarray:
    """``numpy.empty`` whose data starts on a 64-byte boundary.

    numpy gives large arrays 16-byte alignment, so each 64-byte vector store into one splits
    two cache lines; memory-bound kernels writing such an ``out=`` run up to 1.4x slower
    (a 1 -> 32 channel 3x3 convolution at 512x512 into a blocked ``out``: 1.10 ms against
    0.80 ms aligned). Preallocated outputs (``out=``) and buffers reused across calls should
    come from here; medkern's own results already do.

    >>> import medkern
    >>> a = medkern.empty((2, 3, 64, 64))
    >>> a.ctypes.data % 64, a.shape, a.dtype, a.flags["C_CONTIGUOUS"]
    (0, (2, 3, 64, 64), dtype('float32'), True)
    """
    dt = np.dtype(dtype)
    if dt.hasobject:
        raise TypeError(f"empty: dtype {dt} holds Python objects; give a numeric dtype")
    shape = (int(shape),) if np.isscalar(shape) else tuple(int(s) for s in shape)
    if any(s < 0 for s in shape):
        raise ValueError(f"empty: shape {shape} has a negative dimension")
    return _core.empty(list(shape), dt)
