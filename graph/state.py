"""The graph's state: JSON-only (it is checkpointed), narrow, one field per stage's output."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal, TypedDict

from pydantic import BaseModel, ConfigDict, Field


class Answer(BaseModel):
    """A person's answer to one proposal, as the approval interrupt's resume value carries it (JSON).
    It becomes an `agents.approval_policy.Decision`, whose rules apply: an edit gives a positive budget
    or bid in whole minor units of the account currency, and only budgets and bids are edited."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, description="the proposal's action id")
    decision: Literal["approve", "reject", "edit"]
    value: Decimal | None = Field(default=None, description="for edit: the new budget or bid, major units")
    by: str = Field(default="cli", min_length=1)
    note: str | None = None


class Answers(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decisions: list[Answer]


class CycleState(TypedDict, total=False):
    request: str | None
    given: bool  # the proposals come with the input (an experiment's arms): straight to plan
    snapshot: dict[str, Any]
    alerts: list[dict[str, Any]]  # the day's alerts (kind, severity, message, status)
    proposals: list[dict[str, Any]]  # Action JSON
    new_ads: list[dict[str, Any]]  # NewAdRequest JSON: ad sets worth a new ad (analyse -> create)
    notes: list[str]
    plan: list[dict[str, Any]]  # PlanItem JSON
    decisions: list[dict[str, Any]]  # agents.approval_policy.Decision JSON
    results: list[dict[str, Any]]
    summary: str
    chat: dict[str, Any] | None  # ChatOutcome JSON of the turn, None for a scheduled cycle
    answer: str | None  # the chat turn's answer, rendered from tool results
