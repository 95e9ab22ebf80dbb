"""Posting JSON to a webhook (Slack-compatible incoming webhooks and the like), retried with backoff on
transport errors, 429 and 5xx; a refusal (4xx) is not retried."""

from __future__ import annotations

from typing import Any

import httpx
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code == 429 or exc.response.status_code >= 500
    return isinstance(exc, httpx.TransportError)


async def post_json(
    url: str,
    payload: dict[str, Any],
    *,
    client: httpx.AsyncClient | None = None,
    attempts: int = 3,
    wait_seconds: float = 0.5,
) -> None:
    """POST `payload`; raises the last httpx error when every attempt failed."""
    owned = client is None
    http = client or httpx.AsyncClient(timeout=10)
    try:
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(attempts),
            wait=wait_exponential(multiplier=wait_seconds, max=10),
            retry=retry_if_exception(_retryable),
            reraise=True,
        ):
            with attempt:
                response = await http.post(url, json=payload)
                response.raise_for_status()
    finally:
        if owned:
            await http.aclose()
