"""Gray Level Co-occurrence Matrix features, as pyradiomics 3.1 ``glcm``.

The co-occurrence counts (one matrix per angle, 13 in 3-D / 4 in 2-D for distance 1) come
from the C++ kernel; here: empty gray levels removed, optional symmetrisation and distance
weighting, normalisation per angle, then every feature per angle, averaged over the non-empty
angles. The four deprecated pyradiomics features (Dissimilarity, Homogeneity1, Homogeneity2,
SumVariance) only raise a DeprecationWarning in pyradiomics and never produce a value, so they
produce none here either.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ... import _core
from .._input import ClassInput
from . import _texture as T

NAME = "glcm"

FEATURES = ("Autocorrelation", "ClusterProminence", "ClusterShade", "ClusterTendency",
            "Contrast", "Correlation", "DifferenceAverage", "DifferenceEntropy",
            "DifferenceVariance", "Dissimilarity", "Homogeneity1", "Homogeneity2", "Id", "Idm",
            "Idmn", "Idn", "Imc1", "Imc2", "InverseVariance", "JointAverage", "JointEnergy",
            "JointEntropy", "MCC", "MaximumProbability", "SumAverage", "SumEntropy",
            "SumSquares", "SumVariance")

_DEPRECATED = ("Dissimilarity", "Homogeneity1", "Homogeneity2", "SumVariance")
DEFAULT_ENABLED = tuple(f for f in FEATURES if f not in _DEPRECATED)

_WEIGHTING = ("infinity", "euclidean", "manhattan", "no_weighting")


def _angle_weights(angles: np.ndarray, spacing: np.ndarray, norm: str) -> np.ndarray:
    d = np.abs(angles) * spacing[None, :]
    if norm == "infinity":
        return np.exp(-d.max(1) ** 2)
    if norm == "euclidean":
        return np.exp(-(d ** 2).sum(1))
    if norm == "manhattan":
        return np.exp(-d.sum(1) ** 2)
    return np.ones(len(angles))  # "no_weighting", and pyradiomics' fallback for unknown norms


def matrix(inp: ClassInput):
    """(P, gray_levels, ng): normalised GLCMs (angles, Ng', Ng') over the gray levels present."""
    lv, gray, ng = T.levels(inp, NAME)
    f2d, dim = T.force2d(inp)
    counts, angles = _core.radiomics.glcm_matrix(lv, T.distances(inp), f2d, dim)
    if counts.shape[0] == 0:
        raise ValueError(f"medkern.radiomics {NAME}: no neighbour direction fits in a volume of "
                         f"shape {lv.shape} (every size is 1 in the allowed directions)")
    idx = gray - 1
    P = counts[:, idx[:, None], idx[None, :]]
    if inp.settings.get("symmetricalGLCM", True):
        P = P + P.transpose(0, 2, 1)
    norm = inp.settings.get("weightingNorm", None)
    if norm is not None:
        w = _angle_weights(angles.astype(np.float64), T.spacing_zyx(inp), norm)
        P = np.tensordot(w, P, axes=(0, 0))[None]
    s = P.sum((1, 2))
    if P.shape[0] > 1:
        keep = s != 0
        P, s = P[keep], s[keep]
    s = np.where(s == 0, np.nan, s)
    return P / s[:, None, None], gray, ng


def compute(inp: ClassInput, features: Sequence[str]) -> dict[str, float]:
    P, gray, ng = matrix(inp)
    na, n = P.shape[0], P.shape[1]
    eps = T.EPS
    g = gray.astype(np.float64)
    i, j = g[:, None], g[None, :]
    px = P.sum(2)  # (na, n)
    py = P.sum(1)
    symmetric = bool(np.array_equal(P, P.transpose(0, 2, 1)))
    ux = (P * i).sum((1, 2))
    uy = (P * j).sum((1, 2))
    cache: dict = {}

    def once(key, fn):
        if key not in cache:
            cache[key] = fn()
        return cache[key]

    def pxaddy():  # p_{x+y}(k), k = 2 .. 2 Ng
        idx = (gray[:, None] + gray[None, :] - 2).ravel()
        m = 2 * ng - 1
        flat = (idx[None, :] + m * np.arange(na)[:, None]).ravel()
        return np.bincount(flat, weights=P.reshape(na, -1).ravel(), minlength=m * na).reshape(na, m)

    def pxsuby():  # p_{x-y}(k), k = 0 .. Ng-1
        idx = np.abs(gray[:, None] - gray[None, :]).ravel()
        flat = (idx[None, :] + ng * np.arange(na)[:, None]).ravel()
        return np.bincount(flat, weights=P.reshape(na, -1).ravel(), minlength=ng * na).reshape(na, ng)

    ksum = np.arange(2, 2 * ng + 1, dtype=np.float64)
    kdiff = np.arange(0, ng, dtype=np.float64)
    psum = lambda: once("psum", pxaddy)  # noqa: E731
    pdiff = lambda: once("pdiff", pxsuby)  # noqa: E731
    hxy = lambda: once("hxy", lambda: -(P * np.log2(P + eps)).sum((1, 2)))  # noqa: E731

    def cluster_sums():  # sum P d^k for k = 2, 3, 4, d = i + j - ux - uy (one pass each)
        d = (i + j)[None] - ux[:, None, None] - uy[:, None, None]
        pd2 = P * d * d
        pd3 = pd2 * d
        return {2: pd2.sum((1, 2)), 3: pd3.sum((1, 2)), 4: (pd3 * d).sum((1, 2))}

    def cluster(power):
        return T.nanmean(once("cluster", cluster_sums)[power])

    def correlation():
        di = i[None] - ux[:, None, None]
        dj = j[None] - uy[:, None, None]
        sigx = np.sqrt((P * di ** 2).sum((1, 2)))
        sigy = np.sqrt((P * dj ** 2).sum((1, 2)))
        corm = (P * di * dj).sum((1, 2))
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = corm / (sigx * sigy + eps)
        corr[sigx * sigy == 0] = 1
        return T.nanmean(corr)

    def difference_variance():
        pd = pdiff()
        avg = (kdiff[None] * pd).sum(1, keepdims=True)
        return T.nanmean((pd * (kdiff[None] - avg) ** 2).sum(1))

    def imc1():
        hx = -(px * np.log2(px + eps)).sum(1)
        hy = -(py * np.log2(py + eps)).sum(1)
        hxy1 = -(P * np.log2(px[:, :, None] * py[:, None, :] + eps)).sum((1, 2))
        div = np.fmax(hx, hy)
        v = hxy() - hxy1
        nz = div != 0
        v[nz] /= div[nz]
        v[~nz] = 0
        return T.nanmean(v)

    def imc2():
        pp = px[:, :, None] * py[:, None, :]
        hxy2 = -(pp * np.log2(pp + eps)).sum((1, 2))
        h = hxy()
        with np.errstate(invalid="ignore", over="ignore"):
            v = (1 - np.e ** (-2 * (hxy2 - h))) ** 0.5
        v[hxy2 == h] = 0
        return T.nanmean(v)

    def mcc():
        if n < 2:
            return 1.0  # flat region: a single gray level
        if symmetric:
            # Q = D^-1 P D^-1 P with D = diag(px) is similar to S^2, S = D^-1/2 P D^-1/2
            # symmetric: Q's eigenvalues are those of S squared, from the symmetric solver
            # (pyradiomics' + eps in the denominator changes them by < 1e-10 relative).
            with np.errstate(divide="ignore"):
                r = np.where(px > 0, 1.0 / np.sqrt(px), 0.0)
            S = P * r[:, :, None] * r[:, None, :]
            ev = np.abs(np.linalg.eigvalsh(S))
            ev.sort()
            return T.nanmean(ev[:, -2])
        A = P / (px[:, :, None] * py[:, None, :] + eps)
        Q = A @ P.transpose(0, 2, 1)
        ev = np.linalg.eigvals(Q)
        ev.sort()
        with np.errstate(invalid="ignore"):
            m = np.sqrt(ev[:, -2])
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return float(np.nanmean(m).real)

    def ent(p):
        return -(p * np.log2(p + eps)).sum(1)

    values = {
        "Autocorrelation": lambda: T.nanmean((P * (i * j)[None]).sum((1, 2))),
        "ClusterProminence": lambda: cluster(4),
        "ClusterShade": lambda: cluster(3),
        "ClusterTendency": lambda: cluster(2),
        "Contrast": lambda: T.nanmean((P * ((i - j) ** 2)[None]).sum((1, 2))),
        "Correlation": correlation,
        "DifferenceAverage": lambda: T.nanmean((kdiff[None] * pdiff()).sum(1)),
        "DifferenceEntropy": lambda: T.nanmean(ent(pdiff())),
        "DifferenceVariance": difference_variance,
        "Id": lambda: T.nanmean((pdiff() / (1 + kdiff[None])).sum(1)),
        "Idm": lambda: T.nanmean((pdiff() / (1 + kdiff[None] ** 2)).sum(1)),
        "Idmn": lambda: T.nanmean((pdiff() / (1 + kdiff[None] ** 2 / ng ** 2)).sum(1)),
        "Idn": lambda: T.nanmean((pdiff() / (1 + kdiff[None] / ng)).sum(1)),
        "Imc1": imc1,
        "Imc2": imc2,
        "InverseVariance": lambda: T.nanmean((pdiff()[:, 1:] / kdiff[None, 1:] ** 2).sum(1)),
        "JointAverage": lambda: float(ux.mean()) if na else float("nan"),
        "JointEnergy": lambda: T.nanmean((P ** 2).sum((1, 2))),
        "JointEntropy": lambda: T.nanmean(hxy()),
        "MCC": mcc,
        "MaximumProbability": lambda: T.nanmean(P.max((1, 2))),
        "SumAverage": lambda: T.nanmean((ksum[None] * psum()).sum(1)),
        "SumEntropy": lambda: T.nanmean(ent(psum())),
        "SumSquares": lambda: T.nanmean((P * (i[None] - ux[:, None, None]) ** 2).sum((1, 2))),
    }
    return T.select(values, features)
