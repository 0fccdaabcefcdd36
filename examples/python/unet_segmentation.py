"""Segment a CT slice with a small U-Net compiled by medkern, and compare with PyTorch.

The slice is pydicom's bundled CT_small.dcm (a generated phantom when pydicom is missing).
A small U-Net written in plain torch keeps its random convolution weights and gets its 1x1
output layer by least squares against intensity-derived labels (air / soft tissue / bone, a
stand-in for annotations; no training loop, so the demo takes seconds). Then:
  * medkern.compile(torch_model) runs it through medkern's graph compiler, and
  * the same weights load into medkern.models.UNet2d (identical state_dict keys).
Both are checked against PyTorch; the overlay is written as a PNG.

Run: python examples/python/unet_segmentation.py [--out overlay.png]
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as tn

import medkern

CLASSES = ("air", "soft tissue", "bone")


def load_slice() -> tuple[np.ndarray, str]:
    """Hounsfield units of one 128x128 CT slice."""
    try:
        import pydicom
        from pydicom.data import get_testdata_file
        ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
        hu = ds.pixel_array.astype(np.float32) * float(ds.RescaleSlope) + \
            float(ds.RescaleIntercept)
        return hu, "pydicom CT_small.dcm"
    except Exception:  # pydicom missing: an elliptical body with a bone ring
        yy, xx = np.mgrid[-1:1:128j, -1:1:128j]
        r = (xx / 0.8) ** 2 + (yy / 0.6) ** 2
        hu = np.where(r < 1, 40.0, -1000.0) + np.where((r > 0.5) & (r < 0.6), 800.0, 0.0)
        hu += np.random.default_rng(0).normal(0, 20, hu.shape)
        return hu.astype(np.float32), "generated phantom"


def labels_from_hu(hu: np.ndarray) -> np.ndarray:
    return np.digitize(hu, [-400.0, 250.0]).astype(np.int64)


class DoubleConv(tn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.block = tn.Sequential(tn.Conv2d(cin, cout, 3, padding=1, bias=False),
                                   tn.BatchNorm2d(cout), tn.ReLU(inplace=True),
                                   tn.Conv2d(cout, cout, 3, padding=1, bias=False),
                                   tn.BatchNorm2d(cout), tn.ReLU(inplace=True))

    def forward(self, x):
        return self.block(x)


class TorchUNet(tn.Module):
    """Same module names as medkern.models.UNet2d(up_mode="conv", final="softmax")."""

    def __init__(self, depth=3, base=8, classes=3):
        super().__init__()
        ch = [base * 2 ** i for i in range(depth + 1)]
        self.depth = depth
        self.down = tn.ModuleList([DoubleConv(1 if i == 0 else ch[i - 1], ch[i])
                                   for i in range(depth + 1)])
        self.pool = tn.MaxPool2d(2)
        self.up = tn.ModuleList([tn.ConvTranspose2d(ch[i + 1], ch[i], 2, stride=2)
                                 for i in range(depth)])
        self.dec = tn.ModuleList([DoubleConv(2 * ch[i], ch[i]) for i in range(depth)])
        self.head = tn.Conv2d(ch[0], classes, 1)

    def features(self, x):
        skips = []
        for i in range(self.depth):
            x = self.down[i](x)
            skips.append(x)
            x = self.pool(x)
        x = self.down[self.depth](x)
        for i in reversed(range(self.depth)):
            x = self.dec[i](torch.cat([skips[i], self.up[i](x)], 1))
        return x

    def forward(self, x):
        return torch.softmax(self.head(self.features(x)), 1)


def fit_head(model, x, y, sharpness=8.0):
    """Least-squares read-out from the last decoder features to one-hot labels."""
    with torch.inference_mode():
        f = model.features(torch.from_numpy(x)).numpy()[0]
    c = f.shape[0]
    a = np.concatenate([f.reshape(c, -1).T, np.ones((f[0].size, 1), np.float32)], 1)
    target = np.eye(len(CLASSES), dtype=np.float32)[y.reshape(-1)]
    coef, *_ = np.linalg.lstsq(a.astype(np.float64), target, rcond=None)
    with torch.no_grad():
        model.head.weight.copy_(torch.from_numpy(sharpness * coef[:c].T).reshape(
            model.head.weight.shape))
        model.head.bias.copy_(torch.from_numpy(sharpness * coef[c]))
    return model


def median_seconds(fn, repeats=7):
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path,
                    default=Path(tempfile.gettempdir()) / "medkern_unet_segmentation.png")
    args = ap.parse_args()
    torch.manual_seed(0)
    hu, source = load_slice()
    x = (np.clip(hu, -1000, 1500) / 1000.0)[None, None].astype(np.float32)
    y = labels_from_hu(hu)[None]
    net = fit_head(TorchUNet().eval(), x, y)
    print(f"slice: {source} {hu.shape}")

    with torch.inference_mode():
        ref = net(torch.from_numpy(x)).numpy()
    compiled = medkern.compile(net, x)                  # torch.fx import
    zoo = medkern.models.UNet2d(in_channels=1, num_classes=3, depth=3, base_filters=8)
    zoo.load_state_dict(net.state_dict())               # same keys as the torch model
    compiled_zoo = medkern.compile(zoo, x)
    prob = compiled(x)
    for name, out in (("compile(torch)", prob), ("models.UNet2d", compiled_zoo(x))):
        err = float(np.abs(out - ref).max())
        print(f"{name}: max |difference| to PyTorch {err:.2e}")
        assert err <= 1e-4 * float(np.abs(ref).max())
    seg = prob[0].argmax(0)
    agree = float((seg == y[0]).mean())
    print("pixels per class: " + ", ".join(f"{c} {int((seg == k).sum())}"
                                           for k, c in enumerate(CLASSES)) +
          f"; agreement with the intensity labels {agree:.1%}")

    xt = torch.from_numpy(x)

    def torch_run():
        with torch.inference_mode():
            net(xt)
    t_torch = median_seconds(torch_run)
    t_mk = median_seconds(lambda: compiled(x))
    print(f"inference 1x1x{hu.shape[0]}x{hu.shape[1]}: medkern {t_mk * 1e3:.2f} ms, "
          f"PyTorch eager {t_torch * 1e3:.2f} ms ({t_torch / t_mk:.2f}x), "
          f"planned activation memory {compiled.memory()['peak_bytes'] / 1024:.0f} KiB")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(1, 2, figsize=(8, 4))
    ax[0].imshow(hu, cmap="gray", vmin=-1000, vmax=1000)
    ax[0].set_title("CT slice (HU)")
    ax[1].imshow(hu, cmap="gray", vmin=-1000, vmax=1000)
    overlay = np.ma.masked_where(seg == 0, seg)
    ax[1].imshow(overlay, cmap="autumn", alpha=0.45, vmin=1, vmax=2)
    ax[1].set_title("U-Net: soft tissue / bone")
    for a in ax:
        a.axis("off")
    fig.tight_layout()
    fig.savefig(args.out, dpi=100)
    plt.close(fig)
    print(f"overlay written to {args.out}")


if __name__ == "__main__":
    main()
