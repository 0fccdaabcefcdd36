"""Feature classes: name (as in pyradiomics feature keys) -> module with NAME, FEATURES,
DEFAULT_ENABLED and compute(ClassInput, features)."""

from . import glcm, gldm, glrlm, glszm, ngtdm, shape, shape2d

# pyradiomics' class order (its feature-class modules, alphabetically); firstorder joins them
# from its own module.
CLASSES = {
    "glcm": glcm,
    "gldm": gldm,
    "glrlm": glrlm,
    "glszm": glszm,
    "ngtdm": ngtdm,
    "shape": shape,
    "shape2D": shape2d,
}

__all__ = ["CLASSES"]
