"""Results for board tests and the board benchmark, built with pydantic and stored like any result.

:func:`make_result` builds one complete Result (no model is run); :func:`random_results` builds
many with a seeded generator, spread over tasks, devices, teams, tags, precisions and dates, a few
of them with unstable latencies and some with predicted latencies, so every board path is hit.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy.orm import Session

from bench.challenges.tracks import get_track
from bench.demo import baseline_submissions
from bench.plan import make_plan, result_info
from bench.results import Complexity, LatencyResult, Metrics, Provenance, Result, SubmissionInfo, key_of
from bench.runtime.protocol import QUICK
from bench.scoring import evaluate
from bench.store import Store
from bench.store.models import LatencyRow, RunRow, SubmissionRow
from bench.tasks import get_task

SHAPE = (1, 3, 64, 64)


def latency(
    device: str, ms: float, kind: str = "measured", stable: bool | None = True, shape: tuple[int, ...] = SHAPE
) -> LatencyResult:
    return LatencyResult(
        device=device,
        backend=device.split("-")[-1],
        precision="fp32",
        threads=4,
        input_shape=shape,
        median_ms=ms,
        p90_ms=ms * 1.1,
        mean_ms=ms * 1.02,
        min_ms=ms * 0.9,
        max_ms=ms * 1.2,
        runs=20,
        cv=0.02,
        stable=stable,
        spread=0.083 if stable is False else None,  # an unstable latency keeps its block medians' spread
        kind=kind,
    )


def make_result(
    task: str,
    name: str,
    psnr: float,
    latencies: dict[str, float] | list[LatencyResult],
    version: int = 1,
    team: str = "lab",
    tags: tuple[str, ...] = ("lightweight",),
    precision: str = "fp32",
    fmt: str = "onnx",
    macs: int = 2_500_000_000,
    params: int = 1_000_000,
    ssim: float = 0.9,
    lpips: float | None = None,
) -> Result:
    """A complete Result (latencies: ``{device: median ms}`` or ready LatencyResults)."""
    timed = [latency(d, ms) for d, ms in latencies.items()] if isinstance(latencies, dict) else latencies
    return Result(
        task=task,
        task_version=version,
        submission=SubmissionInfo(
            name=name,
            team=team,
            sha256=hashlib.sha256(f"{name}/{team}".encode()).hexdigest(),
            format=fmt,
            architecture=None,
            tags=list(tags),
            precision=precision,
        ),
        metrics=Metrics(psnr=psnr, ssim=ssim, lpips=lpips, per_image=[]),
        latency=timed,
        complexity=Complexity(macs=macs, params=params, conv_traffic_bytes=1, input_shape=SHAPE),
        provenance=Provenance(
            bench_version="0.1.0",
            git_commit=None,
            python="3.11",
            torch="2.13.0",
            backends={},
            host="test",
            platform="linux",
            started_at="2025-01-01T00:00:00Z",
            duration_s=1.0,
            data_folder="embedded",
            latency_settings={"runs": 20},
        ),
    )


TASKS = ("sr-set5-x2", "sr-set5-x4", "denoise-cbsd68-s25", "deblur-gopro")
DEVICES = ("cpu-torch", "cpu-onnxruntime", "cpu-tflite", "cuda")
TEAMS = tuple(f"team-{i:02d}" for i in range(12))
TAGS = ("baseline", "lightweight", "pruned", "nas", "int8", "portable")


def random_results(count: int, seed: int = 0, tasks: tuple[str, ...] = TASKS) -> list[Result]:
    """``count`` plausible results over ``tasks`` (round robin): quality rises with cost, with noise;
    1 in 50 has an unstable latency; 1 in 10 also has a predicted latency on cpu-tflite."""
    rng = np.random.default_rng(seed)
    results = []
    for index in range(count):
        task = tasks[index % len(tasks)]
        macs = float(10 ** rng.uniform(8, 11))
        psnr = 26.0 + 2.0 * np.log10(macs / 1e8) + rng.normal(0, 0.6)
        devices = rng.choice(len(DEVICES), size=int(rng.integers(1, 3)), replace=False)
        timed = [
            latency(DEVICES[d], float(macs / 1e8 * (1 + d) * rng.uniform(0.5, 2.0)), stable=bool(rng.random() > 0.02))
            for d in devices
        ]
        if rng.random() < 0.1:
            timed.append(
                latency("cpu-tflite", float(macs / 1e8 * rng.uniform(0.5, 2.0)), kind="predicted", stable=None)
            )
        tags = tuple(str(t) for t in rng.choice(TAGS, size=int(rng.integers(1, 3)), replace=False))
        results.append(
            make_result(
                task,
                f"model-{index:05d}",
                float(psnr),
                timed,
                team=str(rng.choice(TEAMS)),
                tags=tags,
                precision=str(rng.choice(["fp32", "fp16", "int8"])),
                macs=int(macs),
                params=int(macs / 2000),
                ssim=float(0.7 + psnr / 200),
            )
        )
    return results


def bulk_add(store: Store, results: list[Result], start: datetime | None = None) -> None:
    """Store complete ``results`` in one transaction (``Store.add`` takes one per result: minutes for
    10,000); the rows are the same as ``Store.add`` writes, finished one hour apart from ``start``."""
    start = start or datetime(2026, 1, 1, tzinfo=UTC)
    with Session(store.engine) as session, session.begin():
        for index, result in enumerate(results):
            info = result.submission
            sub = SubmissionRow(
                sha256=info.sha256,
                name=info.name,
                team=info.team,
                format=info.format,
                architecture=info.architecture,
                precision=info.precision,
                tags=list(info.tags),
                created_at=start,
            )
            finished = start + timedelta(hours=index)
            run = RunRow(
                key=key_of(result),
                submission=sub,
                task=result.task,
                task_version=result.task_version,
                status="complete",
                started_at=finished,
                finished_at=finished,
                psnr=result.metrics.psnr,
                ssim=result.metrics.ssim,
                lpips=result.metrics.lpips,
                macs=result.complexity.macs,
                params=result.complexity.params,
                result=result.model_dump(mode="json"),
            )
            for lat in result.latency:
                run.latencies.append(
                    LatencyRow(
                        device=lat.device,
                        backend=lat.backend,
                        precision=lat.precision,
                        threads=lat.threads,
                        input_shape=list(lat.input_shape),
                        median_ms=lat.median_ms,
                        p90_ms=lat.p90_ms,
                        mean_ms=lat.mean_ms,
                        cv=lat.cv,
                        runs=lat.runs,
                        stable=lat.stable,
                        kind=lat.kind,
                    )
                )
            session.add(run)


# name -> (psnr, {device: median ms}); on cpu-torch fast/good/best/dup-best are on the front.
SR = {
    "fast": (30.0, {"cpu-torch": 1.0, "cpu-onnxruntime": 0.8}),
    "good": (32.0, {"cpu-torch": 5.0, "cpu-onnxruntime": 9.0}),
    "best": (34.0, {"cpu-torch": 50.0}),
    "dup-best": (34.0, {"cpu-torch": 50.0}),
    "slow-bad": (29.0, {"cpu-torch": 60.0, "cpu-onnxruntime": 70.0}),
    "twin-of-good": (32.0, {"cpu-torch": 7.0, "cpu-onnxruntime": 3.0}),
}
SR_TEAMS = {"fast": "alpha", "good": "beta", "best": "beta"}


def score_bicubic(store: Store) -> int:
    """A real run: the bicubic baseline on Set5 x2 (embedded), scored through a run handle."""
    task = get_task("sr-set5-x2")
    submission = next(s for s in baseline_submissions() if s.manifest.name == "bicubic")
    key = make_plan(submission, task, ("cpu-torch",), latency=QUICK).key
    handle = store.run(key, result_info(submission), task.id, task.version, resume=False)
    result = evaluate(make_plan(submission, task, devices=("cpu-torch",), latency=QUICK), checkpoint=handle)
    return handle.finish(result)


def fill_board_store(store: Store) -> int:
    """The board tests' store: :data:`SR` entries (and an unstable, a predicted, a denoising, an
    unregistered-task and three NTIRE 2024 ESR entries), plus one real run of the bicubic baseline
    on Set5 x2 with its sample crops; returns that run's id."""
    for name, (psnr, lat) in SR.items():
        store.add(
            make_result(
                "sr-set5-x2",
                name,
                psnr,
                lat,
                team=SR_TEAMS.get(name, "gamma"),
                tags=("int8",) if name == "fast" else ("lightweight",),
            )
        )
    store.add(make_result("sr-set5-x2", "shaky", 29.5, [latency("cpu-torch", 80.0, stable=False)]))  # dominated
    store.add(make_result("sr-set5-x2", "guessed", 33.0, [latency("cpu-torch", 0.2, kind="predicted", stable=None)]))
    store.add(make_result("denoise-demo-s25", "denoiser", 28.0, {"cpu-torch": 2.0}))
    store.add(make_result("retired-task", "old-model", 25.0, {"cpu-torch": 3.0}))
    track = get_track("ntire2024-esr")
    shape = tuple(track.timing.input_shape)
    for name, psnr, ms, tags, team in (
        ("esr-base", 27.0, 100.0, ("baseline",), "bench baselines"),  # the project's: the trusted default baseline
        ("esr-fast", 27.1, 40.0, (), "lab"),
        ("esr-blurry", 26.0, 5.0, (), "lab"),
    ):
        timed = [latency("cpu-torch", ms, shape=shape)]
        store.add(make_result(track.quality_task, name, psnr, timed, tags=tags, fmt="safetensors", team=team))
    return score_bicubic(store)
