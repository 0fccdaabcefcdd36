"""medkern.radiomics.extract_many on every kind of worker: in this thread, its own process pool
and thread pool (n_jobs), concurrent.futures ThreadPoolExecutor and ProcessPoolExecutor, and a
dask.distributed Client. Every row equals FeatureExtractor.execute of its case (itself checked
against pyradiomics here once); failing cases are reported in their own row and the batch
goes on."""

import concurrent.futures as cf
import logging
import multiprocessing as mp

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
sitk = pytest.importorskip("SimpleITK")

from medkern.radiomics import FeatureExtractor, extract_many  # noqa: E402


def _case(seed, n=(10, 20, 22), spacing=(0.7, 0.9, 2.0)):
    rng = np.random.default_rng(seed)
    zz, yy, xx = np.mgrid[:n[0], :n[1], :n[2]]
    r = ((zz - n[0] / 2) / (n[0] / 3)) ** 2 + ((yy - n[1] / 2) / (n[1] / 3)) ** 2 \
        + ((xx - n[2] / 2) / (n[2] / 3.5)) ** 2
    m = (r + 0.3 * rng.random(n)) < 1
    img = rng.normal(100, 30, n) + 50 * np.sin(xx / 2.0)
    image = sitk.GetImageFromArray(img)
    image.SetSpacing(spacing)
    mask = sitk.GetImageFromArray(m.astype(np.uint8))
    mask.CopyInformation(image)
    return image, mask


def _cases():
    good = [_case(s) for s in range(3)]
    img = good[0][0]
    empty = sitk.Image(img.GetSize(), sitk.sitkUInt8)
    empty.CopyInformation(img)
    arr = np.zeros(img.GetSize()[::-1], np.uint8)
    arr[4:7, 8:12, 8:12] = 2  # label 2 only: label 1 is absent
    other = sitk.GetImageFromArray(arr)
    other.CopyInformation(img)
    return [good[0], (img, empty), good[1], (img, other), good[2]]


EXTRACTOR = FeatureExtractor(binWidth=10)


def _check(df, cases):
    assert list(df.index) == list(range(len(cases)))
    assert df.columns[0] == "error"
    assert df["error"].isna().tolist() == [True, False, True, False, True]
    assert "empty" in df["error"].iloc[1]
    assert "label 1 is not present" in df["error"].iloc[3]
    feats = [c for c in df.columns if c != "error"]
    assert df.loc[[1, 3], feats].isna().all().all()
    for i in (0, 2, 4):
        want = EXTRACTOR.execute(*cases[i])
        assert feats == list(want)
        got = df.loc[i, feats].to_numpy(dtype=np.float64)
        np.testing.assert_array_equal(got, np.array([float(v) for v in want.values()]))


def test_serial_rows_equal_pyradiomics():
    radiomics = pytest.importorskip("radiomics")
    from radiomics import featureextractor

    logging.getLogger("radiomics").setLevel(logging.ERROR)
    cases = _cases()
    df = extract_many(cases, EXTRACTOR, progress=False)
    _check(df, cases)
    ref = featureextractor.RadiomicsFeatureExtractor(binWidth=10).execute(*cases[2])
    ref = {k: float(v) for k, v in ref.items() if not k.startswith("diagnostics_")}
    assert set(ref) == set(df.columns[1:])
    got = df.loc[2]
    bad = [k for k, v in ref.items() if not abs(got[k] - v) <= 1e-9 + 1e-6 * abs(v)]
    assert not bad, bad[:5]


@pytest.mark.parametrize("prefer", ["processes", "threads"])
def test_n_jobs(prefer):
    cases = _cases()
    df = EXTRACTOR.extract_many(cases, n_jobs=2, prefer=prefer, progress=False)
    _check(df, cases)


@pytest.mark.parametrize("kind", ["threads", "processes-fork", "processes-forkserver",
                                  "processes-spawn"])
def test_concurrent_futures_executors(kind):
    cases = _cases()
    if kind == "threads":
        ex = cf.ThreadPoolExecutor(max_workers=2)
    else:
        ex = cf.ProcessPoolExecutor(max_workers=2,
                                    mp_context=mp.get_context(kind.split("-")[1]))
    with ex:
        df = extract_many(cases, EXTRACTOR, executor=ex, progress=False)
    _check(df, cases)


@pytest.mark.parametrize("processes", [False, True])
def test_dask_distributed_client(processes):
    distributed = pytest.importorskip("distributed")
    cases = _cases()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=processes,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        df = extract_many(cases, EXTRACTOR, executor=client, progress=False)
    _check(df, cases)


def test_lost_worker_is_reported_in_its_row():
    """An executor whose future fails (not the case itself) still yields one row per case."""

    class Flaky(cf.ThreadPoolExecutor):
        def __init__(self):
            super().__init__(max_workers=2)
            self.n = 0

        def submit(self, fn, *args, **kw):
            self.n += 1
            if self.n == 2:
                f = cf.Future()
                f.set_exception(RuntimeError("worker lost"))
                return f
            return super().submit(fn, *args, **kw)

    cases = [_case(0), _case(1), _case(2)]
    with Flaky() as ex:
        df = extract_many(cases, EXTRACTOR, executor=ex, progress=False)
    assert df["error"].isna().tolist() == [True, False, True]
    assert "worker lost" in df["error"].iloc[1]


def test_bad_batch_arguments():
    cases = [_case(0)]
    with pytest.raises(ValueError, match="n_jobs"):
        extract_many(cases, EXTRACTOR, n_jobs=0, progress=False)
    with pytest.raises(ValueError, match="prefer"):
        extract_many(cases, EXTRACTOR, n_jobs=2, prefer="gpu", progress=False)
    with pytest.raises(TypeError, match="submit"):
        extract_many(cases, EXTRACTOR, executor=object(), progress=False)


def test_numpy_dict_cases_on_the_process_pool():
    """numpy arrays with spacing (dict cases, own ids) travel to the worker processes and give
    the rows of the serial run."""
    cases = []
    for s in range(3):
        image, mask = _case(10 + s)
        cases.append({"id": f"case-{s}", "image": sitk.GetArrayFromImage(image),
                      "mask": sitk.GetArrayFromImage(mask), "spacing": image.GetSpacing()})
    serial = extract_many(cases, EXTRACTOR, progress=False)
    pooled = extract_many(cases, EXTRACTOR, n_jobs=2, progress=False)
    assert list(pooled.index) == ["case-0", "case-1", "case-2"]
    assert serial["error"].isna().all() and pooled["error"].isna().all()
    pd.testing.assert_frame_equal(serial, pooled)
