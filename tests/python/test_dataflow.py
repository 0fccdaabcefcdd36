"""Pooling, resampling, softmax and concat against torch.nn.functional."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

import medkern  # noqa: E402
from medkern import ops  # noqa: E402

CHANNELS = (1, 3, 17, 33)


def _t(x):
    return torch.from_numpy(x)


def _torch_or_error(fn):
    try:
        return fn().numpy(), None
    except (RuntimeError, ValueError) as e:
        return None, e


def _close(got, want, n_sum=1):
    # Relative 1e-5; sums of n_sum terms carry ~sqrt(n_sum) ulps of absolute error.
    scale = max(1.0, float(np.abs(want).max(initial=0.0)))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6 * scale * np.sqrt(n_sum))


def _random_pool_case(rng, n):
    k = tuple(int(v) for v in rng.integers(1, 5, n))
    s = tuple(int(v) for v in rng.integers(1, 4, n))
    p = tuple(int(rng.integers(0, kk // 2 + 1)) for kk in k)
    size = tuple(int(v) for v in rng.integers(1, 131 if n == 2 else 24, n))
    return k, s, p, size


@pytest.mark.parametrize("n", [2, 3])
def test_max_pool_matches_torch(rng, n):
    fn, tfn = (ops.max_pool2d, F.max_pool2d) if n == 2 else (ops.max_pool3d, F.max_pool3d)
    checked = 0
    for trial in range(60 if n == 2 else 30):
        k, s, p, size = _random_pool_case(rng, n)
        d = tuple(int(v) for v in rng.integers(1, 3, n))
        ceil = bool(rng.integers(0, 2))
        x = rng.standard_normal((int(rng.choice([1, 5])) if trial % 6 == 0 else 1,
                                 int(rng.choice(CHANNELS)), *size)).astype(np.float32)
        want, err = _torch_or_error(lambda: tfn(_t(x), k, s, p, d, ceil_mode=ceil))
        if err is not None:
            with pytest.raises(ValueError):
                fn(x, k, s, p, d, ceil_mode=ceil)
            continue
        np.testing.assert_array_equal(fn(x, k, s, p, d, ceil_mode=ceil), want)
        checked += 1
    assert checked > 10


@pytest.mark.parametrize("n", [2, 3])
def test_avg_pool_matches_torch(rng, n):
    fn, tfn = (ops.avg_pool2d, F.avg_pool2d) if n == 2 else (ops.avg_pool3d, F.avg_pool3d)
    checked = 0
    for trial in range(60 if n == 2 else 30):
        k, s, p, size = _random_pool_case(rng, n)
        ceil = bool(rng.integers(0, 2))
        cip = bool(rng.integers(0, 2))
        div = int(rng.integers(1, 10)) if trial % 5 == 0 else None
        x = rng.standard_normal((1, int(rng.choice(CHANNELS)), *size)).astype(np.float32)
        want, err = _torch_or_error(lambda: tfn(_t(x), k, s, p, ceil_mode=ceil,
                                                 count_include_pad=cip, divisor_override=div))
        if err is not None:
            with pytest.raises(ValueError):
                fn(x, k, s, p, ceil_mode=ceil, count_include_pad=cip, divisor_override=div)
            continue
        _close(fn(x, k, s, p, ceil_mode=ceil, count_include_pad=cip, divisor_override=div),
               want, int(np.prod(k)))
        checked += 1
    assert checked > 10


def test_pool_unet_shapes_and_unbatched(rng):
    x = rng.standard_normal((2, 17, 64, 66)).astype(np.float32)
    np.testing.assert_array_equal(ops.max_pool2d(x, 2, 2), F.max_pool2d(_t(x), 2, 2).numpy())
    _close(ops.avg_pool2d(x, 2), F.avg_pool2d(_t(x), 2).numpy(), 4)
    v = rng.standard_normal((1, 3, 9, 20, 13)).astype(np.float32)
    np.testing.assert_array_equal(ops.max_pool3d(v, (1, 2, 2)), F.max_pool3d(_t(v), (1, 2, 2)).numpy())
    np.testing.assert_array_equal(ops.max_pool2d(x[0], 3, 2, 1), F.max_pool2d(_t(x[0]), 3, 2, 1).numpy())


def test_max_pool_propagates_nan():
    x = np.zeros((1, 1, 4, 40), np.float32)
    x[0, 0, 1, 5] = np.nan
    x[0, 0, 0, 30] = np.nan
    got = ops.max_pool2d(x, 2, 2)
    want = F.max_pool2d(_t(x), 2, 2).numpy()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    assert np.isnan(got).sum() == 2


@pytest.mark.parametrize("n", [2, 3])
def test_adaptive_avg_pool_matches_torch(rng, n):
    fn, tfn = ((ops.adaptive_avg_pool2d, F.adaptive_avg_pool2d) if n == 2
               else (ops.adaptive_avg_pool3d, F.adaptive_avg_pool3d))
    for trial in range(20):
        size = tuple(int(v) for v in rng.integers(1, 70 if n == 2 else 20, n))
        out = tuple(int(v) for v in rng.integers(1, 12, n)) if trial % 4 else 1  # 1: global
        x = rng.standard_normal((1, int(rng.choice(CHANNELS)), *size)).astype(np.float32)
        _close(fn(x, out), tfn(_t(x), out).numpy(), int(np.prod(size)))


def test_global_avg_pool_large(rng):
    x = rng.random((2, 33, 130, 127), dtype=np.float32)
    _close(ops.adaptive_avg_pool2d(x, 1), F.adaptive_avg_pool2d(_t(x), 1).numpy(), 130 * 127)


def test_interpolate_matches_torch(rng):
    cases = 0
    for trial in range(70):
        n = 2 if trial % 3 else 3
        mode = ["nearest", "bilinear" if n == 2 else "trilinear"][trial % 2]
        size = tuple(int(v) for v in rng.integers(1, 131 if n == 2 else 20, n))
        x = rng.standard_normal((1, int(rng.choice(CHANNELS)), *size)).astype(np.float32)
        kw = {}
        if mode != "nearest":
            kw["align_corners"] = bool(rng.integers(0, 2))
        if trial % 4 < 2:
            kw["scale_factor"] = [2.0, 0.5, 1.7, 3.0, 0.75][trial % 5] if trial % 8 else (
                tuple(float(v) for v in rng.choice([0.6, 1.0, 2.0, 2.5], n)))
        else:
            kw["size"] = tuple(int(v) for v in rng.integers(1, 2 * max(size) + 2, n))
        want, err = _torch_or_error(lambda: F.interpolate(_t(x), mode=mode, **kw))
        if err is not None:
            with pytest.raises(ValueError):
                ops.interpolate(x, mode=mode, **kw)
            continue
        got = ops.interpolate(x, mode=mode, **kw)
        if mode == "nearest":
            np.testing.assert_array_equal(got, want)
        else:
            _close(got, want, 8)
        cases += 1
    assert cases > 40


@pytest.mark.parametrize("mode,shape", [("nearest", (1, 17, 33, 65)), ("bilinear", (1, 3, 64, 64)),
                                        ("trilinear", (1, 3, 8, 16, 17)),
                                        ("nearest", (1, 3, 8, 16, 17))])
def test_interpolate_x2(rng, mode, shape):
    x = rng.standard_normal(shape).astype(np.float32)
    for ac in ([None] if mode == "nearest" else [False, True]):
        got = ops.interpolate(x, scale_factor=2, mode=mode, align_corners=ac)
        _close(got, F.interpolate(_t(x), scale_factor=2, mode=mode, align_corners=ac).numpy(), 8)


def test_softmax_matches_torch(rng):
    for shape in [(2, 3, 17, 19), (1, 33, 5, 7), (4, 1000), (3, 5, 2, 9, 4), (7,), (1, 2, 1, 1)]:
        x = (rng.standard_normal(shape) * 20).astype(np.float32)
        for dim in range(-len(shape), len(shape)):
            _close(ops.softmax(x, dim), F.softmax(_t(x), dim).numpy())


def test_softmax_stable_and_in_place(rng):
    x = (rng.standard_normal((2, 5, 33, 31)) * 1e4).astype(np.float32)
    want = F.softmax(_t(x), 1).numpy()
    got = ops.softmax(x, 1)
    assert np.isfinite(got).all()
    _close(got, want)
    y = x.copy()
    assert ops.softmax(y, 1, out=y) is y
    _close(y, want)


def test_cat_matches_numpy(rng):
    for trial in range(30):
        rank = int(rng.integers(1, 6))
        base = [int(v) for v in rng.integers(1, 9, rank)]
        dim = int(rng.integers(-rank, rank))
        xs = []
        for _ in range(int(rng.integers(1, 9))):
            s = list(base)
            s[dim] = int(rng.integers(0, 7))
            xs.append(rng.standard_normal(s).astype(np.float32))
        np.testing.assert_array_equal(ops.cat(xs, dim), np.concatenate(xs, dim))


def test_cat_large_into_out_and_dtypes(rng):
    a = rng.standard_normal((2, 64, 96, 97)).astype(np.float32)  # > streaming threshold
    b = rng.standard_normal((2, 3, 96, 97)).astype(np.float32)
    out = np.empty((2, 67, 96, 97), np.float32)
    assert ops.cat([a, b], 1, out=out) is out
    np.testing.assert_array_equal(out, np.concatenate([a, b], 1))
    nhwc = [np.ascontiguousarray(v.transpose(0, 2, 3, 1)) for v in (a, b)]
    np.testing.assert_array_equal(ops.cat(nhwc, -1), np.concatenate(nhwc, -1))
    i8 = [rng.integers(-9, 9, (3, 4, 5)).astype(np.int8) for _ in range(3)]
    np.testing.assert_array_equal(ops.cat(i8, 2), np.concatenate(i8, 2))
    t = np.arange(24, dtype=np.float32).reshape(2, 3, 4).transpose(0, 2, 1)  # non-contiguous
    np.testing.assert_array_equal(ops.cat([t, t], 1), np.concatenate([t, t], 1))


@pytest.mark.parametrize("chans,spatial", [((16, 32), (9, 10)), ((3, 17, 33), (5, 7)),
                                           ((1, 15, 2, 16, 30), (4, 3, 5)),
                                           ((16,) * 8, (6, 6)), ((20, 44), (70, 70)),
                                           # six inputs in one block, runs long enough to stream
                                           ((1, 2, 3, 4, 5, 1, 24), (64, 80))])
def test_cat_blocked_repacks_lanes(rng, chans, spatial):
    xs = [rng.standard_normal((2, c, *spatial)).astype(np.float32) for c in chans]
    got = ops.cat_blocked([medkern.to_blocked(x) for x in xs], list(chans))
    np.testing.assert_array_equal(got, medkern.to_blocked(np.concatenate(xs, 1)))


# ---- bad input ---------------------------------------------------------------------------

def test_pool_bad_input():
    x = np.zeros((1, 2, 8, 8), np.float32)
    with pytest.raises(ValueError, match="4-D"):
        ops.max_pool2d(np.zeros((8, 8), np.float32), 2)
    with pytest.raises(ValueError, match="5-D"):
        ops.avg_pool3d(x[0, 0], 2)
    with pytest.raises(TypeError, match="float32"):
        ops.max_pool2d(x.astype(np.float64), 2)
    with pytest.raises(TypeError, match="numpy"):
        ops.avg_pool2d([[1.0]], 2)
    with pytest.raises(ValueError, match="larger than the padded input"):
        ops.max_pool2d(x, 9)
    with pytest.raises(ValueError, match="larger than the padded input"):
        ops.max_pool3d(np.zeros((1, 1, 2, 8, 8), np.float32), (3, 2, 2))
    with pytest.raises(ValueError, match="smaller than kernel_size"):
        ops.avg_pool3d(np.zeros((1, 1, 2, 8, 8), np.float32), (3, 2, 2), padding=(1, 0, 0))
    with pytest.raises(ValueError, match="stride"):
        ops.max_pool2d(x, 2, stride=0)
    with pytest.raises(ValueError, match="stride"):
        ops.avg_pool2d(x, 2, stride=(1, -1))
    with pytest.raises(ValueError, match="kernel_size"):
        ops.max_pool2d(x, 0)
    with pytest.raises(ValueError, match="dilation"):
        ops.max_pool2d(x, 2, dilation=0)
    with pytest.raises(ValueError, match="at most half"):
        ops.max_pool2d(x, 3, padding=2)
    with pytest.raises(ValueError, match="at most half"):
        ops.avg_pool2d(x, 2, padding=(0, 2))
    with pytest.raises(ValueError, match="padding"):
        ops.avg_pool2d(x, 2, padding=-1)
    with pytest.raises(ValueError, match="divisor_override"):
        ops.avg_pool2d(x, 2, divisor_override=0)
    with pytest.raises(ValueError, match="output_size"):
        ops.adaptive_avg_pool2d(x, (0, 2))
    with pytest.raises(ValueError, match="must be >= 1"):
        ops.max_pool2d(np.zeros((1, 2, 0, 8), np.float32), 1)
    with pytest.raises(TypeError, match="kernel_size"):
        ops.max_pool2d(x, (2, 2, 2))


def test_interpolate_bad_input():
    x = np.zeros((1, 2, 4, 4), np.float32)
    with pytest.raises(ValueError, match="exactly one"):
        ops.interpolate(x)
    with pytest.raises(ValueError, match="exactly one"):
        ops.interpolate(x, size=4, scale_factor=2)
    with pytest.raises(ValueError, match="5-D"):
        ops.interpolate(x, scale_factor=2, mode="trilinear")
    with pytest.raises(ValueError, match="4-D"):
        ops.interpolate(x[0], scale_factor=2, mode="bilinear")
    with pytest.raises(ValueError, match="mode"):
        ops.interpolate(x, scale_factor=2, mode="bicubic")
    with pytest.raises(ValueError, match="align_corners"):
        ops.interpolate(x, scale_factor=2, mode="nearest", align_corners=True)
    with pytest.raises(ValueError, match="positive"):
        ops.interpolate(x, size=(0, 3))
    with pytest.raises(ValueError, match="positive"):
        ops.interpolate(x, scale_factor=-2.0)
    with pytest.raises(ValueError, match="sizes must be positive"):
        ops.interpolate(x, scale_factor=0.1)
    with pytest.raises(TypeError, match="float32"):
        ops.interpolate(x.astype(np.float16), scale_factor=2)
    with pytest.raises(TypeError, match="size"):
        ops.interpolate(x, size=(2, 2, 2))


def test_softmax_bad_input():
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match="dim 2 out of range"):
        ops.softmax(x, 2)
    with pytest.raises(TypeError, match="float32"):
        ops.softmax(x.astype(np.int32), 1)
    with pytest.raises(ValueError, match="out shape"):
        ops.softmax(x, 1, out=np.zeros((3, 2), np.float32))
    with pytest.raises(TypeError, match="out dtype"):
        ops.softmax(x, 1, out=np.zeros((2, 3), np.float64))
    with pytest.raises(TypeError, match="dim"):
        ops.softmax(x, None)


def test_cat_bad_input():
    a, b = np.zeros((1, 2, 4, 4), np.float32), np.zeros((1, 3, 4, 5), np.float32)
    with pytest.raises(ValueError, match="dimension 3"):
        ops.cat([a, b], 1)
    with pytest.raises(ValueError, match="rank"):
        ops.cat([a, a[0]], 1)
    with pytest.raises(ValueError, match="out of range"):
        ops.cat([a, a], 4)
    with pytest.raises(ValueError, match="at least one"):
        ops.cat([], 0)
    with pytest.raises(TypeError, match="differs"):
        ops.cat([a, a.astype(np.int32)], 1)
    with pytest.raises(TypeError, match="list or tuple"):
        ops.cat(a, 0)
    with pytest.raises(ValueError, match="out shape"):
        ops.cat([a, a], 1, out=np.zeros((1, 3, 4, 4), np.float32))
    with pytest.raises(TypeError, match="out dtype"):
        ops.cat([a, a], 1, out=np.zeros((1, 4, 4, 4), np.float64))
    with pytest.raises(ValueError, match="C-contiguous"):
        ops.cat([a, a], 1, out=np.zeros((1, 4, 4, 8), np.float32)[..., ::2])
    out = np.zeros((1, 4, 4, 4), np.float32)
    with pytest.raises(ValueError, match="overlaps"):
        ops.cat([out[:, :2], a], 1, out=out)
    blk = medkern.to_blocked(np.zeros((1, 17, 4, 4), np.float32))
    with pytest.raises(ValueError, match="does not fit"):
        ops.cat_blocked([blk, blk], [17, 40])
    with pytest.raises(ValueError, match="channel counts"):
        ops.cat_blocked([blk, blk], [17])


# ---- pooling on the channel-blocked layout -------------------------------------------------

def _lay(n):
    return "ncdhw" if n == 3 else "nchw"


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("n", [2, 3])
def test_pool_blocked_matches_torch(rng, kind, n):
    """Random geometry (padding, ceil_mode, dilation, odd sizes) and channel counts that are
    not multiples of 16: the blocked result, reordered, equals torch's; padding lanes stay 0."""
    bfn = ops.max_pool_blocked if kind == "max" else ops.avg_pool_blocked
    if kind == "max":
        tfn = F.max_pool2d if n == 2 else F.max_pool3d
    else:
        tfn = F.avg_pool2d if n == 2 else F.avg_pool3d
    checked = 0
    for trial in range(40 if n == 2 else 20):
        k, s, p, size = _random_pool_case(rng, n)
        size = tuple(min(v, 40 if n == 2 else 12) for v in size)
        ceil = bool(rng.integers(0, 2))
        c = int(rng.choice(CHANNELS))
        x = rng.standard_normal((1 + trial % 2, c, *size)).astype(np.float32)
        if kind == "max":
            d = tuple(int(v) for v in rng.integers(1, 3, n))
            args, kw = (k, s, p, d), dict(ceil_mode=ceil)
        else:
            cip = bool(rng.integers(0, 2))
            div = int(rng.integers(1, 10)) if trial % 5 == 0 else None
            args, kw = (k, s, p), dict(ceil_mode=ceil, count_include_pad=cip,
                                       divisor_override=div)
        want, err = _torch_or_error(lambda: tfn(_t(x), *args, **kw))
        xb = medkern.to_blocked(x, _lay(n))
        if err is not None:
            with pytest.raises(ValueError):
                bfn(xb, *args, **kw)
            continue
        yb = bfn(xb, *args, **kw)
        got = medkern.from_blocked(yb, c, _lay(n))
        if kind == "max":
            np.testing.assert_array_equal(got, want)
        else:
            _close(got, want, int(np.prod(k)))
        assert not yb[:, -1].reshape(-1, 16)[:, c % 16 or 16:].any()
        checked += 1
    assert checked > 5


def test_pool_blocked_reads_block_slices_and_writes_out(rng):
    """A U-Net skip: the pool reads blocks [1, 3) of a concat buffer in place and writes into
    a block slice of another buffer; NaN propagates as in torch."""
    x = rng.standard_normal((2, 32, 18, 22)).astype(np.float32)
    x[0, 3, 5, 7] = np.nan
    cat = np.zeros((2, 4, 18, 22, 16), np.float32)
    cat[:, 1:3] = medkern.to_blocked(x)
    out = np.full((2, 3, 9, 11, 16), 7, np.float32)
    assert ops.max_pool_blocked(cat[:, 1:3], 2, out=out[:, 1:]) is not None
    want = F.max_pool2d(_t(x), 2).numpy()
    got = medkern.from_blocked(np.ascontiguousarray(out[:, 1:]), 32)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.nan_to_num(got), np.nan_to_num(want))
    assert (out[:, 0] == 7).all()
    v = rng.standard_normal((1, 20, 7, 9, 10)).astype(np.float32)
    _close(medkern.from_blocked(ops.avg_pool_blocked(medkern.to_blocked(v, "ncdhw"), 2,
                                                     ceil_mode=True), 20, "ncdhw"),
           F.avg_pool3d(_t(v), 2, ceil_mode=True).numpy(), 8)


def test_pool_blocked_bad_input(rng):
    xb = medkern.to_blocked(rng.standard_normal((1, 20, 8, 8)).astype(np.float32))
    with pytest.raises(ValueError, match=r"max_pool_blocked: a blocked input must be 5-D"):
        ops.max_pool_blocked(xb[0], 2)
    with pytest.raises(ValueError, match=r"max_pool_blocked: a blocked input must be"):
        ops.max_pool_blocked(np.zeros((1, 2, 8, 8, 8), np.float32), 2)
    with pytest.raises(TypeError, match=r"avg_pool_blocked: input must have dtype float32"):
        ops.avg_pool_blocked(xb.astype(np.float64), 2)
    with pytest.raises(ValueError, match=r"max_pool2d: kernel_size\[0\] is 0, must be >= 1"):
        ops.max_pool_blocked(xb, 0)
    with pytest.raises(ValueError, match=r"max_pool2d: padding\[0\] = 2 must be at most half"):
        ops.max_pool_blocked(xb, 2, 2, 2)
    with pytest.raises(ValueError, match=r"max_pool2d: kernel_size\[0\] = 9 .* is larger than"):
        ops.max_pool_blocked(xb, 9)
    with pytest.raises(ValueError, match=r"max_pool2d: blocked output shape 1x2x4x5x16 must be"):
        ops.max_pool_blocked(xb, 2, out=np.zeros((1, 2, 4, 5, 16), np.float32))
    with pytest.raises(ValueError, match=r"max_pool2d: out memory overlaps the input"):
        ops.max_pool_blocked(xb, 2, out=xb.reshape(-1)[:2 * 4 * 4 * 16].reshape(1, 2, 4, 4, 16))
    with pytest.raises(TypeError, match=r"avg_pool2d: divisor_override must be None or an"):
        ops.avg_pool_blocked(xb, 2, divisor_override=1.5)
