"""Every registered reference architecture converts to TFLite with litert-torch, within 1e-4 of PyTorch.

Small configurations and inputs keep the file quick (the time is mostly litert-torch's fixed cost
per conversion). Odd sizes exercise the U-Nets' reflect padding; weights are re-drawn larger than
PyTorch's defaults so that an op the converter gets wrong shows up in the error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from bench.models import MODELS, build_model
from bench.models.subpixel import SubpixelConvTranspose2d
from bench.runtime.convert import to_tflite

CASES: dict[str, tuple[dict[str, Any], tuple[int, int, int, int]]] = {
    "fsrcnn": ({"scale": 2, "m": 1}, (1, 3, 10, 12)),
    "fsrcnn-list": ({"scale": 3, "m": 1}, (1, 3, 10, 12)),
    "fsrcnn[deconv-subpixel]": ({"scale": 3, "m": 1, "upsample": "deconv-subpixel"}, (1, 3, 10, 12)),
    "espcn": ({"scale": 2}, (1, 3, 10, 12)),
    "edsr-baseline": ({"scale": 4, "n_resblocks": 1, "n_feats": 16}, (1, 3, 10, 12)),
    "edsr-dsconv": ({"scale": 2, "n_resblocks": 1, "n_feats": 16}, (1, 3, 10, 12)),
    "edsr-resize-list": ({"scale": 2, "n_resblocks": 1, "n_feats": 16}, (1, 3, 10, 12)),
    "edsr-list": ({"scale": 2, "n_resblocks": 1, "n_feats": 16}, (1, 3, 10, 12)),
    "pruned": (
        {
            "base": {"name": "edsr-baseline", "args": {"scale": 2, "n_resblocks": 1, "n_feats": 16}},
            "layers": {"body.0.body.0": [8, 16], "body.0.body.2": [16, 8]},
        },
        (1, 3, 10, 12),
    ),
    "wdsr-b": ({"scale": 3, "n_resblocks": 1, "n_feats": 16}, (1, 3, 10, 12)),
    "nas-sr": (
        {
            "scale": 2,
            "width": 8,
            "cells": [{"block": "edsr"}, {"block": "wdsr-a", "inner": 8}, {"block": "wdsr-b"}, {"block": "identity"}],
        },
        (1, 3, 10, 12),
    ),
    "dncnn": ({"num_layers": 4, "features": 16}, (1, 3, 16, 16)),
    "dncnn-list": ({"num_layers": 4, "features": 16}, (1, 3, 16, 16)),
    "unet-mobile": ({"width": 8, "levels": 3, "blocks": 1}, (1, 3, 18, 22)),
    "unet-mobile-list": ({"width": 8, "levels": 2, "blocks": 1}, (1, 3, 16, 16)),
    "unet-portable": (
        {"width": 8, "levels": 3, "down": "space-to-depth", "up": "bilinear", "skip": "concat", "act": "prelu"},
        (1, 3, 18, 22),
    ),
    "sid-unet": ({"width": 4, "levels": 3}, (1, 4, 16, 16)),
    "sid-unet-srgb": ({"width": 4, "levels": 3}, (1, 3, 30, 26)),
    "inpaint-dilated": ({"width": 8, "dilations": [2, 4]}, (1, 4, 18, 18)),
    "inpaint-dilated-list": ({"width": 8, "dilations": [2, 4]}, (1, 4, 16, 16)),
}
PARAMETER_FREE = {"bicubic", "identity"}  # converted in test_convert.py


def test_every_registered_architecture_has_a_conversion_case() -> None:
    shipped = {name for name, spec in MODELS.items() if spec.factory.__module__.startswith("bench.models.")}
    # (other tests register throwaway architectures; "name[variant]" cases convert other arguments)
    assert shipped - PARAMETER_FREE == {case.split("[")[0] for case in CASES}


@pytest.mark.parametrize("name", sorted(CASES))
def test_converts_to_tflite_exactly(name: str, tmp_path: Path) -> None:
    args, shape = CASES[name]
    torch.manual_seed(0)
    model = build_model(name.split("[")[0], args, {}).eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Conv2d | nn.ConvTranspose2d | SubpixelConvTranspose2d):
                module.weight.normal_(0.0, 0.15)
            elif isinstance(module, nn.BatchNorm2d):  # non-trivial statistics, folded by the converter
                assert module.running_mean is not None and module.running_var is not None
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 2.0)
    report = to_tflite(model, shape, tmp_path / f"{name}.tflite")
    assert report.max_abs_error < 1e-4
    assert "TRANSPOSE_CONV" not in report.ops  # the defaults avoid XNNPACK's slow path
