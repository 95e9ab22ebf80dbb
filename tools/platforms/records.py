"""Platform-neutral records every adapter returns: money in integer micros, days in the account's zone."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AccountRecord(_Record):
    platform: str
    platform_id: str
    name: str
    currency: str = Field(min_length=3, max_length=3)
    timezone: str
    status: str


# The warehouse's segment vocabulary where it is closed (countries are open: any ISO code).
TARGETING_VALUES: dict[str, tuple[str, ...]] = {
    "ages": ("18-24", "25-34", "35-44", "45+"),
    "genders": ("female", "male"),
    "placements": ("feed", "stories", "network"),
}


class TargetingSpec(_Record):
    """Targeting in the warehouse's vocabulary; an empty list means "all values"."""

    ages: list[str] = Field(default_factory=list)
    genders: list[str] = Field(default_factory=list)
    countries: list[str] = Field(default_factory=list)
    placements: list[str] = Field(default_factory=list)
    audience_ids: list[str] = Field(default_factory=list)


class CampaignRecord(_Record):
    platform_id: str
    name: str
    status: str
    effective_status: str
    objective: str | None = None
    daily_budget_micros: int | None = None
    lifetime_budget_micros: int | None = None
    updated_at: dt.datetime | None = None


class AdSetRecord(_Record):
    platform_id: str
    campaign_platform_id: str
    name: str
    status: str
    effective_status: str
    daily_budget_micros: int | None = None
    lifetime_budget_micros: int | None = None
    bid_micros: int | None = None
    bid_strategy: str | None = None
    optimization_goal: str | None = None
    targeting: TargetingSpec = Field(default_factory=TargetingSpec)
    end_time: dt.datetime | None = None
    updated_at: dt.datetime | None = None


class AdRecord(_Record):
    platform_id: str
    adset_platform_id: str
    campaign_platform_id: str
    name: str
    status: str
    effective_status: str
    creative_platform_id: str | None = None
    updated_at: dt.datetime | None = None


class CreativeRecord(_Record):
    platform_id: str
    name: str | None = None
    headline: str | None = None
    body: str | None = None
    image_hash: str | None = None
    image_url: str | None = None
    call_to_action: str | None = None
    link: str | None = None


class AudienceRecord(_Record):
    platform_id: str
    name: str
    subtype: str | None = None
    size_lower: int | None = None
    size_upper: int | None = None
    adset_platform_ids: list[str] = Field(default_factory=list)


class MetricRow(_Record):
    """One ad on one account-local day."""

    ad_platform_id: str
    day: dt.date
    impressions: int = Field(ge=0)
    clicks: int = Field(ge=0)
    spend_micros: int = Field(ge=0)
    conversions: int = Field(ge=0)
    value_micros: int = Field(ge=0)


class SegmentMetricRow(MetricRow):
    breakdown: str
    age: str = "all"
    gender: str = "all"
    country: str = "all"
    placement: str = "all"


class HourlyRow(_Record):
    ad_platform_id: str
    day: dt.date
    hour: int = Field(ge=0, le=23)
    impressions: int = Field(ge=0)
    clicks: int = Field(ge=0)
    spend_micros: int = Field(ge=0)


class WriteResult(_Record):
    """A write and the entity's state before and after it, as the platform reports them."""

    entity: str  # campaign | adset | ad | image
    platform_id: str
    before: dict[str, Any] | None
    after: dict[str, Any]
