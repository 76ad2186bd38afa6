"""``bench train``: recipes, the patch sampler, the loop end to end, bit-identical resume, export, errors.

Every run here uses a tiny training folder built by the ``train_folder`` fixture and validation
tasks with embedded data: nothing reads ../shared.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import load_file

from bench.cli import main
from bench.submission import load_submission
from bench.training import RecipeError, TrainingError, TrainOptions, load_recipe, train
from bench.training.checkpoint import CheckpointError, latest_checkpoint, sha256_file
from bench.training.data import ImageCache, PatchSampler, TrainingDataError
from bench.training.loop import bf16_supported, learning_rate, loss_function, luma
from bench.training.recipe import parse_recipe

REPO = Path(__file__).resolve().parent.parent
TINY = REPO / "recipes" / "tiny-dncnn.yaml"
TINY_SR = REPO / "recipes" / "tiny-fsrcnn-x2.yaml"


def tiny(path: Path = TINY, **changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load(path.read_text())
    raw.update(changes)
    return raw


def all_tensors(path: Path) -> dict[str, torch.Tensor]:
    return {k: v for k, v in load_file(str(path)).items() if not k.startswith("rng.")}


def test_every_shipped_recipe_is_valid() -> None:
    names = sorted(p.stem for p in (REPO / "recipes").glob("*.yaml"))
    for name in names:
        assert load_recipe(REPO / "recipes" / f"{name}.yaml").name == name
    assert {"fsrcnn-x2", "espcn-x2", "edsr-baseline-x2", "edsr-dsconv-x2", "edsr-resize-list-x2", "dncnn-color-s25",
            "dncnn-list-color-s25", "unet-deblur", "sid-unet", "sid-unet-srgb", "inpaint"} <= set(names)  # fmt: skip


def test_tiny_recipe_trains_end_to_end_and_exports_a_loadable_submission(train_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = train(load_recipe(TINY), TrainOptions(out, data_folder=train_folder, command="bench train tiny"))
    assert result.finished and result.step == 6 and result.loss is not None
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines if "loss" in r] == [2, 4, 6]
    assert [r["step"] for r in lines if "validation" in r] == [3, 6]
    assert all(r["validation"] == "denoise-demo-s25" and 5 < r["psnr"] < 60 for r in lines if "validation" in r)
    names = sorted(p.name for p in (out / "checkpoints").iterdir())
    assert names == [f"step-0000000{s}.{ext}" for s in (3, 6) for ext in ("json", "safetensors")]
    folder = result.submission
    assert folder is not None
    submission = load_submission(folder)
    assert submission.manifest.architecture is not None
    assert submission.manifest.architecture.name == "dncnn" and "trained" in submission.manifest.tags
    assert "img0.png" not in (submission.manifest.training_data or "") and "3 images" in (
        submission.manifest.training_data or ""
    )
    model = submission.build({})
    assert model(torch.rand(1, 3, 20, 20)).shape == (1, 3, 20, 20)
    card = (folder / "MODEL_CARD.md").read_text()
    assert sha256_file(folder / "model.safetensors") in card
    assert (folder / "training-metrics.jsonl").read_text() == (out / "metrics.jsonl").read_text()
    for fact in ("bench train tiny", "wall time", "hardware", "parameters | 1,024", "MACs", "patch_size: 16"):
        assert fact in card


def test_resume_gives_bit_identical_weights(train_folder: Path, tmp_path: Path) -> None:
    recipe = load_recipe(TINY)
    whole = train(recipe, TrainOptions(tmp_path / "whole", data_folder=train_folder, export=False))
    first = train(recipe, TrainOptions(tmp_path / "split", data_folder=train_folder, stop_after=4))
    assert not first.finished and first.step == 4 and first.submission is None
    second = train(recipe, TrainOptions(tmp_path / "split", data_folder=train_folder, resume=True, export=False))
    assert second.finished
    assert whole.checkpoint is not None and second.checkpoint is not None
    a, b = all_tensors(whole.checkpoint), all_tensors(second.checkpoint)
    assert a.keys() == b.keys() and any(k.startswith("optim.") for k in a)
    for key in a:
        assert torch.equal(a[key], b[key]), key
    logged = [json.loads(line)["step"] for line in (tmp_path / "split" / "metrics.jsonl").read_text().splitlines()]
    assert logged == [2, 3, 4, 6, 6]  # the resumed session appends after step 4, no duplicates


def test_resume_refuses_another_recipe_and_a_fresh_run_refuses_old_checkpoints(
    train_folder: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    train(load_recipe(TINY), TrainOptions(out, data_folder=train_folder, stop_after=3))
    with pytest.raises(TrainingError, match="already holds checkpoints"):
        train(load_recipe(TINY), TrainOptions(out, data_folder=train_folder))
    changed = parse_recipe(tiny(seed=5))
    with pytest.raises(CheckpointError, match="different recipe"):
        train(changed, TrainOptions(out, data_folder=train_folder, resume=True))
    checkpoint = latest_checkpoint(out)
    assert checkpoint is not None
    damaged = bytearray(checkpoint.tensors.read_bytes())
    damaged[-3] ^= 0xFF
    checkpoint.tensors.write_bytes(bytes(damaged))
    with pytest.raises(CheckpointError, match="sha256"):
        train(load_recipe(TINY), TrainOptions(out, data_folder=train_folder, resume=True))


def test_sr_recipe_through_the_cli(train_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sr"
    code = main(["train", str(TINY_SR), "--out", str(out), "--data", str(train_folder), "--quiet"])
    assert code == 0, capsys.readouterr().err
    assert "finished at step 4/4" in capsys.readouterr().out
    submission = load_submission(out / "submission")
    assert submission.manifest.tasks == ["sr-*-x2"] and submission.manifest.architecture is not None
    assert submission.manifest.architecture.args["scale"] == 2  # the task's scale is written out
    assert submission.build({"scale": 2})(torch.rand(1, 3, 8, 8)).shape == (1, 3, 16, 16)


def test_packed_raw_recipe_with_a_degradation_override(train_folder: Path, tmp_path: Path) -> None:
    raw = tiny(
        name="tiny-sid", task="lowlight-demo", architecture={"name": "sid-unet", "args": {"width": 4, "levels": 2}},
        data={"patch_size": 8, "batch_size": 2, "degradation": {"name": "low-light-raw", "params": {"exposure": 0.1}}},
        schedule={"steps": 2}, validation={"task": "lowlight-demo", "images": 1, "every": 2},
    )  # fmt: skip
    result = train(parse_recipe(raw), TrainOptions(tmp_path / "sid", data_folder=train_folder))
    assert result.validation is not None and result.submission is not None
    card = (result.submission / "MODEL_CARD.md").read_text()
    assert "at input 1x4x128x128" in card  # the packed input that gives lowlight-demo's 256x256 output


def test_patch_sampler_is_a_pure_function_of_seed_and_index(train_folder: Path) -> None:
    cache = ImageCache.load(train_folder)
    recipe = parse_recipe(tiny(TINY_SR))
    sampler = PatchSampler(cache, recipe.degradation(), 8, recipe.data.augmentation, 3, 16)
    again = PatchSampler(cache, recipe.degradation(), 8, recipe.data.augmentation, 3, 16)
    x5, y5 = sampler.pair(5)
    assert sampler.ratio == 2 and x5.shape == (3, 8, 8) and y5.shape == (3, 16, 16)
    assert all(torch.equal(a, b) for a, b in zip(again.pair(5), (x5, y5), strict=True))
    assert not torch.equal(sampler.pair(6)[1], y5)
    assert sorted(sampler.image_index(i) for i in range(15)) == [0] * 5 + [1] * 5 + [2] * 5  # balanced per epoch
    raw = PatchSampler(cache, ("low-light-raw", {}), 8, recipe.data.augmentation, 0, 16)
    xr, yr = raw.pair(0)
    assert raw.ratio == 2 and xr.shape == (4, 8, 8) and yr.shape == (3, 16, 16)
    grey = parse_recipe(tiny(task="denoise-set12-s25", architecture={"name": "dncnn", "args": {"channels": 1}}))
    grey_cache = ImageCache.load(train_folder, "grey")
    xg, yg = PatchSampler(grey_cache, grey.degradation(), 8, grey.data.augmentation, 0, 16, "grey").pair(0)
    assert xg.shape == yg.shape == (1, 8, 8)
    with pytest.raises(TrainingDataError, match="smaller than"):
        PatchSampler(cache, recipe.degradation(), 40, recipe.data.augmentation, 0, 16)


def test_prescale_downscales_every_photo_once_with_the_matlab_bicubic(train_folder: Path, tmp_path: Path) -> None:
    from bench.data.resize import imresize  # checked bit-exactly against MATLAB's Set5 LR files elsewhere

    plain, half = ImageCache.load(train_folder), ImageCache.load(train_folder, "rgb", 0.5)
    for image, small in zip(plain.images, half.images, strict=True):
        assert small.shape == (36, 44, 3) and small.dtype == np.uint8
        assert np.array_equal(small, imresize(image, 0.5))
        assert np.abs(small.astype(int) - image[::2, ::2]).mean() > 1  # averaged, not subsampled
    assert ImageCache.load(train_folder, "grey", 0.5).images[0].shape == (36, 44)
    with pytest.raises(TrainingDataError, match=r"or raise data\.prescale"):
        PatchSampler(half, ("matlab-bicubic-down", {"scale": 2}), 20, parse_recipe(tiny()).data.augmentation, 0, 16)
    raw = tiny(TINY_SR)
    raw["data"] = {**raw["data"], "prescale": 0.5}
    result = train(parse_recipe(raw), TrainOptions(tmp_path / "half", data_folder=train_folder))
    assert result.submission is not None
    assert "each downscaled x0.5 first" in (result.submission / "MODEL_CARD.md").read_text()
    assert yaml.safe_load((result.submission / "recipe.yaml").read_text())["data"]["prescale"] == 0.5


def test_schedule() -> None:
    recipe = parse_recipe(tiny(schedule={"steps": 10, "kind": "cosine", "warmup_steps": 2, "min_lr": 1e-5}))
    lrs = [learning_rate(recipe.optimizer, recipe.schedule, s) for s in range(10)]
    assert lrs[:3] == pytest.approx([5e-4, 1e-3, 1e-3])
    assert all(a >= b for a, b in pairwise(lrs[2:])) and lrs[-1] > 1e-5
    step = parse_recipe(tiny(schedule={"steps": 10, "kind": "step", "milestones": [4, 8], "gamma": 0.1}))
    assert [learning_rate(step.optimizer, step.schedule, s) for s in (0, 3, 4, 8)] == pytest.approx(
        [1e-3, 1e-3, 1e-4, 1e-5]
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"optimiser": {"lr": 1}}, "unknown key 'optimiser'"),
        ({"loss": "ssim"}, "loss: Input should be"),
        ({"architecture": {"name": "resnet"}}, "unknown architecture 'resnet'"),
        ({"architecture": {"name": "dncnn", "args": {"depth": 3}}}, "bad arguments for architecture 'dncnn'"),
        ({"task": "no-such-task"}, "unknown task 'no-such-task'"),
        ({"task": "deblur-gopro"}, "reads its inputs from files"),
        ({"schedule": {"steps": 10, "kind": "step"}}, "kind step needs milestones"),
        ({"schedule": {"steps": 10, "milestones": [12]}}, "milestones must be increasing"),
        ({"data": {"patch_size": 16, "batch_size": 4, "degradation": {"name": "fog"}}}, "unknown degradation 'fog'"),
        ({"data": {"patch_size": 16, "batch_size": 4, "prescale": 1.5}}, "prescale: Input should be less than 1"),
        (
            {
                "task": "denoise-bsd68-s25",
                "architecture": {"name": "dncnn", "args": {"channels": 1}},
                "loss_space": "y",
            },
            "loss_space y needs an RGB task",
        ),
    ],
)
def test_bad_recipes_fail_with_a_clear_message(change: dict[str, Any], message: str) -> None:
    with pytest.raises(RecipeError, match=message):
        parse_recipe(tiny(**change))


def test_luma_loss_space_matches_skimage_ycbcr() -> None:
    """The training loss's luma is skimage's rgb2ycbcr Y (MATLAB's convention), on [0, 1] instead of [0, 255]."""
    from skimage.color import rgb2ycbcr

    rgb = np.random.default_rng(3).random((2, 3, 5, 7))
    expected = np.stack([rgb2ycbcr(image.transpose(1, 2, 0))[..., 0] / 255.0 for image in rgb])[:, None]
    assert np.abs(luma(torch.from_numpy(rgb)).numpy() - expected).max() < 1e-12
    out, target = torch.from_numpy(rgb[:1]), torch.from_numpy(rgb[1:])
    y_mse = float(((expected[0] - expected[1]) ** 2).mean())
    assert float(loss_function("l2", "y")(out, target)) == pytest.approx(y_mse)
    assert float(loss_function("l1", "rgb")(out, target)) == pytest.approx(float(np.abs(rgb[0] - rgb[1]).mean()))


def test_channels_last_and_cpu_bf16_train_the_same_model(train_folder: Path, tmp_path: Path) -> None:
    """NHWC batches change only the conv kernels' order of summation; CPU bf16 autocast stays near fp32.

    The bf16 arm trains where oneDNN has native bf16 (AVX512-BF16 or AMX, as on the CI machine);
    elsewhere it must be refused with the error that says why. The fp32 channels_last arm runs everywhere.
    """

    def run(out: str, **changes: Any) -> tuple[dict[str, torch.Tensor], list[float]]:
        options = TrainOptions(tmp_path / out, data_folder=train_folder, export=False)
        result = train(parse_recipe(tiny(**changes)), options)
        assert result.finished and result.checkpoint is not None
        lines = [json.loads(line) for line in (tmp_path / out / "metrics.jsonl").read_text().splitlines()]
        weights = {k: v for k, v in all_tensors(result.checkpoint).items() if k.startswith("model.")}
        return weights, [r["loss"] for r in lines if "loss" in r]

    plain, plain_loss = run("plain")
    nhwc, nhwc_loss = run("nhwc", memory_format="channels_last")
    assert nhwc_loss == pytest.approx(plain_loss, rel=1e-5)
    assert plain.keys() == nhwc.keys() and plain
    for key in plain:
        torch.testing.assert_close(nhwc[key], plain[key], rtol=1e-4, atol=1e-5, msg=key)
    if not bf16_supported(torch.device("cpu")):  # then bf16 is refused before anything is written
        with pytest.raises(TrainingError, match="needs a CUDA device or a CPU with native bf16"):
            run("bf16", memory_format="channels_last", precision="bf16")
        assert not (tmp_path / "bf16").exists()
        return
    half, half_loss = run("bf16", memory_format="channels_last", precision="bf16")
    assert half_loss == pytest.approx(plain_loss, rel=5e-3)  # bf16 keeps ~3 significant digits
    assert half_loss != plain_loss and any(not torch.equal(plain[k], half[k]) for k in plain)  # bf16 really ran


def test_cli_reports_user_errors_in_one_paragraph(
    train_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(tiny(architecture={"name": "resnet"})))
    assert main(["train", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "unknown architecture 'resnet'" in capsys.readouterr().err
    assert main(["train", str(TINY), "--out", str(tmp_path / "o"), "--data", str(tmp_path / "none")]) == 2
    assert "training data folder not found" in capsys.readouterr().err
    monkeypatch.setattr("bench.training.loop.bf16_supported", lambda device: False)  # a CPU without bf16
    assert main(["train", str(TINY), "--out", str(tmp_path / "o"), "--precision", "bf16", "--device", "cpu"]) == 2
    assert "needs a CUDA device or a CPU with native bf16" in capsys.readouterr().err
    monkeypatch.undo()
    assert main(["train", str(tmp_path / "missing.yaml")]) == 2
    assert "recipe file not found" in capsys.readouterr().err
    assert main(["train", "espcn-x2", "--steps", "100", "--out", str(tmp_path / "o")]) == 2  # warm-up 500 steps
    assert "with steps=100: schedule: Value error, warmup_steps (500) must be below steps" in capsys.readouterr().err
    assert load_recipe("tiny-dncnn") == load_recipe(TINY)  # shipped recipes by name


def test_training_path_needs_no_converters_and_runs_as_a_module(train_folder: Path, tmp_path: Path) -> None:
    """``python -m bench.training`` imports no ONNX / LiteRT / TensorFlow / database code (bare GPU machines)."""
    heavy = ["onnx", "onnxruntime", "litert_torch", "ai_edge_litert", "tensorflow", "sqlalchemy", "streamlit", "rawpy"]
    argv = [
        "bench.training",
        str(TINY),
        "--out",
        str(tmp_path / "m"),
        "--data",
        str(train_folder),
        "--steps",
        "2",
        "--quiet",
    ]
    probe = textwrap.dedent(f"""
        import runpy, sys
        sys.argv = {argv!r}
        try:
            runpy.run_module("bench.training", run_name="__main__")
        except SystemExit as exit:
            assert exit.code == 0, exit.code
        loaded = sorted({{m.split(".")[0] for m in sys.modules}} & {set(heavy)!r})
        assert not loaded, loaded
    """)
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "finished at step 2/2" in done.stdout
    assert (tmp_path / "m" / "submission" / "MODEL_CARD.md").is_file()
