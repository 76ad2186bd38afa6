"""Where the store lives: ``--db`` (URL or SQLite path), ``$BENCH_DB``, or the default SQLite file."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import make_url

DB_ENV = "BENCH_DB"


def default_db_path() -> Path:
    """``$XDG_DATA_HOME/bench/results.db`` (``~/.local/share/bench/results.db``)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "bench" / "results.db"


def resolve_db_url(db: str | None = None) -> str:
    """``db`` (URL or file path), else ``$BENCH_DB``, else the default SQLite file."""
    value = db or os.environ.get(DB_ENV) or str(default_db_path())
    if "://" in value:
        return value
    return f"sqlite:///{Path(value).expanduser().resolve()}"


def describe_url(url: str) -> str:
    """A printable form of a store URL (the file path for SQLite, the URL without password otherwise)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.database or ":memory:"
    return parsed.render_as_string(hide_password=True)
