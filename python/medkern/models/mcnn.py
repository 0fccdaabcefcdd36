"""M-CNN, the multi-scale CNN for high-content screening (Godinez et al. 2017): one image
resized to N scales, three convolutions per scale, every branch pooled to the coarsest scale,
concatenated, a final convolution, global average pooling and softmax over phenotypes."""

from __future__ import annotations

from .. import nn
from ..nn import functional as F


class MCNN(nn.Module):
    """Multi-scale CNN.

    Parameters
    ----------
    in_channels : int
    num_classes : int, phenotypes
    scales : int, N; scale s is the input resized (bilinear) by 2**-s. The input height and
        width must be divisible by 2**(N-1).
    channels : (c1, c2, c3), channels of the three 3x3 convolutions of every branch
    """

    def __init__(self, in_channels: int = 3, num_classes: int = 10, scales: int = 7,
                 channels=(16, 32, 64)):
        super().__init__()
        if scales < 1:
            raise ValueError(f"MCNN: scales must be >= 1, got {scales}")
        self.scales = scales
        c1, c2, c3 = channels
        self.branches = nn.ModuleList()
        for s in range(scales):
            k = 2 ** (scales - 1 - s)
            self.branches.append(nn.Sequential(
                nn.Conv2d(in_channels, c1, 3, padding=1), nn.ReLU(inplace=True),
                nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(inplace=True),
                nn.Conv2d(c2, c3, 3, padding=1), nn.ReLU(inplace=True),
                nn.MaxPool2d(k) if k > 1 else nn.Identity()))
        self.final = nn.Conv2d(scales * c3, num_classes, 1)
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x):
        step = 2 ** (self.scales - 1)
        if x.shape[-1] % step or x.shape[-2] % step:
            raise ValueError(f"MCNN: input height and width must be divisible by {step} "
                             f"(2**(scales-1)), got shape {tuple(x.shape)}")
        outs = []
        for s, branch in enumerate(self.branches):
            xs = x if s == 0 else F.interpolate(x, scale_factor=0.5 ** s, mode="bilinear",
                                                align_corners=False)
            outs.append(branch(xs))
        x = self.final(F.cat(outs, 1))
        x = F.flatten(self.pool(x), 1)
        return F.softmax(x, 1)
