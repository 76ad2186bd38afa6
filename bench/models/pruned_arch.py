"""``pruned``: a registered architecture with some layers made narrower, as structured pruning leaves it.

A pruned model is its base architecture with fewer channels in some layers, a real dense model,
not masks. The manifest stores the base (``{name, args}``) and the new size of every layer that
changed (``layers``: module name -> ``[out_channels, in_channels]`` for a conv or a transposed
conv, ``[features]`` for a batch norm or PReLU). The factory builds the base and swaps each listed
layer for a fresh one of the recorded size (a depthwise conv stays depthwise). Its safetensors
weights then load strictly.
The forward code of the base never depends on a channel count, so the narrower network runs as
it is: residual adds, concatenations and pixel shuffles see consistent widths because the pruner
cut coupled layers together.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from bench.models.registry import build_model, register_model
from bench.models.subpixel import SubpixelConvTranspose2d


def _resized(module: nn.Module, size: list[int]) -> nn.Module:
    if isinstance(module, nn.Conv2d):
        out_channels, in_channels = size
        depthwise = module.groups > 1 and module.groups == module.in_channels == module.out_channels
        if module.groups > 1 and not depthwise:
            raise ValueError(f"cannot resize a grouped conv with {module.groups} groups")
        return nn.Conv2d(
            in_channels, out_channels, module.kernel_size, module.stride, module.padding, module.dilation,  # type: ignore[arg-type]
            groups=out_channels if depthwise else 1, bias=module.bias is not None, padding_mode=module.padding_mode,
        )  # fmt: skip
    if isinstance(module, nn.ConvTranspose2d):
        if module.groups > 1:
            raise ValueError(f"cannot resize a grouped transposed conv with {module.groups} groups")
        out_channels, in_channels = size
        return nn.ConvTranspose2d(
            in_channels, out_channels, module.kernel_size, module.stride, module.padding,  # type: ignore[arg-type]
            module.output_padding, bias=module.bias is not None, dilation=module.dilation,  # type: ignore[arg-type]
        )  # fmt: skip
    if isinstance(module, SubpixelConvTranspose2d):
        out_channels, in_channels = size
        return SubpixelConvTranspose2d(in_channels, out_channels, module.kernel, module.stride, module.crop)
    if isinstance(module, nn.BatchNorm2d):
        return nn.BatchNorm2d(size[0], module.eps, module.momentum, module.affine, module.track_running_stats)
    if isinstance(module, nn.PReLU):
        return nn.PReLU(size[0])
    raise ValueError(f"cannot resize a {type(module).__name__}")


def layer_sizes(model: nn.Module) -> dict[str, list[int]]:
    """The resizable layers' sizes: conv and transposed conv ``[out, in]``, batch norm / PReLU ``[features]``."""
    sizes: dict[str, list[int]] = {}
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d | nn.ConvTranspose2d):
            sizes[name] = [module.out_channels, module.in_channels]
        elif isinstance(module, SubpixelConvTranspose2d):  # weight: C_in x C_out x k x k
            sizes[name] = [module.weight.shape[1], module.weight.shape[0]]
        elif isinstance(module, nn.BatchNorm2d):
            sizes[name] = [module.num_features]
        elif isinstance(module, nn.PReLU):
            sizes[name] = [module.num_parameters]
    return sizes


def changed_layers(base: nn.Module, pruned: nn.Module) -> dict[str, list[int]]:
    """The layers of ``pruned`` whose size differs from ``base``: what the manifest records."""
    before = layer_sizes(base)
    return {name: size for name, size in layer_sizes(pruned).items() if before.get(name) != size}


def apply_layer_sizes(model: nn.Module, layers: dict[str, list[int]]) -> nn.Module:
    """Swap each named layer of ``model`` for a fresh one of the given size (in place; returns ``model``)."""
    modules = dict(model.named_modules())
    for name, size in layers.items():
        if name not in modules or not name:
            raise ValueError(f"the base architecture has no layer {name!r}")
        parent_name, _, child = name.rpartition(".")
        setattr(modules[parent_name], child, _resized(modules[name], list(size)))
    return model


@register_model(
    "pruned",
    test_args={
        "base": {"name": "edsr-baseline", "args": {"scale": 2, "n_resblocks": 1, "n_feats": 16}},
        "layers": {"body.0.body.0": [8, 16], "body.0.body.2": [16, 8]},
    },
)
def pruned(base: dict[str, Any], layers: dict[str, list[int]]) -> nn.Module:
    """A registered architecture with narrower layers (bench optimize prune): base {name, args} + layer sizes."""
    if not isinstance(base, dict) or "name" not in base:
        raise ValueError("pruned needs base: {name: ARCHITECTURE, args: {...}} with the full arguments")
    if base["name"] == "pruned":
        raise ValueError("the base of a pruned architecture is the original architecture, not another pruned one")
    model = build_model(str(base["name"]), dict(base.get("args") or {}), {})
    return apply_layer_sizes(model, layers)
