"""3-D shape features, as pyradiomics 3.1 ``shape``.

Mesh surface area and volume come from marching cubes over the ROI (vertices at edge
midpoints, signed-tetrahedron volume) and the maximum diameters from the mesh vertices, both
in C++; the axis lengths, Elongation and Flatness from the eigenvalues of the covariance of the
physical voxel coordinates. The deprecated Compactness1, Compactness2 and SphericalDisproportion
are computed only when asked for by name (pyradiomics computes them when enabled explicitly).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ... import _core
from .._input import ClassInput
from . import _shape_common as S

NAME = "shape"

FEATURES = ("Compactness1", "Compactness2", "Elongation", "Flatness", "LeastAxisLength",
            "MajorAxisLength", "Maximum2DDiameterColumn", "Maximum2DDiameterRow",
            "Maximum2DDiameterSlice", "Maximum3DDiameter", "MeshVolume", "MinorAxisLength",
            "SphericalDisproportion", "Sphericity", "SurfaceArea", "SurfaceVolumeRatio",
            "VoxelVolume")
_DEPRECATED = ("Compactness1", "Compactness2", "SphericalDisproportion")
DEFAULT_ENABLED = tuple(f for f in FEATURES if f not in _DEPRECATED)

_MESH = {"SurfaceArea", "MeshVolume", "Maximum2DDiameterSlice", "Maximum2DDiameterColumn",
         "Maximum2DDiameterRow", "Maximum3DDiameter", "SurfaceVolumeRatio", "Sphericity",
         "Compactness1", "Compactness2", "SphericalDisproportion"}


def _mask(inp: ClassInput) -> np.ndarray:
    mask = np.asarray(inp.mask)
    if mask.ndim != 3:
        raise ValueError(f"medkern.radiomics {NAME}: mask must be 3-D (z, y, x), got {mask.ndim}-D")
    if len(inp.spacing) != 3:
        raise ValueError(f"medkern.radiomics {NAME}: shape features need a 3-D image (spacing "
                         f"{tuple(inp.spacing)}); use shape2D for 2-D input")
    if not mask.any():
        raise ValueError(f"medkern.radiomics {NAME}: the ROI is empty")
    return np.ascontiguousarray(mask.astype(np.uint8))


def compute(inp: ClassInput, features: Sequence[str]) -> dict[str, float]:
    mask = _mask(inp)
    spacing = np.asarray([float(s) for s in inp.spacing][::-1])  # (z, y, x)
    want = set(features)
    out: dict[str, float] = {}
    c = _core.radiomics.shape3d_coefficients(mask, tuple(spacing)) if want & _MESH else {}
    area, vol = c.get("SurfaceArea"), c.get("MeshVolume")
    ev = S.axis_eigenvalues(mask, spacing) if want - _MESH - {"VoxelVolume"} else None
    with np.errstate(divide="ignore", invalid="ignore"):
        values = {
            "MeshVolume": lambda: vol,
            "VoxelVolume": lambda: float(mask.sum() * np.prod(spacing)),
            "SurfaceArea": lambda: area,
            "SurfaceVolumeRatio": lambda: area / vol,
            "Sphericity": lambda: (36 * np.pi * vol ** 2) ** (1.0 / 3.0) / area,
            "Compactness1": lambda: vol / (area ** 1.5 * np.sqrt(np.pi)),
            "Compactness2": lambda: 36.0 * np.pi * vol ** 2.0 / area ** 3.0,
            "SphericalDisproportion": lambda: area / (36 * np.pi * vol ** 2) ** (1.0 / 3.0),
            "Maximum3DDiameter": lambda: c["Maximum3DDiameter"],
            "Maximum2DDiameterSlice": lambda: c["Maximum2DDiameterSlice"],
            "Maximum2DDiameterColumn": lambda: c["Maximum2DDiameterColumn"],
            "Maximum2DDiameterRow": lambda: c["Maximum2DDiameterRow"],
            "MajorAxisLength": lambda: S.sqrt_or_nan(ev[2]) * 4,
            "MinorAxisLength": lambda: S.sqrt_or_nan(ev[1]) * 4,
            "LeastAxisLength": lambda: S.sqrt_or_nan(ev[0]) * 4,
            "Elongation": lambda: (float(np.sqrt(ev[1] / ev[2])) if ev[1] >= 0 and ev[2] >= 0
                                   else float("nan")),
            "Flatness": lambda: (float(np.sqrt(ev[0] / ev[2])) if ev[0] >= 0 and ev[2] >= 0
                                 else float("nan")),
        }
        for f in features:
            if f in values:
                out[f] = float(values[f]())
    return out
