"""ElasticNet / Lasso by coordinate descent and their cross-validated versions.

Same objective, `tol` semantics (duality gap <= tol * ||y||^2), alpha grid and CV selection
as scikit-learn; the solver is medkern's vectorized coordinate descent (Gram form when
n_samples > n_features) with gap-safe screening, folds fitted in parallel.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from .. import _core
from ._base import (
    HAVE_SKLEARN,
    BaseEstimator,
    ConvergenceWarning,
    RegressorMixin,
    check_bool,
    check_choice,
    check_is_fitted,
    check_number,
    check_random_state,
    float_c,
    threads,
    validate_data,
)

__all__ = ["ElasticNet", "Lasso", "ElasticNetCV", "LassoCV", "enet_path", "lasso_path"]

_RAND_R_MAX = 2**31 - 1


def _precompute_code(op, precompute) -> int:
    if isinstance(precompute, str):
        check_choice(op, "precompute", precompute, ("auto",))
        return -1
    if isinstance(precompute, (bool, np.bool_)):
        return 1 if precompute else 0
    raise ValueError(f"{op}: precompute={precompute!r} must be 'auto', True or False "
                     "(a precomputed Gram array is not supported)")


def _check_common(est, op):
    check_bool(op, "fit_intercept", est.fit_intercept)
    check_number(op, "max_iter", est.max_iter, low=1, integer=True)
    check_number(op, "tol", est.tol, low=0)
    check_bool(op, "positive", est.positive)
    check_choice(op, "selection", est.selection, ("cyclic", "random"))
    _precompute_code(op, est.precompute)


def _seed(est):
    rng = check_random_state(est.random_state)
    return int(rng.randint(0, _RAND_R_MAX)) if est.selection == "random" else 0


def _warn_convergence(op, res, tol):
    if not all(res["converged"]):
        warnings.warn(
            f"{op}: objective did not converge (duality gap "
            f"{float(np.max(res['dual_gaps'])):.3e} after max_iter iterations, tol={tol}). "
            "Increase max_iter, scale the features or increase the regularisation.",
            ConvergenceWarning, stacklevel=3)


def _validate_xy(est, X, y):
    if HAVE_SKLEARN:
        X, y = validate_data(est, X, y, dtype=[np.float64, np.float32], y_numeric=True,
                             multi_output=False)
    else:
        X, y = validate_data(est, X, y)
    X = float_c(X)
    y = np.ascontiguousarray(y, dtype=X.dtype)
    return X, y


def enet_path(X, y, *, l1_ratio=0.5, eps=1e-3, n_alphas=100, alphas=None, precompute="auto",
              coef_init=None, positive=False, fit_intercept=False, max_iter=1000, tol=1e-4,
              selection="cyclic", random_state=None, return_n_iter=False):
    """ElasticNet regularization path (scikit-learn's ``enet_path``, plus ``fit_intercept``).

    Returns ``alphas`` (decreasing), ``coefs`` of shape (n_features, n_alphas) and
    ``dual_gaps`` (and ``n_iters`` when ``return_n_iter``), as scikit-learn does.

    Examples
    --------
    >>> import numpy as np
    >>> from medkern.ml import lasso_path
    >>> X = np.random.default_rng(0).standard_normal((50, 5)); y = X[:, 0]
    >>> alphas, coefs, gaps = lasso_path(X, y, n_alphas=10)
    >>> coefs.shape
    (5, 10)
    """
    op = "enet_path"
    X = float_c(np.asarray(X))
    y = np.ascontiguousarray(np.asarray(y), dtype=X.dtype)
    if X.ndim != 2:
        raise ValueError(f"{op}: X must be 2-D, got shape {X.shape}")
    check_number(op, "l1_ratio", l1_ratio, low=0, high=1)
    check_number(op, "eps", eps, low=0, low_open=True)
    check_number(op, "n_alphas", n_alphas, low=1, integer=True)
    a = [] if alphas is None else [float(v) for v in np.atleast_1d(alphas)]
    ci = None if coef_init is None else np.ascontiguousarray(coef_init, dtype=X.dtype)
    rng = check_random_state(random_state)
    seed = int(rng.randint(0, _RAND_R_MAX)) if selection == "random" else 0
    check_choice(op, "selection", selection, ("cyclic", "random"))
    res = _core.ml_enet_path(X, y, a, int(n_alphas), float(eps), float(l1_ratio),
                             bool(fit_intercept), _precompute_code(op, precompute), int(max_iter),
                             float(tol), bool(positive), selection == "random", seed, ci)
    _warn_convergence(op, res, tol)
    out = (res["alphas"], np.ascontiguousarray(res["coefs"].T), res["dual_gaps"])
    if return_n_iter:
        out = out + (list(res["n_iters"]),)
    return out


def lasso_path(X, y, *, eps=1e-3, n_alphas=100, alphas=None, **kwargs):
    """Lasso regularization path: :func:`enet_path` with ``l1_ratio=1``."""
    return enet_path(X, y, l1_ratio=1.0, eps=eps, n_alphas=n_alphas, alphas=alphas, **kwargs)


class ElasticNet(RegressorMixin, BaseEstimator):
    """Linear regression with combined L1 and L2 priors (scikit-learn's ``ElasticNet``).

    Minimizes ``1/(2n) ||y - Xw - b||^2 + alpha*l1_ratio*||w||_1
    + 0.5*alpha*(1-l1_ratio)*||w||^2`` by coordinate descent.

    Parameters
    ----------
    alpha : float, default=1.0
    l1_ratio : float in [0, 1], default=0.5
    fit_intercept : bool, default=True
    precompute : 'auto' or bool, default='auto'
        Gram-matrix solver; 'auto' uses it when n_samples > n_features.
    max_iter : int, default=1000
    copy_X : bool, default=True
        X is never modified (kept for scikit-learn compatibility).
    tol : float, default=1e-4
        Stop when the duality gap is <= ``tol * ||y - mean(y)||^2``.
    warm_start : bool, default=False
    positive : bool, default=False
    random_state : int, RandomState or None
    selection : {'cyclic', 'random'}, default='cyclic'
    n_threads : int or None
        medkern threads for this fit (None: medkern's current setting).

    Attributes
    ----------
    coef_, intercept_, n_iter_, dual_gap_, n_features_in_

    Examples
    --------
    >>> import numpy as np
    >>> from medkern.ml import ElasticNet
    >>> X = np.random.default_rng(0).standard_normal((40, 3)); y = X @ [1.0, 0.0, -2.0]
    >>> ElasticNet(alpha=0.01).fit(X, y).coef_.round(1)
    array([ 1., -0., -2.])
    """

    _l1_fixed = None

    def __init__(self, *, alpha=1.0, l1_ratio=0.5, fit_intercept=True, precompute="auto",
                 max_iter=1000, copy_X=True, tol=1e-4, warm_start=False, positive=False,
                 random_state=None, selection="cyclic", n_threads=None):
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.precompute = precompute
        self.max_iter = max_iter
        self.copy_X = copy_X
        self.tol = tol
        self.warm_start = warm_start
        self.positive = positive
        self.random_state = random_state
        self.selection = selection
        self.n_threads = n_threads

    def _l1(self):
        return self._l1_fixed if self._l1_fixed is not None else self.l1_ratio

    def fit(self, X, y, sample_weight=None):
        """Fit the model; returns self."""
        op = type(self).__name__
        check_number(op, "alpha", self.alpha, low=0)
        check_number(op, "l1_ratio", self._l1(), low=0, high=1)
        _check_common(self, op)
        check_bool(op, "warm_start", self.warm_start)
        X, y = _validate_xy(self, X, y)
        offsets = None
        if sample_weight is not None:
            X, y, offsets = self._weighted_problem(op, X, y, sample_weight)
        coef_init = None
        if self.warm_start and hasattr(self, "coef_") and self.coef_.shape == (X.shape[1],):
            coef_init = np.ascontiguousarray(self.coef_, dtype=X.dtype)
        with threads(self.n_threads, op):
            res = _core.ml_enet_path(
                X, y, [float(self.alpha)], 1, 1e-3, float(self._l1()),
                bool(self.fit_intercept) and offsets is None,
                _precompute_code(op, self.precompute), int(self.max_iter), float(self.tol),
                bool(self.positive), self.selection == "random", _seed(self), coef_init)
        _warn_convergence(op, res, self.tol)
        self.coef_ = np.ascontiguousarray(res["coefs"][0])
        if not self.fit_intercept:
            self.intercept_ = 0.0
        elif offsets is None:
            self.intercept_ = float(res["intercepts"][0])
        else:
            x_off, y_off = offsets
            self.intercept_ = y_off - float(x_off @ self.coef_.astype(np.float64))
        if X.dtype == np.float32:
            self.intercept_ = np.float32(self.intercept_)
        self.dual_gap_ = float(res["dual_gaps"][0])
        self.n_iter_ = int(res["n_iters"][0])
        return self

    def _weighted_problem(self, op, X, y, sample_weight):
        """The unweighted problem equal to scikit-learn's weighted objective
        (1 / (2 sum w)) sum_i w_i (y_i - x_i b - b0)^2 + penalty, as scikit-learn builds it:
        weights rescaled to sum to n_samples, X and y centred by their weighted means (the
        offsets, returned for the intercept), rows scaled by sqrt(w); solved without intercept.
        """
        w = np.asarray(sample_weight, dtype=np.float64)
        if w.ndim == 0:
            w = np.full(X.shape[0], float(w))
        if w.shape != (X.shape[0],):
            raise ValueError(f"{op}: sample_weight must have shape ({X.shape[0]},) (one weight per "
                             f"sample), got {w.shape}")
        if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError(f"{op}: sample_weight must be finite, non-negative and not all zero")
        w = w * (X.shape[0] / w.sum())
        if self.fit_intercept:
            x_off = np.average(X, axis=0, weights=w)
            y_off = float(np.average(y, weights=w))
        else:
            x_off, y_off = np.zeros(X.shape[1]), 0.0
        sq = np.sqrt(w)
        Xw = np.ascontiguousarray((X - x_off) * sq[:, None], dtype=X.dtype)
        yw = np.ascontiguousarray((y - y_off) * sq, dtype=y.dtype)
        return Xw, yw, (x_off, y_off)

    def predict(self, X):
        """Linear prediction ``X @ coef_ + intercept_``."""
        check_is_fitted(self)
        if HAVE_SKLEARN:
            X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        else:
            X = validate_data(self, X, reset=False)
        return X @ self.coef_ + self.intercept_

    @property
    def sparse_coef_(self):
        """coef_ as a scipy.sparse CSR matrix (needs scipy)."""
        from scipy import sparse

        return sparse.csr_matrix(np.atleast_2d(self.coef_))


class Lasso(ElasticNet):
    """Linear model with an L1 prior (scikit-learn's ``Lasso``): ElasticNet with l1_ratio=1.

    Examples
    --------
    >>> import numpy as np
    >>> from medkern.ml import Lasso
    >>> X = np.random.default_rng(0).standard_normal((40, 3)); y = X @ [1.0, 0.0, -2.0]
    >>> Lasso(alpha=0.01).fit(X, y).coef_.round(1)
    array([ 1., -0., -2.])
    """

    _l1_fixed = 1.0

    def __init__(self, *, alpha=1.0, fit_intercept=True, precompute="auto", max_iter=1000,
                 copy_X=True, tol=1e-4, warm_start=False, positive=False, random_state=None,
                 selection="cyclic", n_threads=None):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.precompute = precompute
        self.max_iter = max_iter
        self.copy_X = copy_X
        self.tol = tol
        self.warm_start = warm_start
        self.positive = positive
        self.random_state = random_state
        self.selection = selection
        self.n_threads = n_threads


def _kfold(n, k, op):
    if n < k:
        raise ValueError(f"{op}: cv={k} folds is more than n_samples={n} "
                         "(every fold needs a test sample)")
    sizes = np.full(k, n // k)
    sizes[: n % k] += 1
    idx = np.arange(n)
    out, start = [], 0
    for s in sizes:
        test = idx[start:start + s]
        out.append((np.concatenate([idx[:start], idx[start + s:]]), test))
        start += s
    return out


def _folds(cv, X, y, op):
    n = X.shape[0]
    if cv is None:
        cv = 5
    if isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
        if cv < 2:
            raise ValueError(f"{op}: cv={cv} must be >= 2 folds")
        return _kfold(n, int(cv), op)
    if HAVE_SKLEARN:
        from sklearn.model_selection import check_cv

        splits = list(check_cv(cv).split(X, y))
    elif hasattr(cv, "split"):
        splits = list(cv.split(X, y))
    else:
        splits = list(cv)
    return [(np.asarray(tr, dtype=np.int64), np.asarray(te, dtype=np.int64)) for tr, te in splits]


class _EnetCVBase(RegressorMixin, BaseEstimator):
    _lasso = False

    def fit(self, X, y, sample_weight=None):
        """Choose alpha (and l1_ratio) by K-fold CV over the grid, then refit; returns self."""
        op = type(self).__name__
        if sample_weight is not None:
            raise ValueError(f"{op}: sample_weight is not supported; pass sample_weight=None")
        check_number(op, "eps", self.eps, low=0, low_open=True)
        _check_common(self, op)
        l1s = [1.0] if self._lasso else [float(v) for v in np.atleast_1d(self.l1_ratio)]
        for r in l1s:
            check_number(op, "l1_ratio", r, low=0, high=1)
        if isinstance(self.alphas, numbers.Integral) and not isinstance(self.alphas, bool):
            check_number(op, "alphas", self.alphas, low=1, integer=True)
            alphas, n_alphas = [], int(self.alphas)
            if any(r == 0 for r in l1s):
                raise ValueError(f"{op}: l1_ratio=0 needs an explicit alphas grid (the automatic "
                                 "grid is undefined without an L1 penalty)")
        else:
            arr = np.asarray(self.alphas, dtype=np.float64).ravel()
            if arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr < 0):
                raise ValueError(f"{op}: alphas={self.alphas!r} must be an int or a non-empty "
                                 "array of finite values >= 0")
            alphas, n_alphas = [float(v) for v in arr], arr.size
        X, y = _validate_xy(self, X, y)
        folds = _folds(self.cv, X, y, op)
        with threads(self.n_threads, op):
            res = _core.ml_enet_cv(
                X, y, [(tr, te) for tr, te in folds], l1s, alphas, n_alphas, float(self.eps),
                bool(self.fit_intercept), _precompute_code(op, self.precompute),
                int(self.max_iter), float(self.tol), bool(self.positive),
                self.selection == "random", _seed(self))
        model = res["model"]
        _warn_convergence(op, model, self.tol)
        self.alpha_ = float(res["alpha"])
        if not self._lasso:
            self.l1_ratio_ = float(res["l1_ratio"])
        all_alphas = res["alphas"]
        if alphas:
            self.alphas_ = all_alphas[0]
        else:
            self.alphas_ = all_alphas[0] if len(l1s) == 1 else all_alphas
        mse = np.moveaxis(res["mse_path"], 2, 1)  # (n_l1, n_alphas, n_folds)
        self.mse_path_ = np.squeeze(mse)
        self.coef_ = np.ascontiguousarray(model["coefs"][0])
        self.intercept_ = float(model["intercepts"][0]) if self.fit_intercept else 0.0
        if X.dtype == np.float32:
            self.intercept_ = np.float32(self.intercept_)
        self.dual_gap_ = float(model["dual_gaps"][0])
        self.n_iter_ = int(model["n_iters"][0])
        return self

    def predict(self, X):
        """Linear prediction ``X @ coef_ + intercept_``."""
        check_is_fitted(self)
        if HAVE_SKLEARN:
            X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        else:
            X = validate_data(self, X, reset=False)
        return X @ self.coef_ + self.intercept_


class LassoCV(_EnetCVBase):
    """Lasso with alpha chosen by K-fold cross-validation (scikit-learn's ``LassoCV``).

    The (fold) paths run in parallel on medkern's threads; ``alpha_`` minimises the mean
    test MSE over folds, then the model is refitted on all data.

    Parameters
    ----------
    eps : float, default=1e-3
    alphas : int or array-like, default=100
        Number of alphas on sklearn's automatic grid, or the grid itself.
    fit_intercept, precompute, max_iter, tol, copy_X, positive, random_state, selection
        As in :class:`Lasso`.
    cv : int, splitter or iterable, default=None (5-fold, no shuffling)
    n_threads : int or None

    Attributes
    ----------
    alpha_, alphas_, mse_path_ (n_alphas, n_folds), coef_, intercept_, dual_gap_, n_iter_

    Examples
    --------
    >>> import numpy as np
    >>> from medkern.ml import LassoCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((60, 8)); y = X[:, 0] + 0.1 * rng.standard_normal(60)
    >>> LassoCV(cv=3).fit(X, y).coef_[0] > 0.9
    True
    """

    _lasso = True

    def __init__(self, *, eps=1e-3, alphas=100, fit_intercept=True, precompute="auto",
                 max_iter=1000, tol=1e-4, copy_X=True, cv=None, positive=False,
                 random_state=None, selection="cyclic", n_threads=None):
        self.eps = eps
        self.alphas = alphas
        self.fit_intercept = fit_intercept
        self.precompute = precompute
        self.max_iter = max_iter
        self.tol = tol
        self.copy_X = copy_X
        self.cv = cv
        self.positive = positive
        self.random_state = random_state
        self.selection = selection
        self.n_threads = n_threads


class ElasticNetCV(_EnetCVBase):
    """ElasticNet with alpha and l1_ratio chosen by K-fold CV (scikit-learn's ``ElasticNetCV``).

    Parameters
    ----------
    l1_ratio : float or list of float, default=0.5
    Others as in :class:`LassoCV`.

    Attributes
    ----------
    alpha_, l1_ratio_, alphas_, mse_path_, coef_, intercept_, dual_gap_, n_iter_

    Examples
    --------
    >>> import numpy as np
    >>> from medkern.ml import ElasticNetCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((60, 8)); y = X[:, 0]
    >>> ElasticNetCV(l1_ratio=[0.5, 1.0], cv=3).fit(X, y).l1_ratio_ in (0.5, 1.0)
    True
    """

    def __init__(self, *, l1_ratio=0.5, eps=1e-3, alphas=100, fit_intercept=True,
                 precompute="auto", max_iter=1000, tol=1e-4, copy_X=True, cv=None,
                 positive=False, random_state=None, selection="cyclic", n_threads=None):
        self.l1_ratio = l1_ratio
        self.eps = eps
        self.alphas = alphas
        self.fit_intercept = fit_intercept
        self.precompute = precompute
        self.max_iter = max_iter
        self.tol = tol
        self.copy_X = copy_X
        self.cv = cv
        self.positive = positive
        self.random_state = random_state
        self.selection = selection
        self.n_threads = n_threads
