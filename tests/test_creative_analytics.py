"""Creative analytics: each element's figures summed over every ad that used it, from a warehouse synced
from the sandbox, with ratios from the sums and money in the reporting currency."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, func, select
from typer.testing import CliRunner

from app.cli import app
from sandbox.market.market import Market
from storage.models import Ad, Creative, DailyMetric
from tools.creative.analytics import AnalyticsError, by_element

FX = {"USD": Decimal(1), "JPY": Decimal(150), "EUR": Decimal("0.92"), "GBP": Decimal("0.79")}
SINCE, UNTIL = dt.date(2026, 11, 15), dt.date(2026, 11, 24)


@pytest.fixture
def synced(configured: Market, engine: Engine) -> Engine:
    result = CliRunner().invoke(app, ["sync", "--days", "10"])
    assert result.exit_code == 0, result.output
    return engine


def test_each_headline_sums_every_ad_that_used_it(synced: Engine) -> None:
    rows = by_element(synced, "headline", since=SINCE, until=UNTIL, fx=FX)
    with Session(synced) as session:
        total = session.exec(
            select(
                func.sum(DailyMetric.impressions),
                func.sum(DailyMetric.clicks),
                func.count(func.distinct(Ad.id)),
            )
            .join(Ad, Ad.id == DailyMetric.ad_id)
            .join(Creative, Creative.id == Ad.creative_id)
            .where(DailyMetric.day >= SINCE, DailyMetric.day <= UNTIL)
        ).one()
    assert sum(r.impressions for r in rows) == total[0] > 0
    assert sum(r.clicks for r in rows) == total[1]
    assert sum(r.ads for r in rows) == total[2]
    assert any(r.ads > 1 for r in rows)  # the market reuses headlines across ads: they roll up
    for r in rows:
        assert r.ctr == pytest.approx(r.clicks / r.impressions)
        lo, hi = r.ctr_interval  # type: ignore[misc]
        assert lo <= r.ctr <= hi
        if r.conversions:
            assert r.cpa == (r.spend / r.conversions).quantize(Decimal("0.01"))
    ctrs = [r.ctr for r in rows]
    assert ctrs == sorted(ctrs, reverse=True)


def test_images_and_ctas_too_and_a_threshold_hides_thin_elements(synced: Engine) -> None:
    images = by_element(synced, "image", since=SINCE, until=UNTIL, fx=FX)
    ctas = by_element(synced, "cta", since=SINCE, until=UNTIL, fx=FX)
    assert sum(r.impressions for r in images) == sum(r.impressions for r in ctas)
    floor = sorted(r.impressions for r in images)[len(images) // 2]
    assert all(
        r.impressions >= floor
        for r in by_element(synced, "image", since=SINCE, until=UNTIL, fx=FX, min_impressions=floor)
    )


def test_a_missing_rate_or_a_reversed_range_is_a_clear_error(synced: Engine) -> None:
    with pytest.raises(AnalyticsError, match="ADCLUSTER_FX_RATES"):
        by_element(synced, "headline", since=SINCE, until=UNTIL, fx={})
    with pytest.raises(AnalyticsError, match="after"):
        by_element(synced, "headline", since=UNTIL, until=SINCE, fx=FX)
    assert by_element(synced, "headline", since=dt.date(2020, 1, 1), until=dt.date(2020, 1, 2), fx=FX) == []


def test_each_tag_sums_the_distinct_ads_whose_assets_carry_it(synced: Engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from storage.asset_types import AssetKind, AssetMeta, Tag
    from storage.assets import AssetStore
    from tools.creative.analytics import by_tag

    store = AssetStore.local(tmp_path / "assets", engine=synced)
    with Session(synced) as session:
        ads = [a.id for a in session.exec(select(Ad).order_by(Ad.id)).all()[:3]]
        per_ad = {
            ad: session.exec(
                select(func.sum(DailyMetric.impressions)).where(
                    DailyMetric.ad_id == ad, DailyMetric.day >= SINCE, DailyMetric.day <= UNTIL
                )
            ).one()
            or 0
            for ad in ads
        }
    price_copy = store.put(b"Save 20% today", AssetMeta(kind=AssetKind.TEXT, tags=[Tag.of("theme", "price")]))
    price_text = store.put(
        b"Best prices on mats", AssetMeta(kind=AssetKind.TEXT, tags=[Tag.of("theme", "price")])
    )
    quality = store.put(b"Made to last", AssetMeta(kind=AssetKind.TEXT, tags=[Tag.of("theme", "quality")]))
    store.link_ad(price_copy.id, ad_id=ads[0])
    store.link_ad(price_copy.id, ad_id=ads[1])
    store.link_ad(price_text.id, ad_id=ads[0])  # the same ad again: counted once
    store.link_ad(quality.id, ad_id=ads[2])
    rows = {r.value: r for r in by_tag(synced, "theme", since=SINCE, until=UNTIL, fx=FX)}
    assert rows["price"].ads == 2 and rows["price"].impressions == per_ad[ads[0]] + per_ad[ads[1]]
    assert rows["quality"].ads == 1 and rows["quality"].impressions == per_ad[ads[2]]
    assert rows["price"].element == "tag:theme"
    assert by_tag(synced, "emotion", since=SINCE, until=UNTIL, fx=FX) == []
