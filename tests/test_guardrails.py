"""Guardrails: each rule with a known answer (positive budgets, whole minor units, the platform's and your
minimum, your maximum, the step per action, the interval between changes, the account cap alone and
across a batch, the allow-list, dry run, stale contexts), clamped actions as new actions, bad config,
and the settings that build them."""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from agents.actions import (
    ActionList,
    BidChange,
    BudgetChange,
    CreateAd,
    EntityRef,
    ExpectedEffect,
    StatusChange,
)
from agents.guard_types import AccountState, EntityState, GuardContext, Verdict, account_key
from agents.guardrails import Guardrails
from app.composition import guardrails_and_policy
from app.settings import SettingsError, load_settings
from tools.platforms.base import NewAd

NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
ADSET = EntityRef(platform="meta", account_id="act_1", level="adset", platform_id="11", name="Shoes")
OTHER = EntityRef(platform="meta", account_id="act_1", level="adset", platform_id="12", name="Hats")
AD = EntityRef(platform="meta", account_id="act_1", level="ad", platform_id="111")
FOREIGN = EntityRef(platform="x", account_id="18ce54", level="adset", platform_id="abc")
NO_INTERVAL = {"min_interval": dt.timedelta(0)}


def usd(amount: str | int) -> int:
    return int(Decimal(str(amount)) * 10**6)


def budget(
    before: str | int, after: str | int, entity: EntityRef = ADSET, currency: str = "USD"
) -> BudgetChange:
    return BudgetChange(
        entity=entity, currency=currency, before_micros=usd(before), after_micros=usd(after), reason="test"
    )


def bid(before: str | int | None, after: str | int) -> BidChange:
    return BidChange(
        entity=ADSET,
        currency="USD",
        before_micros=None if before is None else usd(before),
        after_micros=usd(after),
        reason="test",
    )


def pause(entity: EntityRef = AD) -> StatusChange:
    return StatusChange(entity=entity, before="ACTIVE", after="PAUSED", reason="test")


def new_ad(entity: EntityRef = ADSET) -> CreateAd:
    return CreateAd(
        entity=entity, spec=NewAd(adset_platform_id=entity.platform_id, name="n", headline="h"), reason="r"
    )


def context(
    *,
    budget_now: str | int | None = 100,
    platform_min: str | int | None = 1,
    bid_now: str | int | None = None,
    last_changed: dt.datetime | None = None,
    total: str | int | None = 300,
    currency: str = "USD",
    extra: dict[str, EntityState] | None = None,
) -> GuardContext:
    state = EntityState(
        daily_budget_micros=None if budget_now is None else usd(budget_now),
        platform_min_budget_micros=None if platform_min is None else usd(platform_min),
        bid_micros=None if bid_now is None else usd(bid_now),
        status="ACTIVE",
        last_changed_at=last_changed,
    )
    entities = {
        ADSET.key: state,
        OTHER.key: EntityState(
            daily_budget_micros=usd(50), platform_min_budget_micros=usd(1), status="ACTIVE"
        ),
        AD.key: EntityState(status="ACTIVE"),
        FOREIGN.key: EntityState(daily_budget_micros=usd(100), status="ACTIVE"),
        **(extra or {}),
    }
    accounts = {}
    if total is not None:
        accounts[account_key(ADSET)] = AccountState(currency=currency, daily_budget_total_micros=usd(total))
    return GuardContext(now=NOW, entities=entities, accounts=accounts)


def rules(verdict: Verdict) -> list[tuple[str, str]]:
    return [(r.rule, r.effect) for r in verdict.reasons]


def after_of(verdict: Verdict) -> int | None:
    return getattr(verdict.action, "after_micros", None)


# --- money ----------------------------------------------------------------------------------------------


def test_a_change_within_every_limit_is_allowed_as_it_is() -> None:
    action = budget(100, 120)
    verdict = Guardrails().check(action, context())
    assert (verdict.outcome, verdict.action, verdict.reasons, verdict.executable) == (
        "allowed",
        action,
        [],
        True,
    )


@pytest.mark.parametrize("after", ["0", "-5", "-0.01"])
def test_a_zero_or_negative_budget_is_refused_whatever_the_limits(after: str) -> None:
    permissive = Guardrails(max_change=Decimal(5), **NO_INTERVAL)
    verdict = permissive.check(budget(100, after), context(platform_min=None))
    assert verdict.outcome == "refused" and verdict.action is None and not verdict.executable
    assert ("non_positive", "refuse") in rules(verdict)
    assert "it must be positive" in verdict.summary()


def test_an_amount_in_fractions_of_a_cent_or_yen_is_refused() -> None:
    cents = Guardrails().check(budget(100, "100.005"), context())
    assert (
        rules(cents) == [("minor_units", "refuse")] and "whole number of USD minor units" in cents.summary()
    )
    yen = Guardrails().check(budget(1000, "1000.5", currency="JPY"), context(budget_now=1000, total=None))
    assert rules(yen) == [("minor_units", "refuse")]


@pytest.mark.parametrize(
    ("config", "platform_min", "after", "expected", "rule"),
    [
        ({}, 8, "7.5", "8", "platform_min"),  # below the platform's minimum: raised to it
        ({"min_budget": {"USD": 9}}, 8, "7.5", "9", "min_budget"),  # yours is larger: yours wins
        ({"min_budget": 9}, 1, "7.5", "9", "min_budget"),  # one number for every currency
        ({"min_budget": {"USD": "8.999"}}, 1, "7.5", "9", "min_budget"),  # a minimum rounds up to a cent
        ({"max_budget": {"USD": 11}}, 1, "12.5", "11", "max_budget"),
        ({"max_budget": {"*": "11.009"}}, 1, "12.5", "11", "max_budget"),  # a maximum rounds down
    ],
)
def test_budgets_are_clamped_into_the_entity_bounds(
    config: dict[str, Any], platform_min: int, after: str, expected: str, rule: str
) -> None:
    verdict = Guardrails(**config).check(budget(10, after), context(budget_now=10, platform_min=platform_min))
    assert verdict.outcome == "clamped" and after_of(verdict) == usd(expected)
    assert rules(verdict) == [(rule, "clamp")]


@pytest.mark.parametrize(
    ("before", "after", "currency", "expected"),
    [
        ("100", "200", "USD", "130"),
        ("100", "50", "USD", "70"),
        ("100", "129.99", "USD", "129.99"),  # inside the step: untouched
        ("33.33", "100", "USD", "43.32"),  # 30% of 33.33 is 9.999: whole cents toward the current value
        ("1001", "2000", "JPY", "1301"),  # 30% of 1001 yen is 300.3: 300 yen
    ],
)
def test_a_change_is_at_most_the_max_share_of_the_current_value(
    before: str, after: str, currency: str, expected: str
) -> None:
    ctx = context(budget_now=before, currency=currency, total=2000)
    verdict = Guardrails().check(budget(before, after, currency=currency), ctx)
    assert after_of(verdict) == usd(expected)
    if after != expected:
        assert rules(verdict) == [("max_change", "clamp")]
        assert "at most 30% per action: clamped to" in verdict.summary()


def test_clamping_that_leaves_no_change_refuses_the_action() -> None:
    at_the_minimum = Guardrails().check(budget(8, 5), context(budget_now=8, platform_min=8))
    assert at_the_minimum.outcome == "refused" and ("no_change", "refuse") in rules(at_the_minimum)
    assert "stays 8.00 USD" in at_the_minimum.summary()
    three_cents = Guardrails().check(budget("0.03", 1), context(budget_now="0.03", platform_min=None))
    assert three_cents.outcome == "refused" and "less than one minor unit" in three_cents.summary()
    same = Guardrails().check(budget(100, 100), context())
    assert same.outcome == "refused" and rules(same) == [("no_change", "refuse")]


def test_a_cut_that_the_minimum_would_turn_into_a_raise_is_refused() -> None:
    verdict = Guardrails().check(budget(5, 4), context(budget_now=5, platform_min=8))
    assert verdict.outcome == "refused" and ("direction", "refuse") in rules(verdict)


def test_a_raise_that_cannot_reach_the_minimum_within_the_step_is_refused() -> None:
    verdict = Guardrails().check(budget(5, 9), context(budget_now=5, platform_min=8))
    assert verdict.outcome == "refused"
    assert rules(verdict) == [("max_change", "clamp"), ("max_change", "refuse")]
    assert "no budget meets every limit" in verdict.summary()


def test_a_maximum_below_the_platform_minimum_refuses_every_budget() -> None:
    verdict = Guardrails(max_budget=5).check(budget(10, 9), context(budget_now=10, platform_min=8))
    assert verdict.outcome == "refused" and "no budget fits" in verdict.summary()


def test_an_unknown_platform_minimum_is_said_not_guessed() -> None:
    verdict = Guardrails().check(budget(100, 110), context(platform_min=None))
    assert verdict.outcome == "allowed" and rules(verdict) == [("platform_min", "note")]


# --- the account's daily cap ---------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["act_1", "meta:act_1"])
def test_a_raise_is_clamped_to_the_room_under_the_account_cap(key: str) -> None:
    verdict = Guardrails(account_daily_caps={key: 320}).check(budget(100, 125), context(total=300))
    assert verdict.outcome == "clamped" and after_of(verdict) == usd(120)
    assert rules(verdict) == [("account_cap", "clamp")] and "leaves room for 20.00 USD" in verdict.summary()


def test_a_raise_in_an_account_at_its_cap_is_refused_and_a_cut_passes() -> None:
    capped = Guardrails(account_daily_caps={"act_1": 300})
    raise_ = capped.check(budget(100, 110), context(total=300))
    assert raise_.outcome == "refused" and "at or above its cap of 300.00 USD" in raise_.summary()
    cut = capped.check(budget(100, 90), context(total=350))
    assert cut.outcome == "allowed"


def test_a_cap_without_the_accounts_total_refuses_a_raise() -> None:
    verdict = Guardrails(account_daily_caps={"act_1": 320}).check(budget(100, 110), context(total=None))
    assert verdict.outcome == "refused" and "cannot be checked" in verdict.summary()


def test_a_batch_counts_the_raises_before_each_action_against_the_cap() -> None:
    capped = Guardrails(account_daily_caps={"act_1": 320})
    verdicts = capped.check_all(
        [budget(100, 115), budget(50, 45, OTHER), budget(50, 60, OTHER), budget(100, 90)], context(total=300)
    )
    outcomes = [(v.outcome, after_of(v)) for v in verdicts]
    # +15 fits under the cap; a second budget change to one ad set in one batch is refused
    assert outcomes == [("allowed", usd(115)), ("allowed", usd(45)), ("refused", None), ("refused", None)]
    assert "already makes a budget change" in verdicts[2].summary()
    raises = capped.check_all([budget(100, 115), budget(50, 60, OTHER), budget(100, 110)], context(total=300))
    assert [(v.outcome, after_of(v)) for v in raises] == [
        ("allowed", usd(115)),
        ("clamped", usd(55)),
        ("refused", None),
    ]
    assert "with 15.00 USD raised earlier in this batch" in raises[1].summary()


def test_the_same_action_twice_in_a_batch_is_refused_the_second_time() -> None:
    first, second = Guardrails().check_all([budget(100, 110), budget(100, 110)], context())
    assert first.outcome == "allowed" and second.outcome == "refused"
    assert "appears earlier in this batch" in second.summary()


def test_several_new_ads_in_one_ad_set_pass_in_one_batch() -> None:
    ads = [
        CreateAd(entity=ADSET, spec=NewAd(adset_platform_id="11", name="n", headline=h), reason="r")
        for h in ("a", "b", "c")
    ]
    assert [v.outcome for v in Guardrails().check_all(ads, context())] == ["allowed"] * 3


# --- bids ----------------------------------------------------------------------------------------------


def test_bids_must_be_positive_and_move_at_most_the_step() -> None:
    ctx = context(bid_now=1)
    assert Guardrails().check(bid(1, 0), ctx).outcome == "refused"
    stepped = Guardrails().check(bid(1, 2), ctx)
    assert stepped.outcome == "clamped" and after_of(stepped) == usd("1.30")
    assert isinstance(stepped.action, BidChange)


def test_a_first_bid_on_automatic_bidding_passes_with_a_note() -> None:
    verdict = Guardrails().check(bid(None, "0.5"), context(bid_now=None))
    assert verdict.outcome == "allowed" and rules(verdict) == [("max_change", "note")]


# --- status changes, new ads, the interval, the allow-list, dry run -------------------------------------


def test_status_changes_and_new_ads_pass_the_money_checks() -> None:
    activate = StatusChange(entity=AD, before="PAUSED", after="ACTIVE", reason="r")
    ctx = context(extra={AD.key: EntityState(status="PAUSED")})
    assert Guardrails(max_budget=1).check(activate, ctx).outcome == "allowed"
    assert Guardrails(max_budget=1).check(new_ad(), context()).outcome == "allowed"


@pytest.mark.parametrize(
    ("hours_ago", "outcome"),
    [(0.5, "refused"), (10, "refused"), (23.99, "refused"), (24, "allowed"), (30, "allowed")],
)
def test_an_entity_changes_at_most_once_per_interval(hours_ago: float, outcome: str) -> None:
    last = NOW - dt.timedelta(hours=hours_ago)
    ctx = context(last_changed=last)
    for action in (budget(100, 110), new_ad()):
        assert Guardrails().check(action, ctx).outcome == outcome


def test_a_change_too_soon_says_when_the_entity_may_change_next() -> None:
    verdict = Guardrails().check(budget(100, 110), context(last_changed=NOW - dt.timedelta(hours=10)))
    assert rules(verdict) == [("interval", "refuse")]
    assert "may change again from 2026-11-25T23:00:00+00:00 (in 14.0 h)" in verdict.summary()
    assert "learning phase" in verdict.summary()
    assert Guardrails(**NO_INTERVAL).check(budget(100, 110), context(last_changed=NOW)).outcome == "allowed"


def test_a_pause_respects_the_interval_too() -> None:
    recent = context(
        extra={AD.key: EntityState(status="ACTIVE", last_changed_at=NOW - dt.timedelta(hours=1))}
    )
    assert Guardrails().check(pause(), recent).outcome == "refused"


@pytest.mark.parametrize("allowed", [{"act_9"}, {"x:act_1"}])
def test_accounts_outside_the_allow_list_are_refused_for_every_kind(allowed: set[str]) -> None:
    guard = Guardrails(allowed_accounts=frozenset(allowed))
    for action in (budget(100, 110), pause(), new_ad(), bid(None, 1)):
        verdict = guard.check(action, context())
        assert verdict.outcome == "refused" and ("allow_list", "refuse") in rules(verdict)
        assert "meta:act_1 is not among the allowed accounts" in verdict.summary()


def test_an_account_may_be_allowed_by_id_or_by_platform_and_id() -> None:
    for allowed in ({"act_1"}, {"meta:act_1"}):
        assert Guardrails(allowed_accounts=frozenset(allowed)).check(pause(), context()).outcome == "allowed"


def test_dry_run_checks_as_usual_and_executes_nothing() -> None:
    guard = Guardrails(dry_run=True)
    ok, clamped, refused = (guard.check(a, context()) for a in (pause(), budget(100, 200), budget(100, 0)))
    assert [(v.outcome, v.executable) for v in (ok, clamped, refused)] == [
        ("allowed", False),
        ("clamped", False),
        ("refused", False),
    ]
    assert ("dry_run", "note") in rules(ok) and "never executed" in ok.summary()


# --- stale or missing context ---------------------------------------------------------------------------


def test_an_action_proposed_from_another_budget_than_now_is_refused_as_stale() -> None:
    verdict = Guardrails().check(budget(100, 110), context(budget_now=105))
    assert rules(verdict) == [("stale", "refuse")]
    assert "proposed from a budget of 100.00 USD, but meta adset 'Shoes' (11) has 105.00 USD now" in (
        verdict.summary()
    )
    assert Guardrails().check(bid(1, "1.1"), context(bid_now=2)).outcome == "refused"
    paused_already = context(extra={AD.key: EntityState(status="PAUSED")})
    assert "is PAUSED now" in Guardrails().check(pause(), paused_already).summary()


@pytest.mark.parametrize(
    ("ctx", "message"),
    [
        (context(last_changed=NOW + dt.timedelta(hours=2)), "the context looks stale or the clocks disagree"),
        (context(total=50), "less than this one's 100.00 USD: the context looks stale"),
        (context(budget_now=None), "has no daily budget of its own"),
        (context(currency="EUR"), "account act_1 is in EUR"),
        (GuardContext(now=NOW), "has no state for meta adset 'Shoes' (11): read it before checking"),
    ],
)
def test_a_stale_looking_or_incomplete_context_refuses_the_action(ctx: GuardContext, message: str) -> None:
    verdict = Guardrails(account_daily_caps={"act_1": 1000}).check(budget(100, 110), ctx)
    assert verdict.outcome == "refused" and message in verdict.summary()


def test_a_context_without_time_zones_is_refused() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        GuardContext(now=dt.datetime(2026, 11, 25, 9))
    with pytest.raises(ValidationError, match="timezone"):
        EntityState(last_changed_at=dt.datetime(2026, 11, 25, 9))


def test_every_reason_is_given_not_only_the_first() -> None:
    ctx = context(last_changed=NOW - dt.timedelta(hours=1), budget_now=90)
    verdict = Guardrails(allowed_accounts=frozenset({"act_9"})).check(budget(100, 0), ctx)
    assert {rule for rule, _ in rules(verdict)} == {"allow_list", "interval", "non_positive", "stale"}


# --- clamped actions -----------------------------------------------------------------------------------


def test_a_clamped_action_is_a_new_action_whose_id_reflects_the_new_value() -> None:
    proposed = budget(100, 200).model_copy(
        update={"expected": ExpectedEffect(metric="conversions", after=20)}
    )
    verdict = Guardrails().check(proposed, context())
    clamped = verdict.action
    assert isinstance(clamped, BudgetChange) and verdict.proposed_id == proposed.id
    assert clamped.id != proposed.id and clamped.id == budget(100, 130).id
    assert clamped.expected is None and clamped.reason == proposed.reason


@pytest.mark.parametrize(
    "after", ["0.01", "1", "7", "60", "99.99", "100.01", "125", "130.01", "400", "10000"]
)
def test_a_clamped_action_passes_the_guardrails_unchanged(after: str) -> None:
    guard = Guardrails(min_budget={"USD": 5}, max_budget=150, account_daily_caps={"act_1": 420})
    ctx = context(platform_min=2, total=300)
    verdict = guard.check(budget(100, after), ctx)
    if verdict.action is not None:
        again = guard.check(verdict.action, ctx)
        assert again.outcome == "allowed" and again.action == verdict.action


def test_verdicts_round_trip_through_json() -> None:
    verdicts = Guardrails().check_all([budget(100, 200), pause(), new_ad(), budget(100, 0)], context())
    again = [Verdict.model_validate_json(v.model_dump_json()) for v in verdicts]
    assert again == verdicts
    assert ActionList(actions=[v.action for v in again if v.action]).actions[0] == verdicts[0].action


# --- config and settings -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("max_change", 0, "greater than 0"),
        ("max_change", -0.1, "greater than 0"),
        ("min_budget", {"usd": -1}, "not a positive amount"),
        ("min_budget", {"XYZ": 5}, "unknown currency 'XYZ'"),
        ("max_budget", 0, "not a positive amount"),
        ("min_interval", dt.timedelta(hours=-1), "cannot be negative"),
        ("account_daily_caps", {"act_1": 0}, "account caps must be positive"),
        ("dry_rn", True, "Extra inputs are not permitted"),
    ],
)
def test_bad_guardrail_config_is_refused_with_a_clear_message(
    field: str, value: object, message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        Guardrails(**{field: value})


def test_a_minimum_above_the_maximum_is_refused() -> None:
    with pytest.raises(ValidationError, match="minimum budget 50 USD is above the maximum 10 USD"):
        Guardrails(min_budget={"USD": 50}, max_budget=10)


def test_settings_build_the_guardrails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADCLUSTER_GUARDRAIL_MAX_CHANGE", "0.2")
    monkeypatch.setenv("ADCLUSTER_GUARDRAIL_MIN_BUDGET", '{"usd": 5, "JPY": 500}')
    monkeypatch.setenv("ADCLUSTER_GUARDRAIL_MAX_BUDGET", "1000")
    monkeypatch.setenv("ADCLUSTER_GUARDRAIL_MIN_INTERVAL_HOURS", "12")
    monkeypatch.setenv("ADCLUSTER_GUARDRAIL_ACCOUNT_DAILY_CAPS", '{"meta:act_1": 2500}')
    monkeypatch.setenv("ADCLUSTER_ALLOWED_ACCOUNTS", '["act_1"]')
    monkeypatch.setenv("ADCLUSTER_DRY_RUN", "true")
    guard, _ = guardrails_and_policy(load_settings())
    assert guard == Guardrails(
        max_change=Decimal("0.2"),
        min_budget={"USD": 5, "JPY": 500},
        max_budget={"*": 1000},
        min_interval=dt.timedelta(hours=12),
        account_daily_caps={"meta:act_1": 2500},
        allowed_accounts=frozenset({"act_1"}),
        dry_run=True,
    )
    assert guard.min_budget_micros("JPY") == 500_000_000 and guard.max_budget_micros("EUR") == usd(1000)


def test_default_settings_give_the_documented_guardrails(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("ADCLUSTER_GUARDRAIL", "ADCLUSTER_ALLOWED", "ADCLUSTER_DRY")):
            monkeypatch.delenv(name)
    guard, _ = guardrails_and_policy(load_settings())
    assert guard == Guardrails() and guard.max_change == Decimal("0.3")
    assert guard.min_interval == dt.timedelta(hours=24) and not guard.dry_run and not guard.allowed_accounts


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("ADCLUSTER_GUARDRAIL_MAX_CHANGE", "0", "ADCLUSTER_GUARDRAIL_MAX_CHANGE"),
        ("ADCLUSTER_GUARDRAIL_MIN_BUDGET", "abc", "'abc' is neither an amount nor a JSON map"),
        ("ADCLUSTER_GUARDRAIL_MIN_BUDGET", '{"XYZ": 5}', "unknown currency 'XYZ'"),
        ("ADCLUSTER_GUARDRAIL_MAX_BUDGET", "-3", "ADCLUSTER_GUARDRAIL_MAX_BUDGET"),
        ("ADCLUSTER_GUARDRAIL_MIN_INTERVAL_HOURS", "-1", "ADCLUSTER_GUARDRAIL_MIN_INTERVAL_HOURS"),
        ("ADCLUSTER_GUARDRAIL_ACCOUNT_DAILY_CAPS", '{"act_1": 0}', "account caps must be positive"),
    ],
)
def test_bad_guardrail_settings_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=message):
        load_settings()


def test_a_minimum_setting_above_the_maximum_names_both(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADCLUSTER_GUARDRAIL_MIN_BUDGET", '{"USD": 50}')
    monkeypatch.setenv("ADCLUSTER_GUARDRAIL_MAX_BUDGET", "10")
    with pytest.raises(
        SettingsError, match=r"MIN_BUDGET \(50 for USD\) is above ADCLUSTER_GUARDRAIL_MAX_BUDGET"
    ):
        load_settings()


def test_a_bid_outside_the_set_range_is_clamped_with_the_reason_and_an_empty_range_refused() -> None:
    ranged = Guardrails(min_bid=Decimal("0.5"), max_bid=Decimal("2"), **NO_INTERVAL)
    high = ranged.check(bid("1.8", "2.3"), context(bid_now="1.8"))
    assert high.outcome == "clamped" and after_of(high) == usd(2) and ("bid_range", "clamp") in rules(high)
    low = ranged.check(bid(None, "0.2"), context(bid_now=None))  # a first cap, no step limit
    assert low.outcome == "clamped" and after_of(low) == usd("0.5")
    inside = ranged.check(bid("1", "1.2"), context(bid_now="1"))
    assert inside.outcome == "allowed" and after_of(inside) == usd("1.2")
    empty = Guardrails(min_bid=Decimal(3), max_bid=Decimal(2), **NO_INTERVAL)
    assert empty.check(bid("1", "1.2"), context(bid_now="1")).outcome == "refused"
