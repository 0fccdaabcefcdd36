"""medkern.ops convolution, im2col / col2im against torch.nn.functional, and bad input."""

import os
import subprocess
import sys

import numpy as np
import pytest

import medkern
from medkern import ops

torch = pytest.importorskip("torch")
F = torch.nn.functional


def _close(got, ref, reduction):
    """rtol 1e-4 scaled by sqrt of the reduction length, relative to the output's scale."""
    tol = 1e-4 * np.sqrt(max(reduction, 1)) / 8
    scale = max(1.0, float(np.abs(ref).max()) if ref.size else 1.0)
    err = float(np.abs(got - ref).max()) if ref.size else 0.0
    assert got.shape == ref.shape
    assert err <= tol * scale, f"max abs err {err:.3g} > {tol * scale:.3g}"


def _torch_conv(n, x, w, b=None, **kw):
    f = F.conv2d if n == 2 else F.conv3d
    tb = None if b is None else torch.from_numpy(b).double()
    return f(torch.from_numpy(x).double(), torch.from_numpy(w).double(), tb, **kw).numpy()


CASES_2D = [
    # (N, C, H, W, OC, k, stride, padding, dilation, groups)
    (1, 1, 1, 1, 1, 1, 1, 0, 1, 1),
    (1, 3, 17, 23, 16, 3, 1, 1, 1, 1),
    (5, 17, 9, 31, 33, (3, 5), 2, (2, 3), 1, 1),
    (1, 33, 40, 7, 17, 3, 3, 2, 2, 1),
    (2, 64, 20, 21, 64, 3, 1, 1, 1, 1),
    (1, 64, 13, 13, 80, 1, 1, 0, 1, 1),
    (1, 32, 11, 19, 48, 3, 2, "valid", 1, 2),
    (5, 17, 12, 15, 17, 3, 1, "same", 1, 17),  # depthwise
    (1, 34, 9, 10, 34, 3, 1, "same", 2, 34),   # depthwise, dilated
    (1, 6, 10, 12, 9, 2, 1, 4, 1, 3),          # padding larger than half the kernel
    (1, 16, 1, 40, 16, 3, (1, 3), (1, 1), 1, 1),
]


@pytest.mark.parametrize("case", CASES_2D)
def test_conv2d_matches_torch(rng, case):
    n, c, h, w, oc, k, s, p, d, g = case
    k2 = (k, k) if isinstance(k, int) else k
    x = rng.standard_normal((n, c, h, w), dtype=np.float32)
    wt = rng.standard_normal((oc, c // g, *k2), dtype=np.float32)
    b = rng.standard_normal(oc, dtype=np.float32)
    got = ops.conv2d(x, wt, b, stride=s, padding=p, dilation=d, groups=g)
    ref = _torch_conv(2, x, wt, b, stride=s, padding=p, dilation=d, groups=g)
    _close(got, ref, c // g * k2[0] * k2[1])


@pytest.mark.parametrize("algorithm", ["direct", "im2col_gemm"])
def test_conv2d_forced_algorithms_agree(rng, algorithm):
    x = rng.standard_normal((2, 17, 14, 29), dtype=np.float32)
    wt = rng.standard_normal((33, 17, 3, 3), dtype=np.float32)
    got = ops.conv2d(x, wt, None, stride=(1, 2), padding=((0, 2), (3, 1)), algorithm=algorithm)
    xp = np.pad(x, ((0, 0), (0, 0), (0, 2), (3, 1)))
    ref = _torch_conv(2, xp, wt, stride=(1, 2))
    _close(got, ref, 17 * 9)


CASES_3D = [
    # (N, C, D, H, W, OC, k, stride, padding, dilation, groups)
    (1, 1, 5, 6, 7, 4, 3, 1, 1, 1, 1),
    (2, 16, 4, 9, 6, 32, (1, 3, 3), (1, 2, 2), (0, 1, 1), 1, 1),
    (1, 17, 7, 5, 9, 20, (3, 1, 5), (2, 1, 1), (2, 0, 3), (1, 1, 2), 1),
    (1, 32, 6, 6, 6, 16, 1, 1, 0, 1, 1),
    (1, 8, 5, 6, 4, 8, 3, 1, "same", 1, 8),
    (5, 3, 3, 8, 8, 33, 3, 2, 1, 1, 1),
]


@pytest.mark.parametrize("case", CASES_3D)
def test_conv3d_matches_torch(rng, case):
    n, c, dd, h, w, oc, k, s, p, dil, g = case
    k3 = (k,) * 3 if isinstance(k, int) else k
    x = rng.standard_normal((n, c, dd, h, w), dtype=np.float32)
    wt = rng.standard_normal((oc, c // g, *k3), dtype=np.float32)
    b = rng.standard_normal(oc, dtype=np.float32)
    got = ops.conv3d(x, wt, b, stride=s, padding=p, dilation=dil, groups=g)
    ref = _torch_conv(3, x, wt, b, stride=s, padding=p, dilation=dil, groups=g)
    _close(got, ref, c // g * int(np.prod(k3)))


def _apply(ref, post, oc_axis=1):
    shape = [1] * ref.ndim
    shape[oc_axis] = -1
    for item in post:
        name, args = (item, ()) if isinstance(item, str) else (item[0], item[1:])
        if name == "relu":
            ref = np.maximum(ref, 0)
        elif name == "relu6":
            ref = np.clip(ref, 0, 6)
        elif name == "leaky_relu":
            ref = np.where(ref >= 0, ref, args[0] * ref)
        elif name == "clip":
            ref = np.clip(ref, args[0], args[1])
        elif name == "linear":
            ref = args[0] * ref + args[1]
        elif name == "scale":
            ref = ref * (np.reshape(args[0], shape) if np.ndim(args[0]) else args[0])
        elif name == "bias":
            ref = ref + np.reshape(args[0], shape)
        elif name == "batch_norm":
            ref = ref * np.reshape(args[0], shape) + np.reshape(args[1], shape)
    return ref


@pytest.mark.parametrize("c,oc,groups", [(64, 48, 1), (17, 33, 1), (12, 12, 12)])
def test_post_ops_fused(rng, c, oc, groups):
    x = rng.standard_normal((2, c, 9, 13), dtype=np.float32)
    wt = rng.standard_normal((oc, c // groups, 3, 3), dtype=np.float32)
    b = rng.standard_normal(oc, dtype=np.float32)
    sc = rng.standard_normal(oc, dtype=np.float32)
    sh = rng.standard_normal(oc, dtype=np.float32)
    base = _torch_conv(2, x, wt, b, padding=1, groups=groups)
    for post in (["relu"], [("leaky_relu", 0.1)], ["relu6"], [("clip", -0.5, 0.25)],
                 [("batch_norm", sc, sh), "relu"], [("scale", 0.5), ("linear", 2.0, -1.0)],
                 [("scale", sc), ("bias", sh), ("leaky_relu", 0.2)]):
        got = ops.conv2d(x, wt, b, padding=1, groups=groups, post_ops=post)
        _close(got, _apply(base, post), c // groups * 9)


def test_packed_conv_reused_and_out_into_concat_slice(rng):
    wt = rng.standard_normal((32, 16, 3, 3), dtype=np.float32)
    b = rng.standard_normal(32, dtype=np.float32)
    conv = ops.PackedConv(wt, b, padding=1)
    assert conv.algorithm_ in ("direct", "im2col_gemm")
    assert "PackedConv" in repr(conv)
    for shape in [(1, 16, 8, 8), (3, 16, 5, 19)]:
        x = rng.standard_normal(shape, dtype=np.float32)
        _close(conv(x), _torch_conv(2, x, wt, b, padding=1), 16 * 9)
    # out= must be the exact output; a channel slice of a concat buffer is passed as a view of
    # the C++ API (the Python out= requires a contiguous array).
    x = rng.standard_normal((1, 16, 8, 8), dtype=np.float32)
    out = np.full((1, 32, 8, 8), np.nan, np.float32)
    r = conv(x, out=out)
    assert r is out or np.shares_memory(r, out)
    _close(out, _torch_conv(2, x, wt, b, padding=1), 16 * 9)


def test_im2col_col2im_match_unfold_fold(rng):
    x = rng.standard_normal((2, 3, 9, 11), dtype=np.float32)
    for k, d, p, s in [(3, 1, 0, 1), ((2, 3), (2, 1), (1, 2), (2, 3)), (1, 1, 0, 1)]:
        col = ops.im2col(x, k, dilation=d, padding=p, stride=s)
        ref = F.unfold(torch.from_numpy(x), k, dilation=d, padding=p, stride=s).numpy()
        np.testing.assert_array_equal(col, ref)
        back = ops.col2im(col, (9, 11), k, dilation=d, padding=p, stride=s)
        refb = F.fold(torch.from_numpy(ref), (9, 11), k, dilation=d, padding=p, stride=s).numpy()
        np.testing.assert_allclose(back, refb, rtol=1e-6, atol=1e-5)


def test_im2col_3d_shape_and_adjoint(rng):
    x = rng.standard_normal((1, 2, 4, 5, 6), dtype=np.float32)
    col = ops.im2col(x, (2, 3, 3), padding=1)
    assert col.shape == (1, 2 * 18, 5 * 5 * 6)
    y = rng.standard_normal(col.shape, dtype=np.float32)
    back = ops.col2im(y, (4, 5, 6), (2, 3, 3), padding=1)
    assert np.isclose(float((col.astype(np.float64) * y).sum()),
                      float((x.astype(np.float64) * back).sum()), rtol=1e-4)


def test_zero_batch_and_noncontiguous_input(rng):
    wt = rng.standard_normal((4, 3, 3, 3), dtype=np.float32)
    assert ops.conv2d(np.zeros((0, 3, 5, 5), np.float32), wt).shape == (0, 4, 3, 3)
    x = rng.standard_normal((1, 3, 10, 10), dtype=np.float32)[:, :, ::2, ::2]
    _close(ops.conv2d(x, wt, padding=1), _torch_conv(2, np.ascontiguousarray(x), wt, padding=1),
           27)


def _raises(exc, match, f, *a, **kw):
    with pytest.raises(exc, match=match):
        f(*a, **kw)


def test_bad_input_errors(rng):
    x = rng.standard_normal((1, 4, 6, 6), dtype=np.float32)
    w = rng.standard_normal((8, 4, 3, 3), dtype=np.float32)
    _raises(ValueError, r"conv2d: input must be 4-D", ops.conv2d, x[0], w)
    _raises(ValueError, r"conv2d: weight must be 4-D", ops.conv2d, x, w[0])
    _raises(TypeError, r"conv2d: input must have dtype float32, got float64", ops.conv2d,
            x.astype(np.float64), w)
    _raises(TypeError, r"conv2d: weight must have dtype float32", ops.conv2d, x,
            w.astype(np.int32))
    _raises(TypeError, r"numpy.ndarray", ops.conv2d, x.tolist(), w)
    _raises(ValueError, r"conv2d: input channels 4 must equal weight in_channels 4 x groups 2",
            ops.conv2d, x, w[:, :4], groups=2)
    _raises(ValueError, r"divisible by groups 3", ops.conv2d, x, w[:, :1], groups=3)
    _raises(ValueError, r"conv2d: padding -1/-1,0/0 \(before/after\) must be non-negative",
            ops.conv2d, x, w, padding=(-1, 0))
    _raises(ValueError, r"conv2d: stride 0x1 must be positive", ops.conv2d, x, w, stride=(0, 1))
    _raises(ValueError, r"conv2d: dilation 1x0 must be positive", ops.conv2d, x, w,
            dilation=(1, 0))
    _raises(ValueError, r"larger than the padded input 8", ops.conv2d, x,
            rng.standard_normal((8, 4, 9, 3), dtype=np.float32), padding=1)
    _raises(ValueError, r"groups 0 must be positive", ops.conv2d, x, w, groups=0)
    _raises(ValueError, r"bias must have shape \(8,\)", ops.conv2d, x, w, np.zeros(7, np.float32))
    _raises(ValueError, r"not supported for strided", ops.conv2d, x, w, stride=2, padding="same")
    _raises(ValueError, r"unknown post-op 'gelu2'", ops.conv2d, x, w, post_ops=["gelu2"])
    _raises(ValueError, r"exceed", ops.conv2d, x, w, np.zeros(8, np.float32),
            post_ops=["relu", "relu", "relu", "relu"])
    _raises(ValueError, r"post-op scale must have shape \(8,\)", ops.conv2d, x, w,
            post_ops=[("scale", np.ones(3))])
    _raises(ValueError, r"out must have shape \(1, 8, 4, 4\)", ops.conv2d, x, w,
            out=np.zeros((1, 8, 4, 5), np.float32))
    _raises(TypeError, r"stride must be an int or a sequence of 2 ints", ops.conv2d, x, w,
            stride=(1, 2, 3))
    _raises(ValueError, r"algorithm 'fast' must be", ops.conv2d, x, w, algorithm="fast")
    _raises(RuntimeError, r"gemm_1x1 needs a 1x1 kernel", ops.conv2d, x, w, algorithm="gemm_1x1")
    _raises(ValueError, r"conv3d: input must be 5-D", ops.conv3d, x, w[..., None])
    _raises(ValueError, r"im2col: .*larger than the padded input", ops.im2col, x, 9)
    _raises(ValueError, r"col2im: input dimension 1 \(5\) must be a multiple", ops.col2im,
            np.zeros((1, 5, 4), np.float32), (4, 4), 3)
    _raises(ValueError, r"col2im: col must be", ops.col2im, np.zeros((1, 18, 5), np.float32),
            (4, 4), 3)


@pytest.mark.parametrize("cap", ["ref", "avx2"])
def test_isa_caps_match_torch(cap):
    """Every ISA cap the machine has: run a small script in a fresh process."""
    if cap not in medkern.available_isas():
        pytest.skip(f"CPU lacks {cap}")
    code = (
        "import numpy as np, torch, medkern\n"
        "from medkern import ops\n"
        "r = np.random.default_rng(3)\n"
        "x = r.standard_normal((2, 32, 9, 11), dtype=np.float32)\n"
        "w = r.standard_normal((16, 32, 3, 3), dtype=np.float32)\n"
        "c = ops.PackedConv(w, padding=1)\n"
        "y = c(x, post_ops=['relu'])\n"
        "ref = torch.relu(torch.nn.functional.conv2d(torch.from_numpy(x).double(),"
        " torch.from_numpy(w).double(), padding=1)).numpy()\n"
        "assert np.abs(y - ref).max() <= 1e-4 * np.abs(ref).max(), np.abs(y - ref).max()\n"
        "print(medkern.get_isa(), c.algorithm_, c.kernel_)\n"
    )
    env = dict(os.environ, MEDKERN_MAX_ISA=cap)
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(cap)


def test_verbose_logs_algorithm(rng):
    code = (
        "import numpy as np, medkern\n"
        "medkern.ops.conv2d(np.ones((1, 16, 8, 8), np.float32), np.ones((16, 16, 3, 3),"
        " np.float32), padding=1)\n"
    )
    env = dict(os.environ, MEDKERN_VERBOSE="1")
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    line = [l for l in r.stderr.splitlines() if l.startswith("medkern_verbose,conv,")]
    assert line and "mb1_g1_ic16oc16_ih8iw8" in line[0]
