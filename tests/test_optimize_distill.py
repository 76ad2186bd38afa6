"""Distillation in the optimisers' fine-tuning (``bench optimize prune --distill``).

The loss mix is checked against a hand computation on the very batch the fine-tune draws, and
the pruning search's control against its documented fixed point: distilled toward itself at
w = 1, the unpruned baseline gets zero gradients and stays bit for bit the same. The baseline is
the tiny EDSR that ``bench train`` trains in the conftest (no ../shared, no GPU).
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch

from bench.cli import main
from bench.optimize.finetune import TrainingSide
from bench.optimize.lightweight import baseline_recipe
from bench.optimize.prune import PruneSettings
from bench.optimize.prune_run import run_prune
from bench.submission import load_submission
from bench.training.loop import loss_function

FAST: dict[str, Any] = {"finetune_steps": 1, "final_steps": 1}


def _side_and_model(baseline: Path, train_folder: Path) -> tuple[TrainingSide, torch.nn.Module]:
    submission = load_submission(baseline)
    recipe = baseline_recipe(submission, None)
    side = TrainingSide.from_recipe(recipe, train_folder, validation_images=1, crop=32, device="cpu")
    return side, submission.build({"scale": 2}).eval()


@pytest.mark.parametrize("weight", [0.0, 0.3, 1.0])
def test_the_loss_mixes_ground_truth_and_teacher_by_the_weight(
    sr_baseline: Path, train_folder: Path, weight: float
) -> None:
    side, model = _side_and_model(sr_baseline, train_folder)
    torch.manual_seed(1)
    teacher = copy.deepcopy(model)
    with torch.no_grad():
        for p in teacher.parameters():
            p.add_(0.05 * torch.randn_like(p))  # a teacher that differs from the model
    pairs = [side.sampler.pair(i) for i in range(side.recipe.data.batch_size)]  # the first step's batch
    x, y = torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])
    loss = loss_function(side.recipe.loss, side.recipe.loss_space)
    with torch.no_grad():
        out = model(x)
        to_truth, to_teacher = float(loss(out, y)), float(loss(out, teacher(x)))
    assert to_truth != pytest.approx(to_teacher, rel=1e-3)  # so the weight matters
    reported = side.finetune(model, 1, lr=0.0, teacher=teacher, distill=weight)  # lr 0: reports, changes nothing
    assert reported == pytest.approx((1 - weight) * to_truth + weight * to_teacher, rel=1e-5)


def test_bad_weights_and_a_missing_teacher_are_refused(sr_baseline: Path, train_folder: Path) -> None:
    side, model = _side_and_model(sr_baseline, train_folder)
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        side.finetune(model, 1, 1e-4, teacher=model, distill=1.5)
    with pytest.raises(ValueError, match="needs a teacher"):
        side.finetune(model, 1, 1e-4, distill=0.5)


def test_distilled_prune_keeps_the_control_at_the_baseline(
    sr_baseline: Path, train_folder: Path, tmp_path: Path
) -> None:
    settings = PruneSettings(tolerance_db=100.0, multiple=4, q_start=50.0, q_step=50.0, max_rounds=1,
                             finetune_steps=2, final_steps=3, control=True, distill=1.0)  # fmt: skip
    outcome, folder = run_prune(sr_baseline, "sr-set5-x2", tmp_path / "p", settings, device=None,
                                data_folder=train_folder, validation_images=1, validation_crop=32)  # fmt: skip
    assert outcome.rounds[1].accepted and outcome.after["macs"] < outcome.before["macs"]
    assert outcome.control_psnr == outcome.baseline_psnr  # zero loss against itself: not one weight moved
    assert outcome.final_psnr != outcome.baseline_psnr  # the pruned model did train, toward the teacher
    assert '"distill": 1.0' in (folder / "MODEL_CARD.md").read_text()


def test_cli_takes_and_checks_the_weight(
    sr_baseline: Path, train_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["optimize", "prune", str(sr_baseline), "--task", "sr-set5-x2", "--out", str(tmp_path / "o"),
            "--device", "none", "--data", str(train_folder), "--held-out", "1", "--held-out-crop", "32",
            "--q-start", "1e3", "--rounds", "1", "--finetune-steps", "1", "--final-steps", "1", "-g", "4",
            "--tolerance", "99"]  # fmt: skip
    assert main([*argv, "--distill", "0.5"]) == 0
    assert "pruned submission" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main([*argv, "--force", "--distill", "2"])
    assert "must be between 0 and 1" in capsys.readouterr().err


def _worse_copy(baseline: Path, folder: Path) -> Path:
    """The baseline's submission with noisy weights: a reference model that scores far lower."""
    from safetensors.torch import load_file, save_file

    shutil.copytree(baseline, folder)
    weights = folder / "model.safetensors"
    assert load_submission(folder).manifest.files.weights == weights.name
    generator = torch.Generator().manual_seed(3)
    state = {k: v + 0.2 * torch.randn(v.shape, generator=generator) for k, v in load_file(str(weights)).items()}
    save_file(state, str(weights))
    return folder


def test_a_reference_model_sets_the_bar_and_the_teacher(sr_baseline: Path, train_folder: Path, tmp_path: Path) -> None:
    worse = _worse_copy(sr_baseline, tmp_path / "worse")
    settings = PruneSettings(tolerance_db=0.0, multiple=4, q_start=1e3, q_step=50.0, max_rounds=1, **FAST)
    common: dict[str, Any] = {"device": None, "data_folder": train_folder, "validation_images": 1}
    common["validation_crop"] = 32
    alone, _ = run_prune(sr_baseline, "sr-set5-x2", tmp_path / "a", settings, **common)
    assert not alone.rounds[1].accepted and alone.reference_psnr is None  # every channel to g: a drop
    judged, folder = run_prune(sr_baseline, "sr-set5-x2", tmp_path / "b", settings, reference_folder=worse,
                               **common)  # fmt: skip
    assert judged.reference_psnr is not None and judged.reference_psnr < judged.baseline_psnr - 1
    assert judged.rounds[1].accepted  # the same cut clears the far lower bar of the reference
    report = json.loads((folder / "prune-report.json").read_text())
    assert report["reference"] == str(worse) and report["reference_psnr"] == judged.reference_psnr
    assert "against the reference" in (folder / "MODEL_CARD.md").read_text()
    # Distilled with a control, the control now learns the reference's function, not its own: it moves.
    taught = PruneSettings(tolerance_db=100.0, multiple=4, q_start=1e3, max_rounds=1, finetune_steps=2,
                           final_steps=2, control=True, distill=1.0)  # fmt: skip
    outcome, _ = run_prune(sr_baseline, "sr-set5-x2", tmp_path / "c", taught, reference_folder=worse,
                           **common)  # fmt: skip
    assert outcome.control_psnr is not None and outcome.control_psnr < outcome.baseline_psnr
