"""Dense U-Net: a U-Net whose levels are dense blocks (every layer's output concatenated to
its input, Huang et al. 2017), so most of its time and memory traffic is in concatenation."""

from __future__ import annotations

from .. import nn
from ..nn import functional as F


def _layers(nd):
    if nd == 2:
        return nn.Conv2d, nn.ConvTranspose2d, nn.BatchNorm2d, nn.MaxPool2d
    if nd == 3:
        return nn.Conv3d, nn.ConvTranspose3d, nn.BatchNorm3d, nn.MaxPool3d
    raise ValueError(f"DenseUNet: spatial dimensions must be 2 or 3, got {nd}")


class DenseLayer(nn.Module):
    """batch norm -> ReLU -> conv 3 producing ``growth_rate`` channels."""

    def __init__(self, nd, cin, growth_rate):
        super().__init__()
        Conv, _, BN, _ = _layers(nd)
        self.norm = BN(cin)
        self.relu = nn.ReLU(inplace=True)
        self.conv = Conv(cin, growth_rate, 3, padding=1, bias=False)

    def forward(self, x):
        return self.conv(self.relu(self.norm(x)))


class DenseBlock(nn.Module):
    def __init__(self, nd, cin, n_layers, growth_rate):
        super().__init__()
        self.layers = nn.ModuleList([DenseLayer(nd, cin + i * growth_rate, growth_rate)
                                     for i in range(n_layers)])
        self.out_channels = cin + n_layers * growth_rate

    def forward(self, x):
        for layer in self.layers:
            x = F.cat([x, layer(x)], 1)
        return x


class DenseUNet(nn.Module):
    """Dense U-Net.

    Parameters
    ----------
    nd : 2 or 3
    in_channels, num_classes : int
    growth_rate : int, channels each dense layer adds
    block_sizes : layers per dense block, one block per encoder level (the last one is the
        bottleneck); the decoder uses the encoder's sizes in reverse
    init_filters : channels of the first convolution
    """

    def __init__(self, nd: int = 2, in_channels: int = 1, num_classes: int = 2,
                 growth_rate: int = 12, block_sizes=(3, 3, 3, 3), init_filters: int = 24,
                 final: str | None = "softmax"):
        super().__init__()
        Conv, ConvT, BN, Pool = _layers(nd)
        if len(block_sizes) < 2:
            raise ValueError(f"DenseUNet: block_sizes needs at least 2 entries, got "
                             f"{block_sizes!r}")
        self.final = final
        self.stem = Conv(in_channels, init_filters, 3, padding=1, bias=False)
        c = init_filters
        enc, trans, skip_ch = [], [], []
        for n in block_sizes[:-1]:
            block = DenseBlock(nd, c, n, growth_rate)
            enc.append(block)
            c = block.out_channels
            skip_ch.append(c)
            trans.append(nn.Sequential(BN(c), nn.ReLU(inplace=True),
                                       Conv(c, c // 2, 1, bias=False), Pool(2)))
            c //= 2
        self.enc = nn.ModuleList(enc)
        self.trans = nn.ModuleList(trans)
        self.bottleneck = DenseBlock(nd, c, block_sizes[-1], growth_rate)
        c = self.bottleneck.out_channels
        up, dec = [], []
        for n, cs in zip(reversed(block_sizes[:-1]), reversed(skip_ch)):
            up.append(ConvT(c, c // 2, 2, stride=2))
            block = DenseBlock(nd, cs + c // 2, n, growth_rate)
            dec.append(block)
            c = block.out_channels
        self.up = nn.ModuleList(up)
        self.dec = nn.ModuleList(dec)
        self.head = nn.Sequential(BN(c), nn.ReLU(inplace=True), Conv(c, num_classes, 1))

    def forward(self, x):
        x = self.stem(x)
        skips = []
        for block, trans in zip(self.enc, self.trans):
            x = block(x)
            skips.append(x)
            x = trans(x)
        x = self.bottleneck(x)
        for up, block, skip in zip(self.up, self.dec, reversed(skips)):
            x = block(F.cat([skip, up(x)], 1))
        x = self.head(x)
        if self.final == "softmax":
            return F.softmax(x, 1)
        if self.final == "sigmoid":
            return F.sigmoid(x)
        return x
