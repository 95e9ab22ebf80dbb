"""The plan step: what the guardrails need to know about each proposed entity, read from the warehouse
(its current budget, bid and status; the account's daily budgets added up) and from the audit log (when
the entity last changed), then the guardrails and the approval policy over the proposals."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import Engine
from sqlmodel import Session, select

from agents.actions import Action
from agents.approval_policy import ApprovalPolicy
from agents.guard_types import AccountState, EntityState, GuardContext
from agents.guardrails import Guardrails
from storage.models import Account, Ad, AdSet, Campaign


class PlanItem(BaseModel):
    """A proposal after the guardrails: what may run, what was clamped or refused, and why."""

    action: Action
    verdict: Literal["allowed", "clamped", "refused"]
    reasons: list[str] = Field(default_factory=list)
    auto_approved: bool = False


LastChange = Callable[[str], dt.datetime | None]  # EntityRef.key -> when it last changed (audit log)


def guard_context(
    engine: Engine, actions: Sequence[Action], *, now: dt.datetime, last_change: LastChange | None = None
) -> GuardContext:
    entities: dict[str, EntityState] = {}
    accounts: dict[str, AccountState] = {}
    with Session(engine) as session:
        platform_ids = {(a.entity.platform, a.entity.account_id) for a in actions}
        account_rows = {
            (acc.platform, acc.platform_id): acc
            for acc in session.exec(select(Account))
            if (acc.platform, acc.platform_id) in platform_ids
        }
        for (platform, account_id), acc in account_rows.items():
            adsets = session.exec(select(AdSet).where(AdSet.account_id == acc.id)).all()
            campaigns = session.exec(select(Campaign).where(Campaign.account_id == acc.id)).all()
            total = sum(s.daily_budget_micros or 0 for s in adsets if s.status == "ACTIVE")
            total += sum(c.daily_budget_micros or 0 for c in campaigns if c.status == "ACTIVE")
            accounts[f"{platform}|{account_id}"] = AccountState(
                currency=acc.currency, daily_budget_total_micros=total
            )
        tables = {"campaign": Campaign, "adset": AdSet, "ad": Ad}
        for a in actions:
            ref = a.entity
            acc = account_rows.get((ref.platform, ref.account_id))
            if acc is None or ref.key in entities:
                continue
            table = tables[ref.level]
            row = session.exec(
                select(table).where(table.account_id == acc.id, table.platform_id == ref.platform_id)
            ).first()
            if row is None:
                continue
            entities[ref.key] = EntityState(
                daily_budget_micros=getattr(row, "daily_budget_micros", None),
                bid_micros=getattr(row, "bid_micros", None),
                status=row.status if row.status in ("ACTIVE", "PAUSED") else None,
                last_changed_at=last_change(ref.key) if last_change else None,
            )
    return GuardContext(now=now, entities=entities, accounts=accounts)


def make_guard(
    engine: Engine,
    guardrails: Guardrails,
    policy: ApprovalPolicy,
    *,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    last_change: LastChange | None = None,
) -> Callable[[Sequence[Action]], list[PlanItem]]:
    """The `guard` the graph's plan step calls: guardrails first, then the approval policy on what
    passed (the policy never sees a refused action, and never approves a raise)."""

    def guard(actions: Sequence[Action]) -> list[PlanItem]:
        context = guard_context(engine, actions, now=now(), last_change=last_change)
        items = []
        for proposed, verdict in zip(actions, guardrails.check_all(actions, context), strict=True):
            action = verdict.action or proposed
            reasons = verdict.messages
            auto = False
            if verdict.outcome != "refused" and verdict.executable:
                auto, why = policy.explain(action)
                reasons = [*reasons, why]
            outcome = verdict.outcome if verdict.executable or verdict.outcome == "refused" else "refused"
            items.append(PlanItem(action=action, verdict=outcome, reasons=reasons, auto_approved=auto))
        return items

    return guard
