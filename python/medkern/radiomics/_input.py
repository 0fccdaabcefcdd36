"""The preprocessed input every radiomics feature-class module receives."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np


@dataclass(frozen=True)
class ClassInput:
    """One image type's view of one case, ready for a feature class.

    image: float64, (z, y, x) (2-D inputs are (1, y, x)), cropped to the mask bounding box
        (+ padDistance as pyradiomics crops), after normalization / resampling / image-type
        filtering.
    mask: bool, same shape: the ROI after resegmentation.
    discretized: int32, same shape: gray level 1..Ng inside the mask, 0 outside, exactly
        pyradiomics' binImage (binWidth or binCount); None for the shape classes' input.
    spacing: (x, y, z) in mm, in SimpleITK GetSpacing order.
    settings: pyradiomics setting names -> values with the defaults filled in
        (distances=[1], symmetricalGLCM=True, weightingNorm=None, gldm_a=0,
        voxelArrayShift=0, force2D=False, force2Ddimension=0, binWidth=25, binCount=None,
        label=1, ...).

    ``cache`` holds what the classes derive from the same arrays (the checked gray-level
    volume, the gray levels present, the ROI intensities), computed by the first class that
    needs it and reused by the others, so the ROI is scanned once per image type.
    """

    image: np.ndarray
    mask: np.ndarray
    discretized: np.ndarray
    spacing: tuple
    settings: Mapping
    cache: dict = field(default_factory=dict, repr=False, compare=False)

    def cached(self, key, fn):
        """``fn()`` computed once per ClassInput under ``key``."""
        if key not in self.cache:
            self.cache[key] = fn()
        return self.cache[key]
