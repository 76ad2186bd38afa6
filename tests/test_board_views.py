"""The board's data shaping without Streamlit: frames, validity, filters, Pareto, challenge rankings."""

from __future__ import annotations

import io
import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from bench.challenges.formulas import FORMULAS, Entry, breakdown, score
from bench.challenges.tracks import get_track
from bench.store import Store
from bench.store.board_rows import board_columns, leaderboard_rows, store_version
from leaderboards import challenge_view, charts, frames, tables
from tests.board_data import latency, make_result, random_results


def brute_front(points: list[tuple[float, float]], maximize: bool = True) -> set[int]:
    """Indices of points no other point dominates (O(n^2), written independently of bench.pareto)."""
    sign = 1.0 if maximize else -1.0

    def beats(a: tuple[float, float], b: tuple[float, float]) -> bool:
        return a[0] <= b[0] and sign * a[1] >= sign * b[1] and (a[0] < b[0] or a[1] != b[1])

    return {i for i, p in enumerate(points) if not any(beats(q, p) for j, q in enumerate(points) if j != i)}


def stored_frame(isolated_store: str, results: list) -> pd.DataFrame:
    store = Store(isolated_store)
    for result in results:
        store.add(result)
    return frames.board_frame(leaderboard_rows(store.engine))


def test_rows_have_every_field_and_runs_without_latency_are_kept(isolated_store: str) -> None:
    store = Store(isolated_store)
    assert store_version(store.engine) == (0, 0)
    store.add(make_result("sr-set5-x2", "timed", 30.0, {"cpu-torch": 2.0, "cpu-tflite": 3.0}))
    store.add(make_result("sr-set5-x2", "untimed", 31.0, {}))
    rows = leaderboard_rows(store.engine)
    assert [tuple(r) for r in rows] == [board_columns()] * 3
    assert [(r["submission"], r["device"]) for r in rows] == [
        ("timed", "cpu-torch"),
        ("timed", "cpu-tflite"),
        ("untimed", None),
    ]
    assert rows[0]["input_shape"] == "1x3x64x64" and rows[0]["tags"] == "lightweight" and len(rows[0]["sha256"]) == 12
    assert store_version(store.engine) == (2, 2)
    frame = frames.board_frame(rows)
    assert list(frame["note"]) == ["", "", "invalid: no latency measured"]


def test_validity_and_predicted_latencies_are_kept_apart(isolated_store: str) -> None:
    frame = stored_frame(
        isolated_store,
        [
            make_result("t", "ok", 30.0, [latency("cpu-tflite", 5.0)]),
            make_result("t", "shaky", 35.0, [latency("cpu-tflite", 1.0, stable=False)]),
            make_result("t", "guess", 40.0, [latency("cpu-tflite", 0.5, kind="predicted", stable=None)]),
            make_result("t", "nan", math.nan, [latency("cpu-tflite", 0.1)]),
        ],
    )
    notes = dict(zip(frame["submission"], frame["note"], strict=True))
    assert notes["ok"] == "" and notes["guess"] == ""
    assert notes["shaky"] == "" and notes["nan"] == "invalid: non-finite quality score"
    stability = dict(zip(frame["submission"], frame["stability"], strict=True))
    assert (
        stability["shaky"].startswith("unstable") and stability["ok"] == "stable" and stability["guess"] == "predicted"
    )
    labels = dict(zip(frame["submission"], frame["device_label"], strict=True))
    assert labels["guess"] == "cpu-tflite (predicted)" and labels["ok"] == "cpu-tflite"
    front = frame.loc[frames.pareto_mask(frame), "submission"]
    # an unstable latency is ranked (and marked), not dropped: shaky dominates ok; NaN is invalid; the
    # predicted one is on its own front
    assert set(front) == {"shaky", "guess"}
    assert set(frames.apply_filters(frame, frames.Filters(stabilities=["stable"]))["submission"]) == {"ok", "nan"}


@pytest.mark.parametrize("quality", ["psnr", "ssim", "lpips"])
@pytest.mark.parametrize("cost", ["median_ms", "macs_g", "params_k"])
def test_pareto_is_exactly_the_non_dominated_set(quality: str, cost: str) -> None:
    rows: list[dict[str, object]] = []
    for r in random_results(300, seed=7):
        for lat in r.latency:
            rows.append(
                {
                    "result_id": len(rows),
                    "task": r.task,
                    "task_version": 1,
                    "submission": r.submission.name,
                    "team": r.submission.team,
                    "tags": ", ".join(r.submission.tags),
                    "psnr": round(r.metrics.psnr, 1),
                    "ssim": round(r.metrics.ssim, 2),
                    "lpips": round(0.5 - r.metrics.psnr / 100, 2),
                    "macs": r.complexity.macs,
                    "params": r.complexity.params,
                    "device": lat.device,
                    "median_ms": round(lat.median_ms, 0),
                    "stable": lat.stable,
                    "latency_kind": lat.kind,
                }
            )
    frame = frames.board_frame(rows)
    mask = frames.pareto_mask(frame, quality, cost)
    maximize = quality != "lpips"
    checked = 0
    for _, group in frame.groupby("device_label"):
        valid = group[group["valid"]]
        points = list(zip(valid[cost], valid[quality], strict=True))
        expected = {valid.index[i] for i in brute_front(points, maximize)}
        assert set(group.index[mask[group.index]]) == expected
        assert not mask[group.index[~group["valid"]]].any()
        checked += len(expected)
    assert checked > 8  # rounding made ties and duplicates: the check is not trivial


def test_filters() -> None:
    rows = [
        {
            "result_id": 1,
            "submission": "a",
            "team": "x",
            "tags": "pruned, int8",
            "precision": "int8",
            "device": "cpu-tflite",
            "backend": "tflite",
            "psnr": 30.0,
            "median_ms": 1.0,
            "created_at": "2026-01-02 10:00",
        },
        {
            "result_id": 2,
            "submission": "b",
            "team": "y",
            "tags": "nas",
            "precision": "fp32",
            "device": "cpu-torch",
            "backend": "torch",
            "psnr": 31.0,
            "median_ms": 2.0,
            "created_at": "2026-03-04 10:00",
        },
    ]
    frame = frames.board_frame(rows)
    pick = lambda **kw: list(frames.apply_filters(frame, frames.Filters(**kw))["submission"])  # noqa: E731
    assert pick() == ["a", "b"]
    assert pick(devices=["cpu-torch"]) == ["b"]
    assert pick(backends=["tflite"]) == ["a"]
    assert pick(precisions=["fp32", "int8"]) == ["a", "b"]
    assert pick(tags=["int8"]) == ["a"] and pick(tags=["nas", "pruned"]) == ["a", "b"] and pick(tags=["x"]) == []
    assert pick(teams=["y"]) == ["b"]
    assert pick(since=date(2026, 2, 1)) == ["b"] and pick(until=date(2026, 1, 2)) == ["a"]
    assert frames.tag_set(frame) == ["int8", "nas", "pruned"]
    assert frames.parse_day("2026-01-31") == date(2026, 1, 31) and frames.parse_day("31/01") is None


def test_table_order_csv_and_overview(isolated_store: str) -> None:
    frame = stored_frame(
        isolated_store,
        [
            make_result("sr-set5-x2", "slow-good", 32.0, {"cpu-torch": 9.0}, lpips=0.2),
            make_result("sr-set5-x2", "fast-ok", 30.0, {"cpu-torch": 1.0}, lpips=0.1),
            make_result("sr-set5-x2", "fast-good", 32.0, {"cpu-torch": 2.0, "cuda": 0.5}, lpips=0.3),
        ],
    )
    table = tables.task_table(frames.with_pareto(frame), "psnr")
    assert list(table["submission"]) == ["fast-good", "fast-good", "slow-good", "fast-ok"]
    assert list(table["rank"]) == [1, 1, 2, 3]  # per device: fast-good is first on cpu-torch and on cuda
    assert list(tables.task_table(frame, "lpips")["submission"][:2]) == ["fast-ok", "slow-good"]
    back = pd.read_csv(io.BytesIO(frames.csv_bytes(table)))
    assert list(back.columns) == list(table.columns) and list(back["submission"]) == list(table["submission"])
    assert np.allclose(back["PSNR (dB)"], table["PSNR (dB)"])
    best = tables.best_entries(frame, {"sr-set5-x2": "Set5 x2"})
    on_torch = best[best["device"] == "cpu-torch"].iloc[0]
    assert (on_torch["best"], on_torch["fastest"], on_torch["entries"]) == ("fast-good", "fast-ok", 3)
    assert on_torch["link"] == "?page=task&task=sr-set5-x2&version=1&devices=cpu-torch"
    summary = tables.device_summary(frame)
    assert list(summary["device"]) == ["cpu-torch", "cuda"] and list(summary["entries"]) == [3, 1]


def test_chart_spec(isolated_store: str) -> None:
    frame = frames.with_pareto(
        stored_frame(
            isolated_store,
            [
                make_result("t", "a", 30.0, {"cpu-torch": 1.0}),
                make_result("t", "b", 29.0, {"cpu-torch": 60.0}),
                make_result("t", "c", 33.0, {"cpu-torch": 50.0}),
            ],
        )
    )
    line = charts.front_line(frame)
    assert list(line["submission"]) == ["a", "c"]
    spec = charts.quality_cost_chart(frame).to_dict()
    assert spec["layer"][0]["mark"]["interpolate"] == "step-after"
    assert spec["layer"][1]["encoding"]["x"]["scale"]["type"] == "log"  # 1 .. 60 ms
    assert charts.status_of(frame) == [charts.FRONT, charts.DOMINATED, charts.FRONT]
    assert charts.use_log_scale([1.0, 5.0]) is False and charts.use_log_scale([0.0, 100.0]) is False


def test_breakdowns_recombine_to_the_score() -> None:
    assert set(FORMULAS) == {"ntire2020-fps", "mai-sr", "ntire-esr"}
    entry = Entry(psnr=28.0, runtime_ms=40.0, flops=2e10, params=3e5)
    # the published closed forms (docs: mai-sr = 2^(2 PSNR) / (C runtime), ntire-esr = sum of w exp(2 x / x0))
    assert score("mai-sr", entry, {"c": 2.0**48}) == pytest.approx(2.0**56 / (2.0**48 * 40.0), rel=1e-12)
    esr = 0.7 * math.exp(2 * 40 / 50) + 0.15 * math.exp(2 * 2e10 / 2.5e10) + 0.15 * math.exp(2 * 3e5 / 4e5)
    assert score("ntire-esr", entry, {"runtime_ms": 50.0, "flops": 2.5e10, "params": 4e5}) == pytest.approx(esr)
    cases = {
        "ntire2020-fps": {"base_fps": 8.23, "fps_cap": 45.0, "weight": 0.5},
        "mai-sr": {"c": 2.0**48},
        "ntire-esr": {"runtime_ms": 50.0, "flops": 2.5e10, "params": 4e5},
    }
    for formula, constants in cases.items():
        terms = breakdown(formula, entry, constants)
        total = score(formula, entry, constants)
        combined = 2.0 ** sum(terms.values()) if formula == "mai-sr" else sum(terms.values())
        assert combined == pytest.approx(total, rel=1e-12), formula
    # NTIRE 2020: 1000/40 = 25 FPS -> 0.5 log2(25 / 8.23)
    assert breakdown("ntire2020-fps", entry, cases["ntire2020-fps"])["speed term"] == pytest.approx(
        0.5 * math.log2(25 / 8.23)
    )


def test_challenge_ranking_statuses_and_order(isolated_store: str) -> None:
    track = get_track("ntire2024-esr")  # gate 26.90 dB, mean runtime, baseline constants, 1x3x256x256
    task, shape = track.quality_task, tuple(track.timing.input_shape)

    def entry(name: str, psnr: float, ms: float, macs: int, **kw: object) -> object:
        timed = [latency("cpu-torch", ms, shape=kw.pop("shape", shape), stable=kw.pop("stable", True))]  # type: ignore[arg-type]
        return make_result(task, name, psnr, timed, macs=macs, params=macs // 1000, **kw)  # type: ignore[arg-type]

    frame = stored_frame(
        isolated_store,
        [
            entry("impostor", 27.0, 100.0, 20_000_000_000, tags=("baseline",)),  # a stranger's own tag
            entry("base", 27.0, 100.0, 20_000_000_000, tags=("baseline",), team="bench baselines"),
            entry("quick", 27.1, 40.0, 10_000_000_000),
            entry("heavy", 27.2, 150.0, 40_000_000_000),
            entry("blurry", 26.0, 10.0, 1_000_000_000),
            entry("tflite", 28.0, 10.0, 1_000_000_000, fmt="tflite"),
            entry("odd-shape", 28.0, 10.0, 10, shape=(1, 3, 64, 64)),
            entry("shaky", 28.0, 10.0, 1_000_000_000, stable=False),
        ],
    )
    assert challenge_view.default_baseline(frame) == "base"  # the project's baseline, never the impostor
    frame = frame[frame["submission"] != "impostor"]
    table, note = challenge_view.ranking(track, frame, "cpu-torch", "base")
    status = dict(zip(table["submission"], table["status"], strict=True))
    assert status == {
        "quick": "ranked",
        "base": "ranked",
        "heavy": "ranked",
        "blurry": "gated",
        "tflite": "rejected",
        "odd-shape": "rejected",
        "shaky": "ranked",  # an unstable latency is ranked, and says so
    }
    assert list(table["submission"][:4]) == ["shaky", "quick", "base", "heavy"]  # lower is better
    assert list(table["rank"][:4]) == [1, 2, 3, 4] and table["rank"][4:].isna().all()
    assert table["latency"].iloc[0].startswith("unstable") and table["latency"].iloc[1] == "stable"
    assert table.loc[table["submission"] == "base", "score"].iloc[0] == pytest.approx(math.exp(2))
    # recomputed independently: mean runtime (1.02 x median in board_data), MACs and params vs the baseline's
    quick = table[table["submission"] == "quick"].iloc[0]
    expected = 0.7 * math.exp(2 * 40.8 / 102.0) + 0.15 * math.exp(2 * 0.5) + 0.15 * math.exp(2 * 0.5)
    assert quick["score"] == pytest.approx(expected)
    assert quick["runtime term"] + quick["FLOPs term"] + quick["params term"] == pytest.approx(expected)
    assert "base" in note and "runtime_ms = 102" in note
    unscored, why = challenge_view.ranking(track, frame, "cpu-torch", None)
    assert unscored["score"].isna().all() and "no baseline" in why
    empty, _ = challenge_view.ranking(track, frame, "cuda", "base")
    assert empty.empty and list(empty.columns) == challenge_view.RANKING_COLUMNS


def test_a_submitters_text_is_shown_as_text_and_exported_safely() -> None:
    """Markdown in a name is escaped where Streamlit renders Markdown (an image link fetches nothing), and a
    CSV cell a spreadsheet would run as a formula is prefixed with a quote; numbers stay numbers."""
    import pandas as pd

    shown = frames.as_text("![x](http://evil.example/a.png) **b** \x1b[31m")
    assert "](" not in shown.replace("\\](", "") and "\x1b" not in shown and shown.startswith("\\!\\[x\\]")
    from bench.challenges.ranking import Entry, constants_for

    baseline = Entry("![b](http://evil.example/b.png)", mean_ms=1.0, median_ms=1.0, macs=1.0, params=1.0)
    _, note = constants_for(get_track("ntire2024-esr"), baseline)  # the challenge page's caption names it
    assert "![b](" in note and "![b](" not in frames.as_text(note)
    csv = frames.csv_bytes(pd.DataFrame({"name": ["=HYPERLINK(1)", "ok", "@cmd"], "ms": [-1.5, 2.0, 3.0]}))
    assert csv.decode().splitlines() == ["name,ms", "'=HYPERLINK(1),-1.5", "ok,2.0", "'@cmd,3.0"]
