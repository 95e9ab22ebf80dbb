"""The sandbox ASGI app: one market, the admin API, uniform JSON errors, never a crash."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from sandbox.faults import FaultInjector
from sandbox.market.errors import MarketError, UnknownEntityError
from sandbox.market.market import Market
from sandbox.meta.api import MetaApi, MetaOptions
from sandbox.server import admin
from sandbox.tiktok.api import TikTokApi, TikTokOptions
from sandbox.x.api import XApi, XOptions

logger = logging.getLogger(__name__)


def _error(status: int, kind: str, message: str, **extra: object) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": {"type": kind, "message": message, **extra}})


def create_app(
    market: Market,
    *,
    meta: MetaOptions | None = None,
    x: XOptions | None = None,
    tiktok: TikTokOptions | None = None,
) -> FastAPI:
    app = FastAPI(
        title="adcluster sandbox",
        version="0.1.0",
        description="Emulated Meta, X and TikTok ad APIs over one seeded simulated market.",
    )
    app.state.market = market
    app.include_router(admin.router)
    faults = FaultInjector()
    app.state.faults = faults
    meta_api = MetaApi(market, meta, faults)
    x_api = XApi(market, faults, x)
    tiktok_api = TikTokApi(market, faults, tiktok)
    app.state.meta, app.state.x, app.state.tiktok = meta_api, x_api, tiktok_api

    async def platform(request: Request) -> Response:
        """Platform paths: /v{N}.{M}/ is Meta's Graph API, /{N}/ X's Ads API, /open_api/v1.3/ TikTok's."""
        first = request.path_params["first"]
        rest = request.path_params.get("rest", "")
        if first == "_sandbox":
            known = any(
                getattr(r, "path_regex", None) and r.path_regex.match(request.url.path)
                for r in admin.router.routes
            )
            if known:
                return _error(
                    405, "method_not_allowed", f"{request.method} is not allowed on {request.url.path}"
                )
            return _error(404, "unknown_route", f"no route {request.method} {request.url.path}")
        if first.startswith("v") and first[1:2].isdigit():
            return await meta_api.handle(request, first, rest)
        if first.isdigit():
            return await x_api.handle(request, first, rest)
        if first == "open_api" and rest.startswith("v1.3"):
            return await tiktok_api.handle(request, rest[len("v1.3") :].strip("/"))
        return _error(404, "unknown_route", f"no route {request.method} {request.url.path}")

    for path in ("/{first}", "/{first}/", "/{first}/{rest:path}"):
        app.add_api_route(path, platform, methods=["GET", "POST", "DELETE", "PUT"], include_in_schema=False)

    @app.exception_handler(UnknownEntityError)
    async def _unknown(_: Request, exc: UnknownEntityError) -> JSONResponse:
        return _error(404, "unknown_entity", str(exc))

    @app.exception_handler(MarketError)
    async def _market(_: Request, exc: MarketError) -> JSONResponse:
        return _error(400, type(exc).__name__, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        return _error(400, "invalid_request", "; ".join(problems))

    @app.exception_handler(ValidationError)
    async def _invalid_model(_: Request, exc: ValidationError) -> JSONResponse:
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        return _error(400, "invalid_request", "; ".join(problems))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return _error(404, "unknown_route", f"no route {request.method} {request.url.path}")
        if exc.status_code == 405:
            return _error(405, "method_not_allowed", f"{request.method} is not allowed on {request.url.path}")
        return _error(exc.status_code, "http_error", str(exc.detail))

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("sandbox error on %s %s", request.method, request.url.path)
        return _error(500, "internal_error", f"{type(exc).__name__}: {exc}")

    return app
