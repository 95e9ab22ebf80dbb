"""Creative analytics from the warehouse: performance by element (headline, body, image, call to action)
and by tag, summed across every ad that used it, on every platform. The reason to tag: "which offer
works" is a question about elements and tags, not about single ads.

Sums first, ratios from the sums; money converted to one reporting currency through the explicit rate
table; a 95% interval on CTR (Beta posterior) so an element with 300 impressions is not "the best".
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field
from scipy import stats
from sqlalchemy import Engine
from sqlmodel import Session, func, select

from storage.models import Ad, AssetAd, AssetTag, Creative, DailyMetric

Element = Literal["headline", "body", "image", "cta"]
_COLUMNS = {
    "headline": Creative.headline,
    "body": Creative.body,
    "image": Creative.image_hash,
    "cta": Creative.call_to_action,
}
MICRO = Decimal(10**6)


class AnalyticsError(ValueError):
    """A figure cannot be reported as asked (the message says why)."""


class ElementPerformance(BaseModel):
    element: str
    value: str = Field(description="the headline's text, the image's hash, the CTA...")
    platforms: list[str]
    ads: int
    impressions: int
    clicks: int
    conversions: int
    spend: Decimal = Field(description="in the reporting currency")
    value_total: Decimal = Field(description="purchase value in the reporting currency")
    ctr: float | None
    ctr_interval: tuple[float, float] | None
    cvr: float | None
    cpa: Decimal | None
    roas: Decimal | None


def _ctr_interval(clicks: int, impressions: int) -> tuple[float, float] | None:
    if impressions <= 0:
        return None
    posterior = stats.beta(clicks + 0.5, impressions - clicks + 0.5)  # Jeffreys
    return float(posterior.ppf(0.025)), float(posterior.ppf(0.975))


def _to_reporting(micros: int, currency: str, fx: Mapping[str, Decimal]) -> Decimal:
    rate = fx.get(currency)
    if rate is None or rate <= 0:
        raise AnalyticsError(f"no rate for {currency} in the rate table: add it to ADCLUSTER_FX_RATES")
    return Decimal(micros) / MICRO / rate


@dataclass
class _Totals:
    platforms: set[str] = field(default_factory=set)
    ads: int = 0
    impressions: int = 0
    clicks: int = 0
    conversions: int = 0
    spend: Decimal = Decimal(0)
    value: Decimal = Decimal(0)

    def report(self, element: str, value: str) -> ElementPerformance:
        imps, clicks, conv, spend = self.impressions, self.clicks, self.conversions, self.spend
        return ElementPerformance(
            element=element,
            value=value,
            platforms=sorted(self.platforms),
            ads=self.ads,
            impressions=imps,
            clicks=clicks,
            conversions=conv,
            spend=spend.quantize(Decimal("0.01")),
            value_total=self.value.quantize(Decimal("0.01")),
            ctr=clicks / imps if imps else None,
            ctr_interval=_ctr_interval(clicks, imps),
            cvr=conv / clicks if clicks else None,
            cpa=(spend / conv).quantize(Decimal("0.01")) if conv else None,
            roas=(self.value / spend).quantize(Decimal("0.0001")) if spend else None,
        )


def _rollup(
    engine: Engine, query: Any, element: str, fx: Mapping[str, Decimal], min_impressions: int
) -> list[ElementPerformance]:
    """Rows of (value, platform, currency, ads, impressions, clicks, conversions, spend, value) summed per
    value across platforms and currencies, best CTR first."""
    totals: dict[str, _Totals] = defaultdict(_Totals)
    with Session(engine) as session:
        for value, platform, currency, ads, imps, clicks, conv, spend, val in session.exec(query):
            t = totals[value]
            t.platforms.add(platform)
            t.ads += int(ads)
            t.impressions += int(imps or 0)
            t.clicks += int(clicks or 0)
            t.conversions += int(conv or 0)
            t.spend += _to_reporting(int(spend or 0), currency, fx)
            t.value += _to_reporting(int(val or 0), currency, fx)
    rows = [t.report(element, value) for value, t in totals.items() if t.impressions >= min_impressions]
    return sorted(rows, key=lambda r: (r.ctr is None, -(r.ctr or 0.0)))


def by_element(
    engine: Engine,
    element: Element,
    *,
    since: dt.date,
    until: dt.date,
    fx: Mapping[str, Decimal],
    min_impressions: int = 0,
) -> list[ElementPerformance]:
    """Each value of one element, summed over the ads whose creative uses it, best CTR first."""
    if since > until:
        raise AnalyticsError(f"since {since} is after until {until}")
    column = _COLUMNS[element]
    query = (
        select(
            column,
            Ad.platform,
            DailyMetric.currency,
            func.count(func.distinct(Ad.id)),
            func.sum(DailyMetric.impressions),
            func.sum(DailyMetric.clicks),
            func.sum(DailyMetric.conversions),
            func.sum(DailyMetric.spend_micros),
            func.sum(DailyMetric.value_micros),
        )
        .join(Ad, Ad.id == DailyMetric.ad_id)
        .join(Creative, Creative.id == Ad.creative_id)
        .where(DailyMetric.day >= since, DailyMetric.day <= until, column.is_not(None))
        .group_by(column, Ad.platform, DailyMetric.currency)
    )
    return _rollup(engine, query, element, fx, min_impressions)


def by_tag(
    engine: Engine,
    kind: str,
    *,
    since: dt.date,
    until: dt.date,
    fx: Mapping[str, Decimal],
    min_impressions: int = 0,
) -> list[ElementPerformance]:
    """Each value of one tag kind (emotion, theme, offer...), summed over the distinct ads that use an
    asset carrying it (an ad whose headline and image both say "price" counts once), best CTR first."""
    if since > until:
        raise AnalyticsError(f"since {since} is after until {until}")
    ads_per_value = (
        select(AssetTag.value, AssetAd.ad_id)
        .join(AssetAd, AssetAd.asset_id == AssetTag.asset_id)
        .where(AssetTag.kind == kind)
        .distinct()
        .subquery()
    )
    query = (
        select(
            ads_per_value.c.value,
            Ad.platform,
            DailyMetric.currency,
            func.count(func.distinct(Ad.id)),
            func.sum(DailyMetric.impressions),
            func.sum(DailyMetric.clicks),
            func.sum(DailyMetric.conversions),
            func.sum(DailyMetric.spend_micros),
            func.sum(DailyMetric.value_micros),
        )
        .join(Ad, Ad.id == ads_per_value.c.ad_id)
        .join(DailyMetric, DailyMetric.ad_id == Ad.id)
        .where(DailyMetric.day >= since, DailyMetric.day <= until)
        .group_by(ads_per_value.c.value, Ad.platform, DailyMetric.currency)
    )
    return _rollup(engine, query, f"tag:{kind}", fx, min_impressions)
