"""Meta Marketing API (Graph) adapter: token auth, cursor paging, ad-level insights per account.

Reference: developers.facebook.com/docs/marketing-api (ad-platform-apis.md §1). Budgets arrive in minor
units, spend in major-unit decimal strings; both become micros here, exactly.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from typing import Any, Literal

import httpx
from pydantic import BaseModel, Field, ValidationError

from tools.platforms.base import Batch, Level, NewAd, NewAdSet, PlatformCodec, RowProblem
from tools.platforms.errors import (
    AuthError,
    BadRequestError,
    MalformedResponseError,
    RateLimitedError,
    TransientError,
)
from tools.platforms.money import MoneyError, decimal_to_micros, micros_to_minor, minor_to_micros
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

PLATFORM = "meta"
THROTTLE_CODES = {4, 17, 32, 613} | set(range(80000, 80015))
PURCHASE_ACTIONS = ("offsite_conversion.fb_pixel_purchase", "purchase", "omni_purchase")
ALL_STATUSES = [
    "ACTIVE",
    "PAUSED",
    "DELETED",
    "ARCHIVED",
    "IN_PROCESS",
    "WITH_ISSUES",
    "CAMPAIGN_PAUSED",
    "ADSET_PAUSED",
    "DISAPPROVED",
    "PENDING_REVIEW",
    "PREAPPROVED",
    "PENDING_BILLING_INFO",
]
# Meta's breakdown names for the warehouse's segment dimensions, and their values in its vocabulary.
BREAKDOWNS = {
    "age": ["age"],
    "gender": ["gender"],
    "country": ["country"],
    "placement": ["publisher_platform", "platform_position"],
}
PLACEMENTS = {
    ("facebook", "feed"): "feed",
    ("instagram", "instagram_stories"): "stories",
    ("instagram", "story"): "stories",
    ("audience_network", "an_classic"): "network",
    ("audience_network", "classic"): "network",
}
META_AGES = {(18, 24): "18-24", (25, 34): "25-34", (35, 44): "35-44", (45, 65): "45+"}


class MetaConfig(BaseModel):
    base_url: str = Field(default="https://graph.facebook.com", description="graph host, no version")
    api_version: str = Field(default="v25.0", pattern=r"^v\d+\.\d+$")
    access_token: str = Field(min_length=1)
    app_secret: str | None = None
    account_ids: list[str] = Field(
        default_factory=list, description="act_ ids; empty = every account of the token"
    )
    insights_window_days: int = Field(default=7, ge=1, le=90)
    page_size: int = Field(default=500, ge=1, le=5000)
    page_id: str = Field(default="0", description="the Facebook page new creatives are published from")
    pacing: bool = Field(default=True, description="slow down as Meta's usage headers near the limit")
    slow_at_pct: float = Field(
        default=70.0, ge=1, le=100, description="usage % from which calls are spaced out"
    )
    max_pace_seconds: float = Field(default=20.0, ge=0)


class MetaPacer:
    """Spaces calls out as Meta's usage headers rise, and waits as long as Meta says once they are full."""

    def __init__(self, *, slow_at_pct: float, max_pace_seconds: float) -> None:
        self.slow_at = slow_at_pct
        self.max_pace = max_pace_seconds
        self.usage = 0.0
        self.block_seconds = 0.0

    def delay(self) -> float:
        if self.block_seconds:
            wait, self.block_seconds = self.block_seconds, 0.0
            return wait
        if self.usage < self.slow_at:
            return 0.0
        share = min(1.0, (self.usage - self.slow_at) / max(1e-9, 100.0 - self.slow_at))
        return self.max_pace * share

    def observe(self, response: httpx.Response) -> None:
        pcts: list[float] = []
        regain = 0.0
        for name in (
            "x-app-usage",
            "x-ad-account-usage",
            "x-business-use-case-usage",
            "x-fb-ads-insights-throttle",
        ):
            raw = response.headers.get(name)
            if not raw:
                continue
            try:
                data = json.loads(raw)
            except ValueError:
                continue
            for entry in _usage_entries(data):
                for key in (
                    "call_count",
                    "total_cputime",
                    "total_time",
                    "acc_id_util_pct",
                    "app_id_util_pct",
                ):
                    if isinstance(entry.get(key), int | float):
                        pcts.append(float(entry[key]))
                eta = entry.get("estimated_time_to_regain_access")
                if isinstance(eta, int | float) and eta > 0:
                    regain = max(regain, 60.0 * eta)
                reset = entry.get("reset_time_duration")
                if isinstance(reset, int | float) and entry.get("acc_id_util_pct", 0) >= 100:
                    regain = max(regain, float(reset))
        if pcts:
            self.usage = max(pcts)
        if regain:
            self.block_seconds = regain


def _usage_entries(data: Any) -> list[dict[str, Any]]:
    if isinstance(data, dict) and all(isinstance(v, list) for v in data.values()) and data:
        return [e for v in data.values() for e in v if isinstance(e, dict)]
    return [data] if isinstance(data, dict) else []


class ReduceDataError(BadRequestError):
    """Meta's code 1: the synchronous request asked for too much; ask for less or run a report job."""


def parse_graph(response: httpx.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        raise MalformedResponseError(
            f"HTTP {response.status_code} body is not JSON", platform=PLATFORM, status=response.status_code
        ) from None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        code, message = err.get("code"), str(err.get("message", "unknown error"))
        trace = err.get("fbtrace_id")
        kw = {"platform": PLATFORM, "status": response.status_code, "code": code, "request_id": trace}
        if code in {190, 102}:
            raise AuthError(f"token rejected: {message} (subcode {err.get('error_subcode')})", **kw)
        if code in THROTTLE_CODES:
            raise RateLimitedError(message, retry_after=_retry_after(response), **kw)
        if code == 1 and "reduce the amount of data" in message:
            raise ReduceDataError(message, **kw)
        if err.get("is_transient") or code in (1, 2) or response.status_code >= 500:
            raise TransientError(message, **kw)
        raise BadRequestError(message, **kw)
    if response.status_code >= 500:
        raise TransientError(f"HTTP {response.status_code}", platform=PLATFORM, status=response.status_code)
    if response.status_code >= 400:
        raise BadRequestError(f"HTTP {response.status_code}", platform=PLATFORM, status=response.status_code)
    if not isinstance(body, dict):
        raise MalformedResponseError("expected a JSON object", platform=PLATFORM, status=response.status_code)
    return body


def _retry_after(response: httpx.Response) -> float | None:
    pacer = MetaPacer(slow_at_pct=100, max_pace_seconds=0)
    pacer.observe(response)
    return pacer.block_seconds or 60.0


def _stamp(value: Any) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        return None


def _targeting(spec: dict[str, Any] | None) -> TargetingSpec:
    spec = spec or {}
    lo, hi = int(spec.get("age_min", 18)), int(spec.get("age_max", 65))
    ages = [name for (a, b), name in META_AGES.items() if a <= hi and b >= lo]
    genders = {1: "male", 2: "female"}
    platforms = spec.get("publisher_platforms")
    placements = []
    for (platform, position), name in PLACEMENTS.items():
        field = {
            "facebook": "facebook_positions",
            "instagram": "instagram_positions",
            "audience_network": "audience_network_positions",
        }[platform]
        if (
            (platforms is None or platform in platforms)
            and (spec.get(field) is None or position in spec[field])
            and name not in placements
        ):
            placements.append(name)
    return TargetingSpec(
        ages=[] if len(ages) == len(META_AGES) else ages,
        genders=sorted(genders[g] for g in spec.get("genders", []) if g in genders),
        countries=list((spec.get("geo_locations") or {}).get("countries", [])),
        placements=[] if len(placements) == 3 else placements,
        audience_ids=[str(a["id"]) for a in spec.get("custom_audiences", []) if isinstance(a, dict)],
    )


class MetaAdapter:
    platform = PLATFORM

    def __init__(
        self,
        config: MetaConfig,
        *,
        client: httpx.AsyncClient | None = None,
        sink: ResponseSink | None = None,
        retry: RetryPolicy | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        self.config = config
        self.client = client or httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=10.0))
        self.pacer = MetaPacer(slow_at_pct=config.slow_at_pct, max_pace_seconds=config.max_pace_seconds)
        kwargs: dict[str, Any] = {"sleep": sleep} if sleep else {}
        pacer = self.pacer if config.pacing else None
        self.transport = Transport(
            platform=PLATFORM,
            client=self.client,
            parse=parse_graph,
            pacer=pacer,
            retry=retry,
            sink=sink,
            **kwargs,
        )
        self.root = f"{config.base_url.rstrip('/')}/{config.api_version}"

    async def aclose(self) -> None:
        await self.client.aclose()

    # -- plumbing -------------------------------------------------------------------------------

    def _auth(self, params: dict[str, Any]) -> dict[str, Any]:
        out = {
            k: (
                json.dumps(v, separators=(",", ":"), sort_keys=True)
                if isinstance(v, dict | list | bool)
                else v
            )
            for k, v in params.items()
        }
        out["access_token"] = self.config.access_token
        if self.config.app_secret:
            out["appsecret_proof"] = hmac.new(
                self.config.app_secret.encode(), self.config.access_token.encode(), hashlib.sha256
            ).hexdigest()
        return out

    async def _get(self, path: str, *, account: str, stream: str, **params: Any) -> dict[str, Any]:
        return await self.transport.call(
            "GET",
            f"{self.root}/{path}",
            account=account,
            stream=stream,  # type: ignore[no-any-return]
            params=self._auth(params),
        )

    async def _post(self, path: str, *, account: str, stream: str, **params: Any) -> dict[str, Any]:
        return await self.transport.call(
            "POST",
            f"{self.root}/{path}",
            account=account,
            stream=stream,  # type: ignore[no-any-return]
            data=self._auth(params),
        )

    async def _pages(self, path: str, *, account: str, stream: str, **params: Any) -> list[dict[str, Any]]:
        """Every row of an edge: follow `paging.next` until it is absent (Graph's rule, as the SDK does)."""
        body = await self._get(path, account=account, stream=stream, **params)
        rows: list[dict[str, Any]] = []
        while True:
            data = body.get("data")
            if not isinstance(data, list):
                raise MalformedResponseError(f"{stream}: page without a data list", platform=PLATFORM)
            rows.extend(d for d in data if isinstance(d, dict))
            nxt = (body.get("paging") or {}).get("next")
            if not nxt:
                return rows
            after = (body.get("paging") or {}).get("cursors", {}).get("after")
            if not after:
                raise MalformedResponseError(f"{stream}: next page without a cursor", platform=PLATFORM)
            body = await self._get(path, account=account, stream=stream, **{**params, "after": after})

    # -- entities -------------------------------------------------------------------------------

    async def accounts(self) -> list[AccountRecord]:
        fields = "id,account_id,name,currency,timezone_name,account_status"
        if self.config.account_ids:
            rows = [
                await self._get(
                    a if a.startswith("act_") else f"act_{a}", account=a, stream="accounts", fields=fields
                )
                for a in self.config.account_ids
            ]
        else:
            rows = await self._pages(
                "me/adaccounts", account="me", stream="accounts", fields=fields, limit=self.config.page_size
            )
        return [build_account(r) for r in rows]

    def _act(self, account: AccountRecord) -> str:
        return f"act_{account.platform_id}"

    async def _edge(
        self, account: AccountRecord, stream: str, edge: str, fields: str, *, all_statuses: bool = True
    ) -> Batch[Any]:
        extra: dict[str, Any] = {"effective_status": ALL_STATUSES} if all_statuses else {}
        rows = await self._pages(
            f"{self._act(account)}/{edge}",
            account=account.platform_id,
            stream=stream,
            fields=fields,
            limit=self.config.page_size,
            **extra,
        )
        return normalise(stream, account, rows)

    async def campaigns(self, account: AccountRecord) -> Batch[CampaignRecord]:
        return await self._edge(
            account,
            "campaigns",
            "campaigns",
            "id,name,status,effective_status,objective,daily_budget,lifetime_budget,updated_time",
        )

    async def adsets(self, account: AccountRecord) -> Batch[AdSetRecord]:
        return await self._edge(
            account,
            "adsets",
            "adsets",
            "id,name,campaign_id,status,effective_status,"
            "daily_budget,lifetime_budget,bid_amount,bid_strategy,optimization_goal,targeting,"
            "end_time,updated_time",
        )

    async def ads(self, account: AccountRecord) -> Batch[AdRecord]:
        return await self._edge(
            account,
            "ads",
            "ads",
            "id,name,adset_id,campaign_id,status,effective_status,creative,updated_time",
        )

    async def creatives(self, account: AccountRecord) -> Batch[CreativeRecord]:
        return await self._edge(
            account,
            "creatives",
            "adcreatives",
            "id,name,title,body,image_hash,image_url,call_to_action_type,object_story_spec",
            all_statuses=False,
        )

    async def audiences(self, account: AccountRecord) -> Batch[AudienceRecord]:
        return await self._edge(
            account,
            "audiences",
            "customaudiences",
            "id,name,subtype,approximate_count_lower_bound,approximate_count_upper_bound,adsets",
            all_statuses=False,
        )

    # -- insights -------------------------------------------------------------------------------

    def _windows(self, since: dt.date, until: dt.date) -> list[tuple[dt.date, dt.date]]:
        out, start = [], since
        while start <= until:
            end = min(until, start + dt.timedelta(days=self.config.insights_window_days - 1))
            out.append((start, end))
            start = end + dt.timedelta(days=1)
        return out

    async def _insight_rows(
        self, account: AccountRecord, stream: str, since: dt.date, until: dt.date, **params: Any
    ) -> list[dict[str, Any]]:
        """Ad-level insights window by window; a window Meta finds too big goes to a report run."""
        rows: list[dict[str, Any]] = []
        for start, end in self._windows(since, until):
            query = {
                "level": "ad",
                "time_increment": 1,
                "limit": self.config.page_size,
                "time_range": {"since": start.isoformat(), "until": end.isoformat()},
                **params,
            }
            try:
                rows.extend(
                    await self._pages(
                        f"{self._act(account)}/insights", account=account.platform_id, stream=stream, **query
                    )
                )
            except ReduceDataError:
                rows.extend(await self._report_run(account, stream, query))
        return rows

    async def _report_run(
        self,
        account: AccountRecord,
        stream: str,
        query: dict[str, Any],
        *,
        attempts: int = 4,
        polls: int = 30,
    ) -> list[dict[str, Any]]:
        """An async report run: start, poll until completed, read; failed or stalled runs start again."""
        query = {k: v for k, v in query.items() if k != "limit"}
        for attempt in range(attempts):
            run = await self._post(
                f"{self._act(account)}/insights", account=account.platform_id, stream=stream, **query
            )
            run_id = str(run.get("report_run_id") or run.get("id") or "")
            if not run_id:
                raise MalformedResponseError("report run without an id", platform=PLATFORM)
            for poll in range(polls):
                status = await self._get(run_id, account=account.platform_id, stream=f"{stream}_run")
                state = status.get("async_status")
                if state == "Job Completed" and status.get("async_percent_completion") == 100:
                    return await self._pages(
                        f"{run_id}/insights",
                        account=account.platform_id,
                        stream=stream,
                        limit=self.config.page_size,
                    )
                if state in ("Job Failed", "Job Skipped"):
                    break
                await self.transport.pause(min(30.0, 0.5 * 2 ** min(poll, 6)))
            logger.warning(
                "meta report run %s for %s did not complete (attempt %d)",
                run_id,
                account.platform_id,
                attempt + 1,
            )
        raise TransientError(f"report runs for {stream} kept failing", platform=PLATFORM)

    async def daily_metrics(self, account: AccountRecord, since: dt.date, until: dt.date) -> Batch[MetricRow]:
        rows = await self._insight_rows(account, "insights", since, until, fields=INSIGHT_FIELDS)
        return normalise("insights", account, rows)

    async def segment_metrics(
        self, account: AccountRecord, since: dt.date, until: dt.date, breakdown: str
    ) -> Batch[SegmentMetricRow]:
        stream = f"insights_{breakdown}"
        rows = await self._insight_rows(
            account, stream, since, until, breakdowns=",".join(BREAKDOWNS[breakdown]), fields=INSIGHT_FIELDS
        )
        return normalise(stream, account, rows)

    async def hourly_metrics(self, account: AccountRecord, day: dt.date) -> Batch[HourlyRow]:
        rows = await self._insight_rows(
            account,
            "hourly",
            day,
            day,
            breakdowns="hourly_stats_aggregated_by_advertiser_time_zone",
            fields="ad_id,impressions,inline_link_clicks,spend",
        )
        return normalise("hourly", account, rows)

    # -- writes: each reads the entity before and after, so the caller sees what really changed ---------

    async def _state(self, account: AccountRecord, level: str, platform_id: str) -> dict[str, Any]:
        return await self._get(
            platform_id, account=account.platform_id, stream=f"write_{level}", fields=STATE_FIELDS[level]
        )

    async def _update(
        self, account: AccountRecord, level: str, platform_id: str, **params: Any
    ) -> WriteResult:
        before = await self._state(account, level, platform_id)
        body = await self._post(platform_id, account=account.platform_id, stream=f"write_{level}", **params)
        if body.get("success") is not True:
            raise BadRequestError(
                f"Meta did not confirm the update of {level} {platform_id}", platform=PLATFORM
            )
        after = await self._state(account, level, platform_id)
        return WriteResult(entity=level, platform_id=platform_id, before=before, after=after)

    async def set_budget(
        self,
        account: AccountRecord,
        *,
        level: Literal["campaign", "adset"],
        platform_id: str,
        daily_micros: int | None = None,
        lifetime_micros: int | None = None,
    ) -> WriteResult:
        params: dict[str, Any] = {}
        if daily_micros is not None:
            params["daily_budget"] = micros_to_minor(daily_micros, account.currency)
        if lifetime_micros is not None:
            params["lifetime_budget"] = micros_to_minor(lifetime_micros, account.currency)
        if not params:
            raise ValueError("set a daily or a lifetime budget")
        return await self._update(account, level, platform_id, **params)

    async def set_bid(
        self, account: AccountRecord, adset_platform_id: str, bid_micros: int | None
    ) -> WriteResult:
        params: dict[str, Any] = (
            {"bid_strategy": "LOWEST_COST_WITHOUT_CAP"}
            if bid_micros is None
            else {
                "bid_amount": micros_to_minor(bid_micros, account.currency),
                "bid_strategy": "LOWEST_COST_WITH_BID_CAP",
            }
        )
        return await self._update(account, "adset", adset_platform_id, **params)

    async def set_targeting(
        self, account: AccountRecord, adset_platform_id: str, targeting: TargetingSpec
    ) -> WriteResult:
        current = await self._state(account, "adset", adset_platform_id)
        spec = meta_targeting(targeting, current.get("targeting") or {})
        return await self._update(account, "adset", adset_platform_id, targeting=spec)

    async def set_status(
        self, account: AccountRecord, *, level: Level, platform_id: str, status: Literal["ACTIVE", "PAUSED"]
    ) -> WriteResult:
        return await self._update(account, level, platform_id, status=status)

    async def create_adset(self, account: AccountRecord, spec: NewAdSet) -> WriteResult:
        params: dict[str, Any] = {
            "name": spec.name,
            "campaign_id": spec.campaign_platform_id,
            "status": spec.status,
            "billing_event": "IMPRESSIONS",
            "optimization_goal": "OFFSITE_CONVERSIONS",
            "targeting": meta_targeting(spec.targeting, {}),
        }
        if spec.daily_budget_micros is not None:
            params["daily_budget"] = micros_to_minor(spec.daily_budget_micros, account.currency)
        if spec.bid_micros is not None:
            params.update(
                bid_amount=micros_to_minor(spec.bid_micros, account.currency),
                bid_strategy="LOWEST_COST_WITH_BID_CAP",
            )
        created = await self._post(
            f"{self._act(account)}/adsets", account=account.platform_id, stream="write_adset", **params
        )
        new_id = str(created["id"])
        return WriteResult(
            entity="adset", platform_id=new_id, before=None, after=await self._state(account, "adset", new_id)
        )

    async def create_ad(self, account: AccountRecord, spec: NewAd) -> WriteResult:
        creative_id = spec.creative_platform_id
        if creative_id is None:
            if not (spec.headline and spec.image_hash):
                raise ValueError("a new ad needs a creative id, or a headline and an uploaded image hash")
            link_data = {
                "image_hash": spec.image_hash,
                "link": spec.link or "https://example.com/",
                "message": spec.body or "",
                "name": spec.headline,
                "call_to_action": {"type": spec.call_to_action or "SHOP_NOW"},
            }
            made = await self._post(
                f"{self._act(account)}/adcreatives",
                account=account.platform_id,
                stream="write_creative",
                name=spec.name,
                object_story_spec={"page_id": self.config.page_id, "link_data": link_data},
            )
            creative_id = str(made["id"])
        created = await self._post(
            f"{self._act(account)}/ads",
            account=account.platform_id,
            stream="write_ad",
            name=spec.name,
            adset_id=spec.adset_platform_id,
            creative={"creative_id": creative_id},
            status=spec.status,
        )
        new_id = str(created["id"])
        return WriteResult(
            entity="ad", platform_id=new_id, before=None, after=await self._state(account, "ad", new_id)
        )

    async def upload_image(self, account: AccountRecord, name: str, data: bytes) -> WriteResult:
        params = self._auth({})
        body = await self.transport.call(
            "POST",
            f"{self.root}/{self._act(account)}/adimages",
            account=account.platform_id,
            stream="write_image",
            data=params,
            files={name: (name, data)},
        )
        images = body.get("images") if isinstance(body, dict) else None
        if not isinstance(images, dict) or not images:
            raise MalformedResponseError("image upload answered without images", platform=PLATFORM)
        image = next(iter(images.values()))
        return WriteResult(entity="image", platform_id=str(image["hash"]), before=None, after=dict(image))


INSIGHT_FIELDS = "ad_id,impressions,inline_link_clicks,spend,actions,action_values"
STATE_FIELDS = {
    "campaign": "id,name,status,effective_status,daily_budget,lifetime_budget",
    "adset": "id,name,status,effective_status,daily_budget,lifetime_budget,bid_amount,bid_strategy,targeting",
    "ad": "id,name,status,effective_status,creative",
}
POSITION_FIELDS = {
    "facebook": "facebook_positions",
    "instagram": "instagram_positions",
    "audience_network": "audience_network_positions",
}


def meta_targeting(targeting: TargetingSpec, base: dict[str, Any]) -> dict[str, Any]:
    """The warehouse's targeting as a Meta spec, keeping what the base spec has that we do not model.
    Values outside the warehouse's vocabulary are refused: dropping them would widen the ad set."""
    for field, known in (
        ("ages", set(META_AGES.values())),
        ("genders", {"male", "female"}),
        ("placements", set(PLACEMENTS.values())),
    ):
        unknown = [v for v in getattr(targeting, field) if v not in known]
        if unknown:
            raise BadRequestError(
                f"Meta targeting has no {field} {unknown}; known: {sorted(known)}", platform=PLATFORM
            )
    spec = {
        k: v
        for k, v in base.items()
        if k
        not in (
            "age_min",
            "age_max",
            "genders",
            "geo_locations",
            "publisher_platforms",
            *POSITION_FIELDS.values(),
        )
    }
    bands = [(lo, hi) for (lo, hi), name in META_AGES.items() if not targeting.ages or name in targeting.ages]
    order = list(META_AGES)
    picked = sorted(order.index(b) for b in bands)
    if picked != list(range(picked[0], picked[-1] + 1)):
        raise BadRequestError("Meta targets one contiguous age range", platform=PLATFORM)
    spec["age_min"], spec["age_max"] = bands[0][0] if bands else 18, max(hi for _, hi in bands)
    codes = {"male": 1, "female": 2}
    if targeting.genders and len(targeting.genders) < 2:
        spec["genders"] = [codes[g] for g in targeting.genders]
    spec["geo_locations"] = {
        "countries": targeting.countries or list((base.get("geo_locations") or {}).get("countries") or ["US"])
    }
    wanted = targeting.placements or ["feed", "stories", "network"]
    platforms: list[str] = []
    for (platform, position), name in PLACEMENTS.items():
        if name in wanted and position in ("feed", "story", "classic"):
            platforms.append(platform)
            spec.setdefault(POSITION_FIELDS[platform], []).append(position)
    spec["publisher_platforms"] = sorted(set(platforms))
    return spec


# -- normalisation: platform rows -> records (used live and by `adcluster rebuild` from the lake) -------


def build_account(r: dict[str, Any]) -> AccountRecord:
    return AccountRecord(
        platform=PLATFORM,
        platform_id=str(r["account_id"]),
        name=str(r.get("name", "")),
        currency=str(r["currency"]),
        timezone=str(r["timezone_name"]),
        status="ACTIVE" if r.get("account_status") == 1 else str(r.get("account_status")),
    )


def _micros_or_none(value: Any, currency: str) -> int | None:
    return minor_to_micros(value, currency) if value not in (None, "", "0", 0) else None


def _campaign(r: dict[str, Any], a: AccountRecord) -> CampaignRecord:
    return CampaignRecord(
        platform_id=str(r["id"]),
        name=str(r["name"]),
        status=str(r["status"]),
        effective_status=str(r["effective_status"]),
        objective=r.get("objective"),
        daily_budget_micros=_micros_or_none(r.get("daily_budget"), a.currency),
        lifetime_budget_micros=_micros_or_none(r.get("lifetime_budget"), a.currency),
        updated_at=_stamp(r.get("updated_time")),
    )


def _adset(r: dict[str, Any], a: AccountRecord) -> AdSetRecord:
    return AdSetRecord(
        platform_id=str(r["id"]),
        campaign_platform_id=str(r["campaign_id"]),
        name=str(r["name"]),
        status=str(r["status"]),
        effective_status=str(r["effective_status"]),
        daily_budget_micros=_micros_or_none(r.get("daily_budget"), a.currency),
        lifetime_budget_micros=_micros_or_none(r.get("lifetime_budget"), a.currency),
        bid_micros=_micros_or_none(r.get("bid_amount"), a.currency),
        bid_strategy=r.get("bid_strategy"),
        optimization_goal=r.get("optimization_goal"),
        targeting=_targeting(r.get("targeting")),
        end_time=_stamp(r.get("end_time")),
        updated_at=_stamp(r.get("updated_time")),
    )


def _ad(r: dict[str, Any], a: AccountRecord) -> AdRecord:
    creative = r.get("creative") or {}
    return AdRecord(
        platform_id=str(r["id"]),
        adset_platform_id=str(r["adset_id"]),
        campaign_platform_id=str(r["campaign_id"]),
        name=str(r["name"]),
        status=str(r["status"]),
        effective_status=str(r["effective_status"]),
        creative_platform_id=str(creative["id"]) if creative.get("id") else None,
        updated_at=_stamp(r.get("updated_time")),
    )


def _creative(r: dict[str, Any], a: AccountRecord) -> CreativeRecord:
    link = ((r.get("object_story_spec") or {}).get("link_data")) or {}
    return CreativeRecord(
        platform_id=str(r["id"]),
        name=r.get("name"),
        headline=r.get("title") or link.get("name"),
        body=r.get("body") or link.get("message"),
        image_hash=r.get("image_hash") or link.get("image_hash"),
        image_url=r.get("image_url"),
        call_to_action=r.get("call_to_action_type"),
        link=link.get("link"),
    )


def _audience(r: dict[str, Any], a: AccountRecord) -> AudienceRecord:
    return AudienceRecord(
        platform_id=str(r["id"]),
        name=str(r["name"]),
        subtype=r.get("subtype"),
        size_lower=r.get("approximate_count_lower_bound"),
        size_upper=r.get("approximate_count_upper_bound"),
        adset_platform_ids=[str(x["id"]) for x in (r.get("adsets") or {}).get("data", [])],
    )


def _metrics(r: dict[str, Any], currency: str) -> dict[str, int]:
    actions = {x.get("action_type"): x.get("value") for x in r.get("actions") or [] if isinstance(x, dict)}
    values = {
        x.get("action_type"): x.get("value") for x in r.get("action_values") or [] if isinstance(x, dict)
    }
    kind = next((t for t in PURCHASE_ACTIONS if t in actions), None)
    return {
        "impressions": int(r["impressions"]),
        "clicks": int(r.get("inline_link_clicks", r.get("clicks", 0))),
        "spend_micros": decimal_to_micros(r["spend"], currency),
        "conversions": int(actions[kind]) if kind else 0,
        "value_micros": decimal_to_micros(values[kind], currency) if kind and kind in values else 0,
    }


def _daily(r: dict[str, Any], a: AccountRecord) -> MetricRow:
    return MetricRow(
        ad_platform_id=str(r["ad_id"]), day=dt.date.fromisoformat(r["date_start"]), **_metrics(r, a.currency)
    )


def _segment(breakdown: str) -> Callable[[dict[str, Any], AccountRecord], SegmentMetricRow]:
    def build(r: dict[str, Any], a: AccountRecord) -> SegmentMetricRow:
        if breakdown == "placement":
            value = PLACEMENTS.get((r["publisher_platform"], r["platform_position"]))
            if value is None:
                raise ValueError(f"unknown placement {r['publisher_platform']}/{r['platform_position']}")
        else:
            value = str(r[breakdown])
        return SegmentMetricRow(
            ad_platform_id=str(r["ad_id"]),
            day=dt.date.fromisoformat(r["date_start"]),
            breakdown=breakdown,
            **{breakdown: value},
            **_metrics(r, a.currency),
        )

    return build


def _hourly(r: dict[str, Any], a: AccountRecord) -> HourlyRow:
    hour = int(str(r["hourly_stats_aggregated_by_advertiser_time_zone"])[:2])
    return HourlyRow(
        ad_platform_id=str(r["ad_id"]),
        day=dt.date.fromisoformat(r["date_start"]),
        hour=hour,
        impressions=int(r["impressions"]),
        clicks=int(r.get("inline_link_clicks", 0)),
        spend_micros=decimal_to_micros(r["spend"], a.currency),
    )


NORMALISERS: dict[str, Callable[[dict[str, Any], AccountRecord], Any]] = {
    "campaigns": _campaign,
    "adsets": _adset,
    "ads": _ad,
    "creatives": _creative,
    "audiences": _audience,
    "insights": _daily,
    "hourly": _hourly,
    **{f"insights_{b}": _segment(b) for b in BREAKDOWNS},
}


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
    for p in batch.problems:
        logger.warning("meta %s %s row %d skipped: %s", p.account, p.stream, p.row, p.error)
    return batch


def _lake_accounts(body: Any) -> list[AccountRecord]:
    rows = body.get("data") if isinstance(body, dict) and "data" in body else [body]
    return [build_account(r) for r in rows if isinstance(r, dict)]


def _lake_rows(stream: str, body: Any) -> list[dict[str, Any]]:
    data = body.get("data") if isinstance(body, dict) else None
    return [r for r in data if isinstance(r, dict)] if isinstance(data, list) else []


CODEC = PlatformCodec(accounts=_lake_accounts, rows=_lake_rows, normalise=normalise, streams=set(NORMALISERS))


def check_targeting(targeting: TargetingSpec) -> None:
    """Raise BadRequestError when Meta cannot express `targeting` (one contiguous age range)."""
    meta_targeting(targeting, {})
