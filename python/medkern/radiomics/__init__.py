"""Radiomics: pyradiomics-compatible feature extraction, batches, and feature selection.

Same settings, parameter files, image types (Original, LoG, Wavelet, ...) and feature names as
pyradiomics 3.1 (``original_firstorder_Mean``), computed by medkern's feature classes.
SimpleITK (preprocessing, file input) and PyWavelets (Wavelet image type) are needed;
pandas and tqdm for batches; scikit-learn and matplotlib for :func:`select_and_model`.

Example
-------
>>> import numpy as np
>>> from medkern.radiomics import FeatureExtractor
>>> rng = np.random.default_rng(0)
>>> image = rng.normal(100, 20, (16, 32, 32))
>>> mask = np.zeros(image.shape, np.uint8); mask[4:12, 8:24, 8:24] = 1
>>> fv = FeatureExtractor(binWidth=10).execute(image, mask, spacing=(0.8, 0.8, 2.0))
>>> round(float(fv["original_firstorder_Mean"]), 1) > 90
True
"""

from __future__ import annotations

from ._input import ClassInput
from .batch import extract_many
from .extractor import FeatureExtractor
from .features import CLASSES as FEATURE_CLASSES
from .io import load
from .pipeline import SelectionResult, select_and_model

__all__ = ["ClassInput", "FeatureExtractor", "FEATURE_CLASSES", "extract_many", "load",
           "select_and_model", "SelectionResult"]
