"""From a radiomics feature table to a validated model: the usual selection pipeline.

standardize -> drop near-constant features -> drop highly correlated features -> LassoCV
(medkern.ml) keeps the features with non-zero coefficients -> optional PCA (medkern.ml) ->
classifier (logistic regression, or medkern's gradient-boosted trees when available).
The reported ROC AUC is cross-validated over the *whole* pipeline: every fold repeats the
selection on its training part only, so the estimate carries no selection leakage.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import warnings
from typing import Any

import numpy as np

OP = "medkern.radiomics.select_and_model"


@dataclasses.dataclass
class SelectionResult:
    """What :func:`select_and_model` found.

    selected: the features LassoCV kept (fit on all cases), in table order.
    coefficients: their LASSO coefficients (standardized scale), a pandas Series.
    alpha: the LassoCV regularization chosen on all cases.
    dropped_constant / dropped_correlated: features removed before the LASSO.
    auc / auc_std / fold_aucs: cross-validated ROC AUC of the whole pipeline.
    oof_score: out-of-fold predicted probability of the positive class, per case.
    model: the final fitted pipeline (``predict_proba(features)`` on a new table).
    figures: name -> PNG path (``lasso_path``, ``coefficients``, ``roc``) when written.
    """

    selected: list
    coefficients: Any
    alpha: float
    dropped_constant: list
    dropped_correlated: list
    auc: float
    auc_std: float
    fold_aucs: list
    oof_score: np.ndarray
    model: Any
    figures: dict


def _make_classifier(kind, random_state):
    if kind == "logistic":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(max_iter=5000)
    if kind == "gbdt":
        try:
            from ..ml import HistGradientBoostingClassifier
        except ImportError:
            raise ValueError(f"{OP}: classifier='gbdt' needs "
                             "medkern.ml.HistGradientBoostingClassifier, which this build "
                             "does not provide; use classifier='logistic'") from None
        try:
            return HistGradientBoostingClassifier(random_state=random_state)
        except TypeError:
            return HistGradientBoostingClassifier()
    raise ValueError(f"{OP}: classifier={kind!r} must be 'logistic' or 'gbdt'")


class RadiomicsModel:
    """The fitted selection + model pipeline (see :func:`select_and_model`)."""

    def __init__(self, *, near_constant, max_correlation, lasso_cv, pca, classifier,
                 random_state):
        self.near_constant = near_constant
        self.max_correlation = max_correlation
        self.lasso_cv = lasso_cv
        self.pca = pca
        self.classifier = classifier
        self.random_state = random_state

    def fit(self, X, y, names):
        from ..ml import PCA, LassoCV

        mean = X.mean(axis=0)
        std = X.std(axis=0)
        const = std <= self.near_constant * np.maximum(np.abs(mean), 1.0)
        keep = np.flatnonzero(~const)
        if keep.size == 0:
            raise ValueError(f"{OP}: every feature is (near-)constant over the cases")
        Z = (X[:, keep] - mean[keep]) / std[keep]
        # Greedy correlation filter in table order: a feature goes when it correlates above
        # max_correlation with one already kept.
        corr = np.abs(np.corrcoef(Z, rowvar=False)) if Z.shape[1] > 1 else np.ones((1, 1))
        kept_local: list[int] = []
        dropped_corr = []
        for j in range(Z.shape[1]):
            if kept_local and np.max(corr[j, kept_local]) > self.max_correlation:
                dropped_corr.append(j)
            else:
                kept_local.append(j)
        cols = keep[kept_local]
        Zs = Z[:, kept_local]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lasso = LassoCV(cv=self.lasso_cv, random_state=self.random_state).fit(Zs, y)
        coef = np.asarray(lasso.coef_, dtype=float)
        nz = np.flatnonzero(coef != 0)
        if nz.size == 0:
            # LASSO shrank everything away: keep the single most target-correlated feature so
            # that a model still exists (its AUC then says how little there is to find).
            yc = y - y.mean()
            score = np.abs(Zs.T @ yc)
            nz = np.array([int(np.argmax(score))])
        self.mean_, self.std_ = mean, std
        self.columns_ = cols[nz]
        self.all_names_ = list(names)
        self.selected_ = [names[c] for c in self.columns_]
        self.coef_ = coef[nz]
        self.alpha_ = float(lasso.alpha_)
        self.lasso_ = lasso
        self.lasso_input_ = (Zs, [names[c] for c in cols])
        self.dropped_constant_ = [names[c] for c in np.flatnonzero(const)]
        self.dropped_correlated_ = [names[keep[j]] for j in dropped_corr]
        F = self._standardize(X)
        if self.pca:
            n = min(int(self.pca), F.shape[1], F.shape[0])
            self.pca_ = PCA(n_components=n).fit(F)
            F = self.pca_.transform(F)
        else:
            self.pca_ = None
        self.clf_ = _make_classifier(self.classifier, self.random_state).fit(F, y)
        return self

    def _standardize(self, X):
        c = self.columns_
        return (X[:, c] - self.mean_[c]) / self.std_[c]

    def _features(self, X):
        F = self._standardize(X)
        return self.pca_.transform(F) if self.pca_ is not None else F

    def predict_proba(self, X):
        X = _table(X, self.all_names_)[0]
        return self.clf_.predict_proba(self._features(X))

    def _score(self, X):
        return self.clf_.predict_proba(self._features(X))[:, 1]


def _table(features, names=None):
    """(float64 matrix, column names) from a DataFrame (numeric, non-diagnostic columns) or
    an array."""
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover
        pd = None
    if pd is not None and isinstance(features, pd.DataFrame):
        df = features
        if "error" in df.columns and df["error"].notna().any():
            bad = list(df.index[df["error"].notna()])
            raise ValueError(f"{OP}: cases {bad} failed extraction (see the 'error' column); "
                             "drop them first")
        cols = [c for c in df.columns if c != "error" and not str(c).startswith("diagnostics")
                and pd.api.types.is_numeric_dtype(df[c])]
        if names is not None:
            missing = [c for c in names if c not in df.columns]
            if missing:
                raise ValueError(f"{OP}: feature table lacks columns {missing[:5]}")
            cols = list(names)
        X = df[cols].to_numpy(dtype=np.float64)
    else:
        X = np.asarray(features, dtype=np.float64)
        if X.ndim != 2:
            raise ValueError(f"{OP}: features must be 2-D (cases x features), got {X.shape}")
        cols = list(names) if names is not None else [f"f{i}" for i in range(X.shape[1])]
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{OP}: the feature table holds NaN or infinite values")
    return X, cols


def select_and_model(features, y, *, near_constant=1e-8, max_correlation=0.9, lasso_cv=5,
                     pca=None, classifier="logistic", cv=5, random_state=0, figures_dir=None):
    """Select radiomics features and estimate how well they predict a binary outcome.

    Parameters
    ----------
    features : DataFrame or array (cases x features)
        e.g. the output of :func:`extract_many` (the ``error`` and diagnostics columns are
        ignored; failed cases must be dropped first).
    y : array of two classes (cases,)
    near_constant : float
        Drop features whose standard deviation is <= near_constant * max(|mean|, 1).
    max_correlation : float in (0, 1]
        Drop a feature whose |Pearson r| with an already kept one exceeds this.
    lasso_cv : int
        Folds of LassoCV (medkern.ml) that choose the LASSO penalty.
    pca : int, optional
        Reduce the selected features to this many principal components (medkern.ml.PCA).
    classifier : 'logistic' or 'gbdt'
        scikit-learn LogisticRegression or medkern.ml.HistGradientBoostingClassifier.
    cv : int
        Stratified folds for the ROC AUC of the whole pipeline.
    figures_dir : path, optional
        Write ``lasso_path.png``, ``coefficients.png`` and ``roc.png`` there.
    """
    from sklearn.metrics import roc_auc_score, roc_curve
    from sklearn.model_selection import StratifiedKFold

    X, names = _table(features)
    y = np.asarray(y).ravel()
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"{OP}: y has {y.shape[0]} entries for {X.shape[0]} cases")
    classes = np.unique(y)
    if classes.size != 2:
        raise ValueError(f"{OP}: y must hold exactly two classes, found {classes.tolist()}")
    yb = (y == classes[1]).astype(np.float64)
    if not 0 < max_correlation <= 1:
        raise ValueError(f"{OP}: max_correlation={max_correlation} must be in (0, 1]")
    if not isinstance(cv, (int, np.integer)) or cv < 2 or np.min(np.bincount(yb.astype(int))) < cv:
        raise ValueError(f"{OP}: cv={cv} must be an integer >= 2 and <= the smaller class size "
                         f"({int(np.min(np.bincount(yb.astype(int))))})")
    if pca is not None and (not isinstance(pca, (int, np.integer)) or pca < 1):
        raise ValueError(f"{OP}: pca={pca!r} must be None or a positive integer")
    _make_classifier(classifier, random_state)  # fail early on an unavailable classifier

    def build():
        return RadiomicsModel(near_constant=near_constant, max_correlation=max_correlation,
                              lasso_cv=lasso_cv, pca=pca, classifier=classifier,
                              random_state=random_state)

    oof = np.empty(X.shape[0])
    fold_aucs = []
    skf = StratifiedKFold(n_splits=cv, shuffle=True, random_state=random_state)
    for tr, te in skf.split(X, yb):
        m = build().fit(X[tr], yb[tr], names)
        oof[te] = m._score(X[te])
        fold_aucs.append(float(roc_auc_score(yb[te], oof[te])))
    model = build().fit(X, yb, names)

    import pandas as pd

    coefs = pd.Series(model.coef_, index=model.selected_, name="lasso_coefficient")
    figures = {}
    if figures_dir is not None:
        figures = _figures(pathlib.Path(figures_dir), model, yb, oof, fold_aucs,
                           roc_curve, roc_auc_score)
    return SelectionResult(
        selected=list(model.selected_), coefficients=coefs, alpha=model.alpha_,
        dropped_constant=model.dropped_constant_, dropped_correlated=model.dropped_correlated_,
        auc=float(np.mean(fold_aucs)), auc_std=float(np.std(fold_aucs)), fold_aucs=fold_aucs,
        oof_score=oof, model=model, figures=figures)


def _figures(outdir, model, y, oof, fold_aucs, roc_curve, roc_auc_score):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from ..ml import lasso_path

    os.makedirs(outdir, exist_ok=True)
    paths = {}
    Zs, names = model.lasso_input_
    alphas, coefs, _ = lasso_path(Zs, y - y.mean(), alphas=model.lasso_.alphas_)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(np.log10(alphas), np.asarray(coefs).T, lw=1)
    ax.axvline(np.log10(model.alpha_), color="k", ls="--", lw=1, label="LassoCV alpha")
    ax.set_xlabel("log10(alpha)")
    ax.set_ylabel("coefficient (standardized features)")
    ax.set_title(f"LASSO path ({len(names)} features)")
    ax.legend()
    fig.tight_layout()
    paths["lasso_path"] = str(outdir / "lasso_path.png")
    fig.savefig(paths["lasso_path"], dpi=110)
    plt.close(fig)

    order = np.argsort(np.abs(model.coef_))
    fig, ax = plt.subplots(figsize=(7, max(2.5, 0.3 * len(order) + 1)))
    ax.barh([model.selected_[i] for i in order], model.coef_[order],
            color=["#c44" if c < 0 else "#48c" for c in model.coef_[order]])
    ax.set_xlabel("LASSO coefficient")
    ax.set_title("Selected features")
    fig.tight_layout()
    paths["coefficients"] = str(outdir / "coefficients.png")
    fig.savefig(paths["coefficients"], dpi=110)
    plt.close(fig)

    fpr, tpr, _ = roc_curve(y, oof)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot(fpr, tpr, lw=2, label=f"out-of-fold AUC {roc_auc_score(y, oof):.3f} "
                                 f"(fold mean {np.mean(fold_aucs):.3f})")
    ax.plot([0, 1], [0, 1], color="grey", ls=":")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("Cross-validated ROC")
    ax.legend(loc="lower right")
    fig.tight_layout()
    paths["roc"] = str(outdir / "roc.png")
    fig.savefig(paths["roc"], dpi=110)
    plt.close(fig)
    return paths
