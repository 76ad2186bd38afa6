"""The store's tables (SQLAlchemy 2.0 ORM).

* ``submissions``: one row per distinct submission hash.
* ``runs``: one scoring run of a submission on a task version with given devices and settings
  (``key``, unique); ``status`` running -> complete. Headline numbers are columns; the whole
  Result is JSON for provenance.
* ``image_scores``: one row per (run, image), written as each image is scored: what a resumed
  run reuses.
* ``latencies``: one row per measured device of a complete run.
* ``samples``: crops (input, output, target PNGs) of the first few images of a run, written with
  their image's scores, for the leaderboard's visual comparison (:mod:`bench.samples`).

The submission service (:mod:`bench.service`):

* ``teams``: a submitter identity, with the sha256 of its token (the token itself is never stored);
* ``names``: which team owns a submission name (a name belongs to one team);
* ``artifact_files``: the files of submitted folders, content-addressed by the submission's hash, so
  workers on any machine that reaches the database can score them;
* ``jobs``: one scoring job of a submitted folder on a task: queued -> running -> done | failed
  (or cancelled), with its worker's heartbeat, attempts, result and one-paragraph failure reason.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column, relationship

# 64-bit: MACs pass 2**31 (PostgreSQL BIGINT; SQLite's INTEGER is 64-bit already, and stays INTEGER)
BIG_INT = BigInteger().with_variant(Integer, "sqlite")


class Base(DeclarativeBase):
    pass


class SubmissionRow(Base):
    __tablename__ = "submissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(200))
    team: Mapped[str] = mapped_column(String(200))
    format: Mapped[str] = mapped_column(String(40))
    architecture: Mapped[str | None] = mapped_column(String(100))
    precision: Mapped[str] = mapped_column(String(10))
    tags: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    runs: Mapped[list[RunRow]] = relationship(back_populates="submission")


class RunRow(Base):
    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    task: Mapped[str] = mapped_column(String(100), index=True)
    task_version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), index=True)  # running | complete
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    psnr: Mapped[float | None] = mapped_column(Float)
    ssim: Mapped[float | None] = mapped_column(Float)
    lpips: Mapped[float | None] = mapped_column(Float)
    macs: Mapped[int | None] = mapped_column(BIG_INT)
    params: Mapped[int | None] = mapped_column(BIG_INT)
    bench_version: Mapped[str | None] = mapped_column(String(40))
    git_commit: Mapped[str | None] = mapped_column(String(60))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    extra: Mapped[dict[str, float] | None] = mapped_column(JSON)
    submission: Mapped[SubmissionRow] = relationship(back_populates="runs")
    images: Mapped[list[ImageScoreRow]] = relationship(back_populates="run", cascade="all, delete-orphan")
    latencies: Mapped[list[LatencyRow]] = relationship(back_populates="run", cascade="all, delete-orphan")
    samples: Mapped[list[SampleRow]] = relationship(back_populates="run", cascade="all, delete-orphan")


class _OfRunImage:
    """The columns of a row about one image of a run: the run, the image (unique within the run) and
    its position in the task's order."""

    @declared_attr.directive
    def __table_args__(cls) -> tuple[UniqueConstraint]:
        return (UniqueConstraint("run_id", "image_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    image_id: Mapped[str] = mapped_column(String(300))
    position: Mapped[int] = mapped_column(Integer)


class ImageScoreRow(_OfRunImage, Base):
    __tablename__ = "image_scores"

    psnr: Mapped[float] = mapped_column(Float)
    ssim: Mapped[float] = mapped_column(Float)
    lpips: Mapped[float | None] = mapped_column(Float)
    extra: Mapped[dict[str, float] | None] = mapped_column(JSON)
    run: Mapped[RunRow] = relationship(back_populates="images")


class LatencyRow(Base):
    __tablename__ = "latencies"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    device: Mapped[str] = mapped_column(String(100))
    backend: Mapped[str] = mapped_column(String(40))
    precision: Mapped[str] = mapped_column(String(10))
    threads: Mapped[int] = mapped_column(Integer)
    input_shape: Mapped[list[int]] = mapped_column(JSON)
    median_ms: Mapped[float] = mapped_column(Float)
    p90_ms: Mapped[float | None] = mapped_column(Float)
    mean_ms: Mapped[float] = mapped_column(Float)
    cv: Mapped[float] = mapped_column(Float)
    runs: Mapped[int] = mapped_column(Integer)
    stable: Mapped[bool | None] = mapped_column()
    spread: Mapped[float | None] = mapped_column(Float)
    kind: Mapped[str] = mapped_column(String(20))
    run: Mapped[RunRow] = relationship(back_populates="latencies")


class SampleRow(_OfRunImage, Base):
    __tablename__ = "samples"

    box: Mapped[list[int]] = mapped_column(JSON)  # [top, left, height, width] in target pixels
    input_png: Mapped[bytes] = mapped_column(LargeBinary)
    output_png: Mapped[bytes] = mapped_column(LargeBinary)
    target_png: Mapped[bytes] = mapped_column(LargeBinary)
    run: Mapped[RunRow] = relationship(back_populates="samples")


class TeamRow(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class NameRow(Base):
    __tablename__ = "names"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)  # as compared: bench.reserved.normalised
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)


class ArtifactFileRow(Base):
    __tablename__ = "artifact_files"
    __table_args__ = (UniqueConstraint("sha256", "path"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)  # the submission's hash
    path: Mapped[str] = mapped_column(String(300))  # relative, inside the folder
    data: Mapped[bytes] = mapped_column(LargeBinary)


class JobRow(Base):
    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(200))
    task: Mapped[str] = mapped_column(String(100))
    devices: Mapped[list[str] | None] = mapped_column(JSON)
    quick: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(20), index=True)  # queued | running | done | failed | cancelled
    attempts: Mapped[int] = mapped_column(Integer)
    worker: Mapped[str | None] = mapped_column(String(200))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    result_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))
    error: Mapped[str | None] = mapped_column(Text)
