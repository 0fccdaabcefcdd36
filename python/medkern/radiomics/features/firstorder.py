"""First-order statistics of the ROI intensities, as pyradiomics 3.1 ``firstorder``.

Vectorized numpy over the ROI voxels: one sort serves every percentile and the median, the
central moments from one centred copy, and Entropy / Uniformity from the discretized gray
level histogram (pyradiomics' binning). ``voxelArrayShift`` enters Energy, TotalEnergy and
RootMeanSquared only, as in pyradiomics.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .._input import ClassInput

NAME = "firstorder"

# pyradiomics order (its feature getters sorted by method name).
FEATURES = ("10Percentile", "90Percentile", "Energy", "Entropy", "InterquartileRange",
            "Kurtosis", "Maximum", "MeanAbsoluteDeviation", "Mean", "Median", "Minimum",
            "Range", "RobustMeanAbsoluteDeviation", "RootMeanSquared", "Skewness",
            "StandardDeviation", "TotalEnergy", "Uniformity", "Variance")

# StandardDeviation is deprecated in pyradiomics (equal to sqrt(Variance)): computed only
# when asked for by name.
DEFAULT_ENABLED = tuple(f for f in FEATURES if f != "StandardDeviation")


def compute(inp: ClassInput, features: Sequence[str]) -> dict[str, float]:
    x = np.asarray(inp.image, dtype=np.float64)[inp.mask]
    if x.size == 0:
        raise ValueError("medkern.radiomics firstorder: the ROI is empty")
    want = set(features)
    out: dict[str, float] = {}
    n = x.size
    shift = inp.settings.get("voxelArrayShift", 0)

    if want & {"Energy", "TotalEnergy", "RootMeanSquared"}:
        xs = x + shift
        energy = float(np.sum(xs ** 2))
        if "Energy" in want:
            out["Energy"] = energy
        if "TotalEnergy" in want:
            out["TotalEnergy"] = energy * float(np.multiply.reduce(inp.spacing))
        if "RootMeanSquared" in want:
            out["RootMeanSquared"] = float(np.sqrt(energy / float(n)))

    if want & {"Entropy", "Uniformity"}:
        counts = np.bincount(inp.discretized[inp.mask].ravel())
        p = counts[counts > 0].astype(np.float64) / float(n)
        if "Entropy" in want:
            out["Entropy"] = float(-np.sum(p * np.log2(p + np.spacing(1))))
        if "Uniformity" in want:
            out["Uniformity"] = float(np.sum(p ** 2))

    if want & {"Minimum", "Maximum", "Range"}:
        lo, hi = float(np.min(x)), float(np.max(x))
        if "Minimum" in want:
            out["Minimum"] = lo
        if "Maximum" in want:
            out["Maximum"] = hi
        if "Range" in want:
            out["Range"] = hi - lo

    if want & {"10Percentile", "90Percentile", "InterquartileRange",
               "RobustMeanAbsoluteDeviation", "Median"}:
        srt = np.sort(x)
        p10, p25, p75, p90 = np.percentile(srt, [10, 25, 75, 90])
        if "10Percentile" in want:
            out["10Percentile"] = float(p10)
        if "90Percentile" in want:
            out["90Percentile"] = float(p90)
        if "InterquartileRange" in want:
            out["InterquartileRange"] = float(p75 - p25)
        if "Median" in want:
            out["Median"] = float(np.median(srt))
        if "RobustMeanAbsoluteDeviation" in want:
            lo_i = np.searchsorted(srt, p10, side="left")
            hi_i = np.searchsorted(srt, p90, side="right")
            r = srt[lo_i:hi_i]
            out["RobustMeanAbsoluteDeviation"] = float(np.mean(np.abs(r - np.mean(r))))

    if want & {"Mean", "MeanAbsoluteDeviation", "Skewness", "Kurtosis", "Variance",
               "StandardDeviation"}:
        mean = np.mean(x)
        d = x - mean
        if "Mean" in want:
            out["Mean"] = float(mean)
        if "MeanAbsoluteDeviation" in want:
            out["MeanAbsoluteDeviation"] = float(np.mean(np.abs(d)))
        if want & {"Skewness", "Kurtosis", "Variance", "StandardDeviation"}:
            d2 = d * d
            m2 = float(np.mean(d2))
            if "Variance" in want:
                out["Variance"] = m2
            if "StandardDeviation" in want:
                out["StandardDeviation"] = float(np.sqrt(m2))
            # pyradiomics divides by 1 instead of a zero second moment (flat ROI).
            m2s = m2 if m2 != 0 else 1.0
            if "Skewness" in want:
                out["Skewness"] = float(np.mean(d2 * d)) / m2s ** 1.5
            if "Kurtosis" in want:
                out["Kurtosis"] = float(np.mean(d2 * d2)) / m2s ** 2.0
    return {f: out[f] for f in features}
