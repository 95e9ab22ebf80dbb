"""The marketer's rules: the file format and its errors, exact evaluation from sums, zero-conversion CPA,
goals, cooldowns, budget rounding and bounds, campaign budgets, currencies, and reading the warehouse."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from storage.models import Account, Ad, AdSet, Campaign, DailyMetric, Goal, SyncState
from storage.upsert import upsert
from tools.optimize.rules import evaluate
from tools.optimize.rules_language import RulesFileError, parse_rules
from tools.optimize.rules_records import (
    SKIP_CAUSES,
    BudgetHolder,
    DailyRow,
    EntitySeries,
    GoalTarget,
    RuleEvaluation,
)
from tools.rule_inputs import RuleInputError, load_rules, load_series

NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
LAST = dt.date(2026, 11, 24)
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "rules.toml"


def micros(amount: str | int) -> int:
    return int(Decimal(str(amount)) * 10**6)


def day(
    spend: str | int = 0, conv: int = 0, value: str | int = 0, imps: int = 1000, clicks: int = 20
) -> dict:
    return {
        "spend_micros": micros(spend),
        "conversions": conv,
        "value_micros": micros(value),
        "impressions": imps,
        "clicks": clicks,
    }


def series(
    days: list[dict[str, Any]],
    *,
    entity_id: str = "s1",
    level: str = "adset",
    currency: str = "USD",
    status: str = "ACTIVE",
    goal_cpa: str | None = None,
    goal_roas: str | None = None,
    budget: str | None = None,
    budget_on: str | None = None,
    **extra: Any,
) -> EntitySeries:
    """An entity whose history ends on LAST, one row per given day; budget_on="c1" puts the budget on
    campaign c1 (a campaign budget)."""
    rows = [DailyRow(day=LAST - dt.timedelta(days=len(days) - 1 - i), **d) for i, d in enumerate(days)]
    goal = None
    if goal_cpa or goal_roas:
        goal = GoalTarget(
            source="account act_1",
            currency=currency,
            target_cpa_micros=micros(goal_cpa) if goal_cpa else None,
            target_roas=Decimal(goal_roas) if goal_roas else None,
        )
    holder = None
    if budget is not None:
        holder = BudgetHolder(
            level="campaign" if budget_on else level,
            entity_id=budget_on or entity_id,
            name=f"campaign {budget_on}" if budget_on else f"set {entity_id}",
            daily_budget_micros=micros(budget),
        )
    values: dict[str, Any] = {
        "entity_id": entity_id,
        "name": f"set {entity_id}",
        "level": level,
        "platform": "meta",
        "account_id": "acc1",
        "account_platform_id": "act_1",
        "currency": currency,
        "status": status,
        "budget": holder,
        "goal": goal,
        "first_day": rows[0].day if rows else None,
        "last_day": LAST if rows else None,
        "days": rows,
    }
    values.update(extra)
    return EntitySeries(**values)


def rule(conditions: str, action: str = '{kind = "pause"}', *, level: str = "adset", extra: str = "") -> str:
    return (
        f'[[rule]]\nname = "r"\nlevel = "{level}"\nconditions = [{conditions}]\naction = {action}\n{extra}\n'
    )


def run(text: str, *entities: EntitySeries, now: dt.datetime = NOW, **kw: Any) -> RuleEvaluation:
    return evaluate(parse_rules(text), list(entities), now=now, **kw)


# The file format.


def test_the_example_file_parses_with_exact_decimals() -> None:
    rules = load_rules(EXAMPLE)
    assert [r.name for r in rules] == [
        "cut losers",
        "cut losers (JPY)",
        "scale winners",
        "trim weak budgets",
        "tired creative",
    ]
    cut = rules[0]
    assert cut.conditions[0].value == Decimal("1.5") and isinstance(cut.conditions[0].value, Decimal)
    assert cut.conditions[0].every_day and cut.conditions[0].relative_to == "goal_cpa"
    assert rules[2].action.change_pct == 15 and rules[2].cooldown_hours == 24
    assert load_rules(str(EXAMPLE)) == load_rules(EXAMPLE.read_text()) == rules


OK_CONDITION = '{metric = "spend", op = ">", value = 50}'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            rule(f'{OK_CONDITION}, {{metric = "cpaa", op = ">", value = 3}}').replace('"r"', '"cut losers"'),
            "rule 'cut losers': condition 2: unknown metric 'cpaa' (known: clicks, conversions, cpa,",
        ),
        (
            rule('{metric = "frequency", op = ">", value = 3}'),
            "condition 1: metric 'frequency' is not available",
        ),
        (rule('{metric = "cpa", op = "=>", value = 3}'), "rule 'r': condition 1: op: Input should be '>'"),
        (
            rule('{metric = "cpa", op = ">", value = nan}'),
            "condition 1: value: Input should be a finite number",
        ),
        (
            rule('{metric = "cpa", op = ">", value = 3, days = 0}'),
            "condition 1: days: Input should be greater",
        ),
        (rule('{metric = "cpa", op = ">", value = 3, window = 3}'), "condition 1: unknown field 'window'"),
        (rule('{metric = "ctr", op = ">", value = 1, relative_to = "goal_cpa"}'), "ctr cannot be a multiple"),
        (
            rule('{metric = "cpa", op = ">", value = 1, relative_to = "goal_roas"}'),
            "only roas can be a multiple",
        ),
        (
            rule(OK_CONDITION, extra="cooldown_hour = 3"),
            "rule 'r': unknown field 'cooldown_hour' (allowed: name,",
        ),
        (rule(OK_CONDITION, extra='currency = "USX"'), "rule 'r': unknown currency 'USX'"),
        (
            rule(OK_CONDITION, extra='platforms = ["fb"]'),
            "rule 'r': platforms: item 1: Input should be 'meta'",
        ),
        (rule(""), "rule 'r': conditions: at least one condition is needed"),
        (rule(OK_CONDITION, '{kind = "budget", change_pct = 10}', level="ad"), "ads have no budget"),
        (rule(OK_CONDITION, '{kind = "bid", change_pct = 10}', level="campaign"), "bids live on ad sets"),
        (
            rule(OK_CONDITION, '{kind = "budget", change_pct = -100}'),
            "action: change_pct: Input should be greater",
        ),
        (rule(OK_CONDITION, '{kind = "budget", change_pct = 0}'), "action: change_pct = 0 changes nothing"),
        (
            rule(OK_CONDITION, '{kind = "budget", change_pct = 5, set = 9}'),
            "action: a budget action needs exactly",
        ),
        (rule(OK_CONDITION, '{kind = "budget"}'), "action: a budget action needs exactly one of change_pct"),
        (
            rule(OK_CONDITION, '{kind = "pause", change_pct = 5}'),
            "action: a pause action takes no change_pct",
        ),
        (rule(OK_CONDITION, '{kind = "budget", set = 9, at_least = 5, at_most = 4}'), "at_least 5 is above"),
        (rule(OK_CONDITION, '{kind = "delete"}'), "action: kind: Input should be 'pause'"),
        (rule(OK_CONDITION).replace('name = "r"\n', ""), "rule 1: missing required field 'name'"),
        ('[[rule]]\nname = "r"\nlevel = "ad"\n', "rule 'r': missing required field 'action'"),
        (rule(OK_CONDITION) + rule(OK_CONDITION), "rule 'r': the name is also rule 1's"),
        ("[[rule]\nname = 1", "not valid TOML: Expected ']]'"),
        ("# nothing yet\n", "no rules: declare each one as a [[rule]] table"),
        ('[rules]\nname = "r"\n', "unknown top-level key 'rules'"),
    ],
)
def test_a_bad_rules_file_says_which_rule_and_field(text: str, expected: str) -> None:
    with pytest.raises(RulesFileError) as info:
        parse_rules(text, source="rules.toml")
    assert expected in str(info.value)
    assert all(p.startswith("rules.toml: ") for p in info.value.problems)


def test_every_problem_of_a_file_is_reported_at_once() -> None:
    text = rule('{metric = "cpaa", op = ">", value = 3}') + rule(OK_CONDITION, '{kind = "x"}').replace(
        '"r"', '"b"'
    )
    with pytest.raises(RulesFileError) as info:
        parse_rules(text)
    assert len(info.value.problems) == 2
    assert info.value.problems[0].startswith("rule 'r': condition 1") and info.value.problems[1].startswith(
        "rule 'b'"
    )


def test_an_unreadable_rules_file_is_a_rules_file_error(tmp_path: Path) -> None:
    with pytest.raises(RulesFileError, match="cannot read the rules file"):
        load_rules(tmp_path / "missing.toml")


# Evaluation.

CUT_LOSERS = rule(
    '{metric = "cpa", op = ">", value = 1.5, relative_to = "goal_cpa", days = 3, every_day = true},'
    '{metric = "spend", op = ">", value = 50, days = 3}'
).replace('"r"', '"cut losers"')


def test_cut_losers_pauses_with_the_figures_that_triggered_it() -> None:
    s = series([day(50, 1), day(60, 1), day(70, 1)], goal_cpa="30")
    result = run(CUT_LOSERS, s)
    assert result.skipped == []
    [p] = result.proposals
    assert (p.action, p.entity_id, p.current_status, p.proposed_status) == ("pause", "s1", "ACTIVE", "PAUSED")
    cpa, spend = p.figures
    assert (cpa.value, cpa.threshold, cpa.goal) == (Decimal(60), Decimal(45), Decimal(30))
    assert cpa.daily == [Decimal(50), Decimal(60), Decimal(70)]
    assert (cpa.first_day, cpa.last_day) == (LAST - dt.timedelta(days=2), LAST)
    assert (spend.value, spend.threshold, spend.every_day) == (Decimal(180), Decimal(50), False)
    assert p.reason == (
        "cut losers: CPA 60.00 USD > 45.00 USD (1.5 x goal 30.00 USD) on each of the 3 days to 2026-11-24 "
        "(50.00 USD, 60.00 USD, 70.00 USD); spend 180.00 USD > 50.00 USD over the 3 days to 2026-11-24 "
        "-> pause ad set 'set s1'"
    )
    assert result.last_fired == {"cut losers": {"s1": NOW}}


def test_every_day_needs_each_day_while_a_summed_window_needs_the_sum() -> None:
    s = series([day(40, 1), day(60, 1), day(70, 1)], goal_cpa="30")  # day 1 CPA 40 < 45; summed 56.67
    assert run(CUT_LOSERS, s).proposals == []
    summed = run(CUT_LOSERS.replace("every_day = true", "every_day = false"), s)
    assert summed.proposals[0].figures[0].value == Decimal("56.666667")


def test_ratios_come_from_sums_never_from_averaged_daily_ratios() -> None:
    # CPA 1 then 90: averaged 45.5, from the sums 100 / 11 = 9.09.
    s = series([day(10, 10, value=40, imps=4000, clicks=30), day(90, 1, value=110, imps=1000, clicks=20)])
    assert run(rule('{metric = "cpa", op = ">", value = 20, days = 2}'), s).proposals == []
    text = rule(
        '{metric = "cpa", op = "<", value = 10, days = 2}, {metric = "ctr", op = ">=", value = 0, days = 2},'
        '{metric = "cpm", op = ">=", value = 0, days = 2}, {metric = "roas", op = ">=", value = 0, days = 2},'
        '{metric = "cvr", op = ">=", value = 0, days = 2}, {metric = "cpc", op = ">=", value = 0, days = 2}'
    )
    [p] = run(text, s).proposals
    values = {f.metric: f.value for f in p.figures}
    assert values == {
        "cpa": Decimal("9.090909"),  # 100 / 11
        "ctr": Decimal(1),  # 50 clicks / 5000 impressions, in percent
        "cpm": Decimal(20),  # 100 / 5000 x 1000
        "roas": Decimal("1.5"),  # 150 / 100
        "cvr": Decimal(22),  # 11 / 50, in percent
        "cpc": Decimal(2),  # 100 / 50
    }


@pytest.mark.parametrize(
    ("spend", "op", "threshold", "fires"),
    [
        ("60", ">", "50", True),  # spent past the threshold without a conversion: CPA is above it
        ("40", ">", "50", False),  # not yet: the next conversion could still land below 50
        ("50", ">=", "50", True),
        ("50", ">", "50", False),
        ("60", "<", "100", False),  # a CPA with no conversion is never known to be below anything
        ("0", ">", "0", False),  # nothing spent, nothing converted: undefined
        ("0", "<", "100", False),
    ],
)
def test_zero_conversions_make_the_cpa_at_least_the_spend(
    spend: str, op: str, threshold: str, fires: bool
) -> None:
    s = series([day(spend, 0)])
    result = run(rule(f'{{metric = "cpa", op = "{op}", value = {threshold}}}'), s)
    assert bool(result.proposals) is fires and result.skipped == []
    if fires:
        [figure] = result.proposals[0].figures
        assert figure.at_least and figure.value == Decimal(spend)
        assert "CPA at least 60.00 USD (no conversions yet) > 50.00 USD" in figure.text or spend == "50"
    dumped = result.model_dump_json()
    assert "NaN" not in dumped and "Infinity" not in dumped


def test_ratios_of_nothing_are_undefined_and_meet_no_condition() -> None:
    s = series([day(0, 0, imps=0, clicks=0)])
    for metric in ("ctr", "roas", "cvr"):
        for op in (">", "<", ">=", "<="):
            result = run(rule(f'{{metric = "{metric}", op = "{op}", value = 0}}'), s)
            assert result.proposals == [] and result.skipped == []


def test_a_rule_on_the_goal_skips_entities_without_one_and_goes_on() -> None:
    text = rule('{metric = "cpa", op = ">", value = 1, relative_to = "goal_cpa"}')
    with_goal = series([day(60, 1)], entity_id="a", goal_cpa="30")
    without = series([day(60, 1)], entity_id="b")
    roas_only = series([day(60, 1)], entity_id="c", goal_roas="2")
    result = run(text, with_goal, without, roas_only)
    assert [p.entity_id for p in result.proposals] == ["a"]
    reasons = {s.entity_id: s.reason for s in result.skipped}
    assert "has no goal" in reasons["b"]
    assert "sets no target CPA" in reasons["c"]


def test_empty_or_short_history_is_skipped_with_the_reason() -> None:
    text = rule('{metric = "spend", op = ">=", value = 0, days = 3}')
    result = run(text, series([], entity_id="empty"), series([day(5), day(5)], entity_id="short"))
    assert result.proposals == []
    reasons = {s.entity_id: s.reason for s in result.skipped}
    assert reasons["empty"] == "no history: no synced day to evaluate"
    assert reasons["short"] == "needs 3 days of history to 2026-11-24, has 2 (from 2026-11-23)"


def test_days_without_a_row_in_the_covered_range_count_as_no_delivery() -> None:
    s = series([day(30, 1)], first_day=LAST - dt.timedelta(days=6))  # 7 days covered, 1 with delivery
    [p] = run(rule('{metric = "spend", op = "<", value = 31, days = 7, every_day = true}'), s).proposals
    assert p.figures[0].daily == [Decimal(0)] * 6 + [Decimal(30)]


SCALE = rule(
    '{metric = "roas", op = ">", value = 1, relative_to = "goal_roas", days = 2}',
    '{kind = "budget", change_pct = 15}',
    extra="cooldown_hours = 24",
)


def test_budget_up_at_most_once_a_day() -> None:
    s = series([day(100, 5, value=300), day(100, 5, value=300)], goal_roas="2.5", budget="33.33")
    first = run(SCALE, s)
    [p] = first.proposals
    assert (p.level, p.entity_id, p.current_micros, p.proposed_micros) == (
        "adset",
        "s1",
        33_330_000,
        38_320_000,
    )
    assert "ROAS 3.00 > 2.50 (1 x goal 2.50)" in p.reason
    assert "daily budget of ad set 'set s1' 33.33 USD -> 38.32 USD (+15.0%)" in p.reason
    record = first.last_fired
    soon = run(SCALE, s, now=NOW + dt.timedelta(hours=2), last_fired=record)
    assert soon.proposals == []
    assert "the 24 h cooldown ends at 2026-11-26T09:00:00+00:00" in soon.skipped[0].reason
    later = run(SCALE, s, now=NOW + dt.timedelta(hours=25), last_fired=record)
    assert len(later.proposals) == 1 and later.last_fired["r"]["s1"] == NOW + dt.timedelta(hours=25)
    assert record == {"r": {"s1": NOW}}  # the caller's record is not changed in place


@pytest.mark.parametrize(
    ("currency", "current", "pct", "expected"),
    [
        ("USD", "33.33", "15", "38.32"),  # 38.3295: rounded down, never more than +15%
        ("USD", "33.33", "-15", "28.34"),  # 28.3305: rounded up, never more than -15%
        ("JPY", "1234", "15", "1419"),  # whole yen
        ("JPY", "1000", "-33", "670"),
        ("KWD", "10.001", "10", "11.001"),  # three decimals
        ("USD", "0.05", "-99.99", "0.01"),  # never zero: one minor unit at least
    ],
)
def test_budget_changes_move_in_whole_minor_units_toward_the_current_amount(
    currency: str, current: str, pct: str, expected: str
) -> None:
    s = series([day(1, 1)], currency=currency, budget=current)
    text = rule('{metric = "conversions", op = ">", value = 0}', f'{{kind = "budget", change_pct = {pct}}}')
    [p] = run(text, s).proposals
    assert p.proposed_micros == micros(expected) and p.currency == currency


def test_budget_cuts_clamp_to_the_minimum_and_stop_there() -> None:
    cut = rule('{metric = "conversions", op = ">", value = 0}', '{kind = "budget", change_pct = -50}')
    above = series([day(1, 1)], budget="1.50", min_budget_micros=1_000_000)
    [p] = run(cut, above).proposals
    assert p.proposed_micros == 1_000_000 and "clamped to the minimum 1.00 USD" in p.reason
    at_min = series([day(1, 1)], budget="1.00", min_budget_micros=1_000_000)
    result = run(cut, at_min)
    assert result.proposals == [] and result.last_fired == {}
    assert (
        result.skipped[0].reason
        == "conditions met, but the budget stays 1.00 USD (clamped to the minimum 1.00 USD)"
    )
    below = series([day(1, 1)], budget="0.50", min_budget_micros=1_000_000)  # a cut must not raise it
    assert "outside its bounds" in run(cut, below).skipped[0].reason
    raise_capped = rule(
        '{metric = "conversions", op = ">", value = 0}', '{kind = "budget", change_pct = 50, at_most = 120}'
    )
    [capped] = run(raise_capped, series([day(1, 1)], budget="100")).proposals
    assert capped.proposed_micros == 120_000_000 and "capped at 120.00 USD" in capped.reason
    set_to = rule('{metric = "conversions", op = ">", value = 0}', '{kind = "budget", set = 100.005}')
    assert (
        "not a whole number of USD minor units"
        in run(set_to, series([day(1, 1)], budget="5")).skipped[0].reason
    )


def test_an_adset_rule_on_a_campaign_budget_proposes_once_on_the_campaign() -> None:
    s1 = series([day(100, 5, value=300)] * 2, entity_id="s1", goal_roas="2.5", budget="200", budget_on="c1")
    s2 = series([day(100, 5, value=300)] * 2, entity_id="s2", goal_roas="2.5", budget="200", budget_on="c1")
    result = run(SCALE, s1, s2)
    [p] = result.proposals
    assert (p.level, p.entity_id, p.triggered_by, p.proposed_micros) == ("campaign", "c1", "s1", 230_000_000)
    assert p.reason.endswith("(the budget of ad set 'set s1' lives on its campaign)")
    assert (
        "already proposes a change to campaign 'campaign c1' (via ad set 'set s1')"
        in result.skipped[0].reason
    )
    assert result.last_fired == {"r": {"c1": NOW}}
    campaign_rule = SCALE.replace('level = "adset"', 'level = "campaign"')
    no_campaign_budget = series([day(100, 5, value=300)] * 2, level="campaign", goal_roas="2.5")
    assert "its ad sets carry the budgets" in run(campaign_rule, no_campaign_budget).skipped[0].reason


def test_lifetime_budgets_and_automatic_bids_are_left_alone_with_a_reason() -> None:
    s = series([day(1, 1)])
    s = s.model_copy(
        update={"budget": BudgetHolder(level="adset", entity_id="s1", lifetime_budget_micros=10**9)}
    )
    budget = rule('{metric = "conversions", op = ">", value = 0}', '{kind = "budget", change_pct = 10}')
    assert "has a lifetime budget only" in run(budget, s).skipped[0].reason
    bid = rule('{metric = "conversions", op = ">", value = 0}', '{kind = "bid", change_pct = 10}')
    assert "automatic bidding" in run(bid, s).skipped[0].reason
    [p] = run(bid, s.model_copy(update={"bid_micros": 1_200_000})).proposals
    assert (p.current_micros, p.proposed_micros) == (1_200_000, 1_320_000)


def test_money_thresholds_are_never_compared_across_currencies() -> None:
    usd = series([day(60, 0)], entity_id="usd", goal_cpa="30")
    jpy = series([day(6000, 0)], entity_id="jpy", currency="JPY", goal_cpa="3000")
    absolute = rule('{metric = "spend", op = ">", value = 50}')
    mixed = run(absolute, usd, jpy)
    assert mixed.proposals == []
    [skip] = mixed.skipped
    assert skip.entity_id is None and "spend in JPY, USD: add currency" in skip.reason
    only_jpy = run(absolute + 'currency = "JPY"\n', usd, jpy)
    assert [p.entity_id for p in only_jpy.proposals] == ["jpy"]
    relative = run(rule('{metric = "cpa", op = ">", value = 1.5, relative_to = "goal_cpa"}'), usd, jpy)
    assert sorted(p.entity_id for p in relative.proposals) == ["jpy", "usd"]  # goals are per currency
    eur_goal = usd.model_copy(
        update={"goal": GoalTarget(source="account a", currency="EUR", target_cpa_micros=1)}
    )
    assert (
        "goal CPA is in EUR"
        in run(rule('{metric = "cpa", op = ">", value = 1, relative_to = "goal_cpa"}'), eur_goal)
        .skipped[0]
        .reason
    )
    mixed_rows = usd.model_copy(update={"days": [DailyRow(day=LAST, spend_micros=1, currency="EUR")]})
    assert "history mixes USD with EUR" in run(absolute, mixed_rows).skipped[0].reason


def test_status_platform_and_account_filters_choose_the_entities() -> None:
    active = series([day(60, 0)], entity_id="a")
    paused = series([day(60, 0)], entity_id="p", status="PAUSED")
    deleted = series([day(60, 0)], entity_id="d", status="DELETED")
    spend = '{metric = "spend", op = ">", value = 50}'
    assert [p.entity_id for p in run(rule(spend), active, paused, deleted).proposals] == ["a"]
    [back] = run(rule(spend, '{kind = "activate"}'), active, paused, deleted).proposals
    assert (back.entity_id, back.current_status, back.proposed_status) == ("p", "PAUSED", "ACTIVE")
    other = series(
        [day(60, 0)], entity_id="t", platform="tiktok", account_platform_id="adv_9", account_id="acc9"
    )
    assert [
        p.entity_id for p in run(rule(spend, extra='platforms = ["tiktok"]'), active, other).proposals
    ] == ["t"]
    assert [p.entity_id for p in run(rule(spend, extra='accounts = ["act_1"]'), active, other).proposals] == [
        "a"
    ]
    assert [p.entity_id for p in run(rule(spend, extra='accounts = ["acc9"]'), active, other).proposals] == [
        "t"
    ]
    assert run(rule(spend, level="ad"), active).proposals == []  # levels never mix


def test_every_skip_names_its_cause_for_counting() -> None:
    converts = '{metric = "conversions", op = ">", value = 0}'
    on_campaign = [
        series([day(100, 5, value=300)] * 2, entity_id=e, goal_roas="2.5", budget="200", budget_on="c1")
        for e in ("s1", "s2")
    ]
    scaled = series([day(100, 5, value=300)] * 2, goal_roas="2.5", budget="50")
    at_min = series([day(1, 1)], budget="1.00", min_budget_micros=1_000_000)
    cases = {
        "currency": run(
            rule(OK_CONDITION), series([day(60)]), series([day(6000)], entity_id="j", currency="JPY")
        ),
        "history": run(rule(OK_CONDITION), series([])),
        "goal": run(
            rule('{metric = "cpa", op = ">", value = 1, relative_to = "goal_cpa"}'), series([day(60, 1)])
        ),
        "no_lever": run(rule(converts, '{kind = "bid", change_pct = 10}'), series([day(1, 1)])),
        "duplicate": run(SCALE, *on_campaign),
        "cooldown": run(SCALE, scaled, last_fired={"r": {"s1": NOW - dt.timedelta(hours=1)}}),
        "amount": run(rule(converts, '{kind = "budget", change_pct = -50}'), at_min),
    }
    assert {cause: [s.cause for s in result.skipped] for cause, result in cases.items()} == {
        cause: [cause] for cause in cases
    }
    assert set(cases) == set(SKIP_CAUSES)


def test_a_naive_clock_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        run(rule(OK_CONDITION), series([day(60)]), now=dt.datetime(2026, 11, 25, 9))


def test_random_series_agree_with_an_exact_fraction_oracle() -> None:
    rng = random.Random(20261125)
    entities, expected_sum, expected_each = [], set(), set()
    for i in range(300):
        rows = [day(f"{rng.randint(0, 9000) / 100:.2f}", rng.choice([0, 0, 1, 2, 3])) for _ in range(4)]
        entities.append(series(rows, entity_id=f"e{i:03}", goal_cpa="12.34"))
        spend = [Fraction(r["spend_micros"], 10**6) for r in rows]
        conv = [r["conversions"] for r in rows]
        threshold = Fraction("1.3") * Fraction("12.34")

        def above(s: Fraction, c: int, threshold: Fraction = threshold) -> bool:
            return s / c > threshold if c else s > threshold  # no conversion: at least the spend

        if above(sum(spend, Fraction(0)), sum(conv)) and sum(spend) > 40:
            expected_sum.add(f"e{i:03}")
        if all(above(s, c) for s, c in zip(spend, conv, strict=True)) and sum(spend) > 40:
            expected_each.add(f"e{i:03}")
    text = rule(
        '{metric = "cpa", op = ">", value = 1.3, relative_to = "goal_cpa", days = 4},'
        '{metric = "spend", op = ">", value = 40, days = 4}'
    )
    summed = run(text, *entities)
    each = run(text.replace("days = 4}", "days = 4, every_day = true}", 1), *entities)
    assert {p.entity_id for p in summed.proposals} == expected_sum and len(expected_sum) > 20
    assert {p.entity_id for p in each.proposals} == expected_each and 0 < len(expected_each) < len(
        expected_sum
    )
    assert run(text, *reversed(entities)) == summed  # the order of the input does not matter


# Reading the warehouse.

MON = dt.date(2026, 11, 20)


def _world(engine: Engine) -> dict[str, str]:
    ids = {
        "usd": "acct-usd",
        "jpy": "acct-jpy",
        "cbo": "camp-cbo",
        "abo": "camp-abo",
        "cjp": "camp-jpy",
        "s1": "set-1",
        "s2": "set-2",
        "s3": "set-3",
    }
    accounts = [
        {"id": ids["usd"], "platform": "meta", "platform_id": "act_1", "name": "Shop US", "currency": "USD"},
        {
            "id": ids["jpy"],
            "platform": "tiktok",
            "platform_id": "adv_2",
            "name": "Shop JP",
            "currency": "JPY",
        },
    ]
    campaigns = [
        (ids["cbo"], ids["usd"], "Prospecting", 100_000_000),
        (ids["abo"], ids["usd"], "Retargeting", None),
        (ids["cjp"], ids["jpy"], "Japan", None),
    ]
    adsets = [
        (ids["s1"], ids["cbo"], ids["usd"], "Broad", None, None),
        (ids["s2"], ids["abo"], ids["usd"], "Visitors", 20_000_000, 1_500_000),
        (ids["s3"], ids["cjp"], ids["jpy"], "Tokyo", 5_000_000_000, None),
    ]
    ads = [("ad-1", ids["s1"]), ("ad-2", ids["s1"]), ("ad-3", ids["s2"]), ("ad-4", ids["s3"])]
    parent = {a[0]: a for a in adsets}
    currency = {ids["usd"]: "USD", ids["jpy"]: "JPY"}
    metrics = []
    for ad_id, adset_id in ads:
        _, campaign_id, account_id, *_ = parent[adset_id]
        last = 6 if account_id == ids["usd"] else 4  # the USD account synced to Nov 25, the JPY one to Nov 23
        for offset in range(last):
            metrics.append(
                {
                    "ad_id": ad_id,
                    "day": MON + dt.timedelta(days=offset),
                    "account_id": account_id,
                    "adset_id": adset_id,
                    "campaign_id": campaign_id,
                    "currency": currency[account_id],
                    "impressions": 1000,
                    "clicks": 10,
                    "spend_micros": 40_000_000 if account_id == ids["usd"] else 4_000_000_000,
                    "conversions": 1 if ad_id == "ad-1" else 0,
                    "value_micros": 50_000_000 if ad_id == "ad-1" else 0,
                }
            )
    with Session(engine) as session:
        upsert(session, Account, [{**a, "timezone": "UTC", "status": "ACTIVE"} for a in accounts])
        upsert(
            session,
            Campaign,
            [
                {
                    "id": c,
                    "account_id": a,
                    "platform": "meta",
                    "platform_id": f"p-{c}",
                    "name": n,
                    "status": "ACTIVE",
                    "effective_status": "ACTIVE",
                    "currency": currency[a],
                    "daily_budget_micros": b,
                }
                for c, a, n, b in campaigns
            ],
        )
        upsert(
            session,
            AdSet,
            [
                {
                    "id": s,
                    "campaign_id": c,
                    "account_id": a,
                    "platform": "meta",
                    "platform_id": f"p-{s}",
                    "name": n,
                    "status": "ACTIVE",
                    "effective_status": "ACTIVE",
                    "currency": currency[a],
                    "daily_budget_micros": b,
                    "bid_micros": bid,
                    "targeting": {},
                }
                for s, c, a, n, b, bid in adsets
            ],
        )
        upsert(
            session,
            Ad,
            [
                {
                    "id": ad,
                    "adset_id": s,
                    "campaign_id": parent[s][1],
                    "account_id": parent[s][2],
                    "platform": "meta",
                    "platform_id": f"p-{ad}",
                    "name": ad,
                    "status": "ACTIVE",
                    "effective_status": "ACTIVE",
                }
                for ad, s in ads
            ],
        )
        upsert(session, DailyMetric, metrics)
        upsert(
            session,
            Goal,
            [
                {
                    "id": "g1",
                    "scope": "account",
                    "entity_id": ids["usd"],
                    "currency": "USD",
                    "target_cpa_micros": 30_000_000,
                    "target_roas": None,
                },
                {
                    "id": "g2",
                    "scope": "campaign",
                    "entity_id": f"p-{ids['abo']}",
                    "currency": "USD",
                    "target_cpa_micros": 10_000_000,
                    "target_roas": "2.5",
                },
            ],
        )
        upsert(
            session,
            SyncState,
            [{"account_id": ids["usd"], "stream": "insights", "cursor_day": MON + dt.timedelta(days=5)}],
        )
        session.commit()
    return ids


def test_load_series_sums_ads_and_finds_budget_goal_and_synced_days(engine: Engine) -> None:
    ids = _world(engine)
    since, until = MON - dt.timedelta(days=3), MON + dt.timedelta(days=4)  # Nov 17 .. Nov 24
    by_id = {s.entity_id: s for s in load_series(engine, "adset", since, until)}
    s1, s2, s3 = by_id[ids["s1"]], by_id[ids["s2"]], by_id[ids["s3"]]
    # Two ads summed per day; history from the first synced day, to `until` (the cursor is a day later).
    assert (s1.first_day, s1.last_day, len(s1.days)) == (MON, MON + dt.timedelta(days=4), 5)
    assert (s1.days[0].spend_micros, s1.days[0].conversions, s1.days[0].impressions) == (80_000_000, 1, 2000)
    assert s1.budget is not None and (s1.budget.level, s1.budget.entity_id) == ("campaign", ids["cbo"])
    assert s1.budget.daily_budget_micros == 100_000_000
    assert s1.goal is not None and (s1.goal.target_cpa_micros, s1.goal.source) == (
        30_000_000,
        f"account {ids['usd']}",
    )
    # The campaign's goal (named by its platform id) wins over the account's; the ad set holds its budget.
    assert s2.goal is not None and (s2.goal.target_cpa_micros, s2.goal.target_roas) == (
        10_000_000,
        Decimal("2.5"),
    )
    assert s2.budget is not None and (s2.budget.level, s2.budget.daily_budget_micros) == ("adset", 20_000_000)
    assert s2.bid_micros == 1_500_000 and s2.account_platform_id == "act_1" and s2.platform == "meta"
    # No sync cursor: the newest metric day ends the history. No goal.
    assert (s3.currency, s3.last_day, s3.goal) == ("JPY", MON + dt.timedelta(days=3), None)

    ads = load_series(engine, "ad", since, until)
    assert sorted(a.entity_id for a in ads) == ["ad-1", "ad-2", "ad-3", "ad-4"]
    campaigns = {c.entity_id: c for c in load_series(engine, "campaign", since, until)}
    assert campaigns[ids["cbo"]].budget is not None and campaigns[ids["abo"]].budget is None
    assert campaigns[ids["cbo"]].days[0].spend_micros == 80_000_000

    with Session(engine) as session:
        adsets = load_series(session, "adset", since, until)
    # "spend > 50" would mean 50 USD and 50 JPY at once: refused. On the goal alone, s1's CPA is 80 a day
    # (> 1.5 x 30), s2 spent 40 a day without a conversion (> 1.5 x 10), and s3 has no goal.
    [refused] = evaluate(parse_rules(CUT_LOSERS), adsets, now=NOW).skipped
    assert "spend in JPY, USD" in refused.reason
    on_goal = rule(
        '{metric = "cpa", op = ">", value = 1.5, relative_to = "goal_cpa", days = 3, every_day = true}'
    )
    result = evaluate(parse_rules(on_goal), adsets, now=NOW)
    assert {p.entity_id for p in result.proposals} == {ids["s1"], ids["s2"]}
    [skip] = result.skipped
    assert skip.entity_id == ids["s3"] and "has no goal" in skip.reason


def test_load_series_on_an_empty_warehouse_is_empty_and_a_bad_goal_is_named(engine: Engine) -> None:
    assert load_series(engine, "adset", MON, MON) == []
    ids = _world(engine)
    with Session(engine) as session:
        upsert(
            session,
            Goal,
            [
                {
                    "id": "bad",
                    "scope": "account",
                    "entity_id": ids["jpy"],
                    "currency": "JPY",
                    "target_roas": "NaN",
                }
            ],
        )
        session.commit()
    with pytest.raises(RuleInputError, match=r"goal bad .* target_roas 'NaN' is not a positive decimal"):
        load_series(engine, "adset", MON, MON)
    with pytest.raises(ValueError, match="is after"):
        load_series(engine, "adset", MON, MON - dt.timedelta(days=1))


def test_an_entity_without_synced_days_is_skipped_not_crashed(engine: Engine) -> None:
    ids = _world(engine)
    later = MON + dt.timedelta(days=30)
    [jp] = [s for s in load_series(engine, "adset", later, later) if s.entity_id == ids["s3"]]
    assert (jp.first_day, jp.last_day, jp.days) == (None, None, [])
    result = evaluate(parse_rules(rule(OK_CONDITION)), [jp], now=NOW)
    assert result.skipped[0].reason == "no history: no synced day to evaluate"
