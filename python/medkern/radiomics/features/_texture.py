"""What the texture feature classes share: checking a ClassInput, the ROI's gray levels, the
settings they read, and nan-aware angle averaging as pyradiomics does it."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .._input import ClassInput

EPS = np.spacing(1)


def levels(inp: ClassInput, cls: str):
    """(levels, gray_levels, ng): int32 C-contiguous (z, y, x) gray levels, 0 outside the ROI;
    the sorted gray levels present in the ROI; and the largest one (pyradiomics' Ng). Checked
    and computed once per ClassInput, shared by every texture class."""
    return inp.cached("levels", lambda: _levels(inp, cls))


def _levels(inp: ClassInput, cls: str):
    disc = np.asarray(inp.discretized)
    mask = np.asarray(inp.mask)
    if disc.ndim != 3:
        raise ValueError(f"medkern.radiomics {cls}: discretized must be 3-D (z, y, x), got "
                         f"{disc.ndim}-D")
    if mask.shape != disc.shape:
        raise ValueError(f"medkern.radiomics {cls}: mask shape {mask.shape} must equal "
                         f"discretized shape {disc.shape}")
    if not np.issubdtype(disc.dtype, np.integer):
        raise TypeError(f"medkern.radiomics {cls}: discretized must be integer, got {disc.dtype}")
    mask = mask.astype(bool, copy=False)
    lv = np.where(mask, disc, 0).astype(np.int32, copy=False)  # a new C-contiguous array
    if not mask.any():
        raise ValueError(f"medkern.radiomics {cls}: the ROI is empty")
    lo = int(np.where(mask, disc, np.iinfo(disc.dtype).max).min()) if disc.min() < 1 else 1
    if lo < 1:
        raise ValueError(f"medkern.radiomics {cls}: gray levels inside the ROI must be >= 1, "
                         f"got {lo}")
    counts = np.bincount(lv.ravel())
    counts[0] = 0  # outside the ROI
    gray = np.flatnonzero(counts)  # sorted levels present, O(n)
    return lv, gray, int(gray[-1])


def force2d(inp: ClassInput) -> tuple[bool, int]:
    return bool(inp.settings.get("force2D", False)), int(inp.settings.get("force2Ddimension", 0))


def distances(inp: ClassInput) -> list[int]:
    return [int(d) for d in inp.settings.get("distances", [1])]


def spacing_zyx(inp: ClassInput) -> np.ndarray:
    s = [float(v) for v in inp.spacing][::-1]
    while len(s) < 3:  # 2-D spacing (x, y): no z offsets exist, any z spacing weights alike
        s.insert(0, 1.0)
    return np.asarray(s, dtype=np.float64)


def nanmean(v: np.ndarray) -> float:
    """numpy.nanmean of a few per-angle values without its warning machinery (NaN when every
    value is NaN or there are none)."""
    v = np.asarray(v, dtype=np.float64).ravel()
    keep = v[~np.isnan(v)]
    return float(keep.sum() / keep.size) if keep.size else float("nan")


def select(values: dict, features: Sequence[str]) -> dict[str, float]:
    return {f: values[f]() if callable(values[f]) else values[f] for f in features if f in values}
