"""Batch extraction over many cases, on processes, threads or any executor-like object.

Each case runs :meth:`FeatureExtractor.execute` on its own; an exception becomes the case's
``error`` entry and the batch goes on. ``executor`` may be any ``concurrent.futures.Executor``
or an object with the same ``submit`` (a ``dask.distributed.Client``): the extractor and the
case travel to the worker, so a process or cluster worker needs only medkern installed and
the case's arrays or file paths.

``n_jobs > 1`` without an executor runs the cases on a pool of worker processes, each with
one medkern thread: a case spends part of its time in Python and numpy (settings, SimpleITK
preprocessing, the feature formulas), which holds the GIL, so threads would not scale with
the cores; processes do. The pool is started on first use (``forkserver``, medkern imported
once in the server) and kept for later batches of the same size, so its start-up cost is
paid once per process. In-memory images reach those workers as .npy files on ``/dev/shm``
(a pipe would cost several ms of CPU per MB on both sides); file paths are read by the
workers. ``prefer="threads"`` uses a thread pool instead (no process start, no copy of the
images).
"""

from __future__ import annotations

import atexit
import concurrent.futures as cf
import multiprocessing as mp
import os
import threading
import traceback
from typing import Any, Iterable

import numpy as np

OP = "medkern.radiomics.extract_many"


def _normalize_case(case, index):
    """(id, image, mask, kwargs) from a pair, a triple with label, or a dict."""
    if isinstance(case, dict):
        unknown = set(case) - {"id", "image", "mask", "label", "spacing", "origin"}
        if unknown:
            raise ValueError(f"{OP}: case {index}: unknown key(s) {sorted(unknown)}")
        if "image" not in case or "mask" not in case:
            raise ValueError(f"{OP}: case {index}: a dict case needs 'image' and 'mask'")
        kw = {k: case[k] for k in ("label", "spacing", "origin") if case.get(k) is not None}
        return case.get("id", index), case["image"], case["mask"], kw
    if isinstance(case, (tuple, list)) and len(case) in (2, 3):
        kw = {"label": case[2]} if len(case) == 3 and case[2] is not None else {}
        return index, case[0], case[1], kw
    raise ValueError(f"{OP}: case {index} must be an (image, mask) pair, an (image, mask, "
                     "label) triple or a dict with 'image' and 'mask'")


def _run_case(extractor, image, mask, kw):
    """Worker body: never raises, so a failure stays in its own row."""
    try:
        return extractor.execute(image, mask, **kw), None
    except Exception as e:  # noqa: BLE001 - the batch records any failure per case
        msg = f"{type(e).__name__}: {e}"
        if not isinstance(e, (ValueError, TypeError)):
            msg += "\n" + traceback.format_exc(limit=3)
        return None, msg


def _worker_init(threads):
    """One worker = ``threads`` cores: medkern's arena, SimpleITK's filters and the BLAS
    behind numpy all limited, so that n workers do not oversubscribe n cores."""
    from .. import set_num_threads

    set_num_threads(threads)
    try:
        import SimpleITK as sitk

        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(threads)
    except ImportError:  # pragma: no cover - file-free numpy cases need no SimpleITK pool
        pass
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        pass


_POOL_LOCK = threading.Lock()
_POOL: dict = {}


def _process_pool(workers):
    """The shared process pool of ``workers`` processes (started once, reused; replaced when
    broken or of another size)."""
    with _POOL_LOCK:
        pool = _POOL.get("pool")
        if pool is not None and (_POOL.get("workers") != workers or getattr(
                pool, "_broken", False) or getattr(pool, "_shutdown_thread", False)):
            pool.shutdown(wait=True, cancel_futures=True)
            pool = None
        if pool is None:
            ctx = mp.get_context("forkserver")
            ctx.set_forkserver_preload(["numpy", "medkern.radiomics"])
            pool = cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                                          initializer=_worker_init, initargs=(1,))
            # Every worker starts now (one submit each), with the main module hidden: the
            # workers then do not re-run the caller's script, which need not be guarded by
            # ``if __name__ == "__main__"`` (what they run lives in medkern).
            with _main_module_hidden():
                ready = [pool.submit(os.getpid) for _ in range(workers)]
            cf.wait(ready)
            _POOL.update(pool=pool, workers=workers)
        return pool


class _main_module_hidden:
    """Temporarily removes ``__file__`` and ``__spec__`` of ``__main__`` (what
    multiprocessing's spawn / forkserver use to re-import it in a new process)."""

    def __enter__(self):
        import sys

        self.main = sys.modules.get("__main__")
        self.saved = {k: self.main.__dict__[k] for k in ("__file__", "__spec__")
                      if self.main is not None and k in self.main.__dict__}
        for k in self.saved:
            if k == "__file__":
                del self.main.__dict__[k]
            else:
                self.main.__dict__[k] = None
        return self

    def __exit__(self, *exc):
        if self.main is not None:
            self.main.__dict__.update(self.saved)
        return False


@atexit.register
def _shutdown_pool():
    pool = _POOL.pop("pool", None)
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


def _result(future):
    try:
        return future.result()
    except Exception as e:  # noqa: BLE001 - a lost worker or a transfer error
        return None, f"{type(e).__name__}: {e}"


class _Spilled:
    """An in-memory image written to a raw .npy file on a memory file system (``/dev/shm``
    where it exists) for a worker process of this machine: a pipe would carry it to the
    worker in 64 KB pieces, several ms of CPU per MB on both sides, and the file costs one
    copy each. The geometry travels as exact Python floats."""

    def __init__(self, obj, path):
        from . import preprocess as pp

        self.path = path
        self.geometry = None
        if pp._is_sitk(obj):
            sitk = pp._sitk()
            arr = sitk.GetArrayViewFromImage(obj)
            self.geometry = (obj.GetSpacing(), obj.GetOrigin(), obj.GetDirection(),
                             obj.GetNumberOfComponentsPerPixel() > 1)
        else:
            arr = obj
        np.save(path, np.ascontiguousarray(arr), allow_pickle=False)

    def load(self):
        arr = np.load(self.path, allow_pickle=False)
        if self.geometry is None:
            return arr
        from . import preprocess as pp

        spacing, origin, direction, vector = self.geometry
        img = pp._sitk().GetImageFromArray(arr, isVector=vector)
        img.SetSpacing(spacing)
        img.SetOrigin(origin)
        img.SetDirection(direction)
        return img


def _spillable(obj):
    from . import preprocess as pp

    return pp._is_sitk(obj) or (isinstance(obj, np.ndarray) and obj.dtype != object)


def _run_spilled_case(extractor, image, mask, kw):
    try:
        image = image.load() if isinstance(image, _Spilled) else image
        mask = mask.load() if isinstance(mask, _Spilled) else mask
    except Exception as e:  # noqa: BLE001 - reported in the case's row
        return None, f"{type(e).__name__}: {e}"
    return _run_case(extractor, image, mask, kw)


def _run_spilled(pool, extractor, items, results, bar, workers):
    """The cases on medkern's own process pool: in-memory images spilled to files (see
    _Spilled), at most 2 cases per worker in flight so the spill stays small, each case's
    files removed as soon as its result is back."""
    import shutil
    import tempfile

    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    tmp = tempfile.mkdtemp(prefix="medkern-radiomics-", dir=base)
    pending: dict = {}

    def submit(i):
        _, img, msk, kw = items[i]
        files = []
        try:
            if _spillable(img):
                files.append(os.path.join(tmp, f"{i}-image.npy"))
                img = _Spilled(img, files[-1])
            if _spillable(msk):
                files.append(os.path.join(tmp, f"{i}-mask.npy"))
                msk = _Spilled(msk, files[-1])
            pending[pool.submit(_run_spilled_case, extractor, img, msk, kw)] = (i, files)
        except Exception as e:  # noqa: BLE001 - e.g. a full file system: this case fails
            results[i] = (None, f"{type(e).__name__}: {e}")
            _remove(files)
            if bar is not None:
                bar.update(1)

    try:
        nxt = 0
        while nxt < len(items) or pending:
            while nxt < len(items) and len(pending) < 2 * workers:
                submit(nxt)
                nxt += 1
            if not pending:
                continue
            done, _ = cf.wait(list(pending), return_when=cf.FIRST_COMPLETED)
            for f in done:
                i, files = pending.pop(f)
                results[i] = _result(f)
                _remove(files)
                if bar is not None:
                    bar.update(1)
    finally:
        for f in pending:
            f.cancel()
        shutil.rmtree(tmp, ignore_errors=True)


def _remove(files):
    for path in files:
        try:
            os.remove(path)
        except OSError:
            pass


def _as_completed(futures, executor):
    if all(isinstance(f, cf.Future) for f in futures):
        return cf.as_completed(futures)
    mod = type(executor).__module__ if executor is not None else ""
    if mod.startswith("distributed"):
        from distributed import as_completed

        return as_completed(futures)
    return iter(futures)


def extract_many(cases: Iterable[Any], extractor=None, n_jobs=None, executor=None,
                 progress=True, prefer="processes"):
    """Features of many cases as a pandas DataFrame, one row per case in input order.

    Parameters
    ----------
    cases : iterable
        ``(image, mask)`` pairs, ``(image, mask, label)`` triples, or dicts with ``image``,
        ``mask`` and optional ``id``, ``label``, ``spacing``, ``origin``. Images and masks are
        SimpleITK images, file paths (see :func:`load`) or numpy arrays (with spacing).
    extractor : FeatureExtractor, optional
        Default: ``FeatureExtractor()``.
    n_jobs : int, optional
        Workers when no executor is given (None or 1: run in this thread; -1: one per CPU).
    prefer : "processes" or "threads"
        Worker kind for ``n_jobs > 1``: a reused pool of processes with one medkern thread
        each (default; scales with the cores), or a thread pool.
    executor : concurrent.futures.Executor or dask.distributed.Client, optional
        Runs the cases instead (``n_jobs`` is then ignored).
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    DataFrame indexed by case id with an ``error`` column (None on success, the error message
    otherwise; the feature columns of a failed case are NaN) followed by the feature columns.
    """
    import pandas as pd

    from .extractor import FeatureExtractor

    if extractor is None:
        extractor = FeatureExtractor()
    if n_jobs is not None and (not isinstance(n_jobs, (int, np.integer)) or isinstance(
            n_jobs, bool) or n_jobs == 0 or n_jobs < -1):
        raise ValueError(f"{OP}: n_jobs={n_jobs!r} must be None, -1 or a positive integer")
    if prefer not in ("processes", "threads"):
        raise ValueError(f"{OP}: prefer={prefer!r} must be 'processes' or 'threads'")
    if executor is not None and not callable(getattr(executor, "submit", None)):
        raise TypeError(f"{OP}: executor must have a submit() method "
                        f"(concurrent.futures.Executor or dask.distributed.Client)")
    items = [_normalize_case(c, i) for i, c in enumerate(cases)]
    ids = [it[0] for it in items]
    if len(set(map(repr, ids))) != len(ids):
        raise ValueError(f"{OP}: case ids must be unique")
    results: list = [None] * len(items)

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(items), desc="radiomics", unit="case")
    own = None
    try:
        workers = None if n_jobs in (None, 1) else (os.cpu_count() or 1) if n_jobs == -1 \
            else int(n_jobs)
        if executor is None and workers is not None and workers > 1:
            if prefer == "threads":
                own = executor = cf.ThreadPoolExecutor(max_workers=workers)
            else:
                executor = _process_pool(workers)
        if executor is None:
            for i, (_, img, msk, kw) in enumerate(items):
                results[i] = _run_case(extractor, img, msk, kw)
                if bar is not None:
                    bar.update(1)
        elif executor is _POOL.get("pool"):
            _run_spilled(executor, extractor, items, results, bar, workers)
        else:
            futures = [executor.submit(_run_case, extractor, img, msk, kw)
                       for (_, img, msk, kw) in items]
            position = {id(f): i for i, f in enumerate(futures)}
            for f in _as_completed(futures, executor):
                results[position[id(f)]] = _result(f)
                if bar is not None:
                    bar.update(1)
    finally:
        if own is not None:
            own.shutdown(wait=True)
        if bar is not None:
            bar.close()

    columns: dict[str, None] = {}
    for feats, _ in results:
        if feats:
            for k in feats:
                columns.setdefault(k, None)
    rows = []
    for feats, err in results:
        row = {"error": err}
        if feats:
            row.update(feats)
        rows.append(row)
    df = pd.DataFrame(rows, columns=["error", *columns], index=pd.Index(ids, name="case"))
    return df
