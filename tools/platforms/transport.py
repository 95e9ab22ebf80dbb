"""One shared async transport for every adapter: retries with jittered backoff (tenacity), pacing from
the platform's own usage signals, typed errors, raw-lake capture and request-id logging.

Adapters only build requests and parse bodies; everything about *how* a call is made lives here.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from storage.lake import redact, redact_url
from tools.platforms.errors import PlatformError, RateLimitedError, TransientError

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
Parse = Callable[[httpx.Response], Any]


class ResponseSink(Protocol):
    """Receives every response body as received (the raw lake), before it is parsed."""

    def __call__(
        self,
        *,
        platform: str,
        account: str,
        stream: str,
        method: str,
        url: str,
        params: dict[str, Any] | None,
        status: int,
        body: bytes,
    ) -> None: ...


class Pacer(Protocol):
    """Slows calls down as a platform's usage signals near its limit."""

    def delay(self) -> float: ...

    def observe(self, response: httpx.Response) -> None: ...


class NoPacing:
    def delay(self) -> float:
        return 0.0

    def observe(self, response: httpx.Response) -> None:
        return None


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    attempts: int = 6
    initial_seconds: float = 0.5
    max_seconds: float = 60.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.initial_seconds < 0 or self.max_seconds < self.initial_seconds:
            raise ValueError("retry policy needs attempts >= 1 and 0 <= initial_seconds <= max_seconds")


class Transport:
    def __init__(
        self,
        *,
        platform: str,
        client: httpx.AsyncClient,
        parse: Parse,
        pacer: Pacer | None = None,
        retry: RetryPolicy | None = None,
        sink: ResponseSink | None = None,
        sleep: Sleep = asyncio.sleep,
        request_id_header: str | None = None,
    ) -> None:
        self.platform = platform
        self.client = client
        self.parse = parse
        self.pacer = pacer or NoPacing()
        self.retry = retry or RetryPolicy()
        self.sink = sink
        self.sleep = sleep
        self.request_id_header = request_id_header
        self.requests = 0  # HTTP requests actually sent, retries included
        self.waited = 0.0  # seconds spent pacing and backing off

    def _wait(self, state: RetryCallState) -> float:
        base = wait_random_exponential(multiplier=self.retry.initial_seconds, max=self.retry.max_seconds)(
            state
        )
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimitedError) and exc.retry_after:
            return max(base, min(exc.retry_after, self.retry.max_seconds * 10))
        return base

    async def _sleep(self, seconds: float) -> None:
        self.waited += seconds
        await self.sleep(seconds)

    async def pause(self, seconds: float) -> None:
        """Wait between polls of a report job (counted with the transport's other waits)."""
        await self._sleep(seconds)

    async def call(
        self,
        method: str,
        url: str,
        *,
        account: str,
        stream: str,
        params: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        json: Any = None,
        files: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """Send one logical request (retrying as needed) and return the parsed body."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.retry.attempts),
            wait=self._wait,
            sleep=self._sleep,
            reraise=True,
            retry=retry_if_exception(lambda e: isinstance(e, PlatformError) and e.retryable),
        )
        async for attempt in retrying:
            with attempt:
                return await self._once(
                    method,
                    url,
                    account=account,
                    stream=stream,
                    params=params,
                    data=data,
                    json=json,
                    files=files,
                    headers=headers,
                )
        raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover

    async def _once(
        self,
        method: str,
        url: str,
        *,
        account: str,
        stream: str,
        params: dict[str, Any] | None,
        data: dict[str, Any] | None,
        json: Any,
        files: Any,
        headers: dict[str, str] | None,
    ) -> Any:
        pause = self.pacer.delay()
        if pause > 0:
            logger.debug(
                "%s: pacing %.2fs before %s %s (usage near the limit)",
                self.platform,
                pause,
                method,
                redact_url(url),
            )
            await self._sleep(pause)
        started = time.monotonic()
        self.requests += 1
        try:
            response = await self.client.request(
                method, url, params=params, data=data, json=json, files=files, headers=headers
            )
        except httpx.TimeoutException as exc:
            raise TransientError(f"timeout on {method} {redact_url(url)}", platform=self.platform) from exc
        except httpx.TransportError as exc:
            raise TransientError(
                f"{type(exc).__name__} on {method} {redact_url(url)}", platform=self.platform
            ) from exc
        body = response.content
        if self.sink is not None:
            self.sink(
                platform=self.platform,
                account=account,
                stream=stream,
                method=method,
                url=str(response.request.url),
                params=redact(params or data),
                status=response.status_code,
                body=body,
            )
        self.pacer.observe(response)
        request_id = response.headers.get(self.request_id_header or "", "") if self.request_id_header else ""
        logger.debug(
            "%s %s %s -> %s in %.0f ms %s",
            self.platform,
            method,
            redact_url(str(response.request.url)),
            response.status_code,
            1000 * (time.monotonic() - started),
            request_id,
        )
        return self.parse(response)
