"""Inpainting with the NVIDIA irregular-mask test set (Liu et al. 2018), by hole-ratio bin.

Layout: an image folder (e.g. Places2 ``val_256/*.jpg``, CelebA-HQ ``*.png``) under the task's
path, and the mask folder ``testing_mask_dataset/*.png`` (12,000 masks, 6 bins of 2,000 by hole
ratio: (0, 10 %], (10, 20 %], ..., (50, 60 %]).

Options:

* ``images``: image folder, relative to the task's path; ``masks``: mask folder, relative to it.
* ``bin``: 1..6; ``bin_by``: ``index`` (the masks of bin k are the k-th 2,000 files in name
  order, as distributed) or ``ratio`` (computed from each mask's pixels; slower, exact).
* ``masks_per_bin``: 2,000 for the official set (other values are for small look-alike sets).
* ``hole_value``: the mask pixel value that marks a hole (default 255, white). *Unconfirmed*
  for the official files; ``bench data check`` reports each mask's measured ratio against its
  bin, so a wrong setting shows up as every mask out of its bin.

Image i (in name order) gets mask ``i mod n`` of the bin's n masks. A mask whose size differs
from the image is resized with nearest neighbour. The model input is the image with the holes
set to 0, then the mask channel (1 = hole).
"""

from __future__ import annotations

from functools import cache, cached_property
from pathlib import Path

import numpy as np
from PIL import Image

from bench.data.degradations import masked_input
from bench.data.images import list_images, read_image
from bench.data.sources import DataNotFound, Entry, Problem, Source, SourceItem, register_source, require_dir

BIN_EDGES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
MASKS_PER_BIN = 2000


def read_mask(path: Path, hole_value: int, size: tuple[int, int] | None = None) -> np.ndarray:
    """Boolean H x W hole mask (True = hole), nearest-neighbour resized to ``size`` (W, H) if given."""
    with Image.open(path) as img:
        grey = img.convert("L")
        if size is not None and grey.size != size:
            grey = grey.resize(size, Image.Resampling.NEAREST)
        values = np.asarray(grey)
    return (values >= 128) if hole_value >= 128 else (values < 128)


@cache
def _mask_ratio(path: Path, hole_value: int) -> float:
    """Hole fraction of a mask file (cached: many images share one mask)."""
    return float(read_mask(path, hole_value).mean())


def hole_bin(ratio: float) -> int:
    """1-based bin of a hole ratio: (0, 0.1] -> 1, ..., (0.5, 0.6] -> 6; 0 outside."""
    for k in range(1, len(BIN_EDGES)):
        if BIN_EDGES[k - 1] < ratio <= BIN_EDGES[k]:
            return k
    return 0


@register_source("nvidia-masks", paired=True)
class NvidiaMaskedImages(Source):
    @cached_property
    def _settings(self) -> tuple[int, str, int]:
        k = int(self.options.get("bin", 1))
        if not 1 <= k <= 6:
            raise ValueError(f"bin must be 1..6, got {k}")
        return k, str(self.options.get("bin_by", "index")), int(self.options.get("hole_value", 255))

    def layout(self) -> str:
        images = self.folder / str(self.options.get("images", "images"))
        masks = self.folder / str(self.options.get("masks", "testing_mask_dataset"))
        return f"{images}/*.jpg|png and {masks}/*.png (12,000 NVIDIA irregular masks, 2,000 per hole-ratio bin)"

    def _bin_masks(self) -> list[Path]:
        k, bin_by, hole_value = self._settings
        folder = require_dir(self.folder / str(self.options.get("masks", "testing_mask_dataset")), self.layout())
        masks = list_images(folder)
        if bin_by == "index":
            per_bin = int(self.options.get("masks_per_bin", MASKS_PER_BIN))
            chosen = masks[(k - 1) * per_bin : k * per_bin]
        else:
            chosen = [m for m in masks if hole_bin(float(read_mask(m, hole_value).mean())) == k]
        if not chosen:
            raise DataNotFound(
                f"no masks for bin {k} in {folder} ({len(masks)} masks found; expected layout: {self.layout()})"
            )
        return chosen

    def index(self) -> list[Entry]:
        images = list_images(require_dir(self.folder / str(self.options.get("images", "images")), self.layout()))
        if not images:
            raise DataNotFound(f"no images found (expected layout: {self.layout()})")
        masks = self._bin_masks()
        k = self._settings[0]
        return [
            Entry(path.stem, path, masks[i % len(masks)], {"bin": k, "mask": masks[i % len(masks)].name})
            for i, path in enumerate(images)
        ]

    def load(self, entry: Entry) -> SourceItem:
        assert entry.input is not None
        target = read_image(entry.target)
        mask = read_mask(entry.input, self._settings[2], (target.shape[1], target.shape[0]))
        meta = entry.meta | {"hole_ratio": float(mask.mean())}
        return SourceItem(entry.id, target, masked_input(target, mask), meta)

    def expected_input_size(self, entry: Entry, target_size: tuple[int, int]) -> tuple[int, int] | None:
        return None  # masks are resized to the image

    def check_entry(self, entry: Entry) -> list[Problem]:
        problems = super().check_entry(entry)
        if problems or entry.input is None:
            return problems
        k, _, hole_value = self._settings
        ratio = _mask_ratio(entry.input, hole_value)
        if hole_bin(ratio) != k:
            problems.append(
                Problem(
                    entry.input,
                    f"hole ratio {ratio:.1%} is outside bin {k} "
                    f"({BIN_EDGES[k - 1]:.0%}-{BIN_EDGES[k]:.0%}]; check the hole_value option",
                )
            )
        return problems
