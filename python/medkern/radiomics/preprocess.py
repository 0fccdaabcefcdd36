"""Settings, input checks, preprocessing and discretization, as pyradiomics 3.1 does them.

Every step reproduces pyradiomics' ``imageoperations`` / ``featureextractor`` semantics
(normalization and resampling go through the same SimpleITK filters, the bounding box and bin
edges through the same arithmetic), so the voxels reaching the feature classes are identical.
The differences are in the checks: image/mask geometry, NaN, labels and every setting are
validated up front with errors that name the setting, the value and the rule.
"""

from __future__ import annotations

import numbers
from typing import Any, Mapping

import numpy as np

OP = "medkern.radiomics"

# pyradiomics' extractor defaults plus the feature-class / filter defaults it reads with .get().
DEFAULT_SETTINGS: dict[str, Any] = {
    "minimumROIDimensions": 2,
    "minimumROISize": None,
    "normalize": False,
    "normalizeScale": 1,
    "removeOutliers": None,
    "resampledPixelSpacing": None,
    "interpolator": "sitkBSpline",
    "preCrop": False,
    "padDistance": 5,
    "distances": [1],
    "force2D": False,
    "force2Ddimension": 0,
    "resegmentRange": None,
    "resegmentMode": "absolute",
    "resegmentShape": False,
    "label": 1,
    "label_channel": 0,
    "additionalInfo": False,
    "geometryTolerance": None,
    "correctMask": False,
    "binWidth": 25,
    "binCount": None,
    "voxelArrayShift": 0,
    "symmetricalGLCM": True,
    "weightingNorm": None,
    "gldm_a": 0,
    "sigma": [],
    "wavelet": "coif1",
    "level": 1,
    "start_level": 0,
    "gradientUseSpacing": True,
}

_INTERPOLATORS = ("sitkNearestNeighbor", "sitkLinear", "sitkBSpline", "sitkGaussian",
                  "sitkLabelGaussian", "sitkHammingWindowedSinc", "sitkCosineWindowedSinc",
                  "sitkWelchWindowedSinc", "sitkLanczosWindowedSinc", "sitkBlackmanWindowedSinc")


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))


def _is_real(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))


def _fail(name, value, rule):
    raise ValueError(f"{OP}: setting {name}={value!r} is invalid: {rule}")


def _check_num(name, v, *, integer=False, low=None, low_ex=None, high=None, none_ok=False):
    if v is None and none_ok:
        return
    if not (_is_int(v) if integer else _is_real(v)):
        _fail(name, v, "must be an integer" if integer else "must be a number")
    if not np.isfinite(v):
        _fail(name, v, "must be finite")
    if low is not None and v < low:
        _fail(name, v, f"must be >= {low}")
    if low_ex is not None and v <= low_ex:
        _fail(name, v, f"must be > {low_ex}")
    if high is not None and v > high:
        _fail(name, v, f"must be <= {high}")


def _check_bool(name, v):
    if not isinstance(v, (bool, np.bool_)):
        _fail(name, v, "must be True or False")


def _check_seq(name, v, *, none_ok=True, **num):
    if v is None and none_ok:
        return
    if isinstance(v, (str, bytes)) or not hasattr(v, "__len__"):
        _fail(name, v, "must be a list of numbers")
    for x in v:
        _check_num(name, x, **num)


def _check_interpolator(name, v):
    if isinstance(v, str):
        if v not in _INTERPOLATORS:
            _fail(name, v, f"must be one of {list(_INTERPOLATORS)} or an integer 1..10")
    elif _is_int(v):
        if not 1 <= v <= 10:
            _fail(name, v, "an integer interpolator must be in 1..10")
    elif v is not None:
        _fail(name, v, "must be a SimpleITK interpolator name or an integer 1..10")


def _check_wavelet(name, v):
    import pywt

    if not isinstance(v, str) or v not in pywt.wavelist():
        _fail(name, v, "must be a discrete wavelet name known to PyWavelets (pywt.wavelist())")


def _check_weighting(name, v):
    if v is not None and v not in ("euclidean", "manhattan", "infinity", "no_weighting"):
        _fail(name, v, "must be None, 'euclidean', 'manhattan', 'infinity' or 'no_weighting'")


_VALIDATORS = {
    "minimumROIDimensions": lambda n, v: _check_num(n, v, integer=True, low=1, high=3),
    "minimumROISize": lambda n, v: _check_num(n, v, integer=True, low_ex=0, none_ok=True),
    "geometryTolerance": lambda n, v: _check_num(n, v, low_ex=0, none_ok=True),
    "correctMask": _check_bool,
    "additionalInfo": _check_bool,
    "label": lambda n, v: _check_num(n, v, integer=True, low_ex=0),
    "label_channel": lambda n, v: _check_num(n, v, integer=True, low=0),
    "binWidth": lambda n, v: _check_num(n, v, low_ex=0),
    "binCount": lambda n, v: _check_num(n, v, integer=True, low_ex=0, none_ok=True),
    "normalize": _check_bool,
    "normalizeScale": lambda n, v: _check_num(n, v, low_ex=0),
    "removeOutliers": lambda n, v: _check_num(n, v, low_ex=0, none_ok=True),
    "resampledPixelSpacing": lambda n, v: _check_seq(n, v, low=0),
    "interpolator": _check_interpolator,
    "padDistance": lambda n, v: _check_num(n, v, integer=True, low=0),
    "distances": lambda n, v: _check_seq(n, v, none_ok=False, integer=True, low_ex=0),
    "force2D": _check_bool,
    "force2Ddimension": lambda n, v: _check_num(n, v, integer=True, low=0, high=2),
    "resegmentRange": lambda n, v: _check_seq(n, v),
    "resegmentMode": lambda n, v: v in ("absolute", "relative", "sigma") or _fail(
        n, v, "must be 'absolute', 'relative' or 'sigma'"),
    "resegmentShape": _check_bool,
    "preCrop": _check_bool,
    "sigma": lambda n, v: _check_seq(n, v, none_ok=False, low_ex=0),
    "start_level": lambda n, v: _check_num(n, v, integer=True, low=0),
    "level": lambda n, v: _check_num(n, v, integer=True, low_ex=0),
    "wavelet": _check_wavelet,
    "gradientUseSpacing": _check_bool,
    "voxelArrayShift": lambda n, v: _check_num(n, v),
    "symmetricalGLCM": _check_bool,
    "weightingNorm": _check_weighting,
    "gldm_a": lambda n, v: _check_num(n, v, integer=True, low=0),
}

KNOWN_SETTINGS = frozenset(_VALIDATORS)


def validate_settings(settings: Mapping[str, Any]) -> None:
    """Reject unknown setting names and values outside pyradiomics' parameter schema."""
    for name, value in settings.items():
        if name not in _VALIDATORS:
            close = [k for k in KNOWN_SETTINGS if k.lower() == str(name).lower()]
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"{OP}: unknown setting {name!r}{hint}; known settings: "
                             f"{sorted(KNOWN_SETTINGS)}")
        _VALIDATORS[name](name, value)
    rr = settings.get("resegmentRange")
    if rr is not None and not 1 <= len(rr) <= 2:
        _fail("resegmentRange", rr, "must hold one or two thresholds")


# ---------------------------------------------------------------------------------------------
# Input conversion and geometry checks
# ---------------------------------------------------------------------------------------------

def _sitk():
    try:
        import SimpleITK as sitk
    except ImportError as e:  # pragma: no cover - SimpleITK is a declared optional dependency
        raise ImportError(f"{OP}: SimpleITK is required for radiomics preprocessing "
                          "(pip install SimpleITK)") from e
    return sitk


def _is_sitk(x) -> bool:
    return type(x).__name__ == "Image" and type(x).__module__.startswith("SimpleITK")


def to_sitk(image, mask, spacing=None, origin=None):
    """(image, mask) as SimpleITK images. numpy inputs are (z, y, x) / (y, x) arrays with
    ``spacing`` in (x, y, z) order; a numpy mask next to a SimpleITK image takes its geometry."""
    sitk = _sitk()
    img_is, msk_is = _is_sitk(image), _is_sitk(mask)
    if not img_is:
        arr = np.asarray(image)
        if arr.ndim not in (2, 3):
            raise ValueError(f"{OP}: image must be a 2-D (y, x) or 3-D (z, y, x) array, got "
                             f"shape {arr.shape}")
        if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.number) or \
                np.iscomplexobj(arr):
            raise TypeError(f"{OP}: image dtype {arr.dtype} is not a real numeric type")
        if spacing is None:
            raise ValueError(f"{OP}: a numpy image needs spacing=(x, y[, z]) in mm")
        sp = _check_geometry_vector("spacing", spacing, arr.ndim, positive=True)
        img = sitk.GetImageFromArray(np.ascontiguousarray(arr))
        img.SetSpacing(sp)
        if origin is not None:
            img.SetOrigin(_check_geometry_vector("origin", origin, arr.ndim))
    else:
        img = image
        if spacing is not None or origin is not None:
            raise ValueError(f"{OP}: spacing/origin apply to numpy input only; a SimpleITK "
                             "image carries its own geometry")
    if not msk_is:
        m = np.asarray(mask)
        if m.dtype != np.bool_ and not np.issubdtype(m.dtype, np.integer):
            if not np.issubdtype(m.dtype, np.floating) or not np.all(np.isfinite(m)) or \
                    np.any(m != np.round(m)):
                raise TypeError(f"{OP}: mask must hold integer labels (dtype {m.dtype})")
        if np.issubdtype(m.dtype, np.signedinteger) or np.issubdtype(m.dtype, np.floating):
            if m.size and m.min() < 0:
                raise ValueError(f"{OP}: mask labels must be >= 0 (found {m.min()})")
        if m.shape != tuple(reversed(img.GetSize())):
            raise ValueError(f"{OP}: image and mask sizes differ: image (z, y, x) "
                             f"{tuple(reversed(img.GetSize()))}, mask {m.shape}")
        msk = sitk.GetImageFromArray(np.ascontiguousarray(m.astype(np.uint32, copy=False)))
        msk.CopyInformation(img)
    else:
        msk = mask
    return img, msk


def _check_geometry_vector(name, v, nd, positive=False):
    try:
        t = tuple(float(x) for x in v)
    except TypeError:
        raise ValueError(f"{OP}: {name}={v!r} must be a sequence of {nd} numbers") from None
    if len(t) != nd or not all(np.isfinite(t)) or (positive and min(t) <= 0):
        raise ValueError(f"{OP}: {name}={v!r} must hold {nd} finite"
                         f"{' positive' if positive else ''} numbers (x, y[, z] order)")
    return t


def check_geometry(image, mask, settings) -> bool:
    """True when image and mask share size, spacing, origin and direction (within SimpleITK's
    default tolerance or ``geometryTolerance``). Otherwise a ValueError, unless ``correctMask``
    asks for the mask to be resampled onto the image grid (pyradiomics' _correctMask)."""
    tol = settings.get("geometryTolerance") or 1e-6
    nd_i, nd_m = image.GetDimension(), mask.GetDimension()
    if nd_i != nd_m:
        raise ValueError(f"{OP}: image is {nd_i}-D but mask is {nd_m}-D")
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise ValueError(f"{OP}: the image must be scalar (found "
                         f"{image.GetNumberOfComponentsPerPixel()} components per pixel)")
    sp_i, sp_m = np.array(image.GetSpacing()), np.array(mask.GetSpacing())
    problems = []
    if image.GetSize() != mask.GetSize():
        problems.append(f"size {image.GetSize()} vs {mask.GetSize()}")
    scale = tol * float(sp_i[0])
    if np.any(np.abs(sp_i - sp_m) > scale):
        problems.append(f"spacing {tuple(sp_i)} vs {tuple(sp_m)}")
    if np.any(np.abs(np.array(image.GetOrigin()) - np.array(mask.GetOrigin())) > scale):
        problems.append(f"origin {image.GetOrigin()} vs {mask.GetOrigin()}")
    if np.any(np.abs(np.array(image.GetDirection()) - np.array(mask.GetDirection())) > tol):
        problems.append(f"direction {image.GetDirection()} vs {mask.GetDirection()}")
    if not problems:
        return True
    if settings.get("correctMask"):
        return False
    raise ValueError(f"{OP}: image and mask geometry differ ({'; '.join(problems)}); resample "
                     "the mask onto the image grid or set correctMask=True")


def _integer_pixels():
    try:
        sitk = _sitk()
    except ImportError:  # pragma: no cover
        return frozenset()
    return frozenset(getattr(sitk, f"sitk{t}") for t in (
        "UInt8", "Int8", "UInt16", "Int16", "UInt32", "Int32", "UInt64", "Int64"))


_INTEGER_PIXELS = _integer_pixels()


def get_mask(mask, settings):
    """pyradiomics getMask: a vector segmentation's channel, cast to UInt32, label present."""
    sitk = _sitk()
    label = settings["label"]
    if "vector" in mask.GetPixelIDTypeAsString().lower():
        n = mask.GetNumberOfComponentsPerPixel()
        ch = settings["label_channel"]
        if ch >= n:
            raise ValueError(f"{OP}: label_channel={ch} requested but the segmentation holds "
                             f"{n} channels")
        sel = sitk.VectorIndexSelectionCastImageFilter()
        sel.SetIndex(int(ch))
        mask = sel.Execute(mask)
    if mask.GetPixelID() not in _INTEGER_PIXELS:  # integer labels compare as they are
        mask = sitk.Cast(mask, sitk.sitkUInt32)
    arr = sitk.GetArrayViewFromImage(mask)
    if not (arr == label).any():
        if not arr.any():
            raise ValueError(f"{OP}: the mask is empty (no voxel is segmented)")
        labels = np.unique(arr)
        raise ValueError(f"{OP}: label {label} is not present in the mask; labels present: "
                         f"{labels[labels != 0].tolist()}")
    return mask


def check_finite(image):
    arr = _sitk().GetArrayViewFromImage(image)
    # One summing pass: NaN or inf anywhere makes the sum non-finite (a finite sum proves
    # there is none); only then the exact, allocating check.
    if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr.sum()) and \
            not np.isfinite(arr).all():
        n = int(np.count_nonzero(~np.isfinite(arr)))
        raise ValueError(f"{OP}: the image contains {n} NaN or infinite voxel(s); replace them "
                         "before extraction")


# ---------------------------------------------------------------------------------------------
# Normalization, resampling, bounding box, resegmentation
# ---------------------------------------------------------------------------------------------

def normalize_image(image, settings):
    """pyradiomics normalizeImage: z-score (SimpleITK Normalize), clip at +-removeOutliers,
    times normalizeScale."""
    sitk = _sitk()
    image = sitk.Normalize(image)
    outliers = settings.get("removeOutliers")
    if outliers is not None:
        arr = sitk.GetArrayFromImage(image)
        arr[arr > outliers] = outliers
        arr[arr < -outliers] = -outliers
        new = sitk.GetImageFromArray(arr)
        new.CopyInformation(image)
        image = new
    return image * settings.get("normalizeScale", 1)


def label_bbox_size(mask_arr_view, label):
    """SimpleITK LabelShapeStatistics bounding box: (index x, y, z ..., size x, y, z ...)."""
    sel = mask_arr_view == label
    nd = sel.ndim
    # Two passes over the volume: the first axis' projection, and the rest collapsed onto
    # the remaining axes (whose own projections are small).
    first = sel.reshape(sel.shape[0], -1).any(1)
    if not first.any():
        raise ValueError(f"{OP}: label {label} is not present in the mask")
    rest = sel.any(0)
    projs = [first] + [rest.any(axis=tuple(a for a in range(nd - 1) if a != ax))
                       for ax in range(nd - 1)]
    lo, hi = [], []
    for proj in projs:
        idx = np.flatnonzero(proj)
        lo.append(int(idx[0]))
        hi.append(int(idx[-1]))
    lo, hi = lo[::-1], hi[::-1]  # numpy (z, y, x) -> SimpleITK (x, y, z)
    return np.array(lo + [h - l + 1 for l, h in zip(lo, hi)]), sel


def _check_roi(image, mask, label):
    """pyradiomics _checkROI: the label's bounding box must lie inside the image space."""
    sitk = _sitk()
    arr = sitk.GetArrayViewFromImage(mask)
    if not (arr == label).any():
        raise ValueError(f"{OP}: label {label} is not present in the mask")
    bb, _ = label_bbox_size(arr, label)
    nd = mask.GetDimension()
    b0 = mask.TransformContinuousIndexToPhysicalPoint((bb[:nd] - 0.5).tolist())
    b1 = mask.TransformContinuousIndexToPhysicalPoint((bb[:nd] + bb[nd:] - 0.5).tolist())
    b0 = image.TransformPhysicalPointToContinuousIndex(b0)
    b1 = image.TransformPhysicalPointToContinuousIndex(b1)
    tol = 0.001
    if np.any(np.min([b0, b1], axis=0) < -0.5 - tol) or \
            np.any(np.max([b0, b1], axis=0) > np.array(image.GetSize()) - 0.5 + tol):
        raise ValueError(f"{OP}: the bounding box of the ROI {b0}..{b1} (image index space) "
                         f"exceeds the image of size {image.GetSize()}")
    return bb


def crop(image, mask, bbox, pad):
    """pyradiomics cropToTumorMask: crop both to bbox (low/high pairs, x y z) +- pad."""
    sitk = _sitk()
    size = np.array(mask.GetSize())
    lo = np.maximum(bbox[0::2] - pad, 0)
    hi = np.maximum(size - bbox[1::2] - pad - 1, 0)
    f = sitk.CropImageFilter()
    f.SetLowerBoundaryCropSize([int(x) for x in lo])
    f.SetUpperBoundaryCropSize([int(x) for x in hi])
    return f.Execute(image), f.Execute(mask)


def resample(image, mask, settings):
    """pyradiomics resampleImage, step for step (same SimpleITK calls and grid arithmetic)."""
    sitk = _sitk()
    spacing_new = settings["resampledPixelSpacing"]
    interpolator = settings.get("interpolator", "sitkBSpline")
    pad = settings.get("padDistance", 5)
    label = int(settings["label"])
    mask_sp = np.array(mask.GetSpacing())
    image_sp = np.array(image.GetSpacing())
    nd = len(mask_sp)
    if len(spacing_new) != nd:
        raise ValueError(f"{OP}: resampledPixelSpacing={list(spacing_new)} has "
                         f"{len(spacing_new)} values; the image is {nd}-D")
    spacing_new = np.array(spacing_new, dtype=float)
    spacing_new = np.where(spacing_new == 0, mask_sp, spacing_new)
    bb = _check_roi(image, mask, label)
    mask_size = np.array(mask.GetSize())
    spacing_new = np.where(bb[nd:] != 1, spacing_new, mask_sp)
    if np.allclose(image_sp, spacing_new):
        rif = sitk.ResampleImageFilter()
        rif.SetReferenceImage(image)
        rif.SetInterpolator(sitk.sitkNearestNeighbor)
        mask = rif.Execute(mask)
        bb, _ = label_bbox_size(sitk.GetArrayViewFromImage(mask), label)
        low_up = np.empty(nd * 2, dtype=int)
        low_up[::2] = bb[:nd]
        low_up[1::2] = bb[:nd] + bb[nd:] - 1
        return crop(image, mask, low_up, pad)
    ratio = mask_sp / spacing_new
    lb = np.floor((bb[:nd] - 0.5) * ratio - pad)
    ub = np.ceil((bb[:nd] + bb[nd:] - 0.5) * ratio + pad)
    max_ub = np.ceil(mask_size * ratio) - 1
    lb = np.where(lb < 0, 0, lb)
    ub = np.where(ub > max_ub, max_ub, ub)
    new_size = np.array(ub - lb + 1, dtype="int").tolist()
    orig_lb = lb / ratio
    origin_index = np.array(0.5 * (spacing_new - mask_sp) / mask_sp)
    new_origin = mask.TransformContinuousIndexToPhysicalPoint((origin_index + orig_lb).tolist())
    if isinstance(interpolator, str):
        interpolator = getattr(sitk, interpolator)
    rif = sitk.ResampleImageFilter()
    rif.SetOutputSpacing(spacing_new.tolist())
    rif.SetOutputDirection(mask.GetDirection())
    rif.SetSize(new_size)
    rif.SetOutputOrigin(new_origin)
    rif.SetOutputPixelType(image.GetPixelID())
    rif.SetInterpolator(interpolator)
    new_image = rif.Execute(image)
    rif.SetOutputPixelType(mask.GetPixelID())
    rif.SetInterpolator(sitk.sitkNearestNeighbor)
    new_mask = rif.Execute(mask)
    return new_image, new_mask


def check_mask(image, mask, settings):
    """pyradiomics checkMask: the label's bounding box as (low, high) pairs in x, y, z order,
    after the dimension / size rules; returns (bbox, mask) with mask possibly corrected."""
    sitk = _sitk()
    label = int(settings["label"])
    if mask.GetSize() != image.GetSize() or not _same_space(image, mask, settings):
        if not settings.get("correctMask"):
            raise ValueError(f"{OP}: image and mask geometry differ after preprocessing")
        _check_roi(image, mask, label)
        rif = sitk.ResampleImageFilter()
        rif.SetReferenceImage(image)
        rif.SetInterpolator(sitk.sitkNearestNeighbor)
        mask = rif.Execute(mask)
    bb, sel = label_bbox_size(sitk.GetArrayViewFromImage(mask), label)
    nd = mask.GetDimension()
    bbox = np.empty(2 * nd, dtype=np.int64)
    bbox[0::2] = bb[:nd]
    bbox[1::2] = bb[:nd] + bb[nd:] - 1
    ndims = int(np.sum(bb[nd:] > 1))
    min_dims = settings.get("minimumROIDimensions", 2)
    if ndims == 0:
        raise ValueError(f"{OP}: the ROI (label {label}) is a single voxel; features need more")
    if ndims < min_dims:
        raise ValueError(f"{OP}: the ROI (label {label}) extends in {ndims} dimension(s), "
                         f"minimumROIDimensions={min_dims}")
    min_size = settings.get("minimumROISize")
    if min_size is not None:
        n = int(np.count_nonzero(sel))
        if n <= min_size:
            raise ValueError(f"{OP}: the ROI (label {label}) has {n} voxels; "
                             f"minimumROISize={min_size} requires more than that")
    return bbox, mask


def _same_space(a, b, settings):
    tol = (settings.get("geometryTolerance") or 1e-6) * a.GetSpacing()[0]
    return (np.allclose(a.GetSpacing(), b.GetSpacing(), rtol=0, atol=tol)
            and np.allclose(a.GetOrigin(), b.GetOrigin(), rtol=0, atol=tol)
            and np.allclose(a.GetDirection(), b.GetDirection(), rtol=0,
                            atol=settings.get("geometryTolerance") or 1e-6))


def resegment(image, mask, settings):
    """pyradiomics resegmentMask: keep ROI voxels within the (absolute / relative / sigma)
    range; returns the new mask image."""
    sitk = _sitk()
    rng = settings["resegmentRange"]
    mode = settings.get("resegmentMode", "absolute")
    label = settings["label"]
    im = sitk.GetArrayViewFromImage(image)
    ma = sitk.GetArrayFromImage(mask) == label
    if mode == "absolute":
        th = sorted(rng)
    elif mode == "relative":
        mx = np.max(im[ma])
        th = [mx * t for t in sorted(rng)]
    else:
        mean, sd = np.mean(im[ma]), np.std(im[ma])
        th = [mean + sd * t for t in sorted(rng)]
    ma[ma] = im[ma] >= th[0]
    if len(th) == 2:
        ma[ma] = im[ma] <= th[1]
    n = int(np.sum(ma))
    if n <= 1:
        raise ValueError(f"{OP}: resegmentRange={list(rng)} ({mode}) keeps {n} voxel(s) of "
                         f"label {label}; features need at least 2")
    new = np.zeros(ma.shape, dtype=np.uint32)
    new[ma] = label
    out = sitk.GetImageFromArray(new)
    out.CopyInformation(mask)
    return out


# ---------------------------------------------------------------------------------------------
# Discretization
# ---------------------------------------------------------------------------------------------

def bin_edges(values: np.ndarray, settings: Mapping[str, Any]):
    """pyradiomics getBinEdges: binCount equal-width bins over [min, max] (last edge + 1), or
    edges every binWidth starting at min - (min mod binWidth). ``values`` keep the image's
    own dtype so the edge arithmetic matches pyradiomics bit for bit."""
    bin_count = settings.get("binCount")
    if bin_count is not None:
        edges = np.histogram(values, bin_count)[1]
        edges[-1] += 1
        return edges
    width = settings.get("binWidth", 25)
    lo, hi = values.min(), values.max()
    low = lo - lo % width
    high = hi + 2 * width
    edges = np.arange(low, high, width)
    if len(edges) == 1:
        edges = np.array([edges[0] - 0.5, edges[0] + 0.5])
    return edges


def discretize(image: np.ndarray, mask: np.ndarray, settings: Mapping[str, Any]) -> np.ndarray:
    """pyradiomics binImage over the ROI: int32 gray levels 1..Ng inside, 0 outside."""
    out = np.zeros(image.shape, dtype=np.int32)
    vals = image[mask]
    edges = bin_edges(vals, settings)
    out[mask] = np.digitize(vals, edges)
    return out
