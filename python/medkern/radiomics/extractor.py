"""FeatureExtractor: pyradiomics' RadiomicsFeatureExtractor on medkern's feature classes.

Same settings, parameter files, image types, feature names and processing order as
pyradiomics 3.1 (shape on the cropped original image first, then every enabled image type x
feature class); the feature classes are whatever ``features.CLASSES`` registers.
"""

from __future__ import annotations

import collections
import copy
import os
import pathlib
from typing import Any, Mapping

import numpy as np

from . import preprocess as pp
from ._input import ClassInput
from .features import CLASSES
from .imagetypes import IMAGE_TYPES

OP = "medkern.radiomics.FeatureExtractor"

# Feature-key spelling of classes whose pyradiomics name is not lower case.
_KEY_NAMES = {"shape2d": "shape2D"}


def _key_name(cls_name: str) -> str:
    return _KEY_NAMES.get(cls_name.lower(), cls_name)


def _is_shape(cls_name: str) -> bool:
    return cls_name.lower().startswith("shape")


def _class_key(name) -> str:
    """The CLASSES key for a pyradiomics class name (``shape2D`` / ``glcm`` ...)."""
    if isinstance(name, str):
        if name in CLASSES:
            return name
        for k in CLASSES:
            if k.lower() == name.lower():
                return k
    raise ValueError(f"{OP}: unknown feature class {name!r}; available: "
                     f"{[_key_name(k) for k in CLASSES]}")


def _image_type_key(name) -> str:
    if isinstance(name, str):
        if name in IMAGE_TYPES:
            return name
        for k in IMAGE_TYPES:
            if k.lower() == name.lower():
                return k
    raise ValueError(f"{OP}: unknown or unsupported image type {name!r}; available: "
                     f"{list(IMAGE_TYPES)}")


class FeatureExtractor:
    """pyradiomics-compatible radiomics feature extraction.

    Parameters
    ----------
    params : dict, str or path, optional
        A pyradiomics parameter file (YAML or JSON) or the equivalent dict, with the sections
        ``imageType``, ``featureClass`` and ``setting``. Without it: Original image only, all
        registered classes except shape2D, default features and settings.
    **settings
        pyradiomics settings overriding the file (``binWidth=25``, ``resampledPixelSpacing``,
        ``label`` ...). Unknown names and invalid values raise ValueError.

    Deliberate differences from pyradiomics: geometry mismatches are errors (unless
    ``correctMask``) even when resampling would have hidden them; NaN images are rejected;
    settings passed as keywords are validated too; voxel-based extraction is not provided;
    diagnostics (``additionalInfo=True``) are a smaller set (settings, image and mask
    geometry, ROI voxel count) and default to off.
    """

    def __init__(self, params=None, **settings):
        self.settings: dict[str, Any] = dict(pp.DEFAULT_SETTINGS)
        self.enabledImagetypes: dict[str, dict] = {"Original": {}}
        self.enabledFeatures: dict[str, list] = {
            k: [] for k in CLASSES if k.lower() != "shape2d"}
        if params is not None:
            self._apply_params(params)
        if settings:
            pp.validate_settings(settings)
            self.settings.update(settings)

    # ---- parameters ------------------------------------------------------------------------
    def _apply_params(self, params):
        if isinstance(params, (str, os.PathLike)):
            path = pathlib.Path(params)
            if not path.is_file():
                raise ValueError(f"{OP}: parameter file {str(path)!r} does not exist")
            import yaml

            with open(path) as fh:
                params = yaml.safe_load(fh) or {}  # JSON is valid YAML
        if not isinstance(params, Mapping):
            raise TypeError(f"{OP}: params must be a dict or a YAML/JSON file path, got "
                            f"{type(params).__name__}")
        unknown = set(params) - {"imageType", "featureClass", "setting", "voxelSetting"}
        if unknown:
            raise ValueError(f"{OP}: unknown parameter section(s) {sorted(unknown)}; expected "
                             "'imageType', 'featureClass', 'setting'")
        if params.get("voxelSetting"):
            raise ValueError(f"{OP}: voxel-based extraction (voxelSetting) is not supported")
        image_types = params.get("imageType") or {}
        feature_classes = params.get("featureClass") or {}
        settings = params.get("setting") or {}
        if not isinstance(image_types, Mapping) or not isinstance(feature_classes, Mapping) \
                or not isinstance(settings, Mapping):
            raise TypeError(f"{OP}: imageType, featureClass and setting must be mappings")
        pp.validate_settings(settings)
        enabled_types = {}
        for name, custom in image_types.items():
            custom = dict(custom or {})
            pp.validate_settings(custom)
            enabled_types[_image_type_key(name)] = custom
        enabled = {}
        for name, feats in feature_classes.items():
            key = _class_key(name)
            enabled[key] = self._check_features(key, feats)
        self.enabledImagetypes = enabled_types or {"Original": {}}
        # pyradiomics: an empty featureClass section enables every class, shape2D included.
        self.enabledFeatures = enabled or {k: [] for k in CLASSES}
        self.settings = dict(pp.DEFAULT_SETTINGS)
        self.settings.update(settings)

    @staticmethod
    def _check_features(key, feats):
        if feats is None:
            return []
        if isinstance(feats, str) or not hasattr(feats, "__iter__"):
            raise TypeError(f"{OP}: features of class {_key_name(key)!r} must be a list of "
                            f"names, got {feats!r}")
        feats = list(feats)
        known = CLASSES[key].FEATURES
        bad = [f for f in feats if f not in known]
        if bad:
            raise ValueError(f"{OP}: unknown feature name(s) {bad} in class "
                             f"{_key_name(key)!r}; known: {list(known)}")
        return feats

    # ---- pyradiomics-style enable / disable ------------------------------------------------
    def enableAllImageTypes(self):
        self.enabledImagetypes = {k: {} for k in IMAGE_TYPES}

    def disableAllImageTypes(self):
        self.enabledImagetypes = {}

    def enableImageTypeByName(self, imageType, enabled=True, customArgs=None):
        key = _image_type_key(imageType)
        if enabled:
            custom = dict(customArgs or {})
            pp.validate_settings(custom)
            self.enabledImagetypes[key] = custom
        else:
            self.enabledImagetypes.pop(key, None)

    def enableImageTypes(self, **enabledImagetypes):
        for name, custom in enabledImagetypes.items():
            self.enableImageTypeByName(name, True, custom)

    def enableAllFeatures(self):
        self.enabledFeatures = {k: [] for k in CLASSES}

    def disableAllFeatures(self):
        self.enabledFeatures = {}

    def enableFeatureClassByName(self, featureClass, enabled=True):
        key = _class_key(featureClass)
        if enabled:
            self.enabledFeatures[key] = []
        else:
            self.enabledFeatures.pop(key, None)

    def enableFeaturesByName(self, **enabledFeatures):
        for name, feats in enabledFeatures.items():
            key = _class_key(name)
            self.enabledFeatures[key] = self._check_features(key, feats)

    # ---- extraction ------------------------------------------------------------------------
    def execute(self, image, mask, label=None, *, spacing=None, origin=None):
        """Features of one case as an OrderedDict keyed like pyradiomics
        (``original_firstorder_Mean``, ``wavelet-LLH_glcm_Contrast`` ...).

        ``image`` / ``mask``: SimpleITK images, file paths, or numpy arrays indexed (z, y, x)
        (2-D: (y, x)) with ``spacing`` in (x, y, z) order (and optional ``origin``).
        ``label`` overrides the ``label`` setting.
        """
        s = dict(self.settings)
        if label is not None:
            pp.validate_settings({"label": label})
            s["label"] = label
        if isinstance(image, (str, os.PathLike)) or isinstance(mask, (str, os.PathLike)):
            from .io import load

            image = load(image) if isinstance(image, (str, os.PathLike)) else image
            mask = load(mask) if isinstance(mask, (str, os.PathLike)) else mask
        img, msk = pp.to_sitk(image, mask, spacing, origin)
        pp.check_geometry(img, msk, s)
        msk = pp.get_mask(msk, s)
        pp.check_finite(img)
        return self._execute_sitk(img, msk, s)

    def _execute_sitk(self, img, msk, s):
        sitk = pp._sitk()
        label = s["label"]
        if s.get("normalize"):
            img = pp.normalize_image(img, s)
        if s.get("interpolator") is not None and s.get("resampledPixelSpacing") is not None:
            img, msk = pp.resample(img, msk, s)
        elif s.get("preCrop"):
            bb, msk = pp.check_mask(img, msk, s)
            img, msk = pp.crop(img, msk, bb, s.get("padDistance", 5))
        bbox, msk = pp.check_mask(img, msk, s)
        reseg = None
        if s.get("resegmentRange") is not None:
            reseg = pp.resegment(img, msk, s)
            bbox, _ = pp.check_mask(img, reseg, s)

        nd = img.GetDimension()
        # bbox is (low, high) pairs in x, y, z order; numpy arrays are z, y, x.
        slices = tuple(slice(int(bbox[2 * a]), int(bbox[2 * a + 1]) + 1)
                       for a in reversed(range(nd)))
        spacing = tuple(float(v) for v in img.GetSpacing()) + (1.0,) * (3 - nd)

        out = collections.OrderedDict()
        if s.get("additionalInfo"):
            out.update(self._diagnostics(img, msk, reseg, bbox, s))

        shape_mask = reseg if (s.get("resegmentShape") and reseg is not None) else msk
        shape_classes = [k for k in self.enabledFeatures if _is_shape(k)]
        if shape_classes:
            img_arr = sitk.GetArrayViewFromImage(img)
            inp = self._class_input(img_arr, sitk.GetArrayViewFromImage(shape_mask), slices,
                                    label, spacing, s, discretize=False)
            for key in shape_classes:
                if not self._shape_applies(key, nd, bbox, s):
                    continue
                self._compute(out, key, "original", inp)

        if reseg is not None and not s.get("resegmentShape"):
            msk = reseg
        mask_arr = sitk.GetArrayViewFromImage(msk)
        other = [k for k in self.enabledFeatures if not _is_shape(k)]
        for type_name, custom in self.enabledImagetypes.items():
            args = dict(s)
            args.update(custom)
            for derived, name, kw in IMAGE_TYPES[type_name](img, args):
                if not other:
                    continue
                inp = self._class_input(sitk.GetArrayViewFromImage(derived), mask_arr, slices,
                                        label, spacing, kw)
                for key in other:
                    self._compute(out, key, name, inp)
        return out

    @staticmethod
    def _shape_applies(key, nd, bbox, s):
        """pyradiomics computeShape: shape for 3-D input; shape2D for 2-D input, or for 3-D
        with force2D when the bounding box is wider than one voxel along force2Ddimension
        (counted in x, y, z order, as pyradiomics does)."""
        if key.lower() == "shape":
            return nd == 3
        if nd == 2:
            return True
        if not s.get("force2D"):
            return False
        size = bbox[1::2] - bbox[0::2] + 1
        return bool(size[s.get("force2Ddimension", 0)] > 1)

    @staticmethod
    def _class_input(arr, mask_arr, slices, label, spacing, settings, discretize=True):
        """The cropped ROI box of one image; the shape classes read only the mask."""
        native = np.asarray(arr[slices])
        roi = np.asarray(mask_arr[slices]) == label
        disc = pp.discretize(native, roi, settings) if discretize else None
        image = native.astype(np.float64) if discretize else native
        if image.ndim == 2:
            image, roi = image[None], roi[None]
            disc = disc[None] if disc is not None else None
        return ClassInput(image=image, mask=roi, discretized=disc, spacing=spacing,
                          settings=dict(settings))

    def _compute(self, out, key, type_name, inp):
        module = CLASSES[key]
        feats = self.enabledFeatures[key] or list(module.DEFAULT_ENABLED)
        values = module.compute(inp, feats)
        prefix = f"{type_name}_{_key_name(key)}_"
        for f in feats:
            out[prefix + f] = values[f]

    def _diagnostics(self, img, msk, reseg, bbox, s):
        sitk = pp._sitk()
        from .. import __version__

        arr = sitk.GetArrayViewFromImage(img)
        roi = sitk.GetArrayViewFromImage(reseg if reseg is not None else msk) == s["label"]
        return collections.OrderedDict([
            ("diagnostics_Versions_medkern", __version__),
            ("diagnostics_Configuration_Settings", copy.deepcopy(s)),
            ("diagnostics_Configuration_EnabledImageTypes",
             copy.deepcopy(self.enabledImagetypes)),
            ("diagnostics_Image-original_Dimensionality", f"{img.GetDimension()}D"),
            ("diagnostics_Image-original_Spacing", img.GetSpacing()),
            ("diagnostics_Image-original_Size", img.GetSize()),
            ("diagnostics_Image-original_Mean", float(np.mean(arr))),
            ("diagnostics_Image-original_Minimum", float(np.min(arr))),
            ("diagnostics_Image-original_Maximum", float(np.max(arr))),
            ("diagnostics_Mask-original_BoundingBox", tuple(int(v) for v in bbox)),
            ("diagnostics_Mask-original_VoxelNum", int(np.count_nonzero(roi))),
        ])

    # ---- batches ---------------------------------------------------------------------------
    def extract_many(self, cases, n_jobs=None, executor=None, progress=True,
                     prefer="processes"):
        """Run :meth:`execute` over many cases; see :func:`medkern.radiomics.extract_many`."""
        from .batch import extract_many

        return extract_many(cases, extractor=self, n_jobs=n_jobs, executor=executor,
                            progress=progress, prefer=prefer)

    def __repr__(self):
        return (f"FeatureExtractor(imageTypes={list(self.enabledImagetypes)}, "
                f"classes={[_key_name(k) for k in self.enabledFeatures]})")
