"""extra metrics: each image's and each run's scores of the registered metrics beyond PSNR, SSIM and
LPIPS that a task names (``metric.extra``), as a JSON object name -> value.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("image_scores") as batch:
        batch.add_column(sa.Column("extra", sa.JSON(), nullable=True))
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("extra", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("extra")
    with op.batch_alter_table("image_scores") as batch:
        batch.drop_column("extra")
