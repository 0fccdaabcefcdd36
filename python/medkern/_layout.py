"""Channel-blocked layouts (nChw16c / nCdhw16c) used between convolution layers."""

from __future__ import annotations

import numpy as np

from . import _core

_DTYPES = (np.float32, np.uint16, np.int8, np.uint8, np.int32)


def _check(x, op: str) -> np.ndarray:
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{op}: x must be a numpy.ndarray, got {type(x).__name__}")
    if x.dtype not in [np.dtype(d) for d in _DTYPES]:
        raise TypeError(f"{op}: x dtype {x.dtype.name} not supported "
                        "(float32, uint16 bfloat16 bits, int8, uint8, int32)")
    return x


def to_blocked(x: np.ndarray, layout_from: str = "nchw", *,
               out: np.ndarray | None = None) -> np.ndarray:
    """Reorder an NCHW / NHWC (or NCDHW / NDHWC) array to the 16-channel blocked layout.

    Returns an array of shape ``(N, ceil(C/16), H, W, 16)`` (or ``(N, Cb, D, H, W, 16)``);
    lanes past ``C`` in the last block are zero. ``out``: a C-contiguous array of that dtype
    and shape to write into (returned).

    Examples
    --------
    >>> import numpy as np, medkern
    >>> medkern.to_blocked(np.ones((1, 3, 4, 4), np.float32)).shape
    (1, 1, 4, 4, 16)
    """
    if out is not None and not isinstance(out, np.ndarray):
        raise TypeError(f"to_blocked: out must be a numpy.ndarray, got {type(out).__name__}")
    return _core.to_blocked(_check(x, "to_blocked"), layout_from, out)


def from_blocked(x: np.ndarray, channels: int, layout_to: str = "nchw", *,
                 out: np.ndarray | None = None) -> np.ndarray:
    """Inverse of :func:`to_blocked`: drop the padding lanes and return ``layout_to``
    (written into ``out`` when given: C-contiguous, the result's dtype and shape)."""
    if isinstance(channels, bool) or not isinstance(channels, (int, np.integer)):
        raise TypeError("from_blocked: channels must be an int")
    if out is not None and not isinstance(out, np.ndarray):
        raise TypeError(f"from_blocked: out must be a numpy.ndarray, got {type(out).__name__}")
    return _core.from_blocked(_check(x, "from_blocked"), int(channels), layout_to, out)
