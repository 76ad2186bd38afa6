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
from tests.board_data import fill_board_store
from tests.conftest import REPO

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]  # fmt: skip
TIMEOUT_MS = 60_000

# page query -> (texts that must appear in grid cells or headings, whether a chart must be drawn)
PAGES: dict[str, tuple[list[str], bool]] = {
    "page=overview": (["bicubic", "best", "sr-set5-x2"], False),
    "page=task&task=sr-set5-x2": (["bicubic", "fast", "dup-best", "twin-of-good"], True),
    "page=submission&run={run}": (["bicubic · sr-set5-x2 v1"], False),
    "page=challenge&track=ntire2024-esr": (["esr-fast", "esr-base", "esr-blurry"], True),
}


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
def board(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A running ``bench board`` on a filled store: (base URL, the real run's id)."""
    folder = tmp_path_factory.mktemp("browser")
    db = folder / "results.db"
    run_id = fill_board_store(Store(f"sqlite:///{db}"))
    with running_board(db, folder) as base:
        yield base, run_id


def wait_for_texts(page: Page, texts: list[str]) -> None:
    for text in texts:
        cell = page.locator("[role=gridcell], h1, h2, h3").filter(has_text=text).first
        cell.wait_for(state="attached", timeout=TIMEOUT_MS)


@pytest.mark.browser
def test_every_page_in_chromium(board: tuple[str, int]) -> None:
    base, run_id = board
    out = screenshots()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), args=CHROMIUM_FLAGS)
        try:
            # tall: Streamlit scrolls inside its own container, so a full-page shot is one viewport
            page = browser.new_page(viewport={"width": 1400, "height": 3000})
            for query, (texts, chart) in PAGES.items():
                query = query.format(run=run_id)
                page.goto(f"{base}/?{query}", timeout=TIMEOUT_MS)
                page.get_by_text("Efficient image restoration: leaderboard").wait_for(timeout=TIMEOUT_MS)
                wait_for_texts(page, texts)
                if chart:
                    marks = page.locator(".vega-embed svg .mark-symbol path, .vega-embed svg .mark-rect path")
                    marks.first.wait_for(state="attached", timeout=TIMEOUT_MS)
                    assert marks.count() >= 3, query
                assert page.locator("[data-testid=stException]").count() == 0, query
                name = query.split("&")[0].removeprefix("page=")
                shot = out / f"board-{name}.png"
                page.screenshot(path=str(shot), full_page=True)
                with Image.open(shot) as image:
                    assert image.width >= 1000 and image.height >= 600
                    assert len(np.unique(np.asarray(image.convert("L")))) > 16, f"{shot} looks blank"
            # the URL written back by the task page reproduces the view in a fresh tab
            page.goto(f"{base}/?page=task&task=sr-set5-x2&devices=cpu-onnxruntime&teams=beta", timeout=TIMEOUT_MS)
            wait_for_texts(page, ["good"])
            page.wait_for_url("**devices=cpu-onnxruntime**", timeout=TIMEOUT_MS)
            assert "teams=beta" in page.url
            assert page.locator("[role=gridcell]").filter(has_text="dup-best").count() == 0
            # the submission page shows the three stored crops
            page.goto(f"{base}/?page=submission&run={run_id}", timeout=TIMEOUT_MS)
            page.locator("[data-testid=stImage] img").nth(2).wait_for(timeout=TIMEOUT_MS)
            assert page.locator("[data-testid=stImage] img").count() == 3
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
