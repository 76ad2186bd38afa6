"""A Hugging Face ``datasets`` cache of a task's evaluation samples (model input and target, ready to score).

:func:`materialize` streams :func:`bench.data.pipeline.iter_samples` into an Arrow data set saved
with ``save_to_disk`` under ``<cache root>/<task id>-v<version>-<fingerprint>``;
:func:`iter_cached` memory-maps it with ``load_from_disk`` and yields :class:`Sample` s with the
same bytes as the uncached pipeline, without reading or degrading an image again.

The fingerprint is a SHA-256 over the cache format, the bench version, the task's full JSON spec
and the source's index (each entry's id, meta, and its files' paths relative to the data folder,
sizes and mtimes), so changing the data, the protocol or the code version makes a new cache.

Columns: ``id``; ``input`` float32 and ``target`` uint8 as rows (H lists of W x C values, a
``LargeList`` of ``LargeList``; image sizes differ within a data set, so a fixed-shape
``Array3D`` cannot hold them) with ``input_shape`` / ``target_shape`` (a grey target is H x W);
``meta`` as JSON. Rows rather than one flat list per image because ``datasets`` encodes a flat
list value by value in Python (about 15x slower to write). Reading goes through Arrow buffers
directly: one memory copy per array, no per-value decoding.

A cache is written in a temporary folder beside its final place and renamed there only once
complete (with a marker holding its fingerprint and row count), so an interrupted run leaves
nothing that a later run would use.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

import bench
from bench.data.pipeline import Sample, make_sample, make_source, task_entries
from bench.data.sources import Entry, Source

if TYPE_CHECKING:
    import pyarrow as pa
    from datasets import Dataset, Features

    from bench.tasks import Task

CACHE_ENV = "BENCH_CACHE"
CACHE_FORMAT = 1  # bump when the columns or their meaning change
MARKER = "bench-cache.json"
WRITER_BATCH = 8  # samples held in memory while writing (a GoPro input is 11 MB)


def default_cache_root() -> Path:
    """``$BENCH_CACHE``, else ``$XDG_CACHE_HOME/bench/datasets`` (``~/.cache/bench/datasets``)."""
    value = os.environ.get(CACHE_ENV)
    if value:
        return Path(value).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "bench" / "datasets"


def features() -> Features:
    from datasets import Features, LargeList, List, Value

    return Features(
        {
            "id": Value("string"),
            "input": LargeList(LargeList(Value("float32"))),
            "input_shape": List(Value("int64")),
            "target": LargeList(LargeList(Value("uint8"))),
            "target_shape": List(Value("int64")),
            "meta": Value("string"),
        }
    )


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"meta value {value!r} ({type(value).__name__}) is not JSON-serialisable")


def _file_facts(path: Path, folder: Path) -> list[Any]:
    """[relative path, size, mtime_ns] of a file; of every file inside a folder; 'missing' if absent."""
    name = os.path.relpath(path, folder) if path.is_absolute() == folder.is_absolute() else str(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
        return [name, "dir", [_file_facts(p, folder) for p in files]]
    try:
        stat = path.stat()
    except OSError:
        return [name, "missing"]
    return [name, stat.st_size, stat.st_mtime_ns]


def fingerprint(task: Task, folder: Path, entries: Iterable[Entry]) -> str:
    """SHA-256 (hex) of the cache format, bench version, task spec and the index's files."""
    digest = hashlib.sha256()
    digest.update(json.dumps([CACHE_FORMAT, bench.__version__, task.model_dump_json()]).encode())
    seen: dict[Path, list[Any]] = {}  # many entries may share one file (SIDD, hf-datasets)
    for entry in entries:
        files = [p for p in (entry.target, entry.input) if p is not None]
        facts = [seen[p] if p in seen else seen.setdefault(p, _file_facts(p, folder)) for p in files]
        row = [entry.id, facts, json.dumps(entry.meta, sort_keys=True, default=_json_default)]
        digest.update(json.dumps(row).encode() + b"\n")
    return digest.hexdigest()


def _prepare(task: Task, data_root: Path | None, cache_root: Path | None) -> tuple[Source, list[Entry], Path, str]:
    source = make_source(task, data_root)
    entries = task_entries(task, source)
    digest = fingerprint(task, source.folder, entries)
    root = cache_root if cache_root is not None else default_cache_root()
    return source, entries, Path(root) / f"{task.id}-v{task.version}-{digest[:16]}", digest


def cache_path(task: Task, data_root: Path | None = None, cache_root: Path | None = None) -> Path:
    """Where the cache of ``task`` on the data as it is now lives (whether or not it exists yet)."""
    return _prepare(task, data_root, cache_root)[2]


def _open(path: Path, digest: str) -> Dataset | None:
    """The complete cache at ``path`` with this fingerprint, or None."""
    from datasets import Dataset, load_from_disk

    try:
        marker = json.loads((path / MARKER).read_text())
        if marker.get("fingerprint") != digest:
            return None
        dataset = load_from_disk(str(path))
    except (OSError, ValueError, KeyError, TypeError):  # absent, partial or foreign: not a usable cache
        return None
    if not isinstance(dataset, Dataset) or dataset.num_rows != marker.get("rows"):
        return None
    return dataset


def encode(sample: Sample) -> dict[str, Any]:
    """One sample as a row of :func:`features` (arrays as H rows, shapes kept)."""
    if sample.input.dtype != np.float32 or sample.target.dtype != np.uint8:
        raise TypeError(
            f"sample {sample.id}: expected float32 input and uint8 target, got "
            f"{sample.input.dtype} and {sample.target.dtype}"
        )
    return {
        "id": sample.id,
        "input": sample.input.reshape(sample.input.shape[0], -1),
        "input_shape": list(sample.input.shape),
        "target": sample.target.reshape(sample.target.shape[0], -1),
        "target_shape": list(sample.target.shape),
        "meta": json.dumps(sample.meta, default=_json_default),
    }


@contextmanager
def _quiet() -> Iterator[None]:
    from datasets.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

    was_disabled = are_progress_bars_disabled()
    disable_progress_bars()
    try:
        yield
    finally:
        if not was_disabled:
            enable_progress_bars()


def _build(task: Task, source: Source, entries: list[Entry], path: Path, digest: str) -> Path:
    """Write the cache in a temporary folder beside ``path``, then rename it to ``path``."""
    from datasets import Dataset
    from datasets.exceptions import DatasetGenerationError

    def rows() -> Iterator[dict[str, Any]]:
        for entry in entries:
            yield encode(make_sample(task, source.load(entry)))

    path.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".tmp-{path.name}-", dir=path.parent))
    try:
        with _quiet():
            try:
                dataset = Dataset.from_generator(
                    rows,
                    features=features(),
                    cache_dir=str(work / "generator"),
                    fingerprint=digest,  # skips hashing the generator (and the source it holds)
                    writer_batch_size=WRITER_BATCH,
                )
            except DatasetGenerationError as exc:
                raise (exc.__cause__ or exc) from None  # the pipeline's own error (DataNotFound, ...)
            dataset.save_to_disk(str(work / "dataset"))
        rows_written = dataset.num_rows
        del dataset
        marker = {
            "fingerprint": digest,
            "rows": rows_written,
            "task": task.id,
            "version": task.version,
            "bench": bench.__version__,
            "format": CACHE_FORMAT,
        }
        (work / "dataset" / MARKER).write_text(json.dumps(marker, indent=1))
        if path.exists() and _open(path, digest) is None:
            shutil.rmtree(path)  # an invalid folder under the final name (not written by this module)
        try:
            os.rename(work / "dataset", path)
        except OSError:
            if _open(path, digest) is None:  # not a concurrent run that finished first
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return path


def materialize(task: Task, data_root: Path | None = None, cache_root: Path | None = None) -> Path:
    """The cache folder of ``task`` on the data under ``data_root``, written first if absent or stale."""
    source, entries, path, digest = _prepare(task, data_root, cache_root)
    if _open(path, digest) is not None:
        return path
    return _build(task, source, entries, path, digest)


def _values(column: pa.ChunkedArray, shape: list[int], writable: bool) -> np.ndarray:
    """One row's nested list as an array of ``shape``: a view of the mapped Arrow buffer, or a copy."""
    chunk = next(c for c in column.chunks if len(c))
    flat = chunk.flatten().flatten().to_numpy(zero_copy_only=True).reshape(shape)
    return flat.copy() if writable else flat


def dataset_samples(dataset: Dataset, writable: bool = True) -> Iterator[Sample]:
    """Samples of a cache data set, one row at a time (``writable=False``: read-only zero-copy views)."""
    for row in dataset.with_format("arrow").iter(batch_size=1):
        yield Sample(
            row.column("id")[0].as_py(),
            _values(row.column("input"), row.column("input_shape")[0].as_py(), writable),
            _values(row.column("target"), row.column("target_shape")[0].as_py(), writable),
            json.loads(row.column("meta")[0].as_py()),
        )


def iter_cached(
    task: Task, data_root: Path | None = None, cache_root: Path | None = None, writable: bool = True
) -> Iterator[Sample]:
    """:func:`bench.data.pipeline.iter_samples` from the cache (materialized first when needed)."""
    source, entries, path, digest = _prepare(task, data_root, cache_root)
    dataset = _open(path, digest)
    if dataset is None:
        _build(task, source, entries, path, digest)
        dataset = _open(path, digest)
        if dataset is None:
            raise RuntimeError(f"the cache just written at {path} cannot be read back")
    yield from dataset_samples(dataset, writable)
