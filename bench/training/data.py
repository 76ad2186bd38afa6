"""Training pairs: seeded random crops of clean photos, augmented, then degraded by the task's own pipeline.

Sample ``i`` of a run is a pure function of (seed, i): its image comes from a seeded permutation
of the images for its epoch (``i // patches_per_epoch``), its crop position, flips and the
degradation's noise from a generator seeded with SHA-256 of (seed, i) (``bench.data.seeding``).
So batches do not depend on the number of data-loader workers, and a resumed run sees exactly
the samples an uninterrupted one would.

The clean crop is ``patch_size`` times the degradation's input/target size ratio (measured once on
a probe image): the SR scale for ``matlab-bicubic-down`` (HR crop = patch x scale, LR by the
MATLAB bicubic), 2 for ``low-light-raw``, 1 otherwise. Decoded images (downscaled once first when the
recipe sets ``data.prescale``) are kept in memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from bench.data.degradations import apply_degradation
from bench.data.images import list_images, read_image
from bench.data.pipeline import model_view
from bench.data.resize import imresize
from bench.data.seeding import image_rng
from bench.data.sources import to_colour
from bench.errors import TrainingDataError
from bench.training.recipe import Augmentation

PROBE_SIZE = 96  # a multiple of 2, 3 and 4


@dataclass(frozen=True)
class ImageCache:
    """Decoded uint8 training images (H x W x 3, or H x W for grey tasks) and their file names."""

    folder: Path
    names: tuple[str, ...]
    images: tuple[np.ndarray, ...]

    prescale: float | None = None

    @classmethod
    def load(cls, folder: Path, colour: str = "rgb", prescale: float | None = None) -> ImageCache:
        """Decode every image directly in ``folder`` (grey tasks: luma; RGB tasks: grey files repeated).

        ``prescale`` (0 < s < 1) downscales each decoded image once with MATLAB's antialiased bicubic
        (``bench.data.resize.imresize``, output ceil(s x size), uint8 rounding), as the FSRCNN recipe
        did with its 0.6-0.9 downscales: the average over 1/s pixels per axis suppresses JPEG
        blocking and sensor noise in the clean targets.
        """
        if prescale is not None and not 0 < prescale < 1:
            raise TrainingDataError(f"prescale must be in (0, 1), got {prescale}")
        if not folder.is_dir():
            raise TrainingDataError(
                f"training data folder not found: {folder} (give --data DIR, set $BENCH_TRAIN_DATA, or data.folder "
                "in the recipe)"
            )
        paths = list_images(folder)
        if not paths:
            raise TrainingDataError(f"training data folder {folder} has no images (png, jpg, bmp, tif)")
        images = []
        for path in paths:
            image = to_colour(read_image(path), "grey" if colour == "grey" else "rgb")
            if colour != "grey" and image.ndim == 2:
                image = np.repeat(image[..., None], 3, axis=2)
            if prescale is not None:
                image = imresize(image, prescale)
            images.append(image)
        return cls(folder, tuple(p.name for p in paths), tuple(images), prescale)


def _augment(crop: np.ndarray, rng: np.random.Generator, aug: Augmentation) -> np.ndarray:
    hflip, vflip, transpose = rng.random(3) < 0.5  # always drawn: the stream does not depend on the settings
    if aug.hflip and hflip:
        crop = crop[:, ::-1]
    if aug.vflip and vflip:
        crop = crop[::-1]
    if aug.rot90 and transpose:
        crop = np.swapaxes(crop, 0, 1)
    return np.ascontiguousarray(crop)


def _chw(image: np.ndarray) -> torch.Tensor:
    array = image if image.ndim == 3 else image[..., None]
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))


class PatchSampler:
    """Makes sample ``i`` = (input C x p x p float32, target C x rp x rp float32 in [0, 1])."""

    def __init__(
        self,
        cache: ImageCache,
        degradation: tuple[str, dict[str, Any]],
        patch_size: int,
        augmentation: Augmentation,
        seed: int,
        patches_per_epoch: int,
        colour: str = "rgb",
    ) -> None:
        self.cache, self.name, self.params = cache, degradation[0], degradation[1]
        self.patch_size, self.augmentation, self.seed = patch_size, augmentation, seed
        self.patches_per_epoch, self.colour = patches_per_epoch, colour
        self.ratio = self._probe_ratio()
        self.crop = patch_size * self.ratio
        small = [n for n, im in zip(cache.names, cache.images, strict=True) if min(im.shape[:2]) < self.crop]
        if small:
            raise TrainingDataError(
                f"{len(small)} training image(s) are smaller than the {self.crop}x{self.crop} clean crop "
                f"(patch {patch_size} x ratio {self.ratio}), e.g. {small[0]}; lower data.patch_size"
                + ("" if cache.prescale is None else f" or raise data.prescale ({cache.prescale:g})")
            )

    def _probe_ratio(self) -> int:
        shape = (PROBE_SIZE, PROBE_SIZE, 3) if self.colour != "grey" else (PROBE_SIZE, PROBE_SIZE)
        probe = np.full(shape, 128, dtype=np.uint8)
        model_input, target = apply_degradation(self.name, probe, np.random.default_rng(0), self.params)
        ratio, rest = divmod(target.shape[0], model_input.shape[0])
        if rest or ratio < 1 or target.shape[1] != ratio * model_input.shape[1]:
            raise TrainingDataError(
                f"degradation {self.name!r} maps a {PROBE_SIZE}px image to a {model_input.shape[:2]} input and a "
                f"{target.shape[:2]} target: not an integer size ratio"
            )
        return ratio

    def image_index(self, index: int) -> int:
        """The image of sample ``index``: every image once per ``n`` consecutive samples of an epoch, seeded order."""
        n = len(self.cache.images)
        epoch, position = divmod(index, self.patches_per_epoch)
        order = image_rng(self.seed, f"epoch-{epoch}", "image-order").permutation(n)
        return int(order[position % n])

    def pair(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = image_rng(self.seed, str(index), "patch")
        image = self.cache.images[self.image_index(index)]
        top = int(rng.integers(0, image.shape[0] - self.crop + 1))
        left = int(rng.integers(0, image.shape[1] - self.crop + 1))
        clean = _augment(image[top : top + self.crop, left : left + self.crop], rng, self.augmentation)
        model_input, target = apply_degradation(self.name, clean, rng, self.params)
        view = model_view(np.asarray(model_input, dtype=np.float32), self.colour)
        return _chw(view), _chw(target.astype(np.float32) / np.float32(255.0))


class PatchDataset(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Map-style view of a :class:`PatchSampler`; the loader's sampler gives the global sample indices."""

    def __init__(self, sampler: PatchSampler) -> None:
        self.sampler = sampler

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.sampler.pair(index)

    def __len__(self) -> int:  # indices come from an explicit range, never from len()
        return 2**62


def batch_indices(step: int, batch_size: int) -> Sequence[int]:
    """The global sample indices of optimiser step ``step`` (0-based)."""
    return range(step * batch_size, (step + 1) * batch_size)
