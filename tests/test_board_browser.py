"""A real browser on the real board: ``bench board`` on localhost, Debian's headless Chromium, every page.

For each page the test waits for the known submission names (in the data grid's cells, which
Streamlit renders as accessible ``gridcell`` elements), checks the chart (a Vega-Lite SVG) where the
page has one, and saves a full-page screenshot under ``$BENCH_SCREENSHOTS`` (default
``build/screenshots`` in the checkout). Chromium is found at ``$BENCH_CHROMIUM`` or
``/usr/bin/chromium`` (``apt-get install chromium``; CI installs it); Playwright drives it and
never downloads a browser of its own.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Page, sync_playwright

from bench.store import Store
from tests.board_showcase import fill_showcase_store
from tests.conftest import REPO

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]  # fmt: skip
TIMEOUT_MS = 60_000

# page query -> (texts that must appear in grid cells or headings, whether a chart must be drawn)
PAGES: dict[str, tuple[str, list[str], bool]] = {  # screenshot name -> (query, texts, chart)
    "overview": ("page=overview", ["edsr-x2", "carn-x2", "Best entry per task and device"], False),
    "task": ("page=task&task=sr-set5-x2", ["edsr-x2-big", "edsr-x2-pruned", "carn-x2"], True),
    "submission-derived": ("page=submission&run={pruned}", ["edsr-x2-pruned · sr-set5-x2 v1", "Derived from"], False),
    "submission-compare": ("page=submission&run={fsrcnn}&compare={bicubic}", ["fsrcnn-x2 · sr-set5-x2 v1"], False),
    "challenge-rerun": ("page=challenge&track=ntire2020-deblur-smartphone", ["rerun-unet", "ranked"], True),
    "challenge": ("page=challenge&track=ntire2024-esr", ["esr-fast", "esr-base", "esr-blurry"], True),
    "how": ("page=how", ["How to submit a model"], False),
    "queue": ("page=queue", ["No jobs yet"], False),
}
FORBIDDEN = re.compile(r"\bNone\b|\bnull\b|\bnan\b|\bNaN\b|/home/|/root/|/tmp/|\.cache|\.\./shared|Traceback")
WIDTH = 1400


def chromium() -> str:
    path = os.environ.get("BENCH_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    assert Path(path).exists(), f"Chromium not found at {path}: apt-get install chromium (or set BENCH_CHROMIUM)"
    return path


def screenshots() -> Path:
    folder = Path(os.environ.get("BENCH_SCREENSHOTS", REPO / "build" / "screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running_board(db: Path, folder: Path) -> Iterator[str]:
    """``bench board`` on ``db`` until the block ends; its base URL."""
    port = free_port()
    env = os.environ | {"XDG_DATA_HOME": str(folder / "xdg")}
    command = [sys.executable, "-m", "bench.cli", "board", "--db", str(db), "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stdout.read() if process.stdout else "bench board exited"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as response:
                    if response.read() == b"ok":
                        break
            except OSError:
                assert time.monotonic() < deadline, "bench board did not answer its health check within 60 s"
                time.sleep(0.5)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()  # bench board execs the server: this stops it
        process.wait(timeout=20)
        if process.stdout:
            process.stdout.close()


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, int]]]:
    """A running ``bench board`` on the showcase store (tests/board_showcase.py): (base URL, real runs' ids)."""
    folder = tmp_path_factory.mktemp("browser")
    db = folder / "results.db"
    ids = fill_showcase_store(Store(f"sqlite:///{db}"))
    with running_board(db, folder) as base:
        yield base, ids


def wait_for_texts(page: Page, texts: list[str]) -> None:
    for text in texts:
        places = "[role=gridcell], h1, h2, h3, [data-testid=stMarkdownContainer]"
        cell = page.locator(places).filter(has_text=text).first
        cell.wait_for(state="attached", timeout=TIMEOUT_MS)


def page_text(page: Page) -> str:
    """What a visitor can read: the page's text and the text of every grid cell (drawn on a canvas, and
    mirrored in the grid's accessible cells)."""
    cells = page.locator("[role=gridcell], [role=columnheader]").all_inner_texts()
    return page.inner_text("body") + "\n" + "\n".join(cells)


def grids_fit(page: Page) -> list[tuple[int, int]]:
    """(scroll width, visible width) of every data grid that scrolls sideways: hidden columns."""
    widths = page.evaluate(
        "() => Array.from(document.querySelectorAll('[data-testid=stDataFrame] .dvn-scroller'))"
        ".map(e => [e.scrollWidth, e.clientWidth])"
    )
    return [(int(a), int(b)) for a, b in widths if a > b + 2]


def headers(page: Page, key: str) -> list[str]:
    grid = page.locator(f".st-key-table-{key} [role=columnheader]")
    grid.first.wait_for(state="attached", timeout=TIMEOUT_MS)
    return [text.strip() for text in grid.all_inner_texts()]


def open_page(page: Page, url: str) -> None:
    page.goto(url, timeout=TIMEOUT_MS)
    page.get_by_text("Efficient image restoration: leaderboard").wait_for(timeout=TIMEOUT_MS)


@pytest.mark.browser
def test_every_page_in_chromium(board: tuple[str, dict[str, int]]) -> None:
    """Every page on a store of 35+ results over 11 tasks, 3 devices and every latency kind: no exception, no
    None/null/nan, no path, every grid's columns visible in a 1400 px window, a screenshot of each."""
    base, ids = board
    out = screenshots()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": WIDTH, "height": 2400})
            for name, (query, texts, chart) in PAGES.items():
                query = query.format(**ids)
                open_page(page, f"{base}/?{query}")
                wait_for_texts(page, texts)
                if chart:
                    marks = page.locator(".vega-embed svg .mark-symbol path, .vega-embed svg .mark-rect path")
                    marks.first.wait_for(state="attached", timeout=TIMEOUT_MS)
                    assert marks.count() >= 3, query
                page.wait_for_timeout(500)  # the last grids and charts of the run
                assert page.locator("[data-testid=stException]").count() == 0, query
                text = page_text(page)
                assert not FORBIDDEN.search(text), (query, FORBIDDEN.search(text))
                assert grids_fit(page) == [], (query, "a grid hides columns at 1400 px", grids_fit(page))
                shot = out / f"board-{name}.png"
                page.screenshot(path=str(shot), full_page=True)
                with Image.open(shot) as image:
                    assert image.width >= 1000 and image.height >= 600
                    assert len(np.unique(np.asarray(image.convert("L")))) > 16, f"{shot} looks blank"
        finally:
            browser.close()


@pytest.mark.browser
def test_rank_search_family_view_and_challenge_rerun_in_chromium(board: tuple[str, dict[str, int]]) -> None:
    base, ids = board
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": WIDTH, "height": 2400})
            # the family overview: the paper-table view, Set5 and Set14 side by side
            open_page(page, f"{base}/?page=overview&family=sr&group=x2")
            columns = headers(page, "overview-family-sr")
            assert columns.index("Set14") == columns.index("Set5") + 1, columns
            assert {"avg rank", "cpu-torch (ms)", "MACs (G)"} <= set(columns)
            # the task grid: rank first; search by team keeps only that team; the URL keeps the search
            open_page(page, f"{base}/?page=task&task=sr-set5-x2")
            assert headers(page, "task-table")[:2] == ["rank", "submission"]
            first_row = page.locator(".st-key-table-task-table [role=row]").nth(1).locator("[role=gridcell]")
            assert first_row.first.inner_text().strip() == "1"
            page.get_by_label("Search name, team or tag").fill("beta")
            page.get_by_label("Search name, team or tag").press("Enter")
            page.wait_for_url("**q=beta**", timeout=TIMEOUT_MS)
            wait_for_texts(page, ["good"])
            page.wait_for_timeout(500)
            cells = page.locator(".st-key-table-task-table [role=gridcell]").all_inner_texts()
            assert "best" in cells and "fast" not in cells and "bicubic" not in cells
            # a filtered URL reproduces the view in a fresh tab
            open_page(page, f"{base}/?page=task&task=sr-set5-x2&devices=cpu-onnxruntime&teams=beta")
            wait_for_texts(page, ["good"])
            page.wait_for_url("**devices=cpu-onnxruntime**", timeout=TIMEOUT_MS)
            assert "teams=beta" in page.url
            assert page.locator("[role=gridcell]").filter(has_text="dup-best").count() == 0
            # the challenge page ranks the rerun stored on another task, and says what stood in
            open_page(page, f"{base}/?page=challenge&track=ntire2020-deblur-smartphone")
            wait_for_texts(page, ["rerun-unet"])
            body = page_text(page)
            assert "Stand-in task" in body and "deblur-deepdeblur-samples" in body and "Stand-in device" in body
            ranking = page.locator(".st-key-table-challenge-table [role=row]").nth(1).locator("[role=gridcell]")
            assert ranking.first.inner_text().strip() == "1"
            # the submission page: two submissions' crops side by side on the same image
            open_page(page, f"{base}/?page=submission&run={ids['fsrcnn']}&compare={ids['bicubic']}")
            page.locator("[data-testid=stImage] img").nth(3).wait_for(timeout=TIMEOUT_MS)
            assert page.locator("[data-testid=stImage] img").count() == 4
            assert page.get_by_text("output of bicubic").count() == 1
        finally:
            browser.close()


@pytest.mark.browser
def test_a_submission_uploaded_in_chromium_is_scored_and_shown_done(tmp_path: Path) -> None:
    """Upload a zipped folder on the Submit page with a team's token, let a worker score it, and read
    "done" on the Queue page."""
    import re
    import zipfile

    from bench.service.teams import create_team
    from bench.service.worker import Worker, WorkerSettings

    db = tmp_path / "service.db"
    store = Store(f"sqlite:///{db}")
    token = create_team(store, "lab")
    manifest = (REPO / "submissions/baselines/identity/submission.yaml").read_text()
    manifest = re.sub(r"^name: identity$", "name: uploaded", manifest, flags=re.M)
    manifest = manifest.replace("team: bench baselines", "team: lab").replace("[baseline, ", "[")
    archive = tmp_path / "uploaded.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("uploaded/submission.yaml", manifest)
    with running_board(db, tmp_path) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 2000})
            page.goto(f"{base}/?page=submit", timeout=TIMEOUT_MS)
            page.get_by_text("Submit a model").wait_for(timeout=TIMEOUT_MS)
            page.get_by_label("Team token").fill(token)
            page.locator("input[type=file]").set_input_files(str(archive))
            page.get_by_text("uploaded.zip").wait_for(timeout=TIMEOUT_MS)
            tasks = page.locator("[data-testid=stMultiSelect]").filter(has_text="Tasks")
            tasks.locator("input").fill("denoise-demo-s25")
            tasks.locator("input").press("Enter")
            tasks.locator("input").press("Escape")  # close the list of options
            page.get_by_text("Quick latency protocol").click()
            page.get_by_role("button", name="Submit", exact=True).click()
            page.get_by_text("job 1: uploaded on denoise-demo-s25 (queued)").wait_for(timeout=TIMEOUT_MS)
            page.screenshot(path=str(screenshots() / "board-submit.png"), full_page=True)

            assert Worker(store, WorkerSettings(poll_s=0.1, cache=tmp_path / "cache")).serve(max_jobs=1) == 1
            page.goto(f"{base}/?page=queue", timeout=TIMEOUT_MS)
            wait_for_texts(page, ["uploaded", "done"])
            page.screenshot(path=str(screenshots() / "board-queue.png"), full_page=True)
            assert page.locator("[data-testid=stException]").count() == 0
        finally:
            browser.close()
