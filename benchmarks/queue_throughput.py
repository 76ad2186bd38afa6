"""The submission service's queue: jobs per minute for 1, 2 and 4 workers, and the cost of one claim.

Throughput: ``--jobs`` submissions (copies of the identity baseline, each its own name) are queued on
``denoise-demo-s25`` with the quick latency protocol, then ``bench worker --idle-exit`` processes drain
the queue; the time from the workers' start to the last job's end gives jobs per minute, printed with
its ratio to one worker (the reference, run first in the same invocation). Each worker count gets a
fresh store.

Claim latency: ``--claims`` jobs queued in a fresh store, then claimed and finished one by one in this
process (no scoring): the median and 95th percentile of one claim, in ms.

    python benchmarks/queue_throughput.py [--jobs 8] [--workers 1 2 4] [--claims 200] [--db-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.paths import SUBMISSIONS_DIR
from bench.service import queue
from bench.service.submit import submit
from bench.service.teams import create_team
from bench.store import Store

TASK = "denoise-demo-s25"


def _submissions(root: Path, count: int) -> list[Path]:
    folders = []
    for i in range(count):
        folder = root / f"sub{i}"
        shutil.copytree(SUBMISSIONS_DIR / "baselines" / "identity", folder)
        manifest = folder / "submission.yaml"
        text = re.sub(r"^name: identity$", f"name: queued-{i}", manifest.read_text(), flags=re.M)
        manifest.write_text(text.replace("team: bench baselines", "team: bench-queue").replace("[baseline, ", "["))
        folders.append(folder)
    return folders


def _filled_store(root: Path, folders: list[Path]) -> str:
    url = f"sqlite:///{root / 'queue.db'}"
    store = Store(url)
    token = create_team(store, "bench-queue")
    for folder in folders:
        submit(store, token, folder, [TASK], quick=True)
    return url


def throughput(root: Path, folders: list[Path], workers: int) -> float:
    """Jobs per minute of ``workers`` worker processes draining a queue of ``len(folders)`` jobs, from the
    first job's start to the last one's end (the workers' own start-up is not counted)."""
    run = root / f"w{workers}"
    run.mkdir()
    url = _filled_store(run, folders)
    env = os.environ | {"XDG_DATA_HOME": str(run / "xdg")}
    command = [sys.executable, "-m", "bench.cli", "worker", "--db", url, "--idle-exit", "1", "--poll", "0.2"]
    processes = [
        subprocess.Popen([*command, "--cache", str(run / f"cache{i}")], env=env, stdout=subprocess.DEVNULL)
        for i in range(workers)
    ]
    for process in processes:
        process.wait()
    jobs = queue.list_jobs(Store(url))
    assert all(j["status"] == "done" for j in jobs), [(j["id"], j["status"], j["error"]) for j in jobs]
    last = max(j["finished_at"] for j in jobs)
    first = min(j["started_at"] for j in jobs)
    return 60.0 * len(jobs) / (last - first).total_seconds()


def claim_latency(root: Path, folders: list[Path], claims: int) -> tuple[float, float]:
    """Median and 95th percentile of one claim (ms), over ``claims`` queued jobs."""
    (root / "claims").mkdir()
    store = Store(_filled_store(root / "claims", folders[:1]))
    from sqlalchemy.orm import Session

    from bench.store.models import JobRow

    template = queue.list_jobs(store)[0]
    with Session(store.engine) as session, session.begin():
        for _ in range(claims - 1):
            session.add(JobRow(team_id=1, sha256=template["sha256"], name=template["name"], task=TASK, devices=None,
                               quick=True, status="queued", attempts=0, created_at=template["created_at"]))  # fmt: skip
    times = []
    for _ in range(claims):
        start = time.perf_counter()
        job = queue.claim(store, "bench", lease_s=60, max_attempts=3)
        times.append((time.perf_counter() - start) * 1000)
        assert job is not None
        queue.fail(store, job.id, "bench", "benchmark: claimed only")
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2, 4])
    parser.add_argument("--claims", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folders = _submissions(root, args.jobs)
        reference = None
        for workers in args.workers:
            rate = throughput(root, folders, workers)
            reference = reference or rate
            print(f"{workers} worker(s): {rate:.1f} jobs/min ({rate / reference:.2f}x one worker), "
                  f"{args.jobs} jobs of identity on {TASK} (quick latency)")  # fmt: skip
        median, p95 = claim_latency(root, folders, args.claims)
        print(f"claim (SQLite, {args.claims} jobs queued): median {median:.2f} ms, p95 {p95:.2f} ms")


if __name__ == "__main__":
    main()
