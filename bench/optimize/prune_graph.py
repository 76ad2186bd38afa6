"""torch-pruning's dependency graph of a bench model, with the layers it cannot trace by itself as leaves.

Two kinds of module get a layer pruner of their own (``customized_pruners``), so that torch-pruning
treats them as leaves with known channel counts instead of tracing inside:

* pixel (un)shuffles, as boundaries with their traced channel counts (:func:`_shuffle_boundary`);
* :class:`~bench.models.subpixel.SubpixelConvTranspose2d`, pruned as the transposed conv it is
  (:func:`_subpixel_pruner`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from bench.models.subpixel import SubpixelConvTranspose2d

SHUFFLES = (nn.PixelShuffle, nn.PixelUnshuffle)


def _shuffle_boundary(channels: dict[nn.Module, tuple[int, int]]) -> Any:
    """A torch-pruning layer pruner for pixel (un)shuffles: a boundary with the true channel counts.

    Left to itself, torch-pruning treats a pixel shuffle as an element-wise op, so it believes the
    shuffle has as many output channels as input (r^2 times too many). A U-Net that concatenates an
    upsampler's shuffled output with a skip then gets no concat offsets, and the skip's channels
    are coupled to the upsampler's, which must stay whole: no skip could be pruned. This pruner
    reports ``in`` and ``out`` as traced (``channels``: module -> (in, out)) and has no intra-layer
    dependency; a cut through a shuffle is refused (its modules are also passed as ignored layers,
    so no such group is planned)."""
    import torch_pruning as tp

    class ShuffleBoundary(tp.pruner.BasePruningFunc):
        TARGET_MODULES = SHUFFLES

        def prune_out_channels(self, layer: nn.Module, idxs: Any) -> nn.Module:
            raise RuntimeError(f"a pixel-shuffle group stays whole; cannot cut {len(idxs)} channels through it")

        def prune_in_channels(self, layer: nn.Module, idxs: Any) -> nn.Module:
            raise RuntimeError(f"a pixel-shuffle group stays whole; cannot cut {len(idxs)} channels through it")

        def get_out_channels(self, layer: nn.Module) -> int:
            return channels[layer][1]

        def get_in_channels(self, layer: nn.Module) -> int:
            return channels[layer][0]

    return ShuffleBoundary()


def dependency_graph(model: nn.Module, example: torch.Tensor) -> Any:
    """torch-pruning's dependency graph of ``model`` traced on ``example``, pixel (un)shuffles as boundaries."""
    import torch_pruning as tp

    channels: dict[nn.Module, tuple[int, int]] = {}

    def record(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        channels[module] = (int(inputs[0].shape[1]), int(output.shape[1]))

    hooks = [m.register_forward_hook(record) for m in model.modules() if isinstance(m, SHUFFLES)]
    try:
        with torch.no_grad():
            model.eval()(example)
    finally:
        for hook in hooks:
            hook.remove()
    pruner = _shuffle_boundary(channels)
    pruners: dict[Any, Any] = {kind: pruner for kind in SHUFFLES} | {SubpixelConvTranspose2d: _subpixel_pruner()}
    return tp.DependencyGraph().build_dependency(model, example_inputs=example, customized_pruners=pruners)


def _subpixel_pruner() -> Any:
    """A torch-pruning layer pruner for :class:`SubpixelConvTranspose2d`, a leaf with ConvTranspose2d's parameters.

    Traced inside, its weight gather (a concat with a zero tap) defeats torch-pruning's index mapping;
    as a leaf it is pruned as a transposed conv: ``weight`` is ``C_in x C_out x k x k``."""
    import torch_pruning as tp

    def keep(size: int, idxs: Any) -> list[int]:
        dropped = set(int(i) for i in idxs)
        return [i for i in range(size) if i not in dropped]

    class SubpixelPruner(tp.pruner.BasePruningFunc):
        TARGET_MODULES = (SubpixelConvTranspose2d,)

        def prune_out_channels(self, layer: SubpixelConvTranspose2d, idxs: Any) -> nn.Module:
            kept = keep(layer.weight.shape[1], idxs)
            layer.weight = nn.Parameter(layer.weight.data[:, kept].clone())
            layer.bias = nn.Parameter(layer.bias.data[kept].clone())
            return layer

        def prune_in_channels(self, layer: SubpixelConvTranspose2d, idxs: Any) -> nn.Module:
            layer.weight = nn.Parameter(layer.weight.data[keep(layer.weight.shape[0], idxs)].clone())
            return layer

        def get_out_channels(self, layer: SubpixelConvTranspose2d) -> int:
            return layer.weight.shape[1]

        def get_in_channels(self, layer: SubpixelConvTranspose2d) -> int:
            return layer.weight.shape[0]

    return SubpixelPruner()
