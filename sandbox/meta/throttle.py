"""Meta's rate limits over wall-clock windows, with the usage headers a careful client watches.

Meta counts load three ways (ad-platform-apis.md §1.10), and the emulator keeps all three:

- app usage, per access token and hour (`x-app-usage`; over the cap: code 4);
- the ads-management score, per ad account: reads cost 1 point, writes 3, decaying over 300 s; going
  over the cap blocks the account for a minute (`x-ad-account-usage`; code 17);
- Business Use Case quotas, per ad account and hour, one for ads_management and one for ads_insights
  (`x-business-use-case-usage`; codes 80004 and 80000);

plus the cap on async insight report runs in flight per ad account (code 613).

Choices the wire reference leaves open, made here:

- Percentages are truncated (not rounded) to 2 decimals, so a header shows 100 only at the cap and a
  client backing off at 100 is never refused early or late. Whole numbers are sent as JSON integers,
  like Meta's `{"call_count": 12}`.
- `total_cputime` and `total_time` are half of `call_count`: the emulator has no real CPU cost, and
  Meta's own headers usually show them well below the call count.
- A refused call is counted nowhere, and its headers describe the state that refused it.
- While an account is blocked its `acc_id_util_pct` shows 100 and `reset_time_duration` counts down
  the block (or the point decay, whichever is longer).
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from enum import StrEnum
from typing import Any, Literal

from sandbox.meta.errors import GraphError

CallKind = Literal["read", "write", "insights"]

HOUR_S = 3600.0
POINTS: dict[str, int] = {"read": 1, "write": 3, "insights": 1}
QUOTA_PER_ACTIVE_AD = 40
ACCESS_TIER = "standard_access"
SUBCODE_APP = 1504022
SUBCODE_ACCOUNT = 2446079
SUBCODE_ASYNC = 1487742
CODE_BUC_INSIGHTS = 80000
CODE_BUC_MANAGEMENT = 80004

# A window holds at most this many entries whatever the call rate: calls closer together than
# window / _ENTRIES_PER_WINDOW share one entry (1 s for an hour window).
_ENTRIES_PER_WINDOW = 3600
# How often (in clock seconds) idle tokens and accounts are dropped, so memory follows live load only.
_SWEEP_EVERY_S = 60.0


class RateLimitMode(StrEnum):
    REAL = "real"
    RELAXED = "relaxed"
    OFF = "off"


@dataclass(frozen=True, kw_only=True)
class MetaLimits:
    """The caps one sandbox enforces; `for_mode` gives the presets."""

    app_calls_per_hour: int  # per access token (x-app-usage); over -> code 4
    account_points: int  # ads-management score per ad account over score_window_s; over -> code 17
    score_window_s: float = 300.0  # only points from the last score_window_s seconds count
    block_s: float = 60.0  # how long an account stays blocked once it went over the point cap
    buc_management_per_hour: int  # ads_management quota per account and hour, + 40 per active ad -> 80004
    buc_insights_per_hour: int  # ads_insights quota per account and hour -> 80000
    max_async_runs: int  # async insight report runs in flight per ad account -> 613
    enforce: bool = True  # False: never refuse, but still count and report headers

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name != "enforce" and not value > 0:
                raise ValueError(f"MetaLimits.{f.name} must be positive, got {value!r}")

    @classmethod
    def for_mode(cls, mode: RateLimitMode | str) -> MetaLimits:
        try:
            chosen = RateLimitMode(mode.strip().lower() if isinstance(mode, str) else mode)
        except ValueError:
            allowed = ", ".join(repr(m.value) for m in RateLimitMode)
            raise ValueError(f"unknown rate-limit mode {mode!r}; allowed: {allowed}") from None
        real = cls(
            app_calls_per_hour=200_000,  # Marketing API calls are not app-limited in practice
            account_points=9000,  # standard access tier
            score_window_s=300.0,
            block_s=60.0,
            buc_management_per_hour=100_000,  # standard tier, before the 40 per active ad
            buc_insights_per_hour=100_000,  # unconfirmed: Meta does not publish it; a guess on a par
            max_async_runs=50,
        )
        if chosen is RateLimitMode.REAL:
            return real
        # Relaxed scales the caps only: longer windows or blocks would make it stricter, not looser.
        relaxed = replace(
            real,
            app_calls_per_hour=real.app_calls_per_hour * 10,
            account_points=real.account_points * 10,
            buc_management_per_hour=real.buc_management_per_hour * 10,
            buc_insights_per_hour=real.buc_insights_per_hour * 10,
            max_async_runs=real.max_async_runs * 10,
        )
        return relaxed if chosen is RateLimitMode.RELAXED else replace(relaxed, enforce=False)


@dataclass(frozen=True)
class ThrottleResult:
    headers: dict[str, str]  # the usage headers to send, refused or not
    error: GraphError | None  # set when the call is refused (it was then not counted)


class _Window:
    """A sliding sum over the last `window_s` seconds, bounded in memory.

    Calls closer together than the resolution share the entry of the first of them and leave the window
    with it, at most one resolution early: that keeps at most _ENTRIES_PER_WINDOW entries at any rate.
    """

    __slots__ = ("_entries", "_resolution", "_total", "window_s")

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._resolution = window_s / _ENTRIES_PER_WINDOW
        self._entries: deque[tuple[float, int]] = deque()
        self._total = 0

    def total(self, now: float) -> int:
        entries = self._entries
        while entries and entries[0][0] + self.window_s <= now:
            self._total -= entries.popleft()[1]
        return self._total

    def add(self, now: float, amount: int) -> None:
        entries = self._entries
        if entries and now - entries[-1][0] < self._resolution:
            start, counted = entries.pop()
            entries.append((start, counted + amount))
        else:
            entries.append((now, amount))
        self._total += amount

    def seconds_until_below(self, now: float, level: int) -> float:
        """How long until old entries leave and the sum drops below `level` (0 if it already is)."""
        remaining = self.total(now)
        if remaining < level:
            return 0.0
        for start, amount in self._entries:
            remaining -= amount
            if remaining < level:
                return max(0.0, start + self.window_s - now)
        return 0.0  # only reached for level <= 0, which MetaLimits forbids

    def __len__(self) -> int:
        return len(self._entries)


class _Account:
    __slots__ = ("blocked_until", "insights", "management", "points", "runs")

    def __init__(self, limits: MetaLimits) -> None:
        self.points = _Window(limits.score_window_s)
        self.management = _Window(HOUR_S)
        self.insights = _Window(HOUR_S)
        self.blocked_until = -math.inf
        self.runs: set[str] = set()

    def idle(self, now: float) -> bool:
        return (
            now >= self.blocked_until
            and not self.runs
            and not any(w.total(now) for w in (self.points, self.management, self.insights))
        )


class MetaThrottle:
    """Counts calls, refuses those over the limits (when enforcing) and builds the usage headers."""

    def __init__(self, limits: MetaLimits, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._apps: dict[str, _Window] = {}
        self._accounts: dict[str, _Account] = {}
        self._lock = threading.Lock()  # the ASGI app may call from a thread pool
        self._last_sweep = -math.inf

    def check(
        self, *, token: str, account_id: str | None, kind: CallKind, active_ads: int = 0
    ) -> ThrottleResult:
        """Count one call (unless refused) and return the headers to send with its answer."""
        if kind not in POINTS:
            raise ValueError(f"unknown call kind {kind!r}; allowed: {', '.join(POINTS)}")
        if active_ads < 0:
            raise ValueError(f"active_ads must be >= 0, got {active_ads}")
        with self._lock:
            now = self._clock()
            self._sweep(now)
            app = self._apps.setdefault(token, _Window(HOUR_S))
            key = _account_key(account_id) if account_id is not None else None
            account = self._account(key) if key is not None else None
            error = self._refusal(now, app, account, kind, active_ads) if self.limits.enforce else None
            if error is None:
                app.add(now, 1)
                if account is not None:
                    account.points.add(now, POINTS[kind])
                    (account.insights if kind == "insights" else account.management).add(now, 1)
            headers = self._headers(now, app, key, account, kind, active_ads)
            if error is not None:
                error.headers = dict(headers)
            return ThrottleResult(headers=headers, error=error)

    def async_run_started(self, account_id: str, run_id: str) -> GraphError | None:
        """Register a report run in flight; refuse it with 613 when the account has its maximum."""
        with self._lock:
            account = self._account(_account_key(account_id))
            if run_id in account.runs:
                return None  # the same run announced twice is still one run
            if self.limits.enforce and len(account.runs) >= self.limits.max_async_runs:
                return GraphError(
                    "(#613) Calls to this api have exceeded the rate limit.",
                    code=613,
                    subcode=SUBCODE_ASYNC,
                    is_transient=True,
                )
            account.runs.add(run_id)
            return None

    def async_run_finished(self, account_id: str, run_id: str) -> None:
        with self._lock:
            account = self._accounts.get(_account_key(account_id))
            if account is not None:
                account.runs.discard(run_id)

    # -- internals (callers hold the lock) --

    def _account(self, key: str) -> _Account:
        account = self._accounts.get(key)
        if account is None:
            account = self._accounts[key] = _Account(self.limits)
        return account

    def _refusal(
        self, now: float, app: _Window, account: _Account | None, kind: CallKind, active_ads: int
    ) -> GraphError | None:
        limits = self.limits
        if account is not None and now < account.blocked_until:
            return _account_limit()
        if app.total(now) + 1 > limits.app_calls_per_hour:
            return GraphError(
                "(#4) Application request limit reached", code=4, subcode=SUBCODE_APP, is_transient=True
            )
        if account is None:
            return None
        if kind == "insights":
            if account.insights.total(now) + 1 > limits.buc_insights_per_hour:
                return _buc_limit(CODE_BUC_INSIGHTS, "ads-insights")
        elif account.management.total(now) + 1 > self._management_quota(active_ads):
            return _buc_limit(CODE_BUC_MANAGEMENT, "ads-management")
        if account.points.total(now) + POINTS[kind] > limits.account_points:
            account.blocked_until = now + limits.block_s
            return _account_limit()
        return None

    def _management_quota(self, active_ads: int) -> int:
        return self.limits.buc_management_per_hour + QUOTA_PER_ACTIVE_AD * active_ads

    def _headers(
        self,
        now: float,
        app: _Window,
        key: str | None,
        account: _Account | None,
        kind: CallKind,
        active_ads: int,
    ) -> dict[str, str]:
        limits = self.limits
        calls = app.total(now)
        app_pct = _pct(calls, limits.app_calls_per_hour)
        headers = {"x-app-usage": _json(_usage(calls, limits.app_calls_per_hour))}
        insights_pct: int | float = 0
        if key is not None and account is not None:
            points = account.points.total(now)
            blocked_for = max(0.0, account.blocked_until - now)
            decay = account.points.seconds_until_below(now, limits.account_points)
            headers["x-ad-account-usage"] = _json(
                {
                    "acc_id_util_pct": 100 if blocked_for > 0 else _pct(points, limits.account_points),
                    "reset_time_duration": math.ceil(max(blocked_for, decay)),
                    "ads_api_access_tier": ACCESS_TIER,
                }
            )
            management = _buc("ads_management", account.management, self._management_quota(active_ads), now)
            insights = _buc("ads_insights", account.insights, limits.buc_insights_per_hour, now)
            insights_pct = insights["call_count"]
            headers["x-business-use-case-usage"] = _json({key: [management, insights]})
        if kind == "insights":
            headers["x-fb-ads-insights-throttle"] = _json(
                {"app_id_util_pct": app_pct, "acc_id_util_pct": insights_pct}
            )
        return headers

    def _sweep(self, now: float) -> None:
        """Drop tokens and accounts with nothing left in their windows, so idle ones cost no memory."""
        if now - self._last_sweep < _SWEEP_EVERY_S:
            return
        self._last_sweep = now
        for token in [t for t, w in self._apps.items() if not w.total(now)]:
            del self._apps[token]
        for key in [k for k, a in self._accounts.items() if a.idle(now)]:
            del self._accounts[key]


def _account_key(account_id: str) -> str:
    return account_id.removeprefix("act_")


def _pct(count: int, cap: int) -> int | float:
    """count / cap in percent, truncated to 2 decimals in integer arithmetic, never above 100."""
    hundredths = min(10_000, count * 10_000 // cap)
    return hundredths // 100 if hundredths % 100 == 0 else hundredths / 100


def _usage(count: int, cap: int) -> dict[str, int | float]:
    # No real CPU or wall time is spent, so both mirror the call count at half its level.
    return {
        "call_count": _pct(count, cap),
        "total_cputime": _pct(count, 2 * cap),
        "total_time": _pct(count, 2 * cap),
    }


def _buc(type_: str, window: _Window, quota: int, now: float) -> dict[str, Any]:
    count = window.total(now)
    regain = 0
    if count >= quota:  # exhausted: whole minutes (at least 1) until enough old calls leave the hour
        regain = max(1, math.ceil(window.seconds_until_below(now, quota) / 60))
    return {"type": type_, **_usage(count, quota), "estimated_time_to_regain_access": regain}


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":"))


def _account_limit() -> GraphError:
    return GraphError("(#17) User request limit reached", code=17, subcode=SUBCODE_ACCOUNT, is_transient=True)


def _buc_limit(code: int, anchor: str) -> GraphError:
    return GraphError(
        f"(#{code}) There have been too many calls from this ad-account. Wait a bit and try again. "
        f"For more info, please refer to https://developers.facebook.com/docs/graph-api/overview/"
        f"rate-limiting#{anchor}.",
        code=code,
        is_transient=True,
    )
