"""Feature classes: name (as in pyradiomics feature keys) -> module with NAME, FEATURES,
DEFAULT_ENABLED and compute(ClassInput, features)."""

from . import glcm

CLASSES = {
    "glcm": glcm,
}

__all__ = ["CLASSES"]
