"""The X Ads API surface under /{version}/ (routes are added as they are built)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sandbox.faults import FaultInjector
from sandbox.market.market import Market
from sandbox.market.segments import Platform


class XApi:
    def __init__(self, market: Market, faults: FaultInjector) -> None:
        self.market = market
        self.faults = faults

    async def handle(self, request: Request, version: str, path: str) -> Response:
        self.faults.next_fault(Platform.X)
        return JSONResponse(
            {
                "errors": [
                    {"code": "ROUTE_NOT_FOUND", "message": "The requested resource could not be found"}
                ],
                "request": {"params": {}},
            },
            status_code=404,
        )
