"""The TikTok Business API surface under /open_api/v1.3/ (routes are added as they are built)."""

from __future__ import annotations

import secrets

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sandbox.faults import FaultInjector
from sandbox.market.market import Market
from sandbox.market.segments import Platform


class TikTokApi:
    def __init__(self, market: Market, faults: FaultInjector) -> None:
        self.market = market
        self.faults = faults

    async def handle(self, request: Request, path: str) -> Response:
        self.faults.next_fault(Platform.TIKTOK)
        return JSONResponse(
            {
                "code": 40002,
                "message": f"Invalid path: {request.url.path}",
                "request_id": secrets.token_hex(10),
                "data": {},
            }
        )
