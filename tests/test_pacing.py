"""Adapters slow down as the platform's usage signals near the limit, before they are cut off."""

from __future__ import annotations

import asyncio

import pytest

from app.sandbox_runner import running_sandbox
from sandbox.market.market import Market
from sandbox.meta.api import MetaOptions
from sandbox.meta.throttle import MetaLimits
from sandbox.server.credentials import credentials_for
from tests.conftest import small_config
from tools.platforms.errors import RateLimitedError
from tools.platforms.meta import MetaAdapter, MetaConfig
from tools.platforms.transport import RetryPolicy

SEED = 12
CALLS = 120


class FakeClock:
    """Shared by the sandbox's throttle and the adapter's sleep: waiting moves time on."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.slept: list[float] = []

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _calls(url: str, clock: FakeClock, *, pacing: bool) -> tuple[int, list[float]]:
    async def go() -> tuple[int, list[float]]:
        creds = credentials_for(SEED).meta
        adapter = MetaAdapter(
            MetaConfig(
                base_url=url,
                access_token=creds.access_token,
                pacing=pacing,
                slow_at_pct=50.0,
                max_pace_seconds=30.0,
            ),
            sleep=clock.sleep,
            retry=RetryPolicy(attempts=1),
        )
        account = (await adapter.accounts())[0]
        usage = []
        try:
            for _ in range(CALLS):
                await adapter.campaigns(account)
                usage.append(adapter.pacer.usage)
        finally:
            await adapter.aclose()
        return adapter.transport.requests, usage

    return asyncio.run(go())


def _sandbox(clock: FakeClock) -> MetaOptions:
    limits = MetaLimits(
        app_calls_per_hour=100_000,
        account_points=60,
        score_window_s=300,
        block_s=60,
        buc_management_per_hour=100_000,
        buc_insights_per_hour=100_000,
        max_async_runs=5,
    )
    return MetaOptions(limits=limits, clock=clock.time)


def test_the_meta_adapter_slows_down_before_code_17_and_is_never_cut_off() -> None:
    market = Market(small_config(seed=SEED, accounts=1, ads=10, days=7, platforms=("meta",)))
    clock = FakeClock()
    with running_sandbox(market, meta=_sandbox(clock)) as url:
        requests, usage = _calls(url, clock, pacing=True)
    assert requests == CALLS + 1  # no refusal, so no retry
    first_pause = next(i for i, s in enumerate(clock.slept) if s > 0)
    assert usage[first_pause] < 100  # it slowed while there was still room
    assert max(usage) < 100


def test_without_pacing_the_same_calls_hit_code_17() -> None:
    market = Market(small_config(seed=SEED, accounts=1, ads=10, days=7, platforms=("meta",)))
    clock = FakeClock()
    with running_sandbox(market, meta=_sandbox(clock)) as url, pytest.raises(RateLimitedError) as err:
        _calls(url, clock, pacing=False)
    assert err.value.code == 17
