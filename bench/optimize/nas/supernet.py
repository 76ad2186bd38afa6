"""The weight-sharing supernet: every candidate of a :class:`SearchSpace` is a path through one set of weights.

Each cell holds one full-size copy of every block (EDSR, WDSR-A, WDSR-B) at the largest trunk
width; a candidate uses the first ``width`` trunk channels and the first ``k`` channels of each
internal layer (filter pruning keeps a prefix, so narrower paths share the weights of wider
ones, as in once-for-all training). Training samples one path per step, uniformly (single-path
training), so every path learns. A sampled path also carries pattern and block masks (each layer
that allows one gets one with probability ``sparse_share``, at a random ratio), computed from the
current weights at every step, so the weights the search scores under a mask were trained under
masks too; :meth:`SuperNet.extract` copies a path out as a dense ``nas-sr`` model, with
pattern/block masks attached as fixed parametrizations.
"""

from __future__ import annotations

import random

import torch
import torch.nn.functional as F
from torch import nn

from bench.models.nas_arch import NasSR, nearest_weight, wdsr_low
from bench.optimize.nas.schemes import attach_mask, scheme_mask
from bench.optimize.nas.space import CELL_LAYERS, RATIOS, Candidate, CellChoice, SearchSpace, layer_menu


def bias_of(conv: nn.Conv2d) -> torch.Tensor:
    """The bias of a conv built with one (every conv here is)."""
    assert conv.bias is not None
    return conv.bias


class SuperCell(nn.Module):
    """All blocks of one cell at full size: ``edsr``, ``wdsr-a`` and ``wdsr-b`` convs, sliced per path."""

    def __init__(self, width: int) -> None:
        super().__init__()
        low = wdsr_low(width)
        self.blocks = nn.ModuleDict({
            "edsr": nn.ModuleDict({"conv1": nn.Conv2d(width, width, 3, padding=1),
                                   "conv2": nn.Conv2d(width, width, 3, padding=1)}),
            "wdsr-a": nn.ModuleDict({"conv1": nn.Conv2d(width, 2 * width, 3, padding=1),
                                     "conv2": nn.Conv2d(2 * width, width, 3, padding=1)}),
            "wdsr-b": nn.ModuleDict({"conv1": nn.Conv2d(width, 4 * width, 1), "conv2": nn.Conv2d(4 * width, low, 1),
                                     "conv3": nn.Conv2d(low, width, 3, padding=1)}),
        })  # fmt: skip

    def slices(self, choice: CellChoice, width: int) -> list[tuple[nn.Conv2d, int, int]]:
        """(conv, output channels, input channels) of each layer of ``choice`` at trunk ``width``."""
        if choice.block == "identity":
            return []
        convs = {name: conv for name, conv in self.blocks[choice.block].named_children() if isinstance(conv, nn.Conv2d)}
        channels = (width, *choice.widths(width), width)
        return [(convs[layer.name], channels[i + 1], channels[i]) for i, layer in enumerate(CELL_LAYERS[choice.block])]

    def forward(self, x: torch.Tensor, choice: CellChoice, width: int, masked: bool) -> torch.Tensor:
        if choice.block == "identity":
            return x
        h = x
        layers = self.slices(choice, width)
        for i, ((conv, out_ch, in_ch), scheme, ratio) in enumerate(
            zip(layers, choice.schemes, choice.ratios, strict=True)
        ):
            weight = conv.weight[:out_ch, :in_ch]
            if masked and scheme in ("pattern", "block"):
                weight = weight * scheme_mask(weight, scheme, ratio)
            h = F.conv2d(h, weight, bias_of(conv)[:out_ch], padding=conv.padding)
            if i == 0:
                h = F.relu(h)
        return x + h


class SuperNet(nn.Module):
    """Head conv, ``space.cells`` super cells, sub-pixel output: the ``nas-sr`` family at its widest."""

    def __init__(self, space: SearchSpace, scale: int) -> None:
        super().__init__()
        self.space, self.scale = space, scale
        width = space.max_width
        self.head = nn.Conv2d(3, width, 3, padding=1)
        self.cells = nn.ModuleList(SuperCell(width) for _ in range(space.cells))
        self.out = nn.Conv2d(width, 3 * scale * scale, 3, padding=1)
        self.register_buffer("skip", nearest_weight(scale), persistent=False)

    def forward(self, x: torch.Tensor, candidate: Candidate, masked: bool = True) -> torch.Tensor:
        w = candidate.width
        h = F.conv2d(x, self.head.weight[:w], bias_of(self.head)[:w], padding=1)
        for cell, choice in zip(self.cells, candidate.cells, strict=True):
            h = cell(h, choice, w, masked)
        skip: torch.Tensor = self.skip  # type: ignore[assignment]  # a registered buffer
        y = F.conv2d(h, self.out.weight[:, :w], self.out.bias, padding=1) + F.conv2d(x, skip)
        return F.pixel_shuffle(y, self.scale)

    def sample(self, rng: random.Random, sparse_share: float = 0.0) -> Candidate:
        """A random training path: width, blocks, and per layer a scheme at a random ratio.

        A layer that allows ``pattern`` or ``block`` takes one of them (equally likely) with probability
        ``sparse_share``; otherwise an internal layer is filter-pruned with probability 0.75, else dense.
        ``sparse_share = 0`` draws exactly the paths of dense-and-filter-only training."""
        cells = []
        for _ in range(self.space.cells):
            block = rng.choice(self.space.blocks)
            schemes = tuple(_sample_scheme(layer_menu(layer), rng, sparse_share) for layer in CELL_LAYERS[block])
            ratios = tuple(rng.choice(RATIOS) if s != "dense" else 0.0 for s in schemes)
            cells.append(CellChoice(block, schemes, ratios))
        return Candidate(rng.choice(self.space.widths), tuple(cells))

    def extract(self, candidate: Candidate) -> NasSR:
        """``candidate`` as a standalone ``nas-sr`` model with the supernet's weights (masks attached)."""
        model = NasSR(self.scale, candidate.width, candidate.arch_args()["cells"])
        w = candidate.width
        with torch.no_grad():
            model.head.weight.copy_(self.head.weight[:w])
            bias_of(model.head).copy_(bias_of(self.head)[:w])
            cells = [cell for cell in self.cells if isinstance(cell, SuperCell)]
            for cell, target, choice in zip(cells, model.cells, candidate.cells, strict=True):
                for (conv, out_ch, in_ch), layer in zip(cell.slices(choice, w), CELL_LAYERS[choice.block], strict=True):
                    dest: nn.Conv2d = getattr(target, layer.name)
                    dest.weight.copy_(conv.weight[:out_ch, :in_ch])
                    bias_of(dest).copy_(bias_of(conv)[:out_ch])
            out_conv = model.out.conv
            out_conv.weight.copy_(self.out.weight[:, :w])
            bias_of(out_conv).copy_(bias_of(self.out))
        attach_candidate_masks(model, candidate)
        return model


def attach_candidate_masks(model: NasSR, candidate: Candidate) -> None:
    """Fix ``candidate``'s pattern and block masks on ``model``'s convs, each computed from the conv's current
    weights (:func:`~bench.optimize.nas.schemes.attach_mask`; :func:`~bench.optimize.nas.schemes.bake_masks`
    removes them)."""
    for index, name, scheme, ratio in candidate.sparse_layers():
        conv = getattr(model.cells[index], name)
        attach_mask(conv, scheme_mask(conv.weight, scheme, ratio))


def _sample_scheme(menu: tuple[str, ...], rng: random.Random, sparse_share: float) -> str:
    sparse = [scheme for scheme in menu if scheme in ("pattern", "block")]
    if sparse and sparse_share > 0 and rng.random() < sparse_share:
        return rng.choice(sparse)
    return "filter" if "filter" in menu and rng.random() < 0.75 else "dense"


class PathOf(nn.Module):
    """One fixed path of a supernet as an ordinary module (held-out scoring)."""

    def __init__(self, supernet: SuperNet, candidate: Candidate) -> None:
        super().__init__()
        self.supernet, self.candidate = supernet, candidate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.supernet(x, self.candidate)


class RandomPaths(nn.Module):
    """A supernet that takes a new random path at every training call (single-path training), its sampled
    pattern and block masks applied (``sparse_share``: see :meth:`SuperNet.sample`)."""

    def __init__(self, supernet: SuperNet, seed: int, sparse_share: float = 0.0) -> None:
        super().__init__()
        self.supernet, self.rng, self.sparse_share = supernet, random.Random(seed), sparse_share

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.supernet(x, self.supernet.sample(self.rng, self.sparse_share), masked=True)
