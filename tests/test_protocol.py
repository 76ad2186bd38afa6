"""The latency protocol: warm-up, blocks until stable, statistics, pinning; devices and the CLI."""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

from bench.cli import main
from bench.runtime.devices import DEVICES, get_device
from bench.runtime.protocol import (
    QUICK,
    LatencySettings,
    kind_text,
    latency_kind,
    measure,
    measure_timed,
    pinned,
    summarize,
)

NO_TIME: dict[str, Any] = {"warmup_min_s": 0.0, "min_s": 0.0, "max_s": 30.0, "pin_threads": False}


def _clock(values: Iterator[float]) -> tuple[list[int], Callable[[], float]]:
    calls = [0]

    def timed() -> float:
        calls[0] += 1
        return next(values)

    return calls, timed


def test_summary_statistics_match_numpy() -> None:
    samples = [5.0, 1.0, 3.0, 2.0, 4.0, 10.0]
    stats = summarize(samples)
    assert stats.median_ms == np.median(samples) and stats.p90_ms == pytest.approx(np.percentile(samples, 90))
    assert stats.mean_ms == pytest.approx(np.mean(samples)) and stats.cv == pytest.approx(
        np.std(samples) / np.mean(samples)
    )
    assert (stats.min_ms, stats.max_ms, stats.runs) == (1.0, 10.0, 6)


def test_warmup_runs_are_excluded_and_counted() -> None:
    values = itertools.chain([1000.0] * 3, itertools.repeat(2.0))  # 3 slow warm-up runs
    calls, timed = _clock(values)
    stats = measure_timed(timed, LatencySettings(warmup_runs=3, min_runs=10, stable_blocks=2, **NO_TIME))
    assert stats.max_ms == 2.0 and stats.runs == 20 and stats.stable is True and stats.blocks == 2
    assert calls[0] == 23


def test_blocks_repeat_until_medians_agree() -> None:
    drifting = itertools.chain([10.0] * 10, [5.0] * 10, [5.1] * 10, itertools.repeat(9.0))
    _, timed = _clock(drifting)
    stats = measure_timed(
        timed, LatencySettings(warmup_runs=0, min_runs=10, stable_blocks=2, stability=0.03, **NO_TIME)
    )
    assert stats.stable is True and stats.blocks == 3
    assert stats.block_medians_ms == [10.0, 5.0, 5.1]
    assert stats.runs == 20 and stats.max_ms == pytest.approx(5.1)  # statistics over the last two blocks only


def test_never_stable_is_reported_not_hidden() -> None:
    _, timed = _clock(itertools.cycle([1.0] * 10 + [2.0] * 10))
    stats = measure_timed(timed, LatencySettings(warmup_runs=0, min_runs=10, max_blocks=4, **NO_TIME))
    assert stats.stable is False and stats.blocks == 4


def test_single_block_is_not_assessed() -> None:
    _, timed = _clock(itertools.repeat(1.0))
    stats = measure_timed(timed, LatencySettings(warmup_runs=0, min_runs=5, stable_blocks=1, max_blocks=1, **NO_TIME))
    assert stats.stable is None and stats.runs == 5


@pytest.mark.parametrize("settings", [QUICK, LatencySettings()], ids=["quick", "default"])
def test_a_model_slower_than_every_budget_still_gets_its_floor_of_timed_runs(settings: LatencySettings) -> None:
    """A call that outlasts the warm-up budget and the timed budget (a 15 s call against QUICK's 5 s and 20 s,
    scaled down here by 100: a model that sleeps 0.25 s against budgets of 0.05 s and 0.2 s)."""
    scaled = settings.model_copy(update={"warmup_max_s": settings.warmup_max_s / 100, "max_s": settings.max_s / 400,
                                         "warmup_min_s": 0.0, "min_s": 0.0, "pin_threads": False})  # fmt: skip
    calls = [0]

    def sleepy() -> None:
        calls[0] += 1
        time.sleep(0.25)

    stats = measure(sleepy, scaled)
    assert stats.runs >= 3 and stats.blocks == 1
    assert 1 <= calls[0] - stats.runs <= 2  # the warm-up stopped at its own budget (QUICK: one call, not two)
    assert stats.median_ms >= 250.0
    assert latency_kind(stats.stable) == ("quick" if settings is QUICK else "unstable")  # no room to assess


def test_a_noisy_machine_gives_an_unstable_latency_with_its_spread() -> None:
    noise = np.random.default_rng(0)
    _, timed = _clock(iter(lambda: float(10.0 * (1 + noise.uniform(0, 0.5))), None))  # a busy machine's noise
    stats = measure_timed(timed, LatencySettings(warmup_runs=0, min_runs=5, max_blocks=5, **NO_TIME))
    assert stats.stable is False and stats.blocks == 5 and stats.spread is not None and stats.spread > 0.02
    assert kind_text(stats.stable, stats.spread) == f"unstable ±{stats.spread / 2:.1%}".replace("%", " %")
    steady = measure_timed(_clock(itertools.repeat(10.0))[1], LatencySettings(warmup_runs=0, min_runs=5, **NO_TIME))
    assert kind_text(steady.stable, steady.spread) == "stable" and steady.spread == 0.0


def test_minimum_duration_is_respected() -> None:
    stats = measure(
        lambda: sum(range(1000)),
        LatencySettings(warmup_runs=0, warmup_min_s=0, min_runs=1, min_s=0.05, max_blocks=1, stable_blocks=1),
    )
    assert stats.runs > 1 and stats.mean_ms * stats.runs >= 0.0


def test_pinning_restricts_and_restores_affinity() -> None:
    before = os.sched_getaffinity(0)
    with pinned(1) as cores:
        assert cores is not None and len(cores) == 1 and os.sched_getaffinity(0) == set(cores)
    assert os.sched_getaffinity(0) == before


def test_devices_and_cuda_absence_are_explained(capsys: pytest.CaptureFixture[str]) -> None:
    assert {"cpu-torch", "cpu-onnxruntime", "cpu-tflite", "cuda", "cuda-ntire-esr"} <= set(DEVICES)
    ok, detail = get_device("cuda").available()
    import torch

    assert ok == torch.cuda.is_available()
    if not ok:
        assert "no CUDA device" in detail
    assert main(["devices"]) == 0
    assert "cuda" in capsys.readouterr().out
    assert get_device("android:ABC123/nnapi").settings.options == {"serial": "ABC123", "delegate": "nnapi"}
    assert get_device("cpu-torch", threads=1).settings.threads == 1


def test_latency_cli_on_a_submission(tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.conftest import REPO

    argv = ["latency", str(REPO / "submissions/baselines/identity"), "--task", "denoise-demo-s25",
            "--device", "cpu-torch", "--quick", "--repeat", "2", "--json", f"{tmp_path}/l.json"]  # fmt: skip
    assert main(argv) == 0
    import json
    from pathlib import Path

    measured = json.loads(Path(f"{tmp_path}/l.json").read_text())
    assert len(measured) == 2 and measured[0]["latency"]["input_shape"] == [1, 3, 256, 256]
    assert main(["latency", str(REPO / "submissions/baselines/bicubic"), "--device", "cpu-torch"]) == 2
    assert "give --task" in capsys.readouterr().err
    if not get_device("cuda").available()[0]:
        code = main(
            ["latency", str(REPO / "submissions/baselines/identity"), "--task", "denoise-demo-s25", "--device", "cuda"]
        )
        assert code == 2 and "no CUDA device" in capsys.readouterr().err
