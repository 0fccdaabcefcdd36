"""medkern.radiomics.FeatureExtractor end to end against pyradiomics 3.1 (the `radiomics`
package): every default feature of every class, image type Original and LoG, under several
settings, on generated phantoms and pydicom's bundled CT and MR slices; batches; bad input."""

import logging

import numpy as np
import pytest

radiomics = pytest.importorskip("radiomics")
sitk = pytest.importorskip("SimpleITK")
from radiomics import featureextractor  # noqa: E402

from medkern.radiomics import FeatureExtractor, extract_many  # noqa: E402

logging.getLogger("radiomics").setLevel(logging.ERROR)


def _phantom(kind, seed=0):
    """(SimpleITK image, SimpleITK mask) with anisotropic spacing and textured intensities."""
    rng = np.random.default_rng(seed)
    if kind == "ellipsoid":
        shape, spacing = (20, 36, 40), (0.8, 0.9, 2.0)
        zz, yy, xx = np.mgrid[:shape[0], :shape[1], :shape[2]]
        m = ((zz - 10) / 7) ** 2 + ((yy - 18) / 12) ** 2 + ((xx - 20) / 13) ** 2 < 1
    elif kind == "irregular":
        shape, spacing = (16, 30, 30), (1.1, 0.7, 1.5)
        m = rng.random(shape) < 0.35
        m[:, :5] = False
        m[3:13, 8:24, 6:26] |= rng.random((10, 16, 20)) < 0.8
    elif kind == "small":
        shape, spacing = (8, 12, 12), (0.5, 0.5, 3.0)
        m = np.zeros(shape, bool)
        m[3:6, 4:8, 5:9] = True
    else:  # 2-D slice stored as a one-slice volume
        shape, spacing = (1, 48, 40), (0.6, 0.8, 1.0)
        yy, xx = np.mgrid[:48, :40]
        m = (((yy - 24) / 15) ** 2 + ((xx - 20) / 12) ** 2 < 1)[None]
    base = rng.normal(100, 25, shape)
    texture = 40 * np.sin(np.arange(shape[-1]) / 2.0)[None, None, :]
    img = sitk.GetImageFromArray((base + texture).astype(np.float64))
    img.SetSpacing(spacing)
    msk = sitk.GetImageFromArray(m.astype(np.uint8))
    msk.CopyInformation(img)
    return img, msk


def _compare(ref, got):
    ref = {k: float(v) for k, v in ref.items() if not k.startswith("diagnostics_")}
    got = {k: float(v) for k, v in got.items() if not k.startswith("diagnostics_")}
    assert set(got) == set(ref), (sorted(set(ref) - set(got))[:5], sorted(set(got) - set(ref))[:5])
    bad = [(k, got[k], v) for k, v in ref.items()
           if not (abs(got[k] - v) <= 1e-9 or abs(got[k] - v) <= 1e-6 * abs(v))]
    assert not bad, bad[:5]
    return len(ref)


@pytest.mark.parametrize("kind,settings", [
    ("ellipsoid", {"binWidth": 10}),
    ("ellipsoid", {"binCount": 32, "normalize": True}),
    ("irregular", {"binWidth": 5, "resampledPixelSpacing": [1, 1, 1]}),
    ("irregular", {"binWidth": 10, "force2D": True}),
    ("small", {"binWidth": 8, "minimumROISize": 5}),
    ("slice", {"binWidth": 10, "force2D": True}),
])
def test_execute_matches_pyradiomics(kind, settings):
    img, msk = _phantom(kind)
    ref = featureextractor.RadiomicsFeatureExtractor(**settings).execute(img, msk)
    got = FeatureExtractor(**settings).execute(img, msk)
    assert _compare(ref, got) > 30


def test_log_image_type_matches_pyradiomics():
    img, msk = _phantom("ellipsoid", seed=3)
    ref_x = featureextractor.RadiomicsFeatureExtractor(binWidth=10)
    ref_x.enableImageTypeByName("LoG", customArgs={"sigma": [1.0, 2.0]})
    ref_x.disableAllFeatures()
    ref_x.enableFeatureClassByName("firstorder")
    ref_x.enableFeatureClassByName("glcm")
    got_x = FeatureExtractor(binWidth=10)
    got_x.enableImageTypeByName("LoG", customArgs={"sigma": [1.0, 2.0]})
    got_x.disableAllFeatures()
    got_x.enableFeatureClassByName("firstorder")
    got_x.enableFeatureClassByName("glcm")
    got = got_x.execute(img, msk)
    assert any(k.startswith("log-sigma-1-0-mm-3D_") for k in got)
    _compare(ref_x.execute(img, msk), got)


def test_numpy_input_equals_simpleitk_input():
    img, msk = _phantom("ellipsoid", seed=5)
    a = FeatureExtractor(binWidth=10).execute(img, msk)
    b = FeatureExtractor(binWidth=10).execute(sitk.GetArrayFromImage(img),
                                              sitk.GetArrayFromImage(msk),
                                              spacing=img.GetSpacing())
    _compare(a, b)


@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small.dcm"])
def test_pydicom_slices_match_pyradiomics(name):
    pydicom = pytest.importorskip("pydicom")
    from pydicom.data import get_testdata_file

    ds = pydicom.dcmread(get_testdata_file(name))
    arr = ds.pixel_array.astype(np.float64)[None]
    mask = np.zeros(arr.shape, np.uint8)
    h, w = arr.shape[1:]
    mask[0, h // 4:3 * h // 4, w // 4:3 * w // 4] = 1
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing((float(ds.PixelSpacing[1]), float(ds.PixelSpacing[0]), 1.0))
    msk = sitk.GetImageFromArray(mask)
    msk.CopyInformation(img)
    settings = {"binCount": 32, "force2D": True}
    ref = featureextractor.RadiomicsFeatureExtractor(**settings).execute(img, msk)
    _compare(ref, FeatureExtractor(**settings).execute(img, msk))


def test_extract_many_records_failures_per_case():
    pytest.importorskip("pandas")
    good = _phantom("small", seed=1)
    img, _ = good
    empty = sitk.Image(img.GetSize(), sitk.sitkUInt8)
    empty.CopyInformation(img)
    df = extract_many([good, (img, empty), good], FeatureExtractor(binWidth=8), n_jobs=2,
                      progress=False)
    assert len(df) == 3
    errors = [c for c in df.columns if "error" in c.lower()]
    assert errors, df.columns[:5]
    col = errors[0]
    assert df[col].isna().iloc[0] or not df[col].iloc[0]
    assert isinstance(df[col].iloc[1], str) and df[col].iloc[1]
    first = [c for c in df.columns if c.startswith("original_firstorder_Mean")][0]
    assert df[first].iloc[0] == pytest.approx(df[first].iloc[2])


def test_bad_input_errors():
    img, msk = _phantom("small", seed=2)
    ex = FeatureExtractor(binWidth=8)
    with pytest.raises(ValueError, match="binWidth"):
        FeatureExtractor(binWidth=0).execute(img, msk)
    with pytest.raises(ValueError):
        FeatureExtractor(notASetting=1)
    with pytest.raises(ValueError):
        ex.enableFeaturesByName(glcm=["NotAFeature"])
    other = sitk.GetImageFromArray(np.zeros((8, 12, 13), np.uint8))
    with pytest.raises(ValueError):
        ex.execute(img, other)
    with pytest.raises(ValueError):
        ex.execute(img, msk, label=7)
    empty = sitk.Image(img.GetSize(), sitk.sitkUInt8)
    empty.CopyInformation(img)
    with pytest.raises(ValueError):
        ex.execute(img, empty)
    arr = sitk.GetArrayFromImage(img)
    arr[4, 5, 6] = np.nan
    with pytest.raises(ValueError):
        ex.execute(arr, sitk.GetArrayFromImage(msk), spacing=img.GetSpacing())
    with pytest.raises(ValueError):
        FeatureExtractor(binWidth=8, minimumROISize=10_000).execute(img, msk)


def test_select_and_model_finds_the_informative_features(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("matplotlib")
    from medkern.radiomics import select_and_model

    rng = np.random.default_rng(11)
    n = 120
    X = rng.standard_normal((n, 30))
    X[:, 5] = 7.0                                        # constant
    X[:, 6] = X[:, 0] * 2.0 + 1e-3 * rng.standard_normal(n)  # duplicate of feature 0
    logit = 2.5 * X[:, 0] - 2.0 * X[:, 3]
    y = (logit + 0.5 * rng.standard_normal(n) > 0).astype(int)
    table = pd.DataFrame(X, columns=[f"original_f{i}" for i in range(30)])
    res = select_and_model(table, y, cv=4, figures_dir=tmp_path)
    assert "original_f5" in res.dropped_constant
    assert "original_f6" in res.dropped_correlated or "original_f0" in res.dropped_correlated
    assert "original_f3" in res.selected
    assert res.auc > 0.85
    assert len(res.fold_aucs) == 4
    for name in ("lasso_path", "coefficients", "roc"):
        assert (tmp_path / f"{name}.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="two classes"):
        select_and_model(table, np.zeros(n))
    with pytest.raises(ValueError):
        select_and_model(table, y[:10])
