"""Neighbouring Gray Tone Difference Matrix features, as pyradiomics 3.1 ``ngtdm``.

Per gray level, the voxel count and the summed |level - mean of the ROI neighbours within
``distances``| (centre excluded, out-of-ROI neighbours ignored) come from the C++ kernel.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ... import _core
from .._input import ClassInput
from . import _texture as T

NAME = "ngtdm"

FEATURES = ("Busyness", "Coarseness", "Complexity", "Contrast", "Strength")
DEFAULT_ENABLED = FEATURES


def compute(inp: ClassInput, features: Sequence[str]) -> dict[str, float]:
    lv, _, ng = T.levels(inp, NAME)
    f2d, dim = T.force2d(inp)
    M = _core.radiomics.ngtdm_matrix(lv, T.distances(inp), f2d, dim)
    present = M[:, 0] != 0
    n, s = M[present, 0], M[present, 1]
    iv = np.arange(1, ng + 1, dtype=np.float64)[present]
    nvp = n.sum()
    p = n / nvp
    ngp = len(p)
    di = iv[:, None] - iv[None, :]
    ps = p * s

    def coarseness():
        c = ps.sum()
        return float(1 / c) if c != 0 else 1e6

    def contrast():
        div = ngp * (ngp - 1)
        if div == 0:
            return 0.0
        return float((p[:, None] * p[None, :] * di ** 2).sum() * s.sum() / nvp / div)

    def busyness():
        ip = iv * p
        absdiff = np.abs(ip[:, None] - ip[None, :]).sum()
        return float(ps.sum() / absdiff) if absdiff != 0 else 0.0

    def complexity():
        div = p[:, None] + p[None, :]
        div[div == 0] = 1
        return float((np.abs(di) * (ps[:, None] + ps[None, :]) / div).sum() / nvp)

    def strength():
        ss = s.sum()
        if ss == 0:
            return 0.0
        return float(((p[:, None] + p[None, :]) * di ** 2).sum() / ss)

    values = {"Busyness": busyness, "Coarseness": coarseness, "Complexity": complexity,
              "Contrast": contrast, "Strength": strength}
    return T.select(values, features)
