"""Reading a warehouse back for comparisons in tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, text

TABLES = (
    "account",
    "campaign",
    "adset",
    "ad",
    "creative",
    "custom_audience",
    "daily_metric",
    "daily_segment_metric",
    "hourly_metric",
)
VOLATILE = {"synced_at", "last_success"}


def dump(engine: Engine, tables: tuple[str, ...] = TABLES) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the warehouse tables, sorted, without the columns that record when a sync ran."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for table in tables:
            result = conn.execute(text(f"SELECT * FROM {table}"))
            names = list(result.keys())
            cols = [c for c in names if c not in VOLATILE]
            rows = [tuple(str(r._mapping[c]) for c in cols) for r in result]
            out[table] = sorted(rows)
    return out
