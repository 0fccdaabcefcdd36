"""medkern.ml Lasso / ElasticNet / LassoCV / ElasticNetCV against scikit-learn as the oracle."""

import subprocess
import sys
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")
from sklearn import linear_model as sk  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_diabetes  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from medkern import ml  # noqa: E402

TIGHT = dict(tol=1e-10, max_iter=200000)


def radiomics(n=120, p=1500, seed=0):
    """Radiomics-shaped data: strongly correlated features from a few latent factors."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, 8))
    X = z @ rng.standard_normal((8, p)) + 0.3 * rng.standard_normal((n, p))
    X = X * rng.uniform(0.5, 3.0, p) + rng.uniform(-2, 2, p)
    w = np.zeros(p)
    w[rng.choice(p, 6, replace=False)] = rng.standard_normal(6)
    y = X @ w + 0.5 * rng.standard_normal(n)
    return np.ascontiguousarray(X), y


def datasets():
    Xd, yd = load_diabetes(return_X_y=True)
    Xb, yb = load_breast_cancer(return_X_y=True)
    # Raw feature scales span 1e-3..1e3, which makes the oracle's coordinate descent crawl at
    # tol=1e-10; unit-variance features keep the comparison fast (both see the same data).
    Xb = Xb / Xb.std(axis=0)
    Xr, yr = radiomics()
    return {"diabetes": (Xd, yd), "breast_cancer": (Xb, yb.astype(float)),
            "radiomics": (Xr, yr)}


DATA = datasets()


def alpha_max(X, y):
    return np.max(np.abs((X - X.mean(0)).T @ (y - y.mean()))) / len(y)


def close_coefs(a, b, rel=1e-6):
    scale = max(1.0, np.max(np.abs(b)))
    np.testing.assert_allclose(a, b, rtol=0, atol=rel * scale)


@pytest.mark.parametrize("name", list(DATA))
@pytest.mark.parametrize("frac", [0.3, 0.05])
def test_lasso_matches_sklearn(name, frac):
    X, y = DATA[name]
    alpha = frac * alpha_max(X, y)
    m = ml.Lasso(alpha=alpha, **TIGHT).fit(X, y)
    s = sk.Lasso(alpha=alpha, **TIGHT).fit(X, y)
    close_coefs(m.coef_, s.coef_)
    assert m.intercept_ == pytest.approx(s.intercept_, rel=1e-6, abs=1e-6)
    np.testing.assert_allclose(m.predict(X), s.predict(X), rtol=1e-6, atol=1e-6 * np.std(y))


@pytest.mark.parametrize("precompute", [True, False, "auto"])
@pytest.mark.parametrize("l1_ratio", [0.2, 0.7])
def test_elastic_net_and_positive_match_sklearn(precompute, l1_ratio):
    X, y = DATA["diabetes"]
    for positive in (False, True):
        m = ml.ElasticNet(alpha=0.01, l1_ratio=l1_ratio, positive=positive,
                          precompute=precompute, **TIGHT).fit(X, y)
        s = sk.ElasticNet(alpha=0.01, l1_ratio=l1_ratio, positive=positive, **TIGHT).fit(X, y)
        close_coefs(m.coef_, s.coef_)
        if positive:
            assert np.all(m.coef_ >= 0)


def test_random_selection_and_warm_start():
    X, y = DATA["diabetes"]
    s = sk.Lasso(alpha=0.05, **TIGHT).fit(X, y)
    m = ml.Lasso(alpha=0.05, selection="random", random_state=3, **TIGHT).fit(X, y)
    close_coefs(m.coef_, s.coef_)
    w = ml.Lasso(alpha=0.5, warm_start=True, **TIGHT).fit(X, y)
    w.set_params(alpha=0.05).fit(X, y)
    close_coefs(w.coef_, s.coef_)


def test_no_intercept_and_float32():
    X, y = DATA["diabetes"]
    m = ml.Lasso(alpha=0.02, fit_intercept=False, **TIGHT).fit(X, y)
    s = sk.Lasso(alpha=0.02, fit_intercept=False, **TIGHT).fit(X, y)
    close_coefs(m.coef_, s.coef_)
    assert m.intercept_ == 0.0
    m32 = ml.Lasso(alpha=0.02, tol=1e-6).fit(X.astype(np.float32), y.astype(np.float32))
    s64 = sk.Lasso(alpha=0.02, **TIGHT).fit(X, y)
    assert m32.coef_.dtype == np.float32
    np.testing.assert_allclose(m32.coef_, s64.coef_, rtol=1e-3, atol=1e-3 * np.abs(s64.coef_).max())


def test_lasso_path_matches_sklearn():
    X, y = DATA["diabetes"]
    Xc, yc = X - X.mean(0), y - y.mean()
    a1, c1, _ = ml.lasso_path(Xc, yc, n_alphas=30, tol=1e-10, max_iter=100000)
    a2, c2, _ = sk.lasso_path(Xc, yc, alphas=30, tol=1e-10, max_iter=100000)
    np.testing.assert_allclose(a1, a2, rtol=1e-12)
    assert c1.shape == c2.shape == (10, 30)
    close_coefs(c1, c2)


@pytest.mark.parametrize("name", list(DATA))
def test_lassocv_same_alpha(name):
    X, y = DATA[name]
    kw = dict(cv=5, tol=1e-8, max_iter=100000)
    if name == "radiomics":
        kw.update(alphas=40, eps=1e-2)
    m = ml.LassoCV(**kw).fit(X, y)
    s = sk.LassoCV(**kw).fit(X, y)
    assert m.alpha_ == pytest.approx(s.alpha_, rel=1e-12)
    np.testing.assert_allclose(m.alphas_, s.alphas_, rtol=1e-12)
    assert m.mse_path_.shape == s.mse_path_.shape
    np.testing.assert_allclose(m.mse_path_, s.mse_path_, rtol=1e-4)
    close_coefs(m.coef_, sk.Lasso(alpha=s.alpha_, **TIGHT).fit(X, y).coef_, rel=1e-5)


def test_elasticnetcv_same_alpha_and_l1_ratio():
    X, y = DATA["diabetes"]
    kw = dict(l1_ratio=[0.3, 0.8, 1.0], cv=4, tol=1e-10, max_iter=100000, alphas=30)
    m = ml.ElasticNetCV(**kw).fit(X, y)
    s = sk.ElasticNetCV(**kw).fit(X, y)
    assert m.alpha_ == pytest.approx(s.alpha_, rel=1e-12)
    assert m.l1_ratio_ == s.l1_ratio_
    assert m.alphas_.shape == s.alphas_.shape == (3, 30)
    assert m.mse_path_.shape == s.mse_path_.shape
    close_coefs(m.coef_, s.coef_)


def test_explicit_alphas_and_cv_splitter():
    from sklearn.model_selection import KFold

    X, y = DATA["diabetes"]
    grid = [1.0, 0.1, 0.01, 0.5]
    cv = KFold(4, shuffle=True, random_state=0)
    m = ml.LassoCV(alphas=grid, cv=cv, tol=1e-10, max_iter=100000).fit(X, y)
    s = sk.LassoCV(alphas=grid, cv=cv, tol=1e-10, max_iter=100000).fit(X, y)
    assert m.alpha_ == s.alpha_
    np.testing.assert_allclose(m.alphas_, s.alphas_)
    np.testing.assert_allclose(m.mse_path_, s.mse_path_, rtol=1e-6)


def test_pipeline_gridsearch_clone():
    X, y = DATA["diabetes"]
    pipe = make_pipeline(StandardScaler(), ml.Lasso(alpha=0.1))
    gs = GridSearchCV(pipe, {"lasso__alpha": [0.01, 0.1, 1.0]}, cv=3).fit(X, y)
    assert gs.best_params_["lasso__alpha"] in (0.01, 0.1, 1.0)
    c = clone(ml.ElasticNet(alpha=0.3, l1_ratio=0.2, n_threads=1))
    assert c.get_params()["alpha"] == 0.3 and c.get_params()["n_threads"] == 1
    assert "l1_ratio" not in ml.Lasso().get_params()


def test_n_threads_same_result():
    X, y = DATA["radiomics"]
    a = ml.LassoCV(cv=4, alphas=20, n_threads=1).fit(X, y)
    b = ml.LassoCV(cv=4, alphas=20, n_threads=2).fit(X, y)
    np.testing.assert_array_equal(a.mse_path_, b.mse_path_)
    np.testing.assert_array_equal(a.coef_, b.coef_)


@pytest.mark.parametrize("est,match", [
    (ml.Lasso(alpha=-1.0), r"Lasso: alpha=-1.0 must be >= 0"),
    (ml.ElasticNet(l1_ratio=1.5), r"ElasticNet: l1_ratio=1.5 must be <= 1"),
    (ml.Lasso(max_iter=0), r"Lasso: max_iter=0 must be >= 1"),
    (ml.Lasso(selection="best"), r"Lasso: selection='best' must be one of"),
    (ml.Lasso(precompute="yes"), r"Lasso: precompute='yes' must be one of"),
    (ml.LassoCV(cv=500), r"LassoCV: cv=500 folds is more than n_samples=442"),
    (ml.LassoCV(alphas=[-1.0]), r"LassoCV: alphas=\[-1.0\] must be"),
    (ml.LassoCV(eps=0), r"LassoCV: eps=0 must be > 0"),
])
def test_bad_parameters(est, match):
    X, y = DATA["diabetes"]
    with pytest.raises(ValueError, match=match):
        est.fit(X, y)


def test_bad_input():
    X, y = DATA["diabetes"]
    with pytest.raises(TypeError, match=r"Lasso: alpha='1' must be a real number"):
        ml.Lasso(alpha="1").fit(X, y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples|samples"):
        ml.Lasso().fit(X, y[:-1])
    Xn = X.copy()
    Xn[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ml.Lasso().fit(Xn, y)
    with pytest.raises(NotFittedError):
        ml.Lasso().predict(X)
    m = ml.Lasso().fit(X, y)
    with pytest.raises(ValueError, match="X has 9 features, but Lasso is expecting 10"):
        m.predict(X[:, :9])
    with pytest.raises(ValueError):
        ml.Lasso().fit(X, np.c_[y, y])


def test_imports_without_sklearn():
    code = (
        "import sys; sys.modules['sklearn'] = None\n"
        "import numpy as np\n"
        "from medkern import ml\n"
        "X = np.random.default_rng(0).standard_normal((50, 4)); y = X @ [1., 0, 2, 0]\n"
        "m = ml.LassoCV(cv=3).fit(X, y); assert m.coef_[2] > 1.5\n"
        "p = ml.PCA(n_components=2).fit(X); assert p.components_.shape == (2, 4)\n"
        "assert ml.Lasso(alpha=2.0).get_params()['alpha'] == 2.0\n"
        "try:\n    ml.Lasso(alpha=-1).fit(X, y)\nexcept ValueError as e:\n    assert 'alpha' in str(e)\n"
        "print('ok')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "ok" in out.stdout


# scikit-learn's estimator checks. Expected failures, with reasons: the CV estimators do not
# take sample weights (Lasso and ElasticNet do).
EXPECTED_CV = {
    "check_sample_weight_equivalence_on_dense_data":
        "fit does not support sample_weight (raises ValueError when given)",
    "check_sample_weights_not_an_array": "sample_weight not supported",
    "check_sample_weights_list": "sample_weight not supported",
    "check_sample_weights_pandas_series": "sample_weight not supported",
    "check_sample_weights_shape": "sample_weight not supported",
    "check_sample_weights_not_overwritten": "sample_weight not supported",
    "check_sample_weights_invariance": "sample_weight not supported",
    "check_sample_weight_equivalence_on_sparse_data": "sample_weight not supported",
    "check_all_zero_sample_weights_error": "sample_weight not supported (any array is refused)",
}
EXPECTED_PLAIN = {
    "check_sample_weight_equivalence_on_sparse_data": "sparse X is not supported",
}


def _expected(est):
    return EXPECTED_CV if "CV" in type(est).__name__ else EXPECTED_PLAIN


def test_sample_weight_matches_sklearn():
    from sklearn import linear_model as sklm
    rng = np.random.default_rng(7)
    X = rng.standard_normal((80, 6)) + 2.0
    y = X @ [1.5, 0.0, -2.0, 0.0, 0.5, 0.0] + 0.1 * rng.standard_normal(80) + 3.0
    w = rng.uniform(0.0, 3.0, 80)
    for est, ref in [(ml.Lasso(alpha=0.05, tol=1e-10, max_iter=100000),
                      sklm.Lasso(alpha=0.05, tol=1e-10, max_iter=100000)),
                     (ml.ElasticNet(alpha=0.05, l1_ratio=0.3, tol=1e-10, max_iter=100000),
                      sklm.ElasticNet(alpha=0.05, l1_ratio=0.3, tol=1e-10, max_iter=100000))]:
        est.fit(X, y, sample_weight=w)
        ref.fit(X, y, sample_weight=w)
        np.testing.assert_allclose(est.coef_, ref.coef_, rtol=1e-6, atol=1e-8)
        assert abs(est.intercept_ - ref.intercept_) < 1e-6
    with pytest.raises(ValueError, match="sample_weight"):
        ml.Lasso().fit(X, y, sample_weight=-w)
    with pytest.raises(ValueError, match="sample_weight"):
        ml.Lasso().fit(X, y, sample_weight=w[:10])


@parametrize_with_checks(
    [ml.Lasso(), ml.ElasticNet(), ml.LassoCV(cv=3, alphas=10), ml.ElasticNetCV(cv=3, alphas=10)],
    expected_failed_checks=_expected)
def test_sklearn_compatible(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(estimator)
