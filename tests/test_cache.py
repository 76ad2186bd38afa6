"""The datasets cache of evaluation samples, and the hf-datasets source (all offline, in tmp_path)."""

from __future__ import annotations

import io
import json
import os

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")  # before datasets is imported: never touch the Hub
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import bench.data.hf_source  # noqa: F401  (registers hf-datasets)
from bench.data import cache
from bench.data.images import write_image
from bench.data.pipeline import Sample, iter_samples
from bench.data.sources import DataNotFound
from bench.tasks import Task, get_task
from tests import layouts

BUILDERS: dict[str, Callable[[Path], Path]] = {
    "denoise-cbsd68-s25": lambda root: layouts.image_folder(root, "CBSD68"),
    "deblur-gopro": layouts.gopro,
    "denoise-set12-s25": lambda root: layouts.image_folder(root, "Set12", grey=True),
    "denoise-sidd-val": layouts.sidd,  # meta {"image": int, "block": int}, every entry in one file
    "inpaint-places2-nvidia-b1": layouts.nvidia_masks,  # 4-channel input, meta with a float and a name
}


@pytest.fixture(autouse=True)
def _offline_hf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Offline, and datasets' own cache (parquet / imagefolder conversions) inside tmp_path."""
    import datasets
    import huggingface_hub.constants

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")


def assert_same(expected: Iterable[Sample], got: Iterable[Sample]) -> int:
    count = 0
    for a, b in zip(expected, got, strict=True):
        assert (a.id, a.meta) == (b.id, b.meta)
        for x, y in ((a.input, b.input), (a.target, b.target)):
            assert (x.dtype, x.shape) == (y.dtype, y.shape)
            assert x.tobytes() == y.tobytes()
        count += 1
    return count


def counting(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every sample the cache computes (through the uncached pipeline)."""
    calls: list[str] = []
    original = cache.make_sample

    def wrapped(task: Task, item: Any) -> Sample:
        calls.append(item.id)
        return original(task, item)

    monkeypatch.setattr(cache, "make_sample", wrapped)
    return calls


@pytest.mark.parametrize("task_id", sorted(BUILDERS))
def test_cached_samples_are_byte_identical(task_id: str, tmp_path: Path) -> None:
    task, root = get_task(task_id), BUILDERS[task_id](tmp_path / "data")
    assert assert_same(iter_samples(task, root), cache.iter_cached(task, root, tmp_path / "cache")) > 0
    # and again from the existing cache, as writable arrays and as read-only views
    cached = list(cache.iter_cached(task, root, tmp_path / "cache"))
    assert all(s.input.flags.writeable and s.target.flags.writeable for s in cached)
    assert_same(iter_samples(task, root), cached)
    views = cache.iter_cached(task, root, tmp_path / "cache", writable=False)
    assert assert_same(iter_samples(task, root), views) == len(cached)


def test_grey_targets_stay_two_dimensional(tmp_path: Path) -> None:
    task = get_task("denoise-set12-s25")
    root = layouts.image_folder(tmp_path / "data", "Set12", grey=True)
    sample = next(cache.iter_cached(task, root, tmp_path / "cache"))
    assert sample.target.ndim == 2 and sample.input.shape == (*sample.target.shape, 1)


def test_second_run_reuses_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    task, root = get_task("denoise-cbsd68-s25"), layouts.image_folder(tmp_path / "data", "CBSD68")
    calls = counting(monkeypatch)
    path = cache.materialize(task, root, tmp_path / "cache")
    assert len(calls) == 3 and path.parent == tmp_path / "cache"
    assert path.name.startswith("denoise-cbsd68-s25-v1-")
    stamp = (path / cache.MARKER).stat().st_mtime_ns
    assert len(list(cache.iter_cached(task, root, tmp_path / "cache"))) == 3
    assert cache.materialize(task, root, tmp_path / "cache") == path
    assert len(calls) == 3, "the second run recomputed samples"
    assert (path / cache.MARKER).stat().st_mtime_ns == stamp
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [path.name]


def test_changed_data_or_task_gives_a_new_cache(tmp_path: Path) -> None:
    task, root = get_task("denoise-cbsd68-s25"), layouts.image_folder(tmp_path / "data", "CBSD68")
    first = cache.materialize(task, root, tmp_path / "cache")
    assert cache.cache_path(task, root, tmp_path / "cache") == first

    image = root / "CBSD68" / "img001.png"
    pixels = np.asarray(Image.open(image)).copy()
    pixels[:8] = 255 - pixels[:8]
    Image.fromarray(pixels).save(image)
    os.utime(image, ns=(1, 1))  # a distinct mtime even on coarse-clock file systems
    changed = cache.cache_path(task, root, tmp_path / "cache")
    assert changed != first
    assert_same(iter_samples(task, root), cache.iter_cached(task, root, tmp_path / "cache"))

    newer = task.model_copy(update={"version": 2})
    assert cache.cache_path(newer, root, tmp_path / "cache").name.startswith("denoise-cbsd68-s25-v2-")
    noisier = Task.model_validate(task.model_dump() | {"degradation": {"name": "awgn", "params": {"sigma": 50}}})
    assert cache.cache_path(noisier, root, tmp_path / "cache").name[-16:] != changed.name[-16:]


def test_interrupted_materialization_leaves_nothing_usable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    task, root = get_task("deblur-gopro"), layouts.gopro(tmp_path / "data")
    original = cache.make_sample
    seen: list[str] = []

    def failing(task: Task, item: Any) -> Sample:
        seen.append(item.id)
        if len(seen) == 3:
            raise RuntimeError("disk on fire")
        return original(task, item)

    monkeypatch.setattr(cache, "make_sample", failing)
    with pytest.raises(RuntimeError, match="disk on fire"):  # the pipeline's own error, not datasets' wrapper
        list(cache.iter_cached(task, root, tmp_path / "cache"))
    assert list((tmp_path / "cache").iterdir()) == []  # the temporary folder is gone too

    # a half-written folder under the final name (e.g. a copy killed midway) is never read
    path = cache.cache_path(task, root, tmp_path / "cache")
    (path / "data-00000-of-00001.arrow").parent.mkdir(parents=True)
    (path / "data-00000-of-00001.arrow").write_bytes(b"truncated")
    monkeypatch.setattr(cache, "make_sample", original)
    assert assert_same(iter_samples(task, root), cache.iter_cached(task, root, tmp_path / "cache")) == 4
    assert json.loads((path / cache.MARKER).read_text())["rows"] == 4


def test_default_cache_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "c"))
    assert cache.default_cache_root() == tmp_path / "c"
    monkeypatch.delenv("BENCH_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.default_cache_root() == tmp_path / "xdg" / "bench" / "datasets"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache.default_cache_root() == Path.home() / ".cache" / "bench" / "datasets"


# --- hf-datasets source -------------------------------------------------------------------------


def hf_task(options: dict[str, Any], colour: str = "rgb") -> Task:
    return Task.model_validate(
        {
            "id": "deblur-hf",
            "version": 1,
            "kind": "deblur",
            "title": "hf-datasets test",
            "data": {"source": "hf-datasets", "path": "hf", "colour": colour, "options": options},
            "metric": {"colour": "rgb", "crop_border": 0},
            "latency": {"input_shape": [1, 3, 48, 64]},
        }
    )


def pairs() -> list[tuple[str, np.ndarray, np.ndarray]]:
    return [(f"pair{i}", layouts.box_blur(crop), crop) for i, crop in enumerate(layouts.scene_crops())]


def png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def expect(task: Task, root: Path, cache_root: Path) -> Iterator[Sample]:
    """The pipeline (and the cache) give the pairs as written."""
    samples = list(iter_samples(task, root))
    assert [s.id for s in samples] == [p[0] for p in pairs()]
    for sample, (_, blurred, sharp) in zip(samples, pairs(), strict=True):
        np.testing.assert_array_equal(sample.target, sharp)
        np.testing.assert_array_equal(sample.input, blurred.astype(np.float32) / 255)
    assert_same(samples, cache.iter_cached(task, root, cache_root))
    return iter(samples)


@pytest.mark.parametrize("cells", ["png-bytes", "arrays"])
def test_hf_parquet(tmp_path: Path, cells: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    encode = png if cells == "png-bytes" else (lambda a: a.tolist())
    rows = pairs()
    (tmp_path / "data/hf").mkdir(parents=True)
    for half, chunk in (("a", rows[:2]), ("b", rows[2:])):  # two files: rows keep file order
        table = pa.table(
            {
                "id": [r[0] for r in chunk],
                "blurred": [encode(r[1]) for r in chunk],
                "sharp": [encode(r[2]) for r in chunk],
            }
        )
        pq.write_table(table, tmp_path / f"data/hf/part-{half}.parquet")
    options = {"format": "parquet", "files": "part-*.parquet", "input_column": "blurred", "target_column": "sharp"}
    task = hf_task(options)
    expect(task, tmp_path / "data", tmp_path / "cache")
    source = cache.make_source(task, tmp_path / "data")
    entries = source.index()
    assert [e.target.name for e in entries] == ["part-a.parquet"] * 2 + ["part-b.parquet"] * 2
    assert source.check(entries) == []


def test_hf_arrow_folder_with_image_columns(tmp_path: Path) -> None:
    from datasets import Dataset, DatasetDict, Features, Value
    from datasets import Image as ImageFeature

    rows = pairs()
    features = Features({"id": Value("string"), "input": ImageFeature(), "target": ImageFeature()})
    data = {
        "id": [r[0] for r in rows],
        "input": [Image.fromarray(r[1]) for r in rows],
        "target": [Image.fromarray(r[2]) for r in rows],
    }
    DatasetDict({"test": Dataset.from_dict(data, features=features)}).save_to_disk(str(tmp_path / "data/hf/saved"))
    task = hf_task({"format": "arrow", "path": "saved", "split": "test"})
    expect(task, tmp_path / "data", tmp_path / "cache")
    source = cache.make_source(task, tmp_path / "data")
    assert source.check(source.index()) == []
    wrong_split = hf_task({"format": "arrow", "path": "saved", "split": "validation"})
    with pytest.raises(DataNotFound, match="split 'validation' not in"):
        cache.make_source(wrong_split, tmp_path / "data").index()


def test_hf_imagefolder_with_metadata(tmp_path: Path) -> None:
    folder = tmp_path / "data/hf"
    lines = []
    for image_id, blurred, sharp in pairs():
        write_image(folder / "blur" / f"{image_id}.png", blurred)
        write_image(folder / "sharp" / f"{image_id}.png", sharp)
        lines.append(
            {"id": image_id, "input_file_name": f"blur/{image_id}.png", "target_file_name": f"sharp/{image_id}.png"}
        )
    (folder / "metadata.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    expect(hf_task({"format": "imagefolder"}), tmp_path / "data", tmp_path / "cache")


def test_hf_check_reports_undecodable_rows(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = pairs()
    (tmp_path / "data/hf").mkdir(parents=True)
    inputs = [png(r[1]) for r in rows]
    inputs[1] = b"not an image"
    pq.write_table(
        pa.table({"id": [r[0] for r in rows], "input": inputs, "target": [png(r[2]) for r in rows]}),
        tmp_path / "data/hf/test.parquet",
    )
    source = cache.make_source(hf_task({"format": "parquet", "files": "test.parquet"}), tmp_path / "data")
    problems = source.check(source.index())
    assert len(problems) == 1 and "row 1 (pair1): cannot decode" in problems[0].message
    with pytest.raises(DataNotFound, match=r"columns \['blurred'\] not in the data set"):
        cache.make_source(hf_task({"files": "test.parquet", "input_column": "blurred"}), tmp_path / "data").index()


def test_hf_hub_offline_is_data_not_found(tmp_path: Path) -> None:
    (tmp_path / "data/hf").mkdir(parents=True)
    task = hf_task({"format": "hub", "name": "some-org/some-deblur-set", "split": "test"})
    source = cache.make_source(task, tmp_path / "data")
    with pytest.raises(DataNotFound, match=r"some-org/some-deblur-set.*offline mode is on") as caught:
        source.index()
    assert "format 'arrow'" in str(caught.value)
