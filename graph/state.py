"""The graph's state: JSON-only (it is checkpointed), narrow, one field per stage's output."""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from pydantic import BaseModel, Field


class Decision(BaseModel):
    """A person's answer to one proposal (the resume value of the approval interrupt)."""

    id: str
    decision: Literal["approve", "reject", "edit"]
    value: float | None = Field(
        default=None, gt=0, description="for edit: the new budget or bid, major units"
    )
    by: str = "cli"
    note: str | None = None


class Decisions(BaseModel):
    decisions: list[Decision]


class CycleState(TypedDict, total=False):
    request: str | None
    snapshot: dict[str, Any]
    proposals: list[dict[str, Any]]  # Action JSON
    new_ads: list[dict[str, Any]]  # NewAdRequest JSON: ad sets worth a new ad (analyse -> create)
    notes: list[str]
    plan: list[dict[str, Any]]  # PlanItem JSON
    decisions: list[dict[str, Any]]  # Decision JSON
    results: list[dict[str, Any]]
    summary: str
    chat: dict[str, Any] | None  # ChatOutcome JSON of the turn, None for a scheduled cycle
    answer: str | None  # the chat turn's answer, rendered from tool results
