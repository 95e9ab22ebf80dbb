"""Market entities as X Ads API objects: ids, statuses, budgets in local micros, times in UTC.

Ids X has but the market does not (funding instruments, tweets, cards, media keys, targeting
criteria) are derived from the market entity they stand for, so they are stable across restarts.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sandbox.market import keyed
from sandbox.market.entities import Account, Ad, AdSet, Campaign, Creative, CustomAudience, Image, Status
from sandbox.market.market import Market
from sandbox.market.params import CURRENCIES
from sandbox.market.segments import DIMENSIONS, PLATFORM_TARGETING, Platform, Targeting
from sandbox.x.errors import invalid_parameter

X_NAMES = PLATFORM_TARGETING[Platform.X]
# market dimension -> (X targeting_type, Targeting field)
CRITERIA_DIMENSIONS = {
    "age": ("AGE", "ages"),
    "gender": ("GENDER", "genders"),
    "country": ("LOCATION", "countries"),
}
COUNTRY_NAMES = {"US": "United States", "GB": "United Kingdom", "JP": "Japan"}
GENDER_NAMES = {"male": "Male", "female": "Female"}
AGE_NAMES = {"18-24": "18 to 24", "25-34": "25 to 34", "35-44": "35 to 44", "45+": "45 and up"}
PLACEMENT_NAMES = {"feed": "Timeline", "stories": "Search", "network": "Publisher network"}
TWITTER_PLACEMENTS = ("feed", "stories")  # ALL_ON_TWITTER; "network" is PUBLISHER_NETWORK
AUDIENCE_TYPES = {"website": "WEB", "customer_list": "LIST", "lookalike": "FLEXIBLE"}
B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def base36(number: int, width: int) -> str:
    out = ""
    for _ in range(width):
        number, r = divmod(number, 36)
        out = B36[r] + out
    return out


def derived_id(*parts: object, width: int = 6) -> str:
    return base36(keyed.stable_key("x", *parts), width)


def digits_id(*parts: object) -> str:
    """A long numeric id like a tweet's (19 digits, never starting with 0)."""
    return "1" + str(keyed.stable_key("x-num", *parts) % 10**18).zfill(18)


def label(dimension: str, value: str) -> str:
    return str(X_NAMES[dimension][value])


def value_of(dimension: str, x_value: str) -> str | None:
    for value, name in X_NAMES[dimension].items():
        if str(name).lower() == x_value.lower():
            return value
    return None


class XView:
    """Reads the market as X shows it at the current simulated hour."""

    def __init__(self, market: Market) -> None:
        self.market = market
        self.world = market.world

    @property
    def hour(self) -> int:
        return self.market.clock.now_hour

    # -- units and times ------------------------------------------------------------------------

    def step(self, account_id: str) -> int:
        """Micros per minor unit of the account currency (10,000 for cents, 1,000,000 for yen)."""
        return 10 ** (6 - CURRENCIES[self.world.account(account_id).currency].exponent)

    def local(self, account: Account, hour: int) -> dt.datetime:
        start = dt.datetime.combine(
            self.market.config.start_date, dt.time(), tzinfo=ZoneInfo(account.timezone)
        )
        return start + dt.timedelta(hours=hour)

    def utc(self, account: Account, hour: int) -> str:
        return self.local(account, hour).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def parse_time(self, account: Account, value: str, field: str) -> tuple[int, bool]:
        """An X time (ISO 8601 with any offset, Z, or a bare date = local midnight) as a market hour.

        Returns (hour, whole): `hour` rounded down; `whole` is False when minutes or seconds are set.
        """
        zone = ZoneInfo(account.timezone)
        try:
            if len(value) == 10:
                moment = dt.datetime.combine(dt.date.fromisoformat(value), dt.time(), tzinfo=zone)
            else:
                moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=dt.UTC)
        except ValueError:
            raise invalid_parameter(field, f'Expected time, got "{value}" for {field}') from None
        local = moment.astimezone(zone)
        days = (local.date() - self.market.config.start_date).days
        whole = local.minute == 0 and local.second == 0 and local.microsecond == 0
        return days * 24 + local.hour, whole

    def updated_hour(self, entity: Campaign | AdSet | Ad) -> int:
        return entity.last_change_hour(self.hour)

    # -- ids ------------------------------------------------------------------------------------

    def funding_id(self, account_id: str) -> str:
        return derived_id("funding", account_id, width=5)

    def tweet_id(self, creative: Creative) -> str:
        return digits_id("tweet", creative.id)

    def card_uri(self, account_id: str, link: str, cta: str) -> str:
        return "card://" + digits_id("card", account_id, link, cta)

    def media_key(self, image: Image) -> str:
        return "3_" + digits_id("media", image.account_id, image.hash)

    def criterion_id(self, adset_id: str, dimension: str, value: str) -> str:
        return derived_id("criterion", adset_id, dimension, value, width=7)

    # -- statuses -------------------------------------------------------------------------------

    def status(self, entity: Campaign | AdSet | Ad) -> Status:
        return Status(entity.value_at("status", self.hour) or Status.PAUSED)

    def deleted(self, entity: Campaign | AdSet | Ad) -> bool:
        return self.status(entity) is Status.DELETED

    def entity_status(self, entity: Campaign | AdSet | Ad) -> str:
        # X has no DELETED status: a deleted entity keeps its last status and says `deleted: true`.
        status = self.status(entity)
        if status is Status.DELETED:
            earlier = [v for h, v in entity.timeline.get("status", []) if v != Status.DELETED]
            return str(earlier[-1]) if earlier else "PAUSED"
        return str(status)

    def targeting(self, adset: AdSet) -> Targeting:
        return adset.value_at("targeting", self.hour) or Targeting()

    # -- objects --------------------------------------------------------------------------------

    def account_obj(self, account: Account) -> dict[str, Any]:
        return {
            "id": account.id,
            "name": account.name,
            "timezone": account.timezone,
            "timezone_switch_at": self.utc(account, 0),
            "approval_status": "ACCEPTED",
            "business_id": None,
            "business_name": None,
            "industry_type": "RETAIL",
            "salt": derived_id("salt", account.id, width=12),
            "created_at": self.utc(account, 0),
            "updated_at": self.utc(account, 0),
            "deleted": False,
        }

    def funding_obj(self, account: Account) -> dict[str, Any]:
        return {
            "id": self.funding_id(account.id),
            "name": f"{account.name} credit card",
            "account_id": account.id,
            "currency": account.currency,
            "type": "CREDIT_CARD",
            "description": "Credit card ending in 0000",
            "entity_status": "ACTIVE",
            "able_to_fund": True,
            "reasons_not_able_to_fund": [],
            "credit_limit_local_micro": None,
            "credit_remaining_local_micro": None,
            "funded_amount_local_micro": None,
            "io_header": None,
            "start_time": self.utc(account, 0),
            "end_time": None,
            "created_at": self.utc(account, 0),
            "updated_at": self.utc(account, 0),
            "deleted": False,
        }

    def campaign_obj(self, camp: Campaign) -> dict[str, Any]:
        account = self.world.account(camp.account_id)
        status = self.status(camp)
        servable = status is Status.ACTIVE
        return {
            "id": camp.id,
            "name": camp.name,
            "account_id": account.id,
            "funding_instrument_id": self.funding_id(account.id),
            "entity_status": self.entity_status(camp),
            "effective_status": "RUNNING" if servable else "PAUSED",
            "servable": servable,
            "reasons_not_servable": [] if servable else ["PAUSED_BY_ADVERTISER"],
            # Budgets live on the campaign only when the market's campaign has one (X's CAMPAIGN
            # budget optimisation); otherwise on the line items.
            "budget_optimization": "CAMPAIGN" if camp.has_campaign_budget(self.hour) else "LINE_ITEM",
            "daily_budget_amount_local_micro": camp.value_at("daily_budget_micros", self.hour),
            "total_budget_amount_local_micro": None,
            "currency": account.currency,
            "standard_delivery": True,
            "frequency_cap": None,
            "duration_in_days": None,
            "purchase_order_number": None,
            "created_at": self.utc(account, camp.created_hour),
            "updated_at": self.utc(account, self.updated_hour(camp)),
            "deleted": status is Status.DELETED,
        }

    def placements(self, adset: AdSet) -> list[str]:
        return [label("placement", p) for p in self.targeting(adset).placements]

    def line_item_obj(self, adset: AdSet) -> dict[str, Any]:
        account = self.world.account(adset.account_id)
        bid = adset.value_at("bid_micros", self.hour)
        end = adset.value_at("end_hour", self.hour)
        return {
            "id": adset.id,
            "name": adset.name,
            "account_id": account.id,
            "campaign_id": adset.campaign_id,
            "entity_status": self.entity_status(adset),
            "objective": "WEBSITE_CONVERSIONS",
            "product_type": "PROMOTED_TWEETS",
            "placements": self.placements(adset),
            "pay_by": "IMPRESSION",
            "goal": "WEBSITE_CONVERSIONS",
            "bid_strategy": "AUTO" if bid is None else "MAX",
            "bid_amount_local_micro": bid,
            "target_cpa_local_micro": None,
            "daily_budget_amount_local_micro": adset.value_at("daily_budget_micros", self.hour),
            "total_budget_amount_local_micro": adset.value_at("lifetime_budget_micros", self.hour),
            "currency": account.currency,
            "start_time": self.utc(account, adset.created_hour),
            "end_time": None if end is None else self.utc(account, end),
            "standard_delivery": True,
            "creative_source": "MANUAL",
            "audience_expansion": None,
            "created_at": self.utc(account, adset.created_hour),
            "updated_at": self.utc(account, self.updated_hour(adset)),
            "deleted": self.deleted(adset),
        }

    def criteria(self, adset: AdSet) -> list[tuple[str, str]]:
        """(dimension, value) pairs X lists as criteria: none for a dimension with every value targeted."""
        targeting = self.targeting(adset)
        out: list[tuple[str, str]] = []
        for dimension, (_, field) in CRITERIA_DIMENSIONS.items():
            chosen = getattr(targeting, field)
            if len(chosen) < len(DIMENSIONS[dimension]):
                out.extend((dimension, v) for v in chosen)
        return out

    def criterion_obj(self, adset: AdSet, dimension: str, value: str) -> dict[str, Any]:
        account = self.world.account(adset.account_id)
        names = {"age": AGE_NAMES, "gender": GENDER_NAMES, "country": COUNTRY_NAMES}[dimension]
        return {
            "id": self.criterion_id(adset.id, dimension, value),
            "line_item_id": adset.id,
            "targeting_type": CRITERIA_DIMENSIONS[dimension][0],
            "targeting_value": label(dimension, value),
            "name": names[value],
            "localized_name": names[value],
            "operator_type": "EQ",
            "created_at": self.utc(account, adset.created_hour),
            "updated_at": self.utc(account, self.updated_hour(adset)),
            "deleted": False,
        }

    def promoted_tweet_obj(self, ad: Ad) -> dict[str, Any]:
        account = self.world.account(ad.account_id)
        review = ad.review_status(self.hour)
        approval = {"APPROVED": "ACCEPTED", "DISAPPROVED": "REJECTED", "PENDING_REVIEW": "UNDER_REVIEW"}
        return {
            "id": ad.id,
            "line_item_id": ad.adset_id,
            "tweet_id": self.tweet_id(self.world.creative(ad.creative_id)),
            "entity_status": self.entity_status(ad),
            "approval_status": approval[str(review)],
            "created_at": self.utc(account, ad.created_hour),
            "updated_at": self.utc(account, self.updated_hour(ad)),
            "deleted": self.deleted(ad),
        }

    def image_of(self, creative: Creative) -> Image | None:
        return self.world.images.get(f"{creative.account_id}:{creative.image_hash}")

    def tweet_obj(self, creative: Creative) -> dict[str, Any]:
        account = self.world.account(creative.account_id)
        image = self.image_of(creative)
        text = f"{creative.headline}\n{creative.body}".strip() if creative.body else creative.headline
        tweet_id = self.tweet_id(creative)
        media = (
            [{"media_key": self.media_key(image), "type": "photo", "media_url_https": None}] if image else []
        )
        return {
            "id": int(tweet_id),
            "id_str": tweet_id,
            "tweet_id": tweet_id,
            "name": creative.name,
            "full_text": text,
            "card_uri": self.card_uri(account.id, creative.link, creative.cta),
            "nullcast": True,
            "entities": {"media": media, "urls": []},
            "lang": "en",
            "created_at": self.utc(account, 0),
        }

    def card_obj(self, account: Account, link: str, cta: str, name: str) -> dict[str, Any]:
        uri = self.card_uri(account.id, link, cta)
        return {
            "id": uri.removeprefix("card://"),
            "card_uri": uri,
            "card_type": "WEBSITE",
            "name": name,
            "website_url": link,
            "website_title": name,
            "call_to_action": cta,
            "created_at": self.utc(account, 0),
            "updated_at": self.utc(account, 0),
            "deleted": False,
        }

    def audience_obj(self, audience: CustomAudience) -> dict[str, Any]:
        account = self.world.account(audience.account_id)
        return {
            "id": audience.id,
            "name": audience.name,
            "audience_type": AUDIENCE_TYPES.get(audience.kind, "LIST"),
            "audience_size": audience.size,
            "targetable": True,
            "targetable_types": ["CRM", "EXCLUDED_CRM"],
            "reasons_not_targetable": [],
            "partner_source": "OTHER",
            "permission_level": "READ_WRITE",
            "owner_account_id": account.id,
            "created_at": self.utc(account, 0),
            "updated_at": self.utc(account, 0),
            "deleted": False,
        }
