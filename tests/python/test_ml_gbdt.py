"""medkern.ml histogram gradient boosting against LightGBM and scikit-learn as oracles."""

import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_digits, load_iris  # noqa: E402
from sklearn.ensemble import HistGradientBoostingClassifier as SkHGBC  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from sklearn.model_selection import GridSearchCV, StratifiedKFold  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from threadpoolctl import threadpool_limits  # noqa: E402

from medkern import _core  # noqa: E402
from medkern.ml import HistGradientBoostingClassifier, HistGradientBoostingRegressor  # noqa: E402

# scikit-learn's estimator checks. Expected failures, with reasons: none. fit takes no
# sample_weight, so the sample-weight checks are skipped by scikit-learn itself.
EXPECTED = {}


@parametrize_with_checks([HistGradientBoostingRegressor(max_iter=20),
                          HistGradientBoostingClassifier(max_iter=20)],
                         expected_failed_checks=lambda est: EXPECTED)
def test_sklearn_compatible(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(estimator)


def regression_data(n=20000, p=10, seed=0, noise=1.0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    # additive: 100 trees of 31 leaves reach the noise floor, where implementations agree
    y = (2 * X[:, 0] + np.sin(3 * X[:, 1]) + 0.5 * X[:, 2] ** 2 + (X[:, 3] > 0)
         + noise * rng.standard_normal(n))
    return X, y


def test_breast_cancer_auc_matches_lightgbm_and_sklearn():
    lgb = pytest.importorskip("lightgbm")
    X, y = load_breast_cancer(return_X_y=True)
    folds = StratifiedKFold(5, shuffle=True, random_state=0).split(X, y)
    auc = {"medkern": [], "lightgbm": [], "sklearn": []}
    for tr, te in folds:
        m = HistGradientBoostingClassifier(max_iter=100, early_stopping=False).fit(X[tr], y[tr])
        auc["medkern"].append(roc_auc_score(y[te], m.predict_proba(X[te])[:, 1]))
        b = lgb.train(dict(objective="binary", num_leaves=31, max_bin=255, learning_rate=0.1,
                           min_data_in_leaf=20, min_sum_hessian_in_leaf=1e-3, lambda_l2=0.0,
                           verbose=-1, num_threads=1), lgb.Dataset(X[tr], y[tr]), 100)
        auc["lightgbm"].append(roc_auc_score(y[te], b.predict(X[te])))
        with threadpool_limits(1):  # OpenMP spinning on a busy machine costs minutes
            s = SkHGBC(max_iter=100, early_stopping=False).fit(X[tr], y[tr])
        auc["sklearn"].append(roc_auc_score(y[te], s.predict_proba(X[te])[:, 1]))
    mean = {k: float(np.mean(v)) for k, v in auc.items()}
    assert abs(mean["medkern"] - mean["lightgbm"]) <= 0.005, mean
    assert abs(mean["medkern"] - mean["sklearn"]) <= 0.005, mean


def test_regression_training_loss_matches_lightgbm():
    lgb = pytest.importorskip("lightgbm")
    X, y = regression_data()
    m = HistGradientBoostingRegressor(max_iter=100, early_stopping=False).fit(X, y)
    b = lgb.train(dict(objective="l2", num_leaves=31, max_bin=255, learning_rate=0.1,
                       min_data_in_leaf=20, min_sum_hessian_in_leaf=1e-3, lambda_l2=0.0,
                       verbose=-1, num_threads=1), lgb.Dataset(X, y), 100)
    mse_m = np.mean((m.predict(X) - y) ** 2)
    mse_l = np.mean((b.predict(X) - y) ** 2)
    assert abs(mse_m - mse_l) <= 0.01 * mse_l, (mse_m, mse_l)


def test_same_bins_grow_the_same_trees_as_lightgbm():
    # Features with fewer than 255 distinct values, each seen >= 3 times, get one bin per value
    # in both libraries (medkern: edges at midpoints; LightGBM: GreedyFindBin with
    # min_data_in_bin=3), so the binning sample plays no part and leaf-wise growth, split gains,
    # row-count estimates and leaf values must agree: the training loss to float precision.
    # (With continuous features both losses move by about +-2% with the binning sample.)
    lgb = pytest.importorskip("lightgbm")
    X, y = regression_data()
    codes = np.empty_like(X)
    for f in range(X.shape[1]):
        q = np.quantile(X[:, f], np.linspace(0, 1, 201)[1:-1])
        codes[:, f] = 1 + np.searchsorted(q, X[:, f])  # 200 equal-count levels, 1..200
    m = HistGradientBoostingRegressor(max_iter=50, early_stopping=False).fit(codes, y)
    b = lgb.train(dict(objective="l2", num_leaves=31, max_bin=255, learning_rate=0.1,
                       min_data_in_leaf=20, min_sum_hessian_in_leaf=1e-3, lambda_l2=0.0,
                       verbose=-1, num_threads=1), lgb.Dataset(codes, y), 50)
    mse_m = np.mean((m.predict(codes) - y) ** 2)
    mse_l = np.mean((b.predict(codes) - y) ** 2)
    assert abs(mse_m - mse_l) <= 1e-6 * mse_l, (mse_m, mse_l)
    np.testing.assert_allclose(m.predict(codes), b.predict(codes), rtol=0, atol=1e-6)


@pytest.mark.parametrize("loader", [load_iris, load_digits])
def test_multiclass(loader):
    X, y = loader(return_X_y=True)
    m = HistGradientBoostingClassifier(max_iter=30, early_stopping=False).fit(X, y)
    with threadpool_limits(1):
        s = SkHGBC(max_iter=30, early_stopping=False).fit(X, y)
    assert m.n_trees_per_iteration_ == len(np.unique(y))
    proba = m.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    with threadpool_limits(1):
        acc_s, proba_s = s.score(X, y), s.predict_proba(X)
    assert m.score(X, y) >= acc_s - 0.01
    # training log-loss close to scikit-learn's
    ll_m = -np.mean(np.log(proba[np.arange(len(y)), y]))
    ll_s = -np.mean(np.log(proba_s[np.arange(len(y)), y]))
    assert ll_m <= ll_s * 1.25 + 1e-3, (ll_m, ll_s)
    assert m.decision_function(X).shape == (len(y), m.n_trees_per_iteration_)


def test_nan_is_learned_as_missing():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((3000, 3))
    y = X[:, 0].copy()
    miss = rng.random(3000) < 0.3
    X[miss, 0] = np.nan
    y[miss] = 5.0  # missing values carry their own signal: they must get their own leaf
    Xc = X.copy()
    m = HistGradientBoostingRegressor(max_iter=50, early_stopping=False).fit(X, y)
    np.testing.assert_array_equal(np.isnan(X), np.isnan(Xc))  # input not modified
    pred = m.predict(X)
    assert np.abs(pred[miss] - 5.0).max() < 0.1
    assert np.sqrt(np.mean((pred[~miss] - y[~miss]) ** 2)) < 0.2
    # a feature without NaN in training still accepts NaN at predict time
    Xt = rng.standard_normal((10, 3))
    Xt[:, 1] = np.nan
    assert np.all(np.isfinite(m.predict(Xt)))


def test_save_load_round_trip(tmp_path):
    X, y = load_iris(return_X_y=True)
    X = X.copy()
    X[::7, 2] = np.nan
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    for est, target in ((HistGradientBoostingClassifier(max_iter=15), labels),
                        (HistGradientBoostingClassifier(max_iter=15), (y > 0).astype(int)),
                        (HistGradientBoostingRegressor(max_iter=15), X[:, 0] * 2.0)):
        est.fit(X, target)
        path = tmp_path / "model.json"
        est.save_model(path)
        back = type(est).load_model(path)
        np.testing.assert_array_equal(back.predict(X), est.predict(X))
        if hasattr(est, "predict_proba"):
            np.testing.assert_array_equal(back.predict_proba(X), est.predict_proba(X))
        np.testing.assert_array_equal(back.feature_importances_, est.feature_importances_)
        assert back.get_params() == est.get_params()
    path.write_text('{"format": "other"}')
    with pytest.raises(ValueError, match="not a medkern gbdt model"):
        HistGradientBoostingRegressor.load_model(path)


def test_corrupted_model_is_refused():
    X, y = regression_data(500, 4)
    d = HistGradientBoostingRegressor(max_iter=3).fit(X, y)._model.to_dict()
    bad = dict(d)
    t = dict(d["trees"][0])
    t["left"] = t["left"].copy()
    t["left"][0] = 0 if t["left"][0] != 0 else 1  # root pointing to itself with a threshold
    t["threshold"] = t["threshold"].copy()
    bad["trees"] = [t] + list(d["trees"][1:])
    with pytest.raises(ValueError, match="GbdtModel.from_dict"):
        _core.GbdtModel.from_dict(bad)
    bad = dict(d)
    t = dict(d["trees"][0])
    t["feature"] = t["feature"].copy()
    t["feature"][0] = 99
    bad["trees"] = [t] + list(d["trees"][1:])
    with pytest.raises(ValueError, match="feature 99"):
        _core.GbdtModel.from_dict(bad)


def test_pipeline_gridsearch_clone():
    X, y = load_breast_cancer(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), HistGradientBoostingClassifier(max_iter=10))
    gs = GridSearchCV(pipe, {"histgradientboostingclassifier__max_leaf_nodes": [4, 15]}, cv=3)
    gs.fit(X, y)
    assert gs.best_params_["histgradientboostingclassifier__max_leaf_nodes"] in (4, 15)
    c = clone(HistGradientBoostingRegressor(max_iter=7, subsample=0.5))
    assert c.get_params()["max_iter"] == 7 and not hasattr(c, "n_iter_")


def test_early_stopping_subsampling_importances():
    X, y = regression_data(20000, 6, noise=2.0)
    m = HistGradientBoostingRegressor(max_iter=500, learning_rate=0.3, random_state=0).fit(X, y)
    assert m.do_early_stopping_ and m.n_iter_ < 500
    assert len(m.validation_score_) == m.n_iter_ + 1 == len(m.train_score_)
    imp = m.feature_importances_
    assert imp[0] == imp.max() and imp[4] < 0.05 and abs(imp.sum() - 1) < 1e-12
    sub = HistGradientBoostingRegressor(max_iter=30, subsample=0.5, colsample_bytree=0.5,
                                        early_stopping=False, random_state=1)
    p1 = sub.fit(X, y).predict(X)
    p2 = clone(sub).fit(X, y).predict(X)
    np.testing.assert_array_equal(p1, p2)  # random_state makes subsampling reproducible
    assert np.mean((p1 - y) ** 2) < np.var(y) * 0.5
    assert (sub.feature_split_counts_ >= 0).all()


def test_max_depth_and_leaves():
    X, y = regression_data(3000, 4)
    m = HistGradientBoostingRegressor(max_iter=5, max_depth=2, max_leaf_nodes=None,
                                      early_stopping=False).fit(X, y)
    for t in m._model.to_dict()["trees"]:
        leaves = int(np.sum(t["left"] == np.arange(len(t["left"]))))
        assert leaves <= 4
    m = HistGradientBoostingRegressor(max_iter=5, max_leaf_nodes=7, early_stopping=False)
    for t in m.fit(X, y)._model.to_dict()["trees"]:
        assert int(np.sum(t["left"] == np.arange(len(t["left"])))) == 7


def test_bad_input():
    X, y = regression_data(200, 4)
    R, C = HistGradientBoostingRegressor, HistGradientBoostingClassifier
    with pytest.raises(ValueError, match="[Ii]nf"):
        Xi = X.copy()
        Xi[0, 0] = np.inf
        R().fit(Xi, y)
    with pytest.raises(ValueError, match="NaN|nan|infinity"):
        yb = y.copy()
        yb[3] = np.nan
        R().fit(X, yb)
    with pytest.raises(ValueError, match="inconsistent|samples"):
        R().fit(X, y[:-1])
    with pytest.raises(ValueError, match="one class|1 class|only one"):
        C().fit(X, np.zeros(200))
    with pytest.raises(ValueError, match="continuous|Unknown label"):
        C().fit(X, y)
    with pytest.raises(ValueError):
        R().fit(X, np.array(["a"] * 200))
    with pytest.raises(NotFittedError):
        R().predict(X)
    with pytest.raises(NotFittedError):
        C().predict_proba(X)
    m = R(max_iter=3).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        m.predict(X[:, :2])
    with pytest.raises(ValueError, match="[Ii]nf"):
        Xi = X.copy()
        Xi[1, 1] = -np.inf
        m.predict(Xi)
    for kw, exc in ((dict(max_bins=256), ValueError), (dict(learning_rate=0), ValueError),
                    (dict(max_leaf_nodes=1), ValueError), (dict(subsample=0.0), ValueError),
                    (dict(colsample_bytree=1.5), ValueError), (dict(max_iter=2.5), TypeError),
                    (dict(early_stopping="yes"), ValueError), (dict(loss="absolute"), ValueError),
                    (dict(n_threads=0), ValueError), (dict(validation_fraction=1.5), ValueError)):
        with pytest.raises(exc):
            R(**kw).fit(X, y)
    # the native entry point refuses labels that are not class indices
    with pytest.raises(ValueError, match="0 or 1"):
        _core.gbdt_fit(X, np.full(200, 2.0), None, None, "binary_log_loss", 1, 0.1, 2, 31, 0,
                       20, 1e-3, 0.0, 0.0, 255, 1.0, 1.0, 0, 1e-7, 0)
