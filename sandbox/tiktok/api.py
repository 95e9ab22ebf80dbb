"""The TikTok Business API v1.3 surface under /open_api/v1.3/: auth, QPS limits, faults, dispatch.

Every answer is HTTP 200 with TikTok's envelope, errors and throttles included; the exceptions are
unknown paths (HTTP 404 with code 40400, a gateway's answer) and the MALFORMED / TRUNCATED faults.
Unexpected exceptions are answered as code 50000, never as a crash.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sandbox.faults import MALFORMED_BODY, FaultInjector, FaultKind, truncate
from sandbox.market.market import Market
from sandbox.market.segments import Platform
from sandbox.server.credentials import credentials_for
from sandbox.tiktok import errors
from sandbox.tiktok.errors import TikTokError, envelope, invalid
from sandbox.tiktok.limits import QpsLimiter, RateLimitMode, TikTokLimits, group_of
from sandbox.tiktok.nodes import TikTokView
from sandbox.tiktok.paging import filter_rows, page_window, paged, select
from sandbox.tiktok.reports import ACCEPTED, ReportEngine, ReportTasks, parse_report, to_csv
from sandbox.tiktok.request import TikTokParams
from sandbox.tiktok.writes import STATUS_ENDPOINTS, TikTokWriter

logger = logging.getLogger(__name__)

LIST_PARAMS = frozenset(
    {"advertiser_id", "filtering", "page", "page_size", "fields", "exclude_field_types_in_response"}
)


@dataclass(kw_only=True)
class TikTokOptions:
    rate_limits: RateLimitMode = RateLimitMode.RELAXED
    limits: TikTokLimits | None = None  # overrides rate_limits (tests use tight limits)
    report_task_polls: int = 2  # task checks answered QUEUING / PROCESSING before SUCCESS


class _MalformedError(Exception):
    """Answered as a 200 whose body is not JSON at all (a proxy's error page)."""


class TikTokApi:
    def __init__(self, market: Market, faults: FaultInjector, options: TikTokOptions | None = None) -> None:
        self.market = market
        self.faults = faults
        creds = credentials_for(market.config.seed).tiktok
        self.token, self.app_id, self.secret = creds.access_token, creds.app_id, creds.secret
        self.options = options or TikTokOptions()

    @property
    def options(self) -> TikTokOptions:
        return self._options

    @options.setter
    def options(self, options: TikTokOptions) -> None:
        """Replacing the options (tests do) resets the limiter and the task store to match them."""
        self._options = options
        self.limiter = QpsLimiter(options.limits or TikTokLimits.for_mode(options.rate_limits))
        self.tasks = ReportTasks(polls=options.report_task_polls)

    # -- HTTP -------------------------------------------------------------------------------------

    async def handle(self, request: Request, path: str) -> Response:
        fault = self.faults.next_fault(Platform.TIKTOK)
        try:
            if fault is not None:
                await self._inject(fault)
            path = path.strip("/")
            route = self._route(request.method, path)
            params = await self._params(request)
            token = request.headers.get("access-token", "").strip()
            base = str(request.base_url).rstrip("/")
            result = await run_in_threadpool(self._dispatch, route, path, params, token, base)
            response = result if isinstance(result, Response) else JSONResponse(envelope(result))
        except _MalformedError:
            return Response(MALFORMED_BODY, status_code=200, media_type="text/html")
        except TikTokError as exc:
            response = JSONResponse(envelope(code=exc.code, message=exc.message), status_code=exc.http_status)
        except Exception:
            logger.exception("TikTok API: unexpected error on %s %s", request.method, path)
            err = errors.system_error()
            response = JSONResponse(envelope(code=err.code, message=err.message))
        if fault is FaultKind.TRUNCATED:
            return Response(truncate(bytes(response.body)), status_code=200, media_type="application/json")
        return response

    async def _inject(self, fault: FaultKind) -> None:
        """TikTok's own form of each fault; SLOW and TRUNCATED let the request through.

        SERVER_ERROR is the envelope's system error (HTTP 200, code 50000), the form TikTok documents;
        EXPIRED_TOKEN is 40105, what a revoked advertiser token shows (TikTok tokens are long-lived).
        """
        config = self.faults.config(Platform.TIKTOK)
        match fault:
            case FaultKind.SLOW:
                await asyncio.sleep(config.slow_seconds if config else 0.0)
            case FaultKind.RATE_LIMIT:
                raise errors.too_many_requests()
            case FaultKind.SERVER_ERROR:
                raise errors.system_error()
            case FaultKind.EXPIRED_TOKEN:
                raise _revoked()
            case FaultKind.MALFORMED:
                raise _MalformedError()

    async def _params(self, request: Request) -> TikTokParams:
        if request.method == "GET":
            return TikTokParams(dict(request.query_params), from_query=True)
        ctype = request.headers.get("content-type", "")
        if ctype.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
            form = await request.form()
            values: dict[str, Any] = {}
            files: dict[str, tuple[str, bytes]] = {}
            for key, value in form.multi_items():
                if hasattr(value, "read"):
                    files[key] = (str(getattr(value, "filename", "") or ""), await value.read())
                else:
                    values[key] = str(value)
            return TikTokParams(values, from_query=True, files=files)
        raw = await request.body()
        try:
            # Decimals keep money exact: 20.50 stays 20.50, 0.1 is not 0.1000000000000000055.
            body = json.loads(raw or b"{}", parse_float=Decimal)
        except ValueError:
            raise invalid("body", "must be a JSON object (Content-Type: application/json)") from None
        if not isinstance(body, dict):
            raise invalid("body", "must be a JSON object")
        return TikTokParams(body, from_query=False)

    # -- dispatch ---------------------------------------------------------------------------------

    def _routes(self) -> dict[tuple[str, str], Callable[[TikTokView, TikTokParams, str], Any]]:
        writer = TikTokWriter
        routes: dict[tuple[str, str], Callable[[TikTokView, TikTokParams, str], Any]] = {
            ("GET", "oauth2/advertiser/get"): lambda v, p, b: self._advertisers(v, p),
            ("GET", "advertiser/info"): lambda v, p, b: self._advertiser_info(v, p),
            ("GET", "campaign/get"): lambda v, p, b: self._campaigns(v, p),
            ("GET", "adgroup/get"): lambda v, p, b: self._adgroups(v, p),
            ("GET", "ad/get"): lambda v, p, b: self._ads(v, p),
            ("GET", "file/image/ad/info"): lambda v, p, b: self._images(v, p),
            ("GET", "dmp/custom_audience/list"): lambda v, p, b: self._audiences(v, p),
            ("GET", "dmp/custom_audience/get"): lambda v, p, b: self._audience_get(v, p),
            ("GET", "report/integrated/get"): lambda v, p, b: self._report(v, p),
            ("POST", "report/task/create"): lambda v, p, b: self._task_create(v, p),
            ("GET", "report/task/check"): self._task_check,
            ("GET", "report/task/download"): lambda v, p, b: self._task_download(v, p),
            ("POST", "campaign/create"): lambda v, p, b: writer(v).campaign_create(p),
            ("POST", "adgroup/create"): lambda v, p, b: writer(v).adgroup_create(p),
            ("POST", "ad/create"): lambda v, p, b: writer(v).ad_create(p),
            ("POST", "campaign/update"): lambda v, p, b: writer(v).campaign_update(p),
            ("POST", "adgroup/update"): lambda v, p, b: writer(v).adgroup_update(p),
            ("POST", "file/image/ad/upload"): lambda v, p, b: writer(v).image_upload(p),
        }
        for status_path in STATUS_ENDPOINTS:
            routes[("POST", status_path)] = lambda v, p, b, sp=status_path: writer(v).status_update(sp, p)
        return routes

    def _route(self, method: str, path: str) -> Callable[[TikTokView, TikTokParams, str], Any]:
        routes = self._routes()
        handler = routes.get((method, path))
        if handler is not None:
            return handler
        known = [m for (m, p) in routes if p == path]
        if known:
            raise invalid("method", f"{path}/ takes {known[0]}, not {method}")
        raise TikTokError(errors.ROUTE_NOT_FOUND, f"Route /open_api/v1.3/{path}/ not found", http_status=404)

    def _dispatch(
        self,
        handler: Callable[[TikTokView, TikTokParams, str], Any],
        path: str,
        params: TikTokParams,
        token: str,
        base: str,
    ) -> Any:
        if not token:
            raise TikTokError(
                errors.TOKEN_EMPTY, "Access token is null. Please check the Access-Token header."
            )
        if not hmac.compare_digest(token.encode(), self.token.encode()):
            raise _revoked()
        if not self.limiter.allow(token, group_of(path)):
            raise errors.too_many_requests()
        return handler(TikTokView(self.market, base), params, base)

    # -- reads ------------------------------------------------------------------------------------

    def _advertisers(self, view: TikTokView, params: TikTokParams) -> dict[str, Any]:
        app_id = params.string("app_id", required=True)
        secret = params.string("secret", required=True)
        if app_id != self.app_id:
            raise invalid("app_id", "does not match the app that issued this access token")
        if not hmac.compare_digest(str(secret).encode(), self.secret.encode()):
            raise invalid("secret", "is not this app's secret")
        params.check_unused()
        return {"list": [{"advertiser_id": a.id, "advertiser_name": a.name} for a in view.advertisers()]}

    def _advertiser_info(self, view: TikTokView, params: TikTokParams) -> dict[str, Any]:
        ids = params.string_list("advertiser_ids", required=True, max_items=100) or []
        rows = [view.advertiser_row(view.advertiser(i)) for i in ids]
        rows = select(rows, params, "advertiser_id")
        params.check_unused()
        return {"list": rows}

    def _list(
        self,
        params: TikTokParams,
        rows: list[dict[str, Any]],
        *,
        level: str,
        keys: dict[str, str],
    ) -> dict[str, Any]:
        rows = filter_rows(rows, params, level=level, keys=keys)
        page, size = page_window(params)
        body = paged(rows, page, size)
        body["list"] = select(body["list"], params, f"{level}_id")
        params.check_unused(LIST_PARAMS)
        return body

    def _campaigns(self, view: TikTokView, params: TikTokParams) -> dict[str, Any]:
        account = view.advertiser(params.string("advertiser_id", required=True))
        rows = [view.campaign_row(c) for c in view.world.campaigns_of(account.id)]
        return self._list(params, rows, level="campaign", keys={"campaign_ids": "campaign_id"})

    def _adgroups(self, view: TikTokView, params: TikTokParams) -> dict[str, Any]:
        account = view.advertiser(params.string("advertiser_id", required=True))
        rows = [view.adgroup_row(s) for s in view.world.adsets_of(account.id)]
        keys = {"campaign_ids": "campaign_id", "adgroup_ids": "adgroup_id"}
        return self._list(params, rows, level="adgroup", keys=keys)

    def _ads(self, view: TikTokView, params: TikTokParams) -> dict[str, Any]:
        account = view.advertiser(params.string("advertiser_id", required=True))
        rows = [view.ad_row(a) for a in view.world.ads_of(account.id)]
        keys = {"campaign_ids": "campaign_id", "adgroup_ids": "adgroup_id", "ad_ids": "ad_id"}
        return self._list(params, rows, level="ad", keys=keys)

    def _images(self, view: TikTokView, params: TikTokParams) -> dict[str, Any]:
        account = view.advertiser(params.string("advertiser_id", required=True))
        ids = params.string_list("image_ids", required=True, max_items=100) or []
        params.check_unused()
        images = [view.world.images.get(f"{account.id}:{i}") for i in dict.fromkeys(ids)]
        return {"list": [view.image_row(i) for i in images if i is not None]}

    def _audiences(self, view: TikTokView, params: TikTokParams) -> dict[str, Any]:
        account = view.advertiser(params.string("advertiser_id", required=True))
        wanted = params.string_list("custom_audience_ids")
        page, size = page_window(params)
        params.check_unused()
        rows = [
            view.audience_row(a)
            for a in view.world.audiences.values()
            if a.account_id == account.id and (wanted is None or a.id in wanted)
        ]
        return paged(rows, page, size)

    def _audience_get(self, view: TikTokView, params: TikTokParams) -> dict[str, Any]:
        account = view.advertiser(params.string("advertiser_id", required=True))
        ids = params.string_list("custom_audience_ids", required=True, max_items=100) or []
        params.check_unused()
        audiences = [view.owned(view.world.audiences, "custom_audience", i, account) for i in ids]
        return {
            "list": [{"audience_details": view.audience_row(a), "audience_history": []} for a in audiences]
        }

    # -- reports ----------------------------------------------------------------------------------

    def _report(self, view: TikTokView, params: TikTokParams) -> dict[str, Any]:
        query = parse_report(view, params)
        body = ReportEngine(view).answer(query, params)
        params.check_unused(ACCEPTED)
        return body

    def _task_create(self, view: TikTokView, params: TikTokParams) -> dict[str, Any]:
        query = parse_report(view, params)
        params.check_unused(ACCEPTED - {"page", "page_size"})
        rows, _ = ReportEngine(view).rows(query)
        task = self.tasks.add(query.account_id, query, rows, self.market.config.seed)
        return {"task_id": task.id}

    def _task_check(self, view: TikTokView, params: TikTokParams, base: str) -> dict[str, Any]:
        account = view.advertiser(params.string("advertiser_id", required=True))
        task = self.tasks.get(str(params.string("task_id", required=True)), account.id)
        params.check_unused()
        status = self.tasks.check(task)
        body: dict[str, Any] = {"task_id": task.id, "status": status}
        if status == "SUCCESS":
            body["download_url"] = (
                f"{base}/open_api/v1.3/report/task/download/?task_id={task.id}&advertiser_id={account.id}"
            )
        return body

    def _task_download(self, view: TikTokView, params: TikTokParams) -> Response:
        account = view.advertiser(params.string("advertiser_id", required=True))
        task = self.tasks.get(str(params.string("task_id", required=True)), account.id)
        params.check_unused()
        if not self.tasks.done(task):
            raise TikTokError(40201, "Task is not ready. Check its status with report/task/check/ first.")
        return Response(
            to_csv(task.query, task.rows),
            media_type="text/csv",
            headers={"content-disposition": f'attachment; filename="report_{task.id}.csv"'},
        )


def _revoked() -> TikTokError:
    return TikTokError(errors.TOKEN_INVALID, "Access token is incorrect or has been revoked.")
