"""Render time of every board page with 10,000 results (target: under 2 s after the first load).

Builds two SQLite stores of random results (tests/board_data.py: 4 tasks, 4 devices, a few unstable and
predicted latencies): ``--results`` (10,000) and the reference ``--reference`` (30). For each page
(overview, task, submission, challenge, how to submit) it runs the real app script with Streamlit's AppTest
(the whole script: store read, frame, tables, charts; no browser):

* **first**: the first render of a session after ``st.cache_data.clear()`` (reads the store);
* **warm**: the next render of the same page (the store's frame is cached until a result is added);
* **filter** (task page only): a render after a search, a device filter and the SSIM axis.

With ``--browser`` it also serves each store with ``bench board`` and loads every page in Debian's headless
Chromium (tests/test_board_browser.py's launcher): the seconds from navigation until the page's script has
finished and its grids and charts are drawn, first load and then a reload.

Each figure is the best of ``--repeats``, printed beside the same page on the reference store and the
ratio between them.

    python benchmarks/board_render.py [--results 10000] [--reference 30] [--repeats 3] [--browser]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402
from streamlit.logger import set_log_level  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from bench.store import Store  # noqa: E402
from tests.board_data import bulk_add, random_results  # noqa: E402

APP = str(ROOT / "leaderboards" / "app.py")


PAGES = {
    "overview": {"page": "overview"},
    "task": {"page": "task", "task": "sr-set5-x2"},
    "submission": {"page": "submission"},
    "challenge": {"page": "challenge", "track": "mai2021-sr-int8"},
    "how": {"page": "how"},
}


def make_store(folder: Path, count: int) -> str:
    url = f"sqlite:///{folder / f'board-{count}.db'}"
    bulk_add(Store(url), random_results(count, seed=1))
    return url


def timed(action: AppTest) -> float:
    start = time.perf_counter()
    action.run()
    assert not action.exception, [e.value for e in action.exception]
    return time.perf_counter() - start


def renders(url: str, repeats: int) -> dict[str, float]:
    """Best-of-``repeats`` seconds of each page's first and warm render (and the task page's filtered one)."""
    os.environ["BENCH_DB"] = url
    best: dict[str, float] = {}
    for _ in range(repeats):
        for page, query in PAGES.items():
            st.cache_data.clear()
            at = AppTest.from_file(APP, default_timeout=120)
            for key, value in query.items():
                at.query_params[key] = value
            figures = {f"{page} first": timed(at), f"{page} warm": timed(at)}
            if page == "task":
                at.text_input(key="q").set_value("model-0")
                at.multiselect(key="devices").set_value(["cpu-torch", "cpu-tflite"])
                at.radio(key="quality").set_value("ssim")
                figures["task filter"] = timed(at)
            for name, value in figures.items():
                best[name] = min(best.get(name, float("inf")), value)
    return best


def browser_renders(db: Path, repeats: int) -> dict[str, float]:
    """Best-of-``repeats`` seconds of each page in Chromium: navigation until Streamlit's script is done and
    the page's last element is drawn (no running indicator for 300 ms), first load and a reload."""
    from playwright.sync_api import sync_playwright

    from tests.test_board_browser import CHROMIUM_FLAGS, chromium, running_board

    best: dict[str, float] = {}
    with running_board(db, db.parent / f"xdg-{db.stem}") as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 2400})
        for _ in range(repeats):
            for name, query in PAGES.items():
                url = f"{base}/?" + "&".join(f"{k}={v}" for k, v in query.items())
                for kind in ("first", "warm"):
                    start = time.perf_counter()
                    page.goto(url, timeout=120_000)
                    page.get_by_text("Store:").wait_for(timeout=120_000)  # the last line every page writes
                    page.wait_for_function(
                        "() => !document.querySelector('[data-testid=stStatusWidget] button')", timeout=120_000
                    )
                    best[f"{name} {kind}"] = min(best.get(f"{name} {kind}", float("inf")), time.perf_counter() - start)
        browser.close()
    return best


def report(title: str, measured: dict[str, float], reference: dict[str, float], target: float = 2.0) -> None:
    print(title)
    for name, value in measured.items():
        ratio = value / reference[name]
        print(f"  {name:16s} {value:6.3f} s   reference {reference[name]:6.3f} s   ratio {ratio:5.2f}x")
    after_first = {name: value for name, value in measured.items() if not name.endswith("first")}
    slowest = max(after_first, key=after_first.__getitem__)
    verdict = "under" if after_first[slowest] < target else "OVER"
    print(f"slowest after the first load: {slowest}, {after_first[slowest]:.3f} s ({verdict} the {target:g} s target)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=int, default=10_000)
    parser.add_argument("--reference", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--browser", action="store_true", help="also time every page in headless Chromium")
    args = parser.parse_args()
    set_log_level("error")  # AppTest's "no runtime" notices
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        big, small = make_store(Path(folder), args.results), make_store(Path(folder), args.reference)
        print(f"stores built in {time.perf_counter() - start:.1f} s")
        AppTest.from_file(APP, default_timeout=120).run()  # imports, once, outside the timings
        reference = renders(small, args.repeats)
        measured = renders(big, args.repeats)
        report(f"AppTest script runs, {args.results} results vs {args.reference} (reference), best of {args.repeats}:",
               measured, reference)  # fmt: skip
        if args.browser:
            db_of = lambda url: Path(url.removeprefix("sqlite:///"))  # noqa: E731
            small_browser = browser_renders(db_of(small), args.repeats)
            big_browser = browser_renders(db_of(big), args.repeats)
            report(f"Chromium page loads, {args.results} results vs {args.reference} (reference), best of "
                   f"{args.repeats}:", big_browser, small_browser)  # fmt: skip


if __name__ == "__main__":
    main()
