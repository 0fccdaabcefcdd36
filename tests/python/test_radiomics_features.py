"""medkern.radiomics feature classes against pyradiomics' own classes on generated phantoms.

Each case builds SimpleITK image + mask, runs the pyradiomics class (the oracle) and takes the
arrays it prepared (its binned image and ROI mask) as our ClassInput, so that exactly the
feature class is compared. Tolerance: relative 1e-6, absolute 1e-9.
"""

import numpy as np
import pytest

radiomics = pytest.importorskip("radiomics")
sitk = pytest.importorskip("SimpleITK")

import logging  # noqa: E402

logging.getLogger("radiomics").setLevel(logging.ERROR)

from radiomics import glcm as r_glcm, gldm as r_gldm, glrlm as r_glrlm  # noqa: E402
from radiomics import glszm as r_glszm, ngtdm as r_ngtdm  # noqa: E402
from radiomics import shape as r_shape, shape2D as r_shape2d  # noqa: E402

from medkern.radiomics._input import ClassInput  # noqa: E402
from medkern.radiomics.features import CLASSES  # noqa: E402

ORACLE = {
    "glcm": r_glcm.RadiomicsGLCM,
    "glrlm": r_glrlm.RadiomicsGLRLM,
    "glszm": r_glszm.RadiomicsGLSZM,
    "gldm": r_gldm.RadiomicsGLDM,
    "ngtdm": r_ngtdm.RadiomicsNGTDM,
    "shape": r_shape.RadiomicsShape,
    "shape2D": r_shape2d.RadiomicsShape2D,
}
TEXTURE = ("glcm", "glrlm", "glszm", "gldm", "ngtdm")


def _smooth(a, n=2):
    for _ in range(n):
        for ax in range(a.ndim):
            a = (np.roll(a, 1, ax) + a + np.roll(a, -1, ax)) / 3
    return a


def _phantom(kind, seed=0):
    g = np.random.default_rng(seed)
    if kind == "ellipsoid3d":
        shape, spacing = (18, 30, 26), (0.8, 0.9, 2.5)
        img = 400 * _smooth(g.normal(size=shape)) + 30 * g.normal(size=shape) + 100
        z, y, x = np.meshgrid(*[np.arange(s) for s in shape], indexing="ij")
        mask = ((z - 9) / 7) ** 2 + ((y - 15) / 12) ** 2 + ((x - 13) / 10) ** 2 <= 1
    elif kind == "irregular3d":
        shape, spacing = (16, 22, 20), (1.0, 1.0, 1.0)
        img = 300 * _smooth(g.normal(size=shape), 1) + g.integers(0, 60, size=shape)
        mask = _smooth(g.normal(size=shape), 2) > 0.05
        mask[0], mask[:, 0] = False, False
    elif kind == "small3d":
        shape, spacing = (6, 7, 8), (0.5, 0.6, 1.2)
        img = g.integers(0, 200, size=shape).astype(float)
        mask = np.zeros(shape, bool)
        mask[2:4, 2:5, 3:6] = True
        mask[3, 4, 5] = False
    elif kind == "slab3d":  # one slice of ROI in a 3-D volume: edge-on angles are empty
        shape, spacing = (5, 24, 22), (0.7, 0.7, 3.0)
        img = 250 * _smooth(g.normal(size=shape), 1) + 20 * g.normal(size=shape)
        mask = np.zeros(shape, bool)
        yy, xx = np.meshgrid(np.arange(24), np.arange(22), indexing="ij")
        mask[2] = ((yy - 12) / 9) ** 2 + ((xx - 11) / 8) ** 2 <= 1
    elif kind == "slice3d":  # a 3-D image of one slice, for shape2D with force2D
        shape, spacing = (1, 30, 27), (0.6, 0.8, 2.0)
        img = 100 * g.normal(size=shape)
        yy, xx = np.meshgrid(np.arange(30), np.arange(27), indexing="ij")
        mask = ((((yy - 14) / 11) ** 2 + ((xx - 13) / 9) ** 2) <= 1)[None]
        mask &= g.random(shape) > 0.1
    elif kind == "ellipse2d":
        shape, spacing = (40, 36), (0.7, 0.55)
        img = 500 * _smooth(g.normal(size=shape), 2) + 40 * g.normal(size=shape)
        yy, xx = np.meshgrid(np.arange(40), np.arange(36), indexing="ij")
        mask = ((yy - 20) / 15) ** 2 + ((xx - 17) / 11) ** 2 <= 1
        mask &= g.random(shape) > 0.08  # holes
    else:
        raise KeyError(kind)
    image = sitk.GetImageFromArray(img.astype(np.float64))
    image.SetSpacing(spacing)
    m = sitk.GetImageFromArray(mask.astype(np.uint8))
    m.SetSpacing(spacing)
    return image, m


def _class_input(oracle, image, settings):
    disc = np.asarray(oracle.imageArray)
    mask = np.asarray(oracle.maskArray, bool)
    raw = sitk.GetArrayFromImage(image).astype(np.float64)
    if disc.ndim == 2:
        disc, mask, raw = disc[None], mask[None], raw[None]
    d = np.where(mask, disc, 0).astype(np.int32)
    return ClassInput(image=raw, mask=mask, discretized=d, spacing=tuple(image.GetSpacing()),
                      settings=dict(settings))


def _oracle_values(name, image, mask, settings, features):
    o = ORACLE[name](image, mask, **settings)
    for f in features:
        o.enableFeatureByName(f)
    return o, {k: float(v) for k, v in o.execute().items()}


def _check(name, image, mask, settings):
    mod = CLASSES[name]
    features = [f for f in mod.FEATURES if f in mod.DEFAULT_ENABLED or name.startswith("shape")]
    oracle, want = _oracle_values(name, image, mask, settings, features)
    inp = _class_input(oracle, image, settings)
    got = mod.compute(inp, features)
    assert set(got) == set(want), (set(got) ^ set(want))
    bad = []
    for k, w in want.items():
        v = got[k]
        if not (np.isclose(v, w, rtol=1e-6, atol=1e-9) or (np.isnan(v) and np.isnan(w))):
            bad.append((k, v, w))
    assert not bad, f"{name} {settings}: {bad}"


SETTINGS = [
    {"binWidth": 25},
    {"binCount": 16},
    {"binWidth": 40, "symmetricalGLCM": False, "distances": [1, 2]},
    {"binWidth": 25, "weightingNorm": "euclidean"},
    {"binWidth": 30, "weightingNorm": "manhattan", "distances": [2]},
    {"binWidth": 30, "weightingNorm": "infinity"},
    {"binWidth": 25, "force2D": True, "force2Ddimension": 0, "gldm_a": 1},
    {"binCount": 8, "gldm_a": 2},
]


@pytest.mark.parametrize("name", TEXTURE)
@pytest.mark.parametrize("kind", ["ellipsoid3d", "irregular3d", "small3d", "slab3d", "ellipse2d"])
@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: "-".join(f"{k}{v}" for k, v in s.items()))
def test_texture_matches_pyradiomics(name, kind, settings):
    if kind == "ellipse2d" and settings.get("force2D"):
        pytest.skip("force2D applies to 3-D input")
    image, mask = _phantom(kind)
    _check(name, image, mask, settings)


@pytest.mark.parametrize("name", TEXTURE)
def test_force2d_other_dimension(name):
    image, mask = _phantom("ellipsoid3d", seed=3)
    _check(name, image, mask, {"binWidth": 25, "force2D": True, "force2Ddimension": 2})


@pytest.mark.parametrize("name", TEXTURE)
def test_bad_input(name):
    mod = CLASSES[name]
    z = np.zeros((3, 4, 5), np.int32)
    inp = ClassInput(image=z.astype(float), mask=z.astype(bool), discretized=z,
                     spacing=(1.0, 1.0, 1.0), settings={})
    with pytest.raises(ValueError, match="empty"):
        mod.compute(inp, list(mod.DEFAULT_ENABLED))
    m = np.ones((3, 4, 5), bool)
    inp = ClassInput(image=z.astype(float), mask=m, discretized=z, spacing=(1.0, 1.0, 1.0),
                     settings={})
    with pytest.raises(ValueError, match=">= 1"):
        mod.compute(inp, list(mod.DEFAULT_ENABLED))
    inp = ClassInput(image=z.astype(float), mask=m[:2], discretized=z + 1,
                     spacing=(1.0, 1.0, 1.0), settings={})
    with pytest.raises(ValueError, match="shape"):
        mod.compute(inp, list(mod.DEFAULT_ENABLED))


def _shape_input(image, mask, settings):
    m = sitk.GetArrayFromImage(mask) == 1
    img = sitk.GetArrayFromImage(image).astype(np.float64)
    if m.ndim == 2:
        m, img = m[None], img[None]
    return ClassInput(image=img, mask=m, discretized=m.astype(np.int32),
                      spacing=tuple(image.GetSpacing()), settings=dict(settings))


def _check_shape(name, image, mask, settings):
    mod = CLASSES[name]
    _, want = _oracle_values(name, image, mask, settings, mod.FEATURES)
    got = mod.compute(_shape_input(image, mask, settings), mod.FEATURES)
    assert set(got) == set(want)
    bad = [(k, got[k], w) for k, w in want.items()
           if not (np.isclose(got[k], w, rtol=1e-6, atol=1e-9) or (np.isnan(got[k]) and np.isnan(w)))]
    assert not bad, f"{name}: {bad}"


@pytest.mark.parametrize("kind", ["ellipsoid3d", "irregular3d", "small3d", "slab3d"])
def test_shape_matches_pyradiomics(kind):
    image, mask = _phantom(kind)
    _check_shape("shape", image, mask, {})


def test_shape_every_cell_configuration():
    # Random speckle puts every marching-cubes configuration (and its complement) in play.
    g = np.random.default_rng(7)
    m = (g.random((9, 10, 11)) > 0.5).astype(np.uint8)
    mask = sitk.GetImageFromArray(m)
    image = sitk.GetImageFromArray(g.normal(size=m.shape))
    for img in (image, mask):
        img.SetSpacing((0.7, 1.3, 2.9))
    _check_shape("shape", image, mask, {})


@pytest.mark.parametrize("kind,settings", [("ellipse2d", {}), ("slice3d", {"force2D": True})])
def test_shape2d_matches_pyradiomics(kind, settings):
    image, mask = _phantom(kind)
    _check_shape("shape2D", image, mask, settings)


def test_shape_bad_input():
    z = np.zeros((2, 3, 4), bool)
    inp = ClassInput(image=z.astype(float), mask=z, discretized=z.astype(np.int32),
                     spacing=(1.0, 1.0, 1.0), settings={})
    with pytest.raises(ValueError, match="empty"):
        CLASSES["shape"].compute(inp, ["MeshVolume"])
    m = np.ones((2, 3, 4), bool)
    inp = ClassInput(image=z.astype(float), mask=m, discretized=m.astype(np.int32),
                     spacing=(1.0, 1.0, 1.0), settings={})
    with pytest.raises(ValueError, match="force2D"):
        CLASSES["shape2D"].compute(inp, ["Perimeter"])
    inp = ClassInput(image=z.astype(float), mask=m, discretized=m.astype(np.int32),
                     spacing=(1.0, 1.0, 1.0), settings={"force2D": True})
    with pytest.raises(ValueError, match="must be 1"):
        CLASSES["shape2D"].compute(inp, ["Perimeter"])
    inp = ClassInput(image=z.astype(float), mask=m[:1], discretized=m[:1].astype(np.int32),
                     spacing=(1.0, 1.0), settings={})
    with pytest.raises(ValueError, match="3-D image"):
        CLASSES["shape"].compute(inp, ["MeshVolume"])
