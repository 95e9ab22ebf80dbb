"""X's rate limits: requests counted per endpoint category in fixed wall-clock windows.

Entity reads are limited per ad account and endpoint (10,000 / 15 min) and carry the
x-account-rate-limit-* headers as well; synchronous analytics 250 / 15 min and writes 450 / min per
user. "relaxed" multiplies every limit by 10; "off" counts and reports but never refuses.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum

from sandbox.x.errors import XError


class RateLimitMode(StrEnum):
    REAL = "real"
    RELAXED = "relaxed"
    OFF = "off"


class Category(StrEnum):
    READ = "read"  # entity GETs, per account and endpoint
    ANALYTICS = "analytics"  # synchronous stats, per user
    JOBS = "jobs"  # async stats job creation and polling, per user
    WRITE = "write"  # POST / PUT / DELETE, per user


@dataclass(frozen=True, kw_only=True)
class XLimits:
    read: int = 10_000
    read_window: int = 900
    analytics: int = 250
    analytics_window: int = 900
    jobs: int = 1_000  # X does not publish this one; generous so polling never trips it
    jobs_window: int = 900
    write: int = 450
    write_window: int = 60
    refuse: bool = True

    @classmethod
    def for_mode(cls, mode: RateLimitMode) -> XLimits:
        real = cls()
        if mode is RateLimitMode.REAL:
            return real
        relaxed = replace(real, read=real.read * 10, analytics=real.analytics * 10, write=real.write * 10)
        return replace(relaxed, jobs=real.jobs * 10, refuse=mode is not RateLimitMode.OFF)

    def of(self, category: Category) -> tuple[int, int]:
        return getattr(self, category.value), getattr(self, f"{category.value}_window")


class XThrottle:
    """Counts requests per (category, scope) in fixed windows; thread-safe."""

    def __init__(self, limits: XLimits, *, clock: Callable[[], float] = time.time) -> None:
        self.limits = limits
        self._clock = clock
        self._windows: dict[tuple[str, str], tuple[float, int]] = {}
        self._lock = threading.Lock()

    def check(self, category: Category, scope: str, *, account_level: bool) -> dict[str, str]:
        """Count one request; return the headers, or raise TOO_MANY_REQUESTS (the request is not served)."""
        limit, window = self.limits.of(category)
        now = self._clock()
        with self._lock:
            start, used = self._windows.get((category.value, scope), (now, 0))
            if now >= start + window:
                start, used = now, 0
            over = used >= limit and self.limits.refuse
            if not over:
                used += 1
            self._windows[(category.value, scope)] = (start, used)
        reset = str(math.ceil(start + window))
        remaining = str(max(0, limit - used))
        headers = {
            "x-rate-limit-limit": str(limit),
            "x-rate-limit-remaining": remaining,
            "x-rate-limit-reset": reset,
        }
        if account_level:
            headers.update(
                {
                    "x-account-rate-limit-limit": str(limit),
                    "x-account-rate-limit-remaining": remaining,
                    "x-account-rate-limit-reset": reset,
                }
            )
        if over:
            raise XError("TOO_MANY_REQUESTS", "Rate limit exceeded", status=429, headers=headers)
        return headers


def exhausted_headers(limit: int = 250, window: int = 900) -> dict[str, str]:
    """Headers of a refused request when the limit is not the sandbox's own (an injected fault)."""
    reset = str(math.ceil(time.time() + window))
    return {"x-rate-limit-limit": str(limit), "x-rate-limit-remaining": "0", "x-rate-limit-reset": reset}
