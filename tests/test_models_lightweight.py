"""The lightweight modules of Lahiri et al. (LIST, GSAT, ResizeLIST, depthwise-separable conv) and their counts."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from bench.models import build_model
from bench.models.lightweight import GSAT, LIST, ConvKind, DepthwiseSeparableConv, ResizeLIST, channel_shuffle, conv3x3


def params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_list_replaces_a_3x3_conv_with_about_16x_fewer_parameters() -> None:
    layer = LIST(64, 64)
    # squeeze 64*16+16, 1x1 branch 16*32+32, depthwise 16*9+16, pointwise 16*32+32
    assert params(layer) == 1040 + 544 + 160 + 544 == 2288
    assert params(nn.Conv2d(64, 64, 3)) / params(layer) == pytest.approx(16.14, abs=0.01)
    weights = sum(p.numel() for name, p in layer.named_parameters() if name.endswith("weight"))
    assert 64 * 64 * 9 / weights == pytest.approx(16.8, abs=0.05)  # the paper's "16.8x fewer weights"
    x = torch.rand(2, 64, 9, 11)
    assert layer(x).shape == (2, 64, 9, 11)
    assert LIST(32, 16)(torch.rand(1, 32, 5, 5)).shape == (1, 16, 5, 5)


def test_list_rejects_channel_counts_it_cannot_split() -> None:
    with pytest.raises(ValueError, match="divisible by 4"):
        LIST(6, 8)
    with pytest.raises(ValueError, match="even"):
        LIST(8, 3)


def test_dncnn_counts_match_the_paper_and_list_is_over_10x_smaller() -> None:
    grey, grey_list = build_model("dncnn", {"channels": 1}, {}), build_model("dncnn-list", {"channels": 1}, {})
    assert params(grey) == 556_032  # Lahiri et al.: DnCNN 556,032
    assert params(grey_list) == 37_392  # Lahiri et al.: with LIST 37,392
    colour, colour_list = build_model("dncnn", {}, {}), build_model("dncnn-list", {}, {})
    assert (params(colour), params(colour_list)) == (558_336, 39_696)
    assert params(colour) / params(colour_list) >= 10
    assert params(grey) / params(grey_list) == pytest.approx(14.87, abs=0.01)


def test_gsat_counts_shape_and_residual() -> None:
    block = GSAT(64, dilation=4, groups=8).eval()  # eval: the BN keeps its initial statistics
    assert params(block) == (9 * 64 * 64 // 8 + 64) + (64 * 64 // 8 + 64) + 2 * 64
    x = torch.rand(1, 64, 12, 12)
    assert block(x).shape == x.shape
    for conv in (block.dilated, block.pointwise):
        nn.init.zeros_(conv.weight)
        assert conv.bias is not None
        nn.init.zeros_(conv.bias)
    torch.testing.assert_close(block(x - 0.5), torch.relu(x - 0.5))  # zero branch: ReLU(x + 0)
    with pytest.raises(ValueError, match="divisible by groups"):
        GSAT(12, dilation=2, groups=8)


def test_channel_shuffle_interleaves_the_groups() -> None:
    x = torch.arange(6.0).reshape(1, 6, 1, 1)
    assert channel_shuffle(x, 2).flatten().tolist() == [0, 3, 1, 4, 2, 5]
    assert channel_shuffle(x, 3).flatten().tolist() == [0, 2, 4, 1, 3, 5]


def test_resize_list_up_and_down() -> None:
    x = torch.rand(1, 16, 8, 12)
    assert ResizeLIST(16, 32, 2.0)(x).shape == (1, 32, 16, 24)
    assert ResizeLIST(16, 8, 0.5)(x).shape == (1, 8, 4, 6)
    down = ResizeLIST(16, 16, 0.5)
    torch.testing.assert_close(  # bilinear x0.5 with half-pixel centres = 2x2 average
        nn.functional.interpolate(x, size=(4, 6), mode="bilinear", align_corners=False),
        nn.functional.avg_pool2d(x, 2),
    )
    assert params(down) == params(LIST(16, 16))


def test_depthwise_separable_and_conv3x3_kinds() -> None:
    assert params(DepthwiseSeparableConv(32, 128)) == 32 * 9 + 32 + 32 * 128 + 128
    x = torch.rand(1, 8, 6, 6)
    kinds: tuple[ConvKind, ...] = ("conv", "list", "dsconv")
    for kind in kinds:
        assert conv3x3(8, 8, kind)(x).shape == x.shape
    with pytest.raises(ValueError, match="unknown conv kind"):
        conv3x3(8, 8, "sep")  # type: ignore[arg-type]
