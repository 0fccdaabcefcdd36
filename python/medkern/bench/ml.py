"""``medkern.bench ml``: classical ML against scikit-learn, same process, same thread count.

Cases (issue 5 targets in brackets):
  lassocv     LassoCV, 10 folds, 100 alphas, 200 x 2000 radiomics-shaped data   [>= 5x]
  lasso_path  lasso_path, 100 alphas, 10000 x 500                              [>= 3x]
  pca_full    PCA() full, 10000 x 1000 (correlated, offset features)          [>= 1.5x]
  pca_full_gauss  the same on i.i.d. Gaussian data                             [>= 1.5x]
  pca_rand    PCA(20, svd_solver='randomized'), 10000 x 2000                   [>= 2x]

scikit-learn runs with its BLAS / OpenMP pools limited to the same thread count (threadpoolctl)
and, for LassoCV, ``n_jobs`` equal to it; medkern with ``set_num_threads``. scikit-learn-intelex
(oneDAL) is the third column where it accelerates the estimator: PCA. It has no Lasso /
ElasticNet / LassoCV (its patched LassoCV is scikit-learn's), so those rows show none. Times are medians
of interleaved rounds (as ``_timing.measure_interleaved``) with an untimed pause before each
call so that neither library's spinning thread pool slows the other (see _measure_paused).
"""

from __future__ import annotations

import argparse
import contextlib
import sys

import numpy as np

import statistics
import time

from ._timing import measure_interleaved  # noqa: F401  (same method, see _measure_paused)

TARGETS = {"lassocv": 5.0, "lasso_path": 3.0, "pca_full": 1.5, "pca_full_gauss": 1.5,
           "pca_rand": 2.0}


def radiomics_data(n, p, seed=0, n_factors=20, noise=0.3):
    """Strongly correlated features (a few latent factors, radiomics-like) and a sparse target."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, n_factors))
    load = rng.standard_normal((n_factors, p))
    X = z @ load + noise * rng.standard_normal((n, p))
    X = X * rng.uniform(0.5, 5.0, p) + rng.uniform(-3, 3, p)
    w = np.zeros(p)
    idx = rng.choice(p, 10, replace=False)
    w[idx] = rng.standard_normal(10)
    y = X @ w + 0.5 * rng.standard_normal(n) * np.std(X @ w)
    return np.ascontiguousarray(X), y


def _measure_paused(fns, rounds, warmup=1, pause=1.0):
    """measure_interleaved's round-robin medians, with an untimed pause before every call.

    On a machine with few cores, oneTBB's workers (medkern) and OpenBLAS's threads
    (scikit-learn) keep spinning for a moment after their library returns; a call made right
    after the other library's call then runs oversubscribed (measured: sklearn PCA 0.6 s alone,
    9.8 s right after a medkern call, on 2 cores). The pause lets both pools go idle.
    """
    for fn in fns.values():
        for _ in range(warmup):
            time.sleep(pause)
            fn()
    samples = {k: [] for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            time.sleep(pause)
            t0 = time.perf_counter()
            fn()
            samples[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in samples.items()}


def _sklearnex_pca():
    """scikit-learn-intelex's PCA class, or None when it cannot be imported (reason on stderr).

    oneDAL needs a oneTBB at least as new as its own; ``import medkern`` loads the newest
    libtbb.so.12 of the environment first (medkern/_tbb.py) so that both share it.
    """
    try:
        from sklearnex.decomposition import PCA
    except ImportError as e:
        print(f"# scikit-learn-intelex not available: {e}", file=sys.stderr, flush=True)
        return None
    return PCA


def _cases(quick):
    from sklearn import decomposition as skd
    from sklearn import linear_model as sklm

    from medkern import ml

    xpca = _sklearnex_pca()

    cases = []
    Xc, yc = radiomics_data(200, 2000, seed=1)
    cases.append(("lassocv", "200x2000, 10 folds, 100 alphas",
                  lambda t: (lambda: ml.LassoCV(cv=10, n_threads=t).fit(Xc, yc)),
                  lambda t: (lambda: sklm.LassoCV(cv=10, n_jobs=t).fit(Xc, yc)), None))
    rng = np.random.default_rng(2)
    Xp = rng.standard_normal((10000, 500))
    yp = Xp[:, :25] @ rng.standard_normal(25) + rng.standard_normal(10000)
    cases.append(("lasso_path", "10000x500, 100 alphas",
                  lambda t: (lambda: ml.lasso_path(Xp, yp, n_alphas=100)),
                  lambda t: (lambda: sklm.lasso_path(Xp, yp, alphas=100)), None))
    Xf, _ = radiomics_data(10000, 1000, seed=3, n_factors=50, noise=1.0)
    cases.append(("pca_full", "10000x1000, all components",
                  lambda t: (lambda: ml.PCA(n_threads=t).fit(Xf)),
                  lambda t: (lambda: skd.PCA().fit(Xf)),
                  xpca and (lambda t: (lambda: xpca().fit(Xf)))))
    # The same shape on i.i.d. Gaussian data: LAPACK's eigh (sklearn's covariance_eigh) is an
    # order of magnitude slower on the correlated matrix above, so both are reported.
    Xg = np.random.default_rng(5).standard_normal((10000, 1000))
    cases.append(("pca_full_gauss", "10000x1000 Gaussian, all components",
                  lambda t: (lambda: ml.PCA(n_threads=t).fit(Xg)),
                  lambda t: (lambda: skd.PCA().fit(Xg)),
                  xpca and (lambda t: (lambda: xpca().fit(Xg)))))
    Xr, _ = radiomics_data(10000, 2000, seed=4, n_factors=50, noise=1.0)
    cases.append(("pca_rand", "10000x2000 -> 20, randomized",
                  lambda t: (lambda: ml.PCA(n_components=20, svd_solver="randomized",
                                            random_state=0, n_threads=t).fit(Xr)),
                  lambda t: (lambda: skd.PCA(n_components=20, svd_solver="randomized",
                                             random_state=0).fit(Xr)),
                  xpca and (lambda t: (lambda: xpca(n_components=20, svd_solver="randomized",
                                                    random_state=0).fit(Xr)))))
    return cases


def run(threads=None, quick=False, only=None):
    """Runs the cases; returns rows (name, shape, medkern s, sklearn s, sklearnex s or None)."""
    import warnings

    import medkern

    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        threadpool_limits = None
    t = threads or medkern.get_num_threads()
    medkern.set_num_threads(t)
    limit = threadpool_limits(limits=t) if threadpool_limits else contextlib.nullcontext()
    rows = []
    with limit, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, shape, mk, sk, sx in _cases(quick):
            if only and name not in only:
                continue
            fns = {"medkern": mk(t), "sklearn": sk(t)}
            if sx is not None:
                fns["sklearnex"] = sx(t)
            res = _measure_paused(fns, rounds=3 if quick else 5)
            rows.append((name, shape, res["medkern"], res["sklearn"], res.get("sklearnex")))
            extra = f", scikit-learn-intelex {res['sklearnex']:.4f} s" if "sklearnex" in res else ""
            print(f"# {name}: medkern {res['medkern']:.4f} s, scikit-learn {res['sklearn']:.4f} s"
                  f"{extra}", file=sys.stderr, flush=True)
    return rows, t


def format_table(rows, threads):
    lines = [f"threads: {threads}", "",
             "| case | problem | medkern (s) | scikit-learn (s) | speed-up | target | "
             "scikit-learn-intelex (s) | speed-up |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for name, shape, m, s, x in rows:
        r = s / m
        mark = "" if r >= TARGETS[name] else " (below)"
        xcols = f"{x:.4f} | {x / m:.2f}x" if x is not None else "— | —"
        lines.append(f"| {name} | {shape} | {m:.4f} | {s:.4f} | {r:.2f}x{mark} | "
                     f">= {TARGETS[name]}x | {xcols} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m medkern.bench ml")
    parser.add_argument("--threads", type=int, default=None, help="threads for both libraries")
    parser.add_argument("--quick", action="store_true", help="3 rounds instead of 5")
    parser.add_argument("--only", default="", help="comma-separated subset of " +
                        ",".join(TARGETS))
    args = parser.parse_args(argv)
    only = set(filter(None, args.only.split(",")))
    rows, t = run(args.threads, args.quick, only)
    print(format_table(rows, t))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
