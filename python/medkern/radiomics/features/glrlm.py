"""Gray Level Run Length Matrix features, as pyradiomics 3.1 ``glrlm``.

Run counts per angle (13 in 3-D, 4 in 2-D) come from the C++ kernel; here: empty gray levels
removed, optional distance weighting, empty angles and empty run lengths removed, features per
angle averaged over the angles.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ... import _core
from .._input import ClassInput
from . import _texture as T

NAME = "glrlm"

FEATURES = ("GrayLevelNonUniformity", "GrayLevelNonUniformityNormalized", "GrayLevelVariance",
            "HighGrayLevelRunEmphasis", "LongRunEmphasis", "LongRunHighGrayLevelEmphasis",
            "LongRunLowGrayLevelEmphasis", "LowGrayLevelRunEmphasis", "RunEntropy",
            "RunLengthNonUniformity", "RunLengthNonUniformityNormalized", "RunPercentage",
            "RunVariance", "ShortRunEmphasis", "ShortRunHighGrayLevelEmphasis",
            "ShortRunLowGrayLevelEmphasis")
DEFAULT_ENABLED = FEATURES


def _angle_weights(angles: np.ndarray, spacing: np.ndarray, norm: str) -> np.ndarray:
    d = np.abs(angles) * spacing[None, :]
    if norm == "infinity":
        return d.max(1)
    if norm == "euclidean":
        return np.sqrt((d ** 2).sum(1))
    if norm == "manhattan":
        return d.sum(1)
    return np.ones(len(angles))  # "no_weighting", and pyradiomics' fallback for unknown norms


def matrix(inp: ClassInput):
    """(P, gray_levels, run_lengths, Nr): run counts (angles, Ng', runs) over the gray levels
    and run lengths present, and the number of runs per angle (NaN where none)."""
    lv, gray, _ = T.levels(inp, NAME)
    f2d, dim = T.force2d(inp)
    counts, angles = _core.radiomics.glrlm_matrix(lv, f2d, dim)
    if counts.shape[0] == 0:
        raise ValueError(f"medkern.radiomics {NAME}: no run direction fits in a volume of shape "
                         f"{lv.shape}")
    P = counts[:, gray - 1, :]
    norm = inp.settings.get("weightingNorm", None)
    if norm is not None:
        w = _angle_weights(angles.astype(np.float64), T.spacing_zyx(inp), norm)
        P = np.tensordot(w, P, axes=(0, 0))[None]
    nr = P.sum((1, 2))
    if P.shape[0] > 1:
        keep = nr != 0
        P, nr = P[keep], nr[keep]
    nr = np.where(nr == 0, np.nan, nr)
    used = P.sum((0, 1)) != 0
    runs = np.arange(1, P.shape[2] + 1, dtype=np.float64)[used]
    return P[:, :, used], gray, runs, nr


def compute(inp: ClassInput, features: Sequence[str]) -> dict[str, float]:
    P, gray, jv, nr = matrix(inp)
    eps = T.EPS
    iv = gray.astype(np.float64)
    pr = P.sum(1)  # (angles, runs)
    pg = P.sum(2)  # (angles, gray levels)
    i2 = (iv ** 2)[None, :, None]
    j2 = (jv ** 2)[None, None, :]
    m = T.nanmean

    def variance(p, v):
        p = p / nr[:, None]
        u = (p * v[None]).sum(1, keepdims=True)
        return m((p * (v[None] - u) ** 2).sum(1))

    def entropy():
        p = P / nr[:, None, None]
        return m(-(p * np.log2(p + eps)).sum((1, 2)))

    values = {
        "ShortRunEmphasis": lambda: m((pr / jv[None] ** 2).sum(1) / nr),
        "LongRunEmphasis": lambda: m((pr * jv[None] ** 2).sum(1) / nr),
        "GrayLevelNonUniformity": lambda: m((pg ** 2).sum(1) / nr),
        "GrayLevelNonUniformityNormalized": lambda: m((pg ** 2).sum(1) / nr ** 2),
        "RunLengthNonUniformity": lambda: m((pr ** 2).sum(1) / nr),
        "RunLengthNonUniformityNormalized": lambda: m((pr ** 2).sum(1) / nr ** 2),
        "RunPercentage": lambda: m(nr / (pr * jv[None]).sum(1)),
        "GrayLevelVariance": lambda: variance(pg, iv),
        "RunVariance": lambda: variance(pr, jv),
        "RunEntropy": entropy,
        "LowGrayLevelRunEmphasis": lambda: m((pg / iv[None] ** 2).sum(1) / nr),
        "HighGrayLevelRunEmphasis": lambda: m((pg * iv[None] ** 2).sum(1) / nr),
        "ShortRunLowGrayLevelEmphasis": lambda: m((P / (i2 * j2)).sum((1, 2)) / nr),
        "ShortRunHighGrayLevelEmphasis": lambda: m((P * i2 / j2).sum((1, 2)) / nr),
        "LongRunLowGrayLevelEmphasis": lambda: m((P * j2 / i2).sum((1, 2)) / nr),
        "LongRunHighGrayLevelEmphasis": lambda: m((P * (j2 * i2)).sum((1, 2)) / nr),
    }
    with np.errstate(invalid="ignore", divide="ignore"):
        return T.select(values, features)
