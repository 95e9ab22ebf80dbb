"""Who approves what: the auto-approval policy, the decisions people make, and their validation.

Decisions, said once:
- The default policy approves nothing automatically. An explicit one may approve pauses and daily budget
  cuts of at most a share of the current budget. Whatever it says, an action that can raise spend
  (`spends_more`: a budget or bid up, a first bid, an activation, a new ad) always waits for a person.
- A decision approves, rejects or edits one proposal by its id, with who, when and an optional note. An
  edit gives a new budget or bid in major units of the account currency (whole minor units, positive); a
  status change or a new ad is approved or rejected, never edited.
- `validate_decisions` refuses the whole batch, naming every problem: a decision that does not parse, an
  id no proposal has, a proposal decided twice (in the batch, or before it), an edit that cannot apply.
- A targeting change always waits for a person (narrowing can starve an ad set).
- An edit makes a new action (`apply_edit`, its own stable id) that the caller checks with the
  guardrails again: a person's number passes the same limits as the analyst's.
- Proposals not decided within `proposal_ttl` expire (`is_expired`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from decimal import Decimal
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from agents.actions import Action, BidChange, BudgetChange, StatusChange
from agents.guard_types import money, with_value
from tools.platforms.money import MoneyError, decimal_to_micros, exponent

DecisionType = Literal["approve", "reject", "edit"]
POLICY = "policy"


class ApprovalPolicy(BaseModel):
    """`ApprovalPolicy()` approves nothing by itself; `ApprovalPolicy(pause=True,
    budget_cut_max_share=0.2)` approves pauses and budget cuts of up to 20%."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    pause: bool = Field(default=False, description="approve pausing a campaign, ad set or ad")
    budget_cut_max_share: Decimal = Field(
        default=Decimal(0), ge=0, lt=1, description="approve daily budget cuts of at most this share; 0: none"
    )
    proposal_ttl: dt.timedelta = Field(
        default=dt.timedelta(hours=24), description="an undecided proposal expires after this long"
    )

    @model_validator(mode="after")
    def _positive_ttl(self) -> ApprovalPolicy:
        if self.proposal_ttl <= dt.timedelta(0):
            raise ValueError("proposal_ttl must be positive")
        return self

    def explain(self, action: Action) -> tuple[bool, str]:
        """Whether the policy approves `action` by itself, and why (or why it waits)."""
        if action.spends_more:
            return False, "it can raise spend: a person decides"
        if isinstance(action, StatusChange):
            if action.after == "PAUSED" and self.pause:
                return True, "pauses are approved by policy"
            return False, "pauses wait for a person (policy: pause is off)"
        if isinstance(action, BudgetChange):
            cut = action.before_micros - action.after_micros
            share = f"{float(self.budget_cut_max_share * 100):g}%"
            if cut <= 0:
                return False, "it changes nothing"
            if not self.budget_cut_max_share:
                return False, "budget cuts wait for a person (policy: budget_cut_max_share is 0)"
            if cut <= self.budget_cut_max_share * action.before_micros:
                return True, f"a budget cut within {share} is approved by policy"
            return False, f"the cut is more than {share} of the budget: a person decides"
        return False, f"a {action.kind.replace('_', ' ')} waits for a person"

    def auto_approves(self, action: Action) -> bool:
        return self.explain(action)[0]

    def auto_decisions(self, actions: Sequence[Action], *, now: dt.datetime) -> list[Decision]:
        """Approvals the policy makes by itself, recorded as decisions by "policy"."""
        decisions = []
        for action in actions:
            approved, why = self.explain(action)
            if approved:
                decisions.append(Decision(action_id=action.id, type="approve", by=POLICY, at=now, note=why))
        return decisions

    def expires_at(self, proposed_at: dt.datetime) -> dt.datetime:
        return proposed_at + self.proposal_ttl

    def is_expired(self, proposed_at: dt.datetime, now: dt.datetime) -> bool:
        return now >= self.expires_at(proposed_at)


class Decision(BaseModel):
    """One person's (or the policy's) answer to one proposal; the resume value of the approval step is a
    list of these, as JSON."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    action_id: str = Field(min_length=1)
    type: DecisionType
    value: Decimal | None = Field(
        default=None, description="edit only: the new budget or bid in major units of the account currency"
    )
    by: str = Field(min_length=1, description="who decided")
    at: AwareDatetime = Field(description="when")
    note: str | None = None

    @model_validator(mode="after")
    def _value_with_edit_only(self) -> Decision:
        if self.type == "edit":
            if self.value is None:
                raise ValueError("an edit needs a value: the new budget or bid in major units")
            if self.value <= 0:
                raise ValueError(
                    f"an edit to {self.value} is refused: a budget or bid must be positive "
                    "(reject the proposal instead)"
                )
        elif self.value is not None:
            raise ValueError(f"only an edit carries a value; this is a {self.type}")
        return self


class DecisionError(ValueError):
    """Decisions that cannot be applied; `problems` names each, and none of the batch is applied."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("decisions refused: " + "; ".join(problems))


def _edit_problem(action: Action, value: Decimal) -> str | None:
    if not isinstance(action, BudgetChange | BidChange):
        what = {
            "status_change": "a status change",
            "targeting_change": "a targeting change",
            "create_adset": "a new ad set",
        }.get(action.kind, "a new ad")
        return f"{action.id} is {what}: approve or reject it, an edit sets a budget or a bid"
    try:
        micros = decimal_to_micros(value, action.currency)
        step = 10 ** (6 - exponent(action.currency))
    except MoneyError as exc:
        return f"{action.id}: {exc}"
    if micros % step:
        return (
            f"{action.id}: {value} {action.currency} is not a whole number of {action.currency} minor units"
        )
    if micros == action.before_micros:
        return (
            f"{action.id}: {money(micros, action.currency)} is the current value, so the edit changes nothing"
        )
    return None


def _error_text(error: Any) -> str:
    where = ".".join(str(p) for p in error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def validate_decisions(
    proposals: Sequence[Action],
    decisions: Sequence[Decision | Mapping[str, Any]],
    *,
    decided: Collection[str] = (),
) -> list[Decision]:
    """The decisions, parsed and checked against the waiting proposals (`decided`: ids decided before),
    or a DecisionError naming every problem."""
    by_id = {p.id: p for p in proposals}
    problems: list[str] = []
    parsed: list[Decision] = []
    first: dict[str, int] = {}
    for i, raw in enumerate(decisions, start=1):
        try:
            decision = raw if isinstance(raw, Decision) else Decision.model_validate(raw)
        except ValidationError as exc:
            name = raw.get("action_id") if isinstance(raw, Mapping) else None
            detail = "; ".join(_error_text(e) for e in exc.errors())
            problems.append(f"decision {i}{f' ({name})' if name else ''}: {detail}")
            continue
        aid = decision.action_id
        action = by_id.get(aid)
        if action is None:
            waiting = ", ".join(sorted(by_id)[:10]) + (" ..." if len(by_id) > 10 else "")
            problems.append(
                f"decision {i}: no waiting proposal has id {aid!r} (waiting: {waiting or 'none'})"
            )
            continue
        if aid in decided:
            problems.append(f"decision {i}: {aid} was already decided")
        elif aid in first:
            problems.append(f"decision {i}: {aid} is decided twice (decisions {first[aid]} and {i})")
        else:
            first[aid] = i
        if decision.type == "edit":
            assert decision.value is not None
            problem = _edit_problem(action, decision.value)
            if problem:
                problems.append(f"decision {i}: {problem}")
        parsed.append(decision)
    if problems:
        raise DecisionError(problems)
    return parsed


def apply_edit(action: Action, decision: Decision) -> Action:
    """The edited action: the new amount, its own stable id, proposed by the editor. Check it with the
    guardrails again before it goes on."""
    if decision.type != "edit" or decision.value is None or decision.action_id != action.id:
        raise ValueError(f"decision on {decision.action_id} is not an edit of {action.id}")
    problem = _edit_problem(action, decision.value)
    if problem:
        raise ValueError(problem)
    assert isinstance(action, BudgetChange | BidChange)
    return with_value(
        action,
        decimal_to_micros(decision.value, action.currency),
        proposed_by=f"{decision.by} (edit of {action.id})",
    )


class Resolution(BaseModel):
    """The proposals sorted by the decisions. `edited` holds the new actions made by edits: check them
    with the guardrails again."""

    approved: list[Action] = Field(default_factory=list)
    rejected: list[Action] = Field(default_factory=list)
    edited: list[Action] = Field(default_factory=list)
    undecided: list[Action] = Field(default_factory=list)


def resolve(
    proposals: Sequence[Action],
    decisions: Sequence[Decision | Mapping[str, Any]],
    *,
    decided: Collection[str] = (),
) -> Resolution:
    """Validate the decisions (a DecisionError names every problem) and sort the proposals by them."""
    valid = {d.action_id: d for d in validate_decisions(proposals, decisions, decided=decided)}
    out = Resolution()
    for action in proposals:
        decision = valid.get(action.id)
        if decision is None:
            out.undecided.append(action)
        elif decision.type == "approve":
            out.approved.append(action)
        elif decision.type == "reject":
            out.rejected.append(action)
        else:
            out.edited.append(apply_edit(action, decision))
    return out
