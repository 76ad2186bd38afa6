"""``hf-datasets``: a paired data set read with Hugging Face ``datasets`` (one row = one sample).

Options (paths are relative to the task's folder, ``<data-root>/<data.path>``):

* ``format``: ``parquet`` (``files``: a glob or list of globs), ``arrow`` (``path``: a folder
  written by ``save_to_disk``), ``imagefolder`` (``path``: a folder with ``metadata.jsonl|csv``
  naming ``input_file_name`` and ``target_file_name`` per row) or ``hub`` (``name``: a data set
  on the Hugging Face Hub; needs the network or the local HF cache: offline
  (``HF_DATASETS_OFFLINE=1``) only data sets already cached load).
* ``split``: the split to use (default: the only split, or the loader's single split).
* ``id_column`` (default ``id`` when present, else the row number), ``input_column`` (default
  ``input``), ``target_column`` (default ``target``). Image columns may hold images (the
  ``datasets`` ``Image`` feature, or ``{"bytes", "path"}`` / raw encoded bytes) or arrays; images
  are converted like files (grey stays H x W, palette and RGBA become RGB, 16-bit is scaled).
  Targets must be uint8; inputs uint8 or float in [0, 1].

Entries point at the file holding each row (parquet) or the data set's folder, with the row
number in ``meta["row"]``. ``datasets`` itself is imported only when such a source is used.
"""

from __future__ import annotations

import io
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from bench.data.images import check_pixels
from bench.data.sources import DataNotFound, Entry, Problem, Source, SourceItem, register_source, to_colour

if TYPE_CHECKING:
    from datasets import Dataset

FORMATS = ("parquet", "arrow", "imagefolder", "hub")


def _pil_array(img: Image.Image) -> np.ndarray:
    """The same conversion as :func:`bench.data.images.read_image`."""
    img.load()
    if img.mode in ("L", "1"):
        return np.asarray(img.convert("L"), dtype=np.uint8)
    if img.mode in ("I;16", "I;16B", "I", "I;16L"):
        return np.rint(np.asarray(img, dtype=np.float64) / 257.0).clip(0, 255).astype(np.uint8)
    return np.asarray(img.convert("RGB"), dtype=np.uint8)


def to_array(value: Any) -> np.ndarray:
    """A cell (image, encoded bytes, ``{"bytes", "path"}`` or array) as H x W (x C)."""
    if isinstance(value, dict) and ("bytes" in value or "path" in value):
        value = value.get("bytes") or value.get("path")
    if isinstance(value, bytes | bytearray | str | Path):
        with Image.open(io.BytesIO(value) if isinstance(value, bytes | bytearray) else value) as img:
            check_pixels(*img.size, "in a dataset cell")
            return _pil_array(img)
    if isinstance(value, Image.Image):
        return _pil_array(value)
    if value is None:
        raise ValueError("empty cell")
    array = np.asarray(value)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or array.dtype == object:
        raise ValueError(f"expected an H x W (x C) image, got shape {array.shape} ({array.dtype})")
    if np.issubdtype(array.dtype, np.integer) and array.dtype != np.uint8:  # e.g. lists stored as int64
        if array.size and (array.min() < 0 or array.max() > 255):
            raise ValueError(f"integer image values must be in 0..255, got {array.min()}..{array.max()}")
        array = array.astype(np.uint8)
    return array


def _offline() -> bool:
    import datasets

    return bool(datasets.config.HF_HUB_OFFLINE)


@register_source("hf-datasets", paired=True)
class HFDatasets(Source):
    @property
    def format(self) -> str:
        value = str(self.options.get("format", "parquet"))
        if value not in FORMATS:
            raise ValueError(f"hf-datasets format must be one of {', '.join(FORMATS)}; got {value!r}")
        return value

    def _columns(self) -> tuple[str | None, str, str]:
        return (
            self.options.get("id_column"),
            str(self.options.get("input_column", "input")),
            str(self.options.get("target_column", "target")),
        )

    def layout(self) -> str:
        fmt = self.format
        where = {
            "parquet": f"{self.folder}/{self.options.get('files', '*.parquet')} (parquet)",
            "arrow": f"{self.folder / str(self.options.get('path', '.'))} (a datasets save_to_disk folder)",
            "imagefolder": f"{self.folder / str(self.options.get('path', '.'))} (imagefolder with metadata.jsonl)",
            "hub": f"hub data set {self.options.get('name')!r} (online, or in the local HF cache)",
        }[fmt]
        _, inp, tgt = self._columns()
        return f"{where}, columns {inp!r} (model input) and {tgt!r} (target)"

    def _parquet_files(self) -> list[Path]:
        patterns = self.options.get("files", "*.parquet")
        files: list[Path] = []
        for pattern in [patterns] if isinstance(patterns, str) else list(patterns):
            matched = sorted(self.folder.glob(str(pattern)))
            if not matched:
                raise DataNotFound(f"no files match {self.folder / str(pattern)} (expected: {self.layout()})")
            files += matched
        return files

    def _pick_split(self, loaded: Any) -> Dataset:
        from datasets import DatasetDict

        if not isinstance(loaded, DatasetDict):
            return loaded
        split = self.options.get("split")
        if split is None and len(loaded) == 1:
            return next(iter(loaded.values()))
        if split not in loaded:
            raise DataNotFound(f"split {split!r} not in {list(loaded)} (set the 'split' option; {self.layout()})")
        return loaded[split]

    def _load(self) -> Dataset:
        import datasets

        fmt, split = self.format, self.options.get("split")
        if fmt == "parquet":
            files = [str(p) for p in self._parquet_files()]
            return self._pick_split(datasets.load_dataset("parquet", data_files=files, split="train"))
        if fmt == "hub":
            name = self.options.get("name")
            if not name:
                raise ValueError("hf-datasets format 'hub' needs the option 'name' (the Hub data set)")
            try:
                return self._pick_split(datasets.load_dataset(str(name), split=split))
            except Exception as exc:
                offline = " offline mode is on (HF_DATASETS_OFFLINE / HF_HUB_OFFLINE);" if _offline() else ""
                raise DataNotFound(
                    f"cannot load Hub data set {name!r} (split {split!r}):{offline} {exc}. Hub data sets need the "
                    "network or a copy already in the HF cache; offline, save one with save_to_disk and use "
                    "format 'arrow' (or 'parquet')."
                ) from exc
        folder = self.folder / str(self.options.get("path", "."))
        if not folder.is_dir():
            raise DataNotFound(f"folder not found: {folder} (expected: {self.layout()})")
        if fmt == "arrow":
            try:
                return self._pick_split(datasets.load_from_disk(str(folder)))
            except FileNotFoundError as exc:
                raise DataNotFound(f"not a save_to_disk folder: {folder} ({exc})") from exc
        return self._pick_split(datasets.load_dataset("imagefolder", data_dir=str(folder), split=split))

    @cached_property
    def dataset(self) -> Dataset:
        """The rows, with array columns as numpy and image columns as PIL images."""
        from datasets import Image as ImageFeature

        loaded = self._load()
        id_col, inp, tgt = self._columns()
        wanted = [c for c in (id_col, inp, tgt) if c is not None]
        missing = [c for c in wanted if c not in loaded.column_names]
        if missing:
            raise DataNotFound(f"columns {missing} not in the data set (it has {loaded.column_names}; {self.layout()})")
        if id_col is None and "id" in loaded.column_names:
            wanted.insert(0, "id")
        loaded = loaded.select_columns(wanted)
        arrays = [c for c in (inp, tgt) if not isinstance(loaded.features[c], ImageFeature)]
        return loaded.with_format("numpy", columns=arrays, output_all_columns=True) if arrays else loaded

    def _row_files(self, rows: int) -> list[Path]:
        """The file each row comes from (parquet), else the data set's folder or cache file."""
        if self.format == "parquet":
            import pyarrow.parquet as pq

            files = self._parquet_files()
            per_file = [f for f in files for _ in range(pq.ParquetFile(f).metadata.num_rows)]
            if len(per_file) == rows:
                return per_file
            return [self.folder] * rows
        if self.format == "hub":
            cached = [Path(f["filename"]) for f in self.dataset.cache_files]
            return [cached[0] if cached else self.folder] * rows
        return [self.folder / str(self.options.get("path", "."))] * rows

    def index(self) -> list[Entry]:
        dataset = self.dataset
        id_col = self.options.get("id_column") or ("id" if "id" in dataset.column_names else None)
        rows = dataset.num_rows
        if rows == 0:
            raise DataNotFound(f"the data set has no rows ({self.layout()})")
        ids = [str(v) for v in dataset.with_format(None)[id_col]] if id_col else [f"{i:06d}" for i in range(rows)]
        if len(set(ids)) != len(ids):
            raise DataNotFound(f"column {id_col!r} has duplicate ids; each sample needs its own")
        return [Entry(ids[i], path, None, {"row": i}) for i, path in enumerate(self._row_files(rows))]

    def load(self, entry: Entry) -> SourceItem:
        _, inp, tgt = self._columns()
        row = self.dataset[int(entry.meta["row"])]
        target = to_array(row[tgt])
        if target.dtype != np.uint8:
            raise ValueError(f"row {entry.meta['row']}: target must be uint8, got {target.dtype}")
        model_input = to_array(row[inp])
        if model_input.dtype == np.uint8:
            model_input = to_colour(model_input, self.colour)
        elif self.colour == "grey" and model_input.ndim == 3:
            raise ValueError(f"row {entry.meta['row']}: a grey task needs a one-channel float input")
        return SourceItem(entry.id, to_colour(target, self.colour), model_input, entry.meta)

    def expected_input_size(self, entry: Entry, target_size: tuple[int, int]) -> tuple[int, int] | None:
        scale = self.options.get("scale")
        return (target_size[0] // int(scale), target_size[1] // int(scale)) if scale else target_size

    def check_entry(self, entry: Entry) -> list[Problem]:
        """The row decodes: uint8 target, image-shaped input of the expected size."""
        try:
            item = self.load(entry)
        except (ValueError, OSError, TypeError) as exc:
            return [Problem(entry.target, f"row {entry.meta['row']} ({entry.id}): cannot decode: {exc}")]
        assert item.input is not None
        size_of = {"target": item.target.shape[1::-1], "input": item.input.shape[1::-1]}
        expected = self.expected_input_size(entry, (size_of["target"][0], size_of["target"][1]))
        if expected is not None and tuple(size_of["input"]) != expected:
            return [
                Problem(
                    entry.target,
                    f"row {entry.meta['row']} ({entry.id}): input is "
                    f"{size_of['input'][0]}x{size_of['input'][1]}, expected "
                    f"{expected[0]}x{expected[1]}",
                )
            ]
        return []
