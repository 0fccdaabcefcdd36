"""U-Net for 2-D and 3-D segmentation (Ronneberger et al. 2015; Cicek et al. 2016)."""

from __future__ import annotations

from .. import nn
from ..nn import functional as F


def _layers(nd: int):
    if nd == 2:
        return nn.Conv2d, nn.ConvTranspose2d, nn.BatchNorm2d, nn.MaxPool2d, "bilinear"
    if nd == 3:
        return nn.Conv3d, nn.ConvTranspose3d, nn.BatchNorm3d, nn.MaxPool3d, "trilinear"
    raise ValueError(f"UNet: spatial dimensions must be 2 or 3, got {nd}")


class DoubleConv(nn.Module):
    """(conv 3 -> [batch norm] -> ReLU) x 2, as ``block``."""

    def __init__(self, nd: int, cin: int, cout: int, batch_norm: bool):
        super().__init__()
        Conv, _, BN, _, _ = _layers(nd)
        layers = []
        for c in (cin, cout):
            layers.append(Conv(c, cout, 3, padding=1, bias=not batch_norm))
            if batch_norm:
                layers.append(BN(cout))
            layers.append(nn.ReLU(inplace=True))
        self.block = nn.Sequential(*layers)

    def forward(self, x):
        return self.block(x)


class UNet(nn.Module):
    """U-Net with ``depth`` poolings and ``base_filters * 2**level`` channels per level.

    Parameters
    ----------
    nd : 2 or 3
    in_channels, num_classes : int
    depth : int, number of 2x down-samplings (the input size must be divisible by 2**depth)
    base_filters : int
    batch_norm : bool, batch normalisation after every 3x3 convolution
    up_mode : "conv" (transposed 2x2 convolution) or "upsample" (bilinear / trilinear 2x
        resize followed by a 1x1 convolution)
    final : "softmax" (over classes), "sigmoid", or None (logits)
    """

    def __init__(self, nd: int = 2, in_channels: int = 1, num_classes: int = 2, depth: int = 4,
                 base_filters: int = 32, batch_norm: bool = True, up_mode: str = "conv",
                 final: str | None = "softmax"):
        super().__init__()
        Conv, ConvT, _, Pool, lin = _layers(nd)
        if depth < 1:
            raise ValueError(f"UNet: depth must be >= 1, got {depth}")
        if up_mode not in ("conv", "upsample"):
            raise ValueError(f"UNet: up_mode must be 'conv' or 'upsample', got {up_mode!r}")
        if final not in ("softmax", "sigmoid", None):
            raise ValueError(f"UNet: final must be 'softmax', 'sigmoid' or None, got {final!r}")
        self.nd, self.depth, self.final = nd, depth, final
        ch = [base_filters * 2 ** i for i in range(depth + 1)]
        self.down = nn.ModuleList(
            [DoubleConv(nd, in_channels if i == 0 else ch[i - 1], ch[i], batch_norm)
             for i in range(depth + 1)])
        self.pool = Pool(2)
        ups = []
        for i in range(depth):
            if up_mode == "conv":
                ups.append(ConvT(ch[i + 1], ch[i], 2, stride=2))
            else:
                ups.append(nn.Sequential(
                    nn.Upsample(scale_factor=2, mode=lin, align_corners=False),
                    Conv(ch[i + 1], ch[i], 1)))
        self.up = nn.ModuleList(ups)
        self.dec = nn.ModuleList([DoubleConv(nd, 2 * ch[i], ch[i], batch_norm)
                                  for i in range(depth)])
        self.head = Conv(ch[0], num_classes, 1)

    def forward(self, x):
        skips = []
        for i in range(self.depth):
            x = self.down[i](x)
            skips.append(x)
            x = self.pool(x)
        x = self.down[self.depth](x)
        for i in reversed(range(self.depth)):
            x = self.dec[i](F.cat([skips[i], self.up[i](x)], 1))
        x = self.head(x)
        if self.final == "softmax":
            return F.softmax(x, 1)
        if self.final == "sigmoid":
            return F.sigmoid(x)
        return x


class UNet2d(UNet):
    """2-D U-Net; see :class:`UNet` (``nd=2``)."""

    def __init__(self, in_channels: int = 1, num_classes: int = 2, depth: int = 4,
                 base_filters: int = 32, batch_norm: bool = True, up_mode: str = "conv",
                 final: str | None = "softmax"):
        super().__init__(2, in_channels, num_classes, depth, base_filters, batch_norm, up_mode,
                         final)


class UNet3d(UNet):
    """3-D U-Net; see :class:`UNet` (``nd=3``)."""

    def __init__(self, in_channels: int = 1, num_classes: int = 2, depth: int = 3,
                 base_filters: int = 16, batch_norm: bool = True, up_mode: str = "conv",
                 final: str | None = "softmax"):
        super().__init__(3, in_channels, num_classes, depth, base_filters, batch_norm, up_mode,
                         final)
