"""Sample crops (bench/samples.py): window geometry, input previews, lossless PNGs, and the crops that
scoring stores through a run handle (first images only, identical to an independent computation,
not duplicated by a resume)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from bench.data.pipeline import iter_samples
from bench.plan import make_plan, result_info
from bench.results import ImageResult
from bench.runtime.protocol import LatencySettings
from bench.samples import (
    SampleCrops,
    centre_box,
    decode_png,
    encode_png,
    input_box,
    make_crops,
    raw_preview,
)
from bench.scoring import evaluate
from bench.store import RunHandle, Store
from bench.submission import load_submission
from bench.tasks import get_task
from tests.conftest import REPO

FAST = LatencySettings(warmup_runs=1, warmup_min_s=0.0, min_runs=2, min_s=0.0, max_s=5.0)
BICUBIC = REPO / "submissions" / "baselines" / "bicubic"


def _uint8(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.integers(0, 256, size=shape, dtype=np.uint8)


def _crop_of(image: np.ndarray, top: int, left: int, height: int, width: int) -> np.ndarray:
    return image[top : top + height, left : left + width]


# -- geometry ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("height", "width", "size", "scale", "box"),
    [
        (512, 512, 192, 1, (160, 160, 192, 192)),  # centred
        (344, 228, 192, 2, (76, 18, 192, 192)),  # Set5 woman x2: already multiples of 2
        (255, 255, 192, 3, (30, 30, 192, 192)),  # x3: centre 31 rounded down to 30
        (279, 279, 192, 3, (42, 42, 192, 192)),  # x3: centre 43 rounded down to 42
        (257, 301, 192, 1, (32, 54, 192, 192)),  # odd sizes, same-size task
        (257, 301, 191, 1, (33, 55, 191, 191)),  # odd window
        (100, 60, 192, 1, (0, 0, 100, 60)),  # smaller than the window: kept whole
        (150, 400, 192, 4, (0, 104, 150, 192)),  # smaller in one dimension only
    ],
)
def test_centre_box(height: int, width: int, size: int, scale: int, box: tuple[int, int, int, int]) -> None:
    assert centre_box(height, width, size, scale) == box


def test_input_box_maps_the_target_window_onto_the_input() -> None:
    assert input_box((160, 160, 192, 192), 2, 256, 256) == (80, 80, 96, 96)
    assert input_box((30, 30, 192, 192), 3, 85, 85) == (10, 10, 64, 64)
    assert input_box((31, 31, 191, 191), 3, 85, 85) == (10, 10, 64, 64)  # unaligned: the covering window
    assert input_box((0, 0, 101, 101), 2, 50, 50) == (0, 0, 50, 50)  # clipped to the input
    assert input_box((5, 7, 20, 30), 1, 64, 64) == (5, 7, 20, 30)


@pytest.mark.parametrize(("scale", "height", "width"), [(2, 344, 228), (3, 255, 255), (3, 342, 228), (4, 100, 64)])
def test_sr_crops(rng: np.random.Generator, scale: int, height: int, width: int) -> None:
    target = _uint8(rng, height, width, 3)
    lr = rng.random((height // scale, width // scale, 3), dtype=np.float32)
    output = rng.uniform(-0.1, 1.1, size=(height, width, 3)).astype(np.float32)  # out of range: clamped
    crops = make_crops(lr, output, target, scale, image_id="x", position=4)
    top, left, h, w = crops.box
    assert (h, w) == (min(192, height), min(192, width)) and top % scale == 0 and left % scale == 0
    assert (crops.image_id, crops.position) == ("x", 4)
    expected_out = np.rint(np.clip(output.astype(np.float64), 0, 1) * 255).astype(np.uint8)
    assert np.array_equal(decode_png(crops.output_png), _crop_of(expected_out, top, left, h, w))
    assert np.array_equal(decode_png(crops.target_png), _crop_of(target, top, left, h, w))
    window = lr[top // scale : (top + h) // scale, left // scale : (left + w) // scale]
    expected_in = np.rint(window.astype(np.float64) * 255)
    assert np.array_equal(decode_png(crops.input_png), expected_in.astype(np.uint8))
    assert make_crops(lr, output, target, None).box == crops.box  # the scale inferred from the shapes


def test_same_size_crops_and_images_smaller_than_the_window(rng: np.random.Generator) -> None:
    target = _uint8(rng, 121, 77, 3)
    noisy = rng.normal(0.5, 0.4, size=(121, 77, 3)).astype(np.float32)  # denoising input: not clipped
    crops = make_crops(noisy, noisy, target, None)
    assert crops.box == (0, 0, 121, 77)
    clipped = np.rint(np.clip(noisy.astype(np.float64), 0, 1) * 255).astype(np.uint8)
    assert np.array_equal(decode_png(crops.input_png), clipped)
    assert np.array_equal(decode_png(crops.output_png), clipped)
    assert np.array_equal(decode_png(crops.target_png), target)


def test_grey_images_become_one_channel_pngs(rng: np.random.Generator) -> None:
    target = _uint8(rng, 300, 200)  # a grey task: H x W target, H x W x 1 input and output
    noisy = rng.random((300, 200, 1), dtype=np.float32)
    crops = make_crops(noisy, noisy, target, None, size=64)
    top, left, h, w = crops.box
    assert crops.box == (118, 68, 64, 64)
    assert np.array_equal(decode_png(crops.target_png), _crop_of(target, top, left, h, w))
    expected = np.rint(_crop_of(noisy[..., 0], top, left, h, w).astype(np.float64) * 255).astype(np.uint8)
    assert np.array_equal(decode_png(crops.input_png), expected)
    assert np.array_equal(decode_png(crops.output_png), expected)


def test_inpainting_input_shows_its_rgb_with_holes_and_drops_the_mask(rng: np.random.Generator) -> None:
    target = _uint8(rng, 256, 256, 3)
    mask = (rng.random((256, 256, 1)) < 0.3).astype(np.float32)
    rgb = target.astype(np.float32) / 255 * (1 - mask)
    crops = make_crops(np.concatenate([rgb, mask], axis=2), target.astype(np.float32) / 255, target, None)
    assert crops.box == (32, 32, 192, 192)
    expected = np.rint(rgb[32:224, 32:224].astype(np.float64) * 255).astype(np.uint8)
    assert np.array_equal(decode_png(crops.input_png), expected)
    assert np.array_equal(decode_png(crops.output_png), target[32:224, 32:224])


def test_packed_raw_input_gets_a_green_averaged_gamma_preview(rng: np.random.Generator) -> None:
    target = _uint8(rng, 301, 402, 3)  # SID: packed input at half size (odd target sizes floor)
    packed = rng.random((150, 201, 4), dtype=np.float32)
    crops = make_crops(packed, target.astype(np.float32) / 255, target, None)
    assert crops.box == (54, 104, 192, 192)
    window = packed[27:123, 52:148].astype(np.float64)
    r, g, b = window[..., 0], (window[..., 1] + window[..., 3]) / 2, window[..., 2]
    expected = np.rint(np.stack([r, g, b], axis=-1) ** (1 / 2.2) * 255).astype(np.uint8)
    assert np.array_equal(decode_png(crops.input_png), expected)
    assert np.allclose(raw_preview(np.ones((2, 2, 4))), 1.0)


def test_png_round_trip_is_exact(rng: np.random.Generator) -> None:
    for image in (_uint8(rng, 37, 53, 3), _uint8(rng, 37, 53), np.zeros((1, 1, 3), np.uint8)):
        assert np.array_equal(decode_png(encode_png(image)), image)
    with pytest.raises(ValueError, match="uint8"):
        encode_png(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ValueError, match="same size"):
        make_crops(np.zeros((8, 8, 3)), np.zeros((8, 9, 3)), np.zeros((8, 8, 3), np.uint8))


# -- scoring with a store ----------------------------------------------------------------------------


def _expected_output_crops(task_id: str, count: int) -> list[tuple[str, np.ndarray]]:
    """The bicubic model's uint8 output, computed here in torch, cut to the centred 192 px window."""
    task = get_task(task_id)
    model = load_submission(BICUBIC).model({"scale": task.scale})
    assert isinstance(model, torch.nn.Module)
    crops = []
    for sample in list(iter_samples(task))[:count]:
        with torch.no_grad():
            out = model(torch.from_numpy(sample.input.transpose(2, 0, 1)[None].copy())).numpy()[0].transpose(1, 2, 0)
        out8 = np.rint(np.clip(out.astype(np.float64), 0, 1) * 255).astype(np.uint8)
        height, width = out8.shape[:2]
        h, w = min(192, height), min(192, width)
        top, left = (height - h) // 2 // task.scale * task.scale, (width - w) // 2 // task.scale * task.scale
        crops.append((sample.id, out8[top : top + h, left : left + w]))
    return crops


def _handle(store: Store, task_id: str, resume: bool = False) -> RunHandle:
    submission, task = load_submission(BICUBIC), get_task(task_id)
    key = make_plan(submission, task, latency=FAST).key
    return store.run(key, result_info(submission), task.id, task.version, resume=resume)


def test_scoring_stores_crops_of_the_first_three_images(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    handle = _handle(store, "sr-set5-x2")
    result = evaluate(make_plan(load_submission(BICUBIC), get_task("sr-set5-x2"), latency=FAST), checkpoint=handle)
    run_id = handle.finish(result)
    stored = store.samples(run_id)
    assert [(s.image_id, s.position) for s in stored] == [("baby", 0), ("bird", 1), ("butterfly", 2)]
    for crops, (image_id, expected) in zip(stored, _expected_output_crops("sr-set5-x2", 3), strict=True):
        assert crops.image_id == image_id and crops.box[2:] == expected.shape[:2]
        assert np.array_equal(decode_png(crops.output_png), expected)
    samples = {s.id: s for s in iter_samples(get_task("sr-set5-x2"))}
    top, left, h, w = stored[0].box
    assert stored[0].box == (160, 160, 192, 192)
    assert np.array_equal(decode_png(stored[0].target_png), samples["baby"].target[top : top + h, left : left + w])
    assert decode_png(stored[0].input_png).shape == (96, 96, 3)
    detail = store.run_detail(run_id)
    assert detail is not None and [s["image_id"] for s in detail["samples"]] == ["baby", "bird", "butterfly"]
    assert sum(s.nbytes for s in stored) < 600_000  # 3 images x 3 PNGs of 192 px: about 370 kB (docs/results.md)

    store.add(result.model_copy(update={"provenance": result.provenance.model_copy(update={"run_key": "other"})}))
    assert store.count() == 2 and len(store.results()) == 2
    whole = next(r for r in store.runs_of("bicubic") if r["run_id"] != run_id)["run_id"]
    assert store.samples(whole) == []  # a Result stored whole has no samples


def test_samples_zero_keeps_none(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    handle = _handle(store, "sr-set5-x3")
    result = evaluate(
        make_plan(load_submission(BICUBIC), get_task("sr-set5-x3"), latency=FAST, samples=0), checkpoint=handle
    )
    assert store.samples(handle.finish(result)) == []


class _Interrupt(Exception):
    pass


class _StopAfter:
    """A checkpoint that passes records on to a run handle and interrupts the run after ``count``."""

    def __init__(self, handle: RunHandle, count: int) -> None:
        self.handle, self.count = handle, count
        self.done = handle.done

    def record(self, position: int, image: ImageResult, sample: SampleCrops | None = None) -> None:
        self.handle.record(position, image, sample)
        if len(self.handle.done) >= self.count:
            raise _Interrupt


def test_resume_neither_duplicates_nor_loses_samples(tmp_path: Path) -> None:
    submission, task = load_submission(BICUBIC), get_task("sr-set5-x2")
    reference_store = Store(f"sqlite:///{tmp_path / 'reference.db'}")
    reference = _handle(reference_store, task.id)
    reference_id = reference.finish(evaluate(make_plan(submission, task, latency=FAST), checkpoint=reference))

    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    with pytest.raises(_Interrupt):
        evaluate(make_plan(submission, task, latency=FAST), checkpoint=_StopAfter(_handle(store, task.id), 2))
    resumed = _handle(store, task.id, resume=True)
    assert list(resumed.done) == ["baby", "bird"]
    assert resumed.run_id is not None and len(store.samples(resumed.run_id)) == 2
    run_id = resumed.finish(evaluate(make_plan(submission, task, latency=FAST), checkpoint=resumed))
    assert store.samples(run_id) == reference_store.samples(reference_id)  # same crops, once each
    assert [s.position for s in store.samples(run_id)] == [0, 1, 2]
