"""Matrix multiplication entry points (f32, bf16, u8 x s8)."""

from __future__ import annotations

import numpy as np

from . import _core


def _as_2d(x, name: str, op: str) -> np.ndarray:
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{op}: {name} must be a numpy.ndarray, got {type(x).__name__}")
    if x.ndim != 2:
        raise ValueError(f"{op}: {name} must be 2-D, got {x.ndim}-D with shape {x.shape}")
    return x


def _require(x: np.ndarray, dtype, name: str, op: str) -> np.ndarray:
    if x.dtype != dtype:
        raise TypeError(
            f"{op}: {name} must have dtype {np.dtype(dtype).name}, got {x.dtype.name} "
            f"(convert explicitly, e.g. {name}.astype(np.{np.dtype(dtype).name}))"
        )
    if not x.flags.c_contiguous:
        raise ValueError(f"{op}: {name} must be C-contiguous (use numpy.ascontiguousarray)")
    return x


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Matrix product ``a @ b`` of float32 matrices, parallel, GIL released.

    Parameters
    ----------
    a : ndarray, float32, shape (M, K), C-contiguous
    b : ndarray, float32, shape (K, N), C-contiguous
    out : ndarray, float32, shape (M, N), optional
        Written in place and returned. Must not overlap ``a`` or ``b``.

    Returns
    -------
    ndarray, float32, shape (M, N)

    Examples
    --------
    >>> import numpy as np, medkern
    >>> medkern.matmul(np.eye(2, dtype=np.float32), np.ones((2, 3), np.float32)).shape
    (2, 3)
    """
    op = "matmul"
    a = _require(_as_2d(a, "a", op), np.float32, "a", op)
    b = _require(_as_2d(b, "b", op), np.float32, "b", op)
    if out is not None:
        _require(_as_2d(out, "out", op), np.float32, "out", op)
    return _core.matmul(a, b, out)


def to_bf16(x: np.ndarray) -> np.ndarray:
    """Round float32 to bfloat16 (nearest even); returns the bits as a uint16 array."""
    if not isinstance(x, np.ndarray) or x.dtype != np.float32:
        raise TypeError("to_bf16: x must be a float32 numpy.ndarray")
    return _core.f32_to_bf16(np.ascontiguousarray(x))


def from_bf16(x: np.ndarray) -> np.ndarray:
    """Widen bfloat16 bits (uint16 array) to float32, exactly."""
    if not isinstance(x, np.ndarray) or x.dtype != np.uint16:
        raise TypeError("from_bf16: x must be a uint16 numpy.ndarray of bfloat16 bits")
    return _core.bf16_to_f32(np.ascontiguousarray(x))


def matmul_bf16(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``a @ b`` in bfloat16 with float32 accumulation and output.

    ``a`` and ``b`` are either uint16 arrays of bfloat16 bits (see :func:`to_bf16`) or
    float32 arrays, which are rounded to bfloat16 first (a visible conversion, as if
    ``to_bf16`` were called).
    """
    op = "matmul_bf16"
    a, b = _as_2d(a, "a", op), _as_2d(b, "b", op)
    if a.dtype == np.float32:
        a = to_bf16(a)
    if b.dtype == np.float32:
        b = to_bf16(b)
    a = _require(a, np.uint16, "a", op)
    b = _require(b, np.uint16, "b", op)
    if out is not None:
        _require(_as_2d(out, "out", op), np.float32, "out", op)
    return _core.matmul_bf16(a, b, out)


def matmul_u8s8(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Integer ``a @ b`` with uint8 ``a``, int8 ``b`` and exact int32 accumulation (VNNI/AMX)."""
    op = "matmul_u8s8"
    a = _require(_as_2d(a, "a", op), np.uint8, "a", op)
    b = _require(_as_2d(b, "b", op), np.int8, "b", op)
    if out is not None:
        _require(_as_2d(out, "out", op), np.int32, "out", op)
    return _core.matmul_u8s8(a, b, out)
