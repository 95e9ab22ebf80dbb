"""The audience report's inputs from the warehouse: per ad set, each single-dimension breakdown's
segments (age, gender, country, placement) summed over its ads and the days asked, with the ad set's
current targeting. Rows of different breakdowns are never added together (each breakdown adds up to
the ad set's own figures); combined breakdowns ("age,gender") are left out."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from pydantic import BaseModel, Field
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from storage.models import Account, AdSet, DailySegmentMetric
from tools.optimize.audiences import Dimension, SegmentFigures
from tools.platforms.records import TargetingSpec

DIMENSIONS: tuple[Dimension, ...] = ("age", "gender", "country", "placement")


class AdSetSegments(BaseModel):
    adset_id: str
    platform: str
    account_id: str  # the platform's account id
    platform_id: str
    name: str
    status: str
    currency: str
    targeting: TargetingSpec
    dimensions: dict[Dimension, list[SegmentFigures]] = Field(default_factory=dict)


def load_segments(engine: Engine, since: dt.date, until: dt.date) -> list[AdSetSegments]:
    """Every ad set with segment figures between `since` and `until`, its dimensions in a fixed order."""
    if since > until:
        raise ValueError(f"since {since} is after until {until}")
    columns = {
        "age": DailySegmentMetric.age,
        "gender": DailySegmentMetric.gender,
        "country": DailySegmentMetric.country,
        "placement": DailySegmentMetric.placement,
    }
    sums: dict[tuple[str, Dimension], dict[str, list[int]]] = defaultdict(dict)
    with Session(engine) as session:
        for dimension, column in columns.items():
            rows = session.exec(
                select(
                    DailySegmentMetric.adset_id,
                    column,
                    func.sum(DailySegmentMetric.spend_micros),
                    func.sum(DailySegmentMetric.impressions),
                    func.sum(DailySegmentMetric.clicks),
                    func.sum(DailySegmentMetric.conversions),
                    func.sum(DailySegmentMetric.value_micros),
                )
                .where(
                    DailySegmentMetric.breakdown == dimension,
                    DailySegmentMetric.day >= since,
                    DailySegmentMetric.day <= until,
                )
                .group_by(DailySegmentMetric.adset_id, column)
            ).all()
            for adset_id, value, *figures in rows:
                sums[(adset_id, dimension)][str(value)] = [int(v or 0) for v in figures]  # type: ignore[index]
        ids = sorted({adset_id for adset_id, _ in sums})
        adsets = {s.id: s for s in session.exec(select(AdSet).where(col(AdSet.id).in_(ids)))} if ids else {}
        accounts = {a.id: a for a in session.exec(select(Account))}
    out = []
    for adset_id in ids:
        adset = adsets.get(adset_id)
        if adset is None:
            continue  # segment rows of an ad set the warehouse no longer lists
        account = accounts[adset.account_id]
        item = AdSetSegments(
            adset_id=adset.id,
            platform=adset.platform,
            account_id=account.platform_id,
            platform_id=adset.platform_id,
            name=adset.name,
            status=adset.status,
            currency=adset.currency,
            targeting=TargetingSpec.model_validate(adset.targeting or {}),
        )
        for dimension in DIMENSIONS:
            values = sums.get((adset_id, dimension))
            if values:
                item.dimensions[dimension] = [
                    SegmentFigures(
                        value=value,
                        spend_micros=f[0],
                        impressions=f[1],
                        clicks=f[2],
                        conversions=f[3],
                        value_micros=f[4],
                    )
                    for value, f in sorted(values.items())
                ]
        out.append(item)
    return out
