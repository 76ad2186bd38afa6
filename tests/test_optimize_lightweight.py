"""``bench optimize lightweight``: the rewrite registry, the derived recipe, a real (tiny) retraining, errors.

The baseline is a tiny DnCNN trained here by ``bench train`` on the ``train_folder`` photos, so the
test needs neither ../shared nor a GPU.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from bench.cli import main
from bench.errors import OptimizeError
from bench.models import MODELS, build_model
from bench.optimize.lightweight import REWRITES, plan_lightweight
from bench.submission import load_submission
from bench.tasks import get_task
from bench.training import TrainingError, TrainOptions, train
from bench.training.init import load_initial_weights
from bench.training.recipe import load_recipe
from tests.conftest import REPO

TINY = REPO / "recipes" / "tiny-dncnn.yaml"
SMALL_INPUT = {"dncnn": (1, 3, 16, 16), "fsrcnn": (1, 3, 10, 12), "edsr-baseline": (1, 3, 10, 12),
               "unet-mobile": (1, 3, 16, 16), "inpaint-dilated": (1, 4, 16, 16)}  # fmt: skip


@pytest.fixture
def baseline(train_folder: Path, tmp_path: Path) -> Path:
    """A trained tiny DnCNN submission folder (with its recipe.yaml), as bench train writes it."""
    recipe = load_recipe(TINY)
    result = train(recipe, TrainOptions(out_dir=tmp_path / "base-run", data_folder=train_folder))
    assert result.submission is not None
    return result.submission


@pytest.mark.parametrize("name", sorted(SMALL_INPUT))
def test_every_rewrite_is_a_smaller_drop_in_model(name: str) -> None:
    rewrite = REWRITES[name]
    assert rewrite.baseline in MODELS and rewrite.variant in MODELS
    shape = SMALL_INPUT[name]
    base = build_model(name, {}, {"scale": 2}).eval()
    light = build_model(rewrite.variant, rewrite.variant_args({}), {"scale": 2}).eval()
    x = torch.rand(*shape)
    with torch.no_grad():
        assert light(x).shape == base(x).shape
    ratio = sum(p.numel() for p in base.parameters()) / sum(p.numel() for p in light.parameters())
    assert ratio > 1.8, f"{name}: only {ratio:.2f}x fewer parameters"


def test_rewrites_cover_the_registered_lightweight_variants() -> None:
    assert set(SMALL_INPUT) == set(REWRITES)
    variants = {r.variant for r in REWRITES.values()}
    assert {n for n in MODELS if n.endswith("-list") and not n.startswith("edsr-resize")} == variants


def test_plan_derives_the_recipe_from_the_baseline(baseline: Path) -> None:
    plan = plan_lightweight(baseline, steps=4)
    base_recipe = yaml.safe_load((baseline / "recipe.yaml").read_text())
    assert plan.recipe.architecture.name == "dncnn-list"
    manifest = yaml.safe_load((baseline / "submission.yaml").read_text())
    assert plan.recipe.architecture.args == manifest["architecture"]["args"] == {"num_layers": 3, "features": 8}
    assert plan.recipe.data.model_dump() == base_recipe["data"] and plan.recipe.seed == base_recipe["seed"]
    assert plan.recipe.schedule.steps == 4 and plan.recipe.init is None
    assert plan.recipe.export.derived_from == "tiny-dncnn" and "lightweight" in plan.recipe.export.tags
    assert plan.before["params"] > plan.after["params"] and plan.before["macs"] > plan.after["macs"]
    assert plan.before["input_shape"] == list(get_task("denoise-demo-s25").latency.input_shape) == [1, 3, 256, 256]
    assert (plan.recipe.precision, plan.recipe.memory_format) == ("fp32", "contiguous")  # the baseline's
    cpu = plan_lightweight(baseline, steps=4, precision="bf16", memory_format="channels_last").recipe
    assert (cpu.precision, cpu.memory_format, cpu.schedule.steps) == ("bf16", "channels_last", 4)


def test_warm_start_copies_exactly_the_matching_tensors(baseline: Path) -> None:
    plan = plan_lightweight(baseline, warm_start=True)
    assert plan.recipe.init is not None and plan.recipe.init.match == "matching"
    torch.manual_seed(0)
    model = build_model("dncnn-list", plan.recipe.architecture.args, {})
    report = load_initial_weights(model, plan.recipe.init.weights, "matching")
    state, own = load_file(str(baseline / "model.safetensors")), model.state_dict()
    same = {k for k in own if k in state and own[k].shape == state[k].shape}
    assert report.copied == len(same) > 0 and report.total == len(own)
    assert all(torch.equal(own[k], state[k]) for k in same)  # first and last conv, batch norms
    with pytest.raises(ValueError, match="does not fit the architecture"):
        load_initial_weights(model, baseline, "all")


def test_cli_retrains_and_writes_a_derived_submission(
    baseline: Path, train_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "light"
    argv = ["optimize", "lightweight", str(baseline), "--steps", "4", "--out", str(out), "--work",
            str(tmp_path / "work"), "--data", str(train_folder), "--quiet", "--warm-start"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "dncnn-list" in printed and "fewer" in printed and str(out) in printed
    submission = load_submission(out)
    manifest = submission.manifest
    assert manifest.architecture is not None and manifest.architecture.name == "dncnn-list"
    assert manifest.derived_from == "tiny-dncnn" and manifest.name == "tiny-dncnn-lightweight"
    assert "lightweight" in manifest.tags
    report = json.loads((out / "lightweight.json").read_text())
    assert report["steps"] == 4 and report["warm_start"] and report["params_ratio"] > 1.5
    card = (out / "MODEL_CARD.md").read_text()
    assert "| initialised from |" in card and "match matching" in card
    model = submission.build({})
    with torch.no_grad():
        assert model(torch.rand(1, 3, 20, 20)).shape == (1, 3, 20, 20)
    assert main(argv) == 2  # the output exists: refused without --force, nothing overwritten
    assert "already exists" in capsys.readouterr().err
    assert load_submission(out).manifest.name == "tiny-dncnn-lightweight"


def test_clear_errors(baseline: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(OptimizeError, match="no lightweight rewrite for architecture 'bicubic'"):
        plan_lightweight(REPO / "submissions" / "baselines" / "bicubic")
    bare = tmp_path / "bare"
    shutil.copytree(baseline, bare)
    (bare / "recipe.yaml").unlink()
    with pytest.raises(OptimizeError, match=r"has no recipe\.yaml"):
        plan_lightweight(bare)
    assert plan_lightweight(bare, recipe_path=TINY).recipe.architecture.name == "dncnn-list"
    assert main(["optimize", "lightweight", str(tmp_path / "missing")]) == 2
    assert "missing" in capsys.readouterr().err
    assert main(["optimize", "lightweight", "--list"]) == 0
    assert "edsr-baseline -> edsr-list" in capsys.readouterr().out


def test_training_init_errors_are_training_errors(train_folder: Path, tmp_path: Path) -> None:
    raw = yaml.safe_load(TINY.read_text())
    raw["init"] = {"weights": str(tmp_path / "nothing.safetensors")}
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(TrainingError, match="neither a safetensors file nor a submission folder"):
        train(load_recipe(path), TrainOptions(out_dir=tmp_path / "run", data_folder=train_folder))
