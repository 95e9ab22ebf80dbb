"""`adcluster sync`: every configured account, concurrently within each platform, incrementally.

Per account: entities first (campaigns, ad sets, ads, creatives, audiences) so metric rows find their
parents, then daily metrics from the stream's cursor minus a look-back window (restated conversions
overwrite past days), the segment breakdowns, and today's hours. A stream's rows and its cursor are
committed together, so a sync killed half-way resumes where it stopped, without loss or duplication.
An expired or revoked credential stops its platform with a clear message and lets the others finish.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from tools.ingest.writer import WarehouseWriter
from tools.platforms.base import SEGMENT_BREAKDOWNS, PlatformAdapter, RowProblem
from tools.platforms.errors import AuthError, PlatformError
from tools.platforms.records import AccountRecord

logger = logging.getLogger(__name__)

ENTITY_STREAMS = ("campaigns", "adsets", "ads", "creatives", "audiences")
Today = Callable[[AccountRecord], dt.date]


@dataclass(frozen=True, kw_only=True)
class SyncOptions:
    days: int = 30  # history read by a first (or --full) sync
    since: dt.date | None = None
    until: dt.date | None = None
    full: bool = False
    lookback_days: dict[str, int] = field(default_factory=lambda: {"meta": 28, "x": 14, "tiktok": 7})
    segments: bool = True
    hourly: bool = True
    concurrency: int = 4  # accounts in flight per platform

    def __post_init__(self) -> None:
        if self.days < 1 or self.concurrency < 1:
            raise ValueError("days and concurrency must be at least 1")
        if self.since and self.until and self.since > self.until:
            raise ValueError("since must not be after until")


class StreamResult(BaseModel):
    platform: str
    account: str
    stream: str
    rows: int = 0
    problems: list[RowProblem] = Field(default_factory=list)
    error: str | None = None


class SyncReport(BaseModel):
    results: list[StreamResult] = Field(default_factory=list)
    stopped: dict[str, str] = Field(default_factory=dict)  # platform -> why it stopped
    requests: dict[str, int] = Field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.stopped and not any(r.error for r in self.results)


class Progress:
    """Callbacks for a progress display; the CLI plugs rich in, tests leave it silent."""

    def platform_started(self, platform: str, streams: int) -> None: ...

    def stream_done(self, platform: str, account: str, stream: str, rows: int) -> None: ...


class Syncer:
    def __init__(
        self,
        *,
        writer: WarehouseWriter,
        adapters: dict[str, PlatformAdapter],
        today: Today,
        progress: Progress | None = None,
    ) -> None:
        self.writer = writer
        self.adapters = adapters
        self.today = today
        self.progress = progress or Progress()

    async def sync(self, options: SyncOptions, platforms: list[str] | None = None) -> SyncReport:
        report = SyncReport()
        names = platforms or list(self.adapters)
        await asyncio.gather(*(self._platform(name, options, report) for name in names))
        for name in names:
            transport = getattr(self.adapters[name], "transport", None)
            report.requests[name] = getattr(transport, "requests", 0)
        return report

    async def _platform(self, name: str, options: SyncOptions, report: SyncReport) -> None:
        adapter = self.adapters[name]
        try:
            accounts = await adapter.accounts()
            self.writer.accounts(accounts)
        except PlatformError as exc:
            report.stopped[name] = f"could not list accounts: {exc}"
            logger.error("%s stopped: %s", name, exc)
            return
        per_account = (
            len(ENTITY_STREAMS)
            + 1
            + (len(SEGMENT_BREAKDOWNS) if options.segments else 0)
            + (1 if options.hourly else 0)
        )
        self.progress.platform_started(name, per_account * len(accounts))
        gate = asyncio.Semaphore(options.concurrency)

        async def one(account: AccountRecord) -> None:
            async with gate:
                if name not in report.stopped:
                    await self._account(adapter, account, options, report)

        await asyncio.gather(*(one(a) for a in accounts))

    async def _account(
        self, adapter: PlatformAdapter, account: AccountRecord, options: SyncOptions, report: SyncReport
    ) -> None:
        name = adapter.platform
        today = options.until or self.today(account)
        lookback = options.lookback_days.get(name, 7)

        def window(stream: str) -> tuple[dt.date, dt.date]:
            state = self.writer.state(account, stream)
            if options.since:
                return options.since, today
            floor = today - dt.timedelta(days=options.days - 1)
            if options.full or state is None or state.cursor_day is None:
                return floor, today
            # Re-read the look-back window (restated conversions), but not days older than the history
            # kept, unless the last sync is so long ago that everything since must be caught up.
            cursor = min(state.cursor_day, today)
            since = cursor - dt.timedelta(days=lookback)
            return (max(since, floor) if cursor >= floor else since), today

        steps: list[tuple[str, Callable[[], Any], str, dt.date | None]] = []
        for stream in ENTITY_STREAMS:
            steps.append((stream, getattr(adapter, stream), "entities", None))
        since, until = window("insights")
        steps.append(("insights", lambda: adapter.daily_metrics(account, since, until), "metrics", until))
        if options.segments:
            for b in SEGMENT_BREAKDOWNS:
                s_since, s_until = window(f"insights_{b}")
                steps.append(
                    (
                        f"insights_{b}",
                        lambda b=b, s=s_since, u=s_until: adapter.segment_metrics(account, s, u, b),
                        "metrics",
                        s_until,
                    )
                )
        if options.hourly:
            steps.append(("hourly", lambda: adapter.hourly_metrics(account, today), "metrics", today))

        for stream, read, kind, cursor in steps:
            result = StreamResult(platform=name, account=account.platform_id, stream=stream)
            report.results.append(result)
            if name in report.stopped:
                result.error = f"not read: {report.stopped[name]}"
                continue
            try:
                batch = await (read(account) if kind == "entities" else read())
                if kind == "entities":
                    written, orphans = self.writer.entities(
                        account, stream, batch.items, day=self.today(account)
                    )
                else:
                    written, orphans = self.writer.metrics(account, stream, batch.items)
                result.rows, result.problems = written, [*batch.problems, *orphans]
                self.writer.mark(account, stream, cursor=cursor, rows=written)
            except AuthError as exc:
                report.stopped[name] = f"credential rejected ({exc}); renew it and sync again"
                result.error = str(exc)
                self.writer.mark(account, stream, error=str(exc))
                logger.error("%s stopped: %s", name, exc)
            except PlatformError as exc:
                result.error = f"could not read {stream} of {account.platform_id}: {exc}"
                self.writer.mark(account, stream, error=str(exc))
                logger.error("%s", result.error)
            self.progress.stream_done(name, account.platform_id, stream, result.rows)
