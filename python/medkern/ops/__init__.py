"""Operators on numpy NCHW / NCDHW float32 arrays, with torch.nn.functional's names and
semantics: convolution (one-shot and prepacked), im2col / col2im.

Example
-------
>>> import numpy as np, medkern
>>> x = np.ones((1, 3, 8, 8), np.float32)
>>> w = np.ones((4, 3, 3, 3), np.float32)
>>> medkern.ops.conv2d(x, w, padding=1, post_ops=["relu"]).shape
(1, 4, 8, 8)
"""

from __future__ import annotations

from ._concat import cat, cat_blocked
from ._conv import (PackedConv, PackedConvTranspose, col2im, conv2d, conv3d, conv_transpose2d,
                    conv_transpose3d, im2col)
from ._pool import (adaptive_avg_pool2d, adaptive_avg_pool3d, avg_pool2d, avg_pool3d,
                    avg_pool_blocked, max_pool2d, max_pool3d, max_pool_blocked)
from ._resample import interpolate
from ._softmax import softmax

__all__ = ["conv2d", "conv3d", "PackedConv", "conv_transpose2d", "conv_transpose3d",
           "PackedConvTranspose", "im2col", "col2im"]
__all__ += ["max_pool2d", "max_pool3d", "avg_pool2d", "avg_pool3d", "adaptive_avg_pool2d",
            "adaptive_avg_pool3d", "max_pool_blocked", "avg_pool_blocked",
            "interpolate", "softmax", "cat", "cat_blocked"]
