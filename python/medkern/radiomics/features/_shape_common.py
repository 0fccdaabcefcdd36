"""Principal-axis eigenvalues of the ROI's physical voxel coordinates, as pyradiomics' shape
classes compute them (covariance of the centred coordinates / N, small negative round-off
clipped to 0, ascending)."""

from __future__ import annotations

import numpy as np


def axis_eigenvalues(mask: np.ndarray, spacing: np.ndarray) -> np.ndarray:
    coords = np.argwhere(mask).astype(np.float64) * spacing[None, :]
    n = coords.shape[0]
    coords -= coords.mean(0)
    coords /= np.sqrt(n)
    ev = np.linalg.eigvals(coords.T @ coords)
    ev = np.real_if_close(ev)
    ev[(ev < 0) & (ev > -1e-10)] = 0
    ev.sort()
    return ev


def sqrt_or_nan(x: float) -> float:
    return float(np.sqrt(x)) if x >= 0 else float("nan")
