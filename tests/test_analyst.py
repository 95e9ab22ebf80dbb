"""The analyst on a warehouse synced from the sandbox: budget re-splits that keep each account's total,
creative verdicts only past the evidence thresholds, every action with its evidence."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from agents.actions import BudgetChange, StatusChange
from agents.analyst import AnalystConfig, analyse
from app.cli import app
from sandbox.market.market import Market

UNTIL = dt.date(2026, 11, 24)


@pytest.fixture
def synced(configured: Market, engine: Engine) -> Engine:
    result = CliRunner().invoke(app, ["sync", "--days", "14"])
    assert result.exit_code == 0, result.output
    return engine


def test_budget_changes_keep_each_accounts_total_and_carry_their_evidence(synced: Engine) -> None:
    analysis = analyse(synced, until=UNTIL, config=AnalystConfig(days=14))
    budgets = [a for a in analysis.actions if isinstance(a, BudgetChange)]
    assert budgets, analysis.notes
    for a in budgets:
        assert a.after_micros > 0 and a.after_micros % 10_000 == 0  # whole cents
        assert abs(a.after_micros - a.before_micros) <= 0.3 * a.before_micros + 10_000  # the step cap
        assert a.evidence[0].source.startswith("budget allocator") and a.evidence[0].sample_size >= 7
        assert a.expected is not None and a.expected.after is not None
    moved = defaultdict(int)
    for a in budgets:
        moved[a.entity.account_id] += a.after_micros - a.before_micros
    # Budget-neutral up to the allocator's rounding down to whole cents, and unchanged units are not listed.
    assert all(-10_000 * 20 <= m <= 0 for m in moved.values())


def test_creative_verdicts_respect_the_evidence_thresholds(synced: Engine) -> None:
    strict = analyse(synced, until=UNTIL, config=AnalystConfig(days=14))
    statuses = [a for a in strict.actions if isinstance(a, StatusChange)]
    assert statuses  # this world has clearly weaker ads with thousands of impressions
    for a in statuses:
        assert a.evidence[0].sample_size is not None
        # The sandbox syncs every ad's creative, so the shared-element model with history is the one used.
        assert a.evidence[0].source == "creative bandit (shared elements, account history)"
        if a.after == "PAUSED":
            assert a.evidence[0].sample_size >= 3000 and a.evidence[0].figures["prob_best"] < 0.02
    impossible = AnalystConfig(days=14, creatives={"min_impressions_to_pause": 10**9})
    assert not [
        a
        for a in analyse(synced, until=UNTIL, config=impossible).actions
        if isinstance(a, StatusChange) and a.after == "PAUSED"
    ]


def test_an_empty_warehouse_gives_no_actions(engine: Engine) -> None:
    from storage.db import migrate

    migrate(engine)
    assert analyse(engine, until=UNTIL).actions == []
