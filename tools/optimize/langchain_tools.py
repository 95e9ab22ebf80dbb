"""Each optimizer as a typed LangChain tool: a pydantic input schema (the JSON schema a model is shown), a
JSON-serialisable output (the optimizer's own pydantic report, dumped in JSON mode), and bad input
returned as a tool error that names what is wrong (`ToolException`, handled), never raised into the
agent loop. The tools only compute: none of them writes to a platform.

`optimizer_tools()` builds them all; nothing is built at import time.
"""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
from langchain_core.tools import BaseTool, StructuredTool, ToolException
from pydantic import AwareDatetime, BaseModel, Field, ValidationError, model_validator

from tools.optimize.alerts import AdSetWatch, Alert, adset_alerts
from tools.optimize.allocation import (
    AdSetHistory,
    Allocator,
    CpaRule,
    CurveAllocator,
    EqualSplit,
    Guardrails,
    Proposal,
)
from tools.optimize.audiences import Dimension, SegmentFigures, SegmentReport, segment_report
from tools.optimize.creatives import (
    CreativeDay,
    CreativeReport,
    CreativeState,
    PastCreative,
    Thresholds,
    creative_report,
)
from tools.optimize.dco_report import ComboDay, DcoReport, dco_report
from tools.optimize.experiments import ArmDay, Comparison, Metric, Plan, compare, plan
from tools.optimize.fatigue import FatigueDay, FatigueVerdict, detect_fatigue
from tools.optimize.priors import empirical_bayes_prior
from tools.optimize.rules import evaluate
from tools.optimize.rules_language import parse_rules
from tools.optimize.rules_records import EntitySeries, RuleEvaluation

Policy = Literal["curves", "equal", "cpa_rule"]


def _default(fn: Callable[..., object], name: str) -> Any:
    """The optimizer's own default for a parameter, so that a tool's schema cannot drift from it."""
    return inspect.signature(fn).parameters[name].default


# -- creative_bandit_report ----------------------------------------------------------------------------


class CreativeTotals(BaseModel):
    """One of the account's other creatives, summed over its life: the prior's evidence, and with its
    elements, evidence about the elements it shares with this ad set's creatives."""

    impressions: int = Field(ge=0)
    clicks: int = Field(ge=0)
    conversions: int = Field(default=0, ge=0)
    elements: tuple[str, ...] | None = Field(default=None, description="as in `elements` of the input")


class CreativeBanditInput(BaseModel):
    days: list[CreativeDay] = Field(description="each creative's daily figures in this ad set")
    states: list[CreativeState] = Field(description="every creative of the ad set, and whether it is live")
    prior_history: list[CreativeTotals] = Field(
        default_factory=list,
        description="the account's other creatives, for an empirical-Bayes prior; "
        "none: a weak prior at default_rate",
    )
    default_rate: float = Field(default=0.01, gt=0, lt=1, description="the prior's rate without history")
    metric: Literal["ctr", "cvr"] = Field(default="ctr", description="click rate, or conversions per click")
    thresholds: Thresholds = Field(default_factory=Thresholds, description="evidence a verdict needs")
    today: dt.date | None = Field(default=None, description="day the evidence is aged to; default its last")
    elements: dict[str, tuple[str, ...]] | None = Field(
        default=None,
        description="per ad id, its creative's elements in a fixed order (headline, body, image, CTA): "
        "creatives that share elements share evidence; none: one independent posterior per creative",
    )


def _creative_bandit_report(req: CreativeBanditInput) -> CreativeReport:
    pairs = [
        (t.clicks, t.impressions) if req.metric == "ctr" else (t.conversions, t.clicks)
        for t in req.prior_history
    ]
    successes, trials = np.array(pairs, dtype=float).reshape(-1, 2).T
    prior = empirical_bayes_prior(successes, trials, default_rate=req.default_rate)
    history = [
        PastCreative(elements=t.elements, successes=s, trials=n)
        for t, s, n in zip(req.prior_history, successes, trials, strict=True)
        if t.elements is not None
    ]
    return creative_report(
        req.days,
        req.states,
        prior,
        metric=req.metric,
        thresholds=req.thresholds,
        today=req.today,
        elements=req.elements,
        history=history if req.elements is not None else None,
    )


# -- detect_creative_fatigue ---------------------------------------------------------------------------


class FatigueInput(BaseModel):
    days: list[FatigueDay] = Field(description="one ad's daily impressions and clicks")
    exposure: list[float] | None = Field(
        default=None,
        description="one value per day (e.g. frequency so far); default: impressions so far, in thousands",
    )
    z_threshold: float = Field(default=_default(detect_fatigue, "z_threshold"), gt=0)
    min_drop: float = Field(default=_default(detect_fatigue, "min_drop"), ge=0, lt=1)
    min_days: int = Field(default=_default(detect_fatigue, "min_days"), ge=3)
    min_impressions: int = Field(default=_default(detect_fatigue, "min_impressions"), ge=0)


def _detect_creative_fatigue(req: FatigueInput) -> FatigueVerdict:
    return detect_fatigue(
        req.days,
        exposure=req.exposure,
        z_threshold=req.z_threshold,
        min_drop=req.min_drop,
        min_days=req.min_days,
        min_impressions=req.min_impressions,
    )


# -- allocate_budget -----------------------------------------------------------------------------------


class AllocateBudgetInput(BaseModel):
    adsets: list[AdSetHistory] = Field(description="the budgets to split (one currency, one objective)")
    total_budget_micros: int = Field(gt=0, description="the daily total to split, in micros")
    policy: Policy = Field(
        default="curves",
        description="curves: fitted diminishing returns; equal: an equal split; "
        "cpa_rule: -20% above 1.2x the goal cost, +20% below 0.8x",
    )
    guardrails: Guardrails = Field(default_factory=Guardrails, description="limits of the curves policy")
    goal_cost: float | None = Field(
        default=None, gt=0, description="cpa_rule only: the goal cost per result, major units"
    )
    seed: int = Field(default=0, ge=0, description="bootstrap seed of the curves policy")

    @model_validator(mode="after")
    def _goal_for_the_rule(self) -> AllocateBudgetInput:
        if self.policy == "cpa_rule" and self.goal_cost is None:
            raise ValueError("the cpa_rule policy needs goal_cost")
        return self


class BudgetAllocation(BaseModel):
    policy: Policy
    total_budget_micros: int
    proposed_total_micros: int
    proposals: list[Proposal]


def allocate(req: AllocateBudgetInput) -> list[Proposal]:
    """The one place that knows how the allocators are built and called, as allocation.py evolves."""
    allocator: Allocator
    if req.policy == "curves":
        allocator = CurveAllocator(req.guardrails, seed=req.seed)
    elif req.policy == "equal":
        allocator = EqualSplit()
    else:
        assert req.goal_cost is not None  # checked by the input model
        allocator = CpaRule(req.goal_cost)
    return allocator.allocate(req.adsets, req.total_budget_micros)


def _allocate_budget(req: AllocateBudgetInput) -> BudgetAllocation:
    proposals = allocate(req)
    return BudgetAllocation(
        policy=req.policy,
        total_budget_micros=req.total_budget_micros,
        proposed_total_micros=sum(p.proposed_budget_micros for p in proposals),
        proposals=proposals,
    )


# -- dco_report ----------------------------------------------------------------------------------------


class DcoInput(BaseModel):
    rows: list[ComboDay] = Field(description="daily figures per state and headline x image x CTA")
    top_k: int = Field(default=_default(dco_report, "top_k"), ge=1, description="untried combos per state")
    min_clicks: int = Field(default=_default(dco_report, "min_clicks"), ge=0)
    level: float = Field(default=_default(dco_report, "level"), gt=0, lt=1, description="credible level")


def _dco_report(req: DcoInput) -> DcoReport:
    return dco_report(req.rows, top_k=req.top_k, min_clicks=req.min_clicks, level=req.level)


# -- evaluate_rules ------------------------------------------------------------------------------------


class EvaluateRulesInput(BaseModel):
    rules: str = Field(min_length=1, description="the rules file's TOML text ([[rule]] tables)")
    series: list[EntitySeries] = Field(description="the entities' daily figures, status, budget and goal")
    now: AwareDatetime = Field(description="the evaluation time, with its time zone")
    last_fired: dict[str, dict[str, AwareDatetime]] = Field(
        default_factory=dict, description="per rule and entity id, when it last proposed (for cooldowns)"
    )


def _evaluate_rules(req: EvaluateRulesInput) -> RuleEvaluation:
    return evaluate(parse_rules(req.rules), req.series, now=req.now, last_fired=req.last_fired)


# -- audience_segments, experiment_plan, experiment_compare, performance_alerts --------------------------


class AudienceInput(BaseModel):
    dimension: Dimension
    segments: list[SegmentFigures] = Field(
        min_length=1, description="one ad set's segments of that dimension"
    )
    credibility: float = Field(default=0.95, gt=0.5, lt=1)
    min_lift: float = Field(default=0.2, ge=0)


def _audience_segments(req: AudienceInput) -> SegmentReport:
    return segment_report(
        req.segments, dimension=req.dimension, credibility=req.credibility, min_lift=req.min_lift
    )


class PlanInput(BaseModel):
    metric: Metric
    baseline_rate: float = Field(
        gt=0, description="CTR or CVR as a fraction, or conversions per unit of spend"
    )
    mde: float = Field(gt=0, description="the smallest relative lift worth finding, e.g. 0.1")
    power: float = Field(default=0.8, gt=0, lt=1)
    alpha: float = Field(default=0.05, gt=0, lt=1)
    arms: int = Field(default=2, ge=2)


def _experiment_plan(req: PlanInput) -> Plan:
    return plan(
        metric=req.metric,
        baseline_rate=req.baseline_rate,
        mde=req.mde,
        power=req.power,
        alpha=req.alpha,
        arms=req.arms,
    )


class CompareInput(BaseModel):
    metric: Metric
    control: list[ArmDay] = Field(min_length=1, description="the control's daily figures")
    treatment: list[ArmDay] = Field(min_length=1, description="the treatment's, for the same days")
    mde: float = Field(gt=0)
    alpha: float = Field(default=0.05, gt=0, lt=1)


def _experiment_compare(req: CompareInput) -> Comparison:
    return compare(req.control, req.treatment, metric=req.metric, mde=req.mde, alpha=req.alpha)


class AlertsInput(BaseModel):
    adset: AdSetWatch
    judged: dt.date = Field(description="the day judged: the last complete day")


class AlertList(BaseModel):
    alerts: list[Alert]


def _performance_alerts(req: AlertsInput) -> AlertList:
    return AlertList(alerts=adset_alerts(req.adset, req.judged))


# -- the tools -----------------------------------------------------------------------------------------


def _problems(exc: ValidationError) -> str:
    """Each problem with where it is (`rows.0.clicks`), as a model can act on it."""
    problems = []
    for e in exc.errors():
        where, msg = ".".join(str(p) for p in e["loc"]), e["msg"].removeprefix("Value error, ")
        problems.append(f"{where}: {msg}" if where else msg)
    return "; ".join(problems)


def _structured_tool(
    name: str, description: str, schema: type[BaseModel], run: Callable[[Any], BaseModel]
) -> StructuredTool:
    def call(**fields: Any) -> dict[str, Any]:
        try:
            return run(schema.model_validate(fields)).model_dump(mode="json")
        except ValidationError as exc:  # a model the optimizer builds from the input
            raise ToolException(f"{name}: invalid input: {_problems(exc)}") from exc
        except (ValueError, ArithmeticError) as exc:  # the optimizers' own refusals (and numeric failures)
            raise ToolException(f"{name}: {exc}") from exc

    return StructuredTool.from_function(
        func=call,
        name=name,
        description=description,
        args_schema=schema,
        handle_tool_error=True,
        handle_validation_error=lambda exc: f"{name}: invalid input: {_problems(exc)}",
    )


def optimizer_tools() -> list[BaseTool]:
    """Every optimizer as a tool, each returning its report as JSON-ready data."""
    return [
        _structured_tool(
            "creative_bandit_report",
            "Which creatives of one ad set to keep, pause or reactivate, and whether to add a new ad: "
            "Thompson posteriors (CTR or CVR) with credible intervals, P(best) and expected loss per "
            "creative, under an empirical-Bayes prior from the account's other creatives.",
            CreativeBanditInput,
            _creative_bandit_report,
        ),
        _structured_tool(
            "detect_creative_fatigue",
            "Whether one ad's CTR is falling with exposure beyond noise and the weekday (a binomial "
            "regression): fatigued or not, the slope, its z-score and the fitted CTR drop.",
            FatigueInput,
            _detect_creative_fatigue,
        ),
        _structured_tool(
            "allocate_budget",
            "Split a daily total budget (micros) across ad-set or campaign budgets of one currency and "
            "objective, by a policy, within guardrails: a proposed budget per entity with its evidence.",
            AllocateBudgetInput,
            _allocate_budget,
        ),
        _structured_tool(
            "dco_report",
            "Dynamic creative optimisation: headline, image and CTA effects on CTR, the best combination per "
            "state (segment or placement) and the untried combinations worth testing.",
            DcoInput,
            _dco_report,
        ),
        _structured_tool(
            "evaluate_rules",
            "The marketer's rules (TOML text) on entities' daily figures: the proposed pauses, activations, "
            "budget and bid changes with the figures that triggered them, the skips with their reasons, and "
            "the updated record of when each rule last fired. Proposals only: nothing is sent.",
            EvaluateRulesInput,
            _evaluate_rules,
        ),
        _structured_tool(
            "audience_segments",
            "Which segments of one ad set's age, gender, country or placement breakdown cost credibly "
            "more (or less) per conversion than the ad set: hierarchical Gamma-Poisson estimates shrunk "
            "toward the ad set, with intervals, the probability of being worse and the share of spend.",
            AudienceInput,
            _audience_segments,
        ),
        _structured_tool(
            "experiment_plan",
            "The sample per arm an A/B test needs to find a relative lift with a power, under a sequential "
            "test that stays valid when looked at daily.",
            PlanInput,
            _experiment_plan,
        ),
        _structured_tool(
            "experiment_compare",
            "A treatment against a control, day by day, by the always-valid sequential test: p-value, the "
            "lift's confidence sequence, the day a winner was declared (if any).",
            CompareInput,
            _experiment_compare,
        ),
        _structured_tool(
            "performance_alerts",
            "One ad set's alerts for a day against its own recent days: spend spike, intraday overspend, "
            "delivery drop, CPA jump, CTR drop, each with its figures.",
            AlertsInput,
            _performance_alerts,
        ),
    ]
