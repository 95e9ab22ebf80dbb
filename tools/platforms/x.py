"""X (Twitter) Ads API adapter: OAuth 1.0a, cursor paging, promoted-tweet stats by placement, async jobs.

Reference: developer.x.com/en/docs/x-ads-api (ad-platform-apis.md §2). Every parameter travels in the
query string (GET, POST, PUT and DELETE alike), signed with OAuth 1.0a HMAC-SHA1 by authlib. Money is
already in local micros on X, so budgets, bids and spend are taken as they come.

X answers some things across several responses that the warehouse keeps in one record: the currency
lives on the funding instrument, not the account; a line item's targeting is its `placements` plus
its targeting criteria; a promoted tweet names its line item but not its campaign; a tweet's link and
call to action live on its card; and every stats request covers one placement, where a warehouse row
is the sum over both. `_Assembler` joins those bodies in the order they were received. A live read
feeds it the bodies it fetched; `adcluster rebuild` feeds the module-level one (`CODEC`) the lake's
records in the same order, so both derive the same rows from the same bodies.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import json
import logging
import re
import time
from collections.abc import Callable, Generator, Iterable
from typing import Any, Literal
from zoneinfo import ZoneInfo

import httpx
from authlib.oauth1 import ClientAuth
from pydantic import BaseModel, Field, ValidationError

from tools.platforms.base import Batch, NewAd, NewAdSet, PlatformCodec, RowProblem
from tools.platforms.errors import (
    AuthError,
    BadRequestError,
    MalformedResponseError,
    PlatformError,
    RateLimitedError,
    TransientError,
)
from tools.platforms.money import MoneyError, exponent
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
from tools.platforms.transport import ResponseSink, RetryPolicy, Sleep, Transport

logger = logging.getLogger(__name__)

PLATFORM = "x"
MAX_STATS_IDS = 20  # X's limit of entity_ids per stats request
MAX_CRITERIA_LINE_ITEMS = 200  # line_item_ids per targeting_criteria read
MAX_JOB_IDS = 200  # job_ids per status read
MAX_OPEN_JOBS = 50  # X allows 100 PROCESSING jobs per ad account; stay well below
METRIC_GROUPS = "ENGAGEMENT,BILLING,WEB_CONVERSION"
# One placement per stats request. X cannot split its own timeline from search ("feed" and "stories" in
# the warehouse's vocabulary), so ALL_ON_TWITTER is reported as "feed" and PUBLISHER_NETWORK as "network".
STATS_PLACEMENTS = {"ALL_ON_TWITTER": "feed", "PUBLISHER_NETWORK": "network"}
SEGMENTATIONS = {"age": "AGE", "gender": "GENDER", "country": "LOCATIONS"}
PAIRED_STREAMS = {"insights", "hourly", "insights_age", "insights_gender", "insights_country"}
RETRY_STATUSES = {408, 423, 500, 502, 503, 504}

# X's targeting values for the warehouse's segment values (sandbox/market/segments.py PLATFORM_TARGETING).
AGE_VALUES = {"18-24": "AGE_18_TO_24", "25-34": "AGE_25_TO_34", "35-44": "AGE_35_TO_44", "45+": "AGE_OVER_45"}
AGE_BANDS = {"18-24": (18, 24), "25-34": (25, 34), "35-44": (35, 44), "45+": (45, 200)}
GENDER_VALUES = {"male": "1", "female": "2"}
# X location targeting values of countries (what LOCATION criteria and LOCATIONS segments carry).
COUNTRY_VALUES = {"US": "96683cc9126741d1", "GB": "6416b8512febefc9", "JP": "06ef846bfc783874"}
COUNTRY_NAMES = {"United States": "US", "United Kingdom": "GB", "Japan": "JP"}
# Line item placements -> warehouse placements ("stories" is X's search placement, as in the sandbox).
LINE_ITEM_PLACEMENTS: dict[str, tuple[str, ...]] = {
    "ALL_ON_TWITTER": ("feed", "stories"),
    "TWITTER_TIMELINE": ("feed",),
    "TWITTER_PROFILE": ("feed",),
    "TWITTER_REPLIES": ("feed",),
    "TWITTER_SEARCH": ("stories",),
    "PUBLISHER_NETWORK": ("network",),
}
ALL = {
    "ages": tuple(AGE_VALUES),
    "genders": ("female", "male"),
    "countries": tuple(COUNTRY_VALUES),
    "placements": ("feed", "stories", "network"),
}
CRITERIA_TYPES = {"AGE": "ages", "GENDER": "genders", "LOCATION": "countries"}
AUDIENCE_TYPES = {"CUSTOM_AUDIENCE", "TAILORED_AUDIENCE"}
METRICS = ("impressions", "clicks", "spend_micros", "conversions", "value_micros")
FAILED_JOB = {"FAILED", "EXPIRED", "CANCELLED"}


class XConfig(BaseModel):
    base_url: str = Field(default="https://ads-api.x.com", description="ads API host, no version")
    api_version: str = Field(default="12", pattern=r"^\d+$")
    consumer_key: str = Field(min_length=1)
    consumer_secret: str = Field(min_length=1)
    access_token: str = Field(min_length=1)
    access_token_secret: str = Field(min_length=1)
    account_ids: list[str] = Field(default_factory=list, description="empty = every account of the token")
    stats_window_days: int = Field(default=7, ge=1, le=7, description="days per synchronous stats request")
    job_window_days: int = Field(default=45, ge=1, le=45, description="days per segmented stats job")
    page_size: int = Field(default=1000, ge=1, le=1000, description="`count` per page")
    slow_at_remaining_pct: float = Field(
        default=10.0, ge=0, le=100, description="remaining share of a limit below which calls are spaced"
    )
    max_pace_seconds: float = Field(default=30.0, ge=0)
    max_reset_wait_seconds: float = Field(default=900.0, ge=0, description="longest wait for a reset")
    job_poll_seconds: float = Field(default=2.0, ge=0)
    job_polls: int = Field(default=60, ge=1)
    job_attempts: int = Field(default=3, ge=1)


class _OAuth1(httpx.Auth):
    """OAuth 1.0a HMAC-SHA1 header signing by authlib's RFC 5849 client for every httpx request."""

    requires_request_body = True

    def __init__(self, config: XConfig) -> None:
        self.signer = ClientAuth(
            config.consumer_key,
            client_secret=config.consumer_secret,
            token=config.access_token,
            token_secret=config.access_token_secret,
        )

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        # Parameters travel in the query string, which the signature covers; bodies are never sent.
        _, headers, _ = self.signer.prepare(request.method, str(request.url), dict(request.headers), b"")
        request.headers["Authorization"] = headers["Authorization"]
        yield request


class XPacer:
    """Spaces calls out as X's rate-limit headers near zero, and waits for the reset once they reach it.

    X sends `x-rate-limit-*` (user level, per endpoint category) and, on entity reads,
    `x-account-rate-limit-*` (ad-account level); the tighter of the two paces the next call.
    """

    def __init__(
        self,
        *,
        slow_at_pct: float,
        max_pace_seconds: float,
        max_wait_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.slow_at = slow_at_pct / 100.0
        self.max_pace = max_pace_seconds
        self.max_wait = max_wait_seconds
        self.clock = clock
        self.state: tuple[int, int, float] | None = None  # limit, remaining, reset (epoch s)

    def observe(self, response: httpx.Response) -> None:
        seen = [
            s for s in (_limits(response, "x-account-rate-limit-"), _limits(response, "x-rate-limit-")) if s
        ]
        if seen:
            self.state = min(seen, key=lambda s: s[1] / max(1, s[0]))

    def delay(self) -> float:
        if self.state is None:
            return 0.0
        limit, remaining, reset = self.state
        left = reset - self.clock()
        if left <= 0:
            self.state = None
            return 0.0
        if remaining <= 0:
            self.state = None  # waited for once; the next answer says where the window stands
            return min(left + 1.0, self.max_wait)
        if remaining / max(1, limit) >= self.slow_at:
            return 0.0
        return min(self.max_pace, left / remaining)


def _limits(response: httpx.Response, prefix: str) -> tuple[int, int, float] | None:
    try:
        return (
            int(response.headers[f"{prefix}limit"]),
            int(response.headers[f"{prefix}remaining"]),
            float(response.headers[f"{prefix}reset"]),
        )
    except (KeyError, ValueError):
        return None


def _reset_wait(response: httpx.Response) -> float | None:
    """Seconds until the refused window resets; the ad-account level header wins when present."""
    for name in ("x-account-rate-limit-reset", "x-rate-limit-reset"):
        raw = response.headers.get(name)
        if raw:
            try:
                return max(1.0, float(raw) - time.time() + 1.0)
            except ValueError:
                continue
    return None


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers["retry-after"]))
    except (KeyError, ValueError):
        return None


def _decoded(content: bytes) -> bytes:
    """Stats job results arrive as gzip files (application/gzip, not a Content-Encoding)."""
    if content[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(content)
        except (OSError, EOFError):
            raise MalformedResponseError("gzip result cut short", platform=PLATFORM) from None
    return content


def parse_x(response: httpx.Response) -> dict[str, Any]:
    """The body of an X answer, or the typed error its status and `errors` envelope stand for."""
    status = response.status_code
    try:
        body: Any = json.loads(_decoded(response.content))
    except ValueError:
        body = None
    errors = body.get("errors") if isinstance(body, dict) else None
    if status >= 400 or errors:
        first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
        code = first.get("code")
        message = str(first.get("message") or f"HTTP {status}")
        if first.get("parameter"):
            message += f" (parameter {first['parameter']})"
        if body is None:
            message += " (body is not JSON)"
        kw: dict[str, Any] = {"platform": PLATFORM, "status": status, "code": code}
        if status == 401:
            raise AuthError(
                f"credential rejected ({code or 'HTTP 401'}): {message}; renew the access token and secret",
                **kw,
            )
        if status == 429:
            raise RateLimitedError(message, retry_after=_reset_wait(response), **kw)
        if status == 503 and _retry_after(response) is not None:
            raise RateLimitedError(message, retry_after=_retry_after(response), **kw)
        if status in RETRY_STATUSES or status >= 500:
            raise TransientError(message, **kw)
        raise BadRequestError(message, **kw)
    if body is None:
        raise MalformedResponseError(f"HTTP {status} body is not JSON", platform=PLATFORM, status=status)
    if not isinstance(body, dict) or "data" not in body:
        raise MalformedResponseError("expected a JSON object with data", platform=PLATFORM, status=status)
    return body


def _lake_sink(sink: ResponseSink | None) -> ResponseSink | None:
    """The lake keeps text: a gzip stats result is stored unzipped (the same bytes a Content-Encoding
    would have been decoded to), so rebuild can read it."""
    if sink is None:
        return None

    def write(*, body: bytes, **kw: Any) -> None:
        if body[:2] == b"\x1f\x8b":
            with contextlib.suppress(OSError, EOFError):
                body = gzip.decompress(body)
        sink(body=body, **kw)

    return write  # type: ignore[return-value]


def _query(params: dict[str, Any]) -> dict[str, str]:
    """X's parameter forms: lists comma-joined, booleans lower case, nothing for None."""
    out: dict[str, str] = {}
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, list | tuple):
            out[key] = ",".join(str(v) for v in value)
        else:
            out[key] = str(value)
    return out


def _utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _midnight(day: dt.date, timezone: str) -> dt.datetime:
    """Local midnight of `day` in the account's zone (the offset valid on that day)."""
    return dt.datetime.combine(day, dt.time(), tzinfo=ZoneInfo(timezone))


def _windows(since: dt.date, until: dt.date, days: int) -> list[tuple[dt.date, dt.date]]:
    out, start = [], since
    while start <= until:
        end = min(until, start + dt.timedelta(days=days - 1))
        out.append((start, end))
        start = end + dt.timedelta(days=1)
    return out


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _record(value: Any) -> dict[str, Any]:
    return value.model_dump(mode="json")  # type: ignore[no-any-return]


class XAdapter:
    platform = PLATFORM

    def __init__(
        self,
        config: XConfig,
        *,
        client: httpx.AsyncClient | None = None,
        sink: ResponseSink | None = None,
        retry: RetryPolicy | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        self.config = config
        self.client = client or httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=10.0))
        self.client.auth = _OAuth1(config)
        self.pacer = XPacer(
            slow_at_pct=config.slow_at_remaining_pct,
            max_pace_seconds=config.max_pace_seconds,
            max_wait_seconds=config.max_reset_wait_seconds,
        )
        kwargs: dict[str, Any] = {"sleep": sleep} if sleep else {}
        self.transport = Transport(
            platform=PLATFORM,
            client=self.client,
            parse=parse_x,
            pacer=self.pacer,
            retry=retry,
            sink=_lake_sink(sink),
            **kwargs,
        )
        self.root = f"{config.base_url.rstrip('/')}/{config.api_version}"

    async def aclose(self) -> None:
        await self.client.aclose()

    # -- plumbing -------------------------------------------------------------------------------

    async def _call(
        self, method: str, path: str, *, account: str, stream: str, **params: Any
    ) -> dict[str, Any]:
        url = path if path.startswith(("http://", "https://")) else f"{self.root}/{path}"
        return await self.transport.call(  # type: ignore[no-any-return]
            method, url, account=account, stream=stream, params=_query(params)
        )

    async def _bodies(self, path: str, *, account: str, stream: str, **params: Any) -> list[dict[str, Any]]:
        """Every page of a collection: follow `next_cursor` until it is null."""
        params = {"count": self.config.page_size, **params}
        bodies: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            extra = {"cursor": cursor} if cursor else {}
            body = await self._call("GET", path, account=account, stream=stream, **params, **extra)
            if not isinstance(body.get("data"), list):
                raise MalformedResponseError(f"{stream}: page without a data list", platform=PLATFORM)
            bodies.append(body)
            cursor = body.get("next_cursor")
            if not cursor:
                return bodies

    def _fed(self, stream: str, account: AccountRecord, bodies: Iterable[dict[str, Any]]) -> Batch[Any]:
        assembler = _Assembler()
        rows = [row for body in bodies for row in assembler.rows(stream, body)]
        return normalise(stream, account, rows)

    # -- entities -------------------------------------------------------------------------------

    async def accounts(self) -> list[AccountRecord]:
        assembler = _Assembler()
        if self.config.account_ids:
            listing = [
                await self._call("GET", f"accounts/{a}", account=a, stream="accounts")
                for a in self.config.account_ids
            ]
        else:
            listing = await self._bodies("accounts", account="me", stream="accounts")
        for body in listing:
            assembler.accounts(body)
        found: list[AccountRecord] = []
        for account_id in list(assembler.pending_accounts):
            for body in await self._bodies(
                f"accounts/{account_id}/funding_instruments",
                account=account_id,
                stream="accounts",
                with_deleted=True,
            ):
                found.extend(assembler.accounts(body))
            if account_id in assembler.pending_accounts:
                logger.warning("x account %s has no funding instrument with a currency; skipped", account_id)
        return found

    async def campaigns(self, account: AccountRecord) -> Batch[CampaignRecord]:
        bodies = await self._bodies(
            f"accounts/{account.platform_id}/campaigns",
            account=account.platform_id,
            stream="campaigns",
            with_deleted=True,
        )
        return self._fed("campaigns", account, bodies)

    async def _line_item_bodies(self, account: AccountRecord, stream: str) -> list[dict[str, Any]]:
        return await self._bodies(
            f"accounts/{account.platform_id}/line_items",
            account=account.platform_id,
            stream=stream,
            with_deleted=True,
        )

    async def _criteria_bodies(
        self, account: AccountRecord, stream: str, line_item_ids: list[str]
    ) -> list[dict[str, Any]]:
        bodies: list[dict[str, Any]] = []
        for chunk in _chunks(line_item_ids, MAX_CRITERIA_LINE_ITEMS):
            bodies.extend(
                await self._bodies(
                    f"accounts/{account.platform_id}/targeting_criteria",
                    account=account.platform_id,
                    stream=stream,
                    line_item_ids=chunk,
                )
            )
        return bodies

    async def adsets(self, account: AccountRecord) -> Batch[AdSetRecord]:
        """Line items, then their targeting criteria (at most 200 line items per read)."""
        bodies = await self._line_item_bodies(account, "adsets")
        ids = [str(r["id"]) for b in bodies for r in b["data"] if isinstance(r, dict) and "id" in r]
        bodies += await self._criteria_bodies(account, "adsets", ids)
        return self._fed("adsets", account, bodies)

    async def ads(self, account: AccountRecord) -> Batch[AdRecord]:
        """Line items (for their campaigns), then promoted tweets."""
        bodies = await self._line_item_bodies(account, "ads")
        bodies += await self._bodies(
            f"accounts/{account.platform_id}/promoted_tweets",
            account=account.platform_id,
            stream="ads",
            with_deleted=True,
        )
        return self._fed("ads", account, bodies)

    async def creatives(self, account: AccountRecord) -> Batch[CreativeRecord]:
        """Cards (link and call to action), then the account's tweets (text and media)."""
        bodies = await self._bodies(
            f"accounts/{account.platform_id}/cards", account=account.platform_id, stream="creatives"
        )
        bodies += await self._bodies(
            f"accounts/{account.platform_id}/tweets",
            account=account.platform_id,
            stream="creatives",
            tweet_type="PUBLISHED",
            timeline_type="ALL",
        )
        return self._fed("creatives", account, bodies)

    async def audiences(self, account: AccountRecord) -> Batch[AudienceRecord]:
        bodies = await self._bodies(
            f"accounts/{account.platform_id}/custom_audiences",
            account=account.platform_id,
            stream="audiences",
        )
        return self._fed("audiences", account, bodies)

    # -- stats ----------------------------------------------------------------------------------

    async def _stats_ids(self, account: AccountRecord, since: dt.date, until: dt.date) -> list[str]:
        """Promoted tweets that may have delivered between the local days `since` and `until`."""
        start = _midnight(since, account.timezone)
        end = _midnight(until + dt.timedelta(days=1), account.timezone)
        ids: list[str] = []
        for body in await self._bodies(
            f"accounts/{account.platform_id}/promoted_tweets",
            account=account.platform_id,
            stream="stats_entities",
            with_deleted=True,
        ):
            for row in body["data"]:
                if not isinstance(row, dict) or "id" not in row:
                    continue
                created, updated = _stamp(row.get("created_at")), _stamp(row.get("updated_at"))
                if created is not None and created >= end:
                    continue  # created after the range
                if row.get("deleted") and updated is not None and updated < start:
                    continue  # deleted before the range
                ids.append(str(row["id"]))
        return ids

    def _stats_params(
        self,
        account: AccountRecord,
        ids: list[str],
        start: dt.datetime,
        end: dt.datetime,
        granularity: str,
        placement: str,
    ) -> dict[str, Any]:
        return {
            "entity": "PROMOTED_TWEET",
            "entity_ids": ids,
            "start_time": _utc(start),
            "end_time": _utc(end),
            "granularity": granularity,
            "placement": placement,
            "metric_groups": METRIC_GROUPS,
        }

    async def _sync_stats(
        self,
        account: AccountRecord,
        stream: str,
        since: dt.date,
        until: dt.date,
        *,
        granularity: str = "DAY",
    ) -> list[dict[str, Any]]:
        """Sync stats over windows of at most 7 local days (whole local midnights), 20 ids per request,
        both placements; the assembler sums the placements (or keeps them apart for `insights_placement`)."""
        ids = await self._stats_ids(account, since, until)
        assembler = _Assembler()
        rows: list[dict[str, Any]] = []
        for first, last in _windows(since, until, self.config.stats_window_days):
            start = _midnight(first, account.timezone)
            end = _midnight(last + dt.timedelta(days=1), account.timezone)
            for chunk in _chunks(ids, MAX_STATS_IDS):
                for placement in STATS_PLACEMENTS:
                    body = await self._call(
                        "GET",
                        f"stats/accounts/{account.platform_id}",
                        account=account.platform_id,
                        stream=stream,
                        **self._stats_params(account, chunk, start, end, granularity, placement),
                    )
                    if _stats_context(body) is None:
                        raise MalformedResponseError(f"{stream}: not a stats body", platform=PLATFORM)
                    rows.extend(assembler.rows(stream, body))
        return rows

    async def daily_metrics(self, account: AccountRecord, since: dt.date, until: dt.date) -> Batch[MetricRow]:
        rows = await self._sync_stats(account, "insights", since, until)
        return normalise("insights", account, rows)

    async def segment_metrics(
        self, account: AccountRecord, since: dt.date, until: dt.date, breakdown: str
    ) -> Batch[SegmentMetricRow]:
        stream = f"insights_{breakdown}"
        if breakdown == "placement":
            rows = await self._sync_stats(account, stream, since, until)
        elif breakdown in SEGMENTATIONS:
            rows = await self._job_stats(account, stream, since, until, SEGMENTATIONS[breakdown])
        else:
            raise ValueError(f"unknown breakdown {breakdown!r}")
        return normalise(stream, account, rows)

    async def hourly_metrics(self, account: AccountRecord, day: dt.date) -> Batch[HourlyRow]:
        rows = await self._sync_stats(account, "hourly", day, day, granularity="HOUR")
        return normalise("hourly", account, rows)

    async def _job_stats(
        self, account: AccountRecord, stream: str, since: dt.date, until: dt.date, segmentation: str
    ) -> list[dict[str, Any]]:
        """Segmented stats through async jobs: create, poll until SUCCESS, download the gzip result."""
        ids = await self._stats_ids(account, since, until)
        specs: list[dict[str, Any]] = []
        for first, last in _windows(since, until, self.config.job_window_days):
            start = _midnight(first, account.timezone)
            end = _midnight(last + dt.timedelta(days=1), account.timezone)
            for chunk in _chunks(ids, MAX_STATS_IDS):
                for placement in STATS_PLACEMENTS:
                    params = self._stats_params(account, chunk, start, end, "DAY", placement)
                    specs.append({**params, "segmentation_type": segmentation})
        assembler = _Assembler()
        rows: list[dict[str, Any]] = []
        for group in _chunks_of(specs, MAX_OPEN_JOBS):
            urls = await self._run_jobs(account, f"{stream}_job", group)
            for url in urls:  # in the order of the specs, so each pair of placements meets
                body = await self._call("GET", url, account=account.platform_id, stream=stream)
                if _stats_context(body) is None:
                    raise MalformedResponseError(f"{stream}: job result is not stats", platform=PLATFORM)
                rows.extend(assembler.rows(stream, body))
        return rows

    async def _run_jobs(self, account: AccountRecord, stream: str, specs: list[dict[str, Any]]) -> list[str]:
        path = f"stats/jobs/accounts/{account.platform_id}"
        acc = account.platform_id
        jobs: list[str] = []
        for spec in specs:
            created = await self._call("POST", path, account=acc, stream=stream, **spec)
            jobs.append(_job_id(created.get("data")))
        attempts = [1] * len(specs)
        urls: dict[int, str] = {}
        wait = self.config.job_poll_seconds
        for _ in range(self.config.job_polls):
            open_jobs = {jobs[i]: i for i in range(len(jobs)) if i not in urls}
            if not open_jobs:
                return [urls[i] for i in range(len(jobs))]
            await self.transport.pause(wait)
            wait = min(30.0, max(wait * 1.5, 0.5))
            for chunk in _chunks(list(open_jobs), MAX_JOB_IDS):
                for body in await self._bodies(path, account=acc, stream=stream, job_ids=chunk):
                    for job in body["data"]:
                        if not isinstance(job, dict):
                            continue
                        i = open_jobs.get(str(job.get("id_str") or job.get("id")))
                        if i is None:
                            continue
                        status = job.get("status")
                        if status == "SUCCESS" and job.get("url"):
                            urls[i] = str(job["url"])
                        elif status in FAILED_JOB:
                            if attempts[i] >= self.config.job_attempts:
                                raise TransientError(
                                    f"stats job {jobs[i]} ended {status} {attempts[i]} times",
                                    platform=PLATFORM,
                                )
                            attempts[i] += 1
                            logger.warning("x stats job %s ended %s; starting it again", jobs[i], status)
                            again = await self._call("POST", path, account=acc, stream=stream, **specs[i])
                            jobs[i] = _job_id(again.get("data"))
        raise TransientError(
            f"{len(jobs) - len(urls)} stats jobs still running after {self.config.job_polls} polls",
            platform=PLATFORM,
        )

    # -- reads for writes -----------------------------------------------------------------------

    async def _campaign_state(self, account: AccountRecord, campaign_id: str) -> dict[str, Any]:
        body = await self._call(
            "GET",
            f"accounts/{account.platform_id}/campaigns/{campaign_id}",
            account=account.platform_id,
            stream="writes",
            with_deleted=True,
        )
        return _record(_campaign(_object(body), account))

    async def _adset_state(self, account: AccountRecord, line_item_id: str) -> dict[str, Any]:
        body = await self._call(
            "GET",
            f"accounts/{account.platform_id}/line_items/{line_item_id}",
            account=account.platform_id,
            stream="writes",
            with_deleted=True,
        )
        criteria = [
            c
            for b in await self._criteria_bodies(account, "writes", [line_item_id])
            for c in b["data"]
            if isinstance(c, dict)
        ]
        return _record(_adset({**_object(body), "targeting_criteria": criteria}, account))

    async def _ad_state(self, account: AccountRecord, promoted_tweet_id: str) -> dict[str, Any]:
        acc = account.platform_id
        body = _object(
            await self._call(
                "GET",
                f"accounts/{acc}/promoted_tweets/{promoted_tweet_id}",
                account=acc,
                stream="writes",
                with_deleted=True,
            )
        )
        line_item = _object(
            await self._call(
                "GET",
                f"accounts/{acc}/line_items/{body.get('line_item_id')}",
                account=acc,
                stream="writes",
                with_deleted=True,
            )
        )
        return _record(_ad({**body, "campaign_id": line_item.get("campaign_id")}, account))

    async def _state(self, account: AccountRecord, level: str, platform_id: str) -> dict[str, Any]:
        if level == "campaign":
            return await self._campaign_state(account, platform_id)
        if level == "adset":
            return await self._adset_state(account, platform_id)
        return await self._ad_state(account, platform_id)

    async def _write(self, method: str, account: AccountRecord, path: str, **params: Any) -> dict[str, Any]:
        return await self._call(
            method,
            f"accounts/{account.platform_id}/{path}",
            account=account.platform_id,
            stream="writes",
            **params,
        )

    # -- writes ---------------------------------------------------------------------------------

    async def set_budget(
        self,
        account: AccountRecord,
        *,
        level: Literal["campaign", "adset"],
        platform_id: str,
        daily_micros: int | None = None,
        lifetime_micros: int | None = None,
    ) -> WriteResult:
        if daily_micros is None and lifetime_micros is None:
            raise BadRequestError("set_budget needs a daily or a lifetime budget", platform=PLATFORM)
        path = {"campaign": "campaigns", "adset": "line_items"}[level]
        before = await self._state(account, level, platform_id)
        await self._write(
            "PUT",
            account,
            f"{path}/{platform_id}",
            daily_budget_amount_local_micro=daily_micros,
            total_budget_amount_local_micro=lifetime_micros,
        )
        after = await self._state(account, level, platform_id)
        return WriteResult(entity=level, platform_id=platform_id, before=before, after=after)

    async def set_bid(
        self, account: AccountRecord, adset_platform_id: str, bid_micros: int | None
    ) -> WriteResult:
        before = await self._state(account, "adset", adset_platform_id)
        if bid_micros is None:  # AUTO bidding: no cap
            params: dict[str, Any] = {"bid_strategy": "AUTO"}
        else:
            params = {"bid_strategy": "MAX", "bid_amount_local_micro": bid_micros}
        await self._write("PUT", account, f"line_items/{adset_platform_id}", **params)
        after = await self._state(account, "adset", adset_platform_id)
        return WriteResult(entity="adset", platform_id=adset_platform_id, before=before, after=after)

    async def set_targeting(
        self, account: AccountRecord, adset_platform_id: str, targeting: TargetingSpec
    ) -> WriteResult:
        """Diff the wanted targeting against the line item's criteria: POST what is missing, then DELETE
        what is no longer wanted (adding first never leaves a dimension momentarily untargeted), and PUT
        the placements when they differ."""
        before = await self._state(account, "adset", adset_platform_id)
        await self._apply_targeting(account, adset_platform_id, targeting)
        after = await self._state(account, "adset", adset_platform_id)
        return WriteResult(entity="adset", platform_id=adset_platform_id, before=before, after=after)

    async def _apply_targeting(
        self, account: AccountRecord, line_item_id: str, targeting: TargetingSpec, *, new: bool = False
    ) -> None:
        criteria = (
            []
            if new
            else [
                c
                for b in await self._criteria_bodies(account, "writes", [line_item_id])
                for c in b["data"]
                if isinstance(c, dict) and not c.get("deleted")
            ]
        )
        current = {
            (str(c.get("targeting_type")), str(c.get("targeting_value"))): str(c.get("id"))
            for c in criteria
            if c.get("operator_type", "EQ") == "EQ"
        }
        wanted = set(_criteria_for(targeting))
        for targeting_type, value in sorted(wanted - set(current)):
            await self._write(
                "POST",
                account,
                "targeting_criteria",
                line_item_id=line_item_id,
                targeting_type=targeting_type,
                targeting_value=value,
            )
        managed = {*CRITERIA_TYPES, *AUDIENCE_TYPES}
        for key, criterion_id in sorted(current.items()):
            if key not in wanted and key[0] in managed:
                await self._write("DELETE", account, f"targeting_criteria/{criterion_id}")
        if not new:
            line_item = _object(
                await self._call(
                    "GET",
                    f"accounts/{account.platform_id}/line_items/{line_item_id}",
                    account=account.platform_id,
                    stream="writes",
                )
            )
            have = _placements(line_item.get("placements"))
            if set(have) != set(_wanted(targeting.placements, "placements")):
                await self._write(
                    "PUT",
                    account,
                    f"line_items/{line_item_id}",
                    placements=_x_placements(targeting.placements),
                )

    async def set_status(
        self,
        account: AccountRecord,
        *,
        level: Literal["campaign", "adset", "ad"],
        platform_id: str,
        status: Literal["ACTIVE", "PAUSED"],
    ) -> WriteResult:
        path = {"campaign": "campaigns", "adset": "line_items", "ad": "promoted_tweets"}[level]
        before = await self._state(account, level, platform_id)
        await self._write("PUT", account, f"{path}/{platform_id}", entity_status=status)
        after = await self._state(account, level, platform_id)
        return WriteResult(entity=level, platform_id=platform_id, before=before, after=after)

    async def create_adset(self, account: AccountRecord, spec: NewAdSet) -> WriteResult:
        params: dict[str, Any] = {
            "campaign_id": spec.campaign_platform_id,
            "name": spec.name,
            "entity_status": spec.status,
            "objective": "WEBSITE_CONVERSIONS",
            "product_type": "PROMOTED_TWEETS",
            "placements": _x_placements(spec.targeting.placements),
            "daily_budget_amount_local_micro": spec.daily_budget_micros,
        }
        if spec.bid_micros is None:
            params["bid_strategy"] = "AUTO"
        else:
            params.update(bid_strategy="MAX", bid_amount_local_micro=spec.bid_micros)
        created = _object(await self._write("POST", account, "line_items", **params))
        line_item_id = str(created.get("id") or "")
        if not line_item_id:
            raise MalformedResponseError("created line item without an id", platform=PLATFORM)
        await self._apply_targeting(account, line_item_id, spec.targeting, new=True)
        after = await self._state(account, "adset", line_item_id)
        return WriteResult(entity="adset", platform_id=line_item_id, before=None, after=after)

    async def create_ad(self, account: AccountRecord, spec: NewAd) -> WriteResult:
        """A promoted tweet of an existing tweet (`creative_platform_id`), or of a new one made from the
        text (headline, then body on the next line), a card for the link and the media key."""
        tweet_id = spec.creative_platform_id
        if tweet_id is None:
            if not spec.headline:
                raise BadRequestError("a new tweet needs a headline (its first line)", platform=PLATFORM)
            card_uri = None
            if spec.link:
                card = _object(
                    await self._write(
                        "POST",
                        account,
                        "cards",
                        name=spec.name,
                        website_url=spec.link,
                        call_to_action=spec.call_to_action,
                        media_key=spec.image_hash,
                    )
                )
                card_uri = card.get("card_uri")
            text = spec.headline if not spec.body else f"{spec.headline}\n{spec.body}"
            tweet = _object(
                await self._write(
                    "POST",
                    account,
                    "tweet",
                    text=text,
                    card_uri=card_uri,
                    media_keys=spec.image_hash,
                    nullcast=True,
                    name=spec.name,
                )
            )
            tweet_id = str(tweet.get("id_str") or tweet.get("tweet_id") or tweet.get("id") or "")
            if not tweet_id:
                raise MalformedResponseError("created tweet without an id", platform=PLATFORM)
        body = await self._write(
            "POST", account, "promoted_tweets", line_item_id=spec.adset_platform_id, tweet_ids=[tweet_id]
        )
        data = body.get("data")
        first = data[0] if isinstance(data, list) and data else data
        ad_id = str(first.get("id") or "") if isinstance(first, dict) else ""
        if not ad_id:
            raise MalformedResponseError("created promoted tweet without an id", platform=PLATFORM)
        if str(first.get("entity_status", spec.status)) != spec.status:
            await self._write("PUT", account, f"promoted_tweets/{ad_id}", entity_status=spec.status)
        after = await self._state(account, "ad", ad_id)
        return WriteResult(entity="ad", platform_id=ad_id, before=None, after=after)

    async def upload_image(self, account: AccountRecord, name: str, data: bytes) -> WriteResult:
        raise BadRequestError(
            "X takes images through its media upload endpoint (POST https://upload.twitter.com/1.1/media/"
            "upload.json, chunked INIT/APPEND/FINALIZE with media_category=TWEET_IMAGE), then "
            "POST /accounts/:account_id/media_library with the media_key; the sandbox serves neither, so "
            "this adapter does not upload: create the ad from an existing tweet or media_key "
            "(NewAd.image_hash)",
            platform=PLATFORM,
        )


def _chunks_of(items: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _job_id(data: Any) -> str:
    if not isinstance(data, dict) or not (data.get("id_str") or data.get("id")):
        raise MalformedResponseError("stats job without an id", platform=PLATFORM)
    return str(data.get("id_str") or data.get("id"))


def _object(body: dict[str, Any]) -> dict[str, Any]:
    data = body.get("data")
    if not isinstance(data, dict):
        raise MalformedResponseError("expected one object in data", platform=PLATFORM)
    return data


# -- targeting in both directions ---------------------------------------------------------------------


def _age_bands(value: str) -> list[str]:
    """AGE_18_TO_24 / AGE_OVER_45 (any bounds X uses) -> the warehouse bands it overlaps."""
    m = re.fullmatch(r"AGE_(\d+)_TO_(\d+)", value) or re.fullmatch(r"AGE_OVER_(\d+)", value)
    if not m:
        raise ValueError(f"unknown age value {value!r}")
    lo = int(m.group(1))
    hi = int(m.group(2)) if m.lastindex == 2 else 200
    return [band for band, (a, b) in AGE_BANDS.items() if a <= hi and b >= lo]


def _age_band(value: str) -> str:
    """An age segment value -> its one warehouse band."""
    bands = _age_bands(value)
    exact = [b for b in bands if AGE_VALUES[b] == value]
    if exact:
        return exact[0]
    if len(bands) == 1:
        return bands[0]
    raise ValueError(f"age segment {value!r} does not fall in one warehouse band")


def _country(value: str, name: Any = None) -> str:
    for iso, x_value in COUNTRY_VALUES.items():
        if value == x_value:
            return iso
    if isinstance(name, str) and name in COUNTRY_NAMES:
        return COUNTRY_NAMES[name]
    if re.fullmatch(r"[A-Z]{2}", value):
        return value
    raise ValueError(f"unknown X location {value!r} ({name}): add it to COUNTRY_VALUES")


def _gender(value: str, name: Any = None) -> str:
    for gender, x_value in GENDER_VALUES.items():
        if value == x_value or (isinstance(name, str) and name.lower() == gender):
            return gender
    raise ValueError(f"unknown gender value {value!r}")


def _placements(values: Any) -> list[str]:
    out: set[str] = set()
    for v in values or []:
        out.update(LINE_ITEM_PLACEMENTS.get(str(v), ()))
    return [p for p in ALL["placements"] if p in out]


def _wanted(values: list[str], field: str) -> list[str]:
    return list(ALL[field]) if not values else [v for v in ALL[field] if v in values]


def _x_placements(placements: list[str]) -> list[str]:
    chosen = set(_wanted(placements, "placements"))
    out = []
    if {"feed", "stories"} <= chosen:
        out.append("ALL_ON_TWITTER")
    elif "feed" in chosen:
        out.append("TWITTER_TIMELINE")
    elif "stories" in chosen:
        out.append("TWITTER_SEARCH")
    if "network" in chosen:
        out.append("PUBLISHER_NETWORK")
    return out


def _criteria_for(targeting: TargetingSpec) -> list[tuple[str, str]]:
    """X criteria for a targeting spec: none for a dimension with every value (an empty list)."""
    out: list[tuple[str, str]] = []
    for values, kind, table in (
        (targeting.ages, "AGE", AGE_VALUES),
        (targeting.genders, "GENDER", GENDER_VALUES),
        (targeting.countries, "LOCATION", COUNTRY_VALUES),
    ):
        field = CRITERIA_TYPES[kind]
        unknown = [v for v in values if v not in table]
        if unknown:  # dropping them would widen the line item to every value of the dimension
            raise BadRequestError(f"no X {kind} value for {unknown}; known: {list(table)}", platform=PLATFORM)
        chosen = _wanted(values, field)
        if len(chosen) < len(ALL[field]):
            for v in chosen:
                if v not in table:
                    raise BadRequestError(f"no X {kind} value for {v!r}", platform=PLATFORM)
                out.append((kind, table[v]))
    out.extend(("CUSTOM_AUDIENCE", a) for a in targeting.audience_ids)
    return out


def _targeting(line_item: dict[str, Any]) -> TargetingSpec:
    criteria = line_item.get("targeting_criteria") or []
    included: dict[str, list[str]] = {f: [] for f in ("ages", "genders", "countries")}
    excluded: dict[str, set[str]] = {f: set() for f in included}
    audiences: list[str] = []
    for c in criteria:
        if not isinstance(c, dict) or c.get("deleted"):
            continue
        kind, value, name = str(c.get("targeting_type")), str(c.get("targeting_value")), c.get("name")
        if kind in AUDIENCE_TYPES:
            if c.get("operator_type", "EQ") == "EQ":
                audiences.append(value)
            continue
        field = CRITERIA_TYPES.get(kind)
        if field is None:
            continue  # interests, keywords, devices...: not in the warehouse's vocabulary
        try:
            values = (
                _age_bands(value)
                if field == "ages"
                else [_gender(value, name)]
                if field == "genders"
                else [_country(value, name)]
            )
        except ValueError as exc:
            # A value outside the warehouse's vocabulary is kept as X names it, never dropped silently.
            logger.warning("x line item %s: %s", line_item.get("id"), exc)
            values = [value]
        if c.get("operator_type", "EQ") == "NE":
            excluded[field].update(values)
        else:
            included[field].extend(v for v in values if v not in included[field])
    spec: dict[str, list[str]] = {}
    for field, chosen in included.items():
        base = chosen or list(ALL[field])
        kept = [v for v in base if v not in excluded[field]]
        known = [v for v in ALL[field] if v in kept] + sorted(v for v in kept if v not in ALL[field])
        spec[field] = [] if (set(known) == set(ALL[field]) and not excluded[field]) else known
    placements = _placements(line_item.get("placements"))
    return TargetingSpec(
        **spec,
        placements=[] if len(placements) in (0, len(ALL["placements"])) else placements,
        audience_ids=audiences,
    )


# -- assembling bodies into rows (live and rebuild) ------------------------------------------------


def _stats_context(body: Any) -> tuple[Any, ...] | None:
    """The request a stats body answers (from its `request.params` echo), or None if it is not one."""
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        return None
    params = (body.get("request") or {}).get("params") if isinstance(body.get("request"), dict) else None
    if not isinstance(params, dict) or not isinstance(body.get("time_series_length"), int):
        return None
    if params.get("placement") not in STATS_PLACEMENTS or not params.get("start_time"):
        return None
    ids = params.get("entity_ids")
    ids = tuple(ids) if isinstance(ids, list) else tuple(str(ids or "").split(","))
    return (
        params.get("account_id"),
        params.get("entity"),
        ids,
        params.get("start_time"),
        params.get("end_time"),
        params.get("granularity"),
        params.get("segmentation_type"),
    )


def _at(series: Any, i: int) -> Any:
    """Bucket i of a metric array; a null array (or slot) is zero, anything else is passed on to fail."""
    if series is None:
        return 0
    if isinstance(series, list):
        if i < len(series):
            return 0 if series[i] is None else series[i]
        return "missing bucket"
    return series


def _stats_rows(body: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per entity x bucket x segment with raw figures and the request context."""
    params = body["request"]["params"]
    n = body["time_series_length"]
    rows: list[dict[str, Any]] = []
    for entry in body["data"]:
        if not isinstance(entry, dict):
            rows.append({"bad": f"stats entry is not an object: {entry!r}"[:200]})
            continue
        for seg in entry.get("id_data") or []:
            metrics = seg.get("metrics") if isinstance(seg, dict) else None
            if not isinstance(metrics, dict):
                rows.append({"id": entry.get("id"), "bad": "id_data without metrics"})
                continue
            segment = seg.get("segment") or {}
            purchases = metrics.get("conversion_purchases") or {}
            if not isinstance(purchases, dict):
                purchases = {"metric": purchases, "sale_amount": purchases}
            series = {
                "impressions": metrics.get("impressions"),
                "clicks": metrics.get("url_clicks"),  # link clicks, as the warehouse counts clicks
                "spend_micros": metrics.get("billed_charge_local_micro"),
                "conversions": purchases.get("metric"),
                "value_micros": purchases.get("sale_amount"),
            }
            for i in range(n):
                row = {
                    "id": entry.get("id"),
                    "start_time": params.get("start_time"),
                    "granularity": params.get("granularity"),
                    "bucket": i,
                    "placement": params.get("placement"),
                    "segment": segment.get("segment_value") if isinstance(segment, dict) else None,
                    "segment_name": segment.get("segment_name") if isinstance(segment, dict) else None,
                }
                row.update({m: _at(s, i) for m, s in series.items()})
                rows.append(row)
    return rows


def _delivering(row: dict[str, Any]) -> bool:
    """Rows with no delivery are dropped (the warehouse keeps delivering ad-days only); bad ones stay to
    be reported."""
    return "bad" in row or any(row.get(m) != 0 for m in METRICS)


def _add(a: Any, b: Any) -> Any:
    ok = isinstance(a, int) and isinstance(b, int) and not isinstance(a, bool) and not isinstance(b, bool)
    return a + b if ok else (a if not isinstance(a, int) else b)


def _summed(halves: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The rows of both placements added up per entity, bucket and segment."""
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    bad: list[dict[str, Any]] = []
    for rows in halves:
        for row in rows:
            if "bad" in row:
                bad.append(row)
                continue
            key = (row["id"], row["bucket"], row["segment"])
            if key not in out:
                out[key] = {**row, "placement": None}
            else:
                for m in METRICS:
                    out[key][m] = _add(out[key][m], row[m])
    return [*bad, *(r for r in out.values() if _delivering(r))]


class _Assembler:
    """Joins X's bodies into rows for `normalise`, fed in the order the bodies were received."""

    def __init__(self) -> None:
        self.pending_accounts: dict[str, dict[str, Any]] = {}
        self.line_items: dict[str, dict[str, Any]] = {}
        self.criteria: dict[tuple[str, ...], dict[str, list[dict[str, Any]]]] = {}
        self.cards: dict[str, dict[str, Any]] = {}
        self.halves: dict[tuple[Any, ...], dict[str, list[dict[str, Any]]]] = {}

    # An "accounts" body: the account listing (remembered) or an account's funding instruments.
    def accounts(self, body: Any) -> list[AccountRecord]:
        data = body.get("data") if isinstance(body, dict) else None
        objs = [data] if isinstance(data, dict) else [d for d in data or [] if isinstance(d, dict)]
        if not objs:
            return []
        if "currency" not in objs[0]:
            self.halves.clear()  # a new sync starts with the accounts: forget unpaired stats of the last
            for obj in objs:
                if obj.get("id") and not obj.get("deleted"):
                    self.pending_accounts[str(obj["id"])] = obj
            return []
        found: list[AccountRecord] = []
        for fi in sorted(objs, key=lambda f: (bool(f.get("deleted")), f.get("entity_status") != "ACTIVE")):
            account = self.pending_accounts.pop(str(fi.get("account_id")), None)
            if account is None:
                continue
            try:
                found.append(build_account(account, fi))
            except (KeyError, TypeError, ValueError, ValidationError, MoneyError) as exc:
                logger.warning("x account %s skipped: %s", account.get("id"), exc)
        return found

    def rows(self, stream: str, body: Any) -> list[dict[str, Any]]:
        data = body.get("data") if isinstance(body, dict) else None
        if stream in PAIRED_STREAMS or stream == "insights_placement":
            context = _stats_context(body)
            if context is None:
                return []
            rows = _stats_rows(body)
            placement = body["request"]["params"]["placement"]
            if stream == "insights_placement":
                return [r for r in rows if _delivering(r)]
            halves = self.halves.setdefault(context, {})
            halves[placement] = rows
            if len(halves) < len(STATS_PLACEMENTS):
                return []
            del self.halves[context]
            return _summed([halves[p] for p in STATS_PLACEMENTS])
        if not isinstance(data, list):
            return []
        objs = [d for d in data if isinstance(d, dict)]
        if stream == "adsets":
            return self._adsets(body, objs)
        if stream == "ads":
            out = []
            for obj in objs:
                if "tweet_id" in obj:
                    parent = self.line_items.get(str(obj.get("line_item_id")), {})
                    out.append({**obj, "campaign_id": parent.get("campaign_id")})
                elif "campaign_id" in obj:
                    self.line_items[str(obj.get("id"))] = obj
            return out
        if stream == "creatives":
            out = []
            for obj in objs:
                if "full_text" in obj or "text" in obj:
                    out.append({**obj, "card": self.cards.get(str(obj.get("card_uri")))})
                elif obj.get("card_uri"):
                    self.cards[str(obj["card_uri"])] = obj
            return out
        return objs

    def _adsets(self, body: dict[str, Any], objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Line item pages are remembered; a criteria read (its echo names line_item_ids) yields the line
        items it covers, with their criteria, on its last page."""
        params = (body.get("request") or {}).get("params") or {}
        ids = params.get("line_item_ids") if isinstance(params, dict) else None
        if ids is None and objs and "targeting_type" in objs[0]:
            ids = sorted({str(o.get("line_item_id")) for o in objs})  # no echo: the line items named
        if ids is None:
            for obj in objs:
                self.line_items[str(obj.get("id"))] = obj
            return []
        ids = ids if isinstance(ids, list) else str(ids).split(",")
        key = tuple(str(i) for i in ids)
        if "cursor" not in params or key not in self.criteria:
            self.criteria[key] = {i: [] for i in key}
        collected = self.criteria[key]
        for obj in objs:
            collected.setdefault(str(obj.get("line_item_id")), []).append(obj)
        if body.get("next_cursor"):
            return []
        del self.criteria[key]
        return [
            {**self.line_items[i], "targeting_criteria": collected.get(i, [])}
            for i in key
            if i in self.line_items
        ]


# -- normalisation: platform rows -> records (used live and by `adcluster rebuild` from the lake) -------


def build_account(account: dict[str, Any], funding: dict[str, Any]) -> AccountRecord:
    currency = str(funding["currency"])
    exponent(currency)
    ZoneInfo(str(account["timezone"]))
    return AccountRecord(
        platform=PLATFORM,
        platform_id=str(account["id"]),
        name=str(account.get("name") or ""),
        currency=currency,
        timezone=str(account["timezone"]),
        status="ACTIVE"
        if account.get("approval_status", "ACCEPTED") == "ACCEPTED"
        else str(account["approval_status"]),
    )


def _stamp(value: Any) -> dt.datetime | None:
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _micros(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{value!r} is not an integer amount of local micros")
    return value


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TypeError(f"{value!r} is not a count")
    return value


def _status(r: dict[str, Any]) -> str:
    return "DELETED" if r.get("deleted") else str(r["entity_status"])


def _campaign(r: dict[str, Any], a: AccountRecord) -> CampaignRecord:
    return CampaignRecord(
        platform_id=str(r["id"]),
        name=str(r["name"]),
        status=_status(r),
        effective_status="DELETED"
        if r.get("deleted")
        else str(r.get("effective_status") or r["entity_status"]),
        objective=r.get("objective"),
        daily_budget_micros=_micros(r.get("daily_budget_amount_local_micro")),
        lifetime_budget_micros=_micros(r.get("total_budget_amount_local_micro")),
        updated_at=_stamp(r.get("updated_at")),
    )


def _adset(r: dict[str, Any], a: AccountRecord) -> AdSetRecord:
    return AdSetRecord(
        platform_id=str(r["id"]),
        campaign_platform_id=str(r["campaign_id"]),
        name=str(r["name"]),
        status=_status(r),
        effective_status=_status(r),
        daily_budget_micros=_micros(r.get("daily_budget_amount_local_micro")),
        lifetime_budget_micros=_micros(r.get("total_budget_amount_local_micro")),
        bid_micros=_micros(r.get("bid_amount_local_micro")),
        bid_strategy=r.get("bid_strategy"),
        optimization_goal=r.get("goal"),
        targeting=_targeting(r),
        end_time=_stamp(r.get("end_time")),
        updated_at=_stamp(r.get("updated_at")),
    )


def _ad(r: dict[str, Any], a: AccountRecord) -> AdRecord:
    if not r.get("campaign_id"):
        raise ValueError(f"line item {r.get('line_item_id')} of promoted tweet {r.get('id')} was not read")
    approval = {"REJECTED": "DISAPPROVED", "UNDER_REVIEW": "PENDING_REVIEW"}
    status = _status(r)
    return AdRecord(
        platform_id=str(r["id"]),
        adset_platform_id=str(r["line_item_id"]),
        campaign_platform_id=str(r["campaign_id"]),
        name=str(r.get("name") or f"promoted tweet {r['tweet_id']}"),
        status=status,
        effective_status=status
        if status != "ACTIVE"
        else approval.get(str(r.get("approval_status")), status),
        creative_platform_id=str(r["tweet_id"]) if r.get("tweet_id") else None,
        updated_at=_stamp(r.get("updated_at")),
    )


def _creative(r: dict[str, Any], a: AccountRecord) -> CreativeRecord:
    text = r.get("full_text") if r.get("full_text") is not None else r.get("text")
    if not isinstance(text, str):
        raise TypeError("tweet without text")
    headline, _, body = text.partition("\n")
    media = ((r.get("entities") or {}).get("media")) or []
    first = media[0] if media and isinstance(media[0], dict) else {}
    card = r.get("card") or {}
    link = card.get("website_url")
    if link is None:
        for component in card.get("components") or []:
            destination = component.get("destination") if isinstance(component, dict) else None
            if isinstance(destination, dict) and destination.get("url"):
                link = destination["url"]
                break
    return CreativeRecord(
        platform_id=str(r.get("id_str") or r.get("tweet_id") or r["id"]),
        name=r.get("name"),
        headline=headline.strip() or None,
        body=body.strip() or None,
        image_hash=first.get("media_key"),
        image_url=first.get("media_url_https"),
        call_to_action=card.get("call_to_action"),
        link=link,
    )


def _audience(r: dict[str, Any], a: AccountRecord) -> AudienceRecord:
    size = r.get("audience_size")
    size = size if isinstance(size, int) and not isinstance(size, bool) else None
    return AudienceRecord(
        platform_id=str(r["id"]),
        name=str(r["name"]),
        subtype=r.get("audience_type"),
        size_lower=size,
        size_upper=size,
    )


def _bucket_time(r: dict[str, Any], a: AccountRecord) -> dt.datetime:
    """The local start of a row's bucket: DAY buckets are local days from the (local-midnight) start."""
    start = dt.datetime.fromisoformat(str(r["start_time"]).replace("Z", "+00:00"))
    if start.tzinfo is None:
        raise ValueError(f"start_time {r['start_time']!r} has no offset")
    zone = ZoneInfo(a.timezone)
    bucket = int(r["bucket"])
    if r["granularity"] == "DAY":
        local = start.astimezone(zone)
        day = local.date() + dt.timedelta(days=bucket)
        return dt.datetime.combine(day, local.time(), tzinfo=zone)
    if r["granularity"] == "HOUR":
        return (start + dt.timedelta(hours=bucket)).astimezone(zone)
    raise ValueError(f"granularity {r['granularity']!r} has no day buckets")


def _figures(r: dict[str, Any]) -> dict[str, int]:
    if "bad" in r:
        raise ValueError(r["bad"])
    return {m: _count(r[m]) for m in METRICS}


def _daily(r: dict[str, Any], a: AccountRecord) -> MetricRow:
    if r["granularity"] != "DAY":
        raise ValueError("daily rows need DAY granularity")
    return MetricRow(ad_platform_id=str(r["id"]), day=_bucket_time(r, a).date(), **_figures(r))


def _hourly(r: dict[str, Any], a: AccountRecord) -> HourlyRow:
    if r["granularity"] != "HOUR":
        raise ValueError("hourly rows need HOUR granularity")
    figures = _figures(r)
    local = _bucket_time(r, a)
    return HourlyRow(
        ad_platform_id=str(r["id"]),
        day=local.date(),
        hour=local.hour,
        impressions=figures["impressions"],
        clicks=figures["clicks"],
        spend_micros=figures["spend_micros"],
    )


def _segment(breakdown: str) -> Callable[[dict[str, Any], AccountRecord], SegmentMetricRow]:
    def build(r: dict[str, Any], a: AccountRecord) -> SegmentMetricRow:
        figures = _figures(r)
        if r["granularity"] != "DAY":
            raise ValueError("segment rows need DAY granularity")
        match breakdown:
            case "age":
                value = _age_band(str(r["segment"]))
            case "gender":
                value = _gender(str(r["segment"]), r.get("segment_name"))
            case "country":
                value = _country(str(r["segment"]), r.get("segment_name"))
            case _:
                value = STATS_PLACEMENTS[str(r["placement"])]
        return SegmentMetricRow(
            ad_platform_id=str(r["id"]),
            day=_bucket_time(r, a).date(),
            breakdown=breakdown,
            **{breakdown: value},
            **figures,
        )

    return build


NORMALISERS: dict[str, Callable[[dict[str, Any], AccountRecord], Any]] = {
    "campaigns": _campaign,
    "adsets": _adset,
    "ads": _ad,
    "creatives": _creative,
    "audiences": _audience,
    "insights": _daily,
    "hourly": _hourly,
    **{f"insights_{b}": _segment(b) for b in ("age", "gender", "country", "placement")},
}


def normalise(stream: str, account: AccountRecord, rows: list[dict[str, Any]]) -> Batch[Any]:
    """Records from a stream's rows; rows that do not fit are reported, the rest go on."""
    build = NORMALISERS[stream]
    batch: Batch[Any] = Batch()
    for i, row in enumerate(rows):
        try:
            batch.items.append(build(row, account))
        except (KeyError, TypeError, ValueError, ValidationError, MoneyError, PlatformError) as exc:
            batch.problems.append(
                RowProblem(
                    platform=PLATFORM,
                    account=account.platform_id,
                    stream=stream,
                    row=i,
                    error=f"{type(exc).__name__}: {exc}"[:500],
                )
            )
    for p in batch.problems:
        logger.warning("x %s %s row %d skipped: %s", p.account, p.stream, p.row, p.error)
    return batch


# `adcluster rebuild` replays the lake in the order it was received through one assembler, as a live
# read feeds its own; the account listing that opens every sync clears half-paired stats.
LAKE = _Assembler()
CODEC = PlatformCodec(accounts=LAKE.accounts, rows=LAKE.rows, normalise=normalise, streams=set(NORMALISERS))

__all__ = ["CODEC", "NORMALISERS", "XAdapter", "XConfig", "XPacer", "normalise", "parse_x"]


def check_targeting(targeting: TargetingSpec) -> None:
    """Raise BadRequestError when X's targeting criteria cannot express `targeting` (known values only)."""
    _criteria_for(targeting)
    unknown = [p for p in targeting.placements if p not in ALL["placements"]]
    if unknown:
        raise BadRequestError(f"no X placement for {unknown}", platform=PLATFORM)
    if not _x_placements(targeting.placements):
        raise BadRequestError("an X line item needs at least one placement", platform=PLATFORM)
