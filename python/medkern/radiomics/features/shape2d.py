"""2-D shape features, as pyradiomics 3.1 ``shape2D``.

Perimeter and mesh surface come from marching squares over the ROI (vertices at edge
midpoints) and the maximum diameter from the mesh vertices, in C++; axis lengths and Elongation
from the eigenvalues of the covariance of the physical pixel coordinates. Input: a (1, y, x)
ClassInput of a 2-D image, or a 3-D one with ``force2D`` whose size along
``force2Ddimension`` is 1. SphericalDisproportion (deprecated) is computed only when asked for.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ... import _core
from .._input import ClassInput
from . import _shape_common as S

NAME = "shape2D"

FEATURES = ("Elongation", "MajorAxisLength", "MaximumDiameter", "MeshSurface",
            "MinorAxisLength", "Perimeter", "PerimeterSurfaceRatio", "PixelSurface",
            "SphericalDisproportion", "Sphericity")
DEFAULT_ENABLED = tuple(f for f in FEATURES if f != "SphericalDisproportion")


def _plane(inp: ClassInput):
    mask = np.asarray(inp.mask)
    if mask.ndim != 3:
        raise ValueError(f"medkern.radiomics {NAME}: mask must be 3-D (z, y, x), got {mask.ndim}-D")
    spacing = [float(s) for s in inp.spacing][::-1]  # (z, y, x) or (y, x)
    if len(spacing) == 2:
        if mask.shape[0] != 1:
            raise ValueError(f"medkern.radiomics {NAME}: 2-D input must have shape (1, y, x), "
                             f"got {mask.shape}")
        return mask[0], np.asarray(spacing)
    if not inp.settings.get("force2D", False):
        raise ValueError(f"medkern.radiomics {NAME}: shape2D needs 2-D input or 3-D input with "
                         f"force2D=True")
    dim = int(inp.settings.get("force2Ddimension", 0))
    if dim not in (0, 1, 2):
        raise ValueError(f"medkern.radiomics {NAME}: force2Ddimension {dim} must be 0, 1 or 2")
    if mask.shape[dim] > 1:
        raise ValueError(f"medkern.radiomics {NAME}: size of the mask in dimension {dim} is "
                         f"{mask.shape[dim]}, must be 1 to compute 2-D shape")
    axes = [a for a in range(3) if a != dim]
    return np.squeeze(mask, axis=dim), np.asarray(spacing)[axes]


def compute(inp: ClassInput, features: Sequence[str]) -> dict[str, float]:
    plane, spacing = _plane(inp)
    if not plane.any():
        raise ValueError(f"medkern.radiomics {NAME}: the ROI is empty")
    m = np.ascontiguousarray(plane.astype(np.uint8))[None]
    c = _core.radiomics.shape2d_coefficients(m, tuple(spacing))
    per, surf = c["Perimeter"], c["MeshSurface"]
    want = set(features)
    ev = S.axis_eigenvalues(plane, spacing) if want & {"MajorAxisLength", "MinorAxisLength",
                                                         "Elongation"} else None

    def sphericity():
        return float(2 * np.sqrt(np.pi * surf) / per)

    with np.errstate(divide="ignore", invalid="ignore"):
        values = {
            "MeshSurface": lambda: surf,
            "PixelSurface": lambda: float(plane.sum() * spacing[0] * spacing[1]),
            "Perimeter": lambda: per,
            "PerimeterSurfaceRatio": lambda: per / surf,
            "Sphericity": sphericity,
            "SphericalDisproportion": lambda: 1.0 / sphericity(),
            "MaximumDiameter": lambda: c["MaximumDiameter"],
            "MajorAxisLength": lambda: S.sqrt_or_nan(ev[1]) * 4,
            "MinorAxisLength": lambda: S.sqrt_or_nan(ev[0]) * 4,
            "Elongation": lambda: (float(np.sqrt(ev[0] / ev[1])) if ev[0] >= 0 and ev[1] >= 0
                                   else float("nan")),
        }
        return {f: float(values[f]()) for f in features if f in values}
