"""An existing ad from the warehouse as the base of new copy: its text, its numbers and where it runs."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, func, or_
from sqlmodel import Session, select

from storage.models import Ad, AdSet, Campaign, Creative, DailyMetric
from tools.creative.text import BaseCreative


class BaseAdError(LookupError):
    """The ad is not in the warehouse, or has no text to write from (the message says which)."""


@dataclass(frozen=True)
class BaseAd:
    ad: Ad
    creative: Creative
    campaign: Campaign | None
    adset: AdSet | None
    base: BaseCreative


def load_base_ad(engine: Engine, ad_ref: str) -> BaseAd:
    """The ad by internal or platform id, with its creative's text and its lifetime figures."""
    with Session(engine) as session:
        ad = session.exec(select(Ad).where(or_(Ad.id == ad_ref, Ad.platform_id == ad_ref))).first()
        if ad is None:
            raise BaseAdError(f"no ad {ad_ref!r} in the warehouse (run `adcluster sync` first)")
        creative = session.get(Creative, ad.creative_id) if ad.creative_id else None
        if creative is None or not creative.headline:
            raise BaseAdError(f"ad {ad_ref} has no creative text in the warehouse")
        campaign = session.get(Campaign, ad.campaign_id)
        adset = session.get(AdSet, ad.adset_id)
        imps, clicks, conv = session.exec(
            select(
                func.coalesce(func.sum(DailyMetric.impressions), 0),
                func.coalesce(func.sum(DailyMetric.clicks), 0),
                func.coalesce(func.sum(DailyMetric.conversions), 0),
            ).where(DailyMetric.ad_id == ad.id)
        ).one()
    base = BaseCreative(
        headline=creative.headline,
        primary_text=creative.body or "",
        impressions=int(imps),
        clicks=int(clicks),
        conversions=int(conv),
    )
    return BaseAd(ad=ad, creative=creative, campaign=campaign, adset=adset, base=base)
