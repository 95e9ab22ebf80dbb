"""The marketer's rules file, as Meta's automated rules and Revealbot sell them: rules declared in TOML,
parsed into frozen, typed declarations. Every problem of a file is reported at once, each naming its
rule and field.

    [[rule]]
    name = "cut losers"
    level = "adset"                      # ad | adset | campaign
    conditions = [
      {metric = "cpa", op = ">", value = 1.5, relative_to = "goal_cpa", days = 3, every_day = true},
      {metric = "spend", op = ">", value = 50, days = 3},
    ]
    action = {kind = "pause"}            # pause | activate | budget | bid
    cooldown_hours = 24                  # at most once a day per entity (the default)

What the rules mean on the warehouse's figures is `tools/optimize/rules.py`.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tools.platforms.money import EXPONENTS

Level = Literal["ad", "adset", "campaign"]
Op = Literal[">", ">=", "<", "<="]
ActionKind = Literal["pause", "activate", "budget", "bid"]
GoalRef = Literal["goal_cpa", "goal_roas"]
LEVEL_NAMES = {"ad": "ad", "adset": "ad set", "campaign": "campaign"}


@dataclass(frozen=True)
class Metric:
    """(numerator x scale) / denominator over summed figures; no denominator: a plain sum."""

    numerator: str
    denominator: str | None = None
    scale: int = 1
    unit: Literal["money", "count", "percent", "ratio"] = "count"
    cost: bool = False  # a cost per result: with no result yet, at least the spend


METRICS: dict[str, Metric] = {
    "spend": Metric("spend", unit="money"),
    "value": Metric("value", unit="money"),
    "impressions": Metric("impressions"),
    "clicks": Metric("clicks"),
    "conversions": Metric("conversions"),
    "ctr": Metric("clicks", "impressions", 100, "percent"),
    "cvr": Metric("conversions", "clicks", 100, "percent"),
    "cpc": Metric("spend", "clicks", 1, "money", cost=True),
    "cpm": Metric("spend", "impressions", 1000, "money", cost=True),
    "cpa": Metric("spend", "conversions", 1, "money", cost=True),
    "roas": Metric("value", "spend", 1, "ratio"),
}
UNAVAILABLE = {
    "frequency": "the warehouse has no reach (unique people), so frequency cannot be computed",
    "reach": "the warehouse has no reach (unique people)",
}


class RulesFileError(ValueError):
    """A rules file that cannot be used; `problems` names each rule and field at fault."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class _Declared(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Condition(_Declared):
    metric: str
    op: Op
    value: Decimal = Field(ge=0, description="absolute, or a multiple of the goal when relative_to is set")
    relative_to: GoalRef | None = None
    days: int = Field(default=1, ge=1, le=90, description="window ending on the series' last day")
    every_day: bool = Field(default=False, description="hold on each day of the window, not on its sum")

    @field_validator("metric")
    @classmethod
    def _known(cls, v: str) -> str:
        if v in UNAVAILABLE:
            raise ValueError(f"metric {v!r} is not available: {UNAVAILABLE[v]}")
        if v not in METRICS:
            raise ValueError(f"unknown metric {v!r} (known: {', '.join(sorted(METRICS))})")
        return v

    @model_validator(mode="after")
    def _goal_fits(self) -> Condition:
        if self.relative_to == "goal_cpa" and METRICS[self.metric].unit != "money":
            raise ValueError(
                f"{self.metric} cannot be a multiple of the goal CPA: use spend, value, cpa, cpc or cpm"
            )
        if self.relative_to == "goal_roas" and self.metric != "roas":
            raise ValueError(f"only roas can be a multiple of the goal ROAS, not {self.metric}")
        return self


class RuleAction(_Declared):
    kind: ActionKind
    change_pct: Decimal | None = Field(default=None, gt=-100, description="+15 raises by 15%, -20 cuts 20%")
    set_to: Decimal | None = Field(default=None, gt=0, alias="set", description="an amount, major units")
    at_least: Decimal | None = Field(default=None, gt=0, description="never below, major units")
    at_most: Decimal | None = Field(default=None, gt=0, description="never above, major units")

    @model_validator(mode="after")
    def _consistent(self) -> RuleAction:
        amounts = (self.change_pct, self.set_to, self.at_least, self.at_most)
        if self.kind in ("pause", "activate"):
            if any(a is not None for a in amounts):
                raise ValueError(f"a {self.kind} action takes no change_pct, set, at_least or at_most")
            return self
        if (self.change_pct is None) == (self.set_to is None):
            raise ValueError(f"a {self.kind} action needs exactly one of change_pct (e.g. 15 or -20) and set")
        if self.change_pct == 0:
            raise ValueError("change_pct = 0 changes nothing")
        if self.at_least is not None and self.at_most is not None and self.at_least > self.at_most:
            raise ValueError(f"at_least {self.at_least} is above at_most {self.at_most}")
        return self


class Rule(_Declared):
    name: str = Field(min_length=1)
    level: Level
    platforms: list[Literal["meta", "x", "tiktok"]] | None = None
    accounts: list[str] | None = Field(default=None, description="account platform ids or internal ids")
    currency: str | None = Field(default=None, description="only entities in this currency")
    conditions: list[Condition] = Field(min_length=1, description="all must hold")
    action: RuleAction
    cooldown_hours: float = Field(default=24, ge=0, allow_inf_nan=False)

    @field_validator("currency")
    @classmethod
    def _iso(cls, v: str | None) -> str | None:
        if v is not None and v not in EXPONENTS:
            raise ValueError(f"unknown currency {v!r} (an ISO 4217 code such as USD, EUR, JPY)")
        return v

    @model_validator(mode="after")
    def _action_fits_level(self) -> Rule:
        if self.action.kind == "budget" and self.level == "ad":
            raise ValueError('ads have no budget: use level = "adset" or "campaign"')
        if self.action.kind == "bid" and self.level != "adset":
            raise ValueError('bids live on ad sets: use level = "adset"')
        return self


def parse_rules(text: str, *, source: str | None = None) -> list[Rule]:
    """The rules of a TOML text; every problem is reported at once, each naming its rule and field."""
    lead = f"{source}: " if source else ""
    try:
        data = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise RulesFileError([f"{lead}not valid TOML: {exc}"]) from None
    problems = [
        f"{lead}unknown top-level key {k!r}: declare each rule as a [[rule]] table"
        for k in data
        if k != "rule"
    ]
    raw = data.get("rule", [])
    if not isinstance(raw, list) or not all(isinstance(r, dict) for r in raw):
        raise RulesFileError([*problems, f"{lead}`rule` must be [[rule]] tables"])
    if not raw and not problems:
        problems.append(f"{lead}no rules: declare each one as a [[rule]] table")
    rules: list[Rule] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(raw, start=1):
        name = item.get("name")
        prefix = f"{lead}rule {name!r}" if isinstance(name, str) and name.strip() else f"{lead}rule {i}"
        try:
            rule = Rule.model_validate(item)
        except ValidationError as exc:
            problems.extend(_problem(prefix, e) for e in exc.errors())
            continue
        if rule.name in seen:
            problems.append(f"{prefix}: the name is also rule {seen[rule.name]}'s (names key the cooldowns)")
        seen.setdefault(rule.name, i)
        rules.append(rule)
    if problems:
        raise RulesFileError(problems)
    return rules


def _problem(prefix: str, err: Any) -> str:
    loc = [p for p in err["loc"] if not (isinstance(p, str) and "[" in p)]  # drop pydantic's union tags
    where, model = [prefix], Rule
    if loc[:1] == ["conditions"] and len(loc) > 1 and isinstance(loc[1], int):
        where.append(f"condition {loc[1] + 1}")
        loc, model = loc[2:], Condition
    elif loc[:1] == ["action"] and (len(loc) > 1 or err["type"] != "missing"):  # not `action` missing
        where.append("action")
        loc, model = loc[1:], RuleAction
    kind, msg = err["type"], err["msg"].removeprefix("Value error, ")
    if kind == "extra_forbidden":
        allowed = ", ".join(f.alias or n for n, f in model.model_fields.items())
        return ": ".join([*where, f"unknown field {loc[-1]!r} (allowed: {allowed})"])
    if kind == "missing":
        return ": ".join([*where, f"missing required field {loc[-1]!r}"])
    if kind == "value_error":  # our own messages name what they check
        return ": ".join([*where, msg])
    if kind == "too_short" and loc == ["conditions"]:
        return ": ".join([*where, "conditions: at least one condition is needed"])
    got = err.get("input")
    got_text = str(got) if isinstance(got, Decimal) else repr(got)
    fields = [f"item {p + 1}" if isinstance(p, int) else str(p) for p in loc]
    return ": ".join([*where, *fields, f"{msg}, got {got_text}"])
