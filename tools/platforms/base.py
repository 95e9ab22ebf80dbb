"""The PlatformAdapter protocol every platform implements, and the row-problem report they share."""

from __future__ import annotations

import datetime as dt
from typing import Generic, Protocol, TypeVar

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

    async def aclose(self) -> None: ...
