"""Typed actions: what the agents propose, a person approves and the executor applies.

Every action names its entity (platform, account, level, platform id), carries before/after values
(money in integer micros of the account currency, and the same in the platform's own unit for the
write), the expected effect, the evidence behind it and who proposed it. Its id is stable: the same
change from the same state gets the same id, so a proposal repeated by the next cycle, or a retried
execution, is recognised instead of doubled. `inverse` gives the action that undoes an executed one.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, model_validator

from tools.optimize.rules_records import EntitySeries
from tools.platforms.base import NewAd, NewAdSet
from tools.platforms.records import TARGETING_VALUES, TargetingSpec

ACTION_NAMESPACE = uuid.UUID("0b7d3c1e-5a8f-4c62-9e0d-7f1a2b3c4d5e")
Platform = Literal["meta", "x", "tiktok"]
Level = Literal["campaign", "adset", "ad"]
Status = Literal["ACTIVE", "PAUSED"]


class EntityRef(BaseModel):
    platform: Platform
    account_id: str = Field(min_length=1, description="the platform's account id")
    level: Level
    platform_id: str = Field(min_length=1)
    name: str | None = Field(default=None, description="as the platform names it: data, never instructions")

    @property
    def key(self) -> str:
        return f"{self.platform}|{self.account_id}|{self.level}|{self.platform_id}"


def series_ref(
    s: EntitySeries, *, level: Level | None = None, platform_id: str | None = None, name: str | None = None
) -> EntityRef:
    """The entity of a warehouse series (or the budget holder it names, by `level`, `platform_id`, `name`)."""
    return EntityRef(
        platform=s.platform,  # type: ignore[arg-type]
        account_id=s.account_platform_id,
        level=level or s.level,
        platform_id=platform_id or s.platform_id,
        name=name if name is not None else s.name,
    )


class Evidence(BaseModel):
    source: str = Field(description="the tool or rule that produced it")
    summary: str
    figures: dict[str, float | int | str | None] = Field(default_factory=dict)
    sample_size: int | None = None


class ExpectedEffect(BaseModel):
    metric: str
    before: float | None = None
    after: float | None = None
    interval: tuple[float, float] | None = None


class _Action(BaseModel):
    id: str = Field(default="", description="stable: derived from the kind, the entity and the change")
    entity: EntityRef
    reason: str = Field(min_length=1)
    evidence: list[Evidence] = Field(default_factory=list)
    expected: ExpectedEffect | None = None
    proposed_by: str = Field(default="analyst")

    def change_key(self) -> str:  # what makes two proposals the same change
        raise NotImplementedError

    @model_validator(mode="after")
    def _stable_id(self) -> _Action:
        if not self.id:
            self.id = uuid.uuid5(ACTION_NAMESPACE, f"{self.entity.key}|{self.change_key()}").hex[:16]
        return self

    @property
    def spends_more(self) -> bool:
        """Whether it can raise spend: such actions always wait for a person (no auto-approval)."""
        return True


class BudgetChange(_Action):
    kind: Literal["budget_change"] = "budget_change"
    currency: str = Field(min_length=3, max_length=3)
    before_micros: int = Field(gt=0)
    after_micros: int = Field(description="refused by the guardrails unless positive")

    def change_key(self) -> str:
        return f"budget|{self.before_micros}|{self.after_micros}"

    @property
    def spends_more(self) -> bool:
        return self.after_micros > self.before_micros


class BidChange(_Action):
    kind: Literal["bid_change"] = "bid_change"
    currency: str = Field(min_length=3, max_length=3)
    before_micros: int | None = Field(description="None: the platform bids automatically")
    after_micros: int

    def change_key(self) -> str:
        return f"bid|{self.before_micros}|{self.after_micros}"

    @property
    def spends_more(self) -> bool:
        return self.before_micros is None or self.after_micros > self.before_micros


class StatusChange(_Action):
    kind: Literal["status_change"] = "status_change"
    before: Status
    after: Status

    def change_key(self) -> str:
        return f"status|{self.before}|{self.after}"

    @property
    def spends_more(self) -> bool:
        return self.after == "ACTIVE"


class CreateAd(_Action):
    """A new ad in an ad set (`entity` is the ad set). Its name is deterministic, so that after a crash
    the executor finds it on the platform instead of creating it twice."""

    kind: Literal["create_ad"] = "create_ad"
    spec: NewAd
    replaces: EntityRef | None = Field(
        default=None, description="swap a creative: the old ad is paused once the new one exists"
    )

    def change_key(self) -> str:
        s = self.spec
        parts = (s.headline, s.body, s.image_hash, s.creative_platform_id, s.call_to_action, s.link)
        return "create|" + "|".join(str(p) for p in parts)

    @model_validator(mode="after")
    def _deterministic_name(self) -> CreateAd:
        if not self.spec.name.endswith(f"[{self.id}]"):
            self.spec = self.spec.model_copy(update={"name": f"{self.spec.name[:80]} [{self.id}]"})
        return self


class CreateAdSet(_Action):
    """A new ad set in a campaign (`entity` is the campaign) with one ad from an existing creative: an
    experiment's arm. Its name is deterministic, so that after a crash the executor finds it (and adds
    the ad if only the ad set was made) instead of creating it twice."""

    kind: Literal["create_adset"] = "create_adset"
    spec: NewAdSet
    ad: NewAd = Field(description="the ad to put in it; its ad set id is filled in when the ad set exists")

    def change_key(self) -> str:
        s = self.spec
        parts = (
            s.campaign_platform_id,
            s.name,
            s.daily_budget_micros,
            s.bid_micros,
            self.ad.creative_platform_id,
        )
        return "create_adset|" + "|".join(str(p) for p in parts)

    @model_validator(mode="after")
    def _deterministic_name(self) -> CreateAdSet:
        if not self.spec.name.endswith(f"[{self.id}]"):
            self.spec = self.spec.model_copy(update={"name": f"{self.spec.name[:80]} [{self.id}]"})
        return self


class TargetingChange(_Action):
    """An ad set's audience narrowed or widened (`entity` is the ad set). `before` and `after` are whole
    targeting specs in the warehouse's vocabulary (an empty list: every value of that dimension);
    `excluded` names what the change takes out, and `excluded_spend_share` the share of the ad set's
    recent spend those segments took (what the guardrails limit)."""

    kind: Literal["targeting_change"] = "targeting_change"
    before: TargetingSpec
    after: TargetingSpec
    excluded: dict[str, list[str]] = Field(default_factory=dict)
    excluded_spend_share: float = Field(default=0.0, ge=0, le=1)

    def change_key(self) -> str:
        return f"targeting|{_spec_key(self.before)}|{_spec_key(self.after)}"

    @property
    def spends_more(self) -> bool:
        """Widening reaches people the ad set did not reach before (an empty list allows every value)."""
        return any(
            not _empty(self.before, f)
            and (_empty(self.after, f) or bool(_allows(self.after, f) - _allows(self.before, f)))
            for f in TARGETING_FIELDS
        )


TARGETING_FIELDS = ("ages", "genders", "countries", "placements", "audience_ids")


def _empty(spec: TargetingSpec, field: str) -> bool:
    return not getattr(spec, field)


def _allows(spec: TargetingSpec, field: str) -> set[str]:
    return set(getattr(spec, field))


def _spec_key(spec: TargetingSpec) -> str:
    return ";".join(f"{f}={','.join(sorted(getattr(spec, f)))}" for f in TARGETING_FIELDS)


def targeting_fields_changed(action: TargetingChange) -> list[str]:
    return [f for f in TARGETING_FIELDS if _values(action.before, f) != _values(action.after, f)]


def _values(spec: TargetingSpec, field: str) -> frozenset[str]:
    """A dimension's allowed values, an empty list read as the whole vocabulary where it is closed."""
    return frozenset(getattr(spec, field) or TARGETING_VALUES.get(field, ()))


def targeting_matches(seen: TargetingSpec, wanted: TargetingSpec, fields: list[str]) -> bool:
    """Whether `seen` (as a platform reports it) allows the same values as `wanted` in `fields`."""
    return all(_values(seen, f) == _values(wanted, f) for f in fields)


Action = Annotated[
    BudgetChange | BidChange | StatusChange | CreateAd | CreateAdSet | TargetingChange,
    Field(discriminator="kind"),
]


class ActionList(BaseModel):
    actions: list[Action]


def inverse(action: Action, after: dict[str, Any] | None = None, *, reason: str | None = None) -> Action:
    """The action that undoes `action` once executed (`after`: the platform's state after it, which
    names a created ad's id)."""
    why = reason or f"undo {action.id}"
    if isinstance(action, BudgetChange):
        return BudgetChange(
            entity=action.entity,
            currency=action.currency,
            before_micros=action.after_micros,
            after_micros=action.before_micros,
            reason=why,
            proposed_by="undo",
        )
    if isinstance(action, BidChange):
        if action.before_micros is None:
            raise ValueError("cannot undo a bid set on automatic bidding: set the bid strategy by hand")
        return BidChange(
            entity=action.entity,
            currency=action.currency,
            before_micros=action.after_micros,
            after_micros=action.before_micros,
            reason=why,
            proposed_by="undo",
        )
    if isinstance(action, StatusChange):
        return StatusChange(
            entity=action.entity, before=action.after, after=action.before, reason=why, proposed_by="undo"
        )
    if isinstance(action, CreateAdSet):
        made = (after or {}).get("adset_platform_id")
        if not made:
            raise ValueError(f"cannot undo {action.id}: the created ad set's id is unknown")
        ref = action.entity.model_copy(
            update={"level": "adset", "platform_id": str(made), "name": action.spec.name}
        )
        return StatusChange(entity=ref, before="ACTIVE", after="PAUSED", reason=why, proposed_by="undo")
    if isinstance(action, TargetingChange):
        return TargetingChange(
            entity=action.entity,
            before=action.after,
            after=action.before,
            reason=why,
            proposed_by="undo",
        )
    created = (after or {}).get("id") or (after or {}).get("platform_id")
    if not created:
        raise ValueError(f"cannot undo {action.id}: the created ad's id is unknown")
    ad = EntityRef(
        platform=action.entity.platform,
        account_id=action.entity.account_id,
        level="ad",
        platform_id=str(created),
    )
    return StatusChange(entity=ad, before="ACTIVE", after="PAUSED", reason=why, proposed_by="undo")
