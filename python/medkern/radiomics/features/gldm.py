"""Gray Level Dependence Matrix features, as pyradiomics 3.1 ``gldm``.

Dependence counts (per voxel: ROI neighbours within ``distances`` whose gray level differs by
at most ``gldm_a``) come from the C++ kernel; here: empty gray levels and dependence sizes
removed, features. The two deprecated pyradiomics features (DependencePercentage,
GrayLevelNonUniformityNormalized) only raise a DeprecationWarning in pyradiomics and never
produce a value, so they produce none here either.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ... import _core
from .._input import ClassInput
from . import _texture as T

NAME = "gldm"

FEATURES = ("DependenceEntropy", "DependenceNonUniformity", "DependenceNonUniformityNormalized",
            "DependencePercentage", "DependenceVariance", "GrayLevelNonUniformity",
            "GrayLevelNonUniformityNormalized", "GrayLevelVariance", "HighGrayLevelEmphasis",
            "LargeDependenceEmphasis", "LargeDependenceHighGrayLevelEmphasis",
            "LargeDependenceLowGrayLevelEmphasis", "LowGrayLevelEmphasis",
            "SmallDependenceEmphasis", "SmallDependenceHighGrayLevelEmphasis",
            "SmallDependenceLowGrayLevelEmphasis")
_DEPRECATED = ("DependencePercentage", "GrayLevelNonUniformityNormalized")
DEFAULT_ENABLED = tuple(f for f in FEATURES if f not in _DEPRECATED)


def compute(inp: ClassInput, features: Sequence[str]) -> dict[str, float]:
    lv, gray, _ = T.levels(inp, NAME)
    f2d, dim = T.force2d(inp)
    alpha = inp.settings.get("gldm_a", 0)
    if int(alpha) != alpha or alpha < 0:
        raise ValueError(f"medkern.radiomics {NAME}: gldm_a {alpha!r} must be an integer >= 0")
    P = _core.radiomics.gldm_matrix(lv, T.distances(inp), int(alpha), f2d, dim)[gray - 1]
    eps = T.EPS
    jv = np.arange(1, P.shape[1] + 1, dtype=np.float64)
    pd = P.sum(0)
    pg = P.sum(1)
    used = pd != 0
    P, pd, jv = P[:, used], pd[used], jv[used]
    nz = pd.sum() or 1.0
    iv = gray.astype(np.float64)
    i2, j2 = (iv ** 2)[:, None], (jv ** 2)[None, :]

    def variance(p, v):
        p = p / nz
        u = (p * v).sum()
        return float((p * (v - u) ** 2).sum())

    def entropy():
        p = P / nz
        return float(-(p * np.log2(p + eps)).sum())

    values = {
        "SmallDependenceEmphasis": lambda: float((pd / jv ** 2).sum() / nz),
        "LargeDependenceEmphasis": lambda: float((pd * jv ** 2).sum() / nz),
        "GrayLevelNonUniformity": lambda: float((pg ** 2).sum() / nz),
        "DependenceNonUniformity": lambda: float((pd ** 2).sum() / nz),
        "DependenceNonUniformityNormalized": lambda: float((pd ** 2).sum() / nz ** 2),
        "GrayLevelVariance": lambda: variance(pg, iv),
        "DependenceVariance": lambda: variance(pd, jv),
        "DependenceEntropy": entropy,
        "LowGrayLevelEmphasis": lambda: float((pg / iv ** 2).sum() / nz),
        "HighGrayLevelEmphasis": lambda: float((pg * iv ** 2).sum() / nz),
        "SmallDependenceLowGrayLevelEmphasis": lambda: float((P / (i2 * j2)).sum() / nz),
        "SmallDependenceHighGrayLevelEmphasis": lambda: float((P * i2 / j2).sum() / nz),
        "LargeDependenceLowGrayLevelEmphasis": lambda: float((P * j2 / i2).sum() / nz),
        "LargeDependenceHighGrayLevelEmphasis": lambda: float((P * j2 * i2).sum() / nz),
    }
    return T.select(values, features)
