"""experiments: A/B tests monitored by the sequential test

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 15:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "experiment",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("metric", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("mde", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("alpha", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("power", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("arms", sa.JSON(), nullable=False),
        sa.Column("start_day", sa.Date(), nullable=False),
        sa.Column("planned_per_arm", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("ended_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_experiment_status"), "experiment", ["status"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_experiment_status"), table_name="experiment")
    op.drop_table("experiment")
