"""medkern.nn's operator table: every post-op of the medkern.ops contract after a convolution
(fused natively or run as a numpy step), writing into a channel slice, native dispatch."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
tF = torch.nn.functional

import medkern  # noqa: E402
from medkern.nn import _kernels as K  # noqa: E402

RNG = np.random.default_rng(0)
X = RNG.standard_normal((2, 3, 8, 9)).astype(np.float32)
W = RNG.standard_normal((4, 3, 3, 3)).astype(np.float32) * 0.5
B = RNG.standard_normal(4).astype(np.float32)
RES = RNG.standard_normal((2, 4, 8, 9)).astype(np.float32)
PC = RNG.uniform(0.1, 0.9, 4).astype(np.float32)


def _t(a):
    return torch.from_numpy(a)


def _pc(a):
    return _t(a).reshape(1, -1, 1, 1)


CASES = {
    "relu": ("relu", tF.relu),
    "relu6": ("relu6", tF.relu6),
    "leaky_relu": (("leaky_relu", 0.2), lambda y: tF.leaky_relu(y, 0.2)),
    "clip": (("clip", -0.5, 0.7), lambda y: y.clamp(-0.5, 0.7)),
    "linear": (("linear", 2.0, -1.0), lambda y: 2 * y - 1),
    "elu": (("elu", 0.7), lambda y: tF.elu(y, 0.7)),
    "sigmoid": ("sigmoid", torch.sigmoid),
    "tanh": ("tanh", torch.tanh),
    "gelu": ("gelu", tF.gelu),
    "gelu_tanh": (("gelu", "tanh"), lambda y: tF.gelu(y, approximate="tanh")),
    "hardswish": ("hardswish", tF.hardswish),
    "prelu": (("prelu", PC), lambda y: tF.prelu(y, _t(PC))),
    "prelu_scalar": (("prelu", 0.3), lambda y: tF.prelu(y, torch.tensor([0.3]))),
    "scale": (("scale", PC), lambda y: y * _pc(PC)),
    "bias": (("bias", PC), lambda y: y + _pc(PC)),
    "batch_norm": (("batch_norm", PC, -PC), lambda y: y * _pc(PC) - _pc(PC)),
    "sum": (("sum", RES), lambda y: y + _t(RES)),
    "sum_scaled": (("sum", RES, 0.5), lambda y: y + 0.5 * _t(RES)),
    "add": (("add", PC), lambda y: y + _pc(PC)),
    "mul": (("mul", PC), lambda y: y * _pc(PC)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_post_op_after_conv_matches_torch(name):
    item, ref = CASES[name]
    want = ref(tF.conv2d(_t(X), _t(W), _t(B), padding=1)).numpy()
    conv = K.Conv(W, B, nd=2, stride=1, padding=1, dilation=1, groups=1, post_ops=[item])
    np.testing.assert_allclose(conv(X), want, rtol=1e-5, atol=1e-5)


def test_chain_and_channel_slice():
    chain = [("sum", RES), "relu", ("scale", PC), ("prelu", PC), "tanh"]
    y = tF.conv2d(_t(X), _t(W), _t(B), padding=1)
    want = torch.tanh(tF.prelu(tF.relu(y + _t(RES)) * _pc(PC), _t(PC))).numpy()
    conv = K.Conv(W, B, nd=2, stride=1, padding=1, dilation=1, groups=1, post_ops=chain)
    out = np.full((2, 10, 8, 9), 7.0, np.float32)
    r = conv(X, out, 3)
    np.testing.assert_allclose(r[:, 3:7], want, rtol=1e-5, atol=1e-5)
    assert (out[:, :3] == 7).all() and (out[:, 7:] == 7).all()


@pytest.mark.parametrize("name", ["relu", "relu6", "clip", "leaky_relu", "prelu", "elu",
                                  "hardswish", "sigmoid"])
def test_nan_propagates_through_fused_post_ops(name):
    """Fused clamps keep NaN (the kernels' max/min operand order), as torch does."""
    item, ref = CASES[name]
    x = X.copy()
    x[0, 0, 2, 2] = np.nan
    x[1, 2, 5, 5] = np.inf
    conv = K.Conv(W, B, nd=2, stride=1, padding=1, dilation=1, groups=1, post_ops=[item])
    want = ref(tF.conv2d(_t(x), _t(W), _t(B), padding=1)).numpy()
    got = conv(x)
    assert np.isnan(want).any()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    fin = np.isfinite(want)
    np.testing.assert_allclose(got[fin], want[fin], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name,call", [
    ("softmax", lambda: K.softmax(X, 1)),
    ("max_pool2d", lambda: K.max_pool(X, 2, 2)),
    ("avg_pool2d", lambda: K.avg_pool(X, 2, 2)),
    ("adaptive_avg_pool2d", lambda: K.adaptive_avg_pool(X, 2, 1)),
    ("interpolate", lambda: K.interpolate(X, scale_factor=2)),
])
def test_native_operator_is_used_when_present(monkeypatch, name, call):
    calls = []

    def native(*a, **k):
        calls.append(name)
        return "native"
    monkeypatch.setattr(medkern.ops, name, native, raising=False)
    assert call() == "native" and calls == [name]


@pytest.mark.parametrize("items", [
    [("batch_norm", np.linspace(-1, 1, 6, dtype=np.float32), np.arange(6, dtype=np.float32))],
    [("batch_norm", np.float32(0.5), np.float32(-1)), "relu"],
    [("leaky_relu", 0.2), "sigmoid"],
    ["relu6", ("clip", -1.0, 0.5), ("linear", 2.0, 1.0), "tanh"],
    [("gelu", "tanh")], ["gelu"], ["hardswish", ("elu", 0.7)],
    [("scale", np.arange(6, dtype=np.float32)), ("bias", np.ones(6, np.float32))],
])
def test_post_ops_planar_equals_numpy_chain(items):
    # the graphs' one-pass C++ path for affine / eltwise nodes against the numpy path
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 6, 9, 13)).astype(np.float32) * 3
    x[0, 1, 2, 3] = np.nan
    want = x.copy()
    for it in items:
        K.apply_post_op(want, it)
    wide = np.full((2, 10, 9, 13), 7, np.float32)
    got = K.post_ops_planar(x, items, wide[:, 3:9])
    assert got is not None
    np.testing.assert_allclose(wide[:, 3:9], want, rtol=1e-5, atol=1e-5)
    assert np.isnan(wide[0, 4, 2, 3])
    assert (wide[:, :3] == 7).all() and (wide[:, 9:] == 7).all()
    inplace = x.copy()
    K.post_ops_planar(inplace, items, inplace)
    np.testing.assert_allclose(inplace, want, rtol=1e-5, atol=1e-5)
    # what the C++ chain does not take stays on numpy's path
    assert K.post_ops_planar(x, [("sum", x)], np.empty_like(x)) is None
    assert K.post_ops_planar(x, items, x[:, ::-1]) is None          # overlapping, not the same view
    assert K.post_ops_planar(x[..., ::2], items, np.empty_like(x[..., ::2])) is None
