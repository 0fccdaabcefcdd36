"""V-Net (Milletari et al. 2016): 5x5x5 convolutions with PReLU, a residual sum per stage,
2x2x2 stride-2 convolutions for down- and up-sampling."""

from __future__ import annotations

from .. import nn
from ..nn import functional as F


class Stage(nn.Module):
    """``n`` x (conv 5x5x5 -> [batch norm] -> PReLU), then PReLU(convs(x) + x)."""

    def __init__(self, channels: int, n: int, batch_norm: bool):
        super().__init__()
        layers = []
        for _ in range(n):
            layers.append(nn.Conv3d(channels, channels, 5, padding=2))
            if batch_norm:
                layers.append(nn.BatchNorm3d(channels))
            layers.append(nn.PReLU(channels))
        self.convs = nn.Sequential(*layers)
        self.act = nn.PReLU(channels)

    def forward(self, x):
        return self.act(self.convs(x) + x)


class VNet(nn.Module):
    """V-Net with ``depth`` down-samplings; level i has ``base_filters * 2**i`` channels.

    Encoder stage i has ``min(i + 1, 3)`` convolutions, the decoder mirrors it on the
    concatenation of the up-convolution and the skip (twice the channels).
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 2, depth: int = 4,
                 base_filters: int = 16, batch_norm: bool = False,
                 final: str | None = "softmax"):
        super().__init__()
        if final not in ("softmax", "sigmoid", None):
            raise ValueError(f"VNet: final must be 'softmax', 'sigmoid' or None, got {final!r}")
        self.depth, self.final = depth, final
        ch = [base_filters * 2 ** i for i in range(depth + 1)]
        self.inp = nn.Sequential(nn.Conv3d(in_channels, ch[0], 5, padding=2), nn.PReLU(ch[0]))
        self.enc = nn.ModuleList([Stage(ch[i], min(i + 1, 3), batch_norm)
                                  for i in range(depth + 1)])
        self.down = nn.ModuleList([nn.Sequential(nn.Conv3d(ch[i], ch[i + 1], 2, stride=2),
                                                 nn.PReLU(ch[i + 1])) for i in range(depth)])
        up_in = [ch[depth] if i == depth - 1 else 2 * ch[i + 1] for i in range(depth)]
        self.up = nn.ModuleList([nn.Sequential(nn.ConvTranspose3d(up_in[i], ch[i], 2, stride=2),
                                               nn.PReLU(ch[i])) for i in range(depth)])
        self.dec = nn.ModuleList([Stage(2 * ch[i], min(i + 1, 3), batch_norm)
                                  for i in range(depth)])
        self.head = nn.Conv3d(2 * ch[0], num_classes, 1)

    def forward(self, x):
        x = self.inp(x)
        skips = []
        for i in range(self.depth):
            x = self.enc[i](x)
            skips.append(x)
            x = self.down[i](x)
        x = self.enc[self.depth](x)
        for i in reversed(range(self.depth)):
            x = self.dec[i](F.cat([self.up[i](x), skips[i]], 1))
        x = self.head(x)
        if self.final == "softmax":
            return F.softmax(x, 1)
        if self.final == "sigmoid":
            return F.sigmoid(x)
        return x
