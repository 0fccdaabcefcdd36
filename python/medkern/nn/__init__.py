"""Inference modules with torch.nn's names and semantics, on numpy float32 arrays.

``state_dict()`` / ``load_state_dict()`` use torch's keys, so weights move between a torch
model and the medkern model of the same structure. :func:`medkern.compile` turns a module (or
a ``torch.nn.Module``) into an optimized graph.

Example
-------
>>> import numpy as np
>>> from medkern import nn
>>> block = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())
>>> block(np.ones((1, 1, 8, 8), np.float32)).shape
(1, 4, 8, 8)
>>> list(block.state_dict())[:3]
['0.weight', '0.bias', '1.weight']
"""

from __future__ import annotations

from . import functional
from .modules import (
    ELU, GELU, AdaptiveAvgPool2d, AdaptiveAvgPool3d, AvgPool2d, AvgPool3d, BatchNorm2d,
    BatchNorm3d, Conv2d, Conv3d, ConvTranspose2d, ConvTranspose3d, Dropout, Dropout2d, Dropout3d,
    Flatten, Hardswish, Identity, LeakyReLU, Linear, MaxPool2d, MaxPool3d, Module, ModuleDict,
    ModuleList, PReLU, ReLU, ReLU6, Sequential, Sigmoid, Softmax, Tanh, Upsample, manual_seed)

__all__ = [
    "functional", "Module", "Sequential", "ModuleList", "ModuleDict", "Conv2d", "Conv3d",
    "ConvTranspose2d", "ConvTranspose3d", "BatchNorm2d", "BatchNorm3d", "ReLU", "ReLU6",
    "LeakyReLU", "PReLU", "ELU", "Sigmoid", "Tanh", "GELU", "Hardswish", "Softmax", "MaxPool2d",
    "MaxPool3d", "AvgPool2d", "AvgPool3d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "Upsample",
    "Dropout", "Dropout2d", "Dropout3d", "Identity", "Linear", "Flatten", "manual_seed",
]
