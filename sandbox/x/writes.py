"""X writes turned into market changes: PUT / DELETE on campaigns, line items and promoted tweets,
creating line items, tweets, cards and promoted tweets, and targeting criteria.

Everything is validated before anything is applied: a rejected write leaves the market as it was.
Fields a client sends back unchanged (the SDK's `save()` sends every property it holds) are
accepted; read-only ones are ignored; unknown ones are refused naming the parameter.
"""

from __future__ import annotations

from typing import Any

from sandbox.market.changes import (
    CreateAd,
    CreateAdSet,
    CreateCreative,
    UpdateAd,
    UpdateAdSet,
    UpdateCampaign,
)
from sandbox.market.entities import Account, Ad, AdSet, Campaign, Creative, Status
from sandbox.market.errors import MarketError
from sandbox.market.segments import DIMENSIONS, Targeting
from sandbox.x.errors import XError, invalid_parameter, missing_parameter, not_found
from sandbox.x.nodes import CRITERIA_DIMENSIONS, XView, label, value_of
from sandbox.x.request import XParams

READ_ONLY = {
    "id",
    "id_str",
    "account_id",
    "created_at",
    "updated_at",
    "currency",
    "deleted",
    "effective_status",
    "reasons_not_servable",
    "servable",
    "creative_source",
    "target_cpa_local_micro",
    "approval_status",
    "to_delete",
}
# Writable on X, not modelled by the market: accepted when they repeat the value the sandbox serves.
CAMPAIGN_ECHO = {
    "funding_instrument_id",
    "standard_delivery",
    "budget_optimization",
    "frequency_cap",
    "duration_in_days",
    "purchase_order_number",
    "total_budget_amount_local_micro",
}
LINE_ITEM_ECHO = {
    "campaign_id",
    "objective",
    "product_type",
    "pay_by",
    "goal",
    "start_time",
    "standard_delivery",
    "audience_expansion",
    "advertiser_domain",
    "advertiser_user_id",
    "categories",
    "primary_web_event_tag",
    "tracking_tags",
    "ios_app_store_identifier",
    "android_app_store_identifier",
    "frequency_cap",
    "duration_in_days",
}
STATUSES = ("ACTIVE", "PAUSED")
OBJECTIVES = (
    "APP_ENGAGEMENTS",
    "APP_INSTALLS",
    "ENGAGEMENTS",
    "FOLLOWERS",
    "LEAD_GENERATION",
    "PREROLL_VIEWS",
    "REACH",
    "VIDEO_VIEWS",
    "WEBSITE_CLICKS",
    "WEBSITE_CONVERSIONS",
)
PLACEMENT_VALUES = {"ALL_ON_TWITTER": ("feed", "stories"), "TWITTER_TIMELINE": ("feed",)}
PLACEMENT_VALUES |= {"TWITTER_SEARCH": ("stories",), "PUBLISHER_NETWORK": ("network",)}


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return "" if value is None else str(value)


class XWriter:
    def __init__(self, view: XView, cards: dict[str, dict[str, str]]) -> None:
        self.view = view
        self.market = view.market
        self.world = view.world
        self.cards = cards  # card_uri -> {account_id, link, cta, name}: cards made through the API

    # -- helpers --------------------------------------------------------------------------------

    def _check_params(
        self, params: XParams, allowed: set[str], echo: set[str], current: dict[str, Any]
    ) -> None:
        for name in params.unused():
            if name in READ_ONLY or name in allowed:
                params.raw(name)
                continue
            if name in echo:
                sent = params.raw(name) or ""
                if sent.split(",") != _as_text(current.get(name)).split(",") and sent != _as_text(
                    current.get(name)
                ):
                    raise invalid_parameter(name, f"{name} cannot be changed in the sandbox")
                continue
            raise invalid_parameter(name, f'Unknown parameter "{name}"')

    def _money(self, account: Account, params: XParams, name: str, *, budget: bool) -> int | None:
        value = params.integer(name)
        if value is None:
            return None
        step = self.view.step(account.id)
        if value <= 0:
            raise invalid_parameter(name, f"{name} must be a positive amount in local micros")
        if value % step:
            raise invalid_parameter(
                name, f"{name} must be a whole number of {account.currency} minor units ({step} micros each)"
            )
        if budget and value < account.min_daily_budget_micros:
            raise invalid_parameter(
                name,
                f"{name} {value} is below the minimum budget of {account.min_daily_budget_micros} "
                f"local micros ({account.currency})",
            )
        return value

    def _status(self, params: XParams) -> Status | None:
        value = params.string("entity_status")
        if value is None:
            return None
        if value.upper() not in STATUSES:
            raise invalid_parameter("entity_status", f'entity_status must be ACTIVE or PAUSED, got "{value}"')
        return Status(value.upper())

    def _apply(self, change: Any, parameter: str | None = None) -> Any:
        try:
            return self.market.apply(change)
        except MarketError as exc:
            raise XError("INVALID_PARAMETER", str(exc), parameter=parameter) from None

    def _live(self, entity: Campaign | AdSet | Ad) -> None:
        if self.view.deleted(entity):
            raise not_found(f"{type(entity).__name__} {entity.id} is deleted")

    def _placements(self, params: XParams) -> tuple[str, ...] | None:
        value = params.string("placements")
        if value is None:
            return None
        chosen: set[str] = set()
        for name in value.split(","):
            if name.strip().upper() not in PLACEMENT_VALUES:
                raise invalid_parameter("placements", f'Unknown placement "{name}"')
            chosen.update(PLACEMENT_VALUES[name.strip().upper()])
        return tuple(p for p in DIMENSIONS["placement"] if p in chosen)

    # -- campaigns ------------------------------------------------------------------------------

    def update_campaign(self, camp: Campaign, params: XParams) -> None:
        self._live(camp)
        account = self.world.account(camp.account_id)
        current = self.view.campaign_obj(camp)
        status = self._status(params)
        budget = self._money(account, params, "daily_budget_amount_local_micro", budget=True)
        name = params.string("name")
        self._check_params(params, set(), CAMPAIGN_ECHO, current)
        if budget == current["daily_budget_amount_local_micro"]:
            budget = None
        if budget is not None and not camp.has_campaign_budget(self.view.hour):
            raise invalid_parameter(
                "daily_budget_amount_local_micro",
                f"campaign {camp.id} has line-item budgets; set the budget on its line items",
            )
        status = None if status is not None and str(status) == current["entity_status"] else status
        name = None if name == camp.name else name
        if status is None and budget is None and name is None:
            return
        self._apply(UpdateCampaign(id=camp.id, status=status, daily_budget_micros=budget, name=name))

    # -- line items -----------------------------------------------------------------------------

    def update_line_item(self, adset: AdSet, params: XParams) -> None:
        self._live(adset)
        account = self.world.account(adset.account_id)
        current = self.view.line_item_obj(adset)
        hour = self.view.hour
        status = self._status(params)
        daily = self._money(account, params, "daily_budget_amount_local_micro", budget=True)
        total = self._money(account, params, "total_budget_amount_local_micro", budget=True)
        bid = self._money(account, params, "bid_amount_local_micro", budget=False)
        strategy = params.enum("bid_strategy", ("AUTO", "MAX", "TARGET"))
        name = params.string("name")
        end_raw = params.string("end_time")
        placements = self._placements(params)
        self._check_params(params, set(), LINE_ITEM_ECHO, current)
        # Values equal to what is served are no change (the SDK sends them all back).
        daily = None if daily == current["daily_budget_amount_local_micro"] else daily
        total = None if total == current["total_budget_amount_local_micro"] else total
        status = None if status is not None and str(status) == current["entity_status"] else status
        name = None if name == adset.name else name
        end = None
        if end_raw is not None and end_raw != current["end_time"]:
            end, whole = self.view.parse_time(account, end_raw, "end_time")
            end += 0 if whole else 1
            if end <= hour:
                raise invalid_parameter("end_time", "end_time must be in the future")
        bid_micros: int | None = None
        if strategy == "TARGET":
            raise invalid_parameter(
                "bid_strategy", "TARGET bidding is not served by the sandbox; use AUTO or MAX"
            )
        if strategy == "AUTO" and bid is None:
            bid_micros = 0 if current["bid_amount_local_micro"] is not None else None
        elif bid is not None and bid != current["bid_amount_local_micro"]:
            if strategy == "AUTO":
                raise invalid_parameter(
                    "bid_amount_local_micro", "bid_amount_local_micro needs bid_strategy MAX"
                )
            bid_micros = bid
        elif strategy == "MAX" and current["bid_amount_local_micro"] is None and bid is None:
            raise missing_parameter("bid_amount_local_micro")
        targeting = None
        if placements is not None and placements != self.view.targeting(adset).placements:
            targeting = self.view.targeting(adset).model_copy(update={"placements": placements})
        camp = self.world.campaign(adset.campaign_id)
        for field_name, value in (
            ("daily_budget_amount_local_micro", daily),
            ("total_budget_amount_local_micro", total),
        ):
            if value is not None and camp.has_campaign_budget(hour):
                raise invalid_parameter(field_name, f"line item {adset.id} is under a campaign budget")
        if daily is not None and total is not None:
            raise invalid_parameter(
                "total_budget_amount_local_micro",
                "set a daily or a total budget, not both (sandbox limitation)",
            )
        if total is not None and end is None and adset.value_at("end_hour", hour) is None:
            raise invalid_parameter("total_budget_amount_local_micro", "a total budget needs an end_time")
        change = UpdateAdSet(
            id=adset.id,
            status=status,
            daily_budget_micros=daily,
            lifetime_budget_micros=total,
            end_hour=end,
            bid_micros=bid_micros,
            targeting=targeting,
            name=name,
        )
        if change.model_dump(exclude_none=True).keys() <= {"kind", "id"}:
            return
        self._apply(change)

    def create_line_item(self, account: Account, params: XParams) -> str:
        campaign_id = params.string("campaign_id", required=True) or ""
        camp = self.world.campaigns.get(campaign_id)
        if camp is None or camp.account_id != account.id:
            raise invalid_parameter(
                "campaign_id", f"campaign {campaign_id} does not exist in account {account.id}"
            )
        self._live(camp)
        status = self._status(params) or Status.ACTIVE
        daily = self._money(account, params, "daily_budget_amount_local_micro", budget=True)
        total = self._money(account, params, "total_budget_amount_local_micro", budget=True)
        bid = self._money(account, params, "bid_amount_local_micro", budget=False)
        strategy = params.enum("bid_strategy", ("AUTO", "MAX"))
        name = params.string("name") or "Untitled line item"
        placements = self._placements(params) or ("feed", "stories")
        params.enum("objective", OBJECTIVES)
        end = None
        end_raw = params.string("end_time")
        if end_raw is not None:
            end, whole = self.view.parse_time(account, end_raw, "end_time")
            end += 0 if whole else 1
        allowed = {
            "product_type",
            "pay_by",
            "goal",
            "start_time",
            "standard_delivery",
            "advertiser_domain",
            "categories",
        }
        self._check_params(params, allowed, set(), {})
        if strategy == "MAX" and bid is None:
            raise missing_parameter("bid_amount_local_micro")
        if camp.has_campaign_budget(self.view.hour) and (daily or total):
            name_ = "daily_budget_amount_local_micro" if daily else "total_budget_amount_local_micro"
            raise invalid_parameter(
                name_, f"campaign {camp.id} has a campaign budget; its line items take none"
            )
        if not camp.has_campaign_budget(self.view.hour) and not (daily or total):
            raise missing_parameter("daily_budget_amount_local_micro")
        if daily is not None and total is not None:
            raise invalid_parameter(
                "total_budget_amount_local_micro", "set a daily or a total budget, not both"
            )
        if total is not None and end is None:
            raise invalid_parameter("total_budget_amount_local_micro", "a total budget needs an end_time")
        entry = self._apply(
            CreateAdSet(
                campaign_id=camp.id,
                name=name,
                status=status,
                daily_budget_micros=daily,
                lifetime_budget_micros=total,
                end_hour=end,
                bid_micros=bid,
                targeting=Targeting(placements=placements),
            )
        )
        return str(entry.created_id)

    def delete(self, entity: Campaign | AdSet | Ad) -> None:
        self._live(entity)
        match entity:
            case Campaign():
                self._apply(UpdateCampaign(id=entity.id, status=Status.DELETED))
            case AdSet():
                self._apply(UpdateAdSet(id=entity.id, status=Status.DELETED))
            case Ad():
                self._apply(UpdateAd(id=entity.id, status=Status.DELETED))

    # -- targeting criteria ---------------------------------------------------------------------

    def _line_item_param(self, account: Account, params: XParams) -> AdSet:
        line_item_id = params.string("line_item_id", required=True) or ""
        adset = self.world.adsets.get(line_item_id)
        if adset is None or adset.account_id != account.id:
            raise invalid_parameter(
                "line_item_id", f"line item {line_item_id} does not exist in account {account.id}"
            )
        self._live(adset)
        return adset

    def add_criterion(self, account: Account, params: XParams) -> tuple[AdSet, str, str]:
        """X's criteria list the values targeted in a dimension (none listed = all of them): adding the
        first criterion narrows the dimension to that value, adding more widens it again."""
        adset = self._line_item_param(account, params)
        kinds = {x: dim for dim, (x, _) in CRITERIA_DIMENSIONS.items()}
        kind = params.enum("targeting_type", tuple(kinds), required=True) or ""
        dimension = kinds[kind]
        raw = params.string("targeting_value", required=True) or ""
        value = value_of(dimension, raw)
        if value is None:
            raise invalid_parameter("targeting_value", f'Unknown {kind} targeting_value "{raw}"')
        operator = params.enum("operator_type", ("EQ", "NE")) or "EQ"
        self._check_params(params, set(), set(), {})
        targeting = self.view.targeting(adset)
        field = CRITERIA_DIMENSIONS[dimension][1]
        listed = [v for d, v in self.view.criteria(adset) if d == dimension]
        if operator == "NE":
            chosen = [v for v in getattr(targeting, field) if v != value]
            if not chosen:
                raise invalid_parameter("targeting_value", f"excluding {raw} would leave no {kind} to target")
        else:
            chosen = [*listed, value] if listed else [value]
        self._retarget(
            adset,
            targeting.model_copy(update={field: tuple(v for v in DIMENSIONS[dimension] if v in chosen)}),
        )
        return adset, dimension, value

    def remove_criterion(self, adset: AdSet, dimension: str, value: str) -> None:
        targeting = self.view.targeting(adset)
        field = CRITERIA_DIMENSIONS[dimension][1]
        kept = tuple(v for v in getattr(targeting, field) if v != value)
        # Deleting the last criterion of a dimension targets all of it again, as on X.
        self._retarget(adset, targeting.model_copy(update={field: kept or DIMENSIONS[dimension]}))

    def _retarget(self, adset: AdSet, targeting: Targeting) -> None:
        if targeting != self.view.targeting(adset):
            self._apply(UpdateAdSet(id=adset.id, targeting=Targeting.model_validate(targeting.model_dump())))

    # -- creatives and promoted tweets ----------------------------------------------------------

    def card_for(self, account: Account, uri: str) -> dict[str, str] | None:
        made = self.cards.get(uri)
        if made is not None and made["account_id"] == account.id:
            return made
        for cr in self.world.creatives.values():
            if cr.account_id == account.id and self.view.card_uri(account.id, cr.link, cr.cta) == uri:
                return {"account_id": account.id, "link": cr.link, "cta": cr.cta, "name": cr.name}
        return None

    def create_card(self, account: Account, params: XParams) -> dict[str, str]:
        name = params.string("name", required=True) or ""
        link = params.string("website_url", required=True) or ""
        if not link.startswith(("http://", "https://")):
            raise invalid_parameter("website_url", "website_url must be an http(s) URL")
        cta = (params.string("call_to_action") or "SHOP_NOW").upper()
        params.string("website_title")
        params.string("media_key")
        self._check_params(params, set(), set(), {})
        card = {"account_id": account.id, "link": link, "cta": cta, "name": name}
        self.cards[self.view.card_uri(account.id, link, cta)] = card
        return card

    def create_tweet(self, account: Account, params: XParams) -> Creative:
        text = params.string("text", required=True) or ""
        headline, _, body = text.partition("\n")
        if not headline.strip():
            raise invalid_parameter("text", "text must start with a non-empty line")
        card_uri = params.string("card_uri")
        card = None
        if card_uri is not None:
            card = self.card_for(account, card_uri)
            if card is None:
                raise invalid_parameter("card_uri", f"card {card_uri} does not exist in account {account.id}")
        keys = params.ids("media_keys")
        images = sorted(
            (i for i in self.world.images.values() if i.account_id == account.id), key=lambda i: i.key
        )
        if keys:
            by_key = {self.view.media_key(i): i for i in images}
            if keys[0] not in by_key:
                raise invalid_parameter(
                    "media_keys", f"media {keys[0]} does not exist in account {account.id}"
                )
            image = by_key[keys[0]]
        elif images:
            image = images[0]
        else:
            raise missing_parameter("media_keys")
        name = params.string("name") or headline[:80]
        for ignored in ("as_user_id", "nullcast", "trim_user", "tweet_mode", "video_id", "video_title"):
            params.string(ignored)
        self._check_params(params, set(), set(), {})
        entry = self._apply(
            CreateCreative(
                account_id=account.id,
                name=name,
                headline=headline.strip(),
                body=body.strip(),
                image_name=image.name,
                image_hash=image.hash,
                cta=card["cta"] if card else "SHOP_NOW",
                link=card["link"] if card else "https://shop.example.com/",
            )
        )
        return self.world.creative(str(entry.created_id))

    def create_promoted_tweets(self, account: Account, params: XParams) -> list[str]:
        adset = self._line_item_param(account, params)
        tweet_ids = params.ids("tweet_ids", required=True, limit=50) or []
        self._check_params(params, set(), set(), {})
        by_tweet = {
            self.view.tweet_id(c): c for c in self.world.creatives.values() if c.account_id == account.id
        }
        missing = [t for t in tweet_ids if t not in by_tweet]
        if missing:
            raise invalid_parameter(
                "tweet_ids", f"tweets {', '.join(missing)} do not exist in account {account.id}"
            )
        created = []
        for tweet_id in tweet_ids:  # every id was checked above, so each change applies
            creative = by_tweet[tweet_id]
            entry = self._apply(CreateAd(adset_id=adset.id, creative_id=creative.id, name=creative.name))
            created.append(str(entry.created_id))
        return created

    def update_promoted_tweet(self, ad: Ad, params: XParams) -> None:
        self._live(ad)
        current = self.view.promoted_tweet_obj(ad)
        status = self._status(params)
        self._check_params(params, set(), {"line_item_id", "tweet_id"}, current)
        if status is not None and str(status) != current["entity_status"]:
            self._apply(UpdateAd(id=ad.id, status=status))

    @staticmethod
    def criterion_label(dimension: str, value: str) -> str:
        return label(dimension, value)
