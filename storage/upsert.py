"""Bulk upserts that work the same on SQLite and PostgreSQL: a re-sync overwrites, never duplicates."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel

CHUNK = 5000


def upsert(session: Session, model: type[SQLModel], rows: Sequence[dict[str, Any]]) -> int:
    """Insert rows, or update every non-key column where the primary key exists. Returns rows written."""
    if not rows:
        return 0
    table: Table = model.__table__  # type: ignore[attr-defined]
    keys = [c.name for c in table.primary_key.columns]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    columns = list(rows[0])
    stmt = insert(table)
    updates = {c: stmt.excluded[c] for c in columns if c not in keys}
    stmt = (
        stmt.on_conflict_do_update(index_elements=keys, set_=updates)
        if updates
        else stmt.on_conflict_do_nothing(index_elements=keys)
    )
    # One compiled statement, executed over many parameter sets (the driver batches them).
    for start in range(0, len(rows), CHUNK):
        session.execute(stmt, list(rows[start : start + CHUNK]))
    return len(rows)
