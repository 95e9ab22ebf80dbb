"""used_link: signed approve/reject links already used

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 16:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "used_link",
        sa.Column("nonce", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("proposal_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("used_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("nonce"),
    )
    op.create_index(op.f("ix_used_link_proposal_id"), "used_link", ["proposal_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_used_link_proposal_id"), table_name="used_link")
    op.drop_table("used_link")
