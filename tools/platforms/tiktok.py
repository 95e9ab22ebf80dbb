"""TikTok Business API v1.3 adapter: Access-Token header, page-number paging, ad-level integrated reports.

Reference: business-api.tiktok.com/portal/docs (ad-platform-apis.md §3). Every answer is HTTP 200 with
TikTok's envelope {code, message, request_id, data}; errors and throttles are told by `code`. Money is
in decimal major units of the advertiser currency (JSON numbers, parsed here as Decimal, never float);
metrics are strings with "-" for none. Both become integer micros here, exactly.

TikTok has no creative object: an ad carries its own text, images, call to action and landing page.
The adapter emits one CreativeRecord per ad whose id is the ad's id (stable for the ad's life; it
changes only if the ad is replaced), read by its own `ad/get` pass so `adcluster rebuild` finds it in
the lake under the "creatives" stream.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Literal

import httpx
from pydantic import BaseModel, Field, ValidationError, model_validator

from tools.platforms.base import Batch, Level, NewAd, NewAdSet, PlatformCodec, RowProblem
from tools.platforms.errors import (
    AuthError,
    BadRequestError,
    MalformedResponseError,
    RateLimitedError,
    TransientError,
)
from tools.platforms.money import MoneyError, decimal_to_micros, micros_to_decimal, micros_to_minor
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

PLATFORM = "tiktok"
AUTH_CODES = {40102, 40104, 40105}  # expired (unconfirmed), empty (unconfirmed), incorrect or revoked
RATE_LIMIT_CODE = 40100
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"  # TikTok entity times, UTC (unconfirmed)

# Purchases and their value: `complete_payment` and `total_complete_payment_rate` (TikTok's name for the
# total value of complete payments); unconfirmed on the real platform, served so by the sandbox.
METRICS = ["spend", "impressions", "clicks", "complete_payment", "total_complete_payment_rate"]
HOURLY_METRICS = ["spend", "impressions", "clicks"]

# TikTok's targeting names -> the warehouse vocabulary (sandbox/market/segments.py PLATFORM_TARGETING).
AGES = {
    "AGE_18_24": "18-24",
    "AGE_25_34": "25-34",
    "AGE_35_44": "35-44",
    "AGE_45_54": "45+",
    "AGE_55_100": "45+",
}
AGES_UNMODELLED = {"AGE_13_17"}
# The warehouse's "45+" written back: AGE_45_54 is the band the sandbox serves; the real platform splits
# 45+ into AGE_45_54 and AGE_55_100 (append it here when writing to business-api.tiktok.com).
AGE_OUT = {"18-24": ["AGE_18_24"], "25-34": ["AGE_25_34"], "35-44": ["AGE_35_44"], "45+": ["AGE_45_54"]}
GENDERS = {"GENDER_MALE": ["male"], "GENDER_FEMALE": ["female"], "GENDER_UNLIMITED": []}
REPORT_GENDERS = {"MALE": "male", "FEMALE": "female"}
PLACEMENTS = {
    "PLACEMENT_TIKTOK": "feed",
    "PLACEMENT_GLOBAL_APP_BUNDLE": "stories",
    "PLACEMENT_PANGLE": "network",
}
PLACEMENTS_UNMODELLED = {"PLACEMENT_TOPBUZZ", "PLACEMENT_HELO", "PLACEMENT_LEMON8"}
PLACEMENT_OUT = {v: k for k, v in PLACEMENTS.items()}
# TikTok location ids are GeoNames ids; countries it is common to target. Other ids (regions, cities,
# countries not listed) are kept as "geo:<id>" so nothing is lost and a write sends them back as they were.
COUNTRY_IDS = {
    "6252001": "US", "6251999": "CA", "3996063": "MX", "3469034": "BR", "3865483": "AR", "3895114": "CL",
    "3686110": "CO", "3932488": "PE", "2635167": "GB", "2963597": "IE", "2921044": "DE", "3017382": "FR",
    "3175395": "IT", "2510769": "ES", "2264397": "PT", "2750405": "NL", "2802361": "BE", "2658434": "CH",
    "2782113": "AT", "2661886": "SE", "3144096": "NO", "2623032": "DK", "660013": "FI", "798544": "PL",
    "3077311": "CZ", "719819": "HU", "798549": "RO", "390903": "GR", "690791": "UA", "298795": "TR",
    "294640": "IL", "290557": "AE", "102358": "SA", "289688": "QA", "285570": "KW", "357994": "EG",
    "953987": "ZA", "2328926": "NG", "192950": "KE", "2542007": "MA", "1269750": "IN", "1168579": "PK",
    "1210997": "BD", "1643084": "ID", "1733045": "MY", "1880251": "SG", "1605651": "TH", "1562822": "VN",
    "1694008": "PH", "1861060": "JP", "1835841": "KR", "1668284": "TW", "1819730": "HK", "2077456": "AU",
    "2186224": "NZ",
}  # fmt: skip
COUNTRY_OUT = {v: k for k, v in COUNTRY_IDS.items()}
# AUDIENCE report dimension per warehouse breakdown.
AUDIENCE_DIMENSIONS = {"age": "age", "gender": "gender", "country": "country_code", "placement": "placement"}

OPERATION = {"ENABLE": "ACTIVE", "DISABLE": "PAUSED"}
LEVELS = {"campaign": "campaign", "adset": "adgroup", "ad": "ad"}
FIELDS = {
    "campaign": [
        "campaign_id", "campaign_name", "objective_type", "budget", "budget_mode",
        "operation_status", "secondary_status", "modify_time",
    ],
    "adgroup": [
        "adgroup_id", "campaign_id", "adgroup_name", "operation_status", "secondary_status", "budget",
        "budget_mode", "bid_type", "bid_price", "optimization_goal", "placement_type", "placements",
        "age_groups", "gender", "location_ids", "audience_ids", "schedule_end_time", "modify_time",
    ],
    "ad": [
        "ad_id", "adgroup_id", "campaign_id", "ad_name", "operation_status", "secondary_status",
        "modify_time",
    ],
    "creative": ["ad_id", "ad_name", "ad_text", "image_ids", "call_to_action", "landing_page_url"],
}  # fmt: skip


class TikTokConfig(BaseModel):
    base_url: str = Field(
        default="https://business-api.tiktok.com/open_api/v1.3", description="API root including /v1.3"
    )
    access_token: str = Field(min_length=1)
    app_id: str | None = Field(default=None, description="the app's id, for the advertiser list")
    secret: str | None = Field(default=None, description="the app's secret, for the advertiser list")
    advertiser_ids: list[str] = Field(
        default_factory=list, description="advertiser ids; empty = every advertiser of the token"
    )
    report_window_days: int = Field(default=30, ge=1, le=30)
    page_size: int = Field(default=1000, ge=1, le=1000)
    max_qps: float = Field(default=10.0, gt=0, description="calls per second (TikTok's tiers: unconfirmed)")
    throttled_share: float = Field(
        default=0.25, gt=0, le=1, description="share of max_qps used for a while after a 40100"
    )
    throttled_seconds: float = Field(default=60.0, ge=0, description="how long calls stay slowed")
    # Ad group and ad creation settings the warehouse does not model.
    optimization_goal: str = "CLICK"
    billing_event: str = "CPC"
    identity_type: str | None = None
    identity_id: str | None = None
    display_name: str | None = None

    @model_validator(mode="after")
    def _can_list_advertisers(self) -> TikTokConfig:
        if not self.advertiser_ids and not (self.app_id and self.secret):
            raise ValueError("give advertiser_ids, or app_id and secret to list the token's advertisers")
        return self


class TikTokPacer:
    """TikTok sends no usage headers: calls are spaced to `max_qps`, and to a share of it for a while
    after each 40100 the platform answers."""

    def __init__(
        self,
        *,
        max_qps: float,
        throttled_share: float,
        throttled_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = 1.0 / max_qps
        self.share = throttled_share
        self.throttled_seconds = throttled_seconds
        self.clock = clock
        self.next_at = 0.0
        self.slow_until = 0.0
        self.throttles = 0

    def delay(self) -> float:
        now = self.clock()
        interval = self.interval / self.share if now < self.slow_until else self.interval
        start = max(now, self.next_at)
        self.next_at = start + interval
        return start - now

    def observe(self, response: httpx.Response) -> None:
        return None  # the signal is in the body: see `throttled`

    def throttled(self) -> None:
        self.throttles += 1
        self.slow_until = self.clock() + self.throttled_seconds


def parse_envelope(response: httpx.Response) -> dict[str, Any]:
    """TikTok's envelope -> its `data`, or the typed error its `code` stands for."""
    status = response.status_code
    try:
        body = json.loads(response.content, parse_float=Decimal)
    except ValueError:
        if status >= 500:
            raise TransientError(f"HTTP {status}", platform=PLATFORM, status=status) from None
        raise MalformedResponseError(
            f"HTTP {status} body is not JSON (or was cut short)", platform=PLATFORM, status=status
        ) from None
    if not isinstance(body, dict) or not isinstance(body.get("code"), int):
        if status >= 500:
            raise TransientError(f"HTTP {status}", platform=PLATFORM, status=status)
        raise MalformedResponseError(
            "expected TikTok's envelope with a code", platform=PLATFORM, status=status
        )
    code, message = body["code"], str(body.get("message") or "unknown error")
    kw: dict[str, Any] = {
        "platform": PLATFORM,
        "status": status,
        "code": code,
        "request_id": body.get("request_id"),
    }
    if code == 0 and status < 400:
        data = body.get("data")
        if not isinstance(data, dict):
            raise MalformedResponseError("envelope without a data object", **kw)
        return data
    if code in AUTH_CODES:
        raise AuthError(f"access token rejected: {message} (code {code})", **kw)
    if code == RATE_LIMIT_CODE or status == 429:
        raise RateLimitedError(message, retry_after=1.0, **kw)
    if 50000 <= code < 60000 or status >= 500:
        raise TransientError(f"{message} (code {code})", **kw)
    raise BadRequestError(f"{message} (code {code})", **kw)


def _without_secret(sink: ResponseSink | None) -> ResponseSink | None:
    """The advertiser list takes the app secret in its query string: keep it out of the lake."""
    if sink is None:
        return None

    def write(**record: Any) -> None:
        record["url"] = re.sub(r"([?&]secret=)[^&]+", r"\1***", record["url"])
        sink(**record)

    return write  # type: ignore[return-value]


def _wire(micros: int, currency: str) -> int | float:
    """Micros as TikTok's decimal major units (a JSON number), refusing amounts the currency cannot hold.

    JPY goes as an integer; other currencies as the float whose shortest repr is exactly the decimal
    (checked), so the JSON text on the wire is the exact amount.
    """
    try:
        micros_to_minor(micros, currency)
        amount = micros_to_decimal(micros, currency)
    except MoneyError as exc:
        raise BadRequestError(str(exc), platform=PLATFORM) from None
    if amount == amount.to_integral_value():
        return int(amount)
    number = float(amount)
    if Decimal(repr(number)) != amount:
        raise BadRequestError(
            f"{amount} {currency} cannot be sent exactly as a JSON number", platform=PLATFORM
        )
    return number


def _encode(params: dict[str, Any]) -> dict[str, Any]:
    """GET parameters as TikTok takes them: lists and objects JSON-encoded, booleans as true/false."""
    return {
        k: json.dumps(v, separators=(",", ":")) if isinstance(v, dict | list | bool) else v
        for k, v in params.items()
        if v is not None
    }


class TikTokAdapter:
    platform = PLATFORM

    def __init__(
        self,
        config: TikTokConfig,
        *,
        client: httpx.AsyncClient | None = None,
        sink: ResponseSink | None = None,
        retry: RetryPolicy | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        self.config = config
        self.client = client or httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=10.0))
        self.pacer = TikTokPacer(
            max_qps=config.max_qps,
            throttled_share=config.throttled_share,
            throttled_seconds=config.throttled_seconds,
        )
        kwargs: dict[str, Any] = {"sleep": sleep} if sleep else {}
        self.transport = Transport(
            platform=PLATFORM,
            client=self.client,
            parse=self._parse,
            pacer=self.pacer,
            retry=retry,
            sink=_without_secret(sink),
            **kwargs,
        )
        self.root = config.base_url.rstrip("/")

    async def aclose(self) -> None:
        await self.client.aclose()

    # -- plumbing -------------------------------------------------------------------------------

    def _parse(self, response: httpx.Response) -> dict[str, Any]:
        try:
            return parse_envelope(response)
        except RateLimitedError:
            self.pacer.throttled()
            raise

    @property
    def _headers(self) -> dict[str, str]:
        return {"Access-Token": self.config.access_token}

    async def _get(self, path: str, *, account: str, stream: str, **params: Any) -> dict[str, Any]:
        return await self.transport.call(  # type: ignore[no-any-return]
            "GET",
            f"{self.root}/{path}/",
            account=account,
            stream=stream,
            params=_encode(params),
            headers=self._headers,
        )

    async def _post(self, path: str, *, account: str, stream: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self.transport.call(  # type: ignore[no-any-return]
            "POST", f"{self.root}/{path}/", account=account, stream=stream, json=body, headers=self._headers
        )

    async def _pages(self, path: str, *, account: str, stream: str, **params: Any) -> list[dict[str, Any]]:
        """Every row of a list: pages from 1 until `page_info.total_page` (0 when there are no rows)."""
        rows: list[dict[str, Any]] = []
        page = 1
        while True:
            data = await self._get(
                path, account=account, stream=stream, page=page, page_size=self.config.page_size, **params
            )
            items, info = data.get("list"), data.get("page_info")
            if not isinstance(items, list) or not isinstance(info, dict):
                raise MalformedResponseError(f"{stream}: page without list and page_info", platform=PLATFORM)
            rows.extend(r for r in items if isinstance(r, dict))
            total = info.get("total_page")
            if not isinstance(total, int):
                raise MalformedResponseError(f"{stream}: page_info without total_page", platform=PLATFORM)
            if page >= total:
                return rows
            page += 1

    # -- entities -------------------------------------------------------------------------------

    async def accounts(self) -> list[AccountRecord]:
        ids = list(self.config.advertiser_ids)
        if not ids:
            data = await self._get(
                "oauth2/advertiser/get",
                account="token",
                stream="advertisers",
                app_id=self.config.app_id,
                secret=self.config.secret,
            )
            listed = data.get("list")
            if not isinstance(listed, list):
                raise MalformedResponseError("advertiser list without a list", platform=PLATFORM)
            ids = [str(r["advertiser_id"]) for r in listed if isinstance(r, dict) and "advertiser_id" in r]
        out: list[AccountRecord] = []
        for start in range(0, len(ids), 100):
            data = await self._get(
                "advertiser/info",
                account="token",
                stream="accounts",
                advertiser_ids=ids[start : start + 100],
                fields=["advertiser_id", "name", "currency", "timezone", "display_timezone", "status"],
            )
            out.extend(_lake_accounts({"code": 0, "data": data}))
        return out

    async def _entities(self, account: AccountRecord, stream: str, level: str, fields: str) -> Batch[Any]:
        rows = await self._pages(
            f"{level}/get",
            account=account.platform_id,
            stream=stream,
            advertiser_id=account.platform_id,
            fields=FIELDS[fields],
            filtering={"secondary_status": f"{level.upper()}_STATUS_ALL"},
        )
        return normalise(stream, account, rows)

    async def campaigns(self, account: AccountRecord) -> Batch[CampaignRecord]:
        return await self._entities(account, "campaigns", "campaign", "campaign")

    async def adsets(self, account: AccountRecord) -> Batch[AdSetRecord]:
        return await self._entities(account, "adsets", "adgroup", "adgroup")

    async def ads(self, account: AccountRecord) -> Batch[AdRecord]:
        return await self._entities(account, "ads", "ad", "ad")

    async def creatives(self, account: AccountRecord) -> Batch[CreativeRecord]:
        return await self._entities(account, "creatives", "ad", "creative")

    async def audiences(self, account: AccountRecord) -> Batch[AudienceRecord]:
        rows = await self._pages(
            "dmp/custom_audience/list",
            account=account.platform_id,
            stream="audiences",
            advertiser_id=account.platform_id,
        )
        return normalise("audiences", account, rows)

    # -- reports --------------------------------------------------------------------------------

    def _windows(self, since: dt.date, until: dt.date) -> list[tuple[dt.date, dt.date]]:
        out, start = [], since
        while start <= until:
            end = min(until, start + dt.timedelta(days=self.config.report_window_days - 1))
            out.append((start, end))
            start = end + dt.timedelta(days=1)
        return out

    async def _report(
        self,
        account: AccountRecord,
        stream: str,
        since: dt.date,
        until: dt.date,
        *,
        report_type: str,
        dimensions: list[str],
        metrics: list[str],
    ) -> list[dict[str, Any]]:
        """One account-level AUCTION_AD query per window, paged 1000 rows at a time."""
        rows: list[dict[str, Any]] = []
        for start, end in self._windows(since, until):
            rows.extend(
                await self._pages(
                    "report/integrated/get",
                    account=account.platform_id,
                    stream=stream,
                    advertiser_id=account.platform_id,
                    service_type="AUCTION",
                    report_type=report_type,
                    data_level="AUCTION_AD",
                    dimensions=dimensions,
                    metrics=metrics,
                    start_date=start.isoformat(),
                    end_date=end.isoformat(),
                )
            )
        return rows

    async def daily_metrics(self, account: AccountRecord, since: dt.date, until: dt.date) -> Batch[MetricRow]:
        rows = await self._report(
            account,
            "insights",
            since,
            until,
            report_type="BASIC",
            dimensions=["ad_id", "stat_time_day"],
            metrics=METRICS,
        )
        return normalise("insights", account, rows)

    async def segment_metrics(
        self, account: AccountRecord, since: dt.date, until: dt.date, breakdown: str
    ) -> Batch[SegmentMetricRow]:
        if breakdown not in AUDIENCE_DIMENSIONS:
            raise ValueError(f"unknown breakdown {breakdown!r}; known: {sorted(AUDIENCE_DIMENSIONS)}")
        stream = f"insights_{breakdown}"
        rows = await self._report(
            account,
            stream,
            since,
            until,
            report_type="AUDIENCE",
            dimensions=["ad_id", "stat_time_day", AUDIENCE_DIMENSIONS[breakdown]],
            metrics=METRICS,
        )
        return normalise(stream, account, rows)

    async def hourly_metrics(self, account: AccountRecord, day: dt.date) -> Batch[HourlyRow]:
        rows = await self._report(
            account,
            "hourly",
            day,
            day,
            report_type="BASIC",
            dimensions=["ad_id", "stat_time_hour"],
            metrics=HOURLY_METRICS,
        )
        return normalise("hourly", account, rows)

    # -- writes: each reads the entity before and after, so the caller sees what really changed ---------

    async def _state(self, account: AccountRecord, level: str, platform_id: str) -> dict[str, Any]:
        """One campaign / ad group / ad as TikTok reports it (deleted ones included)."""
        data = await self._get(
            f"{level}/get",
            account=account.platform_id,
            stream=f"write_{level}",
            advertiser_id=account.platform_id,
            fields=FIELDS[level],
            filtering={f"{level}_ids": [platform_id], "secondary_status": f"{level.upper()}_STATUS_ALL"},
        )
        rows = [
            r
            for r in data.get("list") or []
            if isinstance(r, dict) and str(r.get(f"{level}_id")) == platform_id
        ]
        if not rows:
            raise BadRequestError(
                f"{level} {platform_id} not found in advertiser {account.platform_id}", platform=PLATFORM
            )
        return rows[0]

    async def _write(
        self, account: AccountRecord, level: str, platform_id: str, path: str, body: dict[str, Any]
    ) -> WriteResult:
        before = await self._state(account, level, platform_id)
        await self._post(
            path,
            account=account.platform_id,
            stream=f"write_{level}",
            body={"advertiser_id": account.platform_id, **body},
        )
        after = await self._state(account, level, platform_id)
        return WriteResult(entity=_entity(level), platform_id=platform_id, before=before, after=after)

    async def set_budget(
        self,
        account: AccountRecord,
        *,
        level: Literal["campaign", "adset"],
        platform_id: str,
        daily_micros: int | None = None,
        lifetime_micros: int | None = None,
    ) -> WriteResult:
        if (daily_micros is None) == (lifetime_micros is None):
            raise ValueError("set either a daily or a lifetime budget")
        tiktok_level = LEVELS[level]
        current = await self._state(account, tiktok_level, platform_id)
        mode = current.get("budget_mode")
        wanted = "BUDGET_MODE_DAY" if daily_micros is not None else "BUDGET_MODE_TOTAL"
        daily_modes = ("BUDGET_MODE_DAY", "BUDGET_MODE_DYNAMIC_DAILY_BUDGET")
        kind = "daily" if wanted == "BUDGET_MODE_DAY" else "lifetime"
        if (mode in daily_modes) != (wanted == "BUDGET_MODE_DAY") or mode == "BUDGET_MODE_INFINITE":
            raise BadRequestError(
                f"{tiktok_level} {platform_id} has budget_mode {mode}; TikTok does not change a "
                f"budget's mode, so a {kind} budget cannot be set on it",
                platform=PLATFORM,
            )
        amount = _wire(daily_micros if daily_micros is not None else lifetime_micros or 0, account.currency)
        return await self._write(
            account,
            tiktok_level,
            platform_id,
            f"{tiktok_level}/update",
            {f"{tiktok_level}_id": platform_id, "budget": amount},
        )

    async def set_bid(
        self, account: AccountRecord, adset_platform_id: str, bid_micros: int | None
    ) -> WriteResult:
        body: dict[str, Any] = (
            {"bid_type": "BID_TYPE_NO_BID"}
            if bid_micros is None
            else {"bid_type": "BID_TYPE_CUSTOM", "bid_price": _wire(bid_micros, account.currency)}
        )
        return await self._write(
            account, "adgroup", adset_platform_id, "adgroup/update", {"adgroup_id": adset_platform_id, **body}
        )

    async def set_targeting(
        self, account: AccountRecord, adset_platform_id: str, targeting: TargetingSpec
    ) -> WriteResult:
        """Ages, gender and locations always; placements and audiences only when they change (TikTok may
        refuse those on an existing ad group: its message then says so). No countries = keep the locations."""
        current = await self._state(account, "adgroup", adset_platform_id)
        have = _targeting(current)
        body: dict[str, Any] = {
            "adgroup_id": adset_platform_id,
            **_tiktok_targeting(targeting, creating=False),
        }
        if sorted(targeting.placements) != sorted(have.placements):
            body.update(_placements(targeting))
        if sorted(targeting.audience_ids) != sorted(have.audience_ids):
            body["audience_ids"] = list(targeting.audience_ids)
        return await self._write(account, "adgroup", adset_platform_id, "adgroup/update", body)

    async def set_status(
        self, account: AccountRecord, *, level: Level, platform_id: str, status: Literal["ACTIVE", "PAUSED"]
    ) -> WriteResult:
        tiktok_level = LEVELS[level]
        return await self._write(
            account,
            tiktok_level,
            platform_id,
            f"{tiktok_level}/status/update",
            {
                f"{tiktok_level}_ids": [platform_id],
                "operation_status": "ENABLE" if status == "ACTIVE" else "DISABLE",
            },
        )

    async def create_adset(self, account: AccountRecord, spec: NewAdSet) -> WriteResult:
        if not spec.targeting.countries:
            raise BadRequestError(
                "a TikTok ad group needs location_ids: give targeting.countries", platform=PLATFORM
            )
        body: dict[str, Any] = {
            "advertiser_id": account.platform_id,
            "campaign_id": spec.campaign_platform_id,
            "adgroup_name": spec.name,
            "promotion_type": "WEBSITE",
            "schedule_type": "SCHEDULE_FROM_NOW",
            "schedule_start_time": dt.datetime.now(dt.UTC).strftime(TIME_FORMAT),
            "optimization_goal": self.config.optimization_goal,
            "billing_event": self.config.billing_event,
            "pacing": "PACING_MODE_SMOOTH",
            "operation_status": "ENABLE" if spec.status == "ACTIVE" else "DISABLE",
            **_tiktok_targeting(spec.targeting, creating=True),
            **_placements(spec.targeting),
        }
        if spec.targeting.audience_ids:
            body["audience_ids"] = list(spec.targeting.audience_ids)
        if spec.daily_budget_micros is not None:
            body.update(
                budget_mode="BUDGET_MODE_DAY", budget=_wire(spec.daily_budget_micros, account.currency)
            )
        if spec.bid_micros is not None:
            body.update(bid_type="BID_TYPE_CUSTOM", bid_price=_wire(spec.bid_micros, account.currency))
        else:
            body["bid_type"] = "BID_TYPE_NO_BID"
        data = await self._post(
            "adgroup/create", account=account.platform_id, stream="write_adgroup", body=body
        )
        new_id = str(data.get("adgroup_id") or "")
        if not new_id:
            raise MalformedResponseError("adgroup/create answered without an adgroup_id", platform=PLATFORM)
        after = await self._state(account, "adgroup", new_id)
        return WriteResult(entity="adset", platform_id=new_id, before=None, after=after)

    async def create_ad(self, account: AccountRecord, spec: NewAd) -> WriteResult:
        """An ad from text, an uploaded image id and a landing page; `creative_platform_id` (an ad id, see
        the module's note) copies that ad's content, with the spec's own fields taking precedence."""
        base: dict[str, Any] = {}
        if spec.creative_platform_id:
            data = await self._get(
                "ad/get",
                account=account.platform_id,
                stream="write_ad",
                advertiser_id=account.platform_id,
                fields=FIELDS["creative"],
                filtering={"ad_ids": [spec.creative_platform_id], "secondary_status": "AD_STATUS_ALL"},
            )
            found = [r for r in data.get("list") or [] if isinstance(r, dict)]
            if not found:
                raise BadRequestError(
                    f"creative (ad) {spec.creative_platform_id} not found", platform=PLATFORM
                )
            base = found[0]
        text = spec.headline or spec.body or base.get("ad_text")
        images = [spec.image_hash] if spec.image_hash else list(base.get("image_ids") or [])
        link = spec.link or base.get("landing_page_url")
        if not (text and images and link):
            raise BadRequestError(
                "a TikTok ad needs ad_text (headline or body), an uploaded image id and a landing page link",
                platform=PLATFORM,
            )
        creative: dict[str, Any] = {
            "ad_name": spec.name,
            "ad_text": text,
            "ad_format": "SINGLE_IMAGE",
            "image_ids": images,
            "call_to_action": spec.call_to_action or base.get("call_to_action") or "SHOP_NOW",
            "landing_page_url": link,
            "operation_status": "ENABLE" if spec.status == "ACTIVE" else "DISABLE",
        }
        for key in ("identity_type", "identity_id", "display_name"):
            if getattr(self.config, key):
                creative[key] = getattr(self.config, key)
        data = await self._post(
            "ad/create",
            account=account.platform_id,
            stream="write_ad",
            body={
                "advertiser_id": account.platform_id,
                "adgroup_id": spec.adset_platform_id,
                "creatives": [creative],
            },
        )
        ids = data.get("ad_ids")
        if not isinstance(ids, list) or not ids:
            raise MalformedResponseError("ad/create answered without ad_ids", platform=PLATFORM)
        new_id = str(ids[0])
        return WriteResult(
            entity="ad", platform_id=new_id, before=None, after=await self._state(account, "ad", new_id)
        )

    async def upload_image(self, account: AccountRecord, name: str, data: bytes) -> WriteResult:
        body = await self.transport.call(
            "POST",
            f"{self.root}/file/image/ad/upload/",
            account=account.platform_id,
            stream="write_image",
            data={
                "advertiser_id": account.platform_id,
                "upload_type": "UPLOAD_BY_FILE",
                "image_signature": hashlib.md5(data).hexdigest(),
                "file_name": name,
            },
            files={"image_file": (name, data)},
            headers=self._headers,
        )
        image_id = body.get("image_id") if isinstance(body, dict) else None
        if not image_id:
            raise MalformedResponseError("image upload answered without an image_id", platform=PLATFORM)
        return WriteResult(entity="image", platform_id=str(image_id), before=None, after=dict(body))


def _entity(level: str) -> str:
    return {"adgroup": "adset"}.get(level, level)


def _tiktok_targeting(targeting: TargetingSpec, *, creating: bool) -> dict[str, Any]:
    """Ages, gender and locations in TikTok's names; an empty list means every value."""
    out: dict[str, Any] = {}
    unknown = [a for a in targeting.ages if a not in AGE_OUT]
    if unknown:
        raise BadRequestError(f"unknown age bands {unknown}; known: {list(AGE_OUT)}", platform=PLATFORM)
    ages = targeting.ages or list(AGE_OUT)
    if targeting.ages or not creating:
        out["age_groups"] = [name for band in ages for name in AGE_OUT[band]]
    genders = set(targeting.genders)
    if genders - {"male", "female"}:
        raise BadRequestError(f"unknown genders {sorted(genders)}", platform=PLATFORM)
    out["gender"] = (
        "GENDER_UNLIMITED"
        if len(genders) != 1
        else {"male": "GENDER_MALE", "female": "GENDER_FEMALE"}[genders.pop()]
    )
    if targeting.countries:
        out["location_ids"] = [_location_id(c) for c in targeting.countries]
    return out


def _location_id(country: str) -> str:
    if country.startswith("geo:"):
        return country[4:]
    if country not in COUNTRY_OUT:
        raise BadRequestError(f"no TikTok location id known for country {country!r}", platform=PLATFORM)
    return COUNTRY_OUT[country]


def _placements(targeting: TargetingSpec) -> dict[str, Any]:
    if not targeting.placements:
        return {"placement_type": "PLACEMENT_TYPE_AUTOMATIC"}
    unknown = [p for p in targeting.placements if p not in PLACEMENT_OUT]
    if unknown:
        raise BadRequestError(
            f"unknown placements {unknown}; known: {list(PLACEMENT_OUT)}", platform=PLATFORM
        )
    return {
        "placement_type": "PLACEMENT_TYPE_NORMAL",
        "placements": [PLACEMENT_OUT[p] for p in targeting.placements],
    }


# -- normalisation: platform rows -> records (used live and by `adcluster rebuild` from the lake) -------


def build_account(r: dict[str, Any]) -> AccountRecord:
    status = str(r.get("status", ""))
    return AccountRecord(
        platform=PLATFORM,
        platform_id=str(r["advertiser_id"]),
        name=str(r.get("name", "")),
        currency=str(r["currency"]),
        timezone=str(r.get("display_timezone") or r["timezone"]),
        status="ACTIVE" if status == "STATUS_ENABLE" else status,
    )


def _stamp(value: Any) -> dt.datetime | None:
    if not value:
        return None
    return dt.datetime.strptime(str(value), TIME_FORMAT).replace(tzinfo=dt.UTC)


def _status(r: dict[str, Any]) -> str:
    if str(r.get("secondary_status", "")).endswith("_DELETE"):
        return "DELETED"
    op = r["operation_status"]
    if op not in OPERATION:
        raise ValueError(f"unknown operation_status {op!r}")
    return OPERATION[op]


def _money(value: Any, currency: str) -> int | None:
    """A decimal budget or bid (a JSON number) as micros; 0 and absent are None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise TypeError(f"{value!r} is not an amount")
    return decimal_to_micros(value, currency) or None


def _budgets(r: dict[str, Any], currency: str) -> tuple[int | None, int | None]:
    mode = r.get("budget_mode") or "BUDGET_MODE_INFINITE"
    amount = _money(r.get("budget"), currency)
    if mode in ("BUDGET_MODE_DAY", "BUDGET_MODE_DYNAMIC_DAILY_BUDGET"):
        return amount, None
    if mode == "BUDGET_MODE_TOTAL":
        return None, amount
    if mode == "BUDGET_MODE_INFINITE":
        return None, None
    raise ValueError(f"unknown budget_mode {mode!r}")


def _campaign(r: dict[str, Any], a: AccountRecord) -> CampaignRecord:
    daily, lifetime = _budgets(r, a.currency)
    return CampaignRecord(
        platform_id=str(r["campaign_id"]),
        name=str(r["campaign_name"]),
        status=_status(r),
        effective_status=str(r["secondary_status"]),
        objective=r.get("objective_type"),
        daily_budget_micros=daily,
        lifetime_budget_micros=lifetime,
        updated_at=_stamp(r.get("modify_time")),
    )


def _names(values: Any, field: str) -> list[str]:
    if values is None:
        return []
    if not isinstance(values, list):
        raise TypeError(f"{field} must be a list")
    return [str(v) for v in values]


def _targeting(r: dict[str, Any]) -> TargetingSpec:
    ages: list[str] = []
    for name in _names(r.get("age_groups"), "age_groups"):
        if name in AGES_UNMODELLED:
            continue
        if name not in AGES:
            raise ValueError(f"unknown age group {name!r}")
        if AGES[name] not in ages:
            ages.append(AGES[name])
    gender = r.get("gender") or "GENDER_UNLIMITED"
    if gender not in GENDERS:
        raise ValueError(f"unknown gender {gender!r}")
    placements: list[str] = []
    if r.get("placement_type", "PLACEMENT_TYPE_NORMAL") != "PLACEMENT_TYPE_AUTOMATIC":
        for name in _names(r.get("placements"), "placements"):
            if name in PLACEMENTS_UNMODELLED:
                continue
            if name not in PLACEMENTS:
                raise ValueError(f"unknown placement {name!r}")
            placements.append(PLACEMENTS[name])
    countries = [COUNTRY_IDS.get(i, f"geo:{i}") for i in _names(r.get("location_ids"), "location_ids")]
    order = list(AGE_OUT)
    return TargetingSpec(
        ages=[] if len(ages) == len(order) else sorted(ages, key=order.index),
        genders=GENDERS[gender],
        countries=countries,
        placements=[] if set(placements) == set(PLACEMENT_OUT) else placements,
        audience_ids=_names(r.get("audience_ids"), "audience_ids"),
    )


def _adset(r: dict[str, Any], a: AccountRecord) -> AdSetRecord:
    daily, lifetime = _budgets(r, a.currency)
    bid_type = r.get("bid_type")
    return AdSetRecord(
        platform_id=str(r["adgroup_id"]),
        campaign_platform_id=str(r["campaign_id"]),
        name=str(r["adgroup_name"]),
        status=_status(r),
        effective_status=str(r["secondary_status"]),
        daily_budget_micros=daily,
        lifetime_budget_micros=lifetime,
        bid_micros=None if bid_type == "BID_TYPE_NO_BID" else _money(r.get("bid_price"), a.currency),
        bid_strategy=bid_type,
        optimization_goal=r.get("optimization_goal"),
        targeting=_targeting(r),
        end_time=_stamp(r.get("schedule_end_time")),
        updated_at=_stamp(r.get("modify_time")),
    )


def _ad(r: dict[str, Any], a: AccountRecord) -> AdRecord:
    return AdRecord(
        platform_id=str(r["ad_id"]),
        adset_platform_id=str(r["adgroup_id"]),
        campaign_platform_id=str(r["campaign_id"]),
        name=str(r["ad_name"]),
        status=_status(r),
        effective_status=str(r["secondary_status"]),
        creative_platform_id=str(r["ad_id"]),  # the ad's own content (see the module's note)
        updated_at=_stamp(r.get("modify_time")),
    )


def _creative(r: dict[str, Any], a: AccountRecord) -> CreativeRecord:
    images = _names(r.get("image_ids"), "image_ids")
    return CreativeRecord(
        platform_id=str(r["ad_id"]),
        name=r.get("ad_name"),
        headline=r.get("ad_text"),
        image_hash=images[0] if images else None,
        call_to_action=r.get("call_to_action"),
        link=r.get("landing_page_url"),
    )


def _audience(r: dict[str, Any], a: AccountRecord) -> AudienceRecord:
    size = r.get("cover_num")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int)):
        raise TypeError(f"cover_num {size!r} is not an integer")
    return AudienceRecord(
        platform_id=str(r.get("custom_audience_id") or r["audience_id"]),
        name=str(r["name"]),
        subtype=r.get("audience_type"),
        size_lower=size,
        size_upper=size,
    )


def _count(m: dict[str, Any], name: str) -> int:
    value = m.get(name, "-")
    if value in ("-", None, ""):
        return 0
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise TypeError(f"metric {name} {value!r} is not a count")
    return int(value)


def _amount(m: dict[str, Any], name: str, currency: str) -> int:
    value = m.get(name, "-")
    if value in ("-", None, ""):
        return 0
    if isinstance(value, bool):
        raise TypeError(f"metric {name} {value!r} is not an amount")
    return decimal_to_micros(value, currency)


def _parts(r: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    dims, metrics = r["dimensions"], r["metrics"]
    if not isinstance(dims, dict) or not isinstance(metrics, dict):
        raise TypeError("a report row needs dimensions and metrics objects")
    return dims, metrics


def _day(value: Any) -> dt.date:
    return dt.date.fromisoformat(str(value)[:10])


def _values(m: dict[str, Any], currency: str) -> dict[str, int]:
    return {
        "impressions": _count(m, "impressions"),
        "clicks": _count(m, "clicks"),
        "spend_micros": _amount(m, "spend", currency),
        "conversions": _count(m, "complete_payment"),
        "value_micros": _amount(m, "total_complete_payment_rate", currency),
    }


def _daily(r: dict[str, Any], a: AccountRecord) -> MetricRow:
    dims, m = _parts(r)
    return MetricRow(
        ad_platform_id=str(dims["ad_id"]), day=_day(dims["stat_time_day"]), **_values(m, a.currency)
    )


def _segment_value(breakdown: str, raw: Any) -> str:
    value = str(raw)
    if breakdown == "age":
        if value not in AGES:
            raise ValueError(f"unknown age {value!r}")
        return AGES[value]
    if breakdown == "gender":
        if value not in REPORT_GENDERS:
            raise ValueError(f"unknown gender {value!r}")
        return REPORT_GENDERS[value]
    if breakdown == "placement":
        if value not in PLACEMENTS:
            raise ValueError(f"unknown placement {value!r}")
        return PLACEMENTS[value]
    if not re.fullmatch(r"[A-Z]{2}", value):
        raise ValueError(f"country_code {value!r} is not ISO 3166 alpha-2")
    return value


def _segment(breakdown: str) -> Callable[[dict[str, Any], AccountRecord], SegmentMetricRow]:
    def build(r: dict[str, Any], a: AccountRecord) -> SegmentMetricRow:
        dims, m = _parts(r)
        return SegmentMetricRow(
            ad_platform_id=str(dims["ad_id"]),
            day=_day(dims["stat_time_day"]),
            breakdown=breakdown,
            **{breakdown: _segment_value(breakdown, dims[AUDIENCE_DIMENSIONS[breakdown]])},
            **_values(m, a.currency),
        )

    return build


def _hourly(r: dict[str, Any], a: AccountRecord) -> HourlyRow:
    dims, m = _parts(r)
    stamp = dt.datetime.strptime(str(dims["stat_time_hour"]), TIME_FORMAT)
    return HourlyRow(
        ad_platform_id=str(dims["ad_id"]),
        day=stamp.date(),
        hour=stamp.hour,
        impressions=_count(m, "impressions"),
        clicks=_count(m, "clicks"),
        spend_micros=_amount(m, "spend", a.currency),
    )


NORMALISERS: dict[str, Callable[[dict[str, Any], AccountRecord], Any]] = {
    "campaigns": _campaign,
    "adsets": _adset,
    "ads": _ad,
    "creatives": _creative,
    "audiences": _audience,
    "insights": _daily,
    "hourly": _hourly,
    **{f"insights_{b}": _segment(b) for b in AUDIENCE_DIMENSIONS},
}


def _merge_segments(items: list[Any]) -> list[Any]:
    """Two TikTok values of one warehouse value (AGE_45_54 and AGE_55_100 are both 45+) become one row."""
    merged: dict[tuple[Any, ...], SegmentMetricRow] = {}
    for row in items:
        key = (row.ad_platform_id, row.day, row.age, row.gender, row.country, row.placement)
        if key in merged:
            prev = merged[key]
            sums = {
                f: getattr(prev, f) + getattr(row, f)
                for f in ("impressions", "clicks", "spend_micros", "conversions", "value_micros")
            }
            merged[key] = prev.model_copy(update=sums)
        else:
            merged[key] = row
    return list(merged.values())


def normalise(stream: str, account: AccountRecord, rows: list[dict[str, Any]]) -> Batch[Any]:
    """Records from a stream's rows; rows that do not fit are reported, the rest go on."""
    build = NORMALISERS[stream]
    batch: Batch[Any] = Batch()
    for i, row in enumerate(rows):
        try:
            batch.items.append(build(row, account))
        except (KeyError, TypeError, ValueError, ValidationError, MoneyError) as exc:
            batch.problems.append(
                RowProblem(
                    platform=PLATFORM,
                    account=account.platform_id,
                    stream=stream,
                    row=i,
                    error=f"{type(exc).__name__}: {exc}"[:500],
                )
            )
    if stream.startswith("insights_"):
        batch.items = _merge_segments(batch.items)
    for p in batch.problems:
        logger.warning("tiktok %s %s row %d skipped: %s", p.account, p.stream, p.row, p.error)
    return batch


def _data(body: Any) -> dict[str, Any]:
    if isinstance(body, dict) and body.get("code") == 0 and isinstance(body.get("data"), dict):
        return body["data"]
    return {}


def _lake_accounts(body: Any) -> list[AccountRecord]:
    """An `advertiser/info` envelope -> accounts (rows that do not fit are logged and left out)."""
    out = []
    for r in _data(body).get("list") or []:
        if not isinstance(r, dict):
            continue
        try:
            out.append(build_account(r))
        except (KeyError, ValidationError) as exc:
            logger.warning("tiktok advertiser %s skipped: %s", r.get("advertiser_id"), exc)
    return out


def _lake_rows(stream: str, body: Any) -> list[dict[str, Any]]:
    rows = _data(body).get("list")
    return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []


CODEC = PlatformCodec(accounts=_lake_accounts, rows=_lake_rows, normalise=normalise, streams=set(NORMALISERS))


def check_targeting(targeting: TargetingSpec) -> None:
    """Raise BadRequestError when TikTok cannot express `targeting` (known bands, locations, placements)."""
    _tiktok_targeting(targeting, creating=False)
    _placements(targeting)
