"""The analyst on a warehouse synced from the sandbox: budget re-splits that keep each account's total,
creative verdicts only past the evidence thresholds, every action with its evidence."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import numpy as np
import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from agents.actions import BudgetChange, StatusChange
from agents.analyst import AnalystConfig, _tired_or_losing, analyse
from app.cli import app
from sandbox.market.market import Market
from tools.optimize.priors import BetaPrior
from tools.optimize.rules_records import DailyRow, EntitySeries

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


# --- which ad sets get new copy ---------------------------------------------------------------------


def _ad(ad_id: str, ctrs: list[float], *, impressions: int = 4_000, status: str = "ACTIVE") -> EntitySeries:
    start = dt.date(2026, 3, 1)
    return EntitySeries(
        entity_id=ad_id,
        name=ad_id,
        level="ad",
        platform="meta",
        account_id="acc",
        currency="USD",
        status=status,
        days=[
            DailyRow(day=start + dt.timedelta(days=i), impressions=impressions, clicks=round(impressions * c))
            for i, c in enumerate(ctrs)
        ],
    )


ACCOUNT = BetaPrior(alpha=20, beta=980, creatives=10, basis="moments")  # a typical CTR of 2%


def test_a_fatigued_live_ad_is_replaced_first() -> None:
    rng = np.random.default_rng(3)
    falling = [0.03 * (1 - i / 30) + rng.normal(0, 0.0005) for i in range(21)]  # 3% to 1.0%
    steady = [0.02] * 21
    request = _tired_or_losing("s1", [_ad("tired", falling), _ad("fine", steady)], ACCOUNT)
    assert request is not None and request.kind == "fatigued"
    assert request.base_ad_id == request.replaces_ad_id == "tired" and "fatigued" in request.reason
    # A paused ad's fall is not this ad set's problem any more.
    assert (
        _tired_or_losing("s1", [_ad("tired", falling, status="PAUSED"), _ad("fine", steady)], ACCOUNT) is None
    )


def test_an_ad_set_whose_best_ad_is_credibly_below_the_account_is_losing() -> None:
    weak = _tired_or_losing("s2", [_ad("a", [0.008] * 14), _ad("b", [0.01] * 14)], ACCOUNT)
    assert (
        weak is not None and weak.kind == "losing" and weak.base_ad_id == "b" and weak.replaces_ad_id is None
    )
    # The same rates on too few impressions are not credibly below: nothing is asked.
    assert _tired_or_losing("s2", [_ad("a", [0.01] * 2, impressions=200)], ACCOUNT) is None
    # Near the account's typical CTR: not losing.
    assert _tired_or_losing("s2", [_ad("a", [0.019] * 14)], ACCOUNT) is None
