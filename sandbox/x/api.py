"""The X Ads API surface under /{version}/ for any integer version (the v11 SDK sends /11/).

Per request: fault draw, OAuth 1.0a verification, rate limits, then reads, writes, sync stats and
async stats jobs, all in X's envelope. Every figure comes from the market's ledger and every write
is a market change.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sandbox.faults import MALFORMED_BODY, FaultInjector, FaultKind, truncate
from sandbox.market.entities import Account, Ad, AdSet, Campaign
from sandbox.market.market import Market
from sandbox.market.segments import Platform
from sandbox.server.credentials import credentials_for
from sandbox.x import auth
from sandbox.x.errors import XError, invalid_parameter, not_found, route_not_found, unauthorized
from sandbox.x.jobs import StatsJobs, job_obj
from sandbox.x.limits import Category, RateLimitMode, XLimits, XThrottle, exhausted_headers
from sandbox.x.nodes import CRITERIA_DIMENSIONS, DIMENSIONS, XView
from sandbox.x.paging import page, single
from sandbox.x.request import XParams
from sandbox.x.stats import STATS_PARAMS, StatsEngine, StatsQuery, echo, parse_stats
from sandbox.x.writes import XWriter

logger = logging.getLogger(__name__)

CURRENT_VERSION = "12"
DOWNLOADS = "_downloads"
PAGING_PARAMS = {"count", "cursor", "with_deleted", "with_total_count", "sort_by", "with_draft", "q"}


@dataclass(kw_only=True)
class XOptions:
    rate_limits: RateLimitMode = RateLimitMode.RELAXED
    limits: XLimits | None = None  # overrides rate_limits (tests use tight limits)
    job_polls: int = 2  # status reads until an async stats job is SUCCESS


class _MalformedError(Exception):
    pass


class XApi:
    def __init__(self, market: Market, faults: FaultInjector, options: XOptions | None = None) -> None:
        self.market = market
        self.faults = faults
        self.credentials = credentials_for(market.config.seed).x
        self.cards: dict[str, dict[str, str]] = {}
        self._cache: OrderedDict[tuple[Any, ...], dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.configure(options or XOptions())

    def configure(self, options: XOptions) -> None:
        """Replace the options (limits, job pacing); counters and jobs start afresh."""
        self.options = options
        self.throttle = XThrottle(options.limits or XLimits.for_mode(options.rate_limits))
        self.jobs = StatsJobs(polls_to_finish=options.job_polls)

    # -- HTTP -----------------------------------------------------------------------------------

    async def handle(self, request: Request, version: str, path: str) -> Response:
        headers = {"x-current-api-version": CURRENT_VERSION}
        fault = self.faults.next_fault(Platform.X)
        echo_params: dict[str, Any] = {}
        try:
            if fault is not None:
                await self._inject(fault)
            pairs = await self._pairs(request)
            echo_params = XParams(pairs).echo()
            parts = [p for p in path.split("/") if p]
            if parts[:1] == [DOWNLOADS] and len(parts) == 2 and request.method == "GET":
                return self._download(parts[1], headers)
            self._authenticate(request, pairs)
            response = await run_in_threadpool(self.dispatch, request, version, parts, pairs)
            headers.update(response.pop("__headers__", {}))
            status = response.pop("__status__", 200)
            result: Response = JSONResponse(response, status_code=status, headers=headers)
        except _MalformedError:
            return Response(MALFORMED_BODY, status_code=200, media_type="text/html")
        except XError as exc:
            headers.update(exc.headers)
            result = JSONResponse(exc.body(echo_params), status_code=exc.status, headers=headers)
        except Exception:  # never crash: X's own envelope for its own failures
            logger.exception("X API error on %s %s", request.method, request.url.path)
            error = XError("INTERNAL_ERROR", "An internal error occurred.", status=500)
            result = JSONResponse(error.body(echo_params), status_code=500, headers=headers)
        if fault is FaultKind.TRUNCATED:
            return Response(truncate(bytes(result.body)), status_code=200, media_type="application/json")
        return result

    async def _inject(self, fault: FaultKind) -> None:
        """X's own form of each fault; SLOW and TRUNCATED let the request through."""
        match fault:
            case FaultKind.SLOW:
                config = self.faults.config(Platform.X)
                await asyncio.sleep(config.slow_seconds if config else 0.0)
            case FaultKind.RATE_LIMIT:
                raise XError(
                    "TOO_MANY_REQUESTS", "Rate limit exceeded", status=429, headers=exhausted_headers()
                )
            case FaultKind.SERVER_ERROR:
                raise XError(
                    "SERVICE_UNAVAILABLE",
                    "Service unavailable due to request timeout; please try the request again later",
                    status=503,
                    headers={"retry-after": "1"},
                )
            case FaultKind.EXPIRED_TOKEN:
                # OAuth 1.0a user tokens do not expire; X answers a revoked one like this.
                raise unauthorized("Invalid or expired token")
            case FaultKind.MALFORMED:
                raise _MalformedError()

    async def _pairs(self, request: Request) -> list[tuple[str, str]]:
        pairs = parse_qsl(request.url.query, keep_blank_values=True)
        ctype = request.headers.get("content-type", "")
        if request.method in ("POST", "PUT", "DELETE") and ctype.startswith(
            "application/x-www-form-urlencoded"
        ):
            raw = (await request.body()).decode("utf-8", errors="replace")
            pairs.extend(parse_qsl(raw, keep_blank_values=True))
        return pairs

    def _authenticate(self, request: Request, pairs: list[tuple[str, str]]) -> None:
        header = request.headers.get("authorization")
        if not header:
            raise unauthorized("This request is not properly authenticated (no OAuth Authorization header)")
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        path = raw_path.decode("latin-1").split("?", 1)[0]
        host = request.headers.get("host", request.url.netloc)
        auth.verify(
            credentials=self.credentials,
            method=request.method,
            url=f"{request.url.scheme}://{host}{path}",
            params=pairs,
            authorization=header,
        )

    def _download(self, name: str, headers: dict[str, str]) -> Response:
        # Real result files live on ton.twimg.com behind an unguessable name and need no OAuth.
        job = self.jobs.by_filename(name)
        if job is None:
            raise not_found("The file does not exist or has expired")
        return Response(job.payload, media_type="application/gzip", headers=headers)

    # -- dispatch -------------------------------------------------------------------------------

    def dispatch(
        self, request: Request, version: str, parts: list[str], pairs: list[tuple[str, str]]
    ) -> dict[str, Any]:
        params = XParams(pairs)
        view = XView(self.market)
        method = request.method
        if parts[:2] == ["stats", "accounts"] and len(parts) == 3 and method == "GET":
            account = self._account(parts[2])
            limits = self.throttle.check(
                Category.ANALYTICS, self.credentials.access_token, account_level=False
            )
            return {**self._sync_stats(view, account, params), "__headers__": limits}
        if parts[:3] == ["stats", "jobs", "accounts"] and len(parts) == 4:
            account = self._account(parts[3])
            limits = self.throttle.check(Category.JOBS, self.credentials.access_token, account_level=False)
            host = request.headers.get("host", request.url.netloc)
            base = f"{request.url.scheme}://{host}/{version}/{DOWNLOADS}"
            return {**self._jobs(view, account, method, params, base), "__headers__": limits}
        if not parts or parts[0] != "accounts":
            raise route_not_found()
        if method == "GET":
            scope = parts[1] if len(parts) > 1 else ""
            endpoint = parts[2] if len(parts) > 2 else "accounts"
            limits = self.throttle.check(Category.READ, f"{scope}:{endpoint}", account_level=True)
            return {**self._read(view, parts[1:], params), "__headers__": limits}
        if method in ("POST", "PUT", "DELETE"):
            limits = self.throttle.check(Category.WRITE, self.credentials.access_token, account_level=False)
            body = self._write(view, method, parts[1:], params)
            return {**body, "__headers__": limits}
        raise route_not_found()

    def _account(self, account_id: str) -> Account:
        account = self.market.world.accounts.get(account_id)
        if account is None or account.platform is not Platform.X:
            raise not_found(f"Account {account_id} not found", code="NOT_FOUND")
        return account

    def _entity(self, view: XView, account: Account, kind: str, entity_id: str) -> Campaign | AdSet | Ad:
        table: dict[str, Any] = {
            "campaigns": view.world.campaigns,
            "line_items": view.world.adsets,
            "promoted_tweets": view.world.ads,
        }[kind]
        entity = table.get(entity_id)
        if entity is None or entity.account_id != account.id:
            raise not_found(f"{kind[:-1]} {entity_id} not found in account {account.id}")
        return entity  # type: ignore[no-any-return]

    # -- reads ----------------------------------------------------------------------------------

    def _read(self, view: XView, parts: list[str], params: XParams) -> dict[str, Any]:
        world = view.world
        if not parts:
            accounts = [a for a in world.accounts.values() if a.platform is Platform.X]
            ids = params.ids("account_ids")
            rows = [view.account_obj(a) for a in accounts if ids is None or a.id in ids]
            return page(rows, params)
        account = self._account(parts[0])
        if len(parts) == 1:
            return single(view.account_obj(account), params)
        kind = parts[1]
        with_deleted = params.boolean("with_deleted")
        if len(parts) == 3 and kind in ("campaigns", "line_items", "promoted_tweets"):
            entity = self._entity(view, account, kind, parts[2])
            if view.deleted(entity) and not with_deleted:
                raise not_found(f"{kind[:-1]} {entity.id} is deleted")
            return single(self._entity_obj(view, entity), params)
        rows = self._collection(view, account, kind, parts, params)
        if len(parts) == 3:
            match = [r for r in rows if r["id"] == parts[2] or r.get("card_uri") == parts[2]]
            if not match:
                raise not_found()
            return single(match[0], params)
        if not with_deleted:
            rows = [r for r in rows if not r.get("deleted")]
        return page(rows, params)

    def _entity_obj(self, view: XView, entity: Campaign | AdSet | Ad) -> dict[str, Any]:
        if isinstance(entity, Campaign):
            return view.campaign_obj(entity)
        if isinstance(entity, AdSet):
            return view.line_item_obj(entity)
        return view.promoted_tweet_obj(entity)

    def _collection(
        self, view: XView, account: Account, kind: str, parts: list[str], params: XParams
    ) -> list[dict[str, Any]]:
        world = view.world

        def chosen(name: str, value: str) -> bool:
            ids = params.ids(name, limit=200)
            return ids is None or value in ids

        match kind:
            case "funding_instruments":
                obj = view.funding_obj(account)
                return [obj] if chosen("funding_instrument_ids", obj["id"]) else []
            case "campaigns":
                fi = view.funding_id(account.id)
                return [
                    view.campaign_obj(c)
                    for c in world.campaigns_of(account.id)
                    if chosen("campaign_ids", c.id) and chosen("funding_instrument_ids", fi)
                ]
            case "line_items":
                return [
                    view.line_item_obj(s)
                    for s in world.adsets_of(account.id)
                    if chosen("line_item_ids", s.id) and chosen("campaign_ids", s.campaign_id)
                ]
            case "promoted_tweets":
                return [
                    view.promoted_tweet_obj(a)
                    for a in world.ads_of(account.id)
                    if chosen("promoted_tweet_ids", a.id) and chosen("line_item_ids", a.adset_id)
                ]
            case "targeting_criteria":
                if len(parts) == 3:
                    found = self._criterion(view, account, parts[2])
                    return [view.criterion_obj(*found)]
                line_items = params.ids("line_item_ids", required=True, limit=200) or []
                rows = []
                for line_item_id in line_items:
                    adset = world.adsets.get(line_item_id)
                    if adset is None or adset.account_id != account.id:
                        raise invalid_parameter("line_item_ids", f"line item {line_item_id} not found")
                    rows.extend(view.criterion_obj(adset, d, v) for d, v in view.criteria(adset))
                ids = params.ids("targeting_criterion_ids")
                return [r for r in rows if ids is None or r["id"] in ids]
            case "custom_audiences" | "tailored_audiences":
                return [
                    view.audience_obj(a)
                    for a in world.audiences.values()
                    if a.account_id == account.id and chosen("custom_audience_ids", a.id)
                ]
            case "tweets":
                params.string("tweet_type")
                params.string("timeline_type")
                creatives = [c for c in world.creatives.values() if c.account_id == account.id]
                return [view.tweet_obj(c) for c in creatives if chosen("tweet_ids", view.tweet_id(c))]
            case "cards":
                return self._cards(view, account, params)
            case _:
                raise route_not_found()

    def _cards(self, view: XView, account: Account, params: XParams) -> list[dict[str, Any]]:
        cards: dict[str, dict[str, Any]] = {}
        for c in view.world.creatives.values():
            if c.account_id == account.id:
                obj = view.card_obj(account, c.link, c.cta, c.name)
                cards.setdefault(obj["card_uri"], obj)
        for card in self.cards.values():
            if card["account_id"] == account.id:
                obj = view.card_obj(account, card["link"], card["cta"], card["name"])
                cards.setdefault(obj["card_uri"], obj)
        uris = params.ids("card_uris")
        ids = params.ids("card_ids")
        return [
            c
            for c in cards.values()
            if (uris is None or c["card_uri"] in uris) and (ids is None or c["id"] in ids)
        ]

    def _criterion(self, view: XView, account: Account, criterion_id: str) -> tuple[AdSet, str, str]:
        for adset in view.world.adsets_of(account.id):
            for dimension in CRITERIA_DIMENSIONS:
                for value in DIMENSIONS[dimension]:
                    if view.criterion_id(adset.id, dimension, value) == criterion_id:
                        if (dimension, value) in view.criteria(adset) and not view.deleted(adset):
                            return adset, dimension, value
                        raise not_found(f"targeting criterion {criterion_id} not found")
        raise not_found(f"targeting criterion {criterion_id} not found")

    # -- writes ---------------------------------------------------------------------------------

    def _write(self, view: XView, method: str, parts: list[str], params: XParams) -> dict[str, Any]:
        if len(parts) < 2:
            raise route_not_found()
        account = self._account(parts[0])
        writer = XWriter(view, self.cards)
        kind = parts[1]
        entity_id = parts[2] if len(parts) > 2 else None
        with self.market.lock:  # validation and the change see the same world
            if len(parts) == 3 and kind in ("campaigns", "line_items", "promoted_tweets") and entity_id:
                entity = self._entity(view, account, kind, entity_id)
                if method == "DELETE":
                    self._no_params(params)
                    writer.delete(entity)
                elif method == "PUT":
                    match entity:
                        case Campaign():
                            writer.update_campaign(entity, params)
                        case AdSet():
                            writer.update_line_item(entity, params)
                        case Ad():
                            writer.update_promoted_tweet(entity, params)
                else:
                    raise route_not_found()
                return single(self._entity_obj(view, entity), params)
            if method == "POST" and len(parts) == 2:
                match kind:
                    case "line_items":
                        created = writer.create_line_item(account, params)
                        return single(view.line_item_obj(view.world.adset(created)), params)
                    case "targeting_criteria":
                        adset, dimension, value = writer.add_criterion(account, params)
                        return single(view.criterion_obj(adset, dimension, value), params)
                    case "tweet":
                        return single(view.tweet_obj(writer.create_tweet(account, params)), params)
                    case "cards":
                        card = writer.create_card(account, params)
                        return single(view.card_obj(account, card["link"], card["cta"], card["name"]), params)
                    case "promoted_tweets":
                        ids = writer.create_promoted_tweets(account, params)
                        body = single([view.promoted_tweet_obj(view.world.ad(i)) for i in ids], params)
                        return {**body, "total_count": len(ids)}
            if method == "POST" and parts[1:] == ["cards", "website"]:
                card = writer.create_card(account, params)
                return single(view.card_obj(account, card["link"], card["cta"], card["name"]), params)
            if method == "DELETE" and kind == "targeting_criteria" and entity_id:
                self._no_params(params)
                adset, dimension, value = self._criterion(view, account, entity_id)
                obj = view.criterion_obj(adset, dimension, value)
                writer.remove_criterion(adset, dimension, value)
                return single({**obj, "deleted": True}, params)
        raise route_not_found()

    @staticmethod
    def _no_params(params: XParams) -> None:
        unknown = params.unused()
        if unknown:
            raise invalid_parameter(unknown[0], f'Unknown parameter "{unknown[0]}"')

    # -- stats ----------------------------------------------------------------------------------

    def _check_stats_params(self, params: XParams) -> None:
        unknown = [n for n in params.unused() if n not in STATS_PARAMS]
        if unknown:
            raise invalid_parameter(unknown[0], f'Unknown parameter "{unknown[0]}"')

    def _stats_body(self, view: XView, q: StatsQuery) -> dict[str, Any]:
        key = (q, self.market.clock.now_hour, len(self.market.log))
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
        body = StatsEngine(view).body(q)
        with self._lock:
            self._cache[key] = body
            while len(self._cache) > 32:
                self._cache.popitem(last=False)
        return body

    def _sync_stats(self, view: XView, account: Account, params: XParams) -> dict[str, Any]:
        q = parse_stats(view, params, account, job=False)
        self._check_stats_params(params)
        return {**self._stats_body(view, q), "request": {"params": echo(view, account, q, params)}}

    def _jobs(self, view: XView, account: Account, method: str, params: XParams, base: str) -> dict[str, Any]:
        if method == "POST":
            q = parse_stats(view, params, account, job=True)
            self._check_stats_params(params)
            request_params = echo(view, account, q, params)
            job = self.jobs.create(account.id, q, request_params, self._stats_body(view, q))
            return single(job_obj(view, account, job, base), params)
        if method == "GET":
            ids = params.ids("job_ids", limit=200)
            jobs = self.jobs.of_account(account.id, ids)
            for job in jobs:
                self.jobs.poll(job)
            return page([job_obj(view, account, j, base) for j in jobs], params)
        raise route_not_found()
