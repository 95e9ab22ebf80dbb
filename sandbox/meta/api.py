"""The Graph API surface: one catch-all route under /v{N}.0/ dispatching nodes and edges.

Auth (access_token query/form parameter or bearer header, appsecret_proof when sent), usage headers
and throttles, then reads, writes, insights and async report runs, all answered in Graph's shapes.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sandbox.faults import MALFORMED_BODY, FaultInjector, FaultKind, truncate
from sandbox.market import keyed
from sandbox.market.entities import Account, Ad, AdSet, Campaign, Creative, CustomAudience, Image, Status
from sandbox.market.market import Market
from sandbox.market.segments import Platform
from sandbox.meta import errors
from sandbox.meta.errors import GraphError, invalid_parameter
from sandbox.meta.insights import ACCEPTED_PARAMS, InsightsEngine, InsightsQuery, not_ready, parse_query
from sandbox.meta.nodes import MetaView
from sandbox.meta.paging import filter_objects, page, select_fields
from sandbox.meta.reports import ReportRun, ReportRuns
from sandbox.meta.request import GraphParams
from sandbox.meta.throttle import MetaLimits, MetaThrottle, RateLimitMode
from sandbox.meta.writes import MetaWriter
from sandbox.server.credentials import credentials_for

VERSION = re.compile(r"^v\d+\.\d+$")
USER_ID = "10000000000001"
EDGE_PARAMS = {
    "fields",
    "limit",
    "after",
    "before",
    "summary",
    "filtering",
    "effective_status",
    "date_preset",
    "time_range",
    "updated_since",
    "hashes",
    "default_summary",
}
NODE_TYPES = {
    Campaign: "Campaign",
    AdSet: "AdSet",
    Ad: "Ad",
    Creative: "AdCreative",
    Image: "AdImage",
    CustomAudience: "CustomAudience",
    Account: "AdAccount",
}


@dataclass(kw_only=True)
class MetaOptions:
    rate_limits: RateLimitMode = RateLimitMode.RELAXED
    limits: MetaLimits | None = None  # overrides rate_limits (tests use tight limits)
    max_sync_cells: int = (
        200_000  # a synchronous insights request above this answers "reduce the amount of data"
    )
    max_async_cells: int = 50_000_000
    report_failure_rate: float = 0.04
    report_stall_rate: float = 0.02
    clock: Callable[[], float] | None = None  # the throttle's clock (tests share a fake one with the client)


class _MalformedError(GraphError):
    """Answered as a 200 whose body is not JSON at all (a proxy's error page)."""

    def __init__(self) -> None:
        super().__init__("malformed", code=0, http_status=200)


class MetaApi:
    def __init__(
        self, market: Market, options: MetaOptions | None = None, faults: FaultInjector | None = None
    ) -> None:
        self.market = market
        self.faults = faults or FaultInjector()
        self.options = options or MetaOptions()
        creds = credentials_for(market.config.seed).meta
        self.token, self.app_secret = creds.access_token, creds.app_secret
        limits = self.options.limits or MetaLimits.for_mode(self.options.rate_limits)
        self.throttle = (
            MetaThrottle(limits, clock=self.options.clock) if self.options.clock else MetaThrottle(limits)
        )
        self.runs = ReportRuns()
        self._cache: OrderedDict[tuple[Any, ...], list[dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    # -- HTTP -----------------------------------------------------------------------------------

    async def handle(self, request: Request, version: str, path: str) -> Response:
        headers = {"facebook-api-version": version, "x-fb-rev": "1009999999"}
        fault = self.faults.next_fault(Platform.META)
        try:
            if fault is not None:
                await self._inject(fault)
            if not VERSION.match(version):
                raise errors.unknown_path(f"/{version}")
            params = await self._params(request)
            base = str(request.base_url).rstrip("/") + f"/{version}"
            body, extra = await run_in_threadpool(
                self.dispatch, request.method, path.strip("/"), params, base, request
            )
            headers.update(extra)
            response: Response = JSONResponse(body, headers=headers)
        except _MalformedError:
            return Response(MALFORMED_BODY, status_code=200, media_type="text/html")
        except GraphError as exc:
            headers.update(exc.headers)
            response = JSONResponse(exc.body(), status_code=exc.http_status, headers=headers)
        if fault is FaultKind.TRUNCATED:
            return Response(truncate(bytes(response.body)), status_code=200, media_type="application/json")
        return response

    async def _inject(self, fault: FaultKind) -> None:
        """Meta's own form of each fault; SLOW and TRUNCATED let the request through."""
        config = self.faults.config(Platform.META)
        match fault:
            case FaultKind.SLOW:
                await asyncio.sleep(config.slow_seconds if config else 0.0)
            case FaultKind.RATE_LIMIT:
                raise GraphError(
                    "(#17) User request limit reached",
                    code=17,
                    subcode=2446079,
                    is_transient=True,
                    headers={"x-ad-account-usage": '{"acc_id_util_pct":100,"reset_time_duration":60}'},
                )
            case FaultKind.SERVER_ERROR:
                raise GraphError(
                    "An unexpected error has occurred. Please retry your request later.",
                    code=2,
                    http_status=500,
                    is_transient=True,
                )
            case FaultKind.EXPIRED_TOKEN:
                raise errors.expired_token()
            case FaultKind.MALFORMED:
                raise _MalformedError()

    async def _params(self, request: Request) -> GraphParams:
        values = dict(request.query_params)
        files: dict[str, bytes] = {}
        if request.method == "POST":
            ctype = request.headers.get("content-type", "")
            if ctype.startswith("multipart/form-data"):
                form = await request.form()
                for key, value in form.multi_items():
                    if hasattr(value, "read"):
                        # Graph names an upload by its part's field name (the SDK sends the file path).
                        files[key] = await value.read()
                    else:
                        values[key] = str(value)
            else:
                raw = (await request.body()).decode("utf-8", errors="replace")
                if raw.strip().startswith("{"):
                    raise invalid_parameter(
                        "POST bodies must be form-encoded or multipart, as the Graph API takes them"
                    )
                values.update(dict(parse_qsl(raw, keep_blank_values=True)))
        auth = request.headers.get("authorization", "")
        if "access_token" not in values and auth.lower().startswith("bearer "):
            values["access_token"] = auth[7:].strip()
        return GraphParams(values, files)

    # -- dispatch -------------------------------------------------------------------------------

    def _authenticate(self, params: GraphParams) -> None:
        token = params.values.get("access_token")
        if not token:
            raise GraphError("An access token is required to request this resource.", code=104)
        if not hmac.compare_digest(token, self.token):
            raise errors.invalid_token()
        proof = params.values.get("appsecret_proof")
        if proof is not None:
            expected = hmac.new(self.app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()
            if not hmac.compare_digest(proof, expected):
                raise errors.bad_proof()

    def dispatch(
        self, method: str, path: str, params: GraphParams, base: str, request: Request
    ) -> tuple[dict[str, Any], dict[str, str]]:
        self._authenticate(params)
        view = MetaView(self.market, str(request.base_url))
        parts = [p for p in path.split("/") if p]
        if not parts:
            raise invalid_parameter("batch requests are not served by the sandbox; send each call on its own")
        if len(parts) > 2:
            raise errors.unknown_path("/" + "/".join(parts[2:]))
        node = self._resolve(view, parts[0])
        edge = parts[1] if len(parts) == 2 else None
        account_id = self._account_of(node)
        kind = (
            "insights"
            if edge == "insights" or isinstance(node, ReportRun)
            else ("read" if method == "GET" else "write")
        )
        active = (
            sum(1 for a in view.world.ads_of(account_id) if view.status(a) == Status.ACTIVE)
            if account_id
            else 0
        )
        verdict = self.throttle.check(token=self.token, account_id=account_id, kind=kind, active_ads=active)
        if verdict.error is not None:
            raise verdict.error
        url = f"{base}/{path.strip('/')}"
        query = {k: v for k, v in params.values.items()}
        body = self._route(view, method, node, edge, params, url, query)
        return body, verdict.headers

    def _resolve(self, view: MetaView, token: str) -> Any:
        world = view.world
        if token == "me":
            return "me"
        if token.startswith("act_"):
            account = world.accounts.get(token[4:])
            if account is None or account.platform is not Platform.META:
                raise errors.unknown_object(token)
            return account
        run = self.runs.get(token)
        if run is not None:
            return run
        if ":" in token:
            image = world.images.get(token)
            if image is None or world.account(image.account_id).platform is not Platform.META:
                raise errors.unknown_object(token)
            return image
        for table in (world.campaigns, world.adsets, world.ads, world.creatives, world.audiences):
            entity = table.get(token)
            if entity is not None:
                if world.account(entity.account_id).platform is not Platform.META:
                    raise errors.unknown_object(token)
                return entity
        raise errors.unknown_object(token)

    @staticmethod
    def _account_of(node: Any) -> str | None:
        if isinstance(node, Account):
            return node.id
        return getattr(node, "account_id", None)

    def _route(
        self,
        view: MetaView,
        method: str,
        node: Any,
        edge: str | None,
        params: GraphParams,
        url: str,
        query: dict[str, str],
    ) -> dict[str, Any]:
        if node == "me":
            if edge is None and method == "GET":
                obj = {"id": USER_ID, "name": "Sandbox User"}
                return select_fields(obj, params.fields(), "User", default=("id", "name"))
            if edge == "adaccounts" and method == "GET":
                accounts = [
                    view.account_obj(a) for a in view.world.accounts.values() if a.platform is Platform.META
                ]
                return self._list(accounts, params, "AdAccount", url, query)
            raise errors.unknown_path(f"/me/{edge}" if edge else "/me")
        if edge is None:
            if method == "GET":
                params.check_unused({"fields"})
                obj = self._object(view, node)
                # A report run answers with its status fields by default, as Graph does.
                default = tuple(obj) if isinstance(node, ReportRun) else ("id",)
                return select_fields(obj, params.fields(), self._type(node), default=default)
            if method == "DELETE" and isinstance(node, Campaign | AdSet | Ad):
                return MetaWriter(view).delete(node)
            if method == "POST" and isinstance(node, Campaign | AdSet | Ad):
                return MetaWriter(view).update(node, params)
            raise GraphError(
                f"(#100) {method} is not supported on {self._type(node)} objects in the sandbox",
                code=100,
                type_="GraphMethodException",
            )
        if edge == "insights":
            return self._insights(view, method, node, params, url, query)
        if isinstance(node, Account):
            if method == "POST" and edge in ("campaigns", "adsets", "ads", "adcreatives", "adimages"):
                return MetaWriter(view).create(node, edge, params)
            if method == "GET":
                return self._account_edge(view, node, edge, params, url, query)
        if method == "GET" and isinstance(node, Campaign | AdSet | Ad):
            return self._child_edge(view, node, edge, params, url, query)
        raise errors.unknown_path(f"/{edge}")

    def _type(self, node: Any) -> str:
        if isinstance(node, ReportRun):
            return "AdReportRun"
        return NODE_TYPES.get(type(node), "Node")

    def _object(self, view: MetaView, node: Any) -> dict[str, Any]:
        match node:
            case Account():
                return view.account_obj(node)
            case Campaign():
                return view.campaign_obj(node)
            case AdSet():
                return view.adset_obj(node)
            case Ad():
                return view.ad_obj(node)
            case Creative():
                return view.creative_obj(node)
            case Image():
                return view.image_obj(node)
            case CustomAudience():
                return view.audience_obj(node)
            case ReportRun():
                obj = node.node()
                self.runs.poll(node)  # each status read moves a healthy run one step along
                if not obj["is_running"]:
                    self.throttle.async_run_finished(node.account_id, node.id)
                return obj
        raise errors.unknown_object(str(node))

    def _list(
        self, objs: list[dict[str, Any]], params: GraphParams, node_type: str, url: str, query: dict[str, str]
    ) -> dict[str, Any]:
        fields = params.fields()
        filtered = filter_objects(objs, params)
        for name in ("default_summary", "updated_since", "date_preset", "time_range"):
            params.raw(name)
        body = page(filtered, params, url=url, query=query, width=len(fields or ["id"]))
        body["data"] = [select_fields(o, fields, node_type) for o in body["data"]]
        params.check_unused()
        return body

    def _account_edge(
        self,
        view: MetaView,
        account: Account,
        edge: str | None,
        params: GraphParams,
        url: str,
        query: dict[str, str],
    ) -> dict[str, Any]:
        world = view.world
        since = params.integer("updated_since")
        match edge:
            case "campaigns":
                objs, kind = [view.campaign_obj(c) for c in world.campaigns_of(account.id)], "Campaign"
            case "adsets":
                adsets = [
                    s
                    for s in world.adsets_of(account.id)
                    if since is None or view.local_time(account, view.updated_hour(s)).timestamp() >= since
                ]
                objs, kind = [view.adset_obj(s) for s in adsets], "AdSet"
            case "ads":
                objs, kind = [view.ad_obj(a) for a in world.ads_of(account.id)], "Ad"
            case "adcreatives":
                objs = [view.creative_obj(c) for c in world.creatives.values() if c.account_id == account.id]
                kind = "AdCreative"
            case "adimages":
                hashes = params.json("hashes", list)
                objs = [
                    view.image_obj(i)
                    for i in world.images.values()
                    if i.account_id == account.id and (hashes is None or i.hash in hashes)
                ]
                kind = "AdImage"
            case "customaudiences":
                objs = [view.audience_obj(a) for a in world.audiences.values() if a.account_id == account.id]
                kind = "CustomAudience"
            case _:
                raise errors.unknown_path(f"/{edge}")
        return self._list(objs, params, kind, url, query)

    def _child_edge(
        self,
        view: MetaView,
        node: Campaign | AdSet | Ad,
        edge: str | None,
        params: GraphParams,
        url: str,
        query: dict[str, str],
    ) -> dict[str, Any]:
        world = view.world
        if isinstance(node, Campaign) and edge == "adsets":
            return self._list(
                [view.adset_obj(s) for s in world.adsets_of(node.account_id) if s.campaign_id == node.id],
                params,
                "AdSet",
                url,
                query,
            )
        if isinstance(node, Campaign | AdSet) and edge == "ads":
            attr = "campaign_id" if isinstance(node, Campaign) else "adset_id"
            return self._list(
                [view.ad_obj(a) for a in world.ads_of(node.account_id) if getattr(a, attr) == node.id],
                params,
                "Ad",
                url,
                query,
            )
        if isinstance(node, Ad) and edge == "adcreatives":
            return self._list(
                [view.creative_obj(world.creative(node.creative_id))], params, "AdCreative", url, query
            )
        raise errors.unknown_path(f"/{edge}")

    # -- insights -------------------------------------------------------------------------------

    def _insights(
        self, view: MetaView, method: str, node: Any, params: GraphParams, url: str, query: dict[str, str]
    ) -> dict[str, Any]:
        if isinstance(node, ReportRun):
            if method != "GET":
                raise errors.unknown_path("/insights")
            if node.state()[0] != "Job Completed":
                raise not_ready(node.id)
            return self._page_rows(node.rows, params, url, query)
        kinds = {Account: "account", Campaign: "campaign", AdSet: "adset", Ad: "ad"}
        node_kind = kinds.get(type(node))
        if node_kind is None:
            raise errors.unknown_path("/insights")
        q = parse_query(
            view,
            params,
            node_kind=node_kind,
            node_id=getattr(node, "id", ""),
            account_id=self._account_of(node) or "",
        )
        engine = InsightsEngine(view, max_sync_cells=self.options.max_sync_cells)
        if method == "POST":
            params.check_unused(set(ACCEPTED_PARAMS))
            engine.check_size(q, limit=self.options.max_async_cells)
            return self._start_run(view, q, engine)
        if method != "GET":
            raise errors.unknown_path("/insights")
        engine.check_size(q)
        rows = self._cached_rows(q, engine)
        return self._page_rows(rows, params, url, query, accepted=set(ACCEPTED_PARAMS))

    def _page_rows(
        self,
        rows: list[dict[str, Any]],
        params: GraphParams,
        url: str,
        query: dict[str, str],
        accepted: set[str] | None = None,
    ) -> dict[str, Any]:
        width = len(rows[0]) if rows else 1
        body = page(rows, params, url=url, query=query, width=width)
        params.check_unused(accepted or set())
        return body

    def _cached_rows(self, q: InsightsQuery, engine: InsightsEngine) -> list[dict[str, Any]]:
        key = (q, self.market.clock.now_hour, len(self.market.log))
        with self._lock:
            rows = self._cache.get(key)
            if rows is not None:
                self._cache.move_to_end(key)
                return rows
        rows = engine.rows(q)
        with self._lock:
            self._cache[key] = rows
            while len(self._cache) > 64:
                self._cache.popitem(last=False)
        return rows

    def _start_run(self, view: MetaView, q: InsightsQuery, engine: InsightsEngine) -> dict[str, Any]:
        run_id = self.runs.next_id(self.market.config.seed)
        refused = self.throttle.async_run_started(q.account_id, run_id)
        if refused is not None:
            raise refused
        u = float(keyed.uniform(self.market.config.seed, keyed.stable_key("report-run", run_id)))
        fail, stall = self.options.report_failure_rate, self.options.report_stall_rate
        outcome = "fail" if u < fail else "stall" if u < fail + stall else "ok"
        self.runs.add(
            ReportRun(
                id=run_id,
                account_id=q.account_id,
                query=q,
                rows=self._cached_rows(q, engine),
                outcome=outcome,
                created=time.time(),
            )
        )
        return {"report_run_id": run_id}
