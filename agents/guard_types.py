"""The guardrails' vocabulary: what a check reads and what it answers. `GuardContext` holds the state
the caller read (each entity's `EntityState` by key, each account's `AccountState` by `account_key`,
and `now`); a `Verdict` says what became of one action, with the `Reason`s (rule, effect, message)
behind it. `money` formats micros for those messages and `with_value` makes the same budget or bid
change to another amount as a new action. The checks themselves are in agents/guardrails.py."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from agents.actions import Action, BidChange, BudgetChange, EntityRef, Status
from tools.platforms.money import MoneyError, micros_to_decimal

MICROS = 10**6

Rule = Literal[
    "allow_list",
    "context",
    "stale",
    "currency",
    "non_positive",
    "minor_units",
    "interval",
    "platform_min",
    "min_budget",
    "max_budget",
    "max_change",
    "account_cap",
    "no_change",
    "direction",
    "batch",
    "dry_run",
    "targeting",
    "bid_range",
]
Effect = Literal["refuse", "clamp", "note"]
Outcome = Literal["allowed", "clamped", "refused"]
MoneyAction = TypeVar("MoneyAction", BudgetChange, BidChange)


def account_key(entity: EntityRef) -> str:
    """How a `GuardContext` names an account: `platform|account_id`."""
    return f"{entity.platform}|{entity.account_id}"


def money(micros: int, currency: str) -> str:
    try:
        return f"{micros_to_decimal(micros, currency)} {currency}"
    except MoneyError:
        return f"{Decimal(micros) / MICROS} {currency}"


def with_value(action: MoneyAction, after_micros: int, **changes: Any) -> MoneyAction:
    """The same budget or bid change to another amount: a new action with its own stable id (the
    expected effect, estimated for the old amount, is dropped)."""
    data = action.model_dump()
    data.update(after_micros=after_micros, id="", expected=None, **changes)
    return type(action).model_validate(data)


class Reason(BaseModel):
    rule: Rule
    effect: Effect = Field(description="refuse: the action cannot go on; clamp: its amount changed; note")
    message: str

    def __str__(self) -> str:
        return self.message


class Verdict(BaseModel):
    """What the guardrails made of one action. `action` is the one to go on with: the same (allowed),
    a new one with the clamped amount (clamped), or None (refused)."""

    proposed_id: str
    outcome: Outcome
    action: Action | None = None
    reasons: list[Reason] = Field(default_factory=list)
    executable: bool = Field(description="False when refused or in dry run")

    @property
    def messages(self) -> list[str]:
        return [r.message for r in self.reasons]

    def summary(self) -> str:
        head = {"allowed": "allowed", "clamped": "clamped", "refused": "refused"}[self.outcome]
        return head + (": " + "; ".join(self.messages) if self.reasons else "")


class EntityState(BaseModel):
    """One entity as it is now: read from the warehouse (values) and the audit log (last change)."""

    model_config = ConfigDict(extra="forbid")

    daily_budget_micros: int | None = Field(default=None, description="None: no daily budget of its own")
    platform_min_budget_micros: int | None = Field(
        default=None, ge=0, description="the platform's minimum daily budget; None: unknown"
    )
    bid_micros: int | None = Field(default=None, description="None: the platform bids automatically")
    status: Status | None = None
    last_changed_at: AwareDatetime | None = Field(
        default=None, description="last executed change; None: never"
    )


class AccountState(BaseModel):
    model_config = ConfigDict(extra="forbid")

    currency: str = Field(min_length=3, max_length=3)
    daily_budget_total_micros: int = Field(ge=0, description="the account's daily budgets added up, now")


class GuardContext(BaseModel):
    """What the checks read: entities by `EntityRef.key`, accounts by `account_key`."""

    model_config = ConfigDict(extra="forbid")

    now: AwareDatetime
    entities: dict[str, EntityState] = Field(default_factory=dict)
    accounts: dict[str, AccountState] = Field(default_factory=dict)

    def entity(self, ref: EntityRef) -> EntityState | None:
        return self.entities.get(ref.key)

    def account(self, ref: EntityRef) -> AccountState | None:
        return self.accounts.get(account_key(ref))
