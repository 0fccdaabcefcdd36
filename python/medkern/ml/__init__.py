"""Classical machine learning on medkern's kernels, scikit-learn compatible.

``Lasso``, ``ElasticNet``, ``LassoCV``, ``ElasticNetCV`` (coordinate descent with
scikit-learn's objective, tolerance and alpha grid; folds in parallel), ``PCA`` (covariance
eigendecomposition, SVD or randomized SVD, scikit-learn's sign rule), and the path functions
``lasso_path`` / ``enet_path``. scikit-learn is optional: when installed, the estimators derive
from its base classes and validators, so they work in ``Pipeline``, ``GridSearchCV`` and
``clone``.

Example
-------
>>> import numpy as np
>>> from medkern.ml import LassoCV, PCA
>>> rng = np.random.default_rng(0)
>>> X = rng.standard_normal((80, 20)); y = X[:, :3] @ [1.0, -2.0, 0.5]
>>> LassoCV(cv=4).fit(X, y).coef_[:3].round(1)
array([ 1. , -2. ,  0.5])
>>> PCA(n_components=3).fit_transform(X).shape
(80, 3)
"""

from __future__ import annotations

from ._base import ConvergenceWarning
from .decomposition import PCA
from .ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from .linear_model import ElasticNet, ElasticNetCV, Lasso, LassoCV, enet_path, lasso_path

__all__ = [
    "ConvergenceWarning",
    "ElasticNet",
    "ElasticNetCV",
    "HistGradientBoostingClassifier",
    "HistGradientBoostingRegressor",
    "Lasso",
    "LassoCV",
    "PCA",
    "enet_path",
    "lasso_path",
]
