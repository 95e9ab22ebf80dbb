"""Which creatives of an ad set to keep, pause, re-activate, or add to: Thompson posteriors on the
warehouse's daily aggregates, with evidence, through the levers the platforms really have.

No platform lets a client set traffic shares between ads; the platform splits delivery itself. So the
output is a per-creative verdict (keep / pause / reactivate) plus, when the ad set is settled on a
winner, a suggestion to add a new ad to test — made only past configurable evidence thresholds, never
pausing on too few impressions and never the last live ad.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field, model_validator
from scipy import stats

from tools.optimize.bandits import beta_expected_loss, beta_prob_best
from tools.optimize.element_bandit import ElementHistory, ElementThompson, encode_elements
from tools.optimize.priors import BetaPrior

Verdict = Literal["keep", "pause", "reactivate"]


class CreativeDay(BaseModel):
    """One creative's figures on one day (from the warehouse's daily metrics)."""

    ad_id: str
    day: dt.date
    impressions: int = Field(ge=0)
    clicks: int = Field(ge=0)
    conversions: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> CreativeDay:
        if self.clicks > self.impressions:
            raise ValueError(f"{self.ad_id} {self.day}: more clicks than impressions")
        return self


class CreativeState(BaseModel):
    ad_id: str
    active: bool


class Thresholds(BaseModel):
    """Evidence a recommendation needs; defaults are conservative."""

    min_impressions_to_pause: int = Field(default=3000, ge=1)
    pause_below_prob_best: float = Field(default=0.02, gt=0, lt=1)
    pause_min_relative_loss: float = Field(default=0.15, ge=0, description="loss / best mean to pause")
    reactivate_above_prob_best: float = Field(default=0.25, gt=0, lt=1)
    add_new_when_best_prob: float = Field(default=0.9, gt=0, lt=1)
    min_live_ads: int = Field(default=2, ge=1)
    credible_level: float = Field(default=0.95, gt=0, lt=1)
    daily_discount: float = Field(
        default=0.97, gt=0, le=1, description="weight of a day's evidence per day of age"
    )


class PastCreative(BaseModel):
    """One of the account's other creatives: its elements and its totals, evidence about those elements."""

    elements: tuple[str, ...]
    successes: float = Field(ge=0)
    trials: float = Field(ge=0)
    context: str | None = Field(
        default=None, description="where it ran (its ad set); None: the same audience as this ad set"
    )

    @model_validator(mode="after")
    def _consistent(self) -> PastCreative:
        if self.successes > self.trials:
            raise ValueError("a past creative with more successes than trials")
        return self


class CreativeVerdict(BaseModel):
    ad_id: str
    active: bool
    impressions: int
    clicks: int
    posterior_mean: float
    interval: tuple[float, float]
    prob_best: float
    expected_loss: float
    verdict: Verdict
    reason: str


class CreativeReport(BaseModel):
    metric: Literal["ctr", "cvr"]
    model: Literal["beta", "elements"] = Field(
        description="beta: one Beta posterior per creative; elements: shared-element model with history"
    )
    prior: BetaPrior
    creatives: list[CreativeVerdict]
    add_new_ad: bool
    add_new_reason: str | None = None
    needs_more_data: bool


def creative_report(
    days: list[CreativeDay],
    states: list[CreativeState],
    prior: BetaPrior,
    *,
    metric: Literal["ctr", "cvr"] = "ctr",
    thresholds: Thresholds | None = None,
    today: dt.date | None = None,
    elements: dict[str, tuple[str, ...]] | None = None,
    history: list[PastCreative] | None = None,
) -> CreativeReport:
    """Posteriors with credible intervals, P(best), expected loss and a verdict per creative.

    With `elements` (each creative's headline, body, image, CTA...), the posteriors come from the
    shared-element model (`ElementThompson`), which also learns from the account's `history`; without,
    from one Beta posterior per creative with the account's prior."""
    t = thresholds or Thresholds()
    if not states:
        raise ValueError("an ad set with no creatives has nothing to decide")
    ids = [s.ad_id for s in states]
    if len(set(ids)) != len(ids):
        raise ValueError("each creative must appear once in states")
    index = {a: i for i, a in enumerate(ids)}
    last = today or max((d.day for d in days), default=dt.date.today())
    succ, trials = np.zeros(len(ids)), np.zeros(len(ids))
    raw_imps, raw_clicks = np.zeros(len(ids), dtype=np.int64), np.zeros(len(ids), dtype=np.int64)
    for d in days:
        if d.ad_id not in index:
            raise ValueError(f"figures for {d.ad_id}, which is not one of this ad set's creatives")
        i = index[d.ad_id]
        weight = t.daily_discount ** max(0, (last - d.day).days)
        s, n = (d.clicks, d.impressions) if metric == "ctr" else (d.conversions, d.clicks)
        if s > n:
            raise ValueError(f"{d.ad_id} {d.day}: more successes than trials")
        succ[i] += weight * s
        trials[i] += weight * n
        raw_imps[i] += d.impressions
        raw_clicks[i] += d.clicks
    if elements is None:
        alpha = prior.alpha + succ
        beta = prior.beta + (trials - succ)
        means = alpha / (alpha + beta)
        tail = (1 - t.credible_level) / 2
        lo, hi = stats.beta.ppf(tail, alpha, beta), stats.beta.ppf(1 - tail, alpha, beta)
        p_best = beta_prob_best(alpha, beta)
        loss = beta_expected_loss(alpha, beta)
    else:
        model = _element_model(ids, elements, history or [], prior)
        for i in range(len(ids)):
            model.update_counts(i, succ[i], trials[i])
        means = model.rate_mean()
        lo, hi = model.rate_interval(t.credible_level)
        p_best, loss = model.prob_best(), model.expected_loss()
    best = int(np.argmax(means))
    exposure = raw_imps if metric == "ctr" else raw_clicks
    live = [s.active for s in states]
    verdicts: list[CreativeVerdict] = []
    live_count = sum(live)
    order = np.argsort(p_best)  # weakest first, so the live-ads floor protects the stronger ones
    decided: dict[int, tuple[Verdict, str]] = {}
    for i in order.tolist():
        active = live[i]
        if active:
            enough = exposure[i] >= t.min_impressions_to_pause
            weak = p_best[i] < t.pause_below_prob_best and loss[i] >= t.pause_min_relative_loss * means[best]
            if weak and enough and live_count > t.min_live_ads:
                decided[i] = (
                    "pause",
                    f"P(best) {p_best[i]:.3f} < {t.pause_below_prob_best} and expected loss "
                    f"{loss[i] / means[best]:.0%} of the best rate, on {int(exposure[i]):,} "
                    f"{'impressions' if metric == 'ctr' else 'clicks'}",
                )
                live_count -= 1
            elif weak and not enough:
                decided[i] = (
                    "keep",
                    f"looks weak but has only {int(exposure[i]):,} of the "
                    f"{t.min_impressions_to_pause:,} needed before pausing",
                )
            else:
                decided[i] = ("keep", f"P(best) {p_best[i]:.3f}")
        elif p_best[i] >= t.reactivate_above_prob_best:
            decided[i] = (
                "reactivate",
                f"paused, yet P(best) {p_best[i]:.3f} >= {t.reactivate_above_prob_best}",
            )
        else:
            decided[i] = ("keep", "stays paused")
    for i, ad in enumerate(ids):
        verdict, reason = decided[i]
        verdicts.append(
            CreativeVerdict(
                ad_id=ad,
                active=live[i],
                impressions=int(raw_imps[i]),
                clicks=int(raw_clicks[i]),
                posterior_mean=float(means[i]),
                interval=(float(lo[i]), float(hi[i])),
                prob_best=float(p_best[i]),
                expected_loss=float(loss[i]),
                verdict=verdict,
                reason=reason,
            )
        )
    settled = live[best] and p_best[best] >= t.add_new_when_best_prob
    return CreativeReport(
        metric=metric,
        model="beta" if elements is None else "elements",
        prior=prior,
        creatives=verdicts,
        add_new_ad=bool(settled),
        add_new_reason=(
            f"{ids[best]} is best with P {p_best[best]:.2f}: test a new ad against it" if settled else None
        ),
        needs_more_data=bool(exposure.sum() < t.min_impressions_to_pause),
    )


def _element_model(
    ids: list[str], elements: dict[str, tuple[str, ...]], history: list[PastCreative], prior: BetaPrior
) -> ElementThompson:
    missing = [a for a in ids if a not in elements]
    if missing:
        raise ValueError(f"no elements for {', '.join(missing)}")
    arms, past, sizes = encode_elements([elements[a] for a in ids], [h.elements for h in history])
    contexts = sorted({h.context for h in history if h.context is not None})
    code = {c: i for i, c in enumerate(contexts)}
    return ElementThompson(
        elements=arms,
        sizes=sizes,
        prior_rate=prior.mean,
        history=ElementHistory(
            elements=past,
            successes=np.array([h.successes for h in history]),
            trials=np.array([h.trials for h in history]),
            groups=np.array([code.get(h.context, -1) if h.context else -1 for h in history]),
        )
        if history
        else None,
    )
