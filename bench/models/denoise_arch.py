"""Denoising reference architectures: DnCNN (Zhang et al., TIP 2017) and its LIST variant.

DnCNN-S: conv 3x3 (C -> 64) + ReLU, 15 x [conv 3x3 (64 -> 64, no bias) + BN + ReLU], conv 3x3
(64 -> C); the network predicts the noise and the model returns ``input - noise`` (residual
learning). Parameters, 17 layers, 64 channels:

===================  =========  ===============================================
architecture         params     check
===================  =========  ===============================================
dncnn, grey (C=1)    556,032    = the paper's DnCNN count (Lahiri et al. Table)
dncnn, colour (C=3)  558,336
dncnn-list, grey     37,392     = the paper's LIST-DnCNN count: 14.9x fewer
dncnn-list, colour   39,696     14.1x fewer than colour DnCNN
===================  =========  ===============================================

The LIST layers keep their biases, which is how the authors' ``block.py`` counts reach 37,392.
"""

from __future__ import annotations

import torch
from torch import nn

from bench.models.lightweight import ConvKind, conv3x3
from bench.models.registry import register_model


class DnCNN(nn.Module):
    """DnCNN with ``num_layers`` layers of ``features`` channels; ``body`` picks the middle layers' kind."""

    def __init__(
        self, channels: int = 3, num_layers: int = 17, features: int = 64, body: ConvKind = "conv", bn: bool = True
    ) -> None:
        super().__init__()
        if num_layers < 3:
            raise ValueError(f"DnCNN needs at least 3 layers, got {num_layers}")
        self.channels = channels
        layers: list[nn.Module] = [nn.Conv2d(channels, features, 3, padding=1, bias=False), nn.ReLU()]
        for _ in range(num_layers - 2):
            layers.append(conv3x3(features, features, body, bias=False))
            if bn:
                layers.append(nn.BatchNorm2d(features))
            layers.append(nn.ReLU())
        layers.append(nn.Conv2d(features, channels, 3, padding=1, bias=False))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x - self.net(x)


@register_model("dncnn", test_args={"num_layers": 4, "features": 16}, test_shape=(1, 3, 16, 16))
def dncnn(channels: int = 3, num_layers: int = 17, features: int = 64, bn: bool = True) -> nn.Module:
    """DnCNN-S: 17 layers, 64 channels, BN, residual learning; colour in and out by default."""
    return DnCNN(channels, num_layers, features, "conv", bn)


@register_model("dncnn-list", test_args={"num_layers": 4, "features": 16}, test_shape=(1, 3, 16, 16))
def dncnn_list(channels: int = 3, num_layers: int = 17, features: int = 64, bn: bool = True) -> nn.Module:
    """DnCNN with every middle 3x3 conv replaced by a LIST layer (Lahiri et al.; 37,392 params grey)."""
    return DnCNN(channels, num_layers, features, "list", bn)
