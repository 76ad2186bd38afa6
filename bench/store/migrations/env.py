"""Alembic environment: runs on the connection that :func:`bench.store.migrate.upgrade` passes in.

A new revision (after changing ``bench/store/models.py``)::

    .venv/bin/python -c "from bench.store.migrate import revision; revision('what changed')"

then review the generated file under ``versions/`` (autogenerate misses some changes).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection

from bench.store.models import Base

config = context.config
connection = config.attributes.get("connection")


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=Base.metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=Base.metadata,
                      literal_binds=True)  # fmt: skip
    with context.begin_transaction():
        context.run_migrations()
elif connection is not None:
    _run(connection)
else:
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as own:
        _run(own)
    engine.dispose()
