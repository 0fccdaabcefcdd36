"""Estimator plumbing shared by medkern.ml: scikit-learn's base classes and validation when
scikit-learn is installed, small local equivalents when it is not (medkern.ml never requires
scikit-learn)."""

from __future__ import annotations

import contextlib
import inspect
import numbers
import warnings

import numpy as np

from .. import _core

try:  # scikit-learn is optional
    from sklearn.base import BaseEstimator, RegressorMixin, TransformerMixin
    from sklearn.base import ClassNamePrefixFeaturesOutMixin
    from sklearn.exceptions import ConvergenceWarning, NotFittedError
    from sklearn.utils.validation import check_is_fitted, validate_data

    HAVE_SKLEARN = True
except ImportError:  # pragma: no cover - exercised by the no-sklearn test
    HAVE_SKLEARN = False

    class ConvergenceWarning(UserWarning):
        """The solver stopped at max_iter before reaching tol."""

    class NotFittedError(ValueError, AttributeError):
        """The estimator is used before fit."""

    class BaseEstimator:
        """get_params / set_params / repr from the __init__ signature (scikit-learn's contract)."""

        @classmethod
        def _get_param_names(cls):
            sig = inspect.signature(cls.__init__)
            return sorted(p.name for p in sig.parameters.values()
                          if p.name != "self" and p.kind != p.VAR_KEYWORD)

        def get_params(self, deep=True):
            out = {}
            for k in self._get_param_names():
                v = getattr(self, k)
                if deep and hasattr(v, "get_params") and not isinstance(v, type):
                    out.update((k + "__" + kk, vv) for kk, vv in v.get_params().items())
                out[k] = v
            return out

        def set_params(self, **params):
            valid = self._get_param_names()
            for k, v in params.items():
                key, _, sub = k.partition("__")
                if key not in valid:
                    raise ValueError(
                        f"{type(self).__name__}.set_params: invalid parameter {key!r} "
                        f"(valid: {', '.join(valid)})")
                if sub:
                    getattr(self, key).set_params(**{sub: v})
                else:
                    setattr(self, key, v)
            return self

        def __repr__(self):
            args = ", ".join(f"{k}={v!r}" for k, v in self.get_params(deep=False).items())
            return f"{type(self).__name__}({args})"

    class RegressorMixin:
        """score() = coefficient of determination R^2."""

        _estimator_type = "regressor"

        def score(self, X, y, sample_weight=None):
            y = np.asarray(y, dtype=np.float64).ravel()
            pred = np.asarray(self.predict(X), dtype=np.float64).ravel()
            w = np.ones_like(y) if sample_weight is None else np.asarray(sample_weight, float)
            ss_res = np.sum(w * (y - pred) ** 2)
            ss_tot = np.sum(w * (y - np.average(y, weights=w)) ** 2)
            return 1.0 - ss_res / ss_tot if ss_tot != 0 else 0.0

    class TransformerMixin:
        """fit_transform() = fit().transform()."""

        def fit_transform(self, X, y=None, **fit_params):
            return self.fit(X, y, **fit_params).transform(X)

    class ClassNamePrefixFeaturesOutMixin:
        """Output feature names '<classname><i>'."""

        def get_feature_names_out(self, input_features=None):
            check_is_fitted(self, "_n_features_out")
            prefix = type(self).__name__.lower()
            return np.asarray([f"{prefix}{i}" for i in range(self._n_features_out)], dtype=object)

    def check_is_fitted(estimator, attributes=None):
        fitted = (all(hasattr(estimator, a) for a in ([attributes] if isinstance(attributes, str)
                                                          else attributes))
                  if attributes else
                  any(v.endswith("_") and not v.startswith("__") for v in vars(estimator)))
        if not fitted:
            raise NotFittedError(
                f"This {type(estimator).__name__} instance is not fitted yet. Call 'fit' with "
                "appropriate arguments before using this estimator.")

    def _check_array(est, X, name, ensure_2d, reset):
        op = type(est).__name__
        if hasattr(X, "toarray") and hasattr(X, "nnz"):
            raise TypeError(f"{op}: sparse {name} is not supported; convert with .toarray()")
        arr = np.asarray(X)
        if arr.dtype.kind == "c":
            raise ValueError(f"{op}: complex data in {name} is not supported")
        if arr.dtype.kind not in "fiub":
            try:
                arr = arr.astype(np.float64)
            except (TypeError, ValueError) as e:
                raise ValueError(f"{op}: {name} must be numeric, got dtype {arr.dtype}") from e
        if arr.dtype not in (np.float32, np.float64):
            arr = arr.astype(np.float64)
        if ensure_2d and arr.ndim != 2:
            raise ValueError(f"{op}: {name} must be 2-D, got {arr.ndim}-D with shape {arr.shape}")
        if arr.size == 0 or (ensure_2d and arr.shape[0] == 0):
            raise ValueError(f"{op}: {name} with shape {arr.shape} is empty (0 samples or features)")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{op}: {name} contains NaN or infinity, which is not allowed")
        return arr

    def validate_data(est, X="no_validation", y="no_validation", reset=True, y_numeric=False,
                      **kwargs):
        op = type(est).__name__
        Xa = _check_array(est, X, "X", True, reset)
        if reset:
            est.n_features_in_ = Xa.shape[1]
        elif hasattr(est, "n_features_in_") and Xa.shape[1] != est.n_features_in_:
            raise ValueError(f"X has {Xa.shape[1]} features, but {op} is expecting "
                             f"{est.n_features_in_} features as input.")
        if isinstance(y, str) and y == "no_validation":
            return Xa
        if y is None:
            raise ValueError(f"{op} requires y to be passed, but the target y is None.")
        ya = _check_array(est, y, "y", False, reset)
        if ya.ndim == 2 and ya.shape[1] == 1:
            warnings.warn(f"{op}: a column-vector y was passed when a 1d array was expected",
                          UserWarning, stacklevel=3)
            ya = ya.ravel()
        if ya.ndim != 1:
            raise ValueError(f"{op}: y must be 1-D, got shape {ya.shape}")
        if ya.shape[0] != Xa.shape[0]:
            raise ValueError(f"{op}: X has {Xa.shape[0]} samples but y has {ya.shape[0]}")
        return Xa, ya


def float_c(X: np.ndarray) -> np.ndarray:
    """The float32/float64 C-contiguous array the native code needs (a visible copy if not)."""
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    if not X.dtype.isnative:
        X = X.astype(X.dtype.newbyteorder("="))
    return np.ascontiguousarray(X)


@contextlib.contextmanager
def threads(n_threads, op: str):
    """Runs the body with medkern's thread count set to n_threads (None: unchanged)."""
    if n_threads is None:
        yield
        return
    if isinstance(n_threads, bool) or not isinstance(n_threads, numbers.Integral) or n_threads < 1:
        raise ValueError(f"{op}: n_threads={n_threads!r} must be None or an int >= 1")
    old = _core.num_threads() if hasattr(_core, "num_threads") else None
    _core.set_num_threads(int(n_threads))
    try:
        yield
    finally:
        if old is not None:
            _core.set_num_threads(int(old))


def check_random_state(seed):
    """numpy RandomState from None / int / RandomState (scikit-learn's rule)."""
    if seed is None or seed is np.random:
        return np.random.mtrand._rand
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        return np.random.RandomState(int(seed))
    if isinstance(seed, np.random.RandomState):
        return seed
    raise ValueError(f"random_state={seed!r} cannot be used to seed a numpy RandomState")


def check_number(op: str, name: str, value, *, low=None, high=None, low_open=False,
                 integer=False):
    """Validates a numeric hyper-parameter: TypeError for a wrong type, ValueError for a value
    outside its range; the message names the estimator, the value and the rule."""
    kinds = (numbers.Integral,) if integer else (numbers.Real,)
    if isinstance(value, bool) or not isinstance(value, kinds):
        what = "an int" if integer else "a real number"
        raise TypeError(f"{op}: {name}={value!r} must be {what}, got {type(value).__name__}")
    if low is not None and (value < low or (low_open and value == low)):
        raise ValueError(f"{op}: {name}={value!r} must be {'>' if low_open else '>='} {low}")
    if high is not None and value > high:
        raise ValueError(f"{op}: {name}={value!r} must be <= {high}")
    if not np.isfinite(value):
        raise ValueError(f"{op}: {name}={value!r} must be finite")


def check_choice(op: str, name: str, value, choices):
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{op}: {name}={value!r} must be one of {', '.join(map(repr, choices))}")


def check_bool(op: str, name: str, value):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{op}: {name}={value!r} must be a bool, got {type(value).__name__}")
