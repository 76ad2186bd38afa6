"""Super-resolution architectures: shapes, parameter counts, and the equivalences their docstrings claim."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from bench.models import build_model
from bench.models.interp_arch import MatlabBicubicUpsampler
from bench.models.layers import LumaSR, UpsamplerKind, rgb_to_ycbcr, upsampler, ycbcr_to_rgb
from bench.models.sr_arch import FSRCNN
from bench.models.subpixel import SubpixelConvTranspose2d
from bench.runtime.complexity import count_complexity

SR = ("fsrcnn", "fsrcnn-list", "espcn", "edsr-baseline", "edsr-dsconv", "edsr-resize-list", "edsr-list", "wdsr-b")
SMALL = {"edsr-baseline": {"n_resblocks": 1, "n_feats": 16}, "edsr-dsconv": {"n_resblocks": 1, "n_feats": 16},
         "edsr-resize-list": {"n_resblocks": 1, "n_feats": 16}, "edsr-list": {"n_resblocks": 1, "n_feats": 16},
         "wdsr-b": {"n_resblocks": 1}}  # fmt: skip


def params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("name", SR)
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_sr_output_is_scale_times_the_input(name: str, scale: int) -> None:
    model = build_model(name, SMALL.get(name, {}), {"scale": scale}).eval()
    with torch.no_grad():
        assert model(torch.rand(2, 3, 7, 9)).shape == (2, 3, 7 * scale, 9 * scale)


@pytest.mark.parametrize(
    ("name", "args", "expected"),
    [
        ("fsrcnn", {}, 10_292),  # Y, conv3x3 + PixelShuffle upsampler
        ("fsrcnn", {"upsample": "deconv"}, 12_809),  # the paper's 9x9 deconv (12.5K weights+biases + PReLU)
        ("fsrcnn", {"upsample": "deconv-subpixel"}, 12_809),  # the same layer's parameters
        ("fsrcnn", {"colour": "rgb"}, 17_132),
        ("fsrcnn-list", {}, 5_528),
        ("espcn", {}, 21_284),
        ("edsr-baseline", {}, 1_369_859),  # EDSR-PyTorch's EDSR-baseline x2
        ("edsr-baseline", {"scale": 3}, 1_554_499),
        ("edsr-baseline", {"scale": 4}, 1_517_571),
        ("edsr-dsconv", {}, 1_239_427),
        ("edsr-resize-list", {}, 1_224_435),
        ("edsr-list", {}, 115_955),  # 32 LIST(64, 64) of 2,288 + head, body conv, resize-LIST, tail
        ("wdsr-b", {}, 299_564),
    ],
)
def test_parameter_counts(name: str, args: dict[str, object], expected: int) -> None:
    merged = {"scale": 2, **args}
    assert params(build_model(name, merged, {})) == expected


def test_fsrcnn_deconv_equals_the_padded_transposed_conv_that_does_not_convert() -> None:
    torch.manual_seed(0)
    for scale in (2, 3, 4):
        model = FSRCNN(scale, channels=1, upsample="deconv").eval()
        reference = nn.ConvTranspose2d(56, 1, 9, stride=scale, padding=4, output_padding=scale - 1)
        assert isinstance(model.up, nn.ConvTranspose2d)
        reference.load_state_dict(model.up.state_dict())
        x = torch.rand(1, 1, 6, 7)
        with torch.no_grad():
            torch.testing.assert_close(model(x), reference(model.body(x - 0.5)) + 0.5)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_subpixel_deconv_is_torchs_transposed_conv_with_the_same_weights(scale: int) -> None:
    torch.manual_seed(scale)
    reference = nn.ConvTranspose2d(5, 2, 9, stride=scale)  # torch's own kernel, not the gathered weights
    subpixel = SubpixelConvTranspose2d(5, 2, 9, scale, crop=4)
    assert subpixel.state_dict().keys() == reference.state_dict().keys()
    with torch.no_grad():
        reference.weight.normal_(0.0, 0.3)
        reference.bias.normal_(0.0, 0.3)
        subpixel.load_state_dict(reference.state_dict())
        x = torch.randn(2, 5, 6, 7)
        expected = reference(x)[:, :, 4 : 4 + 6 * scale, 4 : 4 + 7 * scale]
        torch.testing.assert_close(subpixel(x), expected, rtol=0, atol=1e-5)
    assert tuple(subpixel.conv_weight().shape[:2]) == (2 * scale * scale, 5)


def test_fsrcnn_deconv_subpixel_takes_deconv_weights_and_initialises_the_same() -> None:
    torch.manual_seed(0)
    deconv = build_model("fsrcnn", {"upsample": "deconv"}, {"scale": 2}).eval()
    torch.manual_seed(0)
    subpixel = build_model("fsrcnn", {"upsample": "deconv-subpixel"}, {"scale": 2}).eval()
    for key, value in deconv.state_dict().items():  # paper_init draws the same numbers in the same order
        assert torch.equal(subpixel.state_dict()[key], value), key
    with torch.no_grad():
        for parameter in deconv.parameters():
            parameter.normal_(0.0, 0.2)
        subpixel.load_state_dict(deconv.state_dict())
        x = torch.rand(1, 3, 11, 13)
        torch.testing.assert_close(subpixel(x), deconv(x), rtol=0, atol=1e-5)


def test_ycbcr_is_matlab_and_inverts_exactly() -> None:
    rgb = torch.rand(1, 3, 5, 5, dtype=torch.float32)
    ycc = rgb_to_ycbcr()(rgb)
    r, g, b = rgb[:, 0], rgb[:, 1], rgb[:, 2]
    torch.testing.assert_close(ycc[:, 0], (16 + 65.481 * r + 128.553 * g + 24.966 * b) / 255)
    torch.testing.assert_close(ycbcr_to_rgb()(ycc), rgb, atol=2e-6, rtol=0)
    assert not any(True for _ in rgb_to_ycbcr().parameters())  # fixed constants, not weights


def test_luma_path_with_a_bicubic_network_is_bicubic() -> None:
    """LumaSR(bicubic on Y) = bicubic on RGB: the colour path adds nothing of its own."""
    x = torch.rand(1, 3, 10, 12)
    luma = LumaSR(MatlabBicubicUpsampler(3, channels=1), 3)
    torch.testing.assert_close(luma(x), MatlabBicubicUpsampler(3)(x), atol=2e-6, rtol=0)


def test_upsampler_study_costs() -> None:
    """Lahiri et al.'s x2 comparison: dsconv + shuffle and bilinear + LIST cost about the same, far below the conv."""
    kinds: tuple[UpsamplerKind, ...] = ("conv", "dsconv", "resize-list")
    macs = {kind: count_complexity(upsampler(kind, 64, 2), (1, 64, 32, 32)).macs or 0 for kind in kinds}
    counts = {kind: params(upsampler(kind, 64, 2)) for kind in kinds}
    assert counts == {"conv": 147_712, "dsconv": 17_280, "resize-list": 2_288}
    assert macs["dsconv"] < macs["conv"] / 5 and macs["resize-list"] < macs["conv"] / 5
    assert 0.5 < macs["dsconv"] / macs["resize-list"] < 2.0


def test_bad_arguments_are_value_errors() -> None:
    with pytest.raises(ValueError, match="scale must be 2, 3 or 4"):
        build_model("edsr-baseline", {}, {"scale": 5})
    with pytest.raises(ValueError, match="unknown upsample"):
        build_model("fsrcnn", {"upsample": "nearest"}, {"scale": 2})
    with pytest.raises(ValueError, match="unknown colour"):
        build_model("espcn", {"colour": "lab"}, {"scale": 2})
    with pytest.raises(ValueError, match="needs 'scale'"):
        build_model("wdsr-b", {}, {})
