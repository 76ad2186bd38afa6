"""runs.macs and runs.params as 64-bit integers (MACs pass 2**31 for most models).

SQLite's INTEGER is already 64-bit, so only other backends (PostgreSQL: int4 -> int8) change.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        for column in ("macs", "params"):
            op.alter_column("runs", column, type_=sa.BigInteger(), existing_type=sa.Integer(), existing_nullable=True)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        for column in ("macs", "params"):
            op.alter_column("runs", column, type_=sa.Integer(), existing_type=sa.BigInteger(), existing_nullable=True)
