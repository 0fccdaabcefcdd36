"""``medkern.bench radiomics``: feature extraction against pyradiomics, one case and a batch.

(a) One case end to end: a 256x256x64 textured volume (smoothed Gaussian noise, CT-like
    range) with an irregular ellipsoidal ROI of ~50,000 voxels, spacing (0.8, 0.8, 2.5) mm,
    default settings (binWidth 25), Original image, all default feature classes (first order,
    shape, GLCM, GLRLM, GLSZM, GLDM, NGTDM). ``radiomics.featureextractor.
    RadiomicsFeatureExtractor().execute`` against ``medkern.radiomics.FeatureExtractor().
    execute`` on the same SimpleITK images, both on one thread (medkern.set_num_threads(1);
    BLAS pools and SimpleITK filters limited to one thread). The outputs are compared
    feature by feature first.
    Medians of interleaved rounds. Target (issue 6): >= 20x.
(b) A batch: 100 generated cases (96x96x32 volumes, irregular ROIs of ~11,000-27,000 voxels,
    anisotropic spacing) through ``extract_many`` with n_jobs=1 and n_jobs=2 (process pool,
    one medkern thread per worker; also a thread pool), once from in-memory SimpleITK images
    and once from NRRD files, and pyradiomics' extractor over the same cases serially.
    Target: >= 1.8x from 1 to 2 workers.

Also: per-class time of each medkern feature class against pyradiomics' class on the one case
(``--classes``). ``--quick`` runs a smaller case, 10 batch cases and fewer rounds (smoke use).

    python -m medkern.bench radiomics [--quick] [--rounds N] [--cases N] [--classes]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import time

import numpy as np

SPACING = (0.8, 0.8, 2.5)


def make_case(seed=0, shape=(64, 256, 256), radii=(13, 33, 28)):
    """Textured volume (z, y, x) and an irregular ellipsoidal boolean ROI at its centre."""
    g = np.random.default_rng(seed)
    img = g.normal(size=shape)
    for _ in range(2):
        for ax in range(3):
            img = (np.roll(img, 1, ax) + img + np.roll(img, -1, ax)) / 3
    img = 600 * img + 40 * g.normal(size=shape) + 50
    z, y, x = np.meshgrid(*[np.arange(s) for s in shape], indexing="ij")
    c = [s / 2 for s in shape]
    r = sum(((a - m) / rr) ** 2 for a, m, rr in zip((z, y, x), c, radii))
    mask = r + 0.15 * g.normal(size=shape) <= 1
    return img, mask


def to_sitk(img, mask, spacing=SPACING):
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(img)
    image.SetSpacing(spacing)
    m = sitk.GetImageFromArray(mask.astype(np.uint8))
    m.SetSpacing(spacing)
    return image, m


def _single_thread_blas():
    try:
        from threadpoolctl import threadpool_limits

        return threadpool_limits(1)
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        return None


def _compare(ref, got, rtol=1e-6, atol=1e-9):
    """(number of compared features, list of mismatch descriptions)."""
    keys = [k for k in ref if not k.startswith("diagnostics_")]
    bad = []
    missing = [k for k in keys if k not in got]
    if missing:
        bad.append(f"missing in medkern: {missing[:5]}{'...' if len(missing) > 5 else ''}")
    extra = [k for k in got if k not in ref]
    if extra:
        bad.append(f"not in pyradiomics: {extra[:5]}")
    for k in keys:
        if k not in got:
            continue
        a, b = float(ref[k]), float(got[k])
        if np.isnan(a) and np.isnan(b):
            continue
        if not abs(a - b) <= atol + rtol * abs(a):
            bad.append(f"{k}: pyradiomics {a!r} medkern {b!r}")
    return len(keys), bad


def one_case(quick, rounds):
    from radiomics.featureextractor import RadiomicsFeatureExtractor

    from medkern.radiomics import FeatureExtractor

    from ._timing import measure_interleaved

    if quick:
        img, mask = make_case(0, (32, 128, 128), (7, 17, 14))
    else:
        img, mask = make_case(0)
    image, m = to_sitk(img, mask)
    py = RadiomicsFeatureExtractor()
    mk = FeatureExtractor()
    ref = py.execute(image, m)
    got = mk.execute(image, m)
    n, bad = _compare(ref, got)
    print(f"# one case: volume {img.shape[::-1]} (x, y, z), ROI {int(mask.sum())} voxels, "
          f"spacing {SPACING}")
    print(f"# outputs: {n} features compared, {len(bad)} differ beyond rel 1e-6 / abs 1e-9")
    for b in bad[:10]:
        print(f"#   {b}")
    t = measure_interleaved({"pyradiomics": lambda: py.execute(image, m),
                             "medkern": lambda: mk.execute(image, m)},
                            min_time=0.0, rounds=rounds, warmup=0 if not quick else 1,
                            pause=0.2)
    ratio = t["pyradiomics"] / t["medkern"]
    print(f"one case end to end (1 thread): pyradiomics {t['pyradiomics'] * 1e3:9.1f} ms   "
          f"medkern {t['medkern'] * 1e3:8.1f} ms   ratio {ratio:6.1f}x   (median of {rounds})")
    return {"pyradiomics_s": t["pyradiomics"], "medkern_s": t["medkern"], "ratio": ratio,
            "features": n, "mismatches": len(bad)}


def per_class(quick, rounds):
    """Each feature class alone on the one case, on the cropped ROI box (as the extractors
    crop), pyradiomics' class construction (its binning) included."""
    from radiomics import firstorder, glcm, gldm, glrlm, glszm, ngtdm, shape

    from medkern.radiomics._input import ClassInput
    from medkern.radiomics.features import CLASSES

    from ._timing import measure_interleaved

    oracle = {"firstorder": firstorder.RadiomicsFirstOrder, "shape": shape.RadiomicsShape,
              "glcm": glcm.RadiomicsGLCM, "glrlm": glrlm.RadiomicsGLRLM,
              "glszm": glszm.RadiomicsGLSZM, "gldm": gldm.RadiomicsGLDM,
              "ngtdm": ngtdm.RadiomicsNGTDM}
    img, mask = make_case(0, (32, 128, 128), (7, 17, 14)) if quick else make_case(0)
    zz, yy, xx = np.nonzero(mask)
    box = tuple(slice(a.min(), a.max() + 1) for a in (zz, yy, xx))
    img_c, mask_c = np.ascontiguousarray(img[box]), np.ascontiguousarray(mask[box])
    image, m = to_sitk(img_c, mask_c)
    settings = {"binWidth": 25}
    from medkern.radiomics import preprocess as pp

    disc = pp.discretize(img_c, mask_c, dict(pp.DEFAULT_SETTINGS, **settings))
    inp = ClassInput(image=img_c, mask=mask_c, discretized=disc, spacing=SPACING,
                     settings=dict(pp.DEFAULT_SETTINGS, **settings))
    tp = tm = 0.0
    for name, cls in oracle.items():
        mod = CLASSES[name]

        def run_py(cls=cls):
            o = cls(image, m, **settings)
            o.execute()

        t = measure_interleaved({"pyradiomics": run_py,
                                 "medkern": lambda mod=mod: mod.compute(inp, mod.DEFAULT_ENABLED)},
                                min_time=0.5, rounds=rounds, warmup=1, pause=0.05)
        tp += t["pyradiomics"]
        tm += t["medkern"]
        print(f"  {name:10s} pyradiomics {t['pyradiomics'] * 1e3:9.2f} ms   medkern "
              f"{t['medkern'] * 1e3:8.2f} ms   ratio {t['pyradiomics'] / t['medkern']:7.1f}x")
    print(f"  {'sum':10s} pyradiomics {tp * 1e3:9.2f} ms   medkern {tm * 1e3:8.2f} ms   "
          f"ratio {tp / tm:7.1f}x")


def make_batch(n, quick):
    """n cases of 96x96x32 (quick: 64x64x24), ROI radii and noise varying per case."""
    shape = (24, 64, 64) if quick else (32, 96, 96)
    cases = []
    for i in range(n):
        g = np.random.default_rng(1000 + i)
        scale = 0.75 + 0.25 * g.random()
        radii = (shape[0] * 0.28 * scale, shape[1] * 0.3 * scale, shape[2] * 0.26 * scale)
        img, mask = make_case(1000 + i, shape, radii)
        cases.append((img, mask))
    return cases


def _cpu_seconds(pids):
    """User + system CPU seconds of each process (None without psutil)."""
    try:
        import psutil
    except ImportError:  # pragma: no cover
        return None
    return [sum(psutil.Process(p).cpu_times()[:2]) for p in pids]


def batch(n_cases, quick, rounds):
    """extract_many at n_jobs=1 and 2 on in-memory SimpleITK images (sent to the workers by
    pickling) and on NRRD file paths (each worker reads its case), pyradiomics serially on
    the in-memory images. CPU seconds of this process and of the pool's workers show how the
    work splits when a loaded machine hides the wall-clock gain."""
    import tempfile

    import SimpleITK as sitk
    from radiomics.featureextractor import RadiomicsFeatureExtractor

    from medkern.radiomics import FeatureExtractor
    from medkern.radiomics import batch as mk_batch

    cases = make_batch(n_cases, quick)
    sitk_cases = [to_sitk(img, mask) for img, mask in cases]
    rois = [int(m.sum()) for _, m in cases]
    print(f"# batch: {n_cases} cases, volume {cases[0][0].shape[::-1]} (x, y, z), ROI "
          f"{min(rois)}-{max(rois)} voxels (median {int(statistics.median(rois))}), spacing "
          f"{SPACING}, all default classes, Original image")
    tmp = tempfile.TemporaryDirectory(prefix="medkern-radiomics-bench-")
    path_cases = []
    for i, (image, m) in enumerate(sitk_cases):
        ip, mp_ = os.path.join(tmp.name, f"{i}_image.nrrd"), os.path.join(tmp.name, f"{i}_mask.nrrd")
        sitk.WriteImage(image, ip)
        sitk.WriteImage(m, mp_)
        path_cases.append((ip, mp_))
    mk = FeatureExtractor()
    py = RadiomicsFeatureExtractor()

    def run(src, jobs, prefer="processes"):
        df = mk.extract_many(src, n_jobs=jobs, progress=False, prefer=prefer)
        if df["error"].notna().any():
            raise RuntimeError(f"batch case failed: {df['error'].dropna().iloc[0]}")
        return df

    def run_py():
        for image, m in sitk_cases:
            py.execute(image, m)

    t0 = time.perf_counter()
    run(sitk_cases[:2], 2)  # worker pool start (kept for the process), imports
    print(f"# process pool start (2 workers, first batch of 2 cases): "
          f"{time.perf_counter() - t0:.2f} s")
    workers = list(mk_batch._POOL["pool"]._processes)
    runs = {"images n_jobs=1": lambda: run(sitk_cases, 1),
            "images n_jobs=2": lambda: run(sitk_cases, 2),
            "images n_jobs=2 threads": lambda: run(sitk_cases, 2, "threads"),
            "files n_jobs=1": lambda: run(path_cases, 1),
            "files n_jobs=2": lambda: run(path_cases, 2),
            "pyradiomics": run_py}
    samples = {k: [] for k in runs}
    cpu = {k: [] for k in runs}
    for r in range(rounds):
        for name, fn in runs.items():
            if name == "pyradiomics" and r >= max(1, rounds // 2):
                continue  # the slow peer: fewer rounds, still interleaved
            time.sleep(0.2)
            c0 = _cpu_seconds([os.getpid(), *workers])
            t0 = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - t0)
            c1 = _cpu_seconds([os.getpid(), *workers])
            if c0 is not None:
                cpu[name].append([b - a for a, b in zip(c0, c1)])
    t = {k: statistics.median(v) for k, v in samples.items()}
    for src in ("images", "files"):
        one, two = t[f"{src} n_jobs=1"], t[f"{src} n_jobs=2"]
        print(f"extract_many {n_cases} cases ({src}): n_jobs=1 {one:7.2f} s   n_jobs=2 "
              f"{two:7.2f} s   speedup {one / two:4.2f}x   (median of {rounds})")
        for name in (f"{src} n_jobs=1", f"{src} n_jobs=2"):
            if cpu[name]:
                c = [statistics.median(v) for v in zip(*cpu[name])]
                print(f"#   {name}: CPU s main {c[0]:.2f}, workers "
                      f"{', '.join(f'{v:.2f}' for v in c[1:])}")
    two_t = t["images n_jobs=2 threads"]
    print(f"extract_many {n_cases} cases (images): n_jobs=2 threads {two_t:7.2f} s   speedup "
          f"{t['images n_jobs=1'] / two_t:4.2f}x")
    print(f"pyradiomics serial {t['pyradiomics']:7.2f} s   ratio to medkern n_jobs=1 "
          f"{t['pyradiomics'] / t['images n_jobs=1']:6.1f}x, to n_jobs=2 "
          f"{t['pyradiomics'] / t['images n_jobs=2']:6.1f}x   (median of "
          f"{len(samples['pyradiomics'])})")
    tmp.cleanup()
    return t


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m medkern.bench radiomics")
    ap.add_argument("--quick", action="store_true", help="small case, 10 batch cases, 2 rounds")
    ap.add_argument("--rounds", type=int, default=None, help="timed rounds (default 5, quick 2)")
    ap.add_argument("--cases", type=int, default=None, help="batch cases (default 100)")
    ap.add_argument("--classes", action="store_true", help="also time each feature class")
    ap.add_argument("--skip-batch", action="store_true")
    args = ap.parse_args(argv)
    rounds = args.rounds or (2 if args.quick else 5)
    n_cases = args.cases or (10 if args.quick else 100)

    import medkern

    import radiomics

    radiomics.setVerbosity(logging.ERROR)
    medkern.set_num_threads(1)
    limits = _single_thread_blas()  # noqa: F841 - kept alive for the whole run
    import SimpleITK as sitk

    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)  # both extractors run ITK filters
    print(f"# load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}, "
          f"cpus {os.cpu_count()}")
    one_case(args.quick, rounds)
    if args.classes:
        per_class(args.quick, rounds)
    if not args.skip_batch:
        batch(n_cases, args.quick, rounds)
    print(f"# load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
