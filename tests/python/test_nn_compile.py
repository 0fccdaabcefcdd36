"""medkern.compile: torch.fx import, every pass on/off against the uncompiled reference,
memory planning, profile, bad input."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn as tn  # noqa: E402
import torch.nn.functional as tF  # noqa: E402

import medkern  # noqa: E402
import nn_reference as ref  # noqa: E402
from medkern.nn.compile import CompileError  # noqa: E402

PASSES = ["fold_batch_norm", "fuse_eltwise", "fuse_sum", "eliminate_concat", "blocked_layout",
          "plan_memory", "in_place"]


def _x(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _torch_out(model, x):
    with torch.inference_mode():
        return model(torch.from_numpy(x)).numpy()


def _close(got, want):
    assert got.shape == want.shape and got.dtype == np.float32
    err = np.abs(got - want).max()
    assert err <= 1e-4 * np.abs(want).max(), err


def _torchvision_resnet(depth):
    """torchvision's own ResNet when it imports (random init, no download); otherwise the
    reference copy of its structure in nn_reference.py."""
    try:
        import torchvision
        return getattr(torchvision.models, f"resnet{depth}")(weights=None, num_classes=10)
    except Exception:  # torchvision missing or built against another torch
        return ref.resnet(depth, num_classes=10)


def _kinds(c):
    return [n.kind for n in c.graph]


@pytest.fixture(scope="module")
def unet_pair():
    torch.manual_seed(0)
    kw = dict(in_channels=1, num_classes=3, depth=3, base_filters=8)
    tm = ref.randomize_bn(ref.UNet(2, **kw))
    mk = medkern.models.UNet2d(**kw)
    mk.load_state_dict(tm.state_dict())
    return mk, tm


@pytest.mark.parametrize("off", [None] + PASSES)
@pytest.mark.parametrize("source", ["medkern", "torch"])
def test_unet_every_pass_on_and_off(unet_pair, off, source):
    mk, tm = unet_pair
    x = _x((2, 1, 64, 64))
    want = _torch_out(tm, x)
    opts = {} if off is None else {off: False}
    c = medkern.compile(mk if source == "medkern" else tm, x, **opts)
    _close(c(x), want)
    kinds = _kinds(c)
    if off == "fold_batch_norm":
        assert any(it[0] == "batch_norm" for n in c.graph if n.kind == "conv"
                   for it in n.attrs["post_ops"] if isinstance(it, tuple))
    if off in ("fuse_eltwise",):
        assert "eltwise" in kinds
    if off is None:
        assert "affine" not in kinds and "eltwise" not in kinds
        convs = [n for n in c.graph if n.kind == "conv" and not n.attrs["transpose"]]
        assert sum(n.attrs["post_ops"] == ["relu"] for n in convs) == 14
        assert sum(n.alias is not None for n in c.graph) == 6   # 3 cats x 2 producers
        m = c.memory()
        assert 0 < m["arena_bytes"] < m["unplanned_bytes"]
    if off == "eliminate_concat":
        assert all(n.alias is None for n in c.graph)
    if off == "plan_memory":
        assert c.memory()["arena_bytes"] == 0


def _blocked_kernels() -> bool:
    """Whether convolutions run natively on blocked tensors under the active ISA cap (the
    blocked_layout pass keeps nothing blocked otherwise)."""
    return medkern.ops.PackedConv(np.ones((16, 16, 3, 3), np.float32), padding=1).blocked_native_


@pytest.mark.parametrize("off", [None] + PASSES)
def test_resnet18_torch_every_pass(off):
    torch.manual_seed(1)
    tm = ref.randomize_bn(_torchvision_resnet(18))
    x = _x((1, 3, 64, 64), 1)
    c = medkern.compile(tm, x, **({} if off is None else {off: False}))
    _close(c(x), _torch_out(tm, x))
    sums = [n for n in c.graph if n.kind == "conv" and any(
        isinstance(it, tuple) and it[0] == "sum" for it in n.attrs["post_ops"])]
    assert len(sums) == (0 if off == "fuse_sum" else 8)
    nb = sum(n.layout == "blocked" for n in c.graph)
    if off == "blocked_layout":
        assert nb == 0
    elif off not in ("fuse_eltwise", "fuse_sum") and _blocked_kernels():
        # (unfused ReLUs / sums read planar)
        assert nb >= 10


class _BlockedCat(tn.Module):
    """Convolutions feeding a concat, a residual sum and a 1x1, all on 16-channel blocks,
    ending in a consumer without a blocked kernel (max pool)."""

    def __init__(self, nd):
        super().__init__()
        C = tn.Conv2d if nd == 2 else tn.Conv3d
        self.a = C(3, 16, 3, padding=1)
        self.b = C(16, 16, 3, padding=1)
        self.c = C(16, 32, 3, padding=1)
        self.d = C(48, 32, 1)
        self.e = C(32, 32, 3, padding=1)
        self.g = C(32, 16, 3, padding=1)
        self.pool = tn.MaxPool2d(2) if nd == 2 else tn.MaxPool3d(2)

    def forward(self, x):
        b = tF.relu(self.b(tF.relu(self.a(x))))
        d = self.d(torch.cat([b, self.c(b)], 1))
        e = tF.relu(self.e(d) + d)
        return self.pool(self.g(e))


@pytest.mark.parametrize("nd", [2, 3])
def test_blocked_layout_concat_and_sum(nd):
    torch.manual_seed(8)
    tm = _BlockedCat(nd).eval()
    x = _x((2, 3) + ((9, 20, 19) if nd == 3 else (33, 40)), 8)
    want = _torch_out(tm, x)
    on = medkern.compile(tm, x)
    off = medkern.compile(tm, x, blocked_layout=False)
    _close(on(x), want)
    _close(off(x), want)
    if not _blocked_kernels():
        pytest.skip("no native blocked convolution under this ISA cap")
    lay = {n.name.split("+")[0]: n.layout for n in on.graph}
    assert lay["a"] is None   # no blocked kernel (3 input channels)
    # the pool reads g blocked; it is the graph output, so its result is reordered
    assert all(lay[k] == "blocked" for k in ("b", "c", "cat", "d", "e", "g")), lay
    assert all(n.layout is None for n in off.graph)
    # the concat's blocked producers write into its blocks
    assert sum(n.alias is not None for n in on.graph) == 2
    rows = on.profile(x, print_table=False)
    assert any("[b->b]" in r["kind"] for r in rows) and any("[b]" in r["kind"] for r in rows)
    assert any(r["kind"] == "max_pool [b->p]" for r in rows)


@pytest.mark.parametrize("nd", [2, 3])
@pytest.mark.parametrize("off", [None] + PASSES)
def test_unet_runs_blocked_from_first_conv_to_head(nd, off):
    """With 16-channel multiples, max pools, up-convolutions and the decoder concats keep the
    blocked layout: only the first conv (1 input channel) and the head (3 outputs: the
    direct kernel on its blocked input, the graph's planar output) store planar. Every pass
    off gives the same result."""
    torch.manual_seed(9)
    tm = ref.randomize_bn(ref.UNet(nd, in_channels=1, num_classes=3, depth=2, base_filters=16))
    x = _x((2, 1) + ((8, 20, 16) if nd == 3 else (36, 44)), 9)
    c = medkern.compile(tm, x, **({} if off is None else {off: False}))
    _close(c(x), _torch_out(tm, x))
    if off is not None:
        return
    if not _blocked_kernels():
        pytest.skip("no native blocked convolution under this ISA cap")
    kinds = {}
    for n in c.graph:
        if n.kind in ("conv", "max_pool", "cat"):
            k = n.kind + ("_t" if n.kind == "conv" and n.attrs["transpose"] else "")
            kinds.setdefault(k, []).append(n.layout)
    assert kinds["max_pool"] == ["blocked"] * 2
    assert kinds["conv_t"] == ["blocked"] * 2
    assert kinds["cat"] == ["blocked"] * 2
    convs = kinds["conv"]
    assert convs[0] is None and convs[-1] is None
    assert all(v == "blocked" for v in convs[1:-1])
    # skip and up-convolution write into their concat's blocks
    assert sum(n.alias is not None for n in c.graph) == 4
    rows = c.profile(x, print_table=False)
    assert sum(r["kind"].startswith("conv_transpose") and "[b->b]" in r["kind"]
               for r in rows) == 2


def test_resnet50_torch():
    torch.manual_seed(2)
    tm = ref.randomize_bn(_torchvision_resnet(50))
    x = _x((1, 3, 64, 64), 2)
    _close(medkern.compile(tm, x)(x), _torch_out(tm, x))


@pytest.mark.parametrize("off", [None, "eliminate_concat", "plan_memory", "fuse_sum"])
def test_plain_torch_unet(off):
    torch.manual_seed(3)
    tm = ref.randomize_bn(ref.PlainUNet())
    x = _x((2, 1, 64, 64), 3)
    c = medkern.compile(tm, x, **({} if off is None else {off: False}))
    _close(c(x), _torch_out(tm, x))


@pytest.mark.parametrize("fast", [True, False])
def test_dense_unet_nested_concats(monkeypatch, fast):
    # fast=False: every affine / eltwise node takes the numpy path (items or layouts the C++
    # chain does not take), in place on its concat buffer and into its own
    if not fast:
        from medkern.nn import _kernels as KK
        monkeypatch.setattr(KK, "post_ops_planar", lambda *a, **k: None)
    torch.manual_seed(4)
    kw = dict(nd=2, in_channels=1, num_classes=2, growth_rate=4, block_sizes=(2, 3, 2),
              init_filters=8)
    tm = ref.randomize_bn(ref.DenseUNet(**kw))
    mk = medkern.models.DenseUNet(**kw)
    mk.load_state_dict(tm.state_dict())
    x = _x((2, 1, 32, 32), 4)
    want = _torch_out(tm, x)
    for opts in ({}, {"eliminate_concat": False}):
        c = medkern.compile(mk, x, **opts)
        _close(c(x), want)
    full = medkern.compile(mk, x)
    # nested concatenations resolve to one buffer per dense block
    assert sum(n.kind == "cat" and n.alias is not None for n in full.graph) > 0
    # pre-activation batch norm -> ReLU runs as one element-wise chain
    assert all(n.attrs.get("post") == ["relu"] for n in full.graph if n.kind == "affine")
    assert "eltwise" not in _kinds(full)
    # ... in place on the concat buffer it reads last (its own buffer otherwise)
    in_place = [n for n in full.graph if n.kind == "affine" and n.alias is not None]
    assert in_place and all(n.alias == (n.inputs[0], 0) for n in in_place)
    apart = medkern.compile(mk, x, in_place=False)
    assert not any(n.kind == "affine" and n.alias is not None for n in apart.graph)
    assert full.memory()["arena_bytes"] < apart.memory()["arena_bytes"]
    for c in (full, apart):   # twice: the shared buffer holds the right values on every call
        _close(c(x), want)
        _close(c(x), want)


def test_vnet_and_mcnn_compile():
    torch.manual_seed(5)
    kw = dict(in_channels=1, num_classes=2, depth=2, base_filters=4)
    tm = ref.randomize_bn(ref.VNet(**kw))
    mk = medkern.models.VNet(**kw)
    mk.load_state_dict(tm.state_dict())
    x = _x((1, 1, 16, 16, 16), 5)
    _close(medkern.compile(mk, x)(x), _torch_out(tm, x))
    kw = dict(in_channels=3, num_classes=4, scales=4, channels=(4, 8, 8))
    tm = ref.MCNN(**kw).eval()
    x = _x((1, 3, 64, 64), 6)
    _close(medkern.compile(tm, x)(x), _torch_out(tm, x))


@pytest.mark.parametrize("band_bytes", [1, 40000])
@pytest.mark.parametrize("nd", [2, 3])
def test_conv_pool_fusion_by_bands(monkeypatch, nd, band_bytes):
    # every conv output counts as large; bands of one pooling window, or of two with a
    # shorter last band (2-D: 27 of the 29 rows in bands of 6)
    from medkern.nn import compile as C
    monkeypatch.setattr(C, "_FUSE_POOL_MIN_BYTES", 0)
    monkeypatch.setattr(C, "_BAND_BYTES", band_bytes)
    torch.manual_seed(7)
    conv, mp, ap = (tn.Conv2d, tn.MaxPool2d, tn.AvgPool2d) if nd == 2 else \
        (tn.Conv3d, tn.MaxPool3d, tn.AvgPool3d)
    tm = tn.Sequential(conv(3, 16, 3, padding=1), tn.ReLU(), conv(16, 32, 3, padding=1),
                       tn.ReLU(), mp(3), conv(32, 16, 3, padding=1), ap(2)).eval()
    x = _x((2, 3) + ((9, 10, 13) if nd == 3 else (29, 21)), 7)
    want = _torch_out(tm, x)
    fused = medkern.compile(tm, x)
    apart = medkern.compile(tm, x, fuse_pool=False)
    for c in (fused, apart):
        _close(c(x), want)
        _close(c(x), want)
    kinds = [r["kind"] for r in fused.profile(x, print_table=False)]
    assert sum("+max_pool (bands of" in k for k in kinds) == 1
    assert sum("+avg_pool (bands of" in k for k in kinds) == 1
    if nd == 2:
        # a Winograd convolution (AVX-512) computes whole 4-row tiles: bands of lcm(3, 4) rows
        wino = medkern.ops.PackedConv(np.zeros((32, 16, 3, 3), np.float32),
                                      padding=1).algorithm_ == "winograd"
        want_band = 12 if wino else 3 if band_bytes == 1 else 6
        assert f"+max_pool (bands of {want_band})" in " ".join(kinds)
    assert len(fused.graph) == len(apart.graph) - 2
    assert fused.memory()["arena_bytes"] < apart.memory()["arena_bytes"]
    # a pool whose windows overlap, or a conv read twice, is left alone
    tm2 = tn.Sequential(conv(3, 16, 3, padding=1), conv(16, 32, 3, padding=1),
                        mp(3, stride=2)).eval()
    assert len(medkern.compile(tm2, x).graph) == len(medkern.compile(tm2, x, fuse_pool=False).graph)


def test_other_batch_sizes_and_torch_input(unet_pair):
    mk, tm = unet_pair
    c = medkern.compile(mk, _x((1, 1, 64, 64)))
    x = _x((3, 1, 32, 32), 7)
    _close(c(torch.from_numpy(x)), _torch_out(tm, x))
    _close(c(_x((1, 1, 64, 64), 8)), _torch_out(tm, _x((1, 1, 64, 64), 8)))


def test_outputs_are_not_overwritten_by_later_calls(unet_pair):
    mk, _ = unet_pair
    x1, x2 = _x((1, 1, 32, 32), 9), _x((1, 1, 32, 32), 10)
    c = medkern.compile(mk, x1)
    y1 = c(x1)
    keep = y1.copy()
    c(x2)
    np.testing.assert_array_equal(y1, keep)
    np.testing.assert_array_equal(x1, _x((1, 1, 32, 32), 9))   # input untouched


def test_profile_table(unet_pair, capsys):
    mk, _ = unet_pair
    x = _x((1, 1, 64, 64))
    rows = medkern.compile(mk, x).profile(x)
    out = capsys.readouterr().out
    assert "conv2d+relu" in out and "GFLOP/s" in out and "total" in out
    assert abs(sum(r["share"] for r in rows) - 1) < 0.05
    conv = next(r for r in rows if r["kind"] == "conv2d+relu")
    assert conv["gflops"] > 0 and conv["output"] == (1, 8, 64, 64)


def test_bad_inputs(unet_pair):
    mk, _ = unet_pair
    c = medkern.compile(mk, _x((1, 1, 32, 32)))
    with pytest.raises(ValueError, match="4-D"):
        c(_x((1, 32, 32)))
    with pytest.raises(ValueError, match="1 channels"):
        c(_x((1, 2, 32, 32)))
    with pytest.raises(TypeError, match="float32"):
        c(np.zeros((1, 1, 32, 32)))
    with pytest.raises(TypeError, match="numpy.ndarray"):
        c([[0.0]])
    with pytest.raises(TypeError, match="torch.nn.Module"):
        medkern.compile(object(), _x((1, 1, 8, 8)))


class _Topk(tn.Module):
    def __init__(self):
        super().__init__()
        self.conv = tn.Conv2d(1, 2, 3)

    def forward(self, x):
        return torch.cumsum(self.conv(x), 1)


class _Permute(tn.Module):
    def __init__(self):
        super().__init__()
        self.body = tn.Sequential(tn.Conv2d(1, 2, 3), tn.ReLU())

    def forward(self, x):
        return self.body(x).permute(0, 2, 3, 1)


class _Conv1d(tn.Module):
    def __init__(self):
        super().__init__()
        self.enc = tn.Sequential(tn.Flatten(2), tn.Conv1d(1, 2, 3))

    def forward(self, x):
        return self.enc(x)


class _Branchy(tn.Module):
    def forward(self, x):
        return x if x.sum() > 0 else -x


def test_unsupported_torch_ops_are_named_with_their_place():
    x = _x((1, 1, 8, 8))
    with pytest.raises(CompileError, match=r"cumsum.*node 'cumsum'"):
        medkern.compile(_Topk(), x)
    with pytest.raises(CompileError, match=r"Tensor.permute at node 'permute'"):
        medkern.compile(_Permute(), x)
    with pytest.raises(CompileError, match=r"Conv1d at node 'enc_1' \(module 'enc.1'\)"):
        medkern.compile(_Conv1d(), x)
    with pytest.raises(CompileError, match="torch.fx could not trace"):
        medkern.compile(_Branchy(), x)


def test_training_flags_restored():
    m = ref.PlainUNet()
    m.train()
    medkern.compile(m, _x((1, 1, 32, 32)))
    assert all(mod.training for mod in m.modules())


def test_nan_and_inf_propagate_like_torch():
    torch.manual_seed(6)
    tm = tn.Sequential(tn.Conv2d(1, 4, 3, padding=1), tn.ReLU(), tn.MaxPool2d(2),
                       tn.Conv2d(4, 2, 1), tn.Sigmoid()).eval()
    x = _x((1, 1, 16, 16), 11)
    x[0, 0, 3, 4] = np.nan
    x[0, 0, 10, 10] = np.inf
    x[0, 0, 12, 2] = -np.inf
    want = _torch_out(tm, x)
    got = medkern.compile(tm, x)(x)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    fin = np.isfinite(want)
    np.testing.assert_allclose(got[fin], want[fin], rtol=1e-4, atol=1e-5)
