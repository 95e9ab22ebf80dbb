"""Shared fixtures: fixed simulated dates, small and default worlds, a live sandbox over HTTP."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator

import pytest

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
