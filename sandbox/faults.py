"""Fault injection and traffic counting, shared by the three platform APIs.

Faults are switched on per platform by an admin call, with a rate and a seed: each request to that
platform draws, from (seed, platform, request number), whether it misbehaves and how. Each platform
renders a fault in its own form (Meta's code 17 on HTTP 400, X's 429 with reset headers, TikTok's
code 40100 on HTTP 200, ...). With faults off nothing is drawn and nothing differs from a clean run.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from sandbox.market import keyed
from sandbox.market.segments import Platform


class FaultKind(StrEnum):
    RATE_LIMIT = "rate_limit"  # the platform's own throttle answer
    SERVER_ERROR = "server_error"  # a transient 5xx (or the platform's system-error code)
    SLOW = "slow"  # answered correctly after `slow_seconds`
    MALFORMED = "malformed"  # HTTP 200 with a body that is not the documented shape (not JSON)
    TRUNCATED = "truncated"  # HTTP 200 with the real body cut short mid-way
    EXPIRED_TOKEN = "expired_token"  # the platform's expired / revoked credential error


class FaultConfig(BaseModel):
    """Faults for one platform: each request misbehaves with probability `rate`, as one of `kinds`."""

    model_config = ConfigDict(extra="forbid")

    rate: float = Field(ge=0.0, le=1.0, description="share of requests that misbehave")
    seed: int = Field(default=0, ge=0, le=2**63 - 1)
    kinds: list[FaultKind] = Field(default_factory=lambda: list(FaultKind), min_length=1)
    slow_seconds: float = Field(default=2.0, ge=0.0, le=60.0)


class FaultInjector:
    """Per-platform fault plans and request counters; thread-safe."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._configs: dict[Platform, FaultConfig] = {}
        self._requests: dict[Platform, int] = dict.fromkeys(Platform, 0)
        self._injected: dict[Platform, dict[str, int]] = {p: {} for p in Platform}
        self._recent: dict[Platform, deque[float]] = {p: deque() for p in Platform}
        self._lock = threading.Lock()
        self._clock = clock

    def configure(self, platform: Platform, config: FaultConfig | None) -> None:
        with self._lock:
            if config is None or config.rate == 0:
                self._configs.pop(platform, None)
            else:
                self._configs[platform] = config

    def config(self, platform: Platform) -> FaultConfig | None:
        return self._configs.get(platform)

    def next_fault(self, platform: Platform) -> FaultKind | None:
        """Count one request to `platform` and draw whether it misbehaves."""
        with self._lock:
            n = self._requests[platform]
            self._requests[platform] = n + 1
            now = self._clock()
            recent = self._recent[platform]
            recent.append(now)
            while recent and recent[0] < now - 60:
                recent.popleft()
            config = self._configs.get(platform)
            if config is None:
                return None
            key = keyed.stable_key("fault", platform.value)
            if float(keyed.uniform(config.seed, key, n, 1)) >= config.rate:
                return None
            pick = int(float(keyed.uniform(config.seed, key, n, 2)) * len(config.kinds))
            kind = config.kinds[min(pick, len(config.kinds) - 1)]
            self._injected[platform][kind.value] = self._injected[platform].get(kind.value, 0) + 1
            return kind

    def traffic(self) -> dict[str, dict[str, object]]:
        """Requests per platform: total, last second, mean per second over the last minute, faults."""
        with self._lock:
            now = self._clock()
            out: dict[str, dict[str, object]] = {}
            for p in Platform:
                recent = [t for t in self._recent[p] if t >= now - 60]
                out[p.value] = {
                    "total": self._requests[p],
                    "last_second": sum(1 for t in recent if t >= now - 1),
                    "per_second_last_minute": round(len(recent) / 60.0, 3),
                    "faults_injected": dict(self._injected[p]),
                    "faults": self._configs[p].model_dump(mode="json") if p in self._configs else None,
                }
            return out


def truncate(body: bytes) -> bytes:
    """The first half of a body: what a client sees when a connection drops mid-page."""
    return body[: max(1, len(body) // 2)]


MALFORMED_BODY = b"<html><body>502 Bad Gateway</body></html>"
