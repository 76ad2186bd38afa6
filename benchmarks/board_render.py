"""Render time of the board's task page with 10,000 results (target: under 2 s on this machine).

Builds a SQLite store of ``--results`` random results, all of one task (the worst case for the task
page; tests/board_data.py: 4 devices, a few unstable and predicted latencies), then runs the real
app script with Streamlit's AppTest (the whole script: store read, frame, filters, Pareto, table,
charts; no browser) for:

* **cold**: the first render of a session after ``st.cache_data.clear()`` (reads the store);
* **warm**: the next render (the store's frame is cached until a result is added);
* **filter**: a render after changing a filter (2 devices) and the quality axis (SSIM).

Reference run, same process: the same three renders of a store of ``--reference`` results (100).
Each is the best of ``--repeats``. Prints seconds and the ratio to the reference.

    python benchmarks/board_render.py [--results 10000] [--reference 100] [--repeats 3]
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


def make_store(folder: Path, count: int) -> str:
    url = f"sqlite:///{folder / f'board-{count}.db'}"
    bulk_add(Store(url), random_results(count, seed=1, tasks=("sr-set5-x2",)))
    return url


def timed(action: AppTest) -> float:
    start = time.perf_counter()
    action.run()
    return time.perf_counter() - start


def renders(url: str, repeats: int) -> dict[str, float]:
    """Best-of-``repeats`` seconds of the cold, warm and filtered task-page renders."""
    os.environ["BENCH_DB"] = url
    best = {"cold": float("inf"), "warm": float("inf"), "filter": float("inf")}
    for _ in range(repeats):
        st.cache_data.clear()
        at = AppTest.from_file(APP, default_timeout=120)
        at.query_params["page"] = "task"
        at.query_params["task"] = "sr-set5-x2"
        cold = timed(at)
        assert not at.exception, [e.value for e in at.exception]
        warm = timed(at)
        at.multiselect(key="devices").set_value(["cpu-torch", "cpu-tflite"])
        at.radio(key="quality").set_value("ssim")
        filtered = timed(at)
        assert not at.exception, [e.value for e in at.exception]
        for name, value in (("cold", cold), ("warm", warm), ("filter", filtered)):
            best[name] = min(best[name], value)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=int, default=10_000)
    parser.add_argument("--reference", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    set_log_level("error")  # AppTest's "no runtime" notices
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        big, small = make_store(Path(folder), args.results), make_store(Path(folder), args.reference)
        print(f"stores built in {time.perf_counter() - start:.1f} s")
        AppTest.from_file(APP, default_timeout=120).run()  # imports, once, outside the timings
        reference = renders(small, args.repeats)
        measured = renders(big, args.repeats)
    print(f"task page, {args.results} results vs {args.reference} (reference), best of {args.repeats}:")
    for name in ("cold", "warm", "filter"):
        ratio = measured[name] / reference[name]
        print(f"  {name:7s} {measured[name]:6.3f} s   reference {reference[name]:6.3f} s   ratio {ratio:5.2f}x")
    verdict = "under" if measured["cold"] < 2.0 else "OVER"
    print(f"cold render with {args.results} results: {measured['cold']:.3f} s ({verdict} the 2 s target)")


if __name__ == "__main__":
    main()
