"""medkern.ml.PCA against scikit-learn's PCA as the oracle."""

import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_diabetes  # noqa: E402
from sklearn.decomposition import PCA as SkPCA  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.linear_model import LinearRegression  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from medkern.ml import PCA  # noqa: E402


def radiomics(n=120, p=1500, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, 8))
    X = z @ rng.standard_normal((8, p)) + 0.3 * rng.standard_normal((n, p))
    return np.ascontiguousarray(X * rng.uniform(0.5, 3.0, p) + rng.uniform(-2, 2, p))


DATA = {
    "diabetes": load_diabetes(return_X_y=True)[0],
    "breast_cancer": load_breast_cancer(return_X_y=True)[0],
    "radiomics": radiomics(),
    "tall": radiomics(3000, 200, seed=1),
}


def well_separated(ev, k, gap=1e-3):
    """Indices i < k whose eigenvalue is separated from its neighbours (unique direction)."""
    out = []
    for i in range(k):
        lo = abs(ev[i] - ev[i + 1]) if i + 1 < len(ev) else np.inf
        hi = abs(ev[i] - ev[i - 1]) if i > 0 else np.inf
        if min(lo, hi) > gap * ev[0] and ev[i] > 1e-9 * ev[0]:
            out.append(i)
    return out


def compare(m, s, k):
    ev_s = s.explained_variance_
    scale = ev_s[0]
    np.testing.assert_allclose(m.explained_variance_[:k], ev_s[:k], rtol=1e-8, atol=1e-12 * scale)
    np.testing.assert_allclose(m.explained_variance_ratio_[:k], s.explained_variance_ratio_[:k],
                               rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(m.singular_values_[:k], s.singular_values_[:k], rtol=1e-8,
                               atol=1e-6 * s.singular_values_[0])
    np.testing.assert_allclose(m.mean_, s.mean_, rtol=1e-12, atol=1e-12)
    idx = well_separated(ev_s, k)
    assert idx, "no well-separated component to compare"
    # same sign rule: components equal, not just up to sign
    np.testing.assert_allclose(m.components_[idx], s.components_[idx], atol=1e-6)
    assert m.n_components_ == s.n_components_


@pytest.mark.parametrize("name", list(DATA))
@pytest.mark.parametrize("solver", ["auto", "full", "covariance_eigh"])
def test_full_matches_sklearn(name, solver):
    X = DATA[name]
    if solver == "covariance_eigh" and X.shape[1] > X.shape[0]:
        pytest.skip("covariance of 1500 features from 120 samples is not the intended use")
    m = PCA(svd_solver=solver).fit(X)
    s = SkPCA(svd_solver=solver).fit(X)
    k = min(X.shape) - 1
    compare(m, s, min(k, 50))
    assert m.noise_variance_ == pytest.approx(s.noise_variance_, rel=1e-6, abs=1e-10)


@pytest.mark.parametrize("name", list(DATA))
def test_transform_inverse_transform(name):
    X = DATA[name]
    k = min(5, min(X.shape) - 1)
    for whiten in (False, True):
        m = PCA(n_components=k, whiten=whiten, svd_solver="full").fit(X)
        s = SkPCA(n_components=k, whiten=whiten, svd_solver="full").fit(X)
        tm, ts = m.transform(X), s.transform(X)
        np.testing.assert_allclose(tm, ts, rtol=1e-6, atol=1e-8 * np.abs(ts).max())
        np.testing.assert_allclose(m.inverse_transform(tm), s.inverse_transform(ts), rtol=1e-6,
                                   atol=1e-8 * np.abs(X).max())
        np.testing.assert_allclose(m.fit_transform(X), ts, rtol=1e-6, atol=1e-8 * np.abs(ts).max())


@pytest.mark.parametrize("name", ["diabetes", "radiomics", "tall"])
def test_randomized_matches_sklearn(name):
    X = DATA[name]
    k = 4
    m = PCA(n_components=k, svd_solver="randomized", random_state=0).fit(X)
    s = SkPCA(n_components=k, svd_solver="randomized", random_state=0).fit(X)
    compare(m, s, k)
    assert m.noise_variance_ == pytest.approx(s.noise_variance_, rel=1e-8)


def test_n_components_float_mle_and_dtype():
    X = DATA["diabetes"]
    for nc in (0.9, "mle", 3):
        m, s = PCA(n_components=nc).fit(X), SkPCA(n_components=nc).fit(X)
        assert m.n_components_ == s.n_components_
        np.testing.assert_allclose(m.explained_variance_, s.explained_variance_, rtol=1e-8)
    m32 = PCA(n_components=3).fit(X.astype(np.float32))
    assert m32.components_.dtype == np.float32
    assert m32.transform(X.astype(np.float32)).dtype == np.float32
    np.testing.assert_allclose(m32.explained_variance_, SkPCA(3).fit(X).explained_variance_,
                               rtol=1e-4)
    s = SkPCA(n_components=3).fit(X)
    m = PCA(n_components=3).fit(X)
    np.testing.assert_allclose(m.score_samples(X), s.score_samples(X), rtol=1e-8)
    np.testing.assert_allclose(m.get_covariance(), s.get_covariance(), rtol=1e-8, atol=1e-14)


def test_pipeline_gridsearch_clone():
    from sklearn.datasets import load_diabetes as ld

    X, y = ld(return_X_y=True)
    pipe = make_pipeline(PCA(), LinearRegression())
    gs = GridSearchCV(pipe, {"pca__n_components": [2, 5, 8]}, cv=3).fit(X, y)
    assert gs.best_params_["pca__n_components"] in (2, 5, 8)
    assert clone(PCA(n_components=3, whiten=True)).get_params()["whiten"] is True
    names = PCA(n_components=2).fit(X).get_feature_names_out()
    assert list(names) == ["pca0", "pca1"]


def test_bad_input():
    X = DATA["diabetes"]
    with pytest.raises(ValueError, match=r"PCA: n_components=11 must be between 0 and "
                                         r"min\(n_samples, n_features\)=10"):
        PCA(n_components=11).fit(X)
    with pytest.raises(ValueError, match=r"PCA: n_components=-1 must be between 0"):
        PCA(n_components=-1).fit(X)
    with pytest.raises(ValueError, match=r"PCA: svd_solver='arpack' must be one of"):
        PCA(svd_solver="arpack").fit(X)
    with pytest.raises(ValueError, match="PCA: n_components=1.5 as a float must be in"):
        PCA(n_components=1.5).fit(X)
    with pytest.raises(ValueError, match=r"must be an int in \[1, 10\] with svd_solver='randomized'"):
        PCA(n_components=0.5, svd_solver="randomized").fit(X)
    Xn = X.copy()
    Xn[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity|NaN"):
        PCA().fit(Xn)
    with pytest.raises(NotFittedError):
        PCA().transform(X)
    m = PCA(n_components=2).fit(X)
    with pytest.raises(ValueError, match="X has 3 features, but PCA is expecting 10"):
        m.transform(X[:, :3])
    with pytest.raises(ValueError, match="inverse_transform"):
        m.inverse_transform(np.ones((2, 3)))


EXPECTED = {}


@parametrize_with_checks([PCA(), PCA(n_components=2, svd_solver="randomized", random_state=0),
                          PCA(n_components=1, whiten=True)],
                         expected_failed_checks=lambda est: EXPECTED)
def test_sklearn_compatible(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(estimator)
