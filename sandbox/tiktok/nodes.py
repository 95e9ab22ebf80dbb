"""Market entities as TikTok rows: ids as strings, money in decimal major units, UTC times, statuses."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sandbox.market.entities import Account, Ad, AdSet, Campaign, CustomAudience, Image, ReviewStatus, Status
from sandbox.market.market import Market
from sandbox.market.params import CURRENCIES
from sandbox.market.segments import PLATFORM_TARGETING, Platform, Targeting
from sandbox.tiktok.errors import invalid, no_permission

NAMES = PLATFORM_TARGETING[Platform.TIKTOK]
AGE_NAMES: dict[str, str] = {k: str(v) for k, v in NAMES["age"].items()}
GENDER_NAMES: dict[str, str] = {k: str(v) for k, v in NAMES["gender"].items()}
LOCATION_IDS: dict[str, str] = {k: str(v) for k, v in NAMES["country"].items()}
PLACEMENT_NAMES: dict[str, str] = {k: str(v) for k, v in NAMES["placement"].items()}
AUDIENCE_TYPES = {"website": "Website Traffic", "customer_list": "Customer File", "lookalike": "Lookalike"}
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


class TikTokView:
    """Reads the market as TikTok shows it at the current simulated hour."""

    def __init__(self, market: Market, base_url: str = "") -> None:
        self.market = market
        self.world = market.world
        self.base_url = base_url.rstrip("/")

    @property
    def hour(self) -> int:
        return self.market.clock.now_hour

    # -- advertisers and ownership ----------------------------------------------------------------

    def advertisers(self) -> list[Account]:
        return [a for a in self.world.accounts.values() if a.platform is Platform.TIKTOK]

    def advertiser(self, advertiser_id: str | None) -> Account:
        """The advertiser the token may act for; anything else is TikTok's 40001."""
        if advertiser_id is None:
            raise invalid("advertiser_id", "this field is required")
        account = self.world.accounts.get(str(advertiser_id))
        if account is None or account.platform is not Platform.TIKTOK:
            raise no_permission(f"advertiser {advertiser_id}")
        return account

    def owned(self, table: dict[str, Any], kind: str, entity_id: str, account: Account) -> Any:
        """An entity of `account`: unknown ids are 40002, another advertiser's 40001."""
        entity = table.get(str(entity_id))
        if entity is None:
            raise invalid(f"{kind}_id", f"{kind} {entity_id} does not exist")
        if entity.account_id != account.id:
            raise no_permission(f"{kind} {entity_id}")
        return entity

    # -- units ------------------------------------------------------------------------------------

    def exponent(self, account_id: str) -> int:
        return CURRENCIES[self.world.account(account_id).currency].exponent

    def money(self, account_id: str, micros: int | None) -> float | int:
        """Micros as a JSON number in major units: 20.5 for 20.50 USD, 3000 for 3000 JPY."""
        if micros is None:
            return 0 if self.exponent(account_id) == 0 else 0.0
        amount = Decimal(micros) / 1_000_000
        return int(amount) if self.exponent(account_id) == 0 else float(amount)

    def utc(self, account: Account, hour: int) -> dt.datetime:
        """A market hour (account-local clock) as a UTC instant."""
        start = dt.datetime.combine(
            self.market.config.start_date, dt.time(), tzinfo=ZoneInfo(account.timezone)
        )
        return (start + dt.timedelta(hours=hour)).astimezone(dt.UTC)

    def stamp(self, account: Account, hour: int) -> str:
        return self.utc(account, hour).strftime(TIME_FORMAT)

    def hour_of(self, account: Account, value: Any, field: str) -> int:
        """A TikTok time ("YYYY-MM-DD HH:MM:SS", UTC) as the market hour it falls in, rounded up."""
        try:
            moment = dt.datetime.strptime(str(value), TIME_FORMAT).replace(tzinfo=dt.UTC)
        except ValueError:
            raise invalid(field, 'must be a UTC time "YYYY-MM-DD HH:MM:SS"') from None
        local = moment.astimezone(ZoneInfo(account.timezone))
        days = (local.date() - self.market.config.start_date).days
        return days * 24 + local.hour + (1 if (local.minute or local.second) else 0)

    def updated_hour(self, entity: Campaign | AdSet | Ad) -> int:
        return entity.last_change_hour(self.hour)

    # -- statuses ---------------------------------------------------------------------------------

    def status(self, entity: Campaign | AdSet | Ad) -> Status:
        return Status(entity.value_at("status", self.hour) or Status.PAUSED)

    @staticmethod
    def operation_status(status: Status) -> str:
        return "ENABLE" if status is Status.ACTIVE else "DISABLE"

    def campaign_secondary(self, camp: Campaign) -> str:
        return {
            Status.ACTIVE: "CAMPAIGN_STATUS_ENABLE",
            Status.PAUSED: "CAMPAIGN_STATUS_DISABLE",
            Status.DELETED: "CAMPAIGN_STATUS_DELETE",
        }[self.status(camp)]

    def adgroup_secondary(self, adset: AdSet) -> str:
        own = self.status(adset)
        if own is Status.DELETED:
            return "ADGROUP_STATUS_DELETE"
        if self.status(self.world.campaign(adset.campaign_id)) is not Status.ACTIVE:
            return "ADGROUP_STATUS_CAMPAIGN_DISABLE"
        return "ADGROUP_STATUS_DISABLE" if own is Status.PAUSED else "ADGROUP_STATUS_DELIVERY_OK"

    def ad_secondary(self, ad: Ad) -> str:
        own = self.status(ad)
        if own is Status.DELETED:
            return "AD_STATUS_DELETE"
        review = ad.review_status(self.hour)
        if review is ReviewStatus.DISAPPROVED:
            return "AD_STATUS_NOT_APPROVED"
        if own is Status.PAUSED:
            return "AD_STATUS_DISABLE"
        parent = self.adgroup_secondary(self.world.adset(ad.adset_id))
        if parent == "ADGROUP_STATUS_CAMPAIGN_DISABLE":
            return "AD_STATUS_CAMPAIGN_DISABLE"
        if parent != "ADGROUP_STATUS_DELIVERY_OK":
            return "AD_STATUS_ADGROUP_DISABLE"
        return "AD_STATUS_REVIEWING" if review is ReviewStatus.PENDING_REVIEW else "AD_STATUS_DELIVERY_OK"

    # -- rows -------------------------------------------------------------------------------------

    def advertiser_row(self, account: Account) -> dict[str, Any]:
        return {
            "advertiser_id": account.id,
            "name": account.name,
            "currency": account.currency,
            "timezone": account.timezone,
            "display_timezone": account.timezone,
            "status": "STATUS_ENABLE",
            "balance": self.money(account.id, 0),
            "country": "JP" if account.currency == "JPY" else "US",
            "role": "ROLE_ADVERTISER",
            "company": "adcluster sandbox",
            "language": "en",
            "create_time": int(self.utc(account, 0).timestamp()),
        }

    def campaign_row(self, camp: Campaign) -> dict[str, Any]:
        account = self.world.account(camp.account_id)
        budget = camp.value_at("daily_budget_micros", self.hour)
        status = self.status(camp)
        return {
            "advertiser_id": camp.account_id,
            "campaign_id": camp.id,
            "campaign_name": camp.name,
            "campaign_type": "REGULAR_CAMPAIGN",
            "objective_type": "WEB_CONVERSIONS",
            "budget": self.money(camp.account_id, budget),
            "budget_mode": "BUDGET_MODE_DAY" if budget is not None else "BUDGET_MODE_INFINITE",
            "budget_optimize_on": budget is not None,
            "operation_status": self.operation_status(status),
            "secondary_status": self.campaign_secondary(camp),
            "is_new_structure": True,
            "create_time": self.stamp(account, camp.created_hour),
            "modify_time": self.stamp(account, self.updated_hour(camp)),
        }

    def adgroup_row(self, adset: AdSet) -> dict[str, Any]:
        account = self.world.account(adset.account_id)
        h = self.hour
        daily = adset.value_at("daily_budget_micros", h)
        lifetime = adset.value_at("lifetime_budget_micros", h)
        bid = adset.value_at("bid_micros", h)
        end = adset.value_at("end_hour", h)
        targeting: Targeting = adset.value_at("targeting", h) or Targeting()
        mode = "BUDGET_MODE_DAY" if daily else "BUDGET_MODE_TOTAL" if lifetime else "BUDGET_MODE_INFINITE"
        return {
            "advertiser_id": adset.account_id,
            "campaign_id": adset.campaign_id,
            "adgroup_id": adset.id,
            "adgroup_name": adset.name,
            "operation_status": self.operation_status(self.status(adset)),
            "secondary_status": self.adgroup_secondary(adset),
            "budget": self.money(adset.account_id, daily or lifetime),
            "budget_mode": mode,
            # The market's bid is a maximum cost per click, which is what bid_price means under CPC billing.
            "bid_type": "BID_TYPE_CUSTOM" if bid else "BID_TYPE_NO_BID",
            "bid_price": self.money(adset.account_id, bid),
            "billing_event": "CPC",
            "optimization_goal": "CLICK",
            "pacing": "PACING_MODE_SMOOTH",
            "promotion_type": "WEBSITE",
            "placement_type": "PLACEMENT_TYPE_NORMAL",
            "placements": [PLACEMENT_NAMES[p] for p in targeting.placements],
            "age_groups": [AGE_NAMES[a] for a in targeting.ages],
            "gender": gender_name(targeting.genders),
            "location_ids": [LOCATION_IDS[c] for c in targeting.countries],
            "audience_ids": list(adset.custom_audience_ids),
            "schedule_type": "SCHEDULE_START_END" if end is not None else "SCHEDULE_FROM_NOW",
            "schedule_start_time": self.stamp(account, adset.created_hour),
            "schedule_end_time": self.stamp(account, int(end)) if end is not None else None,
            "create_time": self.stamp(account, adset.created_hour),
            "modify_time": self.stamp(account, self.updated_hour(adset)),
        }

    def ad_row(self, ad: Ad) -> dict[str, Any]:
        account = self.world.account(ad.account_id)
        creative = self.world.creative(ad.creative_id)
        return {
            "advertiser_id": ad.account_id,
            "campaign_id": ad.campaign_id,
            "adgroup_id": ad.adset_id,
            "ad_id": ad.id,
            "ad_name": ad.name,
            "ad_format": "SINGLE_IMAGE",
            # The market's creative has a headline and a body; TikTok's ad has one text: the headline.
            "ad_text": creative.headline,
            "image_ids": [creative.image_hash],
            "video_id": None,
            "landing_page_url": creative.link,
            "call_to_action": creative.cta,
            "display_name": account.name,
            "operation_status": self.operation_status(self.status(ad)),
            "secondary_status": self.ad_secondary(ad),
            "create_time": self.stamp(account, ad.created_hour),
            "modify_time": self.stamp(account, self.updated_hour(ad)),
        }

    def image_url(self, image_hash: str) -> str:
        return f"{self.base_url}/_sandbox/images/{image_hash}.jpg"

    def image_row(self, image: Image) -> dict[str, Any]:
        account = self.world.account(image.account_id)
        return {
            "image_id": image.hash,
            "material_id": image.hash,
            "file_name": image.name,
            "width": image.width,
            "height": image.height,
            "format": image.name.rsplit(".", 1)[-1].lower() if "." in image.name else "jpeg",
            "signature": image.hash,
            "image_url": self.image_url(image.hash),
            "is_carousel_usable": True,
            "displayable": True,
            "create_time": self.stamp(account, image.created_hour),
            "modify_time": self.stamp(account, image.created_hour),
        }

    def audience_row(self, audience: CustomAudience) -> dict[str, Any]:
        account = self.world.account(audience.account_id)
        return {
            "audience_id": audience.id,
            "custom_audience_id": audience.id,
            "name": audience.name,
            "audience_type": AUDIENCE_TYPES[audience.kind],
            "cover_num": audience.size,
            "is_valid": True,
            "is_expired": False,
            "is_creator": True,
            "shared": False,
            "create_time": self.stamp(account, 0),
        }


def gender_name(genders: tuple[str, ...]) -> str:
    return GENDER_NAMES[genders[0]] if len(genders) == 1 else "GENDER_UNLIMITED"
