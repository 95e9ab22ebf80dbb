"""The optimizers as LangChain tools: each invoked with plain JSON-like input gives exactly what its optimizer
gives, as JSON-ready data; each schema names its fields; bad input comes back as a tool error naming it."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np
import pytest
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool

from tools.optimize.allocation import AdSetHistory, CpaRule, CurveAllocator, EqualSplit, Guardrails
from tools.optimize.creatives import CreativeDay, CreativeState, Thresholds, creative_report
from tools.optimize.dco_report import ComboDay, dco_report
from tools.optimize.experiments import plan
from tools.optimize.fatigue import FatigueDay, detect_fatigue
from tools.optimize.langchain_tools import optimizer_tools
from tools.optimize.priors import empirical_bayes_prior
from tools.optimize.rules import evaluate
from tools.optimize.rules_language import parse_rules
from tools.optimize.rules_records import EntitySeries

DAY = dt.date(2026, 11, 24)
NOW = dt.datetime(2026, 11, 25, 9, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def tools() -> dict[str, BaseTool]:
    return {t.name: t for t in optimizer_tools()}


def dump(rows: list[Any]) -> list[dict[str, Any]]:
    return [r.model_dump(mode="json") for r in rows]


def as_json(obj: Any) -> Any:
    """What a tool hands back: JSON-ready data that survives a round trip unchanged."""
    data = dump(obj) if isinstance(obj, list) else obj.model_dump(mode="json")
    assert json.loads(json.dumps(data)) == data
    return data


@pytest.mark.parametrize(
    ("name", "required", "optional"),
    [
        (
            "creative_bandit_report",
            {"days", "states"},
            {"prior_history", "default_rate", "metric", "thresholds", "today", "elements"},
        ),
        (
            "detect_creative_fatigue",
            {"days"},
            {"exposure", "z_threshold", "min_drop", "min_days", "min_impressions"},
        ),
        ("allocate_budget", {"adsets", "total_budget_micros"}, {"policy", "guardrails", "goal_cost", "seed"}),
        ("dco_report", {"rows"}, {"top_k", "min_clicks", "level"}),
        ("evaluate_rules", {"rules", "series", "now"}, {"last_fired"}),
        ("audience_segments", {"dimension", "segments"}, {"credibility", "min_lift"}),
        ("experiment_plan", {"metric", "baseline_rate", "mde"}, {"power", "alpha", "arms"}),
        ("experiment_compare", {"metric", "control", "treatment", "mde"}, {"alpha"}),
        ("performance_alerts", {"adset", "judged"}, set()),
    ],
)
def test_each_tool_schema_names_its_fields(
    tools: dict[str, BaseTool], name: str, required: set[str], optional: set[str]
) -> None:
    schema = tools[name].tool_call_schema.model_json_schema()  # what a chat model is shown
    assert set(schema["properties"]) == required | optional
    assert set(schema["required"]) == required
    assert tools[name].description and set(tools[name].args) == required | optional


def test_optimizer_tools_builds_nine_distinct_tools_that_handle_their_errors() -> None:
    built = optimizer_tools()
    assert [t.name for t in built] == [
        "creative_bandit_report",
        "detect_creative_fatigue",
        "allocate_budget",
        "dco_report",
        "evaluate_rules",
        "audience_segments",
        "experiment_plan",
        "experiment_compare",
        "performance_alerts",
    ]
    assert all(t.handle_tool_error and t.handle_validation_error for t in built)
    assert optimizer_tools()[0] is not built[0]  # built on demand, nothing shared at import


def test_creative_bandit_report_is_the_report_under_the_empirical_bayes_prior(
    tools: dict[str, BaseTool],
) -> None:
    rng = np.random.default_rng(4)
    days = [
        CreativeDay(
            ad_id=ad, day=DAY - dt.timedelta(days=d), impressions=5_000, clicks=int(rng.binomial(5_000, p))
        )
        for ad, p in (("a", 0.02), ("b", 0.012), ("c", 0.006))
        for d in range(7)
    ]
    states = [CreativeState(ad_id=a, active=a != "c") for a in "abc"]
    history = [(int(n), int(rng.binomial(n, 0.01))) for n in rng.integers(2_000, 50_000, size=8)]
    thresholds = Thresholds(min_live_ads=1)
    out = tools["creative_bandit_report"].invoke(
        {
            "days": dump(days),
            "states": dump(states),
            "prior_history": [{"impressions": n, "clicks": c} for n, c in history],
            "thresholds": thresholds.model_dump(),
        }
    )
    n, c = np.array(history, dtype=float).T
    prior = empirical_bayes_prior(c, n)
    assert out == as_json(creative_report(days, states, prior, thresholds=thresholds))
    assert out["prior"]["basis"] == "moments" and out["prior"]["creatives"] == 8
    verdicts = {v["ad_id"]: v["verdict"] for v in out["creatives"]}
    assert verdicts["a"] == "keep" and verdicts["b"] == "pause"
    # Without history: a weak prior at the default rate, and CVR counts conversions per click.
    plain = tools["creative_bandit_report"].invoke(
        {"days": dump(days), "states": dump(states), "metric": "cvr"}
    )
    assert plain["prior"]["basis"] == "default" and plain["metric"] == "cvr"
    # With elements: the shared-element model, learning from the past creatives that carry theirs.
    elements = {"a": ("h1", "i1"), "b": ("h2", "i1"), "c": ("h2", "i2")}
    past = [{"impressions": n, "clicks": c, "elements": ["h2", "old"]} for n, c in history[:3]]
    shared = tools["creative_bandit_report"].invoke(
        {"days": dump(days), "states": dump(states), "prior_history": past, "elements": elements}
    )
    assert shared["model"] == "elements" and out["model"] == "beta"
    assert [v["ad_id"] for v in shared["creatives"]] == ["a", "b", "c"]
    assert max(shared["creatives"], key=lambda v: v["prob_best"])["ad_id"] == "a"


def test_detect_creative_fatigue_is_the_regression_verdict(tools: dict[str, BaseTool]) -> None:
    rng = np.random.default_rng(1)
    days, seen = [], 0
    for d in range(28):
        imps = int(rng.poisson(8_000))
        days.append(
            FatigueDay(
                day=DAY - dt.timedelta(days=27 - d),
                impressions=imps,
                clicks=int(rng.binomial(imps, 0.015 * np.exp(-0.5 * seen / 100_000))),
            )
        )
        seen += imps
    out = tools["detect_creative_fatigue"].invoke({"days": dump(days), "min_drop": 0.2})
    assert out == as_json(detect_fatigue(days, min_drop=0.2))
    assert out["fatigued"] and out["z"] < -3
    short = tools["detect_creative_fatigue"].invoke({"days": dump(days[:5])})
    assert not short["fatigued"] and short["reason"].startswith("needs more data")


def _adsets() -> list[AdSetHistory]:
    rng = np.random.default_rng(0)
    out = []
    for name, budget, ceiling, scale in (("good", 50.0, 40.0, 60.0), ("poor", 50.0, 8.0, 60.0)):
        spend = budget * rng.uniform(0.6, 1.4, size=14)
        out.append(
            AdSetHistory(
                adset_id=name,
                currency="USD",
                current_budget_micros=int(budget * 1e6),
                spend_micros=[int(s * 1e6) for s in spend],
                conversions=rng.poisson(ceiling * (1 - np.exp(-spend / scale))).astype(float).tolist(),
            )
        )
    return out


def test_allocate_budget_proposes_as_each_policy_does(tools: dict[str, BaseTool]) -> None:
    adsets, total = _adsets(), 100_000_000
    tool, rows = tools["allocate_budget"], dump(adsets)
    guard = Guardrails(max_change=0.5)
    curves = tool.invoke({"adsets": rows, "total_budget_micros": total, "guardrails": guard.model_dump()})
    assert curves["proposals"] == as_json(CurveAllocator(guard).allocate(adsets, total))
    assert curves["policy"] == "curves" and curves["total_budget_micros"] == total
    by_id = {p["adset_id"]: p["proposed_budget_micros"] for p in curves["proposals"]}
    assert by_id["good"] > by_id["poor"] and curves["proposed_total_micros"] == sum(by_id.values())
    equal = tool.invoke({"adsets": rows, "total_budget_micros": total, "policy": "equal"})
    assert equal["proposals"] == as_json(EqualSplit().allocate(adsets, total))
    rule = tool.invoke({"adsets": rows, "total_budget_micros": total, "policy": "cpa_rule", "goal_cost": 3.0})
    assert rule["proposals"] == as_json(CpaRule(3.0).allocate(adsets, total))


def test_dco_report_is_the_factorised_report(tools: dict[str, BaseTool]) -> None:
    rng = np.random.default_rng(3)
    rows = [
        ComboDay(
            state=state, headline=h, image=i, cta="buy", impressions=4_000, clicks=int(rng.binomial(4_000, p))
        )
        for state, lift in (("feed", 1.0), ("stories", 0.6))
        for h, i, p in (("h1", "i1", 0.02), ("h1", "i2", 0.03), ("h2", "i1", 0.01))
    ]
    out = tools["dco_report"].invoke({"rows": dump(rows), "top_k": 2})
    assert out == as_json(dco_report(rows, top_k=2))
    assert [(u["state"], u["headline"], u["image"]) for u in out["untried"]] == [
        ("feed", "h2", "i2"),
        ("stories", "h2", "i2"),
    ]


RULES = """
[[rule]]
name = "cut losers"
level = "adset"
conditions = [{metric = "cpa", op = ">", value = 40, days = 2}]
action = {kind = "pause"}
"""


def test_evaluate_rules_proposes_with_figures_and_keeps_the_cooldown(tools: dict[str, BaseTool]) -> None:
    series = [
        EntitySeries(
            entity_id=entity,
            name=entity,
            level="adset",
            platform="meta",
            account_id="acc",
            currency="USD",
            status="ACTIVE",
            first_day=DAY - dt.timedelta(days=1),
            last_day=DAY,
            days=[
                {"day": DAY - dt.timedelta(days=d), "spend_micros": 60_000_000, "conversions": conv}
                for d in (0, 1)
            ],
        )
        for entity, conv in (("loser", 0), ("winner", 3))
    ]
    args = {"rules": RULES, "series": dump(series), "now": NOW.isoformat()}
    out = tools["evaluate_rules"].invoke(args)
    assert out == as_json(evaluate(parse_rules(RULES), series, now=NOW))
    [proposal] = out["proposals"]
    assert (proposal["entity_id"], proposal["proposed_status"]) == ("loser", "PAUSED")
    assert "at least 120.00 USD (no conversions yet)" in proposal["figures"][0]["text"]
    later = tools["evaluate_rules"].invoke({**args, "last_fired": out["last_fired"]})
    assert later["proposals"] == [] and [s["cause"] for s in later["skipped"]] == ["cooldown"]


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        (
            "dco_report",
            {"rows": [{"state": "feed", "headline": "h"}]},
            "dco_report: invalid input: rows.0.image",
        ),
        (
            "dco_report",
            {
                "rows": [
                    {"state": "f", "headline": "h", "image": "i", "cta": "c", "impressions": 1, "clicks": 2}
                ]
            },
            "more clicks than impressions",
        ),
        (
            "creative_bandit_report",
            {"days": [], "states": []},
            "an ad set with no creatives has nothing to decide",
        ),
        (
            "creative_bandit_report",
            {
                "days": [],
                "states": [{"ad_id": "a", "active": True}],
                "prior_history": [{"impressions": 1, "clicks": 5}],
            },
            "need finite 0 <= successes <= trials",
        ),
        ("detect_creative_fatigue", {"days": "not a list"}, "detect_creative_fatigue: invalid input: days"),
        (
            "allocate_budget",
            {"adsets": [], "total_budget_micros": 10},
            "allocate_budget: no ad sets to allocate over",
        ),
        (
            "allocate_budget",
            {"adsets": [], "total_budget_micros": 10, "policy": "cpa_rule"},
            "the cpa_rule policy needs goal_cost",
        ),
        (
            "allocate_budget",
            {"adsets": [], "total_budget_micros": 10, "policy": "greedy"},
            "policy: Input should be",
        ),
        (
            "evaluate_rules",
            {"rules": "[[rule]]\nname = 'r'\n", "series": [], "now": NOW.isoformat()},
            "missing required field 'level'",
        ),
        (
            "evaluate_rules",
            {"rules": RULES, "series": [], "now": "2026-11-25T09:00:00"},
            "now: Input should have timezone info",
        ),
    ],
)
def test_bad_input_comes_back_as_a_tool_error_that_names_it(
    tools: dict[str, BaseTool], name: str, args: dict[str, Any], message: str
) -> None:
    result = tools[name].invoke(args)
    assert isinstance(result, str) and message in result
    assert result.startswith(f"{name}: ")
    # In an agent loop the same error is an error ToolMessage for the model to read, not an exception.
    call = {"name": name, "args": args, "id": "call-1", "type": "tool_call"}
    reply = tools[name].invoke(call)
    assert isinstance(reply, ToolMessage) and reply.status == "error" and message in reply.content


def test_the_issue_10_tools_return_their_reports_and_refuse_bad_input(tools: dict[str, BaseTool]) -> None:
    planned = tools["experiment_plan"].invoke({"metric": "ctr", "baseline_rate": 0.01, "mde": 0.1})
    assert planned["per_arm"] == pytest.approx(plan(metric="ctr", baseline_rate=0.01, mde=0.1).per_arm)
    segments = [
        {"value": "18-24", "spend_micros": 1_000_000_000, "conversions": 50},
        {"value": "25-34", "spend_micros": 1_000_000_000, "conversions": 100},
    ]
    report = tools["audience_segments"].invoke({"dimension": "age", "segments": segments})
    assert [s["verdict"] for s in report["segments"]] == ["worse", "better"]
    refused = tools["experiment_plan"].invoke({"metric": "ctr", "baseline_rate": 2, "mde": 0.1})
    assert refused == "experiment_plan: a rate and its lifted value must stay below 1"
