"""Histogram gradient boosting (scikit-learn's ``HistGradientBoosting*``) on medkern's kernels.

Features are binned to at most ``max_bins`` quantile bins plus a missing-value bin (NaN is
accepted and learned as missing; +-inf is refused); trees grow leaf-wise from gradient/hessian
histograms built in parallel, the larger child by histogram subtraction. Losses: squared error
(regressor), binary and multiclass log-loss (classifier, one tree per class per iteration).

Saved models (``save_model`` / ``load_model``) are JSON with this schema::

    {"format": "medkern.gbdt", "version": 1,
     "estimator": "HistGradientBoostingRegressor" | "HistGradientBoostingClassifier",
     "params": {...get_params() values that are JSON numbers/strings/null...},
     "n_features_in": int, "classes": [...] (classifier only; JSON numbers or strings),
     "n_iter": int, "feature_gains": [...] (total split gain per feature),
     "feature_split_counts": [...],
     "model": {"loss": "squared_error" | "binary_log_loss" | "multiclass_log_loss",
               "n_features": int, "n_outputs": int (trees per iteration),
               "baseline": [float] * n_outputs,
               "trees": [  # iteration-major; tree t adds to output t % n_outputs
                 {"feature": [int], "threshold": [float | null], "missing_left": [0 | 1],
                  "left": [int], "value": [float], "gain": [float], "count": [int]}]}}

Nodes are indexed from the root (0); an inner node sends x to ``left`` when
``x[feature] <= threshold`` (NaN: when ``missing_left``), otherwise to ``left + 1``; a leaf
has ``left`` equal to its own index, ``threshold`` null (+inf) and ``missing_left`` 1, and
``value`` is its contribution to the raw score (learning rate included). Raw score =
``baseline[c] + sum of leaf values of the trees of output c``; probabilities are the sigmoid
(binary) or softmax (multiclass) of the raw scores.

Example
-------
>>> import numpy as np
>>> from medkern.ml import HistGradientBoostingClassifier
>>> rng = np.random.default_rng(0)
>>> X = rng.standard_normal((500, 4)); y = (X[:, 0] + X[:, 1] > 0).astype(int)
>>> clf = HistGradientBoostingClassifier(max_iter=50).fit(X, y)
>>> bool(clf.score(X, y) > 0.95)
True
"""

from __future__ import annotations

import json
import numbers
import os

import numpy as np

from .. import _core
from ._base import (
    HAVE_SKLEARN,
    BaseEstimator,
    RegressorMixin,
    check_choice,
    check_is_fitted,
    check_number,
    check_random_state,
    threads,
)

if HAVE_SKLEARN:
    from sklearn.base import ClassifierMixin
    from sklearn.model_selection import train_test_split
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import validate_data
else:  # pragma: no cover - exercised by the no-sklearn test
    class ClassifierMixin:
        """score() = accuracy."""

        _estimator_type = "classifier"

        def score(self, X, y, sample_weight=None):
            return float(np.mean(self.predict(X) == np.asarray(y)))

    def check_classification_targets(y):
        if y.dtype.kind == "f" and np.any(y != np.round(y)):
            raise ValueError("Unknown label type: continuous target for a classifier")

    def train_test_split(X, y, test_size, stratify, random_state):
        rng = np.random.RandomState(random_state)
        idx = rng.permutation(X.shape[0])
        nt = int(np.ceil(test_size * X.shape[0]))
        te, tr = np.sort(idx[:nt]), np.sort(idx[nt:])
        return X[tr], X[te], y[tr], y[te]

    def validate_data(est, X, y="no_validation", reset=True, y_numeric=False, **kwargs):
        op = type(est).__name__
        if hasattr(X, "toarray") and hasattr(X, "nnz"):
            raise TypeError(f"{op}: sparse X is not supported; convert with .toarray()")
        Xa = np.asarray(X)
        if Xa.dtype.kind not in "fiub":
            raise ValueError(f"{op}: X must be numeric, got dtype {Xa.dtype}")
        Xa = Xa.astype(np.float64)
        if Xa.ndim != 2:
            raise ValueError(f"{op}: X must be 2-D, got shape {Xa.shape}")
        if Xa.size == 0:
            raise ValueError(f"{op}: X with shape {Xa.shape} is empty")
        if np.isinf(Xa).any():
            raise ValueError(f"{op}: X contains infinity, which is not allowed (NaN is missing)")
        if reset:
            est.n_features_in_ = Xa.shape[1]
        elif Xa.shape[1] != est.n_features_in_:
            raise ValueError(f"X has {Xa.shape[1]} features, but {op} is expecting "
                             f"{est.n_features_in_} features as input.")
        if isinstance(y, str):
            return Xa
        if y is None:
            raise ValueError(f"{op} requires y to be passed, but the target y is None.")
        ya = np.asarray(y)
        if ya.ndim == 2 and ya.shape[1] == 1:
            ya = ya.ravel()
        if ya.ndim != 1:
            raise ValueError(f"{op}: y must be 1-D, got shape {ya.shape}")
        if ya.shape[0] != Xa.shape[0]:
            raise ValueError(f"{op}: X has {Xa.shape[0]} samples but y has {ya.shape[0]}")
        if y_numeric:
            ya = ya.astype(np.float64)
            if not np.all(np.isfinite(ya)):
                raise ValueError(f"{op}: y contains NaN or infinity")
        return Xa, ya

_FORMAT = "medkern.gbdt"
_VERSION = 1
_RAND_MAX = np.iinfo(np.int32).max


class _BaseHistGradientBoosting(BaseEstimator):
    _loss_choices: tuple = ()

    def __init__(self, *, loss, learning_rate=0.1, max_iter=100, max_leaf_nodes=31,
                 max_depth=None, min_samples_leaf=20, l2_regularization=0.0, max_bins=255,
                 early_stopping="auto", validation_fraction=0.1, n_iter_no_change=10, tol=1e-7,
                 random_state=None, subsample=1.0, colsample_bytree=1.0, min_child_weight=1e-3,
                 min_gain_to_split=0.0, n_threads=None):
        self.loss = loss
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.max_leaf_nodes = max_leaf_nodes
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.max_bins = max_bins
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.min_child_weight = min_child_weight
        self.min_gain_to_split = min_gain_to_split
        self.n_threads = n_threads

    if HAVE_SKLEARN:
        def __sklearn_tags__(self):
            tags = super().__sklearn_tags__()
            tags.input_tags.allow_nan = True
            return tags

    def _check_params(self, op):
        check_choice(op, "loss", self.loss, self._loss_choices)
        check_number(op, "learning_rate", self.learning_rate, low=0, low_open=True)
        check_number(op, "max_iter", self.max_iter, low=1, integer=True)
        if self.max_leaf_nodes is not None:
            check_number(op, "max_leaf_nodes", self.max_leaf_nodes, low=2, integer=True)
        if self.max_depth is not None:
            check_number(op, "max_depth", self.max_depth, low=1, integer=True)
        check_number(op, "min_samples_leaf", self.min_samples_leaf, low=1, integer=True)
        check_number(op, "l2_regularization", self.l2_regularization, low=0)
        check_number(op, "max_bins", self.max_bins, low=2, high=255, integer=True)
        if not (isinstance(self.early_stopping, (bool, np.bool_)) or self.early_stopping == "auto"):
            raise ValueError(f"{op}: early_stopping={self.early_stopping!r} must be 'auto' or a "
                             "bool")
        if self.validation_fraction is not None:
            v = self.validation_fraction
            if isinstance(v, numbers.Integral) and not isinstance(v, bool):
                check_number(op, "validation_fraction", v, low=1, integer=True)
            else:
                check_number(op, "validation_fraction", v, low=0, low_open=True)
                if v >= 1:
                    raise ValueError(f"{op}: validation_fraction={v!r} must be in (0, 1) or an "
                                     "int >= 1")
        check_number(op, "n_iter_no_change", self.n_iter_no_change, low=1, integer=True)
        check_number(op, "tol", self.tol, low=0)
        check_number(op, "subsample", self.subsample, low=0, low_open=True, high=1)
        check_number(op, "colsample_bytree", self.colsample_bytree, low=0, low_open=True, high=1)
        check_number(op, "min_child_weight", self.min_child_weight, low=0)
        check_number(op, "min_gain_to_split", self.min_gain_to_split, low=0)

    def _validate_X(self, X, reset, y="no_validation"):
        kw = dict(dtype=np.float64, ensure_all_finite="allow-nan", order="C") if HAVE_SKLEARN \
            else {}
        if isinstance(y, str) and y == "no_validation":
            return validate_data(self, X, reset=reset, **kw)
        return validate_data(self, X, y, reset=reset, y_numeric=not self._is_classifier(), **kw)

    @staticmethod
    def _is_classifier():
        return False

    def _fit(self, X, y, loss_code, n_classes, y_enc, stratify):
        op = type(self).__name__
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(0, _RAND_MAX))
        n = X.shape[0]
        early = self.early_stopping if self.early_stopping != "auto" else n > 10000
        Xt, yt, Xv, yv = X, y_enc, None, None
        if early:
            if self.validation_fraction is not None:
                Xt, Xv, yt, yv = train_test_split(
                    X, y_enc, test_size=self.validation_fraction,
                    stratify=stratify(y_enc) if stratify else None, random_state=seed)
            else:
                Xv, yv = X, y_enc
            Xv = np.ascontiguousarray(Xv, dtype=np.float64)
            yv = np.ascontiguousarray(yv, dtype=np.float64)
        Xt = np.ascontiguousarray(Xt, dtype=np.float64)
        yt = np.ascontiguousarray(yt, dtype=np.float64)
        with threads(self.n_threads, op):
            r = _core.gbdt_fit(
                Xt, yt, Xv, yv, loss_code, int(n_classes), float(self.learning_rate),
                int(self.max_iter), int(self.max_leaf_nodes or 0), int(self.max_depth or 0),
                int(self.min_samples_leaf), float(self.min_child_weight),
                float(self.l2_regularization), float(self.min_gain_to_split), int(self.max_bins),
                float(self.subsample), float(self.colsample_bytree),
                int(self.n_iter_no_change) if early else 0, float(self.tol), seed)
        self._set_fitted(r["model"], r["importance_gain"], r["importance_split"])
        self.n_iter_ = int(r["n_iter"])
        self.train_score_ = np.asarray(r["train_score"])
        self.validation_score_ = np.asarray(r["validation_score"])
        self.do_early_stopping_ = bool(early)
        return self

    def _set_fitted(self, model, gain, split):
        self._model = model
        self._gain = np.asarray(gain, dtype=np.float64)
        self.n_trees_per_iteration_ = int(model.n_outputs)
        total = float(np.sum(gain))
        self.feature_importances_ = (np.asarray(gain) / total if total > 0
                                     else np.zeros(len(gain)))
        self.feature_split_counts_ = np.asarray(split, dtype=np.int64)

    def _raw_predict(self, X):
        check_is_fitted(self, "_model")
        X = self._validate_X(X, reset=False)
        X = np.ascontiguousarray(X, dtype=np.float64)
        with threads(self.n_threads, type(self).__name__):
            return self._model.predict_raw(X)

    # ---- persistence -------------------------------------------------------------------------
    def save_model(self, path):
        """Writes the fitted model as JSON (schema in the module docstring)."""
        check_is_fitted(self, "_model")
        d = self._model.to_dict()
        trees = []
        for t in d["trees"]:
            thr = [None if not np.isfinite(v) else float(v) for v in t["threshold"]]
            trees.append({"feature": t["feature"].tolist(), "threshold": thr,
                          "missing_left": t["missing_left"].astype(int).tolist(),
                          "left": t["left"].tolist(), "value": t["value"].tolist(),
                          "gain": t["gain"].tolist(), "count": t["count"].tolist()})
        params = {k: v for k, v in self.get_params(deep=False).items()
                  if v is None or isinstance(v, (str, bool, int, float))}
        doc = {"format": _FORMAT, "version": _VERSION, "estimator": type(self).__name__,
               "params": params, "n_features_in": int(self.n_features_in_),
               "n_iter": int(self.n_iter_),
               "feature_gains": self._gain.tolist(),
               "feature_split_counts": self.feature_split_counts_.tolist(),
               "model": {"loss": d["loss"], "n_features": int(d["n_features"]),
                         "n_outputs": int(d["n_outputs"]),
                         "baseline": d["baseline"].tolist(), "trees": trees}}
        if hasattr(self, "classes_"):
            doc["classes"] = self.classes_.tolist()
        with open(os.fspath(path), "w", encoding="utf-8") as f:
            json.dump(doc, f)

    @classmethod
    def load_model(cls, path):
        """A fitted estimator read from a ``save_model`` JSON file."""
        op = f"{cls.__name__}.load_model"
        with open(os.fspath(path), encoding="utf-8") as f:
            doc = json.load(f)
        if not isinstance(doc, dict) or doc.get("format") != _FORMAT:
            raise ValueError(f"{op}: {path!s} is not a medkern gbdt model (format "
                             f"{doc.get('format') if isinstance(doc, dict) else None!r})")
        if doc.get("version") != _VERSION:
            raise ValueError(f"{op}: model version {doc.get('version')!r} is not supported "
                             f"(expected {_VERSION})")
        if doc.get("estimator") != cls.__name__:
            raise ValueError(f"{op}: the file holds a {doc.get('estimator')!r}, not a "
                             f"{cls.__name__}")
        m = doc["model"]
        trees = []
        for t in m["trees"]:
            thr = np.array([np.inf if v is None else v for v in t["threshold"]], dtype=np.float64)
            trees.append({"feature": np.asarray(t["feature"], np.int32), "threshold": thr,
                          "missing_left": np.asarray(t["missing_left"], np.uint8),
                          "left": np.asarray(t["left"], np.int32),
                          "value": np.asarray(t["value"], np.float64),
                          "gain": np.asarray(t["gain"], np.float64),
                          "count": np.asarray(t["count"], np.int64)})
        model = _core.GbdtModel.from_dict({
            "loss": m["loss"], "n_features": int(m["n_features"]),
            "n_outputs": int(m["n_outputs"]),
            "baseline": np.asarray(m["baseline"], np.float64), "trees": trees})
        est = cls(**doc.get("params", {}))
        est.n_features_in_ = int(doc["n_features_in"])
        if est.n_features_in_ != model.n_features:
            raise ValueError(f"{op}: n_features_in {est.n_features_in_} does not match the "
                             f"model's {model.n_features}")
        est._set_fitted(model, np.asarray(doc["feature_gains"], np.float64),
                        np.asarray(doc["feature_split_counts"], np.float64))
        est.n_iter_ = int(doc["n_iter"])
        est.train_score_ = np.empty(0)
        est.validation_score_ = np.empty(0)
        if "classes" in doc:
            est.classes_ = np.asarray(doc["classes"])
        return est


class HistGradientBoostingRegressor(RegressorMixin, _BaseHistGradientBoosting):
    """Histogram gradient boosting regressor (scikit-learn's ``HistGradientBoostingRegressor``).

    Parameters
    ----------
    loss : {'squared_error'}, default='squared_error'
    learning_rate : float, default=0.1
    max_iter : int, default=100
        Boosting iterations (one tree each).
    max_leaf_nodes : int or None, default=31
    max_depth : int or None, default=None
    min_samples_leaf : int, default=20
    l2_regularization : float, default=0.0
    max_bins : int in [2, 255], default=255
        Bins of non-missing values per feature (plus one bin for NaN).
    early_stopping : 'auto' or bool, default='auto'
        'auto': on when there are more than 10000 samples.
    validation_fraction : float, int or None, default=0.1
        Held-out share (or count) for early stopping; None uses the training data.
    n_iter_no_change : int, default=10
    tol : float, default=1e-7
    random_state : int, RandomState or None
        Seeds binning subsample, validation split, row and column subsampling.
    subsample : float in (0, 1], default=1.0
        Share of rows drawn (Bernoulli) for each iteration.
    colsample_bytree : float in (0, 1], default=1.0
        Share of features drawn for each tree.
    min_child_weight : float, default=1e-3
        Minimum hessian sum per leaf.
    min_gain_to_split : float, default=0.0
    n_threads : int or None
        medkern threads for fit and predict (None: medkern's current setting).

    Attributes
    ----------
    n_iter_, n_trees_per_iteration_, train_score_, validation_score_ (negative half squared
    error before the first and after every iteration, when early stopping is on),
    feature_importances_ (normalized total split gain), feature_split_counts_, n_features_in_

    Examples
    --------
    >>> import numpy as np
    >>> from medkern.ml import HistGradientBoostingRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((400, 3)); y = X[:, 0] ** 2 + X[:, 1]
    >>> bool(HistGradientBoostingRegressor().fit(X, y).score(X, y) > 0.9)
    True
    """

    _loss_choices = ("squared_error",)

    def __init__(self, *, loss="squared_error", learning_rate=0.1, max_iter=100,
                 max_leaf_nodes=31, max_depth=None, min_samples_leaf=20, l2_regularization=0.0,
                 max_bins=255, early_stopping="auto", validation_fraction=0.1,
                 n_iter_no_change=10, tol=1e-7, random_state=None, subsample=1.0,
                 colsample_bytree=1.0, min_child_weight=1e-3, min_gain_to_split=0.0,
                 n_threads=None):
        super().__init__(
            loss=loss, learning_rate=learning_rate, max_iter=max_iter,
            max_leaf_nodes=max_leaf_nodes, max_depth=max_depth,
            min_samples_leaf=min_samples_leaf, l2_regularization=l2_regularization,
            max_bins=max_bins, early_stopping=early_stopping,
            validation_fraction=validation_fraction, n_iter_no_change=n_iter_no_change,
            tol=tol, random_state=random_state, subsample=subsample,
            colsample_bytree=colsample_bytree, min_child_weight=min_child_weight,
            min_gain_to_split=min_gain_to_split, n_threads=n_threads)

    def fit(self, X, y):
        """Fit the ensemble; returns self."""
        op = type(self).__name__
        self._check_params(op)
        X, y = self._validate_X(X, reset=True, y=y)
        y = np.asarray(y, dtype=np.float64)
        if not np.all(np.isfinite(y)):
            raise ValueError(f"{op}: y contains NaN or infinity, which is not allowed")
        return self._fit(X, y, "squared_error", 1, y, stratify=False)

    def predict(self, X):
        """Predicted values."""
        return self._raw_predict(X)[:, 0].copy()


class HistGradientBoostingClassifier(ClassifierMixin, _BaseHistGradientBoosting):
    """Histogram gradient boosting classifier (scikit-learn's ``HistGradientBoostingClassifier``).

    Binary log-loss for two classes (one tree per iteration), multiclass log-loss otherwise
    (one tree per class per iteration). Parameters as :class:`HistGradientBoostingRegressor`,
    with ``loss='log_loss'``; the validation split for early stopping is stratified.

    Attributes
    ----------
    classes_, n_iter_, n_trees_per_iteration_, train_score_, validation_score_ (negative
    log-loss), feature_importances_, feature_split_counts_, n_features_in_

    Examples
    --------
    >>> import numpy as np
    >>> from medkern.ml import HistGradientBoostingClassifier
    >>> rng = np.random.default_rng(1)
    >>> X = rng.standard_normal((300, 2)); y = np.where(X[:, 0] > 0, "a", "b")
    >>> HistGradientBoostingClassifier(max_iter=20).fit(X, y).predict([[1.0, 0.0]])
    array(['a'], dtype='<U1')
    """

    _loss_choices = ("log_loss",)

    def __init__(self, *, loss="log_loss", learning_rate=0.1, max_iter=100, max_leaf_nodes=31,
                 max_depth=None, min_samples_leaf=20, l2_regularization=0.0, max_bins=255,
                 early_stopping="auto", validation_fraction=0.1, n_iter_no_change=10, tol=1e-7,
                 random_state=None, subsample=1.0, colsample_bytree=1.0, min_child_weight=1e-3,
                 min_gain_to_split=0.0, n_threads=None):
        super().__init__(
            loss=loss, learning_rate=learning_rate, max_iter=max_iter,
            max_leaf_nodes=max_leaf_nodes, max_depth=max_depth,
            min_samples_leaf=min_samples_leaf, l2_regularization=l2_regularization,
            max_bins=max_bins, early_stopping=early_stopping,
            validation_fraction=validation_fraction, n_iter_no_change=n_iter_no_change,
            tol=tol, random_state=random_state, subsample=subsample,
            colsample_bytree=colsample_bytree, min_child_weight=min_child_weight,
            min_gain_to_split=min_gain_to_split, n_threads=n_threads)

    @staticmethod
    def _is_classifier():
        return True

    def fit(self, X, y):
        """Fit the ensemble; returns self."""
        op = type(self).__name__
        self._check_params(op)
        X, y = self._validate_X(X, reset=True, y=y)
        y = np.asarray(y)
        check_classification_targets(y)
        classes, y_enc = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(f"{op}: y has only one class ({classes[0]!r}); at least 2 classes "
                             "are needed")
        self.classes_ = classes
        k = len(classes)
        code = "binary_log_loss" if k == 2 else "multiclass_log_loss"
        return self._fit(X, y, code, k if k > 2 else 1, y_enc.astype(np.float64),
                         stratify=lambda ye: ye)

    def decision_function(self, X):
        """Raw scores: the logit of the positive class (binary, shape (n,)) or one score per
        class (multiclass, shape (n, n_classes))."""
        raw = self._raw_predict(X)
        return raw[:, 0].copy() if raw.shape[1] == 1 else raw

    def predict_proba(self, X):
        """Class probabilities, shape (n, n_classes)."""
        raw = self._raw_predict(X)
        if raw.shape[1] == 1:
            p = 1.0 / (1.0 + np.exp(-raw[:, 0]))
            return np.column_stack([1.0 - p, p])
        e = np.exp(raw - raw.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X):
        """Predicted class labels."""
        raw = self._raw_predict(X)
        idx = (raw[:, 0] > 0).astype(np.int64) if raw.shape[1] == 1 else np.argmax(raw, axis=1)
        return self.classes_[idx]
