"""Derived image types, computed and named exactly as pyradiomics 3.1 does.

Each generator takes the preprocessed SimpleITK image (full extent, before the crop to the
ROI) and yields ``(image, name, settings)``; the names are the feature-key prefixes
(``original``, ``log-sigma-1-0-mm-3D``, ``wavelet-LLH``, ...).
"""

from __future__ import annotations

import logging

import numpy as np

from .preprocess import OP, _sitk

logger = logging.getLogger(__name__)


def original(image, settings):
    yield image, "original", settings


def log(image, settings):
    """Laplacian of Gaussian (SimpleITK LaplacianRecursiveGaussian, normalized across scale)
    for each sigma in mm; skipped, as pyradiomics skips it, when the image is smaller than 4
    voxels along any axis or than ceil(sigma / spacing) + 1 voxels."""
    sitk = _sitk()
    size = np.array(image.GetSize())
    spacing = np.array(image.GetSpacing())
    if np.min(size) < 4:
        logger.warning("%s: image too small (size %s) for LoG filtering", OP, size)
        return
    for sigma in settings.get("sigma", []):
        if sigma > 0.0:
            if np.all(size >= np.ceil(sigma / spacing) + 1):
                f = sitk.LaplacianRecursiveGaussianImageFilter()
                f.SetNormalizeAcrossScale(True)
                f.SetSigma(sigma)
                name = "log-sigma-%s-mm-3D" % str(sigma).replace(".", "-")
                yield f.Execute(image), name, settings
            else:
                logger.warning("%s: sigma %s mm too large for image size %s", OP, sigma, size)
        else:
            logger.warning("%s: sigma %s must be > 0, skipped", OP, sigma)


def _swt(image, axes, settings):
    """One-level stationary wavelet transforms as pyradiomics' _swt3: odd sizes wrap-padded by
    one, ``start_level`` approximations skipped, then ``level`` levels."""
    import pywt

    sitk = _sitk()
    wavelet = settings.get("wavelet", "coif1")
    level = settings.get("level", 1)
    start_level = settings.get("start_level", 0)
    matrix = np.asarray(sitk.GetArrayFromImage(image))
    shape = matrix.shape
    padding = tuple((0, 1 if d % 2 != 0 else 0) for d in shape)
    data = np.pad(matrix, padding, "wrap")
    w = wavelet if isinstance(wavelet, pywt.Wavelet) else pywt.Wavelet(wavelet)
    approx_key = "a" * len(axes)
    for _ in range(start_level):
        data = pywt.swtn(data, w, level=1, start_level=0, axes=axes)[0][approx_key].copy()
    unpad = tuple(slice(None, -1 if d % 2 != 0 else None) for d in shape)
    out = []
    approx = None
    for _ in range(start_level, start_level + level):
        dec = pywt.swtn(data, w, level=1, start_level=0, axes=axes)[0]
        data = dec[approx_key].copy()
        level_images = {}
        for key, arr in dec.items():
            if key == approx_key:
                continue
            im = sitk.GetImageFromArray(arr[unpad].copy())
            im.CopyInformation(image)
            level_images[str(key).replace("a", "L").replace("d", "H")] = im
        out.append(level_images)
    approx = sitk.GetImageFromArray(data[unpad].copy())
    approx.CopyInformation(image)
    return approx, out


def wavelet(image, settings):
    """Undecimated wavelet decompositions named wavelet-<L|H per axis, x first> (level 1) or
    waveletN-... for deeper levels; the all-low approximation comes last."""
    nd = image.GetDimension()
    axes = list(range(nd - 1, -1, -1))
    if settings.get("force2D", False):
        axes.remove(settings.get("force2Ddimension", 0))
    approx, levels = _swt(image, tuple(axes), settings)
    for idx, decs in enumerate(levels, start=1):
        for name, im in decs.items():
            yield im, ("wavelet-%s" % name if idx == 1 else "wavelet%s-%s" % (idx, name)), \
                settings
    low = "L" * len(axes)
    yield approx, ("wavelet-%s" % low if len(levels) == 1 else
                   "wavelet%s-%s" % (len(levels), low)), settings


def _from_array(arr, like):
    sitk = _sitk()
    im = sitk.GetImageFromArray(arr)
    im.CopyInformation(like)
    return im


def square(image, settings):
    im = _sitk().GetArrayFromImage(image).astype("float64")
    coeff = 1 / np.sqrt(np.max(np.abs(im)))
    yield _from_array((coeff * im) ** 2, image), "square", settings


def square_root(image, settings):
    im = _sitk().GetArrayFromImage(image).astype("float64")
    coeff = np.max(np.abs(im))
    im[im > 0] = np.sqrt(im[im > 0] * coeff)
    im[im < 0] = -np.sqrt(-im[im < 0] * coeff)
    yield _from_array(im, image), "squareroot", settings


def logarithm(image, settings):
    im = _sitk().GetArrayFromImage(image).astype("float64")
    im_max = np.max(np.abs(im))
    im[im > 0] = np.log(im[im > 0] + 1)
    im[im < 0] = -np.log(-(im[im < 0] - 1))
    im = im * (im_max / np.max(np.abs(im)))
    yield _from_array(im, image), "logarithm", settings


def exponential(image, settings):
    im = _sitk().GetArrayFromImage(image).astype("float64")
    im_max = np.max(np.abs(im))
    coeff = np.log(im_max) / im_max
    yield _from_array(np.exp(coeff * im), image), "exponential", settings


def gradient(image, settings):
    sitk = _sitk()
    f = sitk.GradientMagnitudeImageFilter()
    f.SetUseImageSpacing(settings.get("gradientUseSpacing", True))
    yield f.Execute(image), "gradient", settings


# pyradiomics image-type names -> generators (LBP2D / LBP3D are not provided).
IMAGE_TYPES = {
    "Original": original,
    "LoG": log,
    "Wavelet": wavelet,
    "Square": square,
    "SquareRoot": square_root,
    "Logarithm": logarithm,
    "Exponential": exponential,
    "Gradient": gradient,
}
