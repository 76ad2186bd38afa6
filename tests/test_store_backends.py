"""One store test suite over both backends: SQLite (a file in tmp_path) and PostgreSQL (a throwaway server).

Migrations (schema equals the models, re-upgrading is a no-op, pre-migration files are adopted,
a 0002 store gains ``samples``), results, run handles (checkpoints, sample crops, resume, dedupe,
discard), the submission page's queries, the board rows, concurrent writers, and ``bench export``
in every format.
"""

from __future__ import annotations

import argparse
import threading
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.orm import Session

from bench.cli import export as export_cli
from bench.results import ImageResult, Result
from bench.samples import SampleCrops
from bench.store import RunInProgress, Store
from bench.store.export import export, export_columns, image_columns
from bench.store.migrate import alembic_config, head
from bench.store.models import Base, ImageScoreRow, RunRow, SubmissionRow
from bench.store.queries import LATENCY_FIELDS
from tests.postgres import fresh_database, postgres_url  # noqa: F401  (the session fixture)
from tests.test_board import make_result

IMAGES = [ImageResult(id=f"img{i}", psnr=30.0 + i, ssim=0.9, lpips=None if i % 2 else 0.1) for i in range(3)]
PRE_MIGRATION_TABLES = ("submissions", "runs", "image_scores", "latencies")  # what create_all made before 0001


def _crops(position: int) -> SampleCrops:
    """Stand-in crops of IMAGES[position] (any bytes: the store does not decode them; \\x00 checks binary safety)."""
    image = IMAGES[position]
    return SampleCrops(image_id=image.id, position=position, box=(position, 2, 192, 96),
                       input_png=b"\x89PNG in\x00" + bytes(range(256)), output_png=b"out\x00" * 1000,
                       target_png=f"target {position}".encode())  # fmt: skip


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return fresh_database(request.getfixturevalue("postgres_url"))


def _result(name: str, task: str = "sr-x2", psnr: float = 30.0, stable: bool | None = True) -> Result:
    result = make_result(task, name, psnr, {"cpu-torch": 5.0, "cpu-onnxruntime": 3.0})
    latency = [lat.model_copy(update={"stable": stable}) for lat in result.latency]
    metrics = result.metrics.model_copy(update={"per_image": IMAGES})
    return result.model_copy(update={"latency": latency, "metrics": metrics})


def _versions(url: str) -> list[str]:
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = [r[0] for r in connection.execute(text("SELECT version_num FROM alembic_version"))]
    engine.dispose()
    return rows


def _differences(store: Store) -> list[object]:
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


# -- migrations --------------------------------------------------------------------------------------


def test_migrated_schema_equals_the_models_and_upgrading_again_is_a_no_op(store_url: str) -> None:
    store = Store(store_url)
    assert _differences(store) == []
    assert _versions(store_url) == [head()]
    store.add(_result("a"))
    again = Store(store_url)  # already at head: nothing changes, data intact
    assert _versions(store_url) == [head()] and again.count() == 1


def test_a_database_made_before_migrations_is_adopted(store_url: str) -> None:
    engine = create_engine(store_url)
    with engine.begin() as connection:  # what Store made before migrations: create_all with 32-bit macs/params
        Base.metadata.create_all(connection, tables=[Base.metadata.tables[t] for t in PRE_MIGRATION_TABLES])
        for table, column in (("image_scores", "extra"), ("runs", "extra"), ("latencies", "spread")):
            connection.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))  # gained later (0004, 0006)
        if connection.dialect.name == "postgresql":
            connection.execute(text("ALTER TABLE runs ALTER macs TYPE integer, ALTER params TYPE integer"))
    engine.dispose()
    store = Store(store_url).open()
    assert _versions(store_url) == [head()] and _differences(store) == []
    store.add(_result("a"))
    assert store.count() == 1


def test_a_0002_store_upgrades_to_samples_and_back(store_url: str) -> None:
    engine = create_engine(store_url)
    with engine.begin() as connection:  # a store as bench made it at revision 0002, with one complete run
        command.upgrade(alembic_config(store_url, connection), "0002")
    with Session(engine) as session, session.begin():
        submission = SubmissionRow(sha256="ab" * 32, name="old", team="lab", format="onnx", architecture=None,
                                   precision="fp32", tags=["x"], created_at=datetime.now(UTC))  # fmt: skip
        run = RunRow(key="k-old", submission=submission, task="sr-x2", task_version=1, status="complete",
                     started_at=datetime.now(UTC), psnr=31.0, macs=2**40, result={"old": True})  # fmt: skip
        run.images.append(ImageScoreRow(image_id="img0", position=0, psnr=31.0, ssim=0.9, lpips=None))
        session.add(run)
    assert "samples" not in inspect(engine).get_table_names()
    engine.dispose()

    store = Store(store_url).open()
    assert _versions(store_url) == [head()] and _differences(store) == []
    assert store.count() == 1 and store.samples(1) == [] and [r.psnr for r in store.image_scores(1)] == [31.0]
    detail = store.run_detail(1)
    assert detail is not None and detail["result"] == {"old": True} and detail["samples"] == []
    handle = store.run("k-new", _result("new").submission, "sr-x2", 1, resume=False)
    handle.record(0, IMAGES[0], _crops(0))
    assert store.samples(handle.run_id or 0) == [_crops(0)]
    store.engine.dispose()

    engine = create_engine(store_url)
    with engine.begin() as connection:  # and back: 0003's downgrade drops only the samples
        command.downgrade(alembic_config(store_url, connection), "0002")
    assert "samples" not in inspect(engine).get_table_names()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM runs")).scalar() == 2
    engine.dispose()


# -- results -----------------------------------------------------------------------------------------


def test_add_and_read_results(store_url: str) -> None:
    store = Store(store_url)
    first = store.add(_result("a", psnr=31.0))
    second = store.add(_result("b", task="denoise", psnr=29.0, stable=None))
    assert store.add(_result("a", psnr=31.0)) == first  # same run key: not duplicated
    assert store.count() == 2
    results = store.results()
    assert [r.submission.name for r in results] == ["b", "a"]  # newest first
    assert results[1] == _result("a", psnr=31.0)  # the whole Result round-trips through the JSON column
    assert [r.submission.name for r in store.results("denoise")] == ["b"]
    assert store.image_scores(first) == IMAGES
    rows = store.leaderboard_rows()
    assert len(rows) == 4 and {r["result_id"] for r in rows} == {first, second}
    row = rows[0]
    assert row["tags"] == "lightweight" and row["macs"] == 2_500_000_000 and row["psnr"] == 31.0
    assert {r["device"] for r in rows} == {"cpu-torch", "cpu-onnxruntime"}
    assert [r["result_id"] for r in store.leaderboard_rows("denoise")] == [second, second]
    stored = store.results("denoise")[0].latency
    assert all(lat.stable is None for lat in stored) and all(lat.stable is True for lat in results[1].latency)


def test_run_handle_checkpoints_resume_and_dedupe(store_url: str) -> None:
    store = Store(store_url)
    result = _result("a")
    info = result.submission
    handle = store.run("k1", info, "sr-x2", 1, resume=False)
    assert handle.complete_id is None and handle.run_id is None and handle.done == {}
    handle.record(0, IMAGES[0])
    handle.record(1, IMAGES[1])
    with pytest.raises(RunInProgress, match="--resume"):
        store.run("k1", info, "sr-x2", 1, resume=False)
    resumed = store.run("k1", info, "sr-x2", 1, resume=True)
    assert resumed.run_id == handle.run_id and list(resumed.done) == ["img0", "img1"]
    assert store.count() == 0  # unfinished runs are not results
    resumed.record(2, IMAGES[2])
    run_id = resumed.finish(result)
    assert run_id == handle.run_id and store.count() == 1
    assert store.run("k1", info, "sr-x2", 1, resume=False).complete_id == run_id
    assert store.image_scores(run_id) == IMAGES

    failed = store.run("k2", info, "sr-x2", 1, resume=False)
    failed.record(0, IMAGES[0])
    failed.discard()
    assert store.run("k2", info, "sr-x2", 1, resume=False).run_id is None  # nothing of it stays

    restarted = store.run("k3", info, "sr-x2", 1, resume=False)
    restarted.record(0, IMAGES[0])
    again = store.run("k3", info, "sr-x2", 1, resume=True)
    again.discard_unfinished()
    assert again.done == {} and store.run("k3", info, "sr-x2", 1, resume=False).run_id is None
    assert store.count() == 1 and len(store.leaderboard_rows()) == 2


def test_samples_are_written_with_their_scores_and_read_for_the_submission_page(store_url: str) -> None:
    store = Store(store_url)
    result = _result("a")
    handle = store.run("k1", result.submission, "sr-x2", 1, resume=False)
    with pytest.raises(ValueError, match="img1"):
        handle.record(0, IMAGES[0], _crops(1))  # crops of another image: refused before anything is written
    assert handle.run_id is None
    handle.record(0, IMAGES[0], _crops(0))
    handle.record(1, IMAGES[1])  # beyond the sampled images: scores only
    resumed = store.run("k1", result.submission, "sr-x2", 1, resume=True)
    resumed.record(2, IMAGES[2], _crops(2))
    assert store.run_detail(resumed.run_id or 0) is None  # not complete yet
    run_id = resumed.finish(result)
    assert store.samples(run_id) == [_crops(0), _crops(2)]  # bytes intact, ordered by position

    detail = store.run_detail(run_id)
    assert detail is not None and store.run_detail(run_id + 1000) is None
    assert detail["run_id"] == run_id and detail["task"] == "sr-x2" and detail["task_version"] == 1
    assert Result.model_validate(detail["result"]) == result
    submission = detail["submission"]
    assert submission["name"] == "a" and submission["sha256"] == result.submission.sha256
    assert submission["tags"] == ["lightweight"] and submission["format"] == "onnx" and submission["created_at"]
    assert [lat["device"] for lat in detail["latencies"]] == ["cpu-torch", "cpu-onnxruntime"]
    assert detail["latencies"][0] == {
        **{field: getattr(result.latency[0], field) for field in LATENCY_FIELDS},
        "input_shape": [1, 3, 64, 64],
    }
    assert [(i["position"], i["id"], i["psnr"]) for i in detail["images"]] == [(0, "img0", 30.0), (1, "img1", 31.0),
                                                                             (2, "img2", 32.0)]  # fmt: skip
    assert detail["samples"] == [{"position": 0, "image_id": "img0", "box": [0, 2, 192, 96]},
                                 {"position": 2, "image_id": "img2", "box": [2, 2, 192, 96]}]  # fmt: skip

    other = store.add(_result("b", task="denoise"))
    sha = result.submission.sha256
    assert [r["run_id"] for r in store.runs_of("a")] == [run_id]
    assert [r["run_id"] for r in store.runs_of(sha)] == [run_id] == [r["run_id"] for r in store.runs_of(sha[:12])]
    assert store.runs_of(sha[:4]) == [] and store.runs_of("nobody") == []  # too short a prefix: not a hash
    assert store.runs_of("b")[0]["task"] == "denoise" and store.samples(other) == []

    with store.engine.begin() as connection:  # deleting a run deletes its samples (ON DELETE CASCADE)
        connection.execute(text("DELETE FROM runs WHERE id = :id"), {"id": run_id})
    assert store.samples(run_id) == []


def test_concurrent_writers_open_and_record_different_runs(store_url: str) -> None:
    """4 threads, each with its own Store (a fresh database: the migration races too), one shared submission."""
    barrier, errors, ids = threading.Barrier(4), [], []

    def work(n: int) -> None:
        try:
            barrier.wait(timeout=30)
            store = Store(store_url)
            result = _result("shared")
            handle = store.run(f"key{n}", result.submission, "sr-x2", 1, resume=False)
            for position, image in enumerate(IMAGES):
                handle.record(position, image)
            ids.append(handle.finish(result))
        except Exception as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == [] and len(set(ids)) == 4
    store = Store(store_url)
    assert store.count() == 4 and _versions(store_url) == [head()]
    assert sum(len(store.image_scores(i)) for i in ids) == 12
    assert {r.submission.name for r in store.results()} == {"shared"}


# -- export ------------------------------------------------------------------------------------------


def _read(path: Path, fmt: str) -> pd.DataFrame:
    return {"csv": pd.read_csv, "json": pd.read_json, "parquet": pd.read_parquet}[fmt](path)


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_export_round_trips(store_url: str, tmp_path: Path, fmt: str) -> None:
    store = Store(store_url)
    ids = [store.add(_result("a", psnr=31.0)), store.add(_result("b", task="denoise", psnr=29.0))]
    path = tmp_path / f"board.{fmt}"
    assert export(store, path, fmt) == 4
    frame = _read(path, fmt)
    assert list(frame.columns) == export_columns()
    assert frame["result_id"].tolist() == [ids[0], ids[0], ids[1], ids[1]]
    assert frame["psnr"].tolist() == [31.0, 31.0, 29.0, 29.0] and frame["macs"].tolist() == [2_500_000_000] * 4
    assert frame["device"].tolist() == ["cpu-torch", "cpu-onnxruntime"] * 2
    created = pd.to_datetime(frame["created_at"], utc=True)
    assert created.notna().all() and (created.dt.year >= 2025).all()

    assert export(store, path, fmt, task="denoise", per_image=True) == 3
    images = _read(path, fmt)
    assert list(images.columns) == image_columns()
    assert images["image_id"].tolist() == ["img0", "img1", "img2"] and images["psnr"].tolist() == [30.0, 31.0, 32.0]
    assert images["lpips"].isna().tolist() == [False, True, False]


def _cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="bench")
    export_cli.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["export", *argv])
    return int(args.func(args))


def test_export_command(store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Store(store_url).add(_result("a"))
    out = tmp_path / "out" / "board.parquet"
    assert _cli("--db", store_url, "--out", str(out)) == 0  # format from the suffix
    assert len(pd.read_parquet(out)) == 2 and "wrote 2 rows" in capsys.readouterr().out
    assert _cli("--db", store_url, "--out", str(tmp_path / "x.csv"), "--format", "json", "--per-image") == 0
    assert len(pd.read_json(tmp_path / "x.csv")) == 3
    assert _cli("--db", store_url, "--out", str(tmp_path / "board.txt")) == 2
    assert "give --format" in capsys.readouterr().err


def test_export_never_creates_a_sqlite_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "none.db"
    assert _cli("--db", str(missing), "--out", str(tmp_path / "b.csv")) == 2
    assert "no store at" in capsys.readouterr().err
    assert not missing.exists() and not (tmp_path / "b.csv").exists()
