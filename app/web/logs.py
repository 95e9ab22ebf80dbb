"""The web console's logs: one JSON object a line (python-json-logger), each with the id of the request
it belongs to (the client's `X-Request-ID`, or a new one), which the response carries back."""

from __future__ import annotations

import contextvars
import logging
import time
import uuid
from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from pythonjsonlogger.json import JsonFormatter

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
logger = logging.getLogger("adcluster.web")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


def json_logging(level: str | int = "INFO") -> None:
    """Root logging as JSON lines with the request id (what `adcluster serve` sets up)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s"))
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


async def request_ids(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    given = request.headers.get("x-request-id", "")
    rid = given if 0 < len(given) <= 64 and given.replace("-", "").isalnum() else uuid.uuid4().hex
    token = REQUEST_ID.set(rid)
    started = time.perf_counter()
    try:
        response = await call_next(request)
        logger.info(
            "request",
            extra={
                "method": request.method,
                "path": request.url.path,
                "status": response.status_code,
                "ms": round(1000 * (time.perf_counter() - started), 1),
            },
        )
        response.headers["X-Request-ID"] = rid
        return response
    finally:
        REQUEST_ID.reset(token)
