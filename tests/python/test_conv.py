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
    """The post-op chain in float64 with torch's functions (the contract's semantics)."""
    shape = [1] * ref.ndim
    shape[oc_axis] = -1
    t = torch.from_numpy(np.asarray(ref, np.float64))
    ch = lambda a: torch.from_numpy(np.reshape(np.asarray(a, np.float64), shape))
    for item in post:
        name, args = (item, ()) if isinstance(item, str) else (item[0], item[1:])
        if name == "relu":
            t = F.relu(t)
        elif name == "relu6":
            t = F.relu6(t)
        elif name == "leaky_relu":
            t = F.leaky_relu(t, args[0] if args else 0.01)
        elif name == "clip":
            t = t.clamp(args[0], args[1])
        elif name == "linear":
            t = args[0] * t + args[1]
        elif name == "elu":
            t = F.elu(t, args[0] if args else 1.0)
        elif name == "sigmoid":
            t = torch.sigmoid(t)
        elif name == "tanh":
            t = torch.tanh(t)
        elif name == "gelu":
            t = F.gelu(t, approximate=args[0] if args else "none")
        elif name == "hardswish":
            t = F.hardswish(t)
        elif name == "prelu":
            w = np.asarray(args[0], np.float64).reshape(-1)
            t = F.prelu(t, torch.from_numpy(w))
        elif name == "scale":
            t = t * (ch(args[0]) if np.ndim(args[0]) else args[0])
        elif name in ("bias", "add"):
            t = t + ch(args[0])
        elif name == "mul":
            t = t * ch(args[0])
        elif name == "batch_norm":
            t = t * ch(args[0]) + ch(args[1])
        elif name == "sum":
            t = t + (args[1] if len(args) > 1 else 1.0) * torch.from_numpy(
                args[0].astype(np.float64))
        else:
            raise AssertionError(name)
    return t.numpy()


ELTWISE = ["relu", "relu6", ("leaky_relu", 0.1), ("clip", -0.5, 0.25), ("linear", 2.0, -1.0),
           "elu", ("elu", 0.5), "sigmoid", "tanh", "gelu", ("gelu", "tanh"), "hardswish"]


@pytest.mark.parametrize("c,oc,groups,k", [(64, 48, 1, 3), (17, 33, 1, 3), (12, 12, 12, 3),
                                           (32, 32, 1, 1)])
def test_post_ops_fused(rng, c, oc, groups, k):
    x = rng.standard_normal((2, c, 9, 13), dtype=np.float32)
    wt = (rng.standard_normal((oc, c // groups, k, k)) / np.sqrt(c // groups * k * k)).astype(np.float32)
    b = rng.standard_normal(oc, dtype=np.float32)
    sc = rng.standard_normal(oc, dtype=np.float32)
    sh = rng.standard_normal(oc, dtype=np.float32)
    pw = rng.uniform(0, 0.5, oc).astype(np.float32)
    p = k // 2
    base = _torch_conv(2, x, wt, b, padding=p, groups=groups)
    res = rng.standard_normal(base.shape, dtype=np.float32)
    res_before = res.copy()
    chains = [[e] for e in ELTWISE]
    chains += [[("batch_norm", sc, sh), "relu"], [("scale", 0.5), ("linear", 2.0, -1.0)],
               [("scale", sc), ("bias", sh), ("leaky_relu", 0.2)],
               [("prelu", pw)], [("prelu", 0.2)], [("prelu", np.float32([0.3]))],
               [("sum", res), "relu"], [("batch_norm", sc, sh), ("sum", res, 0.5), "gelu"],
               [("sum", res, -2.0), ("add", sh), ("mul", sc), ("gelu", "tanh")],
               [("add", sh), ("sum", res), ("prelu", pw), ("sum", res, 0.25), "tanh"]]
    for post in chains:
        got = ops.conv2d(x, wt, b, padding=p, groups=groups, post_ops=post)
        _close(got, _apply(base, post), c // groups * k * k)
    np.testing.assert_array_equal(res, res_before)  # inputs are never modified


def test_post_ops_3d_sum_and_packed(rng):
    x = rng.standard_normal((1, 16, 4, 5, 7), dtype=np.float32)
    wt = (rng.standard_normal((16, 16, 3, 3, 3)) / 20).astype(np.float32)
    b = rng.standard_normal(16, dtype=np.float32)
    conv = ops.PackedConv(wt, b, padding=1)
    base = _torch_conv(3, x, wt, b, padding=1)
    res = rng.standard_normal(base.shape, dtype=np.float32)
    for post in ([("sum", res), "relu"], ["sigmoid", ("sum", res, 3.0), "elu"]):
        _close(conv(x, post_ops=post), _apply(base, post), 16 * 27)


@pytest.mark.parametrize("algorithm", ["auto", "im2col_gemm"])
def test_out_channel_offset_writes_a_concat_slice(rng, algorithm):
    wt = rng.standard_normal((20, 16, 3, 3), dtype=np.float32)
    b = rng.standard_normal(20, dtype=np.float32)
    x = rng.standard_normal((2, 16, 8, 11), dtype=np.float32)
    skip = rng.standard_normal((2, 7, 8, 11), dtype=np.float32)
    out = np.full((2, 33, 8, 11), np.nan, np.float32)
    out[:, :7] = skip
    res = rng.standard_normal((2, 20, 8, 11), dtype=np.float32)
    r = ops.conv2d(x, wt, b, padding=1, post_ops=[("sum", res), "relu"], out=out,
                   out_channel_offset=7, algorithm=algorithm)
    assert r is out
    ref = _apply(_torch_conv(2, x, wt, b, padding=1), [("sum", res), "relu"])
    np.testing.assert_array_equal(out[:, :7], skip)
    _close(out[:, 7:27], ref, 16 * 9)
    assert np.isnan(out[:, 27:]).all()
    # 3-D, PackedConv, offset at the end.
    w3 = rng.standard_normal((4, 3, 1, 3, 3), dtype=np.float32)
    x3 = rng.standard_normal((1, 3, 3, 5, 6), dtype=np.float32)
    out3 = np.zeros((1, 9, 3, 5, 6), np.float32)
    ops.PackedConv(w3, padding=(0, 1, 1))(x3, out=out3, out_channel_offset=5)
    _close(out3[:, 5:], _torch_conv(3, x3, w3, padding=(0, 1, 1)), 27)
    assert not out3[:, :5].any()
    # A residual aliasing out is copied first (it is read after rows are written).
    out4 = rng.standard_normal((2, 20, 8, 11), dtype=np.float32)
    res4 = out4.copy()
    ops.conv2d(x, wt, b, padding=1, post_ops=[("sum", out4)], out=out4)
    _close(out4, _apply(_torch_conv(2, x, wt, b, padding=1), [("sum", res4)]), 16 * 9)


def test_packed_conv_reused(rng):
    wt = rng.standard_normal((32, 16, 3, 3), dtype=np.float32)
    b = rng.standard_normal(32, dtype=np.float32)
    conv = ops.PackedConv(wt, b, padding=1)
    assert conv.algorithm_ in ("direct", "im2col_gemm", "winograd")
    assert "PackedConv" in repr(conv)
    for shape in [(1, 16, 8, 8), (3, 16, 5, 19)]:
        x = rng.standard_normal(shape, dtype=np.float32)
        _close(conv(x), _torch_conv(2, x, wt, b, padding=1), 16 * 9)
    x = rng.standard_normal((1, 16, 8, 8), dtype=np.float32)
    out = np.full((1, 32, 8, 8), np.nan, np.float32)
    r = conv(x, out=out)
    assert r is out
    _close(out, _torch_conv(2, x, wt, b, padding=1), 16 * 9)


def test_post_op_and_out_bad_input(rng):
    x = rng.standard_normal((1, 4, 6, 6), dtype=np.float32)
    w = rng.standard_normal((8, 4, 3, 3), dtype=np.float32)
    res = np.zeros((1, 8, 4, 4), np.float32)
    _raises(ValueError, r"conv2d: a sum post-op tensor must be f32 with the output's shape",
            ops.conv2d, x, w, post_ops=[("sum", res[:, :, :3])])
    _raises(TypeError, r"sum tensor must have dtype float32", ops.conv2d, x, w,
            post_ops=[("sum", res.astype(np.float64))])
    _raises(TypeError, r"sum tensor must be a numpy.ndarray", ops.conv2d, x, w,
            post_ops=[("sum", 1.0)])
    _raises(ValueError, r"post-op prelu weight must have shape \(8,\)", ops.conv2d, x, w,
            post_ops=[("prelu", np.ones(3, np.float32))])
    _raises(ValueError, r"post-op mul must have shape \(8,\)", ops.conv2d, x, w,
            post_ops=[("mul", np.ones(2, np.float32))])
    _raises(ValueError, r"gelu approximation 'fast'", ops.conv2d, x, w,
            post_ops=[("gelu", "fast")])
    _raises(ValueError, r"post-op clip takes 2 arguments", ops.conv2d, x, w,
            post_ops=[("clip", 1.0)])
    _raises(ValueError, r"post-op clip needs lo <= hi", ops.conv2d, x, w,
            post_ops=[("clip", 1.0, 0.0)])
    _raises(TypeError, r"a post-op must be a name", ops.conv2d, x, w, post_ops=[3])
    _raises(ValueError, r"do not fit in out's 10 channels", ops.conv2d, x, w,
            out=np.zeros((1, 10, 4, 4), np.float32), out_channel_offset=3)
    _raises(ValueError, r"out must have shape \(1, C_total, 4, 4\)", ops.conv2d, x, w,
            out=np.zeros((1, 10, 4, 5), np.float32))
    _raises(ValueError, r"out_channel_offset -1 must be non-negative", ops.conv2d, x, w,
            out=np.zeros((1, 10, 4, 4), np.float32), out_channel_offset=-1)
    _raises(ValueError, r"out_channel_offset 2 needs an out= array", ops.conv2d, x, w,
            out_channel_offset=2)
    _raises(ValueError, r"out must be C-contiguous", ops.conv2d, x, w,
            out=np.zeros((1, 8, 4, 8), np.float32)[..., ::2])
    _raises(TypeError, r"out must have dtype float32", ops.conv2d, x, w,
            out=np.zeros((1, 8, 4, 4), np.float64))


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
            post_ops=["relu"] * 10)
    _raises(ValueError, r"post-op scale must have shape \(8,\)", ops.conv2d, x, w,
            post_ops=[("scale", np.ones(3))])
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
        "F = torch.nn.functional\n"
        "res = r.standard_normal((2, 32, 9, 11), dtype=np.float32)\n"
        "wd = r.standard_normal((32, 1, 3, 3), dtype=np.float32)\n"
        "y = ops.conv2d(x, wd, padding=1, groups=32, post_ops=[('sum', res), 'gelu', 'tanh'])\n"
        "t = torch.from_numpy\n"
        "ref = torch.tanh(F.gelu(F.conv2d(t(x).double(), t(wd).double(), padding=1, groups=32)"
        " + t(res).double())).numpy()\n"
        "assert np.abs(y - ref).max() <= 1e-4, np.abs(y - ref).max()\n"
        "wt = r.standard_normal((32, 8, 3, 3), dtype=np.float32)\n"
        "for s, p in ((2, 0), (2, 1)):\n"
        "    y = ops.conv_transpose2d(x, wt, stride=s, padding=p, post_ops=['sigmoid'])\n"
        "    ref = torch.sigmoid(F.conv_transpose2d(t(x).double(), t(wt).double(), stride=s,"
        " padding=p)).numpy()\n"
        "    assert np.abs(y - ref).max() <= 1e-4, np.abs(y - ref).max()\n"
        "yb = medkern.from_blocked(c.execute_blocked(medkern.to_blocked(x),"
        " post_ops=['relu']), 16)\n"
        "assert np.abs(yb - c(x, post_ops=['relu'])).max() <= 1e-5\n"
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
        "medkern.ops.conv2d(np.ones((1, 16, 8, 8), np.float32), np.ones((16, 1, 3, 3),"
        " np.float32), padding=1, groups=16, post_ops=[('sum', np.ones((1, 16, 8, 8),"
        " np.float32)), 'gelu'])\n"
        "medkern.ops.conv_transpose2d(np.ones((1, 16, 8, 8), np.float32), np.ones((16, 4, 2, 2),"
        " np.float32), stride=2)\n"
    )
    env = dict(os.environ, MEDKERN_VERBOSE="1")
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    line = [l for l in r.stderr.splitlines() if l.startswith("medkern_verbose,conv,")]
    assert line and "mb1_g1_ic16oc16_ih8iw8" in line[0]
    assert "conv,depthwise:conv_f32f32_f32_depthwise__" in line[1]
    assert "post=sum+gelu_erf" in line[1]
    line = [l for l in r.stderr.splitlines() if l.startswith("medkern_verbose,conv_transpose,")]
    # kernel == stride: the direct convolution kernel where it is a vector one, else GEMM +
    # scatter
    assert line and ("direct:conv_f32f32_f32_direct__avx512" in line[0] or "scatter:" in line[0])


# ---- transposed convolution ----------------------------------------------------------------

def _torch_conv_t(n, x, w, b=None, **kw):
    f = F.conv_transpose2d if n == 2 else F.conv_transpose3d
    tb = None if b is None else torch.from_numpy(b).double()
    return f(torch.from_numpy(x).double(), torch.from_numpy(w).double(), tb, **kw).numpy()


CASES_T = [
    # (spatial sizes, C_in, C_out, kernel, stride, padding, output_padding, groups, dilation,
    #  expected algorithm)
    ((5, 7), 16, 8, 2, 2, 0, 0, 1, 1, "scatter"),            # U-Net up-convolution
    ((1, 1), 3, 17, 2, 2, 0, 0, 1, 1, "scatter"),
    ((3, 4, 5), 8, 4, 2, 2, 0, 0, 1, 1, "scatter"),          # 3-D U-Net / V-Net
    ((6, 5), 17, 33, 3, 2, 1, 1, 1, 1, "col2im"),
    ((4, 9), 6, 9, (3, 2), (3, 1), (2, 1), (1, 0), 3, (1, 2), "col2im"),
    ((7, 9), 4, 4, 3, 1, 4, 0, 4, 2, "col2im"),               # padding > half the kernel
    ((2, 3, 4), 3, 5, (3, 1, 2), (2, 1, 2), (1, 0, 0), (1, 0, 1), 1, 1, "col2im"),
    ((4, 4, 4), 4, 6, 3, 2, 1, 0, 2, 2, "col2im"),
]


@pytest.mark.parametrize("case", CASES_T)
@pytest.mark.parametrize("batch", [1, 5])
def test_conv_transpose_matches_torch(rng, case, batch):
    size, c, oc, k, s, p, op, g, d, algo = case
    n = len(size)
    kt = (k,) * n if isinstance(k, int) else k
    x = rng.standard_normal((batch, c, *size), dtype=np.float32)
    w = rng.standard_normal((c, oc // g, *kt), dtype=np.float32)
    b = rng.standard_normal(oc, dtype=np.float32)
    f = ops.conv_transpose2d if n == 2 else ops.conv_transpose3d
    got = f(x, w, b, stride=s, padding=p, output_padding=op, groups=g, dilation=d)
    ref = _torch_conv_t(n, x, w, b, stride=s, padding=p, output_padding=op, groups=g, dilation=d)
    _close(got, ref, c // g * int(np.prod(kt)))
    assert ops.PackedConvTranspose(w, b, s, p, op, g, d).algorithm_ == algo


def test_conv_transpose_post_ops_out_slice_and_output_size(rng):
    x = rng.standard_normal((2, 32, 6, 9), dtype=np.float32)
    w = rng.standard_normal((32, 16, 2, 2), dtype=np.float32)
    b = rng.standard_normal(16, dtype=np.float32)
    up = ops.PackedConvTranspose(w, b, stride=2)
    base = _torch_conv_t(2, x, w, b, stride=2)
    res = rng.standard_normal(base.shape, dtype=np.float32)
    for post in (["relu"], [("sum", res, 0.5), "gelu"], [("prelu", np.float32(0.1))],
                 [("batch_norm", b, b), ("sum", res), "sigmoid"]):
        _close(up(x, post_ops=post), _apply(base, post), 32 * 4)
    # The U-Net decoder: up-convolution written next to the skip connection.
    skip = rng.standard_normal((2, 16, 12, 18), dtype=np.float32)
    cat = np.empty((2, 32, 12, 18), np.float32)
    cat[:, :16] = skip
    assert up(x, post_ops=["relu"], out=cat, out_channel_offset=16) is cat
    np.testing.assert_array_equal(cat[:, :16], skip)
    _close(cat[:, 16:], np.maximum(base, 0), 32 * 4)
    # output_size picks the output padding (torch semantics), also for 3-D.
    got = up(x, output_size=(13, 19))
    ref = F.conv_transpose2d(torch.from_numpy(x).double(), torch.from_numpy(w).double(),
                             torch.from_numpy(b).double(), stride=2, output_padding=1).numpy()
    _close(got, ref, 32 * 4)
    w3 = rng.standard_normal((4, 2, 3, 3, 3), dtype=np.float32)
    x3 = rng.standard_normal((1, 4, 3, 4, 5), dtype=np.float32)
    got = ops.conv_transpose3d(x3, w3, stride=2, padding=1, output_size=[1, 2, 6, 8, 10])
    ref = _torch_conv_t(3, x3, w3, stride=2, padding=1, output_padding=(1, 1, 1))
    _close(got, ref, 4 * 27)


def test_conv_transpose_bad_input(rng):
    x = rng.standard_normal((1, 4, 5, 5), dtype=np.float32)
    w = rng.standard_normal((4, 2, 3, 3), dtype=np.float32)
    ct = ops.conv_transpose2d
    _raises(ValueError, r"conv_transpose2d: input must be 4-D", ct, x[0], w)
    _raises(TypeError, r"conv_transpose2d: input must have dtype float32", ct,
            x.astype(np.float64), w)
    _raises(ValueError, r"input channels 3 must equal weight in_channels 4", ct, x[:, :3], w)
    _raises(ValueError, r"divisible by groups 3", ct, x, w, groups=3)
    _raises(ValueError, r"stride 0x1 must be positive", ct, x, w, stride=(0, 1))
    _raises(ValueError, r"dilation 1x0 must be positive", ct, x, w, dilation=(1, 0))
    _raises(ValueError, r"padding -1x0 must be non-negative", ct, x, w, padding=(-1, 0))
    _raises(ValueError, r"output_padding 2x0 must be non-negative and smaller than stride 2x2",
            ct, x, w, stride=2, output_padding=(2, 0))
    _raises(ValueError, r"output size -\d+ along a spatial dimension must be positive", ct,
            x[:, :, :1, :1], w, padding=3)
    _raises(ValueError, r"requested output_size \(14, 11\), but valid sizes along dimension 0 "
            r"range from 11 to 12", ct, x, w, stride=2, output_size=(14, 11))
    _raises(ValueError, r"bias must have shape \(2,\)", ct, x, w, np.zeros(3, np.float32))
    _raises(ValueError, r"do not fit in out's 3 channels", ct, x, w,
            out=np.zeros((1, 3, 7, 7), np.float32), out_channel_offset=2)
    _raises(ValueError, r"weight must be 4-D", ct, x, w[0])


# ---- randomized shapes against torch --------------------------------------------------------

def test_conv_randomized_shapes_match_torch():
    """Channels 1, 3, 17, 33; spatial 1..130 (odd included); stride 1-3; dilation 1-2; groups
    and depthwise; padding up to past half the kernel; batch 1 and 5; 2-D and anisotropic 3-D;
    a random post-op chain each."""
    r = np.random.default_rng(1234)
    for it in range(36):
        three = it % 4 == 3
        n = 3 if three else 2
        g = int(r.choice([1, 1, 2, 3, 0]))  # 0: depthwise
        cg = int(r.choice([1, 3, 17, 33]))
        c = cg if g == 0 else cg * g
        groups = c if g == 0 else g
        oc = c if g == 0 else int(r.choice([1, 3, 17, 33])) * g
        k = tuple(int(r.choice([1, 2, 3, 5])) for _ in range(n))
        s = tuple(int(r.choice([1, 2, 3])) for _ in range(n))
        d = tuple(int(r.choice([1, 2])) for _ in range(n))
        p = tuple(int(r.integers(0, kk + 1)) for kk in k)   # up to the whole kernel
        hi = 12 if three else (130 if c * oc // groups <= 100 else 48)
        size = tuple(int(r.integers(1, hi + 1)) for _ in range(n))
        if any(sz + 2 * pp < dd * (kk - 1) + 1 for sz, pp, dd, kk in zip(size, p, d, k)):
            continue
        batch = int(r.choice([1, 5]))
        x = r.standard_normal((batch, c, *size), dtype=np.float32)
        w = r.standard_normal((oc, c // groups, *k), dtype=np.float32)
        b = r.standard_normal(oc, dtype=np.float32)
        f = ops.conv2d if n == 2 else ops.conv3d
        base = _torch_conv(n, x, w, b, stride=s, padding=p, dilation=d, groups=groups)
        res = r.standard_normal(base.shape, dtype=np.float32)
        post = [ELTWISE[it % len(ELTWISE)]]
        if it % 3 == 0:
            post = [("sum", res, 0.5)] + post
        if it % 5 == 1:
            post = [("batch_norm", b, b)] + post + [("prelu", np.abs(b))]
        got = f(x, w, b, stride=s, padding=p, dilation=d, groups=groups, post_ops=post)
        _close(got, _apply(base, post), c // groups * int(np.prod(k)))


BLOCKED_CASES = [
    # (N, C, spatial, OC, k, stride, padding, groups, algorithm)
    (1, 16, (9, 13), 16, 3, 1, 1, 1, "auto"),
    (2, 17, (9, 31), 33, 3, 2, (1, 2), 1, "direct"),
    (1, 32, (7, 200), 48, 3, 1, 1, 1, "auto"),
    (1, 64, (6, 17), 32, 3, 1, 1, 2, "auto"),
    (2, 33, (9, 23), 17, 1, 1, 0, 1, "gemm_1x1"),
    (1, 32, (5, 9), 64, 1, 2, 0, 1, "auto"),
    (1, 16, (3, 2), 16, 5, 1, 4, 1, "direct"),
    (1, 1, (20, 37), 32, 3, 1, 1, 1, "auto"),  # planar first layer: through reorders
    (2, 17, (9, 14), 17, 3, 2, 1, 17, "auto"),  # depthwise: through reorders
    (1, 6, (10, 12), 9, 3, 1, 1, 3, "im2col_gemm"),
    (2, 16, (5, 7, 9), 32, 3, 1, 1, 1, "auto"),
    (1, 17, (6, 12, 21), 20, 5, (2, 2, 1), 2, 1, "direct"),
    (1, 32, (4, 6, 8), 64, 1, 1, 0, 1, "auto"),
    # wide rows: in place (halo edge pieces, unpadded middle segments)
    (1, 16, (5, 400), 32, 3, 1, 1, 1, "direct"),
    (1, 16, (3, 4, 180), 16, 3, 1, 1, 1, "direct"),
    (1, 16, (4, 190), 16, 5, 1, 2, 1, "direct"),  # edge pieces wider than the padding
    (1, 16, (5, 203), 32, 3, 2, (1, 2), 1, "direct"),  # stride 2, W padding 2
    (1, 128, (3, 181), 64, 3, 1, 1, 1, "direct"),  # 9 weight passes through the row buffer
    # narrow rows: padded copy, bands of rows (several passes, dilation, stride, slices)
    (1, 48, (5, 6, 7), 40, 3, 1, 2, 1, "direct"),
    (2, 32, (9, 11), 64, 3, (1, 2), 2, 1, "direct"),
    # few outputs (im2col_gemm planar): the direct kernel on blocked tensors
    (1, 32, (6, 40), 2, 1, 1, 0, 1, "auto"),
    (1, 32, (5, 9, 11), 3, 3, 1, 1, 1, "auto"),
]


@pytest.mark.parametrize("case", BLOCKED_CASES)
def test_execute_blocked_matches_planar(rng, case):
    n, c, sp, oc, k, stride, padding, groups, algorithm = case
    x = rng.standard_normal((n, c) + sp, dtype=np.float32)
    w = rng.standard_normal((oc, c // groups) + (k,) * len(sp), dtype=np.float32)
    b = rng.standard_normal(oc, dtype=np.float32)
    conv = ops.PackedConv(w, b, stride=stride, padding=padding, groups=groups,
                          algorithm=algorithm)
    ref = _torch_conv(len(sp), x, w, b, stride=stride, padding=padding, groups=groups)
    res = rng.standard_normal(ref.shape, dtype=np.float32)
    scale = rng.standard_normal(oc, dtype=np.float32)
    post = [("mul", scale), ("sum", medkern.to_blocked(res), 0.5), "relu"]
    got_b = conv.execute_blocked(medkern.to_blocked(x), post_ops=post)
    assert got_b.shape == (n, (oc + 15) // 16) + ref.shape[2:] + (16,)
    if oc % 16:
        assert not got_b[:, -1, ..., oc % 16:].any()  # padding lanes stay zero
    want = np.maximum(ref * scale.reshape((1, oc) + (1,) * len(sp)) + 0.5 * res, 0)
    _close(medkern.from_blocked(got_b, oc), want, c // groups * k ** len(sp))
    planar = conv(x, post_ops=[("mul", scale), ("sum", res, 0.5), "relu"])
    _close(medkern.from_blocked(got_b, oc), planar, c // groups * k ** len(sp))
    # into blocks of a larger blocked tensor (a concat slice)
    cb = (oc + 15) // 16
    big = np.full((n, cb + 2) + ref.shape[2:] + (16,), 7.0, np.float32)
    r = conv.execute_blocked(medkern.to_blocked(x), out=big, out_channel_offset=16)
    assert r is big
    assert (big[:, 0] == 7).all() and (big[:, cb + 1:] == 7).all()
    _close(medkern.from_blocked(np.ascontiguousarray(big[:, 1:cb + 1]), oc), ref,
           c // groups * k ** len(sp))


@pytest.mark.parametrize("case", [
    # (N, C, spatial, OC, k, padding, dilation)
    (1, 1, (20, 37), 32, 3, 1, 1),
    (2, 3, (9, 16), 17, 5, 2, 1),
    (1, 1, (6, 10, 13), 16, 3, 1, 2),
    (1, 2, (5, 7, 33), 40, 3, (0, 1, 2), 1),
])
def test_execute_blocked_first_layer_without_sum(rng, case):
    n, c, sp, oc, k, padding, dilation = case
    x = rng.standard_normal((n, c) + sp, dtype=np.float32)
    w = rng.standard_normal((oc, c) + (k,) * len(sp), dtype=np.float32)
    b = rng.standard_normal(oc, dtype=np.float32)
    conv = ops.PackedConv(w, b, padding=padding, dilation=dilation)
    ref = _torch_conv(len(sp), x, w, b, padding=padding, dilation=dilation)
    scale = rng.standard_normal(oc, dtype=np.float32)
    want = np.maximum(ref * scale.reshape((1, oc) + (1,) * len(sp)), 0)
    cb = (oc + 15) // 16
    big = np.full((n, cb + 1) + ref.shape[2:] + (16,), 7.0, np.float32)
    r = conv.execute_blocked(medkern.to_blocked(x), post_ops=[("mul", scale), "relu"],
                             out=big, out_channel_offset=16)
    assert r is big and (big[:, 0] == 7).all()
    if oc % 16:
        assert not big[:, -1, ..., oc % 16:].any()  # padding lanes are zero
    _close(medkern.from_blocked(np.ascontiguousarray(big[:, 1:]), oc), want,
           c * k ** len(sp))


def test_execute_blocked_bad_input(rng):
    conv = ops.PackedConv(np.ones((20, 17, 3, 3), np.float32), padding=1)
    xb = medkern.to_blocked(np.ones((1, 17, 5, 6), np.float32))
    assert conv.blocked_native_ == (conv.algorithm_ in ("direct", "gemm_1x1"))
    head = ops.PackedConv(np.ones((2, 32, 1, 1), np.float32))
    assert head.algorithm_ == "im2col_gemm" and head.blocked_native_
    _raises(ValueError, r"conv2d: input must be 5-D", conv.execute_blocked,
            np.ones((17, 5, 6), np.float32))
    # a planar input is reordered (not a first layer: no in-place planar path)
    assert not conv.planar_blocked_
    np.testing.assert_array_equal(conv.execute_blocked(np.ones((1, 17, 5, 6), np.float32)),
                                  conv.execute_blocked(xb))
    _raises(ValueError, r"has 2 blocks of 16, got 1", conv.execute_blocked,
            np.ones((1, 1, 5, 6, 16), np.float32))
    _raises(ValueError, r"blocked input must be f32", conv.execute_blocked,
            np.ones((1, 2, 5, 16, 6), np.float32))
    out = np.zeros((1, 3, 5, 6, 16), np.float32)
    _raises(ValueError, r"multiple of 16", conv.execute_blocked, xb, out=out,
            out_channel_offset=8)
    _raises(ValueError, r"do not fit", conv.execute_blocked, xb, out=out,
            out_channel_offset=32)
    _raises(ValueError, r"blocked sum post-op tensor must be f32", conv.execute_blocked, xb,
            post_ops=[("sum", np.ones((1, 2, 5, 5, 16), np.float32))])


# ---- transposed convolution on the channel-blocked layout ----------------------------------

def _lay(n):
    return "ncdhw" if n == 3 else "nchw"


CASES_TB = [
    # (spatial sizes, C_in, C_out, kernel): kernel == stride, the U-Net up-convolution
    ((5, 7), 16, 8, 2),
    ((1, 1), 3, 17, 2),
    ((3, 200), 33, 40, 2),        # rows longer than one kernel segment, partial blocks
    ((4, 6), 64, 48, 2),          # three output blocks in one group
    ((2, 3), 20, 80, (3, 2)),     # two block groups, a non-square kernel
    ((3, 4, 5), 8, 4, 2),         # 3-D
    ((2, 3, 3), 32, 33, (2, 1, 2)),
]


@pytest.mark.parametrize("case", CASES_TB)
@pytest.mark.parametrize("batch", [1, 3])
def test_conv_transpose_blocked_matches_torch(rng, case, batch):
    size, c, oc, k = case
    n = len(size)
    kt = (k,) * n if isinstance(k, int) else k
    x = rng.standard_normal((batch, c, *size), dtype=np.float32)
    w = rng.standard_normal((c, oc, *kt), dtype=np.float32)
    b = rng.standard_normal(oc, dtype=np.float32)
    up = ops.PackedConvTranspose(w, b, stride=kt)
    assert up.blocked_supported_ and up.blocked_native_ in (True, False)
    yb = up.execute_blocked(medkern.to_blocked(x, _lay(n)))
    assert yb.shape == (batch, -(-oc // 16), *[s * q for s, q in zip(size, kt)], 16)
    ref = _torch_conv_t(n, x, w, b, stride=kt)
    _close(medkern.from_blocked(yb, oc, _lay(n)), ref, c * int(np.prod(kt)))
    assert not yb[:, -1].reshape(-1, 16)[:, oc % 16 or 16:].any()   # padding lanes zero


@pytest.mark.parametrize("n", [2, 3])
def test_conv_transpose_blocked_post_ops_and_concat_slice(rng, n):
    size = (3, 5, 6) if n == 3 else (6, 9)
    x = rng.standard_normal((2, 40, *size), dtype=np.float32)
    w = rng.standard_normal((40, 20, *(2,) * n), dtype=np.float32)
    b = rng.standard_normal(20, dtype=np.float32)
    up = ops.PackedConvTranspose(w, b, stride=2)
    xb = medkern.to_blocked(x, _lay(n))
    base = _torch_conv_t(n, x, w, b, stride=2)
    res = rng.standard_normal(base.shape, dtype=np.float32)
    resb = medkern.to_blocked(res, _lay(n))
    sl = rng.standard_normal(20, dtype=np.float32)
    for post, post_b in (
            (["relu"], ["relu"]),
            ([("sum", res, 0.5), "gelu"], [("sum", resb, 0.5), "gelu"]),
            ([("prelu", sl), "sigmoid"], [("prelu", sl), "sigmoid"]),
            ([("batch_norm", b, sl), ("sum", res), "tanh"],
             [("batch_norm", b, sl), ("sum", resb), "tanh"])):
        got = medkern.from_blocked(up.execute_blocked(xb, post_ops=post_b), 20, _lay(n))
        _close(got, _apply(base, post), 40 * 2 ** n)
    # The decoder concat: the up-convolution writes blocks [2, 4) of a 64-channel buffer.
    skip = rng.standard_normal((2, 32, *base.shape[2:]), dtype=np.float32)
    cat = np.zeros((2, 4, *base.shape[2:], 16), np.float32)
    cat[:, :2] = medkern.to_blocked(skip, _lay(n))
    assert up.execute_blocked(xb, post_ops=["relu"], out=cat, out_channel_offset=32) is cat
    full = medkern.from_blocked(cat, 52, _lay(n))
    np.testing.assert_array_equal(full[:, :32], skip)
    _close(full[:, 32:], np.maximum(base, 0), 40 * 2 ** n)


def test_conv_transpose_blocked_bad_input(rng):
    w = rng.standard_normal((20, 8, 2, 2), dtype=np.float32)
    up = ops.PackedConvTranspose(w, stride=2)
    xb = medkern.to_blocked(rng.standard_normal((1, 20, 4, 4), dtype=np.float32))
    _raises(ValueError, r"conv_transpose2d: input must be 5-D", up.execute_blocked, xb[0])
    _raises(ValueError, r"conv_transpose2d: a blocked input of the weight's 20 input channels "
            r"has 2 blocks of 16, got 1", up.execute_blocked, np.ascontiguousarray(xb[:, :1]))
    _raises(ValueError, r"conv_transpose2d: a blocked input must be f32 \(N, ceil\(C/16\), H, W, "
            r"16\)", up.execute_blocked, np.zeros((1, 2, 4, 4, 8), np.float32))
    _raises(TypeError, r"conv_transpose2d: input must have dtype float32", up.execute_blocked,
            xb.astype(np.float64))
    _raises(ValueError, r"out_channel_offset 8 of a blocked output must be a multiple of 16",
            up.execute_blocked, xb, out=np.zeros((1, 2, 8, 8, 16), np.float32),
            out_channel_offset=8)
    _raises(ValueError, r"out must have shape", up.execute_blocked, xb,
            out=np.zeros((1, 2, 8, 9, 16), np.float32))
    _raises(ValueError, r"blocked sum post-op tensor must be f32 1x1x8x8x16", up.execute_blocked,
            xb, post_ops=[("sum", np.zeros((1, 1, 8, 8, 15), np.float32))])
    # Geometries other than kernel == stride, and groups, have no blocked path.
    for kw in (dict(stride=2, padding=1), dict(stride=1), dict(stride=2, groups=2)):
        w3 = rng.standard_normal((20, 10 if "groups" in kw else 8, 3, 3), dtype=np.float32)
        t = ops.PackedConvTranspose(w3 if "padding" in kw else w if "groups" not in kw else
                                    rng.standard_normal((20, 4, 2, 2), dtype=np.float32), **kw)
        assert not t.blocked_supported_ and not t.blocked_native_
        _raises(RuntimeError, r"conv_transpose2d: the blocked layout needs kernel == stride",
                t.execute_blocked, xb)


@pytest.mark.parametrize("case", [
    # (C, spatial, OC, k, stride, padding)
    (16, (13, 200), 32, 3, 1, 1),      # wide rows: edge pieces, in place
    (32, (11, 9), 48, 3, 2, 1),        # narrow rows: padded copy, bands of rows
    (16, (6, 7, 9), 16, 3, 1, 1),
    (16, (9, 10), 16, 1, 1, 0),        # 1x1 (a GEMM over whole images when not banded)
])
def test_execute_blocked_rows_are_slices_of_execute_blocked(rng, case):
    c, sp, oc, k, stride, padding = case
    x = medkern.to_blocked(rng.standard_normal((2, c) + sp, dtype=np.float32))
    w = rng.standard_normal((oc, c) + (k,) * len(sp), dtype=np.float32)
    conv = ops.PackedConv(w, rng.standard_normal(oc, dtype=np.float32), stride=stride,
                          padding=padding)
    full = conv.execute_blocked(x)
    res = rng.standard_normal(full.shape, dtype=np.float32)
    want = conv.execute_blocked(x, post_ops=[("sum", res), "relu"])
    outer = full.shape[2]
    for r0, r1 in [(0, outer), (0, 1), (outer - 1, outer), (1, max(2, outer - 2))]:
        band = conv.execute_blocked_rows(x, (r0, r1))
        np.testing.assert_array_equal(band, full[:, :, r0:r1])
        out = np.full(band.shape, np.nan, np.float32)
        got = conv.execute_blocked_rows(
            x, (r0, r1), post_ops=[("sum", np.ascontiguousarray(res[:, :, r0:r1])), "relu"],
            out=out)
        assert got is out
        np.testing.assert_array_equal(out, want[:, :, r0:r1])
    for bad in [(3, 3), (-1, 2), (0, outer + 1)]:
        with pytest.raises(ValueError, match="output rows"):
            conv.execute_blocked_rows(x, bad)
    with pytest.raises(TypeError, match="rows"):
        conv.execute_blocked_rows(x, 5)
    with pytest.raises(ValueError, match="shape"):
        conv.execute_blocked_rows(x, (0, 2), out=np.empty(full.shape, np.float32))


def _biased_case(rng, case):
    """(x, w, b, PackedConv, torch result) of a (C, spatial, OC, k, stride, padding) case."""
    c, sp, oc, k, stride, padding = case
    x = rng.standard_normal((2, c) + sp, dtype=np.float32)
    w = rng.standard_normal((oc, c) + (k,) * len(sp), dtype=np.float32)
    b = rng.standard_normal(oc, dtype=np.float32)
    return (x, w, b, ops.PackedConv(w, b, stride=stride, padding=padding),
            _torch_conv(len(sp), x, w, b, stride=stride, padding=padding))


@pytest.mark.parametrize("case", [
    # (C, spatial, OC, k, stride, padding): first layers read a planar input in place
    (1, (37, 200), 32, 3, 1, 1),
    (3, (21, 19), 48, 3, (2, 1), 1),
    (2, (5, 9, 12), 32, 5, 1, (2, 1, 3)),
    (1, (6, 7, 9), 64, 3, 1, 0),
])
def test_first_layer_blocked_reads_planar_input(rng, case):
    c, sp, oc, k, stride, padding = case
    x, w, b, conv, ref = _biased_case(rng, case)
    assert conv.planar_blocked_ and conv.blocked_native_
    res = rng.standard_normal(ref.shape, dtype=np.float32)
    post = [("sum", medkern.to_blocked(res), 0.5), "relu"]
    want = np.maximum(ref + 0.5 * res, 0)
    xs = x[:, :, ::-1][:, :, ::-1]            # a strided view: copied, never modified
    before = x.copy()
    for src in (x, medkern.to_blocked(x), np.ascontiguousarray(xs)):
        got = conv.execute_blocked(src, post_ops=post)
        _close(medkern.from_blocked(got, oc), want, c * k ** len(sp))
    np.testing.assert_array_equal(x, before)
    # into a block slice of a larger buffer, as a concat producer
    cb = (oc + 15) // 16
    big = np.full((2, cb + 1) + ref.shape[2:] + (16,), 3.0, np.float32)
    conv.execute_blocked(x, out=big, out_channel_offset=16)
    assert (big[:, 0] == 3).all()
    _close(medkern.from_blocked(np.ascontiguousarray(big[:, 1:]), oc), ref, c * k ** len(sp))
    # a single output block: a planar src in place, a blocked src through reorders
    one = ops.PackedConv(w[:16], b[:16], stride=stride, padding=padding)
    assert one.planar_blocked_ and not one.blocked_native_
    for src in (x, medkern.to_blocked(x)):
        _close(medkern.from_blocked(one.execute_blocked(src), 16), ref[:, :16],
               c * k ** len(sp))


@pytest.mark.parametrize("case", [
    # (C, spatial, OC, k, stride, padding): heads and blocked layers with a planar result
    (32, (37, 70), 2, 1, 1, 0),        # a segmentation head (flat rows)
    (64, (20, 23), 35, 3, 1, 1),       # three output blocks, the last one partial
    (48, (17, 19), 20, 3, 2, 1),       # stride 2
    (32, (6, 9, 11), 17, 3, 1, (1, 0, 2)),
    (16, (7, 8, 9), 3, 1, 1, 0),       # a 3-D head
    (3, (30, 31), 40, 3, 1, 1),        # a first layer from a planar input
])
def test_execute_blocked_to_planar_matches_torch(rng, case):
    c, sp, oc, k, stride, padding = case
    x, _, _, conv, ref = _biased_case(rng, case)
    xb = x if conv.planar_blocked_ else medkern.to_blocked(x)
    assert conv.blocked_native_ or conv.planar_blocked_
    before = xb.copy()
    got = conv.execute_blocked_to_planar(xb, post_ops=["relu"])
    assert got.shape == ref.shape
    _close(got, np.maximum(ref, 0), c * k ** len(sp))
    np.testing.assert_array_equal(xb, before)
    # into a channel slice of a larger planar buffer (a concat producer); the rest untouched
    big = np.full((2, oc + 7) + ref.shape[2:], 3.0, np.float32)
    assert conv.execute_blocked_to_planar(xb, out=big, out_channel_offset=4) is big
    assert (big[:, :4] == 3).all() and (big[:, 4 + oc:] == 3).all()
    _close(big[:, 4:4 + oc], ref, c * k ** len(sp))
    # a planar x of a layer that is not a first layer is reordered to blocked first
    _close(conv.execute_blocked_to_planar(x), ref, c * k ** len(sp))


def test_execute_blocked_to_planar_bad_input(rng):
    x = medkern.to_blocked(rng.standard_normal((1, 32, 8, 9), dtype=np.float32))
    conv = ops.PackedConv(rng.standard_normal((2, 32, 1, 1), dtype=np.float32))
    y = conv.execute_blocked_to_planar(x)
    with pytest.raises(RuntimeError, match="no sum post-ops"):
        conv.execute_blocked_to_planar(x, post_ops=[("sum", y)])
    with pytest.raises(ValueError, match="out must have shape"):
        conv.execute_blocked_to_planar(x, out=np.empty((1, 2, 8, 8), np.float32))
    with pytest.raises(ValueError, match="do not fit"):
        conv.execute_blocked_to_planar(x, out=np.empty((1, 2, 8, 9), np.float32),
                                       out_channel_offset=1)
    with pytest.raises(ValueError, match="C-contiguous"):
        conv.execute_blocked_to_planar(x, out=np.empty((1, 2, 8, 18), np.float32)[..., ::2])
    # grouped with channels off the block grid: im2col + GEMM, which reorders
    grouped = ops.PackedConv(rng.standard_normal((6, 16, 3, 3), dtype=np.float32), groups=2)
    assert not grouped.blocked_native_
    with pytest.raises(RuntimeError, match="natively blocked"):
        grouped.execute_blocked_to_planar(x)
