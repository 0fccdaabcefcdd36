"""Plain torch definitions of the medkern.models zoo, written independently of medkern, with the
same module names so state_dicts transfer. Used as the references in test_nn_models.py and
(for the plain-torch U-Net) to exercise medkern.compile's torch.fx import."""

import torch
import torch.nn as nn
import torch.nn.functional as F


def _layers(nd):
    if nd == 2:
        return nn.Conv2d, nn.ConvTranspose2d, nn.BatchNorm2d, nn.MaxPool2d, "bilinear"
    return nn.Conv3d, nn.ConvTranspose3d, nn.BatchNorm3d, nn.MaxPool3d, "trilinear"


class DoubleConv(nn.Module):
    def __init__(self, nd, cin, cout, bn):
        super().__init__()
        Conv, _, BN, _, _ = _layers(nd)
        layers = []
        for c in (cin, cout):
            layers.append(Conv(c, cout, 3, padding=1, bias=not bn))
            if bn:
                layers.append(BN(cout))
            layers.append(nn.ReLU(inplace=True))
        self.block = nn.Sequential(*layers)

    def forward(self, x):
        return self.block(x)


class UNet(nn.Module):
    def __init__(self, nd=2, in_channels=1, num_classes=2, depth=4, base_filters=32,
                 batch_norm=True, up_mode="conv", final="softmax"):
        super().__init__()
        Conv, ConvT, _, Pool, lin = _layers(nd)
        self.depth, self.final = depth, final
        ch = [base_filters * 2 ** i for i in range(depth + 1)]
        self.down = nn.ModuleList([DoubleConv(nd, in_channels if i == 0 else ch[i - 1], ch[i],
                                              batch_norm) for i in range(depth + 1)])
        self.pool = Pool(2)
        if up_mode == "conv":
            self.up = nn.ModuleList([ConvT(ch[i + 1], ch[i], 2, stride=2) for i in range(depth)])
        else:
            self.up = nn.ModuleList([nn.Sequential(
                nn.Upsample(scale_factor=2, mode=lin, align_corners=False),
                Conv(ch[i + 1], ch[i], 1)) for i in range(depth)])
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
            x = self.dec[i](torch.cat([skips[i], self.up[i](x)], 1))
        x = self.head(x)
        if self.final == "softmax":
            return torch.softmax(x, 1)
        if self.final == "sigmoid":
            return torch.sigmoid(x)
        return x


class Stage(nn.Module):
    def __init__(self, c, n, bn):
        super().__init__()
        layers = []
        for _ in range(n):
            layers.append(nn.Conv3d(c, c, 5, padding=2))
            if bn:
                layers.append(nn.BatchNorm3d(c))
            layers.append(nn.PReLU(c))
        self.convs = nn.Sequential(*layers)
        self.act = nn.PReLU(c)

    def forward(self, x):
        return self.act(self.convs(x) + x)


class VNet(nn.Module):
    def __init__(self, in_channels=1, num_classes=2, depth=4, base_filters=16, batch_norm=False,
                 final="softmax"):
        super().__init__()
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
            x = self.dec[i](torch.cat([self.up[i](x), skips[i]], 1))
        x = self.head(x)
        return torch.softmax(x, 1) if self.final == "softmax" else x


class DenseLayer(nn.Module):
    def __init__(self, nd, cin, g):
        super().__init__()
        Conv, _, BN, _, _ = _layers(nd)
        self.norm = BN(cin)
        self.relu = nn.ReLU(inplace=True)
        self.conv = Conv(cin, g, 3, padding=1, bias=False)

    def forward(self, x):
        return self.conv(self.relu(self.norm(x)))


class DenseBlock(nn.Module):
    def __init__(self, nd, cin, n, g):
        super().__init__()
        self.layers = nn.ModuleList([DenseLayer(nd, cin + i * g, g) for i in range(n)])
        self.out_channels = cin + n * g

    def forward(self, x):
        for layer in self.layers:
            x = torch.cat([x, layer(x)], 1)
        return x


class DenseUNet(nn.Module):
    def __init__(self, nd=2, in_channels=1, num_classes=2, growth_rate=12,
                 block_sizes=(3, 3, 3, 3), init_filters=24, final="softmax"):
        super().__init__()
        Conv, ConvT, BN, Pool, _ = _layers(nd)
        self.stem = Conv(in_channels, init_filters, 3, padding=1, bias=False)
        c = init_filters
        enc, trans, skip_ch = [], [], []
        for n in block_sizes[:-1]:
            b = DenseBlock(nd, c, n, growth_rate)
            enc.append(b)
            c = b.out_channels
            skip_ch.append(c)
            trans.append(nn.Sequential(BN(c), nn.ReLU(inplace=True), Conv(c, c // 2, 1, bias=False),
                                       Pool(2)))
            c //= 2
        self.enc, self.trans = nn.ModuleList(enc), nn.ModuleList(trans)
        self.bottleneck = DenseBlock(nd, c, block_sizes[-1], growth_rate)
        c = self.bottleneck.out_channels
        up, dec = [], []
        for n, cs in zip(reversed(block_sizes[:-1]), reversed(skip_ch)):
            up.append(ConvT(c, c // 2, 2, stride=2))
            b = DenseBlock(nd, cs + c // 2, n, growth_rate)
            dec.append(b)
            c = b.out_channels
        self.up, self.dec = nn.ModuleList(up), nn.ModuleList(dec)
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
            x = block(torch.cat([skip, up(x)], 1))
        return torch.softmax(self.head(x), 1)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """torchvision.models.ResNet's structure and names."""

    def __init__(self, block, layers, num_classes=1000):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], 2)
        self.layer3 = self._make_layer(block, 256, layers[2], 2)
        self.layer4 = self._make_layer(block, 512, layers[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

    def _make_layer(self, block, planes, blocks, stride=1):
        ds = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            ds = nn.Sequential(nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride,
                                         bias=False), nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, ds)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet(depth, **kw):
    cfg = {18: (BasicBlock, [2, 2, 2, 2]), 34: (BasicBlock, [3, 4, 6, 3]),
           50: (Bottleneck, [3, 4, 6, 3]), 101: (Bottleneck, [3, 4, 23, 3])}[depth]
    return ResNet(*cfg, **kw)


class MCNN(nn.Module):
    def __init__(self, in_channels=3, num_classes=10, scales=7, channels=(16, 32, 64)):
        super().__init__()
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
        outs = []
        for s, branch in enumerate(self.branches):
            xs = x if s == 0 else F.interpolate(x, scale_factor=0.5 ** s, mode="bilinear",
                                                align_corners=False)
            outs.append(branch(xs))
        x = self.final(torch.cat(outs, 1))
        return torch.softmax(torch.flatten(self.pool(x), 1), 1)


class PlainUNet(nn.Module):
    """A U-Net as people write it in plain torch: own blocks, functional activations,
    torch.cat skips, F.interpolate up-sampling to the skip's size, a residual add."""

    def __init__(self, cin=1, classes=3, base=8):
        super().__init__()

        def block(a, b):
            return nn.Sequential(nn.Conv2d(a, b, 3, padding=1, bias=False), nn.BatchNorm2d(b),
                                 nn.LeakyReLU(0.1), nn.Conv2d(b, b, 3, padding=1))
        self.e1, self.e2, self.e3 = block(cin, base), block(base, 2 * base), block(2 * base, 4 * base)
        self.skip3 = nn.Conv2d(2 * base, 4 * base, 1)
        self.d2 = block(6 * base, 2 * base)
        self.d1 = block(3 * base, base)
        self.out = nn.Conv2d(base, classes, 1)
        self.drop = nn.Dropout(0.2)

    def forward(self, x):
        e1 = F.relu(self.e1(x))
        e2 = F.relu(self.e2(F.max_pool2d(e1, 2)))
        p = F.avg_pool2d(e2, 2)
        e3 = self.e3(p) + self.skip3(p)
        e3 = torch.sigmoid(e3) * e3
        u2 = F.interpolate(e3, size=e2.shape[2:], mode="bilinear", align_corners=False)
        d2 = F.relu(self.d2(torch.cat([e2, u2], dim=1)))
        u1 = F.interpolate(d2, scale_factor=2, mode="nearest")
        d1 = F.gelu(self.d1(torch.cat((e1, u1), 1)))
        y = self.out(self.drop(d1))
        n = y.size(0)
        return F.softmax(y.view(n, y.shape[1], -1), dim=1).reshape(y.shape)


def randomize_bn(model, seed=0):
    """Non-trivial batch-norm statistics and affine parameters (fresh modules have identity)."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm2d, nn.BatchNorm3d)):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(c, generator=g) * 0.5 + 0.75)
            m.weight.data.copy_(torch.rand(c, generator=g) * 0.5 + 0.75)
            m.bias.data.copy_(torch.randn(c, generator=g) * 0.1)
        if isinstance(m, nn.PReLU):
            m.weight.data.copy_(torch.rand(m.weight.shape, generator=g) * 0.3)
    return model.eval()
