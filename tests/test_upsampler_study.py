"""scripts/upsampler_study.py: the multi-seed table's arithmetic, and a tiny study end to end (CPU, seconds)."""

from __future__ import annotations

import functools
import importlib.util
import json
import math
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parent.parent


@functools.cache
def study() -> ModuleType:
    """The script as a module (registered in sys.modules: its dataclass needs that)."""
    spec = importlib.util.spec_from_file_location("upsampler_study", REPO / "scripts" / "upsampler_study.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def record(arm: str, seed: int, set5: float, set14: float) -> dict[str, object]:
    return {"arm": arm, "seed": seed, "params": 1000, "macs": 2.5e9, "sr-set5-x2": set5, "sr-set14-x2": set14}


def test_table_means_sample_sd_and_paired_differences() -> None:
    records = [
        record("conv", 0, 30.0, 28.0), record("conv", 1, 31.0, 29.0), record("conv", 2, 32.0, 27.0),
        record("dsconv", 0, 29.5, 27.0), record("dsconv", 1, 31.5, 28.0), record("dsconv", 2, 30.0, 27.0),
        record("resize-list", 0, 30.5, 28.5), record("resize-list", 1, 31.0, 29.5),
    ]  # fmt: skip
    lines = study().table(records, ["sr-set5-x2", "sr-set14-x2"])
    rows = {line.split(" | ")[0].lstrip("| "): line for line in lines if line.startswith("| ")}
    # conv Set5: mean 31, sample sd 1; Set14: mean 28, sd 1
    assert "| conv | 1,000 | 2.50 | 31.000 ± 1.000 | 28.000 ± 1.000 | 30.000, 31.000, 32.000 |" in lines
    # dsconv - conv per seed: -0.5, +0.5, -2.0 -> mean -0.667, sd sqrt(((1/6)^2 + (7/6)^2 + (4/3)^2) / 2) = 1.258
    sd = math.sqrt(((-0.5 + 2 / 3) ** 2 + (0.5 + 2 / 3) ** 2 + (-2.0 + 2 / 3) ** 2) / 2)
    assert rows["dsconv - conv"].startswith(f"| dsconv - conv | -0.667 ± {sd:.3f} |")
    assert rows["dsconv - conv"].endswith("dsconv higher in 1 of 3 |")
    # resize-list has seeds 0 and 1 only: its pairs use those (-1.0 and +0.5 against dsconv)
    assert rows["dsconv - resize-list"].startswith("| dsconv - resize-list | -0.250 ± 1.061 |")
    assert rows["dsconv - resize-list"].endswith("dsconv higher in 1 of 2 |")


def test_a_tiny_study_trains_scores_and_resumes(
    train_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BENCH_TRAIN_DATA", str(train_folder))
    out = tmp_path / "study"
    argv = ["--blocks", "1", "--feats", "4", "--steps", "2", "--patch", "8", "--batch", "2", "--seeds", "0", "1",
            "--jobs", "1", "--out", str(out)]  # fmt: skip
    assert study().main(argv) == 0
    results = sorted(out.glob("*/result.json"))
    assert [p.parent.name for p in results] == [f"{arm}-seed{s}" for arm in ("conv", "dsconv", "resize-list")
                                                for s in (0, 1)]  # fmt: skip
    first = {p.parent.name: json.loads(p.read_text()) for p in results}
    assert all(math.isfinite(r["sr-set5-x2"]) and r["steps"] == 2 for r in first.values())
    # same seed, same body: the arms differ only in the upsampler, so their sizes differ as the docstring says
    assert first["conv-seed0"]["params"] > first["dsconv-seed0"]["params"]
    recipe = (out / "dsconv-seed1" / "recipe.yaml").read_text()
    assert "name: edsr-dsconv" in recipe and "seed: 1" in recipe and "validation: null" in recipe
    table = (out / "study.md").read_text()
    assert "| dsconv - conv |" in table and "of 2 |" in table
    capsys.readouterr()
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*.safetensors")}
    assert study().main(argv) == 0  # finished runs are read back, not retrained
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.safetensors")} == stamps
    assert (out / "study.md").read_text() == table
