"""medkern.nn modules against torch.nn with identical parameters; state_dict behaviour."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
tn = torch.nn

from medkern import nn  # noqa: E402

X4 = np.random.default_rng(0).standard_normal((2, 4, 9, 10)).astype(np.float32)
X5 = np.random.default_rng(1).standard_normal((2, 4, 5, 6, 7)).astype(np.float32)


def _check(m, tm, x):
    for p in tm.parameters():   # non-default values for every parameter
        p.data.uniform_(-0.5, 0.5)
    m.load_state_dict(tm.state_dict())
    with torch.inference_mode():
        want = tm(torch.from_numpy(x)).numpy()
    got = m(x)
    assert got.shape == want.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * max(1.0, np.abs(want).max()))


CASES = [
    ("Conv2d", (4, 6, 3), dict(padding=1, stride=2), X4),
    ("Conv2d", (4, 6, 3), dict(padding=2, dilation=2, groups=2), X4),
    ("Conv3d", (4, 6, 5), dict(padding=2), X5),
    ("ConvTranspose2d", (4, 6, 2), dict(stride=2), X4),
    ("ConvTranspose2d", (4, 6, 3), dict(stride=2, padding=1, output_padding=1, groups=2), X4),
    ("ConvTranspose2d", (4, 6, 3), dict(stride=3, output_padding=2, dilation=2), X4),
    ("ConvTranspose3d", (4, 6, 2), dict(stride=2), X5),
    ("ReLU", (), {}, X4), ("ReLU6", (), {}, X4 * 8), ("LeakyReLU", (0.2,), {}, X4),
    ("PReLU", (4,), {}, X4), ("PReLU", (), {}, X4), ("ELU", (), {}, X4), ("Sigmoid", (), {}, X4),
    ("Tanh", (), {}, X4), ("GELU", (), {}, X4), ("GELU", ("tanh",), {}, X4),
    ("Hardswish", (), {}, X4 * 4), ("Softmax", (1,), {}, X4), ("Softmax", (-1,), {}, X4),
    ("MaxPool2d", (3, 2, 1), {}, X4), ("MaxPool2d", (2,), dict(ceil_mode=True), X4),
    ("MaxPool2d", (3, 2, 1), dict(dilation=2), X4), ("MaxPool3d", (2,), {}, X5),
    ("AvgPool2d", (3, 2, 1), {}, X4),
    ("AvgPool2d", (3, 2, 1), dict(ceil_mode=True, count_include_pad=False), X4),
    ("AvgPool2d", (3, 2, 1), dict(ceil_mode=True), X4), ("AvgPool3d", (2,), {}, X5),
    ("AdaptiveAvgPool2d", ((3, 4),), {}, X4), ("AdaptiveAvgPool2d", (1,), {}, X4),
    ("AdaptiveAvgPool3d", (2,), {}, X5),
    ("Upsample", (), dict(scale_factor=2), X4),
    ("Upsample", (), dict(size=(5, 7)), X4),
    ("Upsample", (), dict(size=(7, 13), mode="bilinear"), X4),
    ("Upsample", (), dict(scale_factor=1.7, mode="bilinear", align_corners=True), X4),
    ("Upsample", (), dict(scale_factor=2, mode="trilinear"), X5),
    ("Flatten", (), {}, X4), ("Linear", (10, 3), {}, X4), ("Dropout", (0.3,), {}, X4),
    ("Identity", (), {}, X4),
]


@pytest.mark.parametrize("name,args,kwargs,x", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_module_matches_torch(name, args, kwargs, x):
    _check(getattr(nn, name)(*args, **kwargs), getattr(tn, name)(*args, **kwargs).eval(), x)


@pytest.mark.parametrize("nd", [2, 3])
def test_batch_norm_matches_torch(nd):
    tm = getattr(tn, f"BatchNorm{nd}d")(4)
    tm.running_mean.uniform_()
    tm.running_var.uniform_(0.5, 2)
    _check(getattr(nn, f"BatchNorm{nd}d")(4), tm.eval(), X4 if nd == 2 else X5)


def test_torch_tensor_input_accepted():
    m = nn.Conv2d(4, 2, 1)
    np.testing.assert_array_equal(m(torch.from_numpy(X4)), m(X4))


def _pair():
    m = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(),
                      nn.ModuleDict({"head": nn.Linear(4, 2)}))
    t = tn.Sequential(tn.Conv2d(1, 4, 3), tn.BatchNorm2d(4), tn.ReLU(),
                      tn.ModuleDict({"head": tn.Linear(4, 2)}))
    return m, t


def test_state_dict_keys_match_torch():
    m, t = _pair()
    sd, tsd = m.state_dict(), t.state_dict()
    assert list(sd) == list(tsd)
    assert "1.num_batches_tracked" in sd and sd["1.num_batches_tracked"].dtype == np.int64
    for k in sd:
        assert sd[k].shape == tuple(tsd[k].shape), k
    # round trip: medkern -> torch -> medkern
    t.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})
    m2, _ = _pair()
    m2.load_state_dict(t.state_dict())
    for k, v in m2.state_dict().items():
        np.testing.assert_array_equal(v, sd[k])


def test_load_state_dict_lists_every_problem_and_changes_nothing():
    m, t = _pair()
    before = m.state_dict()
    bad = dict(t.state_dict())
    del bad["0.bias"]
    bad["extra.weight"] = torch.zeros(3)
    bad["3.head.weight"] = torch.zeros(3, 4)
    with pytest.raises(ValueError) as e:
        m.load_state_dict(bad)
    msg = str(e.value)
    assert "missing keys: 0.bias" in msg
    assert "unexpected keys: extra.weight" in msg
    assert "3.head.weight: expected (2, 4), got (3, 4)" in msg
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    del bad["extra.weight"]
    bad["3.head.weight"] = torch.zeros(2, 4)
    m.load_state_dict(bad, strict=False)
    np.testing.assert_array_equal(m.state_dict()["3.head.weight"], 0)


def test_loaded_weights_are_used():
    m = nn.Conv2d(1, 1, 1, bias=False)
    x = np.ones((1, 1, 2, 2), np.float32)
    m(x)
    m.load_state_dict({"weight": np.full((1, 1, 1, 1), 3, np.float32)})
    np.testing.assert_array_equal(m(x), 3)


def test_bad_inputs():
    conv = nn.Conv2d(4, 2, 3)
    with pytest.raises(ValueError, match="4 input channels"):
        conv(np.zeros((1, 3, 8, 8), np.float32))
    with pytest.raises(ValueError, match="4-D"):
        conv(np.zeros((4, 8, 8), np.float32))
    with pytest.raises(TypeError, match="float32"):
        conv(np.zeros((1, 4, 8, 8)))
    with pytest.raises(TypeError, match="numpy.ndarray"):
        conv([[1.0]])
    with pytest.raises(ValueError, match="padding_mode"):
        nn.Conv2d(1, 1, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(NotImplementedError, match="inference-only"):
        conv.train()


def test_named_children_and_repr():
    m, _ = _pair()
    assert [n for n, _ in m.named_children()] == ["0", "1", "2", "3"]
    assert [n for n, _ in m.named_modules()][-1] == "3.head"
    assert "Conv2d(1, 4" in repr(m)
