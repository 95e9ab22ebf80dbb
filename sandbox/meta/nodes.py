"""Market entities as Meta Graph objects: fields, statuses, targeting, money and times in Meta's units."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sandbox.market.entities import Account, Ad, AdSet, Campaign, Creative, CustomAudience, Image, Status
from sandbox.market.market import Market
from sandbox.market.params import CURRENCIES
from sandbox.market.segments import AGES, COUNTRIES, PLACEMENTS, Targeting
from sandbox.meta.errors import invalid_parameter

# Meta's timezone_id for the zones the sandbox uses (unconfirmed numbers; clients should read timezone_name).
TIMEZONE_IDS = {"America/Los_Angeles": 1, "Asia/Tokyo": 78, "Europe/Berlin": 29, "Europe/London": 43}
AGE_RANGES = {"18-24": (18, 24), "25-34": (25, 34), "35-44": (35, 44), "45+": (45, 65)}
GENDER_CODES = {"male": 1, "female": 2}
PLACEMENT_POSITIONS = {  # market placement -> (publisher_platform, position field, position)
    "feed": ("facebook", "facebook_positions", "feed"),
    "stories": ("instagram", "instagram_positions", "story"),
    "network": ("audience_network", "audience_network_positions", "classic"),
}
AUDIENCE_SUBTYPES = {"website": "WEBSITE", "customer_list": "CUSTOM", "lookalike": "LOOKALIKE"}
KNOWN_TARGETING_KEYS = {
    "age_min",
    "age_max",
    "genders",
    "geo_locations",
    "publisher_platforms",
    "facebook_positions",
    "instagram_positions",
    "audience_network_positions",
    "custom_audiences",
    "device_platforms",
    "targeting_automation",
}


class MetaView:
    """Reads the market as Meta shows it at the current simulated hour."""

    def __init__(self, market: Market, base_url: str) -> None:
        self.market = market
        self.world = market.world
        self.base_url = base_url.rstrip("/")

    @property
    def hour(self) -> int:
        return self.market.clock.now_hour

    # -- units ----------------------------------------------------------------------------------

    def step(self, account_id: str) -> int:
        return 10 ** (6 - CURRENCIES[self.world.account(account_id).currency].exponent)

    def minor(self, account_id: str, micros: int | None) -> str | None:
        return None if micros is None else str(micros // self.step(account_id))

    def micros(self, account_id: str, minor_units: int) -> int:
        return minor_units * self.step(account_id)

    def local_time(self, account: Account, hour: int) -> dt.datetime:
        start = dt.datetime.combine(
            self.market.config.start_date, dt.time(), tzinfo=ZoneInfo(account.timezone)
        )
        return start + dt.timedelta(hours=hour)

    def stamp(self, account: Account, hour: int) -> str:
        return self.local_time(account, hour).strftime("%Y-%m-%dT%H:%M:%S%z")

    def hour_of(self, account: Account, value: str, field: str) -> int:
        """A Graph time (ISO 8601 or epoch seconds) as a market hour, rounded up to the next whole hour."""
        try:
            if value.isdigit():
                moment = dt.datetime.fromtimestamp(int(value), tz=dt.UTC)
            else:
                moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=ZoneInfo(account.timezone))
        except ValueError:
            raise invalid_parameter(
                f"Param {field} must be an ISO 8601 time or epoch seconds", field=field
            ) from None
        local = moment.astimezone(ZoneInfo(account.timezone))
        days = (local.date() - self.market.config.start_date).days
        return days * 24 + local.hour + (1 if (local.minute or local.second) else 0)

    def updated_hour(self, entity: Campaign | AdSet | Ad) -> int:
        return entity.last_change_hour(self.hour)

    # -- statuses -------------------------------------------------------------------------------

    def status(self, entity: Campaign | AdSet | Ad) -> str:
        return str(entity.value_at("status", self.hour) or Status.PAUSED)

    def campaign_effective(self, camp: Campaign) -> str:
        own = self.status(camp)
        if own == Status.ACTIVE and camp.value_at("stopped_by_platform", self.hour):
            return "WITH_ISSUES"  # stopped by the platform (a market event), not by the advertiser
        return own

    def adset_effective(self, adset: AdSet) -> str:
        own = self.status(adset)
        if own != Status.ACTIVE:
            return own
        campaign = self.campaign_effective(self.world.campaign(adset.campaign_id))
        if campaign == "WITH_ISSUES":
            return campaign
        return "CAMPAIGN_PAUSED" if campaign != Status.ACTIVE else own

    def ad_effective(self, ad: Ad) -> str:
        own = self.status(ad)
        if own == Status.DELETED:
            return own
        review = ad.review_status(self.hour)
        if review == "DISAPPROVED":
            return "DISAPPROVED"
        if own != Status.ACTIVE:
            return own
        parent = self.adset_effective(self.world.adset(ad.adset_id))
        if parent in ("CAMPAIGN_PAUSED", "WITH_ISSUES"):
            return parent
        if parent != Status.ACTIVE:
            return "ADSET_PAUSED"
        return "PENDING_REVIEW" if review == "PENDING_REVIEW" else "ACTIVE"

    # -- objects --------------------------------------------------------------------------------

    def account_obj(self, account: Account) -> dict[str, Any]:
        tz = ZoneInfo(account.timezone)
        offset = self.local_time(account, self.hour).astimezone(tz).utcoffset() or dt.timedelta()
        return {
            "id": f"act_{account.id}",
            "account_id": account.id,
            "name": account.name,
            "currency": account.currency,
            "timezone_name": account.timezone,
            "timezone_id": TIMEZONE_IDS.get(account.timezone, 0),
            "timezone_offset_hours_utc": offset.total_seconds() / 3600,
            "account_status": 1,
            "disable_reason": 0,
            "balance": "0",
            "spend_cap": "0",
            "min_daily_budget": int(account.min_daily_budget_micros // self.step(account.id)),
            "business": {"id": "sandbox-business", "name": "adcluster sandbox"},
        }

    def campaign_obj(self, camp: Campaign) -> dict[str, Any]:
        account = self.world.account(camp.account_id)
        budget = camp.value_at("daily_budget_micros", self.hour)
        obj: dict[str, Any] = {
            "id": camp.id,
            "name": camp.name,
            "account_id": camp.account_id,
            "objective": "OUTCOME_SALES",
            "status": self.status(camp),
            "configured_status": self.status(camp),
            "effective_status": self.campaign_effective(camp),
            "buying_type": "AUCTION",
            "special_ad_categories": [],
            "start_time": self.stamp(account, camp.created_hour),
            "created_time": self.stamp(account, camp.created_hour),
            "updated_time": self.stamp(account, self.updated_hour(camp)),
        }
        if budget is not None:
            obj.update(
                daily_budget=self.minor(camp.account_id, budget),
                budget_remaining=self.minor(camp.account_id, budget),
                bid_strategy="LOWEST_COST_WITHOUT_CAP",
            )
        return obj

    def targeting_obj(self, targeting: Targeting, adset: AdSet) -> dict[str, Any]:
        ranges = [AGE_RANGES[a] for a in targeting.ages]
        obj: dict[str, Any] = {
            "age_min": min(r[0] for r in ranges),
            "age_max": max(r[1] for r in ranges),
            "geo_locations": {"countries": list(targeting.countries), "location_types": ["home", "recent"]},
            "publisher_platforms": [PLACEMENT_POSITIONS[p][0] for p in targeting.placements],
        }
        for p in targeting.placements:
            _, field, position = PLACEMENT_POSITIONS[p]
            obj[field] = [position]
        if len(targeting.genders) == 1:
            obj["genders"] = [GENDER_CODES[targeting.genders[0]]]
        if adset.custom_audience_ids:
            obj["custom_audiences"] = [
                {"id": a, "name": self.world.audiences[a].name} for a in adset.custom_audience_ids
            ]
        return obj

    def adset_obj(self, adset: AdSet) -> dict[str, Any]:
        account = self.world.account(adset.account_id)
        h = self.hour
        daily, lifetime = (
            adset.value_at("daily_budget_micros", h),
            adset.value_at("lifetime_budget_micros", h),
        )
        bid, end = adset.value_at("bid_micros", h), adset.value_at("end_hour", h)
        targeting = adset.value_at("targeting", h) or Targeting()
        obj: dict[str, Any] = {
            "id": adset.id,
            "name": adset.name,
            "campaign_id": adset.campaign_id,
            "account_id": adset.account_id,
            "status": self.status(adset),
            "configured_status": self.status(adset),
            "effective_status": self.adset_effective(adset),
            "billing_event": "IMPRESSIONS",
            "optimization_goal": "OFFSITE_CONVERSIONS",
            "bid_strategy": "LOWEST_COST_WITH_BID_CAP" if bid else "LOWEST_COST_WITHOUT_CAP",
            "promoted_object": {"pixel_id": f"{adset.account_id[-8:]}01", "custom_event_type": "PURCHASE"},
            "attribution_spec": [{"event_type": "CLICK_THROUGH", "window_days": 7}],
            "destination_type": "WEBSITE",
            "targeting": self.targeting_obj(targeting, adset),
            "start_time": self.stamp(account, adset.created_hour),
            "created_time": self.stamp(account, adset.created_hour),
            "updated_time": self.stamp(account, self.updated_hour(adset)),
        }
        if daily is not None:
            obj["daily_budget"] = obj["budget_remaining"] = self.minor(adset.account_id, daily)
        if lifetime is not None:
            obj["lifetime_budget"] = obj["budget_remaining"] = self.minor(adset.account_id, lifetime)
        if bid:
            obj["bid_amount"] = int(bid // self.step(adset.account_id))
        if end is not None:
            obj["end_time"] = self.stamp(account, int(end))
        return obj

    def ad_obj(self, ad: Ad) -> dict[str, Any]:
        account = self.world.account(ad.account_id)
        obj: dict[str, Any] = {
            "id": ad.id,
            "name": ad.name,
            "adset_id": ad.adset_id,
            "campaign_id": ad.campaign_id,
            "account_id": ad.account_id,
            "status": self.status(ad),
            "configured_status": self.status(ad),
            "effective_status": self.ad_effective(ad),
            "creative": {"id": ad.creative_id},
            "created_time": self.stamp(account, ad.created_hour),
            "updated_time": self.stamp(account, self.updated_hour(ad)),
        }
        if ad.review_status(self.hour) == "DISAPPROVED":
            obj["ad_review_feedback"] = {
                "global": {"Unrealistic claims": "Ads must not promise guaranteed results."}
            }
        return obj

    def image_url(self, image_hash: str) -> str:
        return f"{self.base_url}/_sandbox/images/{image_hash}.jpg"

    def creative_obj(self, creative: Creative) -> dict[str, Any]:
        page_id = f"10{creative.account_id[-12:]}"
        return {
            "id": creative.id,
            "name": creative.name,
            "account_id": creative.account_id,
            "title": creative.headline,
            "body": creative.body,
            "image_hash": creative.image_hash,
            "image_url": self.image_url(creative.image_hash),
            "thumbnail_url": self.image_url(creative.image_hash),
            "call_to_action_type": creative.cta,
            "object_type": "SHARE",
            "status": "ACTIVE",
            "object_story_spec": {
                "page_id": page_id,
                "link_data": {
                    "image_hash": creative.image_hash,
                    "link": creative.link,
                    "message": creative.body,
                    "name": creative.headline,
                    "call_to_action": {"type": creative.cta, "value": {"link": creative.link}},
                },
            },
        }

    def image_obj(self, image: Image) -> dict[str, Any]:
        account = self.world.account(image.account_id)
        return {
            "id": f"{image.account_id}:{image.hash}",
            "account_id": image.account_id,
            "hash": image.hash,
            "name": image.name,
            "url": self.image_url(image.hash),
            "url_128": self.image_url(image.hash),
            "permalink_url": self.image_url(image.hash),
            "width": image.width,
            "height": image.height,
            "original_width": image.width,
            "original_height": image.height,
            "status": "ACTIVE",
            "created_time": self.stamp(account, image.created_hour),
            "updated_time": self.stamp(account, image.created_hour),
        }

    def audience_obj(self, audience: CustomAudience) -> dict[str, Any]:
        users = [
            s.id for s in self.world.adsets_of(audience.account_id) if audience.id in s.custom_audience_ids
        ]
        return {
            "id": audience.id,
            "name": audience.name,
            "account_id": audience.account_id,
            "subtype": AUDIENCE_SUBTYPES[audience.kind],
            "description": f"{audience.kind} audience",
            "approximate_count_lower_bound": int(audience.size * 0.9),
            "approximate_count_upper_bound": int(audience.size * 1.1),
            "delivery_status": {"code": 200, "description": "This audience is ready for use."},
            "operation_status": {"code": 200, "description": "Normal"},
            "time_created": 1_700_000_000,
            "adsets": {"data": [{"id": i} for i in users]},
        }


def targeting_from_meta(
    spec: dict[str, Any], *, field: str = "targeting"
) -> tuple[Targeting, list[str] | None]:
    """Meta targeting -> the market's segment targeting (+ custom audience ids when given)."""
    unknown = sorted(set(spec) - KNOWN_TARGETING_KEYS)
    if unknown:
        raise invalid_parameter(
            f"targeting spec key {unknown[0]} is not modelled by the sandbox market",
            field=f"{field}.{unknown[0]}",
        )
    try:
        age_min, age_max = int(spec.get("age_min", 18)), int(spec.get("age_max", 65))
    except (TypeError, ValueError):
        raise invalid_parameter("age_min and age_max must be integers", field=f"{field}.age_min") from None
    if not 13 <= age_min <= age_max <= 65:
        raise invalid_parameter(
            "age_min must be at least 13 and not above age_max (at most 65)", field=f"{field}.age_min"
        )
    ages = [a for a in AGES if AGE_RANGES[a][0] <= age_max and AGE_RANGES[a][1] >= age_min]
    codes = spec.get("genders") or [1, 2]
    if not isinstance(codes, list) or any(c not in (1, 2) for c in codes):
        raise invalid_parameter("genders must be a list of 1 (men) and 2 (women)", field=f"{field}.genders")
    genders = [g for g, c in GENDER_CODES.items() if c in codes]
    geo = spec.get("geo_locations") or {}
    countries = geo.get("countries") if isinstance(geo, dict) else None
    if countries is None:
        countries = list(COUNTRIES)
    if not isinstance(countries, list) or any(c not in COUNTRIES for c in countries) or not countries:
        raise invalid_parameter(
            f"geo_locations.countries must be among {list(COUNTRIES)} in the sandbox",
            field=f"{field}.geo_locations",
        )
    platforms = spec.get("publisher_platforms")
    placements = []
    for placement in PLACEMENTS:
        platform, pos_field, position = PLACEMENT_POSITIONS[placement]
        positions = spec.get(pos_field)
        if (platforms is None or platform in platforms) and (positions is None or position in positions):
            placements.append(placement)
    if not placements:
        raise invalid_parameter(
            "the placements leave nothing the sandbox market can deliver to",
            field=f"{field}.publisher_platforms",
        )
    audiences = spec.get("custom_audiences")
    audience_ids = None
    if audiences is not None:
        if not isinstance(audiences, list) or not all(isinstance(a, dict) and "id" in a for a in audiences):
            raise invalid_parameter(
                'custom_audiences must be a list of {"id": ...}', field=f"{field}.custom_audiences"
            )
        audience_ids = [str(a["id"]) for a in audiences]
    try:
        return Targeting(ages=ages, genders=genders, countries=countries, placements=placements), audience_ids
    except ValueError as exc:
        raise invalid_parameter(str(exc), field=field) from None
