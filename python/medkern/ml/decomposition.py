"""Principal component analysis (scikit-learn's ``PCA``) on medkern's kernels."""

from __future__ import annotations

import numbers
from math import lgamma, log

import numpy as np

from .. import _core
from ._base import (
    HAVE_SKLEARN,
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    check_bool,
    check_choice,
    check_is_fitted,
    check_number,
    check_random_state,
    float_c,
    threads,
    validate_data,
)

__all__ = ["PCA"]


def _assess_dimension(spectrum, rank, n_samples):
    """Log-likelihood of a rank (Minka's PPCA evidence; scikit-learn's _assess_dimension)."""
    n_features = spectrum.shape[0]
    if not 1 <= rank < n_features:
        raise ValueError("the tested rank should be in [1, n_features - 1]")
    eps = 1e-15
    if spectrum[rank - 1] < eps:
        return -np.inf
    pu = -rank * log(2.0)
    for i in range(1, rank + 1):
        pu += lgamma((n_features - i + 1) / 2.0) - log(np.pi) * (n_features - i + 1) / 2.0
    pl = np.sum(np.log(spectrum[:rank]))
    pl = -pl * n_samples / 2.0
    v = max(eps, np.sum(spectrum[rank:]) / (n_features - rank))
    pv = -log(v) * n_samples * (n_features - rank) / 2.0
    m = n_features * rank - rank * (rank + 1.0) / 2.0
    pp = log(2.0 * np.pi) * (m + rank) / 2.0
    pa = 0.0
    spectrum_ = spectrum.copy()
    spectrum_[rank:n_features] = v
    for i in range(rank):
        for j in range(i + 1, len(spectrum)):
            pa += log((spectrum[i] - spectrum[j]) * (1.0 / spectrum_[j] - 1.0 / spectrum_[i])) + log(n_samples)
    return pu + pl + pv + pp - pa / 2.0 - rank * log(n_samples) / 2.0


def _infer_dimension(spectrum, n_samples):
    ll = np.empty_like(spectrum)
    ll[0] = -np.inf
    for rank in range(1, spectrum.shape[0]):
        ll[rank] = _assess_dimension(spectrum, rank, n_samples)
    return int(ll.argmax())


class PCA(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Principal component analysis (scikit-learn's ``PCA``, same attributes and sign rule).

    Solvers: ``'covariance_eigh'`` (eigendecomposition of the p x p covariance: packed Gram
    kernel + tridiagonal QR with vectorized rotation updates), ``'full'`` (exact SVD of the
    centered data, Eigen's BDCSVD), ``'randomized'`` (randomized SVD with power iterations;
    scikit-learn's start matrix from ``random_state``, QR normalization in every power
    iteration whatever ``power_iteration_normalizer`` says — the same subspace as sklearn's
    LU/QR variants up to rounding). ``'auto'`` follows scikit-learn's rule, except that its
    'full' branch uses the eigendecomposition of the smaller Gram matrix (X^T X or X X^T),
    which is much faster; ask for ``'full'`` for exact tiny singular values.

    Parameters
    ----------
    n_components : int, float in (0, 1), 'mle' or None
    copy : bool, default=True  (X is never modified)
    whiten : bool, default=False
    svd_solver : {'auto', 'full', 'covariance_eigh', 'randomized'}, default='auto'
    tol : float, default=0.0  (accepted for compatibility; used by no solver)
    iterated_power : int or 'auto', default='auto'
    n_oversamples : int, default=10
    power_iteration_normalizer : {'auto', 'QR', 'LU', 'none'}, default='auto'
    random_state : int, RandomState or None
    n_threads : int or None

    Attributes
    ----------
    components_, explained_variance_, explained_variance_ratio_, singular_values_, mean_,
    n_components_, n_samples_, noise_variance_, n_features_in_

    Examples
    --------
    >>> import numpy as np
    >>> from medkern.ml import PCA
    >>> X = np.random.default_rng(0).standard_normal((100, 5))
    >>> PCA(n_components=2).fit(X).components_.shape
    (2, 5)
    """

    def __init__(self, *, n_components=None, copy=True, whiten=False, svd_solver="auto",
                 tol=0.0, iterated_power="auto", n_oversamples=10,
                 power_iteration_normalizer="auto", random_state=None, n_threads=None):
        self.n_components = n_components
        self.copy = copy
        self.whiten = whiten
        self.svd_solver = svd_solver
        self.tol = tol
        self.iterated_power = iterated_power
        self.n_oversamples = n_oversamples
        self.power_iteration_normalizer = power_iteration_normalizer
        self.random_state = random_state
        self.n_threads = n_threads

    def _validate(self, X, reset):
        if HAVE_SKLEARN:
            # fit leaves the NaN / infinity check to the C++ solver, which finds it from the
            # column sums it computes anyway (scikit-learn's check is a separate pass over X).
            return validate_data(self, X, dtype=[np.float64, np.float32], reset=reset,
                                 ensure_all_finite=not reset)
        return validate_data(self, X, reset=reset)

    def fit(self, X, y=None):
        """Fit the model on X; returns self."""
        op = "PCA"
        check_bool(op, "whiten", self.whiten)
        check_choice(op, "svd_solver", self.svd_solver,
                     ("auto", "full", "covariance_eigh", "randomized"))
        check_number(op, "tol", self.tol, low=0)
        check_number(op, "n_oversamples", self.n_oversamples, low=0, integer=True)
        check_choice(op, "power_iteration_normalizer", self.power_iteration_normalizer,
                     ("auto", "QR", "LU", "none"))
        if not (isinstance(self.iterated_power, str) and self.iterated_power == "auto"):
            check_number(op, "iterated_power", self.iterated_power, low=0, integer=True)
        X = float_c(self._validate(X, reset=True))
        n, p = X.shape
        nc = self.n_components
        kmax = min(n, p)
        if nc is None:
            k = kmax
        elif isinstance(nc, str):
            if nc != "mle":
                raise ValueError(f"{op}: n_components={nc!r} must be None, an int, a float in "
                                 "(0, 1) or 'mle'")
            if n < p:
                raise ValueError(f"{op}: n_components='mle' needs n_samples >= n_features "
                                 f"(got {n} < {p})")
            k = nc
        elif isinstance(nc, numbers.Integral) and not isinstance(nc, bool):
            if not 0 <= nc <= kmax:
                raise ValueError(f"{op}: n_components={nc} must be between 0 and "
                                 f"min(n_samples, n_features)={kmax}")
            k = int(nc)
        elif isinstance(nc, numbers.Real) and not isinstance(nc, bool):
            if not 0 < nc < 1:
                raise ValueError(f"{op}: n_components={nc!r} as a float must be in (0, 1)")
            k = float(nc)
        else:
            raise TypeError(f"{op}: n_components={nc!r} must be None, an int, a float or 'mle'")
        solver = self.svd_solver
        if solver == "auto":
            if p <= 1000 and n >= 10 * p:
                solver = "covariance_eigh"
            elif max(n, p) <= 500 or k == "mle":
                solver = "fast_full"
            elif isinstance(k, int) and 1 <= k < 0.8 * kmax:
                solver = "randomized"
            else:
                solver = "fast_full"
        self._fit_svd_solver = solver
        if solver == "randomized":
            if not isinstance(k, int) or not 1 <= k <= kmax:
                raise ValueError(f"{op}: n_components={nc!r} must be an int in [1, {kmax}] with "
                                 "svd_solver='randomized'")
            rs = check_random_state(self.random_state)
            n_random = k + int(self.n_oversamples)
            omega = rs.normal(size=(p if n >= p else n, n_random))
            n_iter = -1 if self.iterated_power == "auto" else int(self.iterated_power)
            with threads(self.n_threads, op):
                r = _core.ml_pca_fit(X, "randomized", k, int(self.n_oversamples), n_iter,
                                     np.ascontiguousarray(omega, dtype=np.float64))
            ev = r["explained_variance"]
            total_var = r["total_var"]
            self.noise_variance_ = ((total_var - ev.sum()) / (kmax - k)) if k < kmax else 0.0
            ratio = ev / total_var
            comps, sv = r["components"], r["singular_values"]
        else:
            native = {"covariance_eigh": "covariance_eigh", "full": "svd", "fast_full": "auto"}
            with threads(self.n_threads, op):
                r = _core.ml_pca_fit(X, native[solver])
            ev_all, comps, sv = r["explained_variance"], r["components"], r["singular_values"]
            ratio_all = ev_all / ev_all.sum() if ev_all.sum() > 0 else np.zeros_like(ev_all)
            if k == "mle":
                k = _infer_dimension(ev_all, n)
            elif isinstance(k, float):
                k = int(np.searchsorted(np.cumsum(ratio_all), k, side="right") + 1)
                k = min(k, kmax)
            self.noise_variance_ = float(ev_all[k:].mean()) if k < kmax else 0.0
            ev, ratio, comps, sv = ev_all[:k], ratio_all[:k], comps[:k], sv[:k]
        dt = X.dtype
        self.n_samples_ = n
        self.n_components_ = int(k)
        self.mean_ = r["mean"].astype(dt)
        self.components_ = np.ascontiguousarray(comps, dtype=dt)
        self.explained_variance_ = np.ascontiguousarray(ev, dtype=dt)
        self.explained_variance_ratio_ = np.ascontiguousarray(ratio, dtype=dt)
        self.singular_values_ = np.ascontiguousarray(sv, dtype=dt)
        self.noise_variance_ = dt.type(self.noise_variance_)
        return self

    def fit_transform(self, X, y=None):
        """Fit, then project X; returns (n_samples, n_components_)."""
        return self.fit(X).transform(X)

    def transform(self, X):
        """Project X on the components (centered by mean_, whitened if asked)."""
        check_is_fitted(self)
        X = self._validate(X, reset=False)
        Xt = X @ self.components_.T
        Xt -= self.mean_ @ self.components_.T
        if self.whiten:
            scale = np.sqrt(self.explained_variance_)
            scale[scale < np.finfo(scale.dtype).eps] = np.finfo(scale.dtype).eps
            Xt /= scale
        return Xt

    def inverse_transform(self, X):
        """Map projected data back to feature space (undoing whitening)."""
        check_is_fitted(self)
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.components_.shape[0]:
            raise ValueError(f"PCA.inverse_transform: X has shape {X.shape}, expected "
                             f"(n_samples, {self.components_.shape[0]})")
        if self.whiten:
            return X @ (np.sqrt(self.explained_variance_[:, None]) * self.components_) + self.mean_
        return X @ self.components_ + self.mean_

    def get_covariance(self):
        """Data covariance of the fitted PPCA model."""
        check_is_fitted(self)
        comps = self.components_
        ev = self.explained_variance_
        if self.whiten:
            comps = comps * np.sqrt(ev[:, None])
        ev_diff = np.maximum(ev - self.noise_variance_, 0.0)
        cov = (comps.T * ev_diff) @ comps
        cov.flat[:: cov.shape[0] + 1] += self.noise_variance_
        return cov

    def get_precision(self):
        """Inverse of get_covariance()."""
        return np.linalg.inv(self.get_covariance())

    def score_samples(self, X):
        """Log-likelihood of each sample under the PPCA model."""
        check_is_fitted(self)
        X = self._validate(X, reset=False)
        Xr = X - self.mean_
        p = X.shape[1]
        precision = self.get_precision()
        ll = -0.5 * np.sum(Xr * (Xr @ precision), axis=1)
        ll -= 0.5 * (p * np.log(2.0 * np.pi) - np.linalg.slogdet(precision)[1])
        return ll

    def score(self, X, y=None):
        """Mean log-likelihood of the samples."""
        return float(np.mean(self.score_samples(X)))

    @property
    def _n_features_out(self):
        return self.components_.shape[0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
