"""The DCO tool's boundary: per-state, per-combination daily rows (as the warehouse feeds them) in, a
report out — element effects, the best combination per state and the untried ones worth testing, fitted
by the factorised learner of `tools/optimize/dco.py`."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, Field, model_validator
from scipy import special, stats

from tools.optimize.dco import KINDS, ActionSpace, FactorisedQLearner, check_positive_int


class ComboDay(BaseModel):
    """One combination's figures in one state on one day (the shape the warehouse feeds)."""

    state: str = Field(min_length=1, description="segment or placement label")
    headline: str = Field(min_length=1)
    image: str = Field(min_length=1)
    cta: str = Field(min_length=1)
    impressions: int = Field(ge=0)
    clicks: int = Field(ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> ComboDay:
        if self.clicks > self.impressions:
            raise ValueError(
                f"{self.state} {self.headline}/{self.image}/{self.cta}: more clicks than impressions"
            )
        return self


class ElementEstimate(BaseModel):
    kind: Literal["headline", "image", "cta"]
    element: str
    impressions: int
    clicks: int
    log_odds_effect: float = Field(description="effect on logit CTR against the average element of its kind")
    interval: tuple[float, float] = Field(description="credible interval of the effect")


class ComboEstimate(BaseModel):
    state: str
    headline: str
    image: str
    cta: str
    predicted_ctr: float = Field(description="posterior median click rate")
    interval: tuple[float, float]
    impressions: int = Field(description="this combination's own impressions in this state (0 if untried)")
    clicks: int
    tried: bool
    prob_beats_best_tried: float | None = None


class DcoReport(BaseModel):
    """Per-element effects, the best combination per state and the untried ones worth testing, from the
    factorised learner (a contextual bandit: discount 0, no state transitions)."""

    impressions: int
    clicks: int
    elements: list[ElementEstimate]
    recommended: list[ComboEstimate] = Field(description="the highest predicted click rate, per state")
    untried: list[ComboEstimate] = Field(description="per state, the best combinations never served there")
    needs_more_data: bool
    reason: str


def dco_report(
    rows: list[ComboDay], *, top_k: int = 5, min_clicks: int = 30, level: float = 0.95
) -> DcoReport:
    """Fit the factorised model to the rows' totals. Only elements that appear in the rows are known;
    below `min_clicks` the estimates are still given but flagged as needing more data."""
    check_positive_int("top_k", top_k)
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    impressions = sum(r.impressions for r in rows)
    clicks = sum(r.clicks for r in rows)
    if impressions == 0:
        return DcoReport(
            impressions=0,
            clicks=0,
            elements=[],
            recommended=[],
            untried=[],
            needs_more_data=True,
            reason="no impressions yet: serve a few combinations first",
        )
    states = sorted({r.state for r in rows})
    vocab = {kind: sorted({getattr(r, kind) for r in rows}) for kind in KINDS}
    space = ActionSpace(headlines=len(vocab["headline"]), images=len(vocab["image"]), ctas=len(vocab["cta"]))
    learner = FactorisedQLearner(
        n_states=len(states), space=space, prior_ctr=(clicks + 1) / (impressions + 100)
    )
    cell_totals: dict[tuple[int, tuple[int, int, int]], list[int]] = {}
    element_totals: dict[tuple[str, str], list[int]] = {}
    for r in rows:
        combo = tuple(vocab[kind].index(getattr(r, kind)) for kind in KINDS)
        s = states.index(r.state)
        learner.update_counts(s, space.index(*combo), r.clicks, r.impressions)
        totals = [cell_totals.setdefault((s, combo), [0, 0])]
        totals += [element_totals.setdefault((kind, getattr(r, kind)), [0, 0]) for kind in KINDS]
        for total in totals:
            total[0] += r.impressions
            total[1] += r.clicks
    z = stats.norm.ppf(0.5 + level / 2)
    elements = []
    for kind in KINDS:
        mean, sd = learner.element_effects(kind)
        for j, name in enumerate(vocab[kind]):
            imps, clk = element_totals[(kind, name)]
            elements.append(
                ElementEstimate(
                    kind=kind,  # type: ignore[arg-type]
                    element=name,
                    impressions=imps,
                    clicks=clk,
                    log_odds_effect=float(mean[j]),
                    interval=(float(mean[j] - z * sd[j]), float(mean[j] + z * sd[j])),
                )
            )

    def estimate(s: int, combo: tuple[int, int, int], p_beat: float | None = None) -> ComboEstimate:
        mean, sd = learner.predict(s, np.array([combo]))
        imps, clk = cell_totals.get((s, combo), [0, 0])
        return ComboEstimate(
            state=states[s],
            headline=vocab["headline"][combo[0]],
            image=vocab["image"][combo[1]],
            cta=vocab["cta"][combo[2]],
            predicted_ctr=float(special.expit(mean[0])),
            interval=(float(special.expit(mean[0] - z * sd[0])), float(special.expit(mean[0] + z * sd[0]))),
            impressions=imps,
            clicks=clk,
            tried=imps > 0,
            prob_beats_best_tried=p_beat,
        )

    recommended, untried = [], []
    for s in range(len(states)):
        recommended.append(estimate(s, space.combo(learner.best(s))))
        tried = {combo for (cs, combo), (imps, _) in cell_totals.items() if cs == s and imps > 0}
        for p in learner.propose_untried(s, tried, top_k, level=level):
            untried.append(estimate(s, (p.headline, p.image, p.cta), p.prob_beats_best_tried))
    short = clicks < min_clicks
    return DcoReport(
        impressions=impressions,
        clicks=clicks,
        elements=elements,
        recommended=recommended,
        untried=untried,
        needs_more_data=short,
        reason=(
            f"only {clicks} clicks of the {min_clicks} needed: estimates are weak"
            if short
            else f"{clicks:,} clicks on {impressions:,} impressions over {len(states)} state(s)"
        ),
    )
