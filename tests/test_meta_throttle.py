"""Meta's emulated rate limits: usage headers, refusals, blocks, sliding windows, presets, async cap."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pytest

from sandbox.meta.throttle import (
    CallKind,
    MetaLimits,
    MetaThrottle,
    RateLimitMode,
    ThrottleResult,
    _Window,
)

T0 = 1000.0
BIG = 1_000_000
ALL_HEADERS = {"x-app-usage", "x-ad-account-usage", "x-business-use-case-usage"}
INSIGHTS_HEADER = "x-fb-ads-insights-throttle"


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def limits(**overrides: Any) -> MetaLimits:
    """Everything out of reach unless a test lowers it."""
    values: dict[str, Any] = {
        "app_calls_per_hour": BIG,
        "account_points": BIG,
        "score_window_s": 300.0,
        "block_s": 60.0,
        "buc_management_per_hour": BIG,
        "buc_insights_per_hour": BIG,
        "max_async_runs": BIG,
    }
    values.update(overrides)
    return MetaLimits(**values)


def make(**overrides: Any) -> tuple[MetaThrottle, FakeClock]:
    clock = FakeClock()
    return MetaThrottle(limits(**overrides), clock=clock), clock


def call(
    throttle: MetaThrottle,
    kind: CallKind = "read",
    *,
    token: str = "tok",
    account: str | None = "1",
    ads: int = 0,
) -> ThrottleResult:
    return throttle.check(token=token, account_id=account, kind=kind, active_ads=ads)


def header(result: ThrottleResult, name: str) -> Any:
    return json.loads(result.headers[name])


def app_pct(result: ThrottleResult) -> float:
    return header(result, "x-app-usage")["call_count"]


def points_pct(result: ThrottleResult) -> float:
    return header(result, "x-ad-account-usage")["acc_id_util_pct"]


def buc(result: ThrottleResult, type_: str, account: str = "1") -> dict[str, Any]:
    (entry,) = [e for e in header(result, "x-business-use-case-usage")[account] if e["type"] == type_]
    return entry


def management_pct(result: ThrottleResult) -> float:
    return buc(result, "ads_management")["call_count"]


def insights_pct(result: ThrottleResult) -> float:
    return buc(result, "ads_insights")["call_count"]


# -- headers --


@pytest.mark.parametrize(
    ("kind", "account", "expected"),
    [
        ("read", "1", ALL_HEADERS),
        ("write", "1", ALL_HEADERS),
        ("insights", "1", ALL_HEADERS | {INSIGHTS_HEADER}),
        ("read", None, {"x-app-usage"}),
        ("insights", None, {"x-app-usage", INSIGHTS_HEADER}),
    ],
)
def test_headers_present_and_shaped_for_each_kind(
    kind: CallKind, account: str | None, expected: set[str]
) -> None:
    throttle, _ = make(
        app_calls_per_hour=4, account_points=8, buc_management_per_hour=4, buc_insights_per_hour=4
    )
    result = call(throttle, kind, account=account)
    assert result.error is None
    assert set(result.headers) == expected
    for value in result.headers.values():
        assert isinstance(value, str) and " " not in value  # compact JSON strings
    assert header(result, "x-app-usage") == {"call_count": 25, "total_cputime": 12.5, "total_time": 12.5}
    if account is not None:
        assert header(result, "x-ad-account-usage") == {
            "acc_id_util_pct": 37.5 if kind == "write" else 12.5,
            "reset_time_duration": 0,
            "ads_api_access_tier": "standard_access",
        }
        body = header(result, "x-business-use-case-usage")
        assert list(body) == ["1"]
        assert [e["type"] for e in body["1"]] == ["ads_management", "ads_insights"]
        counted, idle = (body["1"][1], body["1"][0]) if kind == "insights" else (body["1"][0], body["1"][1])
        keys = ["type", "call_count", "total_cputime", "total_time", "estimated_time_to_regain_access"]
        assert list(counted) == keys and list(idle) == keys
        assert (counted["call_count"], counted["estimated_time_to_regain_access"]) == (25, 0)
        assert idle["call_count"] == 0
    if kind == "insights":
        assert header(result, INSIGHTS_HEADER) == {
            "app_id_util_pct": 25,
            "acc_id_util_pct": 25 if account is not None else 0,
        }


def test_account_id_is_reported_and_counted_without_act_prefix() -> None:
    throttle, _ = make(buc_management_per_hour=10)
    call(throttle, account="act_42")
    result = call(throttle, account="42")
    assert list(header(result, "x-business-use-case-usage")) == ["42"]
    assert buc(result, "ads_management", "42")["call_count"] == 20  # both calls on one account
    assert buc(call(throttle, account="act_43"), "ads_management", "43")["call_count"] == 10


def test_percentages_are_truncated_so_100_shows_only_at_the_cap() -> None:
    throttle, _ = make(app_calls_per_hour=3)
    assert [app_pct(call(throttle)) for _ in range(3)] == [33.33, 66.66, 100]
    big, _ = make(app_calls_per_hour=20_001)
    for _ in range(19_999):
        call(big)
    last_allowed_but_one = call(big)  # 20000 / 20001 = 99.995 %: rounding would already say 100
    assert app_pct(last_allowed_but_one) == 99.99
    assert app_pct(call(big)) == 100


# -- each limit: rising usage, 100 at the cap, the next call refused and not counted --


@dataclass(frozen=True)
class LimitCase:
    name: str
    overrides: dict[str, Any]
    kind: CallKind
    reading: Callable[[ThrottleResult], float]
    window_s: float
    code: int
    subcode: int | None
    message: str


BUC_TEXT = (
    "There have been too many calls from this ad-account. Wait a bit and try again. For more info, please "
    "refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting#"
)
LIMIT_CASES = [
    LimitCase("app", {"app_calls_per_hour": 10}, "read", app_pct, 3600, 4, 1504022,
              "(#4) Application request limit reached"),
    LimitCase("points-read", {"account_points": 10}, "read", points_pct, 300, 17, 2446079,
              "(#17) User request limit reached"),
    LimitCase("points-write", {"account_points": 30}, "write", points_pct, 300, 17, 2446079,
              "(#17) User request limit reached"),
    LimitCase("buc-management-read", {"buc_management_per_hour": 10}, "read", management_pct, 3600, 80004,
              None, f"(#80004) {BUC_TEXT}ads-management."),
    LimitCase("buc-management-write", {"buc_management_per_hour": 10}, "write", management_pct, 3600, 80004,
              None, f"(#80004) {BUC_TEXT}ads-management."),
    LimitCase("buc-insights", {"buc_insights_per_hour": 10}, "insights", insights_pct, 3600, 80000, None,
              f"(#80000) {BUC_TEXT}ads-insights."),
]  # fmt: skip


@pytest.mark.parametrize("case", LIMIT_CASES, ids=lambda c: c.name)
def test_usage_rises_to_100_then_the_next_call_is_refused_and_not_counted(case: LimitCase) -> None:
    throttle, clock = make(**case.overrides)
    readings = []
    for i in range(10):
        clock.now = T0 if i < 9 else T0 + 10  # the last allowed call comes a little later
        result = call(throttle, case.kind)
        assert result.error is None
        readings.append(case.reading(result))
    assert readings == [10 * (i + 1) for i in range(10)]  # rising with every call, 100 at the cap

    clock.now = T0 + 20
    for _ in range(3):
        refused = call(throttle, case.kind)
        error = refused.error
        assert error is not None
        assert (error.code, error.subcode, error.message) == (case.code, case.subcode, case.message)
        assert (error.http_status, error.type, error.is_transient) == (400, "OAuthException", True)
        assert error.headers == refused.headers
        assert case.reading(refused) == 100
        assert error.body()["error"]["code"] == case.code

    # Past the window only the later allowed call remains; a refused call, had it counted, would too.
    clock.now = T0 + case.window_s + 1
    after = call(throttle, case.kind)
    assert after.error is None
    assert case.reading(after) == 20


def test_other_counters_do_not_see_a_refused_call() -> None:
    throttle, _ = make(buc_management_per_hour=2, app_calls_per_hour=10, account_points=10)
    call(throttle)
    before = call(throttle)
    refused = call(throttle)
    assert refused.error is not None and refused.error.code == 80004
    assert app_pct(refused) == app_pct(before) == 20
    assert points_pct(refused) == points_pct(before) == 20


@pytest.mark.parametrize(
    ("overrides", "expected_code"),
    [
        ({"app_calls_per_hour": 5, "buc_management_per_hour": 5, "account_points": 5}, 4),
        ({"buc_management_per_hour": 5, "account_points": 5}, 80004),
        ({"account_points": 5}, 17),
    ],
)
def test_checks_run_app_then_buc_then_points(overrides: dict[str, Any], expected_code: int) -> None:
    throttle, _ = make(**overrides)
    for _ in range(5):
        assert call(throttle).error is None
    error = call(throttle).error
    assert error is not None and error.code == expected_code


def test_an_account_block_comes_before_the_app_limit() -> None:
    throttle, _ = make(app_calls_per_hour=5, account_points=5)
    for _ in range(5):
        call(throttle, token="a")
    blocker = call(throttle, token="b")  # fresh token: refused on points, which starts the block
    assert blocker.error is not None and blocker.error.code == 17
    error = call(throttle, token="a").error
    assert error is not None and error.code == 17  # token "a" is also over its app cap


# -- the ads-management score block --


def test_a_write_that_would_pass_the_cap_blocks_the_account_for_block_s() -> None:
    throttle, clock = make(account_points=30, block_s=60)
    for _ in range(29):
        call(throttle)
    clock.advance(1)
    refused = call(throttle, "write")  # 29 + 3 > 30, though 29 is under the cap
    assert refused.error is not None and (refused.error.code, refused.error.subcode) == (17, 2446079)
    assert header(refused, "x-ad-account-usage")["acc_id_util_pct"] == 100
    assert header(refused, "x-ad-account-usage")["reset_time_duration"] == 60

    clock.advance(59.5)
    during = call(throttle)  # a read would fit (29 + 1 <= 30): refused only because of the block
    assert during.error is not None and during.error.code == 17
    assert header(during, "x-ad-account-usage")["reset_time_duration"] == 1

    clock.advance(0.5)
    lifted = call(throttle)
    assert lifted.error is None  # the refused write was not counted either: 29 + 1 fits
    assert header(lifted, "x-ad-account-usage") == {
        "acc_id_util_pct": 100,
        "reset_time_duration": 300 - 61,
        "ads_api_access_tier": "standard_access",
    }


def test_other_accounts_are_not_blocked() -> None:
    throttle, _ = make(account_points=2)
    call(throttle, "read", account="1")
    assert call(throttle, "write", account="1").error is not None
    assert call(throttle, "read", account="2").error is None


# -- sliding windows --


@pytest.mark.parametrize(
    ("overrides", "kind", "reading", "window_s"),
    [
        ({"app_calls_per_hour": 100}, "read", app_pct, 3600),
        ({"account_points": 100}, "read", points_pct, 300),
        ({"buc_management_per_hour": 100}, "write", management_pct, 3600),
        ({"buc_insights_per_hour": 100}, "insights", insights_pct, 3600),
    ],
)
def test_sliding_windows_forget_old_calls(
    overrides: dict[str, Any], kind: CallKind, reading: Callable[[ThrottleResult], float], window_s: float
) -> None:
    throttle, clock = make(**overrides)
    for _ in range(10):
        call(throttle, kind)
    clock.advance(window_s / 2)
    for _ in range(9):
        call(throttle, kind)
    assert reading(call(throttle, kind)) == 20
    clock.advance(window_s / 2)  # the first ten leave; the window slides, it does not reset
    assert reading(call(throttle, kind)) == 11
    clock.advance(window_s / 2)
    assert reading(call(throttle, kind)) == 2


def test_reset_time_duration_counts_down_the_point_decay() -> None:
    throttle, clock = make(account_points=10, score_window_s=300, enforce=False)
    for _ in range(9):
        assert header(call(throttle), "x-ad-account-usage")["reset_time_duration"] == 0  # under the cap
    assert header(call(throttle), "x-ad-account-usage")["reset_time_duration"] == 300  # at the cap
    clock.advance(100.5)
    over = call(throttle)  # 11 points: below the cap again once the first ten leave, in 199.5 s
    assert header(over, "x-ad-account-usage")["reset_time_duration"] == 200
    assert header(call(throttle, account="2"), "x-ad-account-usage")["reset_time_duration"] == 0


def test_estimated_time_to_regain_access_in_whole_minutes_once_exhausted() -> None:
    throttle, clock = make(buc_insights_per_hour=3)
    call(throttle, "insights")
    clock.advance(10)
    call(throttle, "insights")
    assert buc(call(throttle, "read"), "ads_insights")["estimated_time_to_regain_access"] == 0
    last = call(throttle, "insights")
    assert buc(last, "ads_insights")["estimated_time_to_regain_access"] == 60  # 3590 s -> 60 min
    assert buc(last, "ads_management")["estimated_time_to_regain_access"] == 0

    clock.advance(1800)  # 1790 s left -> 30 min
    assert buc(call(throttle, "insights"), "ads_insights")["estimated_time_to_regain_access"] == 30
    clock.now = T0 + 3599.5  # half a second left: still at least 1 minute
    refused = call(throttle, "insights")
    assert refused.error is not None
    assert buc(refused, "ads_insights")["estimated_time_to_regain_access"] == 1
    clock.now = T0 + 3600
    regained = call(throttle, "insights")
    assert regained.error is None  # full again; the two calls of T0 + 10 leave in 10 s -> 1 min
    assert buc(regained, "ads_insights")["estimated_time_to_regain_access"] == 1


# -- the BUC quota and active ads --


def test_management_quota_grows_by_40_per_active_ad() -> None:
    throttle, _ = make(buc_management_per_hour=10)
    for _ in range(10):
        call(throttle, ads=1)
    assert management_pct(call(throttle, ads=0)) == 100  # refused under the bare quota ...
    assert call(throttle, ads=0).error is not None
    allowed = call(throttle, ads=1)  # ... but 50 with one active ad
    assert allowed.error is None and management_pct(allowed) == 22
    for _ in range(39):
        assert call(throttle, ads=1).error is None
    refused = call(throttle, ads=1)
    assert refused.error is not None and refused.error.code == 80004


def test_active_ads_do_not_grow_the_insights_quota() -> None:
    throttle, _ = make(buc_insights_per_hour=10)
    for _ in range(10):
        assert call(throttle, "insights", ads=5).error is None
    refused = call(throttle, "insights", ads=5)
    assert refused.error is not None and refused.error.code == 80000


# -- enforce False --


def test_not_enforcing_never_refuses_but_still_counts_and_reports() -> None:
    throttle, clock = make(
        app_calls_per_hour=5,
        account_points=5,
        buc_management_per_hour=5,
        buc_insights_per_hour=5,
        max_async_runs=1,
        enforce=False,
    )
    results = [call(throttle, kind) for kind in ("read", "write", "insights") * 5]
    assert all(r.error is None for r in results)
    assert [app_pct(r) for r in results[:6]] == [20, 40, 60, 80, 100, 100]  # never above 100
    last = results[-1]
    assert points_pct(last) == 100 and management_pct(last) == 100 and insights_pct(last) == 100
    assert header(last, "x-ad-account-usage")["reset_time_duration"] == 300
    assert buc(last, "ads_management")["estimated_time_to_regain_access"] == 60
    assert header(last, INSIGHTS_HEADER) == {"app_id_util_pct": 100, "acc_id_util_pct": 100}
    clock.advance(400)
    assert points_pct(call(throttle)) == 20  # the window still slides
    assert throttle.async_run_started("1", "r1") is None
    assert throttle.async_run_started("1", "r2") is None


# -- presets --


def test_real_preset_is_metas_standard_tier() -> None:
    assert MetaLimits.for_mode(RateLimitMode.REAL) == MetaLimits(
        app_calls_per_hour=200_000,
        account_points=9000,
        score_window_s=300.0,
        block_s=60.0,
        buc_management_per_hour=100_000,
        buc_insights_per_hour=100_000,
        max_async_runs=50,
        enforce=True,
    )


def test_relaxed_is_ten_times_real_and_off_does_not_enforce() -> None:
    real, relaxed, off = (MetaLimits.for_mode(m) for m in ("real", "relaxed", "off"))
    for name in (
        "app_calls_per_hour",
        "account_points",
        "buc_management_per_hour",
        "buc_insights_per_hour",
        "max_async_runs",
    ):
        assert getattr(relaxed, name) == 10 * getattr(real, name), name
    assert (relaxed.score_window_s, relaxed.block_s, relaxed.enforce) == (300.0, 60.0, True)
    assert off == replace(relaxed, enforce=False)
    assert MetaLimits.for_mode(RateLimitMode.OFF) == off


def test_off_mode_lets_everything_through() -> None:
    clock = FakeClock()
    throttle = MetaThrottle(replace(MetaLimits.for_mode("off"), account_points=2), clock=clock)
    assert all(call(throttle, "write").error is None for _ in range(5))


@pytest.mark.parametrize("bad", ["fast", "", "realistic", "of"])
def test_an_unknown_mode_raises_naming_the_allowed_values(bad: str) -> None:
    with pytest.raises(ValueError, match=r"'real', 'relaxed', 'off'"):
        MetaLimits.for_mode(bad)


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="account_points"):
        limits(account_points=0)


def test_unknown_call_kind_is_rejected() -> None:
    throttle, _ = make()
    with pytest.raises(ValueError, match="kind"):
        throttle.check(token="t", account_id="1", kind="delete")  # type: ignore[arg-type]


# -- async report runs --


def test_async_run_cap_gives_613_and_a_finished_run_frees_its_slot() -> None:
    throttle, _ = make(max_async_runs=2)
    assert throttle.async_run_started("act_1", "r1") is None
    assert throttle.async_run_started("1", "r2") is None
    assert throttle.async_run_started("1", "r2") is None  # announcing the same run again is no new run
    error = throttle.async_run_started("1", "r3")
    assert error is not None
    assert (error.code, error.subcode, error.http_status, error.type, error.is_transient) == (
        613,
        1487742,
        400,
        "OAuthException",
        True,
    )
    assert error.message == "(#613) Calls to this api have exceeded the rate limit."
    assert throttle.async_run_started("2", "r3") is None  # another account has its own slots
    throttle.async_run_finished("act_1", "r1")
    throttle.async_run_finished("1", "unknown")  # harmless
    throttle.async_run_finished("9", "r1")  # harmless
    assert throttle.async_run_started("1", "r3") is None
    assert throttle.async_run_started("1", "r4") is not None


# -- concurrency and memory --


def test_concurrent_calls_never_pass_the_cap() -> None:
    throttle, _ = make(app_calls_per_hour=1000)
    allowed: list[int] = []
    start = threading.Barrier(8)

    def worker() -> None:
        start.wait()
        allowed.append(sum(call(throttle).error is None for _ in range(500)))

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often, so an unlocked check-then-count would race
    try:
        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert sum(allowed) == 1000


def test_a_window_stays_small_however_fast_calls_come() -> None:
    window = _Window(3600)
    now = 0.0
    for _ in range(100_000):
        window.add(now, 1)
        now += 0.01  # 100 calls a second: 100 share each one-second entry
    assert window.total(now) == 100_000
    assert len(window) <= 1001
    assert window.total(now + 3600) == 0 and len(window) == 0


def test_idle_tokens_and_accounts_are_forgotten() -> None:
    throttle, clock = make()
    for i in range(50):
        call(throttle, token=f"t{i}", account=str(i))
    clock.advance(3601)
    call(throttle, token="fresh", account="fresh")
    assert set(throttle._apps) == {"fresh"}
    assert set(throttle._accounts) == {"fresh"}
