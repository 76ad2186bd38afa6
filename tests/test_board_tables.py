"""The board's tables and charts beyond the basics: ranks, search, folded reruns, the family (paper-table)
view, the derived-from chain, axis ranges that ignore far-off entries, and paths never shown."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench.store import Store
from bench.store.board_rows import leaderboard_rows
from bench.text import without_paths
from leaderboards import charts, families, frames, tables
from tests.board_data import latency, make_result


def stored(url: str, results: list) -> tuple[Store, pd.DataFrame]:
    store = Store(url)
    for result in results:
        store.add(result)
    return store, frames.board_frame(leaderboard_rows(store.engine))


def test_ranks_share_ties_and_skip_invalid_entries(isolated_store: str) -> None:
    _, frame = stored(isolated_store, [
        make_result("sr-set5-x2", "a", 32.0, {"cpu-torch": 5.0, "cuda": 1.0}),
        make_result("sr-set5-x2", "b", 32.0, {"cpu-torch": 5.0}),
        make_result("sr-set5-x2", "c", 33.0, {"cpu-torch": 9.0}),
        make_result("sr-set5-x2", "d", 31.0, {"cpu-torch": 1.0}),
        make_result("sr-set5-x2", "broken", float("nan"), {"cpu-torch": 0.1}),
    ])  # fmt: skip
    ranked = dict(zip(frame["submission"] + "@" + frame["device_label"], tables.ranks(frame), strict=True))
    assert pd.isna(ranked["broken@cpu-torch"])  # listed, never ranked
    order = ("c@cpu-torch", "a@cpu-torch", "b@cpu-torch", "d@cpu-torch", "a@cuda")
    assert [ranked[k] for k in order] == [1, 2, 2, 4, 1]
    by_ssim = tables.ranks(frame, "ssim")  # every SSIM is 0.9: the lower latency ranks first
    on_torch = frame["device_label"] == "cpu-torch"
    order = frame.loc[on_torch & frame["valid"]].assign(rank=by_ssim).sort_values("rank")["submission"].tolist()
    assert order[0] == "d" and order[-1] == "c"


def test_search_folded_reruns_and_hidden_empty_columns(isolated_store: str) -> None:
    store, _ = stored(isolated_store, [
        make_result("sr-set5-x2", "fsrcnn-int8", 32.0, {"cpu-torch": 5.0}, team="Alpha Lab", tags=("int8",)),
        make_result("sr-set5-x2", "espcn", 31.0, {"cpu-torch": 2.0}, team="beta", tags=("lightweight",)),
    ])  # fmt: skip
    rerun = make_result("sr-set5-x2", "espcn", 31.5, {"cpu-torch": 2.5}, team="beta", tags=("lightweight",))
    store.add(rerun.model_copy(update={"provenance": rerun.provenance.model_copy(update={"run_key": "second-run"})}))
    frame = frames.board_frame(leaderboard_rows(store.engine))
    assert len(frame) == 3 and len(tables.newest_runs(frame)) == 2  # the same file on the same device: newest only
    assert tables.newest_runs(frame).set_index("submission").at["espcn", "psnr"] == 31.5
    assert list(tables.search(frame, "ALPHA")["submission"]) == ["fsrcnn-int8"]  # team, case-insensitive
    assert list(tables.search(frame, "int8 fsrcnn")["submission"]) == ["fsrcnn-int8"]  # every word
    assert set(tables.search(frame, "lightweight")["submission"]) == {"espcn"}  # tags
    assert tables.search(frame, "nothing-like-it").empty
    table = tables.task_table(frame, shown=["tags"])
    assert "LPIPS" not in table.columns and "tags" in table.columns and "backend" not in table.columns
    assert list(table.columns[:2]) == ["rank", "submission"]


def test_family_table_is_the_paper_view(isolated_store: str) -> None:
    results = []
    for name, base in (("big", 33.0), ("small", 32.0)):
        for offset, task in enumerate(("sr-set5-x2", "sr-set14-x2", "sr-b100-x2", "sr-urban100-x2")):
            results.append(make_result(task, name, base - offset, {"cpu-torch": 10.0 if name == "big" else 2.0},
                                       team="lab", ssim=0.95 - offset / 100))  # fmt: skip
    results.append(make_result("sr-set5-x4", "big-x4", 30.0, {"cpu-torch": 3.0}))
    results.append(make_result("denoise-cbsd68-s25", "dn", 31.2, {"cpu-torch": 3.0}))
    _, frame = stored(isolated_store, results)
    found = families.families_of(sorted(frame["task"].unique()))
    assert found == {"sr": ["x2", "x4"], "denoise": ["σ=25"]}
    table = families.family_table(frame, "sr", "x2")
    assert list(table.columns[:6]) == ["model", "team", "Set5", "Set14", "B100", "Urban100"]  # as papers print it
    assert list(table["model"]) == ["big", "small"] and list(table["avg rank"]) == [1.0, 2.0]
    assert table.iloc[0]["Set14"] == "32.00 / 0.9400" and table.iloc[1]["sets"] == "4/4"
    assert list(table["cpu-torch (ms)"]) == [10.0, 2.0] and "MACs (G)" in table.columns
    assert families.place_of("inpaint-places2-nvidia-b3") == families.Place("inpaint", "Places2", "holes 3")
    assert families.place_of("inpaint-demo-b6") == families.Place("inpaint", "Demo", "holes 6")
    assert families.place_of("sr-set14-x3-classic") == families.Place("sr", "x3", "Set14 classic")
    assert families.place_of("deblur-deepdeblur-samples") == families.Place("deblur", "all", "DeepDeblur-samples")


def test_derivation_steps_show_the_change(isolated_store: str) -> None:
    parent = make_result("sr-set5-x2", "edsr", 34.0, {"cpu-torch": 100.0}, macs=10_000_000_000, params=1_000_000)
    child = make_result("sr-set5-x2", "edsr-pruned", 33.9, {"cpu-torch": 60.0}, macs=6_000_000_000, params=500_000)
    child = child.model_copy(update={"submission": child.submission.model_copy(update={"derived_from": "edsr"})})
    store, frame = stored(isolated_store, [parent, child])
    run = int(frame.loc[frame["submission"] == "edsr-pruned", "result_id"].iloc[0])
    steps = tables.derivation_steps(frame, store, run, "sr-set5-x2", "edsr")
    row = steps.iloc[0]
    assert (row["model"], row["derived from"], row["MACs change"], row["params change"]) == (
        "edsr-pruned", "edsr", "-40.0 %", "-50.0 %")  # fmt: skip
    assert row["PSNR change (dB)"] == pytest.approx(-0.1) and row["cpu-torch latency"] == "-40.0 %"
    assert len(steps) == 1  # edsr names no parent: the chain ends


def test_axis_range_pins_far_off_entries_to_the_edge() -> None:
    latencies = [0.004, 90.0, 100.0, 110.0, 120.0, 130.0]  # an identity entry beside five DnCNNs
    low, high = charts.axis_domain(latencies, log=charts.log_axis(latencies))
    assert 50 < low < 90 and 130 < high < 250 and charts.off_axis(latencies, False) == 1
    assert charts.log_axis(latencies) is False  # without the outlier the span is 1.4x: linear
    single_low, single_high = charts.axis_domain([33.677944], log=False, min_span=0.01)
    assert single_low < 33.677944 < single_high and single_high - single_low >= 0.01
    frame = frames.with_pareto(frames.board_frame([]))
    assert charts.latency_heatmap(frame).to_dict()["layer"][0]["mark"]["type"] == "rect"


def test_chart_labels_the_front(isolated_store: str) -> None:
    points = (("a", 30.0, 1.0), ("b", 29.0, 60.0), ("c", 33.0, 50.0))
    _, frame = stored(isolated_store, [make_result("t", n, q, {"cpu-torch": ms}) for n, q, ms in points])
    spec = charts.quality_cost_chart(frames.with_pareto(frame)).to_dict()
    texts = [layer for layer in spec["layer"] if layer["mark"]["type"] == "text"]
    assert texts and texts[0]["encoding"]["text"]["field"] == "submission"
    names = {row["submission"] for rows in spec["datasets"].values() for row in rows if "submission" in row}
    assert {"a", "c"} <= names
    assert spec["layer"][1]["encoding"]["y"]["axis"]["format"] == ".2f"  # no raw floats on the axis


@pytest.mark.parametrize(("text", "shown"), [
    ("LPIPS weights not found at /root/.cache/bench/lpips/alex.pth", "LPIPS weights not found at alex.pth"),
    ("rows quoted in ../shared/protocols.md section 4", "rows quoted in protocols.md section 4"),
    ("see ~/data/Set5 and https://example.org/a/b", "see Set5 and https://example.org/a/b"),
    ("PSNR/SSIM at x2/x4, 1x3/64", "PSNR/SSIM at x2/x4, 1x3/64"),
])  # fmt: skip
def test_paths_are_cut_from_page_text(text: str, shown: str) -> None:
    assert without_paths(text) == shown
    assert frames.plain(None) == "" and frames.plain(float("nan")) == ""


def test_unstable_quick_and_predicted_kinds(isolated_store: str) -> None:
    _, frame = stored(isolated_store, [
        make_result("t", "steady", 30.0, [latency("cpu-tflite", 5.0)]),
        make_result("t", "shaky", 31.0, [latency("cpu-tflite", 5.0, stable=False)]),
        make_result("t", "quick", 32.0, [latency("cpu-tflite", 5.0, stable=None)]),
        make_result("t", "guess", 33.0, [latency("cpu-tflite", 5.0, kind="predicted", stable=None)]),
    ])  # fmt: skip
    kinds = dict(zip(frame["submission"], frame["stability_kind"], strict=True))
    assert kinds == {"steady": "stable", "shaky": "unstable", "quick": "quick", "guess": "predicted"}
    assert not np.any(frame[["submission", "team", "tags", "backend", "precision"]].isna().to_numpy())
