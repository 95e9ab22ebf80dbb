"""adset_day: ad set settings per account day, as syncs saw them

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "adset_day",
        sa.Column("adset_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("account_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("bid_micros", sa.BigInteger(), nullable=True),
        sa.Column("bid_strategy", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("daily_budget_micros", sa.BigInteger(), nullable=True),
        sa.Column("synced_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("adset_id", "day"),
    )
    op.create_index(op.f("ix_adset_day_account_id"), "adset_day", ["account_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_adset_day_account_id"), table_name="adset_day")
    op.drop_table("adset_day")
