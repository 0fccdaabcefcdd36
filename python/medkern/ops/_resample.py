"""interpolate: nearest / bilinear / trilinear resampling with torch's conventions."""

from __future__ import annotations

import math
import numbers

import numpy as np

from .. import _core
from ._conv import _array, _is_int

__all__ = ["interpolate"]

_MODES = {"nearest": (4, 5), "bilinear": (4,), "trilinear": (5,)}


def interpolate(input: np.ndarray, size=None, scale_factor=None, mode: str = "nearest",
                align_corners=None, recompute_scale_factor=None) -> np.ndarray:
    """Resample an (N, C, H, W) or (N, C, D, H, W) float32 array, as
    torch.nn.functional.interpolate: exactly one of ``size`` / ``scale_factor``; "nearest"
    is torch's legacy nearest (source index floor(dst * in / out), or dst / scale_factor);
    ``align_corners`` only for "bilinear" (4-D) and "trilinear" (5-D).

    >>> import numpy as np, medkern
    >>> x = np.arange(4, dtype=np.float32).reshape(1, 1, 2, 2)
    >>> medkern.ops.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)[0, 0, 0]
    array([0.        , 0.33333334, 0.6666667 , 1.        ], dtype=float32)
    """
    op = "interpolate"
    x = _array(input, "input", op)
    if mode not in _MODES:
        raise ValueError(f"{op}: mode {mode!r} must be one of {', '.join(map(repr, _MODES))}")
    if x.ndim not in _MODES[mode]:
        want = " or ".join(f"{r}-D" for r in _MODES[mode])
        raise ValueError(f"{op}: mode {mode!r} needs a {want} input, got {x.ndim}-D "
                         f"with shape {x.shape}")
    if mode == "nearest":
        if align_corners is not None:
            raise ValueError(f"{op}: align_corners can only be set with the interpolating "
                             "modes 'bilinear' and 'trilinear'")
        align_corners = False
    elif align_corners is None:
        align_corners = False
    n = x.ndim - 2
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{op}: exactly one of size and scale_factor must be given")
    if size is not None:
        if _is_int(size):
            out = [int(size)] * n
        elif isinstance(size, (tuple, list)) and len(size) == n and all(_is_int(v) for v in size):
            out = [int(v) for v in size]
        else:
            raise TypeError(f"{op}: size must be an int or a sequence of {n} ints, got {size!r}")
        for v in out:
            if v < 1:
                raise ValueError(f"{op}: output size {v} must be positive (size {size!r})")
        scales = [0.0] * n
    else:
        if isinstance(scale_factor, numbers.Real) and not isinstance(scale_factor, bool):
            sf = [float(scale_factor)] * n
        elif isinstance(scale_factor, (tuple, list)) and len(scale_factor) == n and all(
                isinstance(v, numbers.Real) and not isinstance(v, bool) for v in scale_factor):
            sf = [float(v) for v in scale_factor]
        else:
            raise TypeError(f"{op}: scale_factor must be a number or a sequence of {n} numbers, "
                            f"got {scale_factor!r}")
        for v in sf:
            if not (v > 0 and math.isfinite(v)):
                raise ValueError(f"{op}: scale_factor {v} must be positive and finite")
        out = [math.floor(float(x.shape[2 + i]) * sf[i]) for i in range(n)]
        for v in out:
            if v < 1:
                raise ValueError(f"{op}: scale_factor {scale_factor!r} gives output size {v} "
                                 f"for input {x.shape}; sizes must be positive")
        scales = [0.0] * n if recompute_scale_factor else sf
    return _core.interpolate(x, out, scales, "nearest" if mode == "nearest" else "linear",
                             bool(align_corners))
