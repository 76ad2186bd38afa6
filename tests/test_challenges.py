"""Challenge tracks: the organisers' check tables, rules, and whole reruns on look-alike data."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from safetensors.torch import save_file

from bench.challenges.formulas import Entry, score
from bench.challenges.rerun import rerun
from bench.challenges.tracks import all_tracks, get_track
from bench.cli import main
from bench.data.images import read_image, write_image
from bench.data.resize import imresize
from bench.data.sources import EMBEDDED_ROOT
from bench.models import build_model
from bench.runtime.convert import to_onnx, to_tflite
from bench.runtime.protocol import LatencySettings
from tests import layouts
from tests.archs import TinySR
from tests.conftest import SHARED_DATASETS

FAST = LatencySettings(warmup_runs=0, warmup_min_s=0, min_runs=2, min_s=0, stable_blocks=1, max_blocks=1)
NTIRE = {"base_fps": 8.23, "fps_cap": 45.0, "weight": 0.5}


@pytest.mark.parametrize(("psnr", "fps"), [(28.34, 8.23), (27.84, 16.46), (27.34, 32.92), (27.11, 45.0), (29.86, 1.0)])
def test_ntire2020_check_table_scores_28_34(psnr: float, fps: float) -> None:
    assert abs(score("ntire2020-fps", Entry(psnr, 1000.0 / fps), NTIRE) - 28.34) <= 0.005


@pytest.mark.parametrize(
    ("psnr", "runtime", "c", "expected"),
    [(29.87, 36.89, 2**48, 92.72), (29.58, 44.85, 2**48, 51.02), (30.03, 19.2, 10 * 2**48, 22.22),
     (29.88, 15.9, 10 * 2**48, 21.84)],
)  # fmt: skip
def test_mai_rows(psnr: float, runtime: float, c: float, expected: float) -> None:
    assert score("mai-sr", Entry(psnr, runtime), {"c": c}) == pytest.approx(expected, rel=0.005)


def test_esr_baseline_scores_e_squared() -> None:
    baseline = Entry(27.0, 12.0, 5e9, 3e5)
    assert score("ntire-esr", baseline, {"runtime_ms": 12.0, "flops": 5e9, "params": 3e5}) == pytest.approx(math.e**2)


def test_every_track_loads_and_its_published_rows_score() -> None:
    tracks = all_tracks()
    assert set(tracks) >= {
        "ntire2020-deblur-smartphone",
        "mai2021-sr-int8",
        "mai2022-sr-int8",
        "ntire2024-esr",
        "ntire2025-esr",
    }
    for row in get_track("ntire2020-deblur-smartphone").published:
        assert abs(score("ntire2020-fps", Entry(row.psnr, row.runtime_ms), NTIRE) - 28.34) <= 0.005


def _tflite_entry(root: Path, quality_shape: tuple[int, ...], name: str = "identity-tflite") -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    model = build_model("identity", {}, {})
    to_tflite(model, quality_shape, folder / "quality.tflite")
    to_tflite(model, (1, 3, 256, 256), folder / "timing.tflite")
    files = "files: {model: quality.tflite, timing_model: timing.tflite}\n"
    (folder / "submission.yaml").write_text(f"name: {name}\nteam: t\ntasks: ['deblur-*']\nformat: tflite\n" + files)
    return folder


def _onnx_entry(root: Path) -> Path:
    folder = root / "identity-onnx"
    folder.mkdir(parents=True)
    to_onnx(build_model("identity", {}, {}), (1, 3, 64, 64), folder / "model.onnx")
    (folder / "submission.yaml").write_text("name: identity-onnx\nteam: t\ntasks: ['deblur-*']\nformat: onnx\n"
                                            "files: {model: model.onnx}\n")  # fmt: skip
    return folder


def test_tflite_ranked_and_onnx_rejected_on_a_reds_fixture(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = layouts.reds(tmp_path / "data")  # frames of 48x64
    tflite, onnx = _tflite_entry(tmp_path, (1, 3, 48, 64)), _onnx_entry(tmp_path)
    out = tmp_path / "rank.json"
    argv = ["challenge", "ntire2020-deblur-smartphone", str(tflite), str(onnx), "--data-root", str(data), "--quick",
            "--json", str(out), "--markdown", str(tmp_path / "rank.md")]  # fmt: skip
    assert main(argv) == 0
    ranking = json.loads(out.read_text())
    rows = {r["submission"]: r for r in ranking["rows"]}
    assert rows["identity-tflite"]["rank"] == 1 and rows["identity-tflite"]["score"] is not None
    assert rows["identity-onnx"]["status"] == "rejected"
    assert "the format must be tflite" in rows["identity-onnx"]["reason"]
    assert "instead of the track's Google Pixel 4" in ranking["note"]
    assert "| 1 | identity-tflite |" in (tmp_path / "rank.md").read_text()


def test_missing_timing_model_and_uint8_rules(tmp_path: Path) -> None:
    folder = _tflite_entry(tmp_path, (1, 3, 48, 64))
    (folder / "submission.yaml").write_text(
        "name: n\nteam: t\ntasks: ['*']\nformat: tflite\nfiles: {model: quality.tflite}\n"
    )
    row = rerun(
        get_track("ntire2020-deblur-smartphone"), [folder], data_root=layouts.reds(tmp_path / "d"), latency=FAST
    ).rows[0]
    assert row.status == "rejected" and "timing model" in row.reason
    float_entry = _tflite_entry(tmp_path / "mai", (1, 3, 16, 24), name="float-sr")
    (float_entry / "submission.yaml").write_text(
        "name: f\nteam: t\ntasks: ['*']\nformat: tflite\nfiles: {model: quality.tflite, timing_model: timing.tflite}\n"
    )
    row = rerun(get_track("mai2021-sr-int8"), [float_entry], latency=FAST).rows[0]
    assert row.status == "rejected" and "must be uint8" in row.reason


def test_esr_needs_a_baseline_and_the_baseline_scores_e_squared(tmp_path: Path) -> None:
    data = layouts.div2k(tmp_path / "data")
    entry = tmp_path / "tiny-sr"
    entry.mkdir()
    save_file(TinySR(4).state_dict(), str(entry / "w.safetensors"))
    arch = "architecture: {name: test-tiny-sr}\nfiles: {weights: w.safetensors}\n"
    (entry / "submission.yaml").write_text("name: tiny\nteam: t\ntasks: ['sr-*']\nformat: safetensors\n" + arch)
    track = get_track("ntire2024-esr")
    with pytest.raises(ValueError, match="--baseline"):
        rerun(track, [entry], data_root=data, latency=FAST, device="cpu-torch")
    ranking = rerun(track, [entry], data_root=data, latency=FAST, device="cpu-torch", baseline=entry)
    row, constants = ranking.rows[0], ranking.constants
    assert row.psnr is not None and row.score is not None and row.runtime_ms is not None
    # the baseline against itself: FLOPs and params equal its own, so those two terms are 0.15 e^2 each;
    # the runtime term uses the two measurements (equal up to timing noise)
    assert (row.flops, row.params) == (constants["flops"], constants["params"])
    assert constants["params"] == 3 * 48 * 9 + 48
    runtime_term = 0.7 * math.exp(2 * row.runtime_ms / constants["runtime_ms"])
    assert row.score == pytest.approx(runtime_term + 0.3 * math.e**2)
    assert row.status == "gated"  # a 1344-parameter net does not reach 26.90 dB: marked, not hidden


def test_deepdeblur_pairs_run_the_whole_track_at_720p(tmp_path: Path) -> None:
    root = SHARED_DATASETS if (SHARED_DATASETS / "DeepDeblur_samples").is_dir() else tmp_path
    if root is tmp_path:  # same layout, made from the embedded scenes
        for i, path in enumerate(sorted((EMBEDDED_ROOT / "scenes").glob("*.png"))[:2]):
            sharp = imresize(read_image(path), output_shape=(720, 1280))
            write_image(root / "DeepDeblur_samples" / f"scene{i}_sharp1.png", sharp)
            write_image(root / "DeepDeblur_samples" / f"scene{i}_blur1.png", layouts.box_blur(sharp))
    entry = _tflite_entry(tmp_path / "entries", (1, 3, 720, 1280))
    ranking = rerun(get_track("ntire2020-deblur-smartphone"), [entry], data_root=root, latency=FAST,
                    quality_task="deblur-deepdeblur-samples")  # fmt: skip
    row = ranking.rows[0]
    assert row.rank == 1 and row.psnr is not None and 15 < row.psnr < 60 and row.score is not None


def test_rerun_stored_and_ranked_the_same_on_the_board(tmp_path: Path, isolated_store: str) -> None:
    """``bench challenge --db`` stores each scored run; the board's challenge page, ranking from the
    store alone, gives the same statuses, PSNR, runtime and score as the CLI rerun."""
    from bench.store import Store
    from bench.store.board_rows import leaderboard_rows
    from leaderboards.challenge_view import ranking
    from leaderboards.frames import board_frame

    data = layouts.reds(tmp_path / "data")
    tflite, onnx = _tflite_entry(tmp_path, (1, 3, 48, 64)), _onnx_entry(tmp_path)
    out = tmp_path / "rank.json"
    argv = ["challenge", "ntire2020-deblur-smartphone", str(tflite), str(onnx), "--data-root", str(data), "--quick",
            "--json", str(out), "--db", isolated_store]  # fmt: skip
    assert main(argv) == 0
    cli = {r["submission"]: r for r in json.loads(out.read_text())["rows"]}
    frame = board_frame(leaderboard_rows(Store(isolated_store).engine))
    assert list(frame["submission"]) == ["identity-tflite"]  # the rejected entry was never scored
    board, _ = ranking(get_track("ntire2020-deblur-smartphone"), frame, "cpu-tflite")
    row = board.iloc[0]
    assert (row["status"], row["rank"]) == ("ranked", 1)
    assert row["PSNR (dB)"] == pytest.approx(cli["identity-tflite"]["psnr"])
    assert row["runtime (ms)"] == pytest.approx(cli["identity-tflite"]["runtime_ms"])
    assert row["score"] == pytest.approx(cli["identity-tflite"]["score"])
    assert main(argv) == 0  # a second rerun reuses the stored runs: still one
    assert Store(isolated_store).count() == 1


def test_a_tie_ranks_the_same_in_the_cli_json_and_on_the_board(tmp_path: Path, isolated_store: str) -> None:
    """Two copies of one model under two names: the same PSNR, and both faster than the NTIRE 2020 FPS cap
    (45 FPS), so their scores are equal. Both share rank 1 in ``bench challenge --json`` and on the board's
    challenge page data, computed by the one ranking module."""
    from bench.store import Store
    from bench.store.board_rows import leaderboard_rows
    from leaderboards.challenge_view import ranking
    from leaderboards.frames import board_frame

    data = layouts.reds(tmp_path / "data")
    first = _tflite_entry(tmp_path, (1, 3, 48, 64), name="twin-b")
    second = _tflite_entry(tmp_path, (1, 3, 48, 64), name="twin-a")
    third = _onnx_entry(tmp_path)
    out = tmp_path / "rank.json"
    argv = ["challenge", "ntire2020-deblur-smartphone", str(first), str(second), str(third), "--data-root", str(data),
            "--quick", "--json", str(out), "--db", isolated_store]  # fmt: skip
    assert main(argv) == 0
    cli = [(r["submission"], r["status"], r["rank"], r["score"]) for r in json.loads(out.read_text())["rows"]]
    frame = board_frame(leaderboard_rows(Store(isolated_store).engine))
    board_table, _ = ranking(get_track("ntire2020-deblur-smartphone"), frame, "cpu-tflite")
    board = [(r["submission"], r["status"], None if pd.isna(r["rank"]) else int(r["rank"]), r["score"])
             for _, r in board_table.iterrows()]  # fmt: skip
    assert cli[:2] == board  # the rejected ONNX entry was never scored, so the board does not list it
    assert [row[:3] for row in cli] == [("twin-a", "ranked", 1), ("twin-b", "ranked", 1),
                                        ("identity-onnx", "rejected", None)]  # fmt: skip
    assert cli[0][3] == cli[1][3]  # an exact tie
