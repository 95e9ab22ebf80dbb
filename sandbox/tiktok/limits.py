"""Per-token QPS limits per endpoint group, refused with code 40100 in an HTTP-200 body.

TikTok publishes its limits only per app tier; the numbers for `real` (10 QPS for reporting, 20 QPS for
campaign management, per access token) are unconfirmed guesses on a par with the basic tier. `relaxed`
multiplies them by 10 (the default, so test suites and demos are not throttled), `off` never refuses.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

Group = Literal["report", "management"]
WINDOW_S = 1.0


class RateLimitMode(StrEnum):
    REAL = "real"
    RELAXED = "relaxed"
    OFF = "off"


@dataclass(frozen=True, kw_only=True)
class TikTokLimits:
    report_qps: int  # report/* calls per token per second
    management_qps: int  # every other call per token per second
    enforce: bool = True

    def __post_init__(self) -> None:
        if self.report_qps <= 0 or self.management_qps <= 0:
            raise ValueError("TikTok QPS limits must be positive")

    @classmethod
    def for_mode(cls, mode: RateLimitMode | str) -> TikTokLimits:
        try:
            chosen = RateLimitMode(mode.strip().lower() if isinstance(mode, str) else mode)
        except ValueError:
            allowed = ", ".join(repr(m.value) for m in RateLimitMode)
            raise ValueError(f"unknown rate-limit mode {mode!r}; allowed: {allowed}") from None
        if chosen is RateLimitMode.REAL:
            return cls(report_qps=10, management_qps=20)
        return cls(report_qps=100, management_qps=200, enforce=chosen is RateLimitMode.RELAXED)

    def qps(self, group: Group) -> int:
        return self.report_qps if group == "report" else self.management_qps


def group_of(path: str) -> Group:
    return "report" if path.startswith("report/") else "management"


class QpsLimiter:
    """Sliding one-second windows per (token, group); a refused call is not counted."""

    def __init__(self, limits: TikTokLimits, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._calls: dict[tuple[str, Group], deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, token: str, group: Group) -> bool:
        with self._lock:
            now = self._clock()
            calls = self._calls.setdefault((token, group), deque())
            while calls and calls[0] <= now - WINDOW_S:
                calls.popleft()
            if self.limits.enforce and len(calls) >= self.limits.qps(group):
                return False
            calls.append(now)
            return True
