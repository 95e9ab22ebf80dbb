"""The records the rules evaluator reads — an entity's daily figures, status, budget holder and goal
(`tools/rule_inputs.py` reads them from the warehouse) — and writes: proposals carrying the figures that
triggered them, skips with their reasons, and when each rule last fired."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from tools.optimize.rules_language import LEVEL_NAMES, ActionKind, GoalRef, Level, Op

# The evaluator's inputs.


class DailyRow(BaseModel):
    day: dt.date
    spend_micros: int = Field(default=0, ge=0)
    impressions: int = Field(default=0, ge=0)
    clicks: int = Field(default=0, ge=0)
    conversions: int = Field(default=0, ge=0)
    value_micros: int = Field(default=0, ge=0)
    currency: str | None = Field(default=None, description="the row's own currency, if it may differ")


class GoalTarget(BaseModel):
    source: str = Field(description='where it comes from, e.g. "campaign <id>"')
    currency: str
    target_cpa_micros: int | None = Field(default=None, gt=0)
    target_roas: Decimal | None = Field(default=None, gt=0)


class BudgetHolder(BaseModel):
    """The entity whose daily budget an entity spends: itself, or its campaign (campaign budgets)."""

    level: Literal["adset", "campaign"]
    entity_id: str
    platform_id: str = ""
    name: str = ""
    daily_budget_micros: int | None = Field(default=None, ge=0)
    lifetime_budget_micros: int | None = Field(default=None, ge=0)


class EntitySeries(BaseModel):
    entity_id: str
    platform_id: str = ""
    name: str = ""
    level: Level
    platform: str
    account_id: str
    account_platform_id: str = ""
    currency: str
    status: str
    budget: BudgetHolder | None = None
    bid_micros: int | None = Field(default=None, gt=0)
    min_budget_micros: int | None = Field(default=None, ge=0, description="the platform's minimum, if known")
    goal: GoalTarget | None = None
    first_day: dt.date | None = Field(default=None, description="first day the history covers")
    last_day: dt.date | None = Field(default=None, description="last day; windows end here")
    days: list[DailyRow] = Field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{LEVEL_NAMES[self.level]} {self.name or self.entity_id!r}"


# The evaluator's outputs.


class TriggerFigure(BaseModel):
    metric: str
    op: Op
    value: Decimal | None = Field(description="over the window's sums; None when undefined")
    at_least: bool = Field(default=False, description="a cost per result with no result yet: the spend")
    threshold: Decimal
    relative_to: GoalRef | None = None
    goal: Decimal | None = None
    first_day: dt.date
    last_day: dt.date
    every_day: bool = False
    daily: list[Decimal | None] = Field(default_factory=list, description="each day's value when every_day")
    text: str


class RuleProposal(BaseModel):
    rule: str
    action: ActionKind
    level: Literal["ad", "adset", "campaign"] = Field(description="level of the entity to change")
    entity_id: str
    entity_name: str
    platform_id: str
    platform: str
    account_id: str
    account_platform_id: str = Field(default="", description="the platform's id of the account")
    currency: str
    triggered_by: str = Field(
        description="entity whose figures met the conditions (may differ from entity_id)"
    )
    current_micros: int | None = None
    proposed_micros: int | None = None
    current_status: str | None = None
    proposed_status: Literal["ACTIVE", "PAUSED"] | None = None
    figures: list[TriggerFigure]
    reason: str
    fired_at: dt.datetime


SkipCause = Literal["currency", "history", "goal", "no_lever", "duplicate", "cooldown", "amount"]
# What each cause means, for counting skips by cause (their reasons carry each entity's own figures).
SKIP_CAUSES: dict[str, str] = {
    "currency": "money in more than one currency",
    "history": "not enough synced history",
    "goal": "no usable goal to compare with",
    "no_lever": "no daily budget or bid to change",
    "duplicate": "already changed via another entity",
    "cooldown": "fired within its cooldown",
    "amount": "the amount would not move within its bounds",
}


class SkippedRule(BaseModel):
    rule: str
    entity_id: str | None = None
    entity: str | None = None
    cause: SkipCause
    reason: str


class RuleEvaluation(BaseModel):
    proposals: list[RuleProposal] = Field(default_factory=list)
    skipped: list[SkippedRule] = Field(default_factory=list)
    last_fired: dict[str, dict[str, dt.datetime]] = Field(default_factory=dict)
