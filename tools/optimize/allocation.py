"""Budget allocation across ad sets (and platforms) of one currency: fitted diminishing-returns curves,
moved toward equal marginal return under a total budget and every guardrail; the seed's CPA rule and an
equal split as baselines behind the same interface.

Each budget (an ad set's, or a campaign's when the budget lives there) is fitted to
results(b) = A (1 - exp(-b / S)) from its daily history, where the result is what its objective counts:
conversions (CPA), value (ROAS), clicks (CPC) or thousand impressions (CPM). A parametric bootstrap (or
the binomial posterior of the result rate) gives the fit's uncertainty, and budgets whose curve is
uncertain are valued optimistically (an upper quantile of A) so that they get the budget that teaches
something. The split then maximises the sum of the curves under the total, the per-entity bounds (min,
max, platform minimum, maximum change per step) and the account caps (`tools.optimize.curves`).
"""

from __future__ import annotations

from typing import Literal, Protocol

import numpy as np
from pydantic import BaseModel, Field, model_validator

from tools.optimize.curves import AllocationError, CurveFit, fit_curve, fit_delivery_curve, water_fill
from tools.platforms.money import MoneyError, micros_to_decimal, micros_to_minor

Objective = Literal["conversions", "value", "clicks", "impressions"]
# What one result is and what its cost is called, per objective.
RESULT: dict[str, tuple[str, str]] = {
    "conversions": ("conversions", "CPA"),
    "value": ("value", "cost per unit of value (1 / ROAS)"),
    "clicks": ("clicks", "CPC"),
    "impressions": ("thousand impressions", "CPM"),
}
# Platform objective names (Meta ODAX and legacy, X, TikTok) to what the allocator maximises.
_OBJECTIVES: dict[str, Objective] = {
    **dict.fromkeys(
        (
            "OUTCOME_SALES",
            "CONVERSIONS",
            "WEBSITE_CONVERSIONS",
            "PRODUCT_SALES",
            "SALES",
            "OUTCOME_LEADS",
            "LEAD_GENERATION",
            "APP_INSTALLS",
            "OUTCOME_APP_PROMOTION",
            "APP_PROMOTION",
        ),
        "conversions",
    ),
    **dict.fromkeys(("VALUE", "ROAS"), "value"),
    **dict.fromkeys(("OUTCOME_TRAFFIC", "TRAFFIC", "LINK_CLICKS", "WEBSITE_CLICKS"), "clicks"),
    **dict.fromkeys(
        (
            "OUTCOME_AWARENESS",
            "REACH",
            "BRAND_AWARENESS",
            "AWARENESS",
            "VIDEO_VIEWS",
            "ENGAGEMENT",
            "OUTCOME_ENGAGEMENT",
            "ENGAGEMENTS",
        ),
        "impressions",
    ),
}


def objective_for(platform_objective: str) -> Objective:
    """What the allocator maximises for a campaign objective: awareness campaigns are judged on CPM and
    traffic campaigns on CPC, not on CPA."""
    try:
        return _OBJECTIVES[platform_objective.upper()]
    except KeyError:
        raise AllocationError(
            f"unknown campaign objective {platform_objective!r}: known {sorted(_OBJECTIVES)}"
        ) from None


class AdSetHistory(BaseModel):
    """What the allocator knows about one budget; money in integer micros of `currency`.

    `level` says where the budget lives: an ad set's own, or its campaign's (then `adset_id` is the
    campaign's id and `members` the ad sets it funds; `campaign_history` builds one from its ad sets)."""

    adset_id: str
    currency: str = Field(min_length=3, max_length=3)
    level: Literal["adset", "campaign"] = "adset"
    members: list[str] = Field(default_factory=list, description="ad sets a campaign budget funds")
    platform: Literal["meta", "x", "tiktok"] | None = None
    account_id: str | None = Field(default=None, description="for account caps")
    objective: Objective = "conversions"
    minor_unit_micros: int = Field(default=10_000, gt=0, description="budgets are whole minor units")
    current_budget_micros: int = Field(gt=0)
    min_budget_micros: int = Field(default=0, ge=0, description="the larger of the platform's and yours")
    max_budget_micros: int | None = Field(default=None, gt=0)
    spend_micros: list[int] = Field(default_factory=list, description="daily spend, oldest first")
    conversions: list[float] = Field(default_factory=list, description="daily conversions")
    impressions: list[int] | None = Field(
        default=None, description="daily impressions: a far less noisy curve"
    )
    clicks: list[int] | None = Field(default=None, description="daily clicks (traffic objective)")
    value_micros: list[int] | None = Field(default=None, description="daily purchase value (value objective)")

    @model_validator(mode="after")
    def _consistent(self) -> AdSetHistory:
        n = len(self.spend_micros)
        series = {
            "conversions": self.conversions,
            "impressions": self.impressions,
            "clicks": self.clicks,
            "value_micros": self.value_micros,
        }
        if any(v is not None and len(v) != n for v in series.values()):
            raise ValueError(f"{self.adset_id}: every daily series must have one entry per day of spend")
        if any(s < 0 for s in self.spend_micros) or any(
            not np.isfinite(x) or x < 0 for v in series.values() if v is not None for x in v
        ):
            raise ValueError(f"{self.adset_id}: daily figures must be finite and not negative")
        needed = {"clicks": self.clicks, "value": self.value_micros, "impressions": self.impressions}
        if self.objective in needed and needed[self.objective] is None and n:
            raise ValueError(
                f"{self.adset_id}: the {self.objective} objective needs its daily {self.objective}"
            )
        if self.max_budget_micros is not None and self.max_budget_micros < self.min_budget_micros:
            raise ValueError(f"{self.adset_id}: max budget below min budget")
        return self

    def results(self) -> list[float]:
        """The daily results its objective counts."""
        if self.objective == "clicks":
            return [float(c) for c in self.clicks or []]
        if self.objective == "value":
            return [v / 1e6 for v in self.value_micros or []]
        if self.objective == "impressions":
            return [i / 1000 for i in self.impressions or []]
        return list(self.conversions)


def _sum_series(rows: list[list[int] | list[float] | None]) -> list | None:  # type: ignore[type-arg]
    if any(r is None for r in rows):
        return None
    return [sum(day) for day in zip(*rows, strict=True)]  # type: ignore[arg-type]


def campaign_history(
    campaign_id: str,
    members: list[AdSetHistory],
    *,
    current_budget_micros: int,
    min_budget_micros: int = 0,
    max_budget_micros: int | None = None,
) -> AdSetHistory:
    """One budget unit for a campaign whose budget lives at the campaign level (Meta's campaign budget,
    TikTok's campaign budget, X's campaign budget optimisation): its ad sets' days summed."""
    if not members:
        raise AllocationError(f"campaign {campaign_id} has no ad sets to fund")
    first = members[0]
    if len({(m.currency, m.objective, len(m.spend_micros)) for m in members}) > 1:
        raise AllocationError(
            f"campaign {campaign_id}: its ad sets differ in currency, objective or days of history"
        )
    return AdSetHistory(
        adset_id=campaign_id,
        currency=first.currency,
        level="campaign",
        members=[m.adset_id for m in members],
        platform=first.platform,
        account_id=first.account_id,
        objective=first.objective,
        minor_unit_micros=first.minor_unit_micros,
        current_budget_micros=current_budget_micros,
        min_budget_micros=min_budget_micros,
        max_budget_micros=max_budget_micros,
        spend_micros=_sum_series([m.spend_micros for m in members]) or [],
        conversions=_sum_series([m.conversions for m in members]) or [],
        impressions=_sum_series([m.impressions for m in members]),
        clicks=_sum_series([m.clicks for m in members]),
        value_micros=_sum_series([m.value_micros for m in members]),
    )


class Guardrails(BaseModel):
    max_change: float | None = Field(default=0.3, gt=0, description="largest relative change per step")
    exploration: float = Field(default=1.0, ge=0, description="z of the optimistic quantile of a curve")
    min_days: int = Field(default=7, ge=2, description="days of history before a curve is trusted")
    account_caps_micros: dict[str, int] = Field(
        default_factory=dict, description="per account id: the most its budgets may add up to a day"
    )


class Proposal(BaseModel):
    adset_id: str = Field(description="the budget's owner: the ad set, or the campaign when level=campaign")
    level: Literal["adset", "campaign"] = "adset"
    members: list[str] = Field(default_factory=list)
    currency: str
    objective: Objective = "conversions"
    current_budget_micros: int
    proposed_budget_micros: int
    platform_budget: str | None = Field(
        default=None, description="the proposal in the platform's own unit for the write"
    )
    expected_results_now: float | None
    expected_results_after: float | None
    interval_after: tuple[float, float] | None
    cost_metric: str = "CPA"
    cost_per_result_now: float | None
    cost_per_result_after: float | None
    evidence: str


def platform_budget(platform: str | None, micros: int, currency: str) -> str | None:
    """Meta writes budgets in minor units, X in micros, TikTok as a decimal of major units."""
    try:
        if platform == "meta":
            return str(micros_to_minor(micros, currency))
        if platform == "x":
            return str(micros)
        if platform == "tiktok":
            return str(micros_to_decimal(micros, currency))
    except MoneyError as exc:
        raise AllocationError(str(exc)) from None
    return None


class Allocator(Protocol):
    name: str

    def allocate(self, adsets: list[AdSetHistory], total_budget_micros: int) -> list[Proposal]: ...


def _round(micros: float, a: AdSetHistory) -> int:
    return int(micros // a.minor_unit_micros) * a.minor_unit_micros


def _check_request(adsets: list[AdSetHistory], total: int) -> None:
    if not adsets:
        raise AllocationError("no ad sets to allocate over")
    currencies = {a.currency for a in adsets}
    if len(currencies) > 1:
        raise AllocationError(f"one allocation is in one currency; got {sorted(currencies)}")
    objectives = {a.objective for a in adsets}
    if len(objectives) > 1:
        raise AllocationError(
            f"one allocation serves one objective; got {sorted(objectives)}: split the budget by objective "
            "first (awareness is judged on CPM, traffic on CPC, sales on CPA)"
        )
    ids = [a.adset_id for a in adsets] + [m for a in adsets for m in a.members]
    if len(set(ids)) != len(ids):
        raise AllocationError("an ad set appears twice (on its own and inside a campaign budget?)")
    if total <= 0:
        raise AllocationError("the total budget must be positive")


def _bounds(a: AdSetHistory, guard: Guardrails) -> tuple[float, float]:
    current = a.current_budget_micros / 1e6
    lo, hi = a.min_budget_micros / 1e6, (a.max_budget_micros / 1e6 if a.max_budget_micros else np.inf)
    if guard.max_change is not None:
        lo, hi = max(lo, current * (1 - guard.max_change)), min(hi, current * (1 + guard.max_change))
    return lo, max(lo, hi)


class CurveAllocator:
    """Fitted curves + optimism where uncertain + water-filling under the guardrails."""

    name = "curves"

    def __init__(self, guardrails: Guardrails | None = None, *, seed: int = 0) -> None:
        self.guard = guardrails or Guardrails()
        self.seed = seed

    def allocate(self, adsets: list[AdSetHistory], total_budget_micros: int) -> list[Proposal]:
        _check_request(adsets, total_budget_micros)
        fits = [self._fit(a) for a in adsets]
        known = [f for f in fits if f is not None]
        # No trusted curve yet: the median gain of the others (or a flat one), scaled to its own budget.
        median_gain = float(np.median([f.ceiling / f.scale for f in known])) if known else 1.0
        ceilings, scales = [], []
        for a, f in zip(adsets, fits, strict=True):
            if f is None:
                scale = max(a.current_budget_micros / 1e6, 1e-6)
                ceilings.append(median_gain * scale * (1 + self.guard.exploration))
                scales.append(scale)
            else:
                # Optimism where uncertain, bounded: a barely curved history (ceiling unidentified, its
                # bootstrap sd huge) must not take the whole budget on hope alone.
                z = self.guard.exploration
                ceilings.append(min(f.ceiling + z * f.ceiling_sd, f.ceiling * (1 + z)))
                scales.append(f.scale)
        bounds = np.array([_bounds(a, self.guard) for a in adsets])
        accounts = sorted({a.account_id or "" for a in adsets})
        groups = np.array([accounts.index(a.account_id or "") for a in adsets])
        caps = {
            accounts.index(acc): cap / 1e6
            for acc, cap in self.guard.account_caps_micros.items()
            if acc in accounts
        }
        spend = water_fill(
            np.array(ceilings),
            np.array(scales),
            bounds[:, 0],
            bounds[:, 1],
            total_budget_micros / 1e6,
            groups=groups,
            group_caps=caps,
        )
        return [self._proposal(a, f, s) for a, f, s in zip(adsets, fits, spend, strict=True)]

    def _fit(self, a: AdSetHistory) -> CurveFit | None:
        if len(a.spend_micros) < self.guard.min_days:
            return None
        if a.impressions is not None:
            if a.objective == "impressions":  # no rate to estimate: the delivery curve is the result
                fit = fit_delivery_curve(a.spend_micros, a.impressions, [float(i) for i in a.impressions])
                return (
                    None
                    if fit is None
                    else fit.model_copy(update={"ceiling": fit.ceiling / 1000, "ceiling_sd": 0.0})
                )
            return fit_delivery_curve(a.spend_micros, a.impressions, a.results())
        return fit_curve(a.spend_micros, a.results(), seed=self.seed)

    def _proposal(self, a: AdSetHistory, fit: CurveFit | None, spend: float) -> Proposal:
        proposed = max(_round(spend * 1e6, a), a.minor_unit_micros)
        if fit is None:
            return _plain(
                a,
                proposed,
                f"needs more data: {len(a.spend_micros)} day(s) of history, "
                f"{self.guard.min_days} needed for a curve",
            )
        now_b, after_b = a.current_budget_micros / 1e6, proposed / 1e6
        now, after = fit.results(now_b), fit.results(after_b)
        spread = 1.96 * fit.ceiling_sd * (1 - np.exp(-after_b / fit.scale))
        unit, cost = RESULT[a.objective]
        return _plain(a, proposed, "").model_copy(
            update={
                "expected_results_now": now,
                "expected_results_after": after,
                "interval_after": (max(after - spread, 0.0), after + spread),
                "cost_per_result_now": now_b / now if now > 0 else None,
                "cost_per_result_after": after_b / after if after > 0 else None,
                "evidence": f"curve from {fit.days} days: saturation {fit.ceiling:.1f} {unit}/day "
                f"(sd {fit.ceiling_sd:.1f}), scale {fit.scale:.2f} {a.currency}/day; judged on {cost}",
            }
        )


class EqualSplit:
    """Baseline: the same budget for every ad set."""

    name = "equal"

    def allocate(self, adsets: list[AdSetHistory], total_budget_micros: int) -> list[Proposal]:
        _check_request(adsets, total_budget_micros)
        share = total_budget_micros / len(adsets)
        return [_plain(a, max(_round(share, a), a.minor_unit_micros), "equal split") for a in adsets]


class CpaRule:
    """Baseline, the seed's rule: cut 20% when the cost per result is above 1.2x the goal, raise 20% below
    0.8x. The goal is a CPA for sales, a CPC for traffic and a CPM for awareness."""

    name = "cpa_rule"

    def __init__(self, goal_cost: float, *, days: int = 7) -> None:
        if not goal_cost > 0:
            raise AllocationError("the CPA rule needs a positive goal cost per result")
        self.goal, self.days = goal_cost, days

    def allocate(self, adsets: list[AdSetHistory], total_budget_micros: int) -> list[Proposal]:
        _check_request(adsets, total_budget_micros)
        out = []
        for a in adsets:
            spend = sum(a.spend_micros[-self.days :]) / 1e6
            results = sum(a.results()[-self.days :])
            cost = spend / results if results > 0 else float("inf")
            factor = 0.8 if cost > 1.2 * self.goal else 1.2 if cost < 0.8 * self.goal else 1.0
            out.append(
                _plain(
                    a,
                    max(_round(a.current_budget_micros * factor, a), a.minor_unit_micros),
                    f"{RESULT[a.objective][1]} {cost:.2f} vs goal {self.goal:.2f}: x{factor}",
                )
            )
        return out


def _plain(a: AdSetHistory, proposed: int, why: str) -> Proposal:
    return Proposal(
        adset_id=a.adset_id,
        level=a.level,
        members=a.members,
        currency=a.currency,
        objective=a.objective,
        current_budget_micros=a.current_budget_micros,
        proposed_budget_micros=proposed,
        platform_budget=platform_budget(a.platform, proposed, a.currency),
        expected_results_now=None,
        expected_results_after=None,
        interval_after=None,
        cost_metric=RESULT[a.objective][1],
        cost_per_result_now=None,
        cost_per_result_after=None,
        evidence=why,
    )
