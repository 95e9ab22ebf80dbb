"""The PlatformAdapter protocol every platform implements, and the row-problem report they share."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, Generic, Literal, Protocol, TypeVar

from pydantic import BaseModel, Field

from tools.platforms.records import (
    AccountRecord,
    AdRecord,
    AdSetRecord,
    AudienceRecord,
    CampaignRecord,
    CreativeRecord,
    HourlyRow,
    MetricRow,
    SegmentMetricRow,
    TargetingSpec,
    WriteResult,
)

T = TypeVar("T")

SEGMENT_BREAKDOWNS = ("age", "gender", "country", "placement")


class RowProblem(BaseModel):
    """A row the platform sent that could not be normalised; it stays in the lake, the batch goes on."""

    platform: str
    account: str
    stream: str
    row: int
    error: str


class Batch(BaseModel, Generic[T]):
    items: list[T] = Field(default_factory=list)
    problems: list[RowProblem] = Field(default_factory=list)


class NewAdSet(BaseModel):
    """An ad set to create (Meta ad set, X line item, TikTok ad group); money in micros."""

    campaign_platform_id: str
    name: str
    daily_budget_micros: int | None = None  # None under a campaign-level budget
    bid_micros: int | None = None
    targeting: TargetingSpec = Field(default_factory=TargetingSpec)
    status: Literal["ACTIVE", "PAUSED"] = "PAUSED"


class NewAd(BaseModel):
    """An ad to create in an ad set, from an existing creative or from text and an uploaded image."""

    adset_platform_id: str
    name: str
    creative_platform_id: str | None = None
    headline: str | None = None
    body: str | None = None
    image_hash: str | None = None  # Meta image hash, X media key, TikTok image id
    link: str | None = None
    call_to_action: str | None = None
    status: Literal["ACTIVE", "PAUSED"] = "PAUSED"


class PlatformCodec(BaseModel):
    """How `adcluster rebuild` reads one platform's lake records with no network."""

    model_config = {"arbitrary_types_allowed": True}

    accounts: Callable[[Any], list[AccountRecord]]  # an "accounts" stream body -> accounts
    rows: Callable[[str, Any], list[dict[str, Any]]]  # a page body of a stream -> its rows
    normalise: Callable[[str, AccountRecord, list[dict[str, Any]]], Batch[Any]]  # rows -> records
    streams: set[str]  # the streams `normalise` knows


Level = Literal["campaign", "adset", "ad"]


class PlatformAdapter(Protocol):
    """What ingestion and the executor need from a platform. Every method is one logical read or write."""

    platform: str

    async def accounts(self) -> list[AccountRecord]: ...

    async def campaigns(self, account: AccountRecord) -> Batch[CampaignRecord]: ...

    async def adsets(self, account: AccountRecord) -> Batch[AdSetRecord]: ...

    async def ads(self, account: AccountRecord) -> Batch[AdRecord]: ...

    async def creatives(self, account: AccountRecord) -> Batch[CreativeRecord]: ...

    async def audiences(self, account: AccountRecord) -> Batch[AudienceRecord]: ...

    async def daily_metrics(
        self, account: AccountRecord, since: dt.date, until: dt.date
    ) -> Batch[MetricRow]: ...

    async def segment_metrics(
        self, account: AccountRecord, since: dt.date, until: dt.date, breakdown: str
    ) -> Batch[SegmentMetricRow]: ...

    async def hourly_metrics(self, account: AccountRecord, day: dt.date) -> Batch[HourlyRow]: ...

    # Writes: each returns the entity's state before and after, as the platform reports it.

    async def set_budget(
        self,
        account: AccountRecord,
        *,
        level: Literal["campaign", "adset"],
        platform_id: str,
        daily_micros: int | None = None,
        lifetime_micros: int | None = None,
    ) -> WriteResult: ...

    async def set_bid(
        self, account: AccountRecord, adset_platform_id: str, bid_micros: int | None
    ) -> WriteResult: ...

    async def set_targeting(
        self, account: AccountRecord, adset_platform_id: str, targeting: TargetingSpec
    ) -> WriteResult: ...

    async def set_status(
        self, account: AccountRecord, *, level: Level, platform_id: str, status: Literal["ACTIVE", "PAUSED"]
    ) -> WriteResult: ...

    async def create_adset(self, account: AccountRecord, spec: NewAdSet) -> WriteResult: ...

    async def create_ad(self, account: AccountRecord, spec: NewAd) -> WriteResult: ...

    async def upload_image(self, account: AccountRecord, name: str, data: bytes) -> WriteResult: ...

    async def aclose(self) -> None: ...
