"""Goals from the settings into the warehouse's goal table, so rules and optimizers read them from the
same place as the figures they judge. A goal names its account (and campaign) by platform ids; it is
stored under the internal ids ingestion gives those objects, with its target CPA in integer micros."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine
from sqlmodel import select

from storage.db import session_scope
from storage.models import Account, Goal, internal_id
from storage.upsert import upsert
from tools.platforms.money import decimal_to_micros


class GoalSpec(BaseModel):
    """What counts for an account (or a campaign): read by reports, rules and optimizers."""

    model_config = ConfigDict(extra="forbid")

    platform: Literal["meta", "x", "tiktok"]
    account_id: str = Field(description="the platform's account id (act_..., X account id, advertiser id)")
    campaign_id: str | None = Field(default=None, description="the platform's campaign id")
    objective: str = "SALES"
    conversion_event: str = "purchase"
    attribution_window_days: int = Field(default=7, ge=1, le=90)
    target_cpa: Decimal | None = Field(
        default=None, gt=0, description="in the account currency's major units"
    )
    target_roas: Decimal | None = Field(default=None, gt=0)


class GoalWriteReport(BaseModel):
    written: int
    unknown_accounts: list[str] = Field(description="goals whose account is not in the warehouse yet")


def write_goals(engine: Engine, goals: list[GoalSpec]) -> GoalWriteReport:
    """Upsert each goal whose account has been synced; the others are reported, not guessed at."""
    rows, unknown = [], []
    with session_scope(engine) as session:
        accounts = {(a.platform, a.platform_id): a for a in session.exec(select(Account))}
        for goal in goals:
            account = accounts.get((goal.platform, goal.account_id))
            if account is None:
                unknown.append(f"{goal.platform}:{goal.account_id}")
                continue
            scope, platform_id = (
                ("campaign", goal.campaign_id) if goal.campaign_id else ("account", goal.account_id)
            )
            entity = internal_id(goal.platform, goal.account_id, scope, platform_id)
            rows.append(
                {
                    "id": internal_id(goal.platform, goal.account_id, "goal", f"{scope}:{platform_id}"),
                    "scope": scope,
                    "entity_id": entity,
                    "objective": goal.objective,
                    "conversion_event": goal.conversion_event,
                    "attribution_window_days": goal.attribution_window_days,
                    "currency": account.currency,
                    "target_cpa_micros": (
                        decimal_to_micros(goal.target_cpa, account.currency) if goal.target_cpa else None
                    ),
                    "target_roas": str(goal.target_roas) if goal.target_roas is not None else None,
                }
            )
        if rows:
            upsert(session, Goal, rows)
    return GoalWriteReport(written=len(rows), unknown_accounts=unknown)
