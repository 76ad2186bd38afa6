"""samples: input/output/target crops (PNG) of a run's first images, for the leaderboard's visual comparison.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "samples",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("image_id", sa.String(length=300), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("box", sa.JSON(), nullable=False),
        sa.Column("input_png", sa.LargeBinary(), nullable=False),
        sa.Column("output_png", sa.LargeBinary(), nullable=False),
        sa.Column("target_png", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "image_id"),
    )
    op.create_index("ix_samples_run_id", "samples", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_samples_run_id", table_name="samples")
    op.drop_table("samples")
