"""The executor against the sandbox over HTTP: approved actions reach the platform exactly once, with the
platform's before/after in the audit log; nothing else does; stale and refused actions are not sent; a
crash (in the process, or the process killed) between the pending record and the result never leads to
a second application; one failing action does not stop the others. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from agents.actions import Action, BidChange, BudgetChange, CreateAd, CreateAdSet, EntityRef, StatusChange
from agents.executor import ExecutionReport, execute
from app.sandbox_runner import running_sandbox
from sandbox.market.changes import UpdateAdSet
from sandbox.market.market import Market
from sandbox.server.credentials import credentials_for
from storage.audit import AuditLog
from storage.audit_types import AttemptStatus, ProposalStatus
from tests.conftest import small_config
from tools.platforms.base import NewAd, NewAdSet
from tools.platforms.errors import BadRequestError, TransientError
from tools.platforms.meta import MetaAdapter, MetaConfig

SEED = 8
ROOT = Path(__file__).resolve().parents[1]


class Crash(BaseException):
    """Stands for the process dying: no `except Exception` in the executor catches it."""


@pytest.fixture
def world() -> Iterator[tuple[str, Market]]:
    market = Market(small_config(seed=SEED, accounts=1, ads=60, days=14, platforms=("meta",)))
    with running_sandbox(market) as url:
        yield url, market


@pytest.fixture
def audit(engine: Engine) -> AuditLog:
    return AuditLog(engine)


def adapter_for(url: str) -> MetaAdapter:
    return MetaAdapter(MetaConfig(base_url=url, access_token=credentials_for(SEED).meta.access_token))


class Wrapped:
    """The real adapter, with one write method replaced (to fail or "crash" around the real call)."""

    def __init__(self, real: MetaAdapter, method: str, wrapper: Callable[..., Any]) -> None:
        self._real, self._method, self._wrapper = real, method, wrapper

    def __getattr__(self, name: str) -> Any:
        if name == self._method:
            return lambda *a, **kw: self._wrapper(getattr(self._real, name), *a, **kw)
        return getattr(self._real, name)


def run_execute(
    url: str,
    audit: AuditLog,
    actions: list[Action | str],
    *,
    wrap: tuple[str, Callable[..., Any]] | None = None,
    **kwargs: Any,
) -> ExecutionReport:
    async def go() -> ExecutionReport:
        real = adapter_for(url)
        adapter: Any = Wrapped(real, *wrap) if wrap else real
        try:
            accounts = kwargs.pop("accounts", None) or await real.accounts()
            return await execute(actions, {"meta": adapter}, audit, accounts=accounts, **kwargs)
        finally:
            await real.aclose()

    return asyncio.run(go())


def approve(audit: AuditLog, *actions: Action) -> None:
    audit.propose(list(actions), run_id="test")
    for a in actions:
        audit.decide(a.id, verdict="approve", by="tester", how="cli")


def budgeted_adsets(market: Market) -> list[str]:
    hour = market.clock.now_hour
    return [
        s.id
        for s in market.world.adsets.values()
        if s.value_at("daily_budget_micros", hour) and s.value_at("status", hour) == "ACTIVE"
    ]


def entity(market: Market, level: str, platform_id: str) -> EntityRef:
    obj = {"adset": market.world.adset, "ad": market.world.ad}[level](platform_id)
    account = getattr(obj, "account_id", None) or market.world.adset(obj.adset_id).account_id
    return EntityRef(platform="meta", account_id=account, level=level, platform_id=platform_id)  # type: ignore[arg-type]


def raise_budget(market: Market, adset: str, by: int = 5_000_000) -> BudgetChange:
    current = market.world.adset(adset).value_at("daily_budget_micros", market.clock.now_hour)
    return BudgetChange(
        entity=entity(market, "adset", adset),
        currency="USD",
        before_micros=current,
        after_micros=current + by,
        reason="the best CPA of the account",
    )


def writes_to(market: Market, platform_id: str) -> list[Any]:
    return [e.change for e in market.log if getattr(e.change, "id", None) == platform_id]


# --- approved, rejected, stale ----------------------------------------------------------------------


def test_an_approved_budget_change_reaches_the_sandbox_once_and_is_recorded_with_before_and_after(
    world: tuple[str, Market], audit: AuditLog
) -> None:
    url, market = world
    adset = budgeted_adsets(market)[0]
    action = raise_budget(market, adset)
    approve(audit, action)
    report = run_execute(url, audit, [action], run_id="r1")
    [outcome] = report.outcomes
    assert outcome.outcome == "executed" and report.applied == [outcome]
    assert [c.daily_budget_micros for c in writes_to(market, adset)] == [action.after_micros]
    entry = audit.entry(action.id)
    assert entry.proposal.status is ProposalStatus.EXECUTED
    [attempt] = entry.executions
    assert attempt.status is AttemptStatus.APPLIED and attempt.run_id == "r1"
    assert int(attempt.before["daily_budget"]) * 10**4 == action.before_micros  # type: ignore[index]
    assert int(attempt.after["daily_budget"]) * 10**4 == action.after_micros  # type: ignore[index]
    assert attempt.observed == {"daily_budget_micros": action.before_micros, "lifetime_budget_micros": None}
    assert audit.last_change(action.entity.key) == attempt.finished_at

    again = run_execute(url, audit, [action, action.id])
    assert [o.outcome for o in again.outcomes] == ["skipped"] and "already executed" in again.outcomes[0].note
    assert len(writes_to(market, adset)) == 1


def test_rejected_undecided_and_unknown_actions_never_reach_the_sandbox(
    world: tuple[str, Market], audit: AuditLog
) -> None:
    url, market = world
    first, second, third = (raise_budget(market, s) for s in budgeted_adsets(market)[:3])
    audit.propose([first, second])
    audit.decide(first.id, verdict="reject", by="ana", how="web")
    report = run_execute(url, audit, [first, second, third])
    assert [(o.outcome, o.note) for o in report.outcomes] == [
        ("skipped", "not approved: the proposal is rejected"),
        ("skipped", "not approved: the proposal is proposed"),
        ("skipped", "never proposed"),
    ]
    assert market.log == []


def test_an_action_whose_entity_changed_since_it_was_proposed_is_refused_as_stale(
    world: tuple[str, Market], audit: AuditLog
) -> None:
    url, market = world
    adset = budgeted_adsets(market)[0]
    action = raise_budget(market, adset)
    approve(audit, action)
    market.apply(UpdateAdSet(id=adset, daily_budget_micros=action.before_micros + 1_000_000))  # a person
    [outcome] = run_execute(url, audit, [action]).outcomes
    assert outcome.outcome == "stale" and "changed since proposed" in outcome.note
    assert audit.get(action.id).status is ProposalStatus.STALE
    assert [c.daily_budget_micros for c in writes_to(market, adset)] == [action.before_micros + 1_000_000]


def test_the_hard_rules_and_the_guardrails_refuse_whatever_was_approved(
    world: tuple[str, Market], audit: AuditLog
) -> None:
    url, market = world
    one, two, three = budgeted_adsets(market)[:3]
    zero = raise_budget(market, one).model_copy(update={"after_micros": 0})
    zero = BudgetChange.model_validate(zero.model_dump(exclude={"id"}))
    elsewhere = EntityRef(platform="meta", account_id="999", level="adset", platform_id=two)
    foreign = raise_budget(market, two).model_copy(update={"entity": elsewhere})
    foreign = BudgetChange.model_validate(foreign.model_dump(exclude={"id"}))
    guarded = raise_budget(market, three)
    approve(audit, zero, foreign, guarded)
    report = run_execute(
        url, audit, [zero, foreign, guarded], guard=lambda _action, _audit: "over the daily cap"
    )
    assert [o.outcome for o in report.outcomes] == ["refused"] * 3
    notes = [o.note for o in report.outcomes]
    assert "zero or negative budget" in notes[0] and "not among the accounts" in notes[1]
    assert notes[2] == "over the daily cap" and market.log == []
    assert audit.get(guarded.id).status is ProposalStatus.REFUSED


def test_the_minimum_interval_guardrail_sees_the_last_change_the_executor_made(
    world: tuple[str, Market], audit: AuditLog
) -> None:
    url, market = world
    adset = budgeted_adsets(market)[0]
    first = raise_budget(market, adset)
    approve(audit, first)

    def min_interval(action: Action, log: AuditLog) -> str | None:
        last = log.last_change(action.entity.key)
        if last is not None and log.now() - last < dt.timedelta(hours=6):
            return f"changed at {last:%H:%M}: wait 6 h between changes"
        return None

    assert run_execute(url, audit, [first], guard=min_interval).outcomes[0].outcome == "executed"
    second = raise_budget(market, adset)
    approve(audit, second)
    [outcome] = run_execute(url, audit, [second], guard=min_interval).outcomes
    assert outcome.outcome == "refused" and "wait 6 h" in outcome.note
    assert len(writes_to(market, adset)) == 1


def test_pause_and_bid_changes_are_applied_and_one_failing_action_does_not_stop_the_others(
    world: tuple[str, Market], audit: AuditLog
) -> None:
    url, market = world
    one, two, three = budgeted_adsets(market)[:3]
    hour = market.clock.now_hour
    too_small = raise_budget(
        market, one, by=-market.world.adset(one).value_at("daily_budget_micros", hour) + 10_000
    )
    pause = StatusChange(entity=entity(market, "adset", two), before="ACTIVE", after="PAUSED", reason="r")
    bid = BidChange(
        entity=entity(market, "adset", three),
        currency="USD",
        before_micros=market.world.adset(three).value_at("bid_micros", hour) or None,
        after_micros=750_000,
        reason="r",
    )
    approve(audit, too_small, pause, bid)
    report = run_execute(url, audit, [too_small, pause, bid])
    assert [o.outcome for o in report.outcomes] == ["failed", "executed", "executed"]
    assert "must be at least" in report.outcomes[0].note and report.counts() == {"failed": 1, "executed": 2}
    assert audit.get(too_small.id).status is ProposalStatus.FAILED
    assert writes_to(market, one) == [] and market.world.adset(two).value_at("status", hour + 1) == "PAUSED"
    assert market.world.adset(three).value_at("bid_micros", hour + 1) == 750_000
    assert report.outcomes[1].before["status"] == "ACTIVE" and report.outcomes[1].after["status"] == "PAUSED"  # type: ignore[index]


def test_one_listing_per_account_serves_a_run_and_written_values_are_known_without_a_re_read(
    world: tuple[str, Market], audit: AuditLog
) -> None:
    url, market = world
    one, two, three = budgeted_adsets(market)[:3]
    first = raise_budget(market, one)
    # A second change of the same ad set, proposed from the first one's result: it is not stale only if
    # the executor knows what it wrote without listing the account again.
    second = BudgetChange(
        entity=first.entity,
        currency="USD",
        before_micros=first.after_micros,
        after_micros=first.after_micros + 1_000_000,
        reason="r",
    )
    others = [raise_budget(market, two), raise_budget(market, three)]
    approve(audit, first, second, *others)
    listings: list[str] = []

    async def counting(real: Callable[..., Any], account: Any) -> Any:
        listings.append(account.platform_id)
        return await real(account)

    report = run_execute(url, audit, [first, second, *others], wrap=("adsets", counting))
    assert [o.outcome for o in report.outcomes] == ["executed"] * 4
    assert len(listings) == 1
    hour = market.clock.now_hour
    assert market.world.adset(one).value_at("daily_budget_micros", hour + 1) == second.after_micros


def test_a_dry_run_records_what_would_be_done_and_sends_nothing(
    world: tuple[str, Market], audit: AuditLog
) -> None:
    url, market = world
    action = raise_budget(market, budgeted_adsets(market)[0])
    approve(audit, action)
    report = run_execute(url, audit, [action], dry_run=True)
    assert (
        report.dry_run
        and report.outcomes[0].outcome == "dry_run"
        and "nothing was sent" in report.summary() + report.outcomes[0].note
    )
    assert market.log == [] and audit.get(action.id).status is ProposalStatus.APPROVED
    assert audit.entry(action.id).executions[0].status is AttemptStatus.DRY_RUN
    assert run_execute(url, audit, [action]).outcomes[0].outcome == "executed"


# --- crashes and lost answers -----------------------------------------------------------------------


def test_given_a_crash_after_the_platform_applied_the_write_when_run_again_then_it_is_not_applied_twice(
    world: tuple[str, Market], audit: AuditLog
) -> None:
    url, market = world
    adset = budgeted_adsets(market)[0]
    action = raise_budget(market, adset)
    approve(audit, action)

    async def write_then_die(real: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        await real(*args, **kwargs)
        raise Crash

    with pytest.raises(Crash):
        run_execute(url, audit, [action], wrap=("set_budget", write_then_die))
    assert audit.get(action.id).status is ProposalStatus.EXECUTING
    assert audit.entry(action.id).executions[0].status is AttemptStatus.PENDING
    [outcome] = run_execute(url, audit, [action]).outcomes
    assert outcome.outcome == "found" and "not sent again" in outcome.note
    assert len(writes_to(market, adset)) == 1
    entry = audit.entry(action.id)
    assert entry.proposal.status is ProposalStatus.EXECUTED
    assert [(e.attempt, e.status) for e in entry.executions] == [(1, AttemptStatus.FOUND)]


def test_given_a_crash_before_the_platform_call_when_run_again_then_it_is_retried_once(
    world: tuple[str, Market], audit: AuditLog
) -> None:
    url, market = world
    adset = budgeted_adsets(market)[0]
    action = raise_budget(market, adset)
    approve(audit, action)

    async def die(real: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        raise Crash

    with pytest.raises(Crash):
        run_execute(url, audit, [action], wrap=("set_budget", die))
    with pytest.raises(Crash):  # the retry dies too
        run_execute(url, audit, [action], wrap=("set_budget", die))
    assert audit.get(action.id).attempts == 2 and market.log == []
    [outcome] = run_execute(url, audit, [action]).outcomes
    assert outcome.outcome == "failed" and "given up" in outcome.note and market.log == []

    second = raise_budget(market, budgeted_adsets(market)[1])
    approve(audit, second)
    with pytest.raises(Crash):
        run_execute(url, audit, [second], wrap=("set_budget", die))
    [outcome] = run_execute(url, audit, [second]).outcomes
    assert outcome.outcome == "executed" and outcome.attempt == 2
    assert [(e.attempt, e.status) for e in audit.entry(second.id).executions] == [
        (1, AttemptStatus.INTERRUPTED),
        (2, AttemptStatus.APPLIED),
    ]
    assert len(writes_to(market, second.entity.platform_id)) == 1


def test_given_a_lost_answer_after_the_platform_applied_it_then_the_write_is_not_repeated(
    world: tuple[str, Market], audit: AuditLog
) -> None:
    url, market = world
    adset = budgeted_adsets(market)[0]
    action = raise_budget(market, adset)
    approve(audit, action)

    async def write_then_lose_the_answer(real: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        await real(*args, **kwargs)
        raise TransientError("connection reset", platform="meta")

    [outcome] = run_execute(url, audit, [action], wrap=("set_budget", write_then_lose_the_answer)).outcomes
    assert outcome.outcome == "found" and len(writes_to(market, adset)) == 1
    assert audit.get(action.id).status is ProposalStatus.EXECUTED


def test_a_created_ad_is_found_by_its_deterministic_name_after_a_crash_and_the_old_ad_is_paused(
    world: tuple[str, Market], audit: AuditLog
) -> None:
    url, market = world
    hour = market.clock.now_hour
    old = next(a for a in market.world.ads.values() if a.value_at("status", hour) == "ACTIVE")
    adset = old.adset_id
    action = CreateAd(
        entity=entity(market, "adset", adset),
        spec=NewAd(adset_platform_id=adset, name="Calm mats", creative_platform_id=old.creative_id),
        replaces=entity(market, "ad", old.id),
        reason="the old copy is fatigued",
    )
    approve(audit, action)

    async def create_then_die(real: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        await real(*args, **kwargs)
        raise Crash

    with pytest.raises(Crash):
        run_execute(url, audit, [action], wrap=("create_ad", create_then_die))
    [outcome] = run_execute(url, audit, [action]).outcomes
    created = [e for e in market.log if e.change.kind == "create_ad"]
    assert len(created) == 1 and outcome.outcome == "found"
    assert outcome.result_platform_id == created[0].created_id
    assert market.world.ad(created[0].created_id).name == f"Calm mats [{action.id}]"
    assert market.world.ad(old.id).value_at("status", market.clock.now_hour + 1) == "PAUSED"
    assert run_execute(url, audit, [action]).outcomes[0].outcome == "skipped"
    assert len([e for e in market.log if e.change.kind == "create_ad"]) == 1


CHILD = """
import asyncio, os, sys, time
from agents.executor import execute
from sandbox.server.credentials import credentials_for
from storage.audit import AuditLog
from storage.db import make_engine
from tools.platforms.meta import MetaAdapter, MetaConfig

url, db, seed, action_id, marker = sys.argv[1:6]

class Slow:
    def __init__(self, real):
        self.real = real
    def __getattr__(self, name):
        return getattr(self.real, name)
    async def set_budget(self, *args, **kwargs):
        result = await self.real.set_budget(*args, **kwargs)
        open(marker, "w").write("applied")
        time.sleep(600)  # killed here, after the platform applied the write and before the result is kept
        return result

async def main():
    real = MetaAdapter(MetaConfig(base_url=url, access_token=credentials_for(int(seed)).meta.access_token))
    audit = AuditLog(make_engine(db))
    await execute([action_id], {"meta": Slow(real)}, audit, accounts=await real.accounts())

asyncio.run(main())
"""


def test_given_the_process_is_killed_mid_execute_when_run_again_then_the_action_is_applied_once(
    world: tuple[str, Market], audit: AuditLog, engine: Engine, tmp_path: Path
) -> None:
    url, market = world
    adset = budgeted_adsets(market)[0]
    action = raise_budget(market, adset)
    approve(audit, action)
    marker = tmp_path / "applied"
    db = engine.url.render_as_string(hide_password=False)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, url, db, str(SEED), action.id, str(marker)], cwd=ROOT, env=env
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert child.poll() is None, "the child process ended before applying the write"
            assert time.monotonic() < deadline, "the child process did not apply the write in time"
            time.sleep(0.05)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    assert audit.get(action.id).status is ProposalStatus.EXECUTING and len(writes_to(market, adset)) == 1
    [outcome] = run_execute(url, audit, [action]).outcomes
    assert outcome.outcome == "found" and len(writes_to(market, adset)) == 1
    assert audit.get(action.id).status is ProposalStatus.EXECUTED


def test_an_attempt_held_by_another_live_process_is_left_alone(
    world: tuple[str, Market], audit: AuditLog
) -> None:
    url, market = world
    action = raise_budget(market, budgeted_adsets(market)[0])
    approve(audit, action)
    import socket

    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        proposal = audit.get(action.id)
        audit.begin_attempt(
            proposal, owner=f"{socket.gethostname()}:{holder.pid}:other", run_id="x", observed=None
        )
        [outcome] = run_execute(url, audit, [action]).outcomes
        assert outcome.outcome == "skipped" and "being executed by" in outcome.note
    finally:
        holder.kill()
        holder.wait(timeout=30)
    [outcome] = run_execute(url, audit, [action]).outcomes  # its holder is gone: reconciled and retried
    assert outcome.outcome == "executed" and len(market.log) == 1


@pytest.mark.parametrize("platform", ["x", "tiktok"])
def test_given_a_crash_after_creating_an_ad_on_x_or_tiktok_then_the_ad_is_found_not_made_twice(
    platform: str, audit: AuditLog
) -> None:
    from app import composition
    from app.settings import Settings

    market = Market(small_config(seed=SEED, accounts=1, ads=20, days=14, platforms=(platform,)))
    hour = market.clock.now_hour
    old = next(a for a in market.world.ads.values() if a.value_at("status", hour) == "ACTIVE")

    async def go(crash: bool) -> ExecutionReport:
        settings = Settings(sandbox_url=url)
        sandbox = await composition.sandbox_world(settings)
        adapters = composition.build_adapters(settings, sandbox, platforms=[platform], sink=None)
        real = adapters[platform]
        try:
            account = (await real.accounts())[0]
            ads = {a.platform_id: a for a in (await real.ads(account)).items}
            action = CreateAd(
                entity=EntityRef(
                    platform=platform,  # type: ignore[arg-type]
                    account_id=account.platform_id,
                    level="adset",
                    platform_id=ads[old.id].adset_platform_id,
                ),
                spec=NewAd(
                    adset_platform_id=ads[old.id].adset_platform_id,
                    name="Calm mats",
                    creative_platform_id=ads[old.id].creative_platform_id,
                ),
                reason="r",
            )
            if crash:
                approve(audit, action)

            async def create_then_die(method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
                await method(*args, **kwargs)
                raise Crash

            adapter: Any = Wrapped(real, "create_ad", create_then_die) if crash else real  # type: ignore[arg-type]
            return await execute([action], {platform: adapter}, audit, accounts=[account])
        finally:
            await real.aclose()

    with running_sandbox(market) as url:
        with pytest.raises(Crash):
            asyncio.run(go(crash=True))
        [outcome] = asyncio.run(go(crash=False)).outcomes
    created = [e for e in market.log if e.change.kind == "create_ad"]
    assert outcome.outcome == "found" and len(created) == 1
    assert outcome.result_platform_id == created[0].created_id


def test_a_new_ad_set_left_without_its_ad_is_completed_not_made_twice(
    world: tuple[str, Market], audit: AuditLog
) -> None:
    url, market = world
    source = market.world.adset(budgeted_adsets(market)[0])
    ad = next(a for a in market.world.ads.values() if a.adset_id == source.id)
    campaign = EntityRef(
        platform="meta", account_id=source.account_id, level="campaign", platform_id=source.campaign_id
    )
    action = CreateAdSet(
        entity=campaign,
        spec=NewAdSet(
            campaign_platform_id=source.campaign_id,
            name="arm 1",
            daily_budget_micros=10_000_000,
            status="ACTIVE",
        ),
        ad=NewAd(adset_platform_id="", name="arm ad", creative_platform_id=ad.creative_id, status="ACTIVE"),
        reason="an experiment's arm",
    )
    approve(audit, action)

    async def fail_once(real: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        raise BadRequestError("the ad was refused this time", platform="meta")

    first = run_execute(url, audit, [action], wrap=("create_ad", fail_once))
    assert first.outcomes[0].outcome == "failed"
    made = [s for s in market.world.adsets.values() if s.name == action.spec.name]
    assert len(made) == 1 and not [a for a in market.world.ads.values() if a.adset_id == made[0].id]
    approve(audit, action)  # proposed again: the same change, a new round
    second = run_execute(url, audit, [action])
    assert second.outcomes[0].outcome == "executed"
    assert [s.id for s in market.world.adsets.values() if s.name == action.spec.name] == [made[0].id]
    (arm_ad,) = [a for a in market.world.ads.values() if a.adset_id == made[0].id]
    assert arm_ad.creative_id == ad.creative_id
