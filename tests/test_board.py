"""Every page of the Streamlit board, run with AppTest against real SQLite stores.

The store holds synthetic results (tests/board_data.py) plus one real scoring run of the bicubic
baseline on Set5 x2 with its stored sample crops, so the submission page shows real images.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from bench.challenges.ranking import shape_text
from bench.challenges.tracks import get_track
from bench.store import Store
from tests.board_data import SR, bulk_add, fill_board_store, make_result, random_results
from tests.test_board_views import brute_front

APP = str(Path(__file__).resolve().parent.parent / "leaderboards" / "app.py")
TIMEOUT = 90


@pytest.fixture(scope="module")
def board_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, int]:
    url = f"sqlite:///{tmp_path_factory.mktemp('board') / 'results.db'}"
    return url, fill_board_store(Store(url))


def app(url: str, monkeypatch: pytest.MonkeyPatch, **query: str) -> AppTest:
    monkeypatch.setenv("BENCH_DB", url)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def elements(at: AppTest, kind: str) -> list:
    return [e for e in at.main if type(e).__name__ == kind or getattr(e, "type", None) == kind]


@pytest.mark.parametrize("page", ["overview", "task", "submission", "challenge"])
def test_empty_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, page: str) -> None:
    at = app(f"sqlite:///{tmp_path / 'empty.db'}", monkeypatch, page=page)
    assert not at.error
    info = " ".join(i.value for i in at.info)
    assert ("bench demo" in info) if page != "challenge" else ("bench challenge" in info)


@pytest.mark.parametrize("page", ["overview", "task", "submission", "challenge"])
def test_one_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, page: str) -> None:
    url = f"sqlite:///{tmp_path / 'one.db'}"
    Store(url).add(make_result("sr-set5-x4", "only", 27.0, {"cpu-torch": 12.0}))
    at = app(url, monkeypatch, page=page)
    assert not at.error
    if page == "task":
        table = at.dataframe[0].value
        assert list(table["submission"]) == ["only"] and bool(table["Pareto"].iloc[0])
        assert len(elements(at, "vega_lite_chart")) == 2  # the device chart and the latency heat map


def test_overview(board_db: tuple[str, int], monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(board_db[0], monkeypatch)  # no ?page: the overview
    assert at.radio(key="page").value == "overview"
    best = at.dataframe[1].value  # after the family table
    sr = best[(best["task"] == "sr-set5-x2") & (best["device"] == "cpu-torch")].iloc[0]
    # shaky (29.5 dB, unstable) is ranked but dominated; guessed is predicted: neither is the measured best
    assert (sr["best"], sr["fastest"], sr["entries"]) == ("best", "fast", 8)
    assert "(not registered)" in set(best.loc[best["task"] == "retired-task", "title"])
    assert "cpu-torch (predicted)" in set(at.dataframe[2].value["device"])
    assert len(elements(at, "DownloadButton")) == 3


def test_task_table_filters_and_pareto(board_db: tuple[str, int], monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(board_db[0], monkeypatch, page="task", task="sr-set5-x2")
    table = at.dataframe[0].value
    assert set(table["submission"]) == set(SR) | {"shaky", "guessed", "bicubic"}
    assert list(table["PSNR (dB)"]) == sorted(table["PSNR (dB)"], reverse=True)
    shaky = table[table["submission"] == "shaky"].iloc[0]
    assert shaky["note"] == "" and shaky["stability"] == "unstable ±4.2 %" and not shaky["Pareto"]  # marked
    assert set(table.loc[table["submission"] == "guessed", "device"]) == {"cpu-torch (predicted)"}
    for _device, group in table.groupby("device"):
        valid = group[group["note"] == ""].reset_index(drop=True)
        points = list(zip(valid["median latency (ms)"], valid["PSNR (dB)"], strict=True))
        assert set(group.loc[group["Pareto"], "submission"]) == {valid["submission"][i] for i in brute_front(points)}
    on_torch = table[(table["device"] == "cpu-torch") & table["Pareto"]]
    assert {"fast", "good", "best", "dup-best"} <= set(on_torch["submission"])

    at.multiselect(key="stabilities").set_value(["stable"]).run()  # unstable entries can be hidden
    assert "shaky" not in set(at.dataframe[0].value["submission"])
    at.multiselect(key="stabilities").set_value([]).run()
    at.multiselect(key="devices").set_value(["cpu-onnxruntime"]).run()
    table = at.dataframe[0].value
    assert set(table["device"]) == {"cpu-onnxruntime"}
    assert set(table.loc[table["Pareto"], "submission"]) == {"fast", "twin-of-good"}
    at.multiselect(key="devices").set_value([]).run()
    at.multiselect(key="teams").set_value(["beta"]).run()
    assert set(at.dataframe[0].value["submission"]) == {"good", "best"}
    at.multiselect(key="teams").set_value([]).run()
    at.multiselect(key="tags").set_value(["int8"]).run()
    assert set(at.dataframe[0].value["submission"]) == {"fast"}
    assert at.query_params["tags"] == "int8" and at.query_params["task"] == "sr-set5-x2"


def test_axes_change_the_front(board_db: tuple[str, int], monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(board_db[0], monkeypatch, page="task", task="sr-set5-x2", devices="cpu-torch", cost="params_k")
    table = at.dataframe[0].value
    valid = table[table["note"] == ""].reset_index(drop=True)
    points = list(zip(valid["params (K)"], valid["PSNR (dB)"], strict=True))
    expected = {valid["submission"][i] for i in brute_front(points)}
    # bicubic has no parameters; the synthetic entries all have 1000 K: best and dup-best beat the rest
    assert set(table.loc[table["Pareto"], "submission"]) == expected == {"bicubic", "best", "dup-best"}
    spec = elements(at, "vega_lite_chart")[0].proto.spec
    assert '"field": "params_k"' in spec and "step-after" in spec


def test_url_reproduces_a_filtered_view(board_db: tuple[str, int], monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(
        board_db[0],
        monkeypatch,
        page="task",
        task="sr-set5-x2",
        devices="cpu-onnxruntime,not-a-device",
        quality="ssim",
        teams="beta",
        since="2000-01-01",
    )
    assert at.selectbox(key="task").value == "sr-set5-x2"
    assert at.multiselect(key="devices").value == ["cpu-onnxruntime"]  # unknown values are dropped
    assert at.radio(key="quality").value == "ssim" and at.multiselect(key="teams").value == ["beta"]
    assert set(at.dataframe[0].value["submission"]) == {"good"}
    assert at.query_params["devices"] == "cpu-onnxruntime" and at.query_params["since"] == "2000-01-01"
    again = app(board_db[0], monkeypatch, **dict(at.query_params))
    assert again.dataframe[0].value.equals(at.dataframe[0].value)


def test_versions_and_unregistered_tasks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'v.db'}"
    store = Store(url)
    store.add(make_result("sr-set5-x2", "v1-model", 30.0, {"cpu-torch": 1.0}, version=1))
    store.add(make_result("sr-set5-x2", "v2-model", 29.0, {"cpu-torch": 2.0}, version=2))
    store.add(make_result("gone", "old", 20.0, {"cpu-torch": 2.0}))
    at = app(url, monkeypatch, page="task", task="sr-set5-x2")
    assert list(at.dataframe[0].value["submission"]) == ["v2-model"]
    at.selectbox(key="version").set_value(1).run()
    assert list(at.dataframe[0].value["submission"]) == ["v1-model"]
    at.selectbox(key="task").set_value("gone").run()
    assert list(at.dataframe[0].value["submission"]) == ["old"]
    assert "gone (not registered)" in at.selectbox(key="task").format_func("gone")


def test_submission_page_shows_the_real_run(board_db: tuple[str, int], monkeypatch: pytest.MonkeyPatch) -> None:
    url, run_id = board_db
    at = app(url, monkeypatch, page="submission", run=str(run_id))
    store = Store(url)
    assert at.header[0].value.startswith("bicubic · sr-set5-x2")
    assert at.metric[0].value == f"{store.run_detail(run_id)['result']['metrics']['psnr']:.3f}"  # type: ignore[index]
    images = at.dataframe[2].value
    stored = store.image_scores(run_id)
    assert list(images["id"]) == [i.id for i in stored] and np.allclose(images["PSNR (dB)"], [i.psnr for i in stored])
    shown = elements(at, "Image")
    assert [c for e in shown for c in e.proto.imgs[0].caption.split()] == ["input", "output", "target"]
    assert all(e.proto.imgs[0].url.endswith(".png") for e in shown)
    first = store.samples(run_id)[0]
    assert at.selectbox(key="image").value == first.image_id
    at.select_slider(key="zoom").set_value(4).run()
    assert not at.exception and at.query_params["zoom"] == "4"


def test_zoom_window_is_the_right_part() -> None:
    from leaderboards.page_submission import VIEW_PIXELS, zoom_window

    pixels = np.arange(64 * 64 * 3, dtype=np.uint8).reshape(64, 64, 3)
    image = Image.fromarray(pixels)
    assert np.array_equal(
        np.asarray(zoom_window(image, 1, (0.5, 0.5)).resize((64, 64), Image.Resampling.NEAREST)), pixels
    )
    corner = np.asarray(zoom_window(image, 4, (0.0, 0.0)))
    assert corner.shape == (VIEW_PIXELS, VIEW_PIXELS, 3)
    step = VIEW_PIXELS // 16
    assert np.array_equal(corner[::step, ::step], pixels[:16, :16])  # the top-left 16x16, each pixel repeated


def test_challenge_page(board_db: tuple[str, int], monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(board_db[0], monkeypatch, page="challenge", track="ntire2024-esr")
    assert at.selectbox(key="tdevice").value == "cpu-torch"  # the track's fallback device
    assert at.selectbox(key="baseline").value == "esr-base"  # the project's baseline (reserved team and tag)
    assert any("not comparable" in w.value for w in at.warning)
    ranking = at.dataframe[0].value
    assert list(ranking["submission"]) == ["esr-fast", "esr-base", "esr-blurry"]
    assert list(ranking["status"]) == ["ranked", "ranked", "gated"]
    assert {"runtime term", "FLOPs term", "params term"} <= set(ranking.columns)
    assert len(elements(at, "vega_lite_chart")) == 1  # the score breakdown
    assert at.query_params["baseline"] == "esr-base"
    other = app(board_db[0], monkeypatch, page="challenge", track="ntire2020-deblur-smartphone")
    assert any("bench challenge" in i.value for i in other.info)
    assert len(other.dataframe[0].value) == len(get_track("ntire2020-deblur-smartphone").published)
    assert shape_text((1, 3, 256, 256)) == "1x3x256x256"


@pytest.mark.parametrize("page", ["overview", "task", "submission", "challenge"])
def test_ten_thousand_results(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, page: str
) -> None:
    path = tmp_path_factory.getbasetemp() / "board-10k.db"
    url = f"sqlite:///{path}"
    if not path.exists():
        bulk_add(Store(url), random_results(10_000, seed=3))
    at = app(url, monkeypatch, page=page, task="sr-set5-x2")
    assert not at.error
    if page == "task":
        assert at.dataframe[0].value["submission"].nunique() == 2500
    if page == "overview":
        assert at.metric[0].value == "10000"


def test_downloaded_csv_is_the_table(board_db: tuple[str, int], monkeypatch: pytest.MonkeyPatch) -> None:
    import pandas as pd

    from leaderboards.frames import csv_bytes

    at = app(board_db[0], monkeypatch, page="task", task="sr-set5-x2")
    table = at.dataframe[0].value.drop(columns="details")
    back = pd.read_csv(io.BytesIO(csv_bytes(table)), keep_default_na=False)
    assert list(back["submission"]) == list(table["submission"])
    assert len(elements(at, "DownloadButton")) == 1


def test_a_submitters_derived_from_is_shown_as_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A parent name with Markdown (a link, an image) in a caption is escaped: shown as written, never rendered."""
    url = f"sqlite:///{tmp_path / 'derived.db'}"
    result = make_result("sr-set5-x2", "child", 30.0, {"cpu-torch": 1.0})
    hostile = "![x](http://example.org/track.png) [click](http://example.org)"
    info = result.submission.model_copy(update={"derived_from": hostile, "model_card": "# card\n<b>bold</b>"})
    run = Store(url).add(result.model_copy(update={"submission": info}))
    at = app(url, monkeypatch, page="submission", run=str(run))
    captions = " ".join(c.value for c in at.caption)
    assert r"\!\[x\](http://example.org/track.png)" in captions and "](http" not in captions.replace(r"\](", "")
    assert any("<b>bold</b>" in c.value for c in at.code)  # the model card as code text, never HTML


def test_an_unreadable_store_is_named_as_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "*run*_[x](y)"
    folder.mkdir()
    (folder / "results.db").write_bytes(b"not a database " * 100)
    at = app(f"sqlite:///{folder / 'results.db'}", monkeypatch)
    shown = " ".join(e.value for e in at.error)
    assert "Cannot read the results store" in shown
    assert r"\*run\*\_\[x\](y)" in shown and "*run*_[x](y)" not in shown, shown  # brackets escaped: no link
