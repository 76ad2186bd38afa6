"""Paired data sets read from their official layouts: each provides the model input itself.

* ``gopro``: ``GOPRO_Large/test/<sequence>/blur/*.png`` vs ``sharp/*.png`` (linear blur, not
  ``blur_gamma``), 1111 pairs at 1280x720; id = ``<sequence>/<frame>``.
* ``reds``: ``REDS/<split>/<split>_blur[_jpeg]/<clip>/<frame>.png|jpg`` vs
  ``<split>_sharp/<clip>/<frame>.png``, optionally restricted to some clips (REDS4).
* ``sr-pairs``: an HR folder and a pre-made LR folder whose files are named by a pattern, e.g.
  DIV2K ``DIV2K_valid_HR/0801.png`` with ``DIV2K_valid_LR_bicubic/X4/0801x4.png``, or the
  SwinIR test-set layout ``Set5/HR/baby.png`` with ``Set5/LR_bicubic/X4/babyx4.png``.
* ``sidd-val``: SIDD validation, ``ValidationNoisyBlocksSrgb.mat`` and ``ValidationGtBlocksSrgb.mat``
  (40 images x 32 blocks of 256x256x3 uint8, MATLAB v5 files read with scipy), 1280 pairs.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from bench.data.images import list_images
from bench.data.sources import DataNotFound, Entry, Problem, Source, SourceItem, register_source, require_dir
from bench.metrics.crop import mod_crop


@register_source("gopro", paired=True)
class GoPro(Source):
    def layout(self) -> str:
        return f"{self.folder}/<sequence>/blur/*.png and {self.folder}/<sequence>/sharp/*.png (same file names)"

    def index(self) -> list[Entry]:
        require_dir(self.folder, self.layout())
        blur_dir = self.options.get("blur", "blur")
        entries = []
        for sequence in sorted(p for p in self.folder.iterdir() if p.is_dir()):
            blur, sharp = sequence / blur_dir, sequence / "sharp"
            if not blur.is_dir() and not sharp.is_dir():
                continue
            names = {p.name for p in list_images(blur)} if blur.is_dir() else set()
            names |= {p.name for p in list_images(sharp)} if sharp.is_dir() else set()
            for name in sorted(names):
                stem = Path(name).stem
                entries.append(Entry(f"{sequence.name}/{stem}", sharp / name, blur / name))
        return self.found(entries, f"no sequences with blur/ and sharp/ in {self.folder}")


@register_source("reds", paired=True)
class REDS(Source):
    """Options: ``split`` (val | train), ``blur`` (blur | blur_jpeg), ``clips`` (list of clip names)."""

    @cached_property
    def _dirs(self) -> tuple[Path, Path, str]:
        split = self.options.get("split", "val")
        blur = self.options.get("blur", "blur")
        suffix = ".jpg" if blur == "blur_jpeg" else ".png"
        return self.folder / split / f"{split}_{blur}", self.folder / split / f"{split}_sharp", suffix

    def layout(self) -> str:
        blur, sharp, suffix = self._dirs
        return f"{blur}/<clip>/<frame>{suffix} and {sharp}/<clip>/<frame>.png"

    def index(self) -> list[Entry]:
        blur, sharp, suffix = self._dirs
        require_dir(sharp, self.layout())
        wanted: list[str] | None = self.options.get("clips")
        clips = sorted(p.name for p in sharp.iterdir() if p.is_dir())
        if wanted is not None:
            missing = [c for c in wanted if c not in clips]
            if missing:
                raise DataNotFound(f"clips {missing} not found in {sharp} (expected layout: {self.layout()})")
            clips = [c for c in clips if c in wanted]
        entries = []
        for clip in clips:
            for target in list_images(sharp / clip):
                entries.append(Entry(f"{clip}/{target.stem}", target, blur / clip / f"{target.stem}{suffix}"))
        return self.found(entries, f"no frames under {sharp}")


@register_source("sr-pairs", paired=True)
class SRPairs(Source):
    """Options: ``hr`` (folder), ``lr`` (folder), ``lr_name`` (pattern with {id} and {scale}), ``scale``."""

    def _options(self) -> tuple[Path, Path, str, int]:
        scale = int(self.options["scale"])
        hr = self.folder / str(self.options.get("hr", "HR"))
        lr = self.folder / str(self.options.get("lr", "LR_bicubic/X{scale}")).format(scale=scale)
        return hr, lr, str(self.options.get("lr_name", "{id}x{scale}.png")), scale

    def layout(self) -> str:
        hr, lr, pattern, scale = self._options()
        return f"{hr}/<id>.png with {lr}/{pattern.format(id='<id>', scale=scale)}"

    def index(self) -> list[Entry]:
        hr, lr, pattern, scale = self._options()
        require_dir(hr, self.layout())
        require_dir(lr, self.layout())
        images = list_images(hr)
        if not images:
            raise DataNotFound(f"no HR images in {hr} (expected layout: {self.layout()})")
        return [Entry(p.stem, p, lr / pattern.format(id=p.stem, scale=scale)) for p in images]

    def load(self, entry: Entry) -> SourceItem:
        item = super().load(entry)
        return SourceItem(item.id, mod_crop(item.target, int(self.options["scale"])), item.input, item.meta)

    def expected_input_size(self, entry: Entry, target_size: tuple[int, int]) -> tuple[int, int] | None:
        scale = int(self.options["scale"])
        return target_size[0] // scale, target_size[1] // scale


@register_source("sidd-val", paired=True)
class SIDDValidation(Source):
    """SIDD sRGB validation blocks from the two official .mat files; id = ``<image>_<block>``."""

    NOISY = "ValidationNoisyBlocksSrgb.mat"
    CLEAN = "ValidationGtBlocksSrgb.mat"

    def layout(self) -> str:
        return f"{self.folder}/{self.NOISY} and {self.folder}/{self.CLEAN} (MATLAB files, one variable each)"

    @cached_property
    def _blocks(self) -> tuple[np.ndarray, np.ndarray]:
        from scipy.io import loadmat

        arrays = []
        for name in (self.NOISY, self.CLEAN):
            path = self.folder / name
            if not path.is_file():
                raise DataNotFound(f"missing {path} (expected layout: {self.layout()})")
            try:
                data: dict[str, Any] = loadmat(str(path))
            except (ValueError, OSError, TypeError) as exc:
                raise DataNotFound(f"cannot read {path}: {exc}") from exc
            key = Path(name).stem
            if key not in data:
                raise DataNotFound(
                    f"{path} has no variable {key!r} (found: {sorted(k for k in data if not k.startswith('__'))})"
                )
            arrays.append(np.asarray(data[key]))
        noisy, clean = arrays
        if noisy.shape != clean.shape or noisy.ndim != 5:
            raise DataNotFound(
                f"SIDD blocks must both be images x blocks x H x W x 3; got {noisy.shape} and {clean.shape}"
            )
        return noisy, clean

    def index(self) -> list[Entry]:
        require_dir(self.folder, self.layout())
        noisy, _ = self._blocks
        return [
            Entry(f"{i:02d}_{b:02d}", self.folder / self.CLEAN, self.folder / self.NOISY, {"image": i, "block": b})
            for i in range(noisy.shape[0])
            for b in range(noisy.shape[1])
        ]

    def load(self, entry: Entry) -> SourceItem:
        noisy, clean = self._blocks
        i, b = entry.meta["image"], entry.meta["block"]
        return SourceItem(entry.id, np.ascontiguousarray(clean[i, b]), np.ascontiguousarray(noisy[i, b]), entry.meta)

    def check(self, entries: list[Entry]) -> list[Problem]:
        noisy, clean = self._blocks  # index() has read them: presence and shapes are already checked
        if noisy.dtype != np.uint8 or clean.dtype != np.uint8:
            return [Problem(self.folder, f"SIDD blocks must be uint8, got {noisy.dtype} and {clean.dtype}")]
        return []


@register_source("paired-suffix", paired=True)
class PairedSuffix(Source):
    """A flat folder of pairs named ``<id><input_suffix>.<ext>`` and ``<id><target_suffix>.<ext>``."""

    def _suffixes(self) -> tuple[str, str]:
        return str(self.options.get("input_suffix", "_input")), str(self.options.get("target_suffix", "_target"))

    def layout(self) -> str:
        given, wanted = self._suffixes()
        return f"{self.folder}/<id>{given}.png and {self.folder}/<id>{wanted}.png"

    def index(self) -> list[Entry]:
        given, wanted = self._suffixes()
        images = list_images(require_dir(self.folder, self.layout()))
        targets = {p.stem.removesuffix(wanted): p for p in images if p.stem.endswith(wanted)}
        inputs = {p.stem.removesuffix(given): p for p in images if p.stem.endswith(given)}
        if not targets:
            raise DataNotFound(f"no '*{wanted}' images in {self.folder} (expected layout: {self.layout()})")
        return [
            Entry(i, targets[i], inputs.get(i, self.folder / f"{i}{given}{targets[i].suffix}")) for i in sorted(targets)
        ]
