"""Feature classes: name (as in pyradiomics feature keys) -> module with NAME, FEATURES,
DEFAULT_ENABLED and compute(ClassInput, features)."""

from . import glcm, gldm, glrlm, glszm, ngtdm

CLASSES = {
    "glcm": glcm,
    "gldm": gldm,
    "glrlm": glrlm,
    "glszm": glszm,
    "ngtdm": ngtdm,
}

__all__ = ["CLASSES"]
