"""Channel-blocked layouts: medkern.to_blocked / medkern.from_blocked against numpy.

The numpy reference pads C up to a multiple of 16 with zeros, splits it into (Cb, 16) and moves
the 16 lanes last: exactly the nChw16c / nCdhw16c definition. Comparisons are on raw bytes, so
float NaN payloads and bfloat16 bit patterns must survive unchanged.
"""

from __future__ import annotations

import numpy as np
import pytest

import medkern

DTYPES = [np.float32, np.uint16, np.int8, np.uint8, np.int32]
CHANNELS = [1, 3, 15, 16, 17, 33]
SPATIAL_2D = [(1, 1), (7, 1), (1, 16), (17, 1), (31, 1), (4, 4), (5, 7)]
SPATIAL_3D = [(1, 1, 1), (1, 1, 17), (2, 3, 5), (3, 4, 5), (1, 4, 4)]
BATCHES = [1, 3]


def random_array(shape, dtype, rng):
    dtype = np.dtype(dtype)
    bits = rng.integers(0, 256, size=int(np.prod(shape)) * dtype.itemsize, dtype=np.uint8)
    x = bits.view(dtype).reshape(shape)
    if dtype == np.float32:  # finite values plus a few special bit patterns
        x = rng.standard_normal(shape).astype(np.float32)
        flat = x.reshape(-1)
        flat[:: 7] = np.float32(np.nan)
        flat[1::11] = np.float32(-0.0)
    return np.ascontiguousarray(x)


def ref_to_blocked(x, layout_from="nchw"):
    if layout_from in ("nhwc", "ndhwc"):
        x = np.moveaxis(x, -1, 1)
    n, c = x.shape[:2]
    cb = -(-c // 16)
    xp = np.pad(x, [(0, 0), (0, cb * 16 - c)] + [(0, 0)] * (x.ndim - 2))
    xp = xp.reshape((n, cb, 16) + x.shape[2:])
    return np.ascontiguousarray(np.moveaxis(xp, 2, -1))


def ref_from_blocked(y, channels, layout_to="nchw"):
    n, cb = y.shape[:2]
    x = np.moveaxis(y, -1, 2).reshape((n, cb * 16) + y.shape[2:-1])[:, :channels]
    if layout_to in ("nhwc", "ndhwc"):
        x = np.moveaxis(x, 1, -1)
    return np.ascontiguousarray(x)


def same_bytes(a, b):
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def plain_shape(n, c, spatial, layout):
    return (n, *spatial, c) if layout in ("nhwc", "ndhwc") else (n, c, *spatial)


def check_case(dtype, layout, n, c, spatial, rng):
    x = random_array(plain_shape(n, c, spatial, layout), dtype, rng)
    y = medkern.to_blocked(x, layout_from=layout)
    expected = ref_to_blocked(x, layout)
    assert y.shape == (n, -(-c // 16), *spatial, 16)
    assert y.dtype == x.dtype
    assert y.flags.c_contiguous
    assert same_bytes(y, expected), (dtype, layout, n, c, spatial)
    # padding lanes of the last block are zero
    pad = y[:, -1, ..., c - 16 * (y.shape[1] - 1):]
    assert not pad.view(np.uint8).any()
    z = medkern.from_blocked(y, c, layout_to=layout)
    assert same_bytes(z, x), (dtype, layout, n, c, spatial)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
@pytest.mark.parametrize("c", CHANNELS)
def test_2d_matches_numpy_and_round_trips(dtype, layout, c):
    rng = np.random.default_rng(1000 + c)
    for n in BATCHES:
        for spatial in SPATIAL_2D:
            check_case(dtype, layout, n, c, spatial, rng)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("layout", ["nchw", "nhwc", "ncdhw", "ndhwc"])
@pytest.mark.parametrize("c", CHANNELS)
def test_3d_matches_numpy_and_round_trips(dtype, layout, c):
    rng = np.random.default_rng(2000 + c)
    for n in BATCHES:
        for spatial in SPATIAL_3D:
            check_case(dtype, layout, n, c, spatial, rng)


@pytest.mark.parametrize("dtype", [np.float32, np.uint16, np.uint8])
def test_large_problem_many_tasks(dtype):
    rng = np.random.default_rng(7)
    for layout in ("nchw", "nhwc"):
        check_case(dtype, layout, 2, 40, (96, 97), rng)


def test_from_blocked_ignores_padding_lanes():
    rng = np.random.default_rng(3)
    y = random_array((2, 2, 5, 7, 16), np.float32, rng)  # padding lanes hold garbage
    z = medkern.from_blocked(y, 17)
    assert same_bytes(z, ref_from_blocked(y, 17))
    z = medkern.from_blocked(y, 20, layout_to="nhwc")
    assert same_bytes(z, ref_from_blocked(y, 20, "nhwc"))


def test_values_land_where_documented():
    x = np.arange(2 * 20 * 3 * 4, dtype=np.float32).reshape(2, 20, 3, 4)
    y = medkern.to_blocked(x)
    for n, c, h, w in [(0, 0, 0, 0), (1, 17, 2, 3), (0, 15, 1, 2), (1, 16, 0, 0)]:
        assert y[n, c // 16, h, w, c % 16] == x[n, c, h, w]
    assert y.shape == (2, 2, 3, 4, 16)


def test_zero_size_dimensions():
    for shape in [(0, 3, 4, 4), (2, 3, 0, 4), (2, 0, 4, 4)]:
        x = np.zeros(shape, np.float32)
        y = medkern.to_blocked(x)
        assert y.shape == (shape[0], -(-shape[1] // 16), shape[2], shape[3], 16)
        z = medkern.from_blocked(y, shape[1])
        assert z.shape == shape


def test_results_are_independent_of_thread_count():
    rng = np.random.default_rng(11)
    x = random_array((2, 33, 40, 41), np.float32, rng)
    before = medkern.get_num_threads()
    try:
        medkern.set_num_threads(1)
        a = medkern.to_blocked(x)
        medkern.set_num_threads(2)
        b = medkern.to_blocked(x)
    finally:
        medkern.set_num_threads(before)
    assert same_bytes(a, b)


# ---- errors -----------------------------------------------------------------------------------


def test_non_contiguous_input_is_a_value_error():
    x = np.zeros((1, 3, 8, 8), np.float32)
    with pytest.raises(ValueError, match="contiguous"):
        medkern.to_blocked(x[:, :, :, ::2])
    with pytest.raises(ValueError, match="contiguous"):
        medkern.to_blocked(np.zeros((1, 8, 8, 3), np.float32).transpose(0, 3, 1, 2))
    y = np.zeros((1, 1, 8, 8, 16), np.float32)
    with pytest.raises(ValueError, match="contiguous"):
        medkern.from_blocked(np.asfortranarray(y), 3)


def test_wrong_rank_is_a_value_error():
    with pytest.raises(ValueError):
        medkern.to_blocked(np.zeros((3, 8, 8), np.float32))
    with pytest.raises(ValueError):
        medkern.to_blocked(np.zeros((1, 1, 1, 3, 8, 8), np.float32))
    with pytest.raises(ValueError):
        medkern.from_blocked(np.zeros((1, 8, 8, 16), np.float32), 3)


def test_bad_layout_name_is_a_value_error():
    x = np.zeros((1, 3, 8, 8), np.float32)
    with pytest.raises(ValueError):
        medkern.to_blocked(x, layout_from="nchw16c")
    with pytest.raises(ValueError):
        medkern.to_blocked(x, layout_from="ncdhw")  # 3-D name for a 4-D array
    with pytest.raises(ValueError):
        medkern.from_blocked(np.zeros((1, 1, 8, 8, 16), np.float32), 3, layout_to="chw")


def test_channel_count_must_match_blocks():
    y = np.zeros((1, 2, 4, 4, 16), np.float32)
    for bad in (16, 33, 0, -1):
        with pytest.raises(ValueError):
            medkern.from_blocked(y, bad)
    for ok in (17, 32):
        assert medkern.from_blocked(y, ok).shape == (1, ok, 4, 4)


def test_lane_dimension_must_be_16():
    with pytest.raises(ValueError, match="16"):
        medkern.from_blocked(np.zeros((1, 1, 4, 4, 8), np.float32), 3)


def test_unsupported_dtype_is_a_type_error():
    with pytest.raises(TypeError):
        medkern.to_blocked(np.zeros((1, 3, 4, 4), np.float64))
    with pytest.raises(TypeError):
        medkern.from_blocked(np.zeros((1, 1, 4, 4, 16), np.int64), 3)


def test_to_and_from_blocked_into_out():
    x = np.random.default_rng(3).standard_normal((2, 20, 5, 7)).astype(np.float32)
    xb = medkern.to_blocked(x)
    ob = np.full_like(xb, 9)
    assert medkern.to_blocked(x, out=ob) is ob
    np.testing.assert_array_equal(ob, xb)
    with pytest.raises(ValueError, match=r"to_blocked: out must have x's dtype and shape "
                                         r"2x2x5x7x16, got 2x1x5x7x16"):
        medkern.to_blocked(x, out=np.empty((2, 1, 5, 7, 16), np.float32))
    with pytest.raises(TypeError, match=r"to_blocked: out must be a numpy.ndarray"):
        medkern.to_blocked(x, out=1.0)
    out = np.empty_like(x)
    assert medkern.from_blocked(xb, 20, out=out) is out
    np.testing.assert_array_equal(out, x)
    with pytest.raises(ValueError, match=r"from_blocked: out must have x's dtype and shape "
                                         r"2x20x5x7, got 2x20x5x6"):
        medkern.from_blocked(xb, 20, out=np.empty((2, 20, 5, 6), np.float32))
    with pytest.raises(ValueError, match=r"from_blocked: out must have x's dtype"):
        medkern.from_blocked(xb, 20, out=np.empty((2, 20, 5, 7), np.int32))
    with pytest.raises(ValueError, match=r"from_blocked: out must be C-contiguous"):
        medkern.from_blocked(xb, 20, out=np.empty((2, 20, 5, 14), np.float32)[..., ::2])
    with pytest.raises(TypeError, match=r"from_blocked: out must be a numpy.ndarray"):
        medkern.from_blocked(xb, 20, out=[0])
