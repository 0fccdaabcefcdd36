"""Feature classes: name (as in pyradiomics feature keys) -> module with NAME, FEATURES,
DEFAULT_ENABLED and compute(ClassInput, features), in pyradiomics' order."""

from . import firstorder, glcm, gldm, glrlm, glszm, ngtdm, shape, shape2d

CLASSES = {
    "firstorder": firstorder,
    "shape": shape,
    "shape2D": shape2d,
    "glcm": glcm,
    "glrlm": glrlm,
    "glszm": glszm,
    "gldm": gldm,
    "ngtdm": ngtdm,
}

__all__ = ["CLASSES"]
