"""Schema migrations (Alembic): every :class:`~bench.store.Store` brings its database to the newest revision.

The upgrade runs inside one transaction on the Store's own engine, so concurrent openers of a new
database queue instead of racing: SQLite takes the write lock at ``BEGIN IMMEDIATE`` (the engine's
``begin`` listener), PostgreSQL a transaction-scoped advisory lock; whoever comes second finds
``alembic_version`` at head and does nothing. A database made by ``create_all`` before migrations
existed (tables but no ``alembic_version``) is stamped at the initial revision, then upgraded.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection, Engine

from bench.store import StoreSchemaError

MIGRATIONS = Path(__file__).resolve().with_name("migrations")
BASELINE = "0001"  # the schema that Base.metadata.create_all made before migrations
_PG_LOCK = 0x62656E6368  # pg_advisory_xact_lock key ("bench")


def alembic_config(url: str, connection: Connection | None = None) -> Config:
    """An Alembic config for the store at ``url`` (migrating on ``connection`` when given)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))  # configparser interpolation
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, url: str) -> None:
    """Bring the database to the newest revision (a no-op when it is there already)."""
    with engine.begin() as connection:  # SQLite: BEGIN IMMEDIATE, so concurrent openers queue here
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK})")
        target = head()
        if current(connection) == target:
            return
        config = alembic_config(url, connection)
        tables = set(inspect(connection).get_table_names())
        if "alembic_version" not in tables and "runs" in tables:
            command.stamp(config, BASELINE)
        elif "alembic_version" not in tables and tables & {"submissions", "results"}:
            raise StoreSchemaError(
                f"the store {url} has the unversioned schema of a pre-release bench (a 'results' table, no "
                "'runs'); it cannot be upgraded in place: move the file aside (bench starts a new store) and "
                "re-score what you need"
            )
        command.upgrade(config, "head")


def revision(message: str, url: str = "sqlite://") -> None:
    """Autogenerate a new revision file from the difference between ``models.py`` and head (for developers)."""
    from sqlalchemy import create_engine

    engine = create_engine(url)
    upgrade(engine, url)
    with engine.begin() as connection:
        command.revision(alembic_config(url, connection), message=message, autogenerate=True)
