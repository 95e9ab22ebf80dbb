"""Shared fixtures: fixed simulated dates, small and default worlds, a live sandbox over HTTP."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.sandbox_runner import running_sandbox
from sandbox.market.config import WorldConfig
from sandbox.market.market import Market

TODAY = dt.date(2026, 11, 25)


@pytest.fixture(autouse=True)
def _restore_environment() -> Iterator[None]:
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def small_config(**overrides: object) -> WorldConfig:
    values: dict[str, object] = {"seed": 3, "today": TODAY, "accounts": 1, "ads": 20, "days": 21}
    values.update(overrides)
    return WorldConfig(**values)


@pytest.fixture
def small_market() -> Market:
    return Market(small_config())


@pytest.fixture(scope="session")
def default_market() -> Market:
    """The default world (seed 7). Read-only: tests that change a market build their own."""
    return Market(WorldConfig(seed=7, today=TODAY))


def _database_urls() -> list[object]:
    urls: list[object] = ["sqlite"]
    pg = os.environ.get("ADCLUSTER_TEST_PG_URL")
    urls.append(
        pytest.param(
            "postgresql",
            marks=pytest.mark.skipif(
                not pg, reason="ADCLUSTER_TEST_PG_URL is not set: PostgreSQL tests skipped"
            ),
        )
    )
    return urls


@pytest.fixture(params=_database_urls())
def engine_factory(request: pytest.FixtureRequest, tmp_path):  # type: ignore[no-untyped-def]
    """Makes migrated, empty warehouses on one backend: SQLite files, or fresh schemas on the test
    PostgreSQL server (dropped afterwards)."""
    import uuid

    from sqlalchemy import text

    from storage.db import make_engine, migrate

    made: list[tuple[object, str | None]] = []
    base_url = os.environ.get("ADCLUSTER_TEST_PG_URL", "")
    admin = make_engine(base_url) if request.param == "postgresql" else None

    def new_engine():  # type: ignore[no-untyped-def]
        name = uuid.uuid4().hex[:12]
        if admin is None:
            eng = make_engine(f"sqlite:///{tmp_path / f'warehouse-{name}.db'}")
            made.append((eng, None))
        else:
            schema = f"t_{name}"
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            sep = "&" if "?" in base_url else "?"
            eng = make_engine(f"{base_url}{sep}options=-csearch_path%3D{schema}")
            made.append((eng, schema))
        migrate(eng)
        return eng

    yield new_engine
    for eng, schema in made:
        eng.dispose()  # type: ignore[attr-defined]
        if admin is not None and schema:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    if admin is not None:
        admin.dispose()


@pytest.fixture
def engine(engine_factory):  # type: ignore[no-untyped-def]
    """A migrated, empty warehouse on the backend under test."""
    return engine_factory()


@pytest.fixture
def configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine) -> Iterator[Market]:  # type: ignore[no-untyped-def]
    """A sandbox and settings pointing the CLI at it, with the warehouse on the backend under test."""
    market = Market(small_config(seed=9, accounts=1, ads=20, days=14))
    with running_sandbox(market) as url:
        monkeypatch.setenv("ADCLUSTER_SANDBOX_URL", url)
        monkeypatch.setenv("ADCLUSTER_PLATFORMS", '["meta"]')
        # No model started by cycles here: the create node has its own tests (tests/test_create_node.py).
        monkeypatch.setenv("ADCLUSTER_NEW_ADS_PER_CYCLE", "0")
        monkeypatch.setenv("ADCLUSTER_DATA_DIR", str(tmp_path / "data"))
        monkeypatch.setenv("ADCLUSTER_DATABASE_URL", engine.url.render_as_string(hide_password=False))
        yield market
