"""Model zoo on medkern.nn: U-Net 2-D/3-D, V-Net, Dense U-Net, ResNet, M-CNN.

Each model's ``state_dict()`` keys match the torch definition of the same structure, so
trained torch weights load with ``load_state_dict``.

Example
-------
>>> import numpy as np, medkern
>>> net = medkern.models.UNet2d(base_filters=4, depth=2)
>>> net(np.zeros((1, 1, 16, 16), np.float32)).shape
(1, 2, 16, 16)
"""

from __future__ import annotations

from .denseunet import DenseUNet
from .mcnn import MCNN
from .resnet import ResNet, resnet18, resnet34, resnet50, resnet101
from .unet import UNet, UNet2d, UNet3d
from .vnet import VNet

__all__ = ["UNet", "UNet2d", "UNet3d", "VNet", "DenseUNet", "ResNet", "resnet18", "resnet34",
           "resnet50", "resnet101", "MCNN"]
