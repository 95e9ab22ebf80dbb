"""Why a platform's metric moved: the last N days against the N days before, from the warehouse.

A cost per result is a product of funnel rates, so its change splits exactly in logs:
CPA = CPM / (1000 x CTR x CVR) and CPC = CPM / (1000 x CTR). Each factor's share of the change is its
log-change over the metric's. The campaigns that moved it most are ranked by their "excess" cost: what
they spent this period beyond what their results would have cost at the platform's earlier rate.
Money is in the reporting currency (converted with the configured rates); every figure comes from sums.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import Engine

from tools.reporting import ReportRow, performance

ExplainedMetric = Literal["cpa", "cpc", "cpm", "ctr", "cvr", "roas", "spend", "conversions"]
# metric -> its factors as (factor, exponent): metric = product of factor ** exponent (up to a constant).
FACTORS: dict[str, list[tuple[str, int]]] = {
    "cpa": [("cpm", 1), ("ctr", -1), ("cvr", -1)],
    "cpc": [("cpm", 1), ("ctr", -1)],
    "roas": [("aov", 1), ("cvr", 1), ("ctr", 1), ("cpm", -1)],
}
CENT = Decimal("0.01")
PERCENT_PLACES = Decimal("0.001")


class Figures(BaseModel):
    """One period's sums and ratios (money in the reporting currency; ctr and cvr in percent)."""

    first_day: dt.date
    last_day: dt.date
    spend: Decimal
    value: Decimal
    impressions: int
    clicks: int
    conversions: int
    cpa: Decimal | None
    cpc: Decimal | None
    cpm: Decimal | None
    ctr: Decimal | None
    cvr: Decimal | None
    roas: Decimal | None
    aov: Decimal | None = Field(default=None, description="value per conversion")

    def get(self, metric: str) -> Decimal | None:
        value = getattr(self, metric)
        return value if value is None else Decimal(value)


class FactorChange(BaseModel):
    factor: str
    before: Decimal | None
    after: Decimal | None
    change_pct: Decimal | None
    share_of_change_pct: Decimal | None = Field(description="its part of the metric's log-change")


class CampaignChange(BaseModel):
    campaign: str
    spend: Decimal
    conversions: int
    metric_before: Decimal | None
    metric_after: Decimal | None
    excess_spend: Decimal | None = Field(description="spend beyond its results at the earlier platform rate")


class Explanation(BaseModel):
    platform: str
    metric: ExplainedMetric
    reporting_currency: str
    before: Figures
    after: Figures
    change_pct: Decimal | None
    factors: list[FactorChange]
    campaigns: list[CampaignChange] = Field(description="the ones that moved it most, first")

    def text(self) -> str:
        """The answer in words, every number from the fields above."""
        m = self.metric.upper()
        b, a = self.before.get(self.metric), self.after.get(self.metric)
        cur = self.reporting_currency
        unit = f" {cur}" if self.metric in ("cpa", "cpc", "cpm", "spend") else ""
        unit = "%" if self.metric in ("ctr", "cvr") else unit
        period = f"{self.after.first_day}..{self.after.last_day}"
        if a is None or b is None:
            return (
                f"{self.platform} {m} cannot be compared for {period}: "
                f"{'no results in the earlier period' if b is None else 'no results in this period'}"
                f" (spend {self.before.spend} -> {self.after.spend} {cur}, conversions "
                f"{self.before.conversions} -> {self.after.conversions})."
            )
        word = "rose" if a > b else "fell" if a < b else "held"
        lines = [
            f"{self.platform} {m} {word} from {b}{unit} to {a}{unit} ({self.change_pct:+}%) in {period} "
            f"against the {len_days(self.before)} days before."
        ]
        moved = [f for f in self.factors if f.change_pct is not None]
        if moved:
            parts = [
                f"{f.factor.upper()} {f.before} -> {f.after} ({f.change_pct:+}%, "
                f"{f.share_of_change_pct}% of the change)"
                for f in sorted(moved, key=lambda f: -abs(f.share_of_change_pct or 0))
            ]
            lines.append("Funnel: " + "; ".join(parts) + ".")
        top = [c for c in self.campaigns if c.excess_spend]
        if top:
            lines.append(
                "Campaigns that moved it most: "
                + "; ".join(
                    f"{c.campaign} ({m} {c.metric_before} -> {c.metric_after}, "
                    f"{c.excess_spend} {cur} beyond the earlier rate)"
                    for c in top[:3]
                )
                + "."
            )
        return "\n".join(lines)


def len_days(f: Figures) -> int:
    return (f.last_day - f.first_day).days + 1


def _ratio(num: Decimal | int, den: Decimal | int, scale: int = 1, places: Decimal = CENT) -> Decimal | None:
    return (Decimal(num) * scale / Decimal(den)).quantize(places) if den else None


def _exact(f: Figures, metric: str) -> float | None:
    """The metric from the sums, unrounded (for the log-changes, which the rounding would distort)."""
    num, den = {
        "cpa": (f.spend, f.conversions),
        "cpc": (f.spend, f.clicks),
        "cpm": (f.spend, f.impressions),
        "ctr": (f.clicks, f.impressions),
        "cvr": (f.conversions, f.clicks),
        "roas": (f.value, f.spend),
        "aov": (f.value, f.conversions),
        "spend": (f.spend, 1),
        "conversions": (f.conversions, 1),
    }[metric]
    return float(num) / float(den) if den and num else None


def _figures(rows: list[ReportRow], first: dt.date, last: dt.date) -> Figures:
    spend = sum((r.spend_reporting for r in rows), Decimal(0))
    value = sum((r.value_reporting for r in rows), Decimal(0))
    imps = sum(r.impressions for r in rows)
    clicks = sum(r.clicks for r in rows)
    conv = sum(r.conversions for r in rows)
    return Figures(
        first_day=first,
        last_day=last,
        spend=spend.quantize(CENT),
        value=value.quantize(CENT),
        impressions=imps,
        clicks=clicks,
        conversions=conv,
        cpa=_ratio(spend, conv),
        cpc=_ratio(spend, clicks),
        cpm=_ratio(spend, imps, 1000),
        ctr=_ratio(clicks, imps, 100, PERCENT_PLACES),
        cvr=_ratio(conv, clicks, 100, PERCENT_PLACES),
        roas=_ratio(value, spend),
        aov=_ratio(value, conv),
    )


def _pct(after: Decimal | None, before: Decimal | None) -> Decimal | None:
    if after is None or not before:
        return None
    return ((after / before - 1) * 100).quantize(Decimal("0.1"))


def _log_change(after: float | None, before: float | None) -> float | None:
    return math.log(after / before) if after and before else None


def explain_change(
    engine: Engine,
    *,
    platform: str,
    metric: ExplainedMetric,
    until: dt.date,
    days: int = 7,
    fx: dict[str, Decimal],
    reporting_currency: str,
) -> Explanation:
    """The metric over `days` ending `until` against the `days` before, with its funnel factors and the
    campaigns that moved it."""
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    periods = []
    for end in (until - dt.timedelta(days=days), until):
        first, last, rows = performance(
            engine, days=days, until=end, by="campaign", fx=fx, reporting_currency=reporting_currency
        )
        periods.append((first, last, [r for r in rows if r.platform == platform]))
    if not periods[0][2] and not periods[1][2]:
        raise ValueError(f"the warehouse has no {platform} figures for the last {2 * days} days to {until}")
    before, after = (_figures(rows, first, last) for first, last, rows in periods)
    factors = []
    total = _log_change(_exact(after, metric), _exact(before, metric))
    for name, power in FACTORS.get(metric, []):
        change = _log_change(_exact(after, name), _exact(before, name))
        share = None
        if change is not None and total:
            # CPA's log-change is cpm's minus ctr's minus cvr's: each factor's signed part of it.
            share = Decimal(100 * power * change / total).quantize(Decimal("0.1"))
        factors.append(
            FactorChange(
                factor=name,
                before=before.get(name),
                after=after.get(name),
                change_pct=_pct(after.get(name), before.get(name)),
                share_of_change_pct=share,
            )
        )
    earlier = {r.key: _figures([r], before.first_day, before.last_day) for r in periods[0][2]}
    campaigns = []
    for r in periods[1][2]:
        now = _figures([r], after.first_day, after.last_day)
        excess = None
        if metric == "cpa" and before.cpa is not None:
            excess = (now.spend - before.cpa * now.conversions).quantize(CENT)
        elif metric == "cpc" and before.cpc is not None:
            excess = (now.spend - before.cpc * now.clicks).quantize(CENT)
        campaigns.append(
            CampaignChange(
                campaign=r.key,
                spend=now.spend,
                conversions=now.conversions,
                metric_before=earlier[r.key].get(metric) if r.key in earlier else None,
                metric_after=now.get(metric),
                excess_spend=excess,
            )
        )
    campaigns.sort(key=lambda c: -(c.excess_spend or Decimal(0)))
    return Explanation(
        platform=platform,
        metric=metric,
        reporting_currency=reporting_currency,
        before=before,
        after=after,
        change_pct=_pct(after.get(metric), before.get(metric)),
        factors=factors,
        campaigns=campaigns,
    )
