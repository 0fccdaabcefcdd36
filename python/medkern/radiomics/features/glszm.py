"""Gray Level Size Zone Matrix features, as pyradiomics 3.1 ``glszm``.

Zones (connected voxels of one gray level, 26-connected in 3-D, 8-connected in 2-D or with
force2D) come from the C++ kernel; here: empty gray levels and zone sizes removed, features.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ... import _core
from .._input import ClassInput
from . import _texture as T

NAME = "glszm"

FEATURES = ("GrayLevelNonUniformity", "GrayLevelNonUniformityNormalized", "GrayLevelVariance",
            "HighGrayLevelZoneEmphasis", "LargeAreaEmphasis", "LargeAreaHighGrayLevelEmphasis",
            "LargeAreaLowGrayLevelEmphasis", "LowGrayLevelZoneEmphasis", "SizeZoneNonUniformity",
            "SizeZoneNonUniformityNormalized", "SmallAreaEmphasis",
            "SmallAreaHighGrayLevelEmphasis", "SmallAreaLowGrayLevelEmphasis", "ZoneEntropy",
            "ZonePercentage", "ZoneVariance")
DEFAULT_ENABLED = FEATURES


def compute(inp: ClassInput, features: Sequence[str]) -> dict[str, float]:
    lv, gray, _ = T.levels(inp, NAME)
    f2d, dim = T.force2d(inp)
    P = _core.radiomics.glszm_matrix(lv, f2d, dim)[gray - 1]  # (gray levels, zone sizes)
    eps = T.EPS
    ps = P.sum(0)
    pg = P.sum(1)
    jv = np.arange(1, P.shape[1] + 1, dtype=np.float64)
    nz = P.sum() or 1.0
    npx = (ps * jv).sum() or 1.0
    used = ps != 0
    P, ps, jv = P[:, used], ps[used], jv[used]
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
        "SmallAreaEmphasis": lambda: float((ps / jv ** 2).sum() / nz),
        "LargeAreaEmphasis": lambda: float((ps * jv ** 2).sum() / nz),
        "GrayLevelNonUniformity": lambda: float((pg ** 2).sum() / nz),
        "GrayLevelNonUniformityNormalized": lambda: float((pg ** 2).sum() / nz ** 2),
        "SizeZoneNonUniformity": lambda: float((ps ** 2).sum() / nz),
        "SizeZoneNonUniformityNormalized": lambda: float((ps ** 2).sum() / nz ** 2),
        "ZonePercentage": lambda: float(nz / npx),
        "GrayLevelVariance": lambda: variance(pg, iv),
        "ZoneVariance": lambda: variance(ps, jv),
        "ZoneEntropy": entropy,
        "LowGrayLevelZoneEmphasis": lambda: float((pg / iv ** 2).sum() / nz),
        "HighGrayLevelZoneEmphasis": lambda: float((pg * iv ** 2).sum() / nz),
        "SmallAreaLowGrayLevelEmphasis": lambda: float((P / (i2 * j2)).sum() / nz),
        "SmallAreaHighGrayLevelEmphasis": lambda: float((P * i2 / j2).sum() / nz),
        "LargeAreaLowGrayLevelEmphasis": lambda: float((P * j2 / i2).sum() / nz),
        "LargeAreaHighGrayLevelEmphasis": lambda: float((P * i2 * j2).sum() / nz),
    }
    return T.select(values, features)
