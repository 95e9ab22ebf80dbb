"""The plan step with the real guardrails and approval policy, on the analyst's proposals for a
warehouse synced from the sandbox."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from agents.actions import BudgetChange, StatusChange
from agents.analyst import AnalystConfig, analyse
from agents.approval_policy import ApprovalPolicy
from agents.guardrails import Guardrails
from agents.planner import guard_context, make_guard
from app.cli import app
from sandbox.market.market import Market

UNTIL = dt.date(2026, 11, 24)
NOW = dt.datetime(2026, 11, 25, 9, tzinfo=dt.UTC)


@pytest.fixture
def proposals(configured: Market, engine: Engine):  # type: ignore[no-untyped-def]
    assert CliRunner().invoke(app, ["sync", "--days", "14"]).exit_code == 0
    return engine, analyse(engine, until=UNTIL, config=AnalystConfig(days=14)).actions


def test_the_context_reads_current_budgets_and_the_accounts_total(proposals) -> None:  # type: ignore[no-untyped-def]
    engine, actions = proposals
    ctx = guard_context(engine, actions, now=NOW)
    budgets = [a for a in actions if isinstance(a, BudgetChange)]
    assert budgets
    for a in budgets:
        assert ctx.entity(a.entity).daily_budget_micros == a.before_micros  # type: ignore[union-attr]
    (account,) = ctx.accounts.values()
    assert account.daily_budget_total_micros >= sum(a.before_micros for a in budgets)


def test_defaults_let_the_analysts_steps_through_and_approve_nothing_by_themselves(proposals) -> None:  # type: ignore[no-untyped-def]
    engine, actions = proposals
    items = make_guard(engine, Guardrails(), ApprovalPolicy(), now=lambda: NOW)(actions)
    assert [i.action.id for i in items] == [a.id for a in actions]
    assert all(i.verdict == "allowed" and not i.auto_approved for i in items)


def test_a_policy_approves_pauses_but_never_a_raise_and_caps_refuse(proposals) -> None:  # type: ignore[no-untyped-def]
    engine, actions = proposals
    policy = ApprovalPolicy(pause=True, budget_cut_max_share=0.5)
    items = make_guard(engine, Guardrails(), policy, now=lambda: NOW)(actions)
    for i in items:
        if isinstance(i.action, StatusChange) and i.action.after == "PAUSED":
            assert i.auto_approved
        if i.action.spends_more:
            assert not i.auto_approved
    account = next(a.entity.account_id for a in actions if isinstance(a, BudgetChange))
    tight = Guardrails(account_daily_caps={account: 1})  # 1 USD a day for the whole account: no raise fits
    capped = make_guard(engine, tight, ApprovalPolicy(), now=lambda: NOW)(actions)
    raises = [i for i in capped if isinstance(i.action, BudgetChange) and i.action.spends_more]
    assert raises and all(i.verdict == "refused" for i in raises)
    dry = make_guard(engine, Guardrails(dry_run=True), policy, now=lambda: NOW)(actions)
    assert all(i.verdict == "refused" and not i.auto_approved for i in dry)
