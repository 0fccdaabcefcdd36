"""medkern.models against independent torch definitions (nn_reference.py) with identical
weights: max |difference| <= 1e-4 * max |output|."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import medkern  # noqa: E402
import nn_reference as ref  # noqa: E402


def _compare(mk, tm, shape, seed=0):
    ref.randomize_bn(tm)
    mk.load_state_dict(tm.state_dict())
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    with torch.inference_mode():
        want = tm(torch.from_numpy(x)).numpy()
    got = mk(x)
    assert got.shape == want.shape
    assert got.dtype == np.float32
    err = np.abs(got - want).max()
    assert err <= 1e-4 * np.abs(want).max(), err
    return got


@pytest.mark.parametrize("bn,up,final", [(True, "conv", "softmax"), (False, "upsample", "sigmoid"),
                                         (True, "upsample", None)])
def test_unet2d(bn, up, final):
    kw = dict(in_channels=2, num_classes=3, depth=3, base_filters=8, batch_norm=bn, up_mode=up,
              final=final)
    torch.manual_seed(0)
    _compare(medkern.models.UNet2d(**kw), ref.UNet(2, **kw), (2, 2, 64, 64))


@pytest.mark.parametrize("up", ["conv", "upsample"])
def test_unet3d(up):
    kw = dict(in_channels=1, num_classes=2, depth=2, base_filters=4, up_mode=up)
    torch.manual_seed(1)
    _compare(medkern.models.UNet3d(**kw), ref.UNet(3, **kw), (1, 1, 16, 16, 16))


def test_vnet():
    kw = dict(in_channels=1, num_classes=2, depth=2, base_filters=4)
    torch.manual_seed(2)
    _compare(medkern.models.VNet(**kw), ref.VNet(**kw), (1, 1, 16, 16, 16))


def test_denseunet():
    kw = dict(nd=2, in_channels=1, num_classes=2, growth_rate=4, block_sizes=(2, 3, 2),
              init_filters=8)
    torch.manual_seed(3)
    _compare(medkern.models.DenseUNet(**kw), ref.DenseUNet(**kw), (1, 1, 32, 32))


@pytest.mark.parametrize("depth", [18, 34, 50, 101])
def test_resnet(depth):
    torch.manual_seed(4)
    tm = ref.resnet(depth, num_classes=10)
    mk = getattr(medkern.models, f"resnet{depth}")(num_classes=10)
    assert list(mk.state_dict()) == list(tm.state_dict())
    _compare(mk, tm, (1, 3, 64, 64))


@pytest.mark.parametrize("scales", [7, 3])
def test_mcnn(scales):
    kw = dict(in_channels=3, num_classes=5, scales=scales, channels=(4, 8, 8))
    torch.manual_seed(5)
    y = _compare(medkern.models.MCNN(**kw), ref.MCNN(**kw), (2, 3, 64, 64))
    np.testing.assert_allclose(y.sum(1), 1, rtol=1e-5)


def test_mcnn_rejects_indivisible_size():
    with pytest.raises(ValueError, match="divisible by 64"):
        medkern.models.MCNN(scales=7)(np.zeros((1, 3, 96, 100), np.float32))


def test_unet_bad_arguments():
    with pytest.raises(ValueError, match="up_mode"):
        medkern.models.UNet2d(up_mode="deconv")
    with pytest.raises(ValueError, match="final"):
        medkern.models.UNet2d(final="relu")
