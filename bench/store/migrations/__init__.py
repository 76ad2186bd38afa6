"""Alembic migrations of the results store (applied by :func:`bench.store.migrate.upgrade` on every open)."""
