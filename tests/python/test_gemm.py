"""matmul entry points against numpy, under every ISA cap the machine has, and bad input."""

import os
import subprocess
import sys

import numpy as np
import pytest

import medkern

SIZES = [1, 15, 16, 17, 31, 33, 64, 100, 257]


def _bf16_round(x):
    return medkern.from_bf16(medkern.to_bf16(x))


@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (17, 33, 65), (100, 257, 31), (257, 64, 100),
                                   (3, 1000, 2), (0, 4, 5), (4, 0, 5), (4, 5, 0)])
def test_matmul_f32_matches_numpy(rng, m, k, n):
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    c = medkern.matmul(a, b)
    assert c.shape == (m, n) and c.dtype == np.float32
    ref = a.astype(np.float64) @ b.astype(np.float64)
    np.testing.assert_allclose(c, ref, rtol=1e-5, atol=1e-5 * np.sqrt(max(k, 1)))


def test_matmul_out_is_written_in_place_and_inputs_untouched(rng):
    a = rng.standard_normal((40, 50), dtype=np.float32)
    b = rng.standard_normal((50, 60), dtype=np.float32)
    a0, b0 = a.copy(), b.copy()
    out = np.full((40, 60), np.nan, np.float32)
    r = medkern.matmul(a, b, out=out)
    assert r is out or np.shares_memory(r, out)
    np.testing.assert_allclose(out, a @ b, rtol=1e-4, atol=1e-4)
    assert np.array_equal(a, a0) and np.array_equal(b, b0)


def test_matmul_bf16_matches_rounded_reference(rng):
    a = rng.standard_normal((65, 130), dtype=np.float32)
    b = rng.standard_normal((130, 33), dtype=np.float32)
    c = medkern.matmul_bf16(a, b)
    ref = _bf16_round(a).astype(np.float64) @ _bf16_round(b).astype(np.float64)
    np.testing.assert_allclose(c, ref, rtol=1e-5, atol=1e-4)
    # uint16 bit patterns are taken as they are.
    c2 = medkern.matmul_bf16(medkern.to_bf16(a), medkern.to_bf16(b))
    np.testing.assert_array_equal(c, c2)


def test_bf16_conversion_rounds_to_nearest_even():
    x = np.array([1.0, 1.0 + 2**-8, 1.0 + 3 * 2**-8, -2.5, np.inf, np.nan], np.float32)
    y = medkern.from_bf16(medkern.to_bf16(x))
    assert y[0] == 1.0 and y[1] == 1.0 and y[2] == 1.0 + 2**-6 and y[3] == -2.5
    assert np.isinf(y[4]) and np.isnan(y[5])


@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (17, 33, 65), (64, 257, 100), (5, 3, 2)])
def test_matmul_u8s8_is_exact(rng, m, k, n):
    a = rng.integers(0, 256, (m, k), dtype=np.uint8)
    b = rng.integers(-128, 128, (k, n), dtype=np.int8)
    c = medkern.matmul_u8s8(a, b)
    assert c.dtype == np.int32
    np.testing.assert_array_equal(c, a.astype(np.int64) @ b.astype(np.int64))


def test_every_isa_cap_gives_the_same_answers(rng):
    """Run the same problems under each ISA the CPU has, in fresh processes (the cap is fixed
    at the first kernel call), and compare with numpy."""
    code = (
        "import numpy as np, medkern, sys\n"
        "rng = np.random.default_rng(7)\n"
        "a = rng.standard_normal((37, 91), dtype=np.float32)\n"
        "b = rng.standard_normal((91, 45), dtype=np.float32)\n"
        "np.testing.assert_allclose(medkern.matmul(a, b), a.astype(np.float64) @ b, rtol=1e-5, atol=1e-4)\n"
        "ai = rng.integers(0, 256, (37, 91), dtype=np.uint8)\n"
        "bi = rng.integers(-128, 128, (91, 45), dtype=np.int8)\n"
        "assert np.array_equal(medkern.matmul_u8s8(ai, bi), ai.astype(np.int64) @ bi)\n"
        "print(medkern.get_isa())\n"
    )
    for isa in medkern.available_isas():
        env = dict(os.environ, MEDKERN_MAX_ISA=isa)
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                           timeout=120)
        assert r.returncode == 0, f"{isa}: {r.stderr}"
        assert r.stdout.strip() == isa


def test_matmul_bad_input_messages():
    a = np.ones((3, 4), np.float32)
    b = np.ones((4, 5), np.float32)
    with pytest.raises(ValueError, match="inner dimensions 4 and 3"):
        medkern.matmul(a, np.ones((3, 5), np.float32))
    with pytest.raises(ValueError, match="must be 2-D"):
        medkern.matmul(np.ones(4, np.float32), b)
    with pytest.raises(TypeError, match="float32.*float64"):
        medkern.matmul(a.astype(np.float64), b)
    with pytest.raises(ValueError, match="C-contiguous"):
        medkern.matmul(np.ones((4, 3), np.float32).T, b)
    with pytest.raises(ValueError, match=r"out must have shape \(3, 5\)"):
        medkern.matmul(a, b, out=np.empty((5, 3), np.float32))
    with pytest.raises(TypeError, match="out must have dtype float32"):
        medkern.matmul(a, b, out=np.empty((3, 5), np.float64))
    with pytest.raises(TypeError, match="numpy.ndarray"):
        medkern.matmul([[1.0]], b)
    with pytest.raises(TypeError, match="int8"):
        medkern.matmul_u8s8(np.ones((2, 2), np.uint8), np.ones((2, 2), np.uint8))
    with pytest.raises(ValueError, match="overlap"):
        big = np.ones((4, 4), np.float32)
        medkern.matmul(big, big, out=big)
    ro = np.empty((3, 5), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="writable"):
        medkern.matmul(a, b, out=ro)
