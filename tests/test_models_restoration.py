"""Deblurring, denoising, low-light and inpainting architectures: I/O contracts, counts, equivalences."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from bench.data.degradations import free_form_mask, masked_input
from bench.models import build_model
from bench.models.lowlight_arch import SIDUNet


def params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize(
    ("name", "args", "expected"),
    [
        ("unet-mobile", {}, 630_483),
        ("unet-mobile", {"up": "bilinear"}, 597_891),
        ("unet-mobile-list", {}, 44_015),
        ("sid-unet", {"up": "deconv"}, 7_760_748),  # Chen et al.'s network: 7.76 M
        ("sid-unet", {}, 7_762_188),  # 1x1 conv + depth-to-space: 3 C more biases per up-sampler
        ("sid-unet-srgb", {}, 7_764_492),
        ("inpaint-dilated", {}, 1_106_403),
        ("inpaint-dilated-list", {}, 123_219),
    ],
)
def test_parameter_counts(name: str, args: dict[str, object], expected: int) -> None:
    assert params(build_model(name, args, {})) == expected


@pytest.mark.parametrize("name", ["unet-mobile", "unet-mobile-list"])
@pytest.mark.parametrize("size", [(32, 32), (37, 53)])
def test_deblur_unet_keeps_any_size(name: str, size: tuple[int, int]) -> None:
    model = build_model(name, {"width": 8}, {}).eval()
    with torch.no_grad():
        assert model(torch.rand(1, 3, *size)).shape == (1, 3, *size)


def test_deblur_unet_is_residual() -> None:
    model = build_model("unet-mobile", {"width": 8, "levels": 3}, {}).eval()
    tail = model.get_submodule("tail")
    assert isinstance(tail, nn.Conv2d) and tail.bias is not None
    nn.init.zeros_(tail.weight)
    nn.init.zeros_(tail.bias)
    x = torch.rand(1, 3, 20, 28)
    with torch.no_grad():
        torch.testing.assert_close(model(x), x)


def test_dncnn_predicts_the_noise() -> None:
    for name in ("dncnn", "dncnn-list"):
        model = build_model(name, {"num_layers": 5, "features": 16}, {}).eval()
        last = list(model.modules())[-1]
        assert isinstance(last, nn.Conv2d)
        nn.init.zeros_(last.weight)
        x = torch.rand(2, 3, 12, 12)
        with torch.no_grad():
            torch.testing.assert_close(model(x), x)  # zero noise estimate: output = input
    grey = build_model("dncnn", {"channels": 1, "num_layers": 3}, {}).eval()
    assert grey(torch.rand(1, 1, 9, 9)).shape == (1, 1, 9, 9)


@pytest.mark.parametrize("size", [(16, 16), (21, 30)])
def test_sid_unet_doubles_packed_raw_and_srgb_keeps_size(size: tuple[int, int]) -> None:
    raw, srgb = build_model("sid-unet", {"width": 4}, {}).eval(), build_model("sid-unet-srgb", {"width": 4}, {}).eval()
    with torch.no_grad():
        assert raw(torch.rand(1, 4, *size)).shape == (1, 3, 2 * size[0], 2 * size[1])
        assert srgb(torch.rand(1, 3, *size)).shape == (1, 3, *size)


def test_sid_pixelshuffle_up_equals_the_papers_2x2_transposed_conv() -> None:
    torch.manual_seed(0)
    deconv, shuffle = SIDUNet(width=4, levels=3, up="deconv").eval(), SIDUNet(width=4, levels=3).eval()
    state = deconv.state_dict()
    for i, up in enumerate(deconv.ups):
        assert isinstance(up, nn.ConvTranspose2d) and up.bias is not None
        weight, bias = up.weight.data, up.bias.data  # (C_in, C_out, 2, 2), (C_out,)
        c_in, c_out = weight.shape[:2]
        # PixelShuffle reads channel o*4 + a*2 + b as output channel o, offset (a, b)
        state.pop(f"ups.{i}.weight")
        state.pop(f"ups.{i}.bias")
        state[f"ups.{i}.0.weight"] = weight.permute(1, 2, 3, 0).reshape(c_out * 4, c_in, 1, 1)
        state[f"ups.{i}.0.bias"] = bias.repeat_interleave(4)
    shuffle.load_state_dict(state)
    x = torch.rand(1, 4, 16, 24)
    with torch.no_grad():
        torch.testing.assert_close(shuffle(x), deconv(x), atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("name", ["inpaint-dilated", "inpaint-dilated-list"])
def test_inpainting_takes_image_and_mask_and_keeps_known_pixels(name: str) -> None:
    rng = np.random.default_rng(0)
    clean = rng.integers(0, 256, (40, 44, 3), dtype=np.uint8)
    mask = free_form_mask(rng, 40, 44, strokes=2, max_width=8)
    x = torch.from_numpy(masked_input(clean, mask).transpose(2, 0, 1))[None]  # the tasks' 4-channel input
    model = build_model(name, {"width": 8}, {}).eval()
    with torch.no_grad():
        out = model(x)
    assert out.shape == (1, 3, 40, 44)
    known = torch.from_numpy(~mask)
    torch.testing.assert_close(out[0][:, known], x[0, :3][:, known])  # outside the holes: the input, exactly
    assert not torch.equal(out[0][:, ~known], x[0, :3][:, ~known])  # inside: the network's prediction
