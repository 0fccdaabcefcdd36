"""medkern.info(), ISA cap, threads: behaviour and error messages."""

import json
import os
import subprocess
import sys

import pytest

import medkern


def run_py(code: str, **env) -> subprocess.CompletedProcess:
    e = dict(os.environ)
    e.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=e,
                          timeout=120)


def test_info_has_the_documented_keys():
    d = medkern.info(measure_peak=False)
    for key in ("cpu", "flags", "isa", "isa_available", "num_threads", "versions", "caches",
                "peak_gflops"):
        assert key in d
    assert d["isa"] in d["isa_available"]
    assert d["isa_available"][0] == "ref"
    for k in ("medkern", "compiler", "onetbb", "onednn", "eigen", "pybind11"):
        assert k in d["versions"]
    assert d["versions"]["medkern"] == medkern.__version__
    assert any(c["level"] == 1 for c in d["caches"])


def test_peak_is_measured_and_cached():
    d = medkern.info()
    peaks = d["peak_gflops"]
    assert "1" in peaks
    one = peaks["1"]
    assert one["f32"] > 1.0  # any x86-64 with AVX2 does far more than 1 GFLOP/s
    assert one["copy_gbs"] > 0.1
    if "avx512_vnni" in d["isa_available"]:
        assert one["s8"] > one["f32"]  # 4 int8 products per lane
    # Cached: the second call returns the same numbers without re-measuring.
    assert medkern.info()["peak_gflops"] == peaks


def test_python_m_medkern_info_prints_json():
    r = run_py("import runpy, sys; sys.argv=['medkern','info','--no-peak','--json'];"
               "runpy.run_module('medkern', run_name='__main__')")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["isa"] in d["isa_available"]


def test_env_cap_limits_the_isa():
    r = run_py("import medkern; print(medkern.get_isa())", MEDKERN_MAX_ISA="avx2")
    assert r.returncode == 0, r.stderr
    expected = "avx2" if "avx2" in medkern.available_isas() else "ref"
    assert r.stdout.strip() == expected


def test_unknown_env_isa_is_a_clear_error():
    r = run_py("import medkern, numpy as np; medkern.matmul(np.ones((2,2),np.float32),"
               "np.ones((2,2),np.float32))", MEDKERN_MAX_ISA="avx9000")
    assert r.returncode != 0
    assert "MEDKERN_MAX_ISA" in r.stderr and "avx9000" in r.stderr and "avx512" in r.stderr


def test_set_max_isa_before_first_call_then_locked():
    code = (
        "import medkern, numpy as np\n"
        "medkern.set_max_isa('ref')\n"
        "assert medkern.get_isa() == 'ref'\n"
        "medkern.set_max_isa('avx2')\n"  # still allowed: no kernel ran yet
        "medkern.matmul(np.ones((3,3),np.float32), np.ones((3,3),np.float32))\n"
        "try:\n"
        "    medkern.set_max_isa('ref')\n"
        "except RuntimeError as e:\n"
        "    print('locked:', e)\n"
    )
    r = run_py(code)
    assert r.returncode == 0, r.stderr
    assert "locked:" in r.stdout and "after the first kernel call" in r.stdout


def test_set_max_isa_rejects_unknown_names_and_types():
    with pytest.raises(ValueError, match="unknown ISA 'avx3'.*avx512_bf16"):
        medkern.set_max_isa("avx3")
    with pytest.raises(TypeError):
        medkern.set_max_isa(3)


def test_threads_set_and_validate():
    before = medkern.get_num_threads()
    try:
        medkern.set_num_threads(1)
        assert medkern.get_num_threads() == 1
        with pytest.raises(ValueError, match="set_num_threads"):
            medkern.set_num_threads(0)
        with pytest.raises(TypeError):
            medkern.set_num_threads(1.5)
    finally:
        medkern.set_num_threads(before)


def test_env_threads():
    r = run_py("import medkern; print(medkern.get_num_threads())", MEDKERN_NUM_THREADS="3")
    assert r.returncode == 0 and r.stdout.strip() == "3"
    r = run_py("import medkern; print(medkern.get_num_threads())", MEDKERN_NUM_THREADS="lots")
    assert r.returncode != 0 and "MEDKERN_NUM_THREADS" in r.stderr


def test_verbose_logs_the_kernel_and_shape():
    r = run_py("import medkern, numpy as np; medkern.matmul(np.ones((5,7),np.float32),"
               "np.ones((7,3),np.float32))", MEDKERN_VERBOSE="1")
    assert r.returncode == 0, r.stderr
    line = [x for x in r.stderr.splitlines() if x.startswith("medkern_verbose,gemm,")]
    assert line and "M=5,N=3,K=7" in line[0] and "brgemm_" in line[0]


@pytest.mark.parametrize("shape, dtype", [((2, 3, 64, 65), "float32"), (7, "uint8"),
                                          ((0, 4), "float64"), ((1 << 22,), "float32")])
def test_empty_is_aligned_contiguous_and_owned(shape, dtype):
    import numpy as np

    a = medkern.empty(shape, dtype)
    want = (shape,) if isinstance(shape, int) else shape
    assert a.shape == want and a.dtype == np.dtype(dtype)
    assert a.flags["C_CONTIGUOUS"] and a.flags["WRITEABLE"]
    assert a.size == 0 or a.ctypes.data % 64 == 0
    a[...] = 3
    assert (a == 3).all()
    assert a.size == 0 or a.base is not None  # the owner of the aligned buffer


def test_empty_rejects_negative_sizes_and_object_dtypes():
    with pytest.raises(ValueError, match="empty: shape .* negative"):
        medkern.empty((2, -1))
    with pytest.raises(TypeError, match="empty: dtype object"):
        medkern.empty(3, object)


def test_results_medkern_allocates_are_aligned():
    # numpy itself gives large arrays 16-byte alignment; medkern's results start on 64 bytes
    import numpy as np

    x = np.random.default_rng(0).standard_normal((1, 3, 300, 300), dtype=np.float32)
    w = np.ones((4, 3, 3, 3), np.float32)
    conv = medkern.ops.PackedConv(w)
    for r in (medkern.to_blocked(x), conv(x), conv.execute_blocked(x),
              medkern.ops.max_pool2d(x, 2), medkern.ops.cat([x, x], 1)):
        assert r.ctypes.data % 64 == 0
