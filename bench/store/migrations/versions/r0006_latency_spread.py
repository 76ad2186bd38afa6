"""the spread of a latency's block medians (an unstable latency says how unstable).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("latencies", sa.Column("spread", sa.Float(), nullable=True))


def downgrade() -> None:
    op.drop_column("latencies", "spread")
