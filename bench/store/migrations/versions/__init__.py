"""Alembic revisions of the results store, oldest first (``down_revision`` links them)."""
