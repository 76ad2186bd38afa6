"""Per-layer latency tables: decomposition, the prediction formula, filling, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from bench.cli import main
from bench.runtime.devices import get_device
from bench.runtime.layer_table import OVERHEAD, LatencyTable, decompose, fill, predict
from bench.runtime.protocol import LatencySettings

FAST = LatencySettings(warmup_runs=1, warmup_min_s=0, min_runs=3, min_s=0, stable_blocks=1, max_blocks=1)


def _net() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.PReLU(8),
        nn.Conv2d(8, 12, 1), nn.PixelShuffle(2),
    )  # fmt: skip


class Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x)


def test_decompose_fuses_activations_and_records_shapes() -> None:
    units, unmodelled = decompose(_net(), (1, 3, 16, 20))
    assert [u.key.split("@")[0].split("(")[0] for u in units] == ["Conv2d", "Conv2d", "Conv2d", "PixelShuffle"]
    assert "+ReLU" in units[0].key and "+PReLU(8)" in units[1].key
    assert [u.input_shape for u in units] == [(1, 3, 16, 20), (1, 8, 16, 20), (1, 8, 16, 20), (1, 12, 16, 20)]
    assert unmodelled == []
    _, flagged = decompose(Residual(), (1, 4, 8, 8))
    assert flagged == ["Residual (operations in its forward)"]


def test_prediction_formula() -> None:
    units, unmodelled = decompose(_net(), (1, 3, 16, 20))
    table = LatencyTable(device="x", entries={OVERHEAD: 1.0} | {u.key: 1.0 + 2.0 * i for i, u in enumerate(units)})
    prediction = predict(table, units, unmodelled)
    assert prediction.total_ms == pytest.approx(1.0 + sum(2.0 * i for i in range(len(units))))
    with pytest.raises(KeyError, match="not in the table"):
        predict(LatencyTable(device="x"), units, unmodelled)


def test_fill_measures_each_configuration_once_and_round_trips(tmp_path: Path) -> None:
    model = _net()
    units, unmodelled = decompose(model, (1, 3, 16, 20))
    table = fill(LatencyTable(device="cpu-torch"), units + units, get_device("cpu-torch", threads=1), FAST)
    assert set(table.entries) == {OVERHEAD} | {u.key for u in units}
    assert all(ms > 0 for ms in table.entries.values())
    table.save(tmp_path / "t.json")
    again = LatencyTable.load(tmp_path / "t.json")
    assert again.entries == table.entries and predict(again, units, unmodelled).total_ms > 0


def test_cli_predict_prints_both_and_keeps_kinds_apart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.conftest import REPO

    out = tmp_path / "p.json"
    table = str(tmp_path / "t.json")
    argv = ["latency", str(REPO / "submissions/baselines/bicubic"), "--task", "sr-set5-x2", "--shape", "1,3,24,32",
            "--device", "cpu-torch", "--quick", "--predict", "--table", table, "--json", str(out)]  # fmt: skip
    assert main(argv) == 0
    printed = " ".join(capsys.readouterr().out.split())
    assert "predicted" in printed and "measured median" in printed
    assert "MatlabBicubicUpsampler (operations in its forward)" in printed  # what the table cannot see is said
    records = json.loads(out.read_text())
    assert records[0]["latency"]["kind"] == "measured" and records[1]["kind"] == "predicted"
