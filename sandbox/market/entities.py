"""The market's entities. Mutable settings (status, budget, bid, targeting) are timelines of
(effective hour, value) so that a change applies from the next simulated hour and the past stays put.

Hours count from the world's first simulated hour: hour t is day t // 24, local hour t % 24.
Money is integer micros of the account currency.
"""

from __future__ import annotations

import bisect
from enum import StrEnum
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from sandbox.market.segments import Platform, Targeting


class Status(StrEnum):
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"
    DELETED = "DELETED"


class ReviewStatus(StrEnum):
    PENDING_REVIEW = "PENDING_REVIEW"
    APPROVED = "APPROVED"
    DISAPPROVED = "DISAPPROVED"


class Timelined(BaseModel):
    """An entity whose settings change over simulated hours."""

    timeline: dict[str, list[tuple[int, Any]]] = Field(default_factory=dict)

    def set_from(self, field: str, hour: int, value: Any) -> None:
        entries = self.timeline.setdefault(field, [])
        keep = [e for e in entries if e[0] < hour]
        keep.append((hour, value))
        self.timeline[field] = keep

    def value_at(self, field: str, hour: int) -> Any:
        entries = self.timeline.get(field, [])
        i = bisect.bisect_right([e[0] for e in entries], hour) - 1
        return entries[i][1] if i >= 0 else None

    def values_over(self, field: str, hours: np.ndarray) -> tuple[np.ndarray, list[Any]]:
        """Index into the returned value list for each hour (-1 before the first entry)."""
        entries = self.timeline.get(field, [])
        starts = np.array([e[0] for e in entries], dtype=np.int64)
        idx = np.searchsorted(starts, hours, side="right") - 1
        return idx, [e[1] for e in entries]

    def numeric_over(self, field: str, hours: np.ndarray, *, missing: float = np.nan) -> np.ndarray:
        idx, values = self.values_over(field, hours)
        table = np.array([missing if v is None else float(v) for v in values] + [missing])
        return table[idx]  # idx -1 picks the trailing `missing`

    def last_change_hour(self, hour: int) -> int:
        """The latest hour at or before `hour` at which a setting changed (or the entity was created)."""
        changes = [e[0] for entries in self.timeline.values() for e in entries if e[0] <= hour]
        return max([int(getattr(self, "created_hour", 0)), *changes])

    def changed_since(self, hour: int) -> bool:
        return any(e[0] >= hour for entries in self.timeline.values() for e in entries)


class Account(BaseModel):
    id: str
    platform: Platform
    name: str
    currency: str
    timezone: str
    min_daily_budget_micros: int


class CustomAudience(BaseModel):
    id: str
    account_id: str
    name: str
    kind: str  # website | customer_list | lookalike
    size: int
    cvr_lift: float  # multiplicative conversion-rate lift for ad sets that use it


class Creative(BaseModel):
    id: str
    account_id: str
    name: str
    headline: str
    body: str
    image_name: str
    image_hash: str
    cta: str
    link: str


class Image(BaseModel):
    """An uploaded ad image, known by its content hash within one account."""

    account_id: str
    hash: str
    name: str
    width: int
    height: int
    created_hour: int = 0

    @property
    def key(self) -> str:
        return f"{self.account_id}:{self.hash}"


class Campaign(Timelined):
    id: str
    account_id: str
    name: str
    objective: str = "SALES"
    created_hour: int = 0
    # timeline fields: status, daily_budget_micros (set only with a campaign-level budget),
    # stopped_by_platform (market event: the platform stopped delivery, e.g. a policy or billing hold)

    def has_campaign_budget(self, hour: int) -> bool:
        return self.value_at("daily_budget_micros", hour) is not None


class AdSet(Timelined):
    id: str
    campaign_id: str
    account_id: str
    name: str
    created_hour: int = 0
    optimization_goal: str = "CONVERSIONS"
    billing_event: str = "IMPRESSIONS"
    custom_audience_ids: list[str] = Field(default_factory=list)
    # timeline fields: status, daily_budget_micros, lifetime_budget_micros, end_hour,
    # bid_micros (max cost per click; None = lowest cost), targeting (Targeting),
    # spend_factor and delivery_factor (market events: a spend spike, delivery dropping to zero)


class Ad(Timelined):
    id: str
    adset_id: str
    campaign_id: str
    account_id: str
    name: str
    creative_id: str
    created_hour: int = 0
    review_hours: int = 0  # hours from creation until review ends
    disapproved: bool = False
    # timeline fields: status, disapproved_by_platform (market event)

    def review_status(self, hour: int) -> ReviewStatus:
        if self.value_at("disapproved_by_platform", hour):
            return ReviewStatus.DISAPPROVED  # a market event: the platform took a live ad down
        if hour < self.created_hour + self.review_hours:
            return ReviewStatus.PENDING_REVIEW
        return ReviewStatus.DISAPPROVED if self.disapproved else ReviewStatus.APPROVED


TargetingOrNone = Targeting | None
