"""POST writes turned into market changes, with TikTok's validation. Everything a request asks for is
validated before the first change is applied, so a refused write changes nothing.

Minimum budgets (unconfirmed: TikTok's docs quote 20 USD/day per ad group and 50 USD/day per campaign)
are converted to the advertiser currency with the market's rate table (sandbox/market/params.py).
"""

from __future__ import annotations

import hashlib
import io
from typing import Any

from sandbox.market.changes import (
    CreateAd,
    CreateAdSet,
    CreateCampaign,
    CreateCreative,
    CreateImage,
    UpdateAd,
    UpdateAdSet,
    UpdateCampaign,
)
from sandbox.market.entities import Account, Ad, AdSet, Campaign, Status
from sandbox.market.errors import MarketError
from sandbox.market.params import CURRENCIES
from sandbox.market.segments import Targeting
from sandbox.tiktok.errors import SIGNATURE_ERROR, TikTokError, invalid
from sandbox.tiktok.nodes import AGE_NAMES, GENDER_NAMES, LOCATION_IDS, PLACEMENT_NAMES, TikTokView
from sandbox.tiktok.request import TikTokParams

ADGROUP_MIN_USD = 20  # unconfirmed
CAMPAIGN_MIN_USD = 50  # unconfirmed
OPERATION = {"ENABLE": Status.ACTIVE, "DISABLE": Status.PAUSED, "DELETE": Status.DELETED}
OBJECTIVES = ("WEB_CONVERSIONS", "CONVERSIONS", "PRODUCT_SALES", "TRAFFIC", "LEAD_GENERATION", "REACH")
CTAS = ("SHOP_NOW", "LEARN_MORE", "GET_OFFER", "SIGN_UP", "ORDER_NOW", "BUY_NOW", "CONTACT_US", "DOWNLOAD")
# Fields TikTok takes that the market has no counterpart for: accepted and not stored.
ADGROUP_IGNORED = {
    "billing_event",
    "optimization_goal",
    "optimization_event",
    "pacing",
    "promotion_type",
    "pixel_id",
    "schedule_type",
    "schedule_start_time",
}
# Fields the official SDK's request models send at these defaults on every call (see its models/).
SDK_DEFAULTS: dict[str, object] = {
    "automated_keywords_enabled": False,
    "exclude_age_under_eighteen": False,
    "rta_bid_enabled": False,
    "brand_safety_type": "NO_BRAND_SAFETY",
    "creative_material_mode": "CUSTOM",
    "ios14_targeting": "UNSET",
    "is_hfss": False,
    "is_lhf_compliance": False,
    "share_disabled": False,
    "vbo_window": "SEVEN_DAYS",
}
CREATIVE_DEFAULTS: dict[str, object] = {
    "aigc_disclosure_type": "NOT_DECLARED",
    "creative_authorized": False,
    "deeplink_type": "NORMAL",
    "promotional_music_disabled": True,
    "shopping_ads_deeplink_type": "NONE",
}
CREATIVE_KEYS = {
    "ad_name",
    "ad_text",
    "ad_format",
    "image_ids",
    "call_to_action",
    "landing_page_url",
    "identity_id",
    "identity_type",
    "display_name",
    "operation_status",
    *CREATIVE_DEFAULTS,
}
STATUS_ENDPOINTS = {  # path -> (id list field, entity kind, max ids)
    "campaign/status/update": ("campaign_ids", "campaign", 20),
    "adgroup/status/update": ("adgroup_ids", "adgroup", 100),
    "ad/status/update": ("ad_ids", "ad", 100),
}


class TikTokWriter:
    def __init__(self, view: TikTokView) -> None:
        self.view = view
        self.world = view.world
        self.market = view.market

    # -- helpers ----------------------------------------------------------------------------------

    def _min_micros(self, account: Account, usd: int) -> int:
        currency = CURRENCIES[account.currency]
        step = 10 ** (6 - currency.exponent)
        return -(-round(usd * currency.per_usd * 1_000_000) // step) * step

    def _budget(self, account: Account, params: TikTokParams, name: str, usd_min: int) -> int | None:
        micros = params.money(name, CURRENCIES[account.currency].exponent)
        if micros is not None and micros < self._min_micros(account, usd_min):
            minimum = self.view.money(account.id, self._min_micros(account, usd_min))
            raise invalid(name, f"must be at least {minimum} {account.currency} (the minimum daily budget)")
        return micros

    def _apply(self, changes: list[Any]) -> list[str | None]:
        created = []
        for change in changes:
            try:
                created.append(self.market.apply(change).created_id)
            except MarketError as exc:  # validated above; a refusal here is the market's own rule
                raise invalid("request", str(exc)) from None
        return created

    def _not_deleted(self, entity: Campaign | AdSet | Ad, kind: str) -> None:
        if self.view.status(entity) is Status.DELETED:
            raise invalid(f"{kind}_id", f"{kind} {entity.id} is deleted and cannot change")

    def _targeting(self, params: TikTokParams, base: Targeting, *, creating: bool) -> Targeting | None:
        """Targeting fields in TikTok's names over `base`; None when none was given."""
        changes: dict[str, Any] = {}
        ages = params.string_list("age_groups")
        if ages is not None:
            by_name = {v: k for k, v in AGE_NAMES.items()}
            bad = [a for a in ages if a not in by_name]
            if bad or not ages:
                raise invalid("age_groups", f"takes a non-empty list of {', '.join(by_name)}")
            changes["ages"] = [by_name[a] for a in ages]
        gender = params.choice("gender", ("GENDER_UNLIMITED", *GENDER_NAMES.values()))
        if gender is not None:
            changes["genders"] = (
                list(GENDER_NAMES)
                if gender == "GENDER_UNLIMITED"
                else [g for g, n in GENDER_NAMES.items() if n == gender]
            )
        locations = params.string_list("location_ids", required=creating)
        if locations is not None:
            by_id = {v: k for k, v in LOCATION_IDS.items()}
            bad = [loc for loc in locations if loc not in by_id]
            if bad or not locations:
                raise invalid("location_ids", f"the sandbox market serves {', '.join(by_id)} (US, GB, JP)")
            changes["countries"] = [by_id[loc] for loc in locations]
        if creating:
            placement_type = params.choice(
                "placement_type",
                ("PLACEMENT_TYPE_AUTOMATIC", "PLACEMENT_TYPE_NORMAL"),
                default="PLACEMENT_TYPE_AUTOMATIC",
            )
            placements = params.string_list("placements")
            if placement_type == "PLACEMENT_TYPE_NORMAL":
                by_name = {v: k for k, v in PLACEMENT_NAMES.items()}
                if not placements or any(p not in by_name for p in placements):
                    raise invalid("placements", f"PLACEMENT_TYPE_NORMAL takes a list of {', '.join(by_name)}")
                changes["placements"] = [by_name[p] for p in placements]
            elif placements:
                raise invalid("placements", "only with placement_type PLACEMENT_TYPE_NORMAL")
        if not changes:
            return None
        return base.model_copy(update={k: tuple(v) for k, v in changes.items()})

    # -- creates ----------------------------------------------------------------------------------

    def campaign_create(self, params: TikTokParams) -> dict[str, Any]:
        account = self.view.advertiser(params.string("advertiser_id", required=True))
        name = params.string("campaign_name", required=True)
        objective = params.choice("objective_type", OBJECTIVES)
        if objective is None:
            raise invalid("objective_type", "this field is required")
        mode = params.choice("budget_mode", ("BUDGET_MODE_DAY", "BUDGET_MODE_INFINITE", "BUDGET_MODE_TOTAL"))
        mode = mode or "BUDGET_MODE_INFINITE"
        if mode == "BUDGET_MODE_TOTAL":
            raise invalid("budget_mode", "lifetime campaign budgets are not modelled; use BUDGET_MODE_DAY")
        budget = self._budget(account, params, "budget", CAMPAIGN_MIN_USD)
        if mode == "BUDGET_MODE_DAY" and budget is None:
            raise invalid("budget", "BUDGET_MODE_DAY needs a budget")
        if mode == "BUDGET_MODE_INFINITE" and budget is not None:
            raise invalid("budget", "BUDGET_MODE_INFINITE takes no budget")
        status = params.choice("operation_status", ("ENABLE", "DISABLE"), default="ENABLE")
        # A campaign-level daily budget is always optimised across ad groups in the market (CBO).
        params.boolean("budget_optimize_on")
        params.choice("campaign_type", ("REGULAR_CAMPAIGN",))
        params.defaults(SDK_DEFAULTS)
        params.check_unused()
        (created,) = self._apply(
            [
                CreateCampaign(
                    account_id=account.id,
                    name=str(name),
                    objective=str(objective),
                    status=OPERATION[str(status)],
                    daily_budget_micros=budget,
                )
            ]
        )
        return {"campaign_id": created, "campaign_name": name, "budget_mode": mode}

    def adgroup_create(self, params: TikTokParams) -> dict[str, Any]:
        account = self.view.advertiser(params.string("advertiser_id", required=True))
        camp: Campaign = self.view.owned(
            self.world.campaigns, "campaign", str(params.string("campaign_id", required=True)), account
        )
        self._not_deleted(camp, "campaign")
        name = str(params.string("adgroup_name", required=True))
        cbo = camp.has_campaign_budget(self.view.hour)
        mode = params.choice("budget_mode", ("BUDGET_MODE_DAY", "BUDGET_MODE_TOTAL", "BUDGET_MODE_INFINITE"))
        budget = self._budget(account, params, "budget", ADGROUP_MIN_USD)
        end_hour = None
        if params.raw("schedule_end_time") is not None:
            end_hour = self.view.hour_of(account, params.raw("schedule_end_time"), "schedule_end_time")
            if end_hour <= self.view.hour:
                raise invalid("schedule_end_time", "must be in the future")
        if cbo:
            if budget is not None or mode not in (None, "BUDGET_MODE_INFINITE"):
                raise invalid("budget", f"campaign {camp.id} has a campaign budget; its ad groups take none")
        else:
            if mode in (None, "BUDGET_MODE_INFINITE") or budget is None:
                raise invalid(
                    "budget",
                    "an ad group needs budget_mode BUDGET_MODE_DAY or BUDGET_MODE_TOTAL and a budget",
                )
            if mode == "BUDGET_MODE_TOTAL" and end_hour is None:
                raise invalid("schedule_end_time", "BUDGET_MODE_TOTAL needs a schedule_end_time")
        bid = self._bid(account, params)
        targeting = self._targeting(params, Targeting(), creating=True) or Targeting()
        audiences = params.string_list("audience_ids") or []
        for aud in audiences:
            self.view.owned(self.world.audiences, "audience", aud, account)
        status = params.choice("operation_status", ("ENABLE", "DISABLE"), default="ENABLE")
        for f in ADGROUP_IGNORED:
            params.raw(f)
        params.defaults(SDK_DEFAULTS)
        params.check_unused()
        daily = budget if mode == "BUDGET_MODE_DAY" else None
        lifetime = budget if mode == "BUDGET_MODE_TOTAL" else None
        (created,) = self._apply(
            [
                CreateAdSet(
                    campaign_id=camp.id,
                    name=name,
                    status=OPERATION[str(status)],
                    daily_budget_micros=daily,
                    lifetime_budget_micros=lifetime,
                    end_hour=end_hour,
                    bid_micros=bid or None,
                    targeting=targeting,
                    custom_audience_ids=audiences,
                )
            ]
        )
        return {"adgroup_id": created, "campaign_id": camp.id, "adgroup_name": name}

    def _bid(self, account: Account, params: TikTokParams) -> int | None:
        """bid_price in micros; 0 when BID_TYPE_NO_BID removes the cap; None when not given."""
        bid_type = params.choice("bid_type", ("BID_TYPE_NO_BID", "BID_TYPE_CUSTOM"))
        if bid_type == "BID_TYPE_NO_BID":
            price = params.raw("bid_price")
            if price not in (None, 0):
                raise invalid("bid_price", "BID_TYPE_NO_BID takes no bid_price")
            return 0
        bid = params.money("bid_price", CURRENCIES[account.currency].exponent)
        if bid_type == "BID_TYPE_CUSTOM" and bid is None:
            raise invalid("bid_price", "BID_TYPE_CUSTOM needs a bid_price")
        return bid

    def ad_create(self, params: TikTokParams) -> dict[str, Any]:
        account = self.view.advertiser(params.string("advertiser_id", required=True))
        adset: AdSet = self.view.owned(
            self.world.adsets, "adgroup", str(params.string("adgroup_id", required=True)), account
        )
        self._not_deleted(adset, "adgroup")
        creatives = params.raw("creatives")
        if not isinstance(creatives, list) or not 1 <= len(creatives) <= 20:
            raise invalid("creatives", "must be a list of 1 to 20 creatives")
        params.defaults(SDK_DEFAULTS)
        params.check_unused()
        plans = [self._creative(account, adset, i, c) for i, c in enumerate(creatives)]
        ad_ids = []
        for creative, name, status in plans:
            (creative_id,) = self._apply([creative])
            (ad_id,) = self._apply(
                [CreateAd(adset_id=adset.id, creative_id=str(creative_id), name=name, status=status)]
            )
            ad_ids.append(ad_id)
        return {"ad_ids": ad_ids, "adgroup_id": adset.id}

    def _creative(
        self, account: Account, adset: AdSet, i: int, spec: Any
    ) -> tuple[CreateCreative, str, Status]:
        where = f"creatives[{i}]"
        if not isinstance(spec, dict):
            raise invalid(where, "must be an object")
        unknown = sorted(set(spec) - CREATIVE_KEYS)
        if unknown:
            raise invalid(f"{where}.{unknown[0]}", "unknown field; this endpoint does not take it")
        c = TikTokParams(spec, from_query=False)
        name = c.string("ad_name", required=True, max_length=512)
        text = c.string("ad_text", required=True, max_length=100)
        if c.choice("ad_format", ("SINGLE_IMAGE",), default="SINGLE_IMAGE") != "SINGLE_IMAGE":
            raise invalid(f"{where}.ad_format", "the sandbox serves SINGLE_IMAGE ads")
        images = c.string_list("image_ids", required=True) or []
        if len(images) != 1:
            raise invalid(f"{where}.image_ids", "a SINGLE_IMAGE ad takes exactly one image id")
        image = self.world.images.get(f"{account.id}:{images[0]}")
        if image is None:
            raise invalid(f"{where}.image_ids", f"image {images[0]} is not an image of this advertiser")
        cta = c.choice("call_to_action", CTAS, default="SHOP_NOW")
        link = c.string("landing_page_url", required=True, max_length=2000)
        if not str(link).startswith(("http://", "https://")):
            raise invalid(f"{where}.landing_page_url", "must be an http(s) URL")
        for f in ("identity_id", "identity_type", "display_name"):
            c.raw(f)
        c.defaults(CREATIVE_DEFAULTS)
        status = c.choice("operation_status", ("ENABLE", "DISABLE"), default="ENABLE")
        creative = CreateCreative(
            account_id=account.id,
            name=str(name),
            headline=str(text),
            image_name=image.name,
            image_hash=image.hash,
            cta=str(cta),
            link=str(link),
        )
        return creative, str(name), OPERATION[str(status)]

    # -- updates ----------------------------------------------------------------------------------

    def campaign_update(self, params: TikTokParams) -> dict[str, Any]:
        account = self.view.advertiser(params.string("advertiser_id", required=True))
        camp: Campaign = self.view.owned(
            self.world.campaigns, "campaign", str(params.string("campaign_id", required=True)), account
        )
        self._not_deleted(camp, "campaign")
        name = params.string("campaign_name")
        budget = self._budget(account, params, "budget", CAMPAIGN_MIN_USD)
        if budget is not None and not camp.has_campaign_budget(self.view.hour):
            raise invalid(
                "budget", f"campaign {camp.id} has budget_mode BUDGET_MODE_INFINITE; set ad group budgets"
            )
        params.raw("budget_mode")
        params.defaults(SDK_DEFAULTS)
        params.check_unused()
        if name is not None or budget is not None:
            self._apply([UpdateCampaign(id=camp.id, name=name, daily_budget_micros=budget)])
        return {
            "campaign_id": camp.id,
            **self._picked(self.view.campaign_row(camp), ("campaign_name", "budget")),
        }

    def adgroup_update(self, params: TikTokParams) -> dict[str, Any]:
        account = self.view.advertiser(params.string("advertiser_id", required=True))
        adset: AdSet = self.view.owned(
            self.world.adsets, "adgroup", str(params.string("adgroup_id", required=True)), account
        )
        self._not_deleted(adset, "adgroup")
        hour = self.view.hour
        name = params.string("adgroup_name")
        budget = self._budget(account, params, "budget", ADGROUP_MIN_USD)
        if budget is not None and self.world.campaign(adset.campaign_id).has_campaign_budget(hour):
            raise invalid(
                "budget", f"ad group {adset.id} is under a campaign budget; update the campaign's budget"
            )
        lifetime = adset.value_at("lifetime_budget_micros", hour) is not None
        bid = self._bid(account, params)
        base = adset.value_at("targeting", hour) or Targeting()
        targeting = self._targeting(params, base, creating=False)
        for f in ("audience_ids", "placements", "placement_type"):
            if params.raw(f) is not None:
                raise invalid(f, "cannot be changed after the ad group is created; create a new ad group")
        params.raw("budget_mode")
        params.defaults(SDK_DEFAULTS)
        params.check_unused()
        change = UpdateAdSet(
            id=adset.id,
            name=name,
            daily_budget_micros=budget if not lifetime else None,
            lifetime_budget_micros=budget if lifetime else None,
            bid_micros=bid,
            targeting=targeting,
        )
        if change.model_dump(exclude_none=True, exclude={"kind", "id"}):
            self._apply([change])
        row = self.view.adgroup_row(adset)
        return {"adgroup_id": adset.id, **self._picked(row, ("adgroup_name", "budget", "bid_price"))}

    def status_update(self, path: str, params: TikTokParams) -> dict[str, Any]:
        field, kind, max_ids = STATUS_ENDPOINTS[path]
        account = self.view.advertiser(params.string("advertiser_id", required=True))
        ids = params.string_list(field, required=True, max_items=max_ids) or []
        op = params.choice("operation_status", tuple(OPERATION))
        if op is None:
            raise invalid("operation_status", "this field is required: ENABLE, DISABLE or DELETE")
        params.boolean("allow_partial_success")
        params.raw("postback_window_mode")
        params.defaults(SDK_DEFAULTS)
        params.check_unused()
        table = {"campaign": self.world.campaigns, "adgroup": self.world.adsets, "ad": self.world.ads}[kind]
        entities = [self.view.owned(table, kind, i, account) for i in dict.fromkeys(ids)]
        for e in entities:
            self._not_deleted(e, kind)
        update = {"campaign": UpdateCampaign, "adgroup": UpdateAdSet, "ad": UpdateAd}[kind]
        self._apply([update(id=e.id, status=OPERATION[str(op)]) for e in entities])
        return {field: [e.id for e in entities], "status": op}

    @staticmethod
    def _picked(row: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
        return {k: row[k] for k in keys}

    # -- images -----------------------------------------------------------------------------------

    def image_upload(self, params: TikTokParams) -> dict[str, Any]:
        account = self.view.advertiser(params.string("advertiser_id", required=True))
        upload_type = params.choice(
            "upload_type", ("UPLOAD_BY_FILE", "UPLOAD_BY_URL", "UPLOAD_BY_FILE_ID"), default="UPLOAD_BY_FILE"
        )
        if upload_type == "UPLOAD_BY_URL":
            params.raw("image_url")
            raise invalid("image_url", "is not reachable from the sandbox; upload the file (UPLOAD_BY_FILE)")
        if upload_type == "UPLOAD_BY_FILE_ID":
            raise invalid("file_id", "the sandbox has no file library; upload the file (UPLOAD_BY_FILE)")
        filename, data = params.files.get("image_file", ("", b""))
        if not data:
            raise invalid("image_file", "UPLOAD_BY_FILE needs the image bytes in image_file")
        signature = params.string("image_signature", required=True)
        digest = hashlib.md5(data).hexdigest()
        if str(signature).lower() != digest:
            raise TikTokError(SIGNATURE_ERROR, "image_signature: does not match the MD5 of image_file")
        file_name = params.string("file_name") or filename or f"{digest}.jpg"
        params.defaults(SDK_DEFAULTS)
        params.check_unused()
        width, height = _image_size(data)
        existing = self.world.images.get(f"{account.id}:{digest}")
        if existing is None:
            self._apply(
                [
                    CreateImage(
                        account_id=account.id, hash=digest, name=str(file_name), width=width, height=height
                    )
                ]
            )
        image = self.world.image(account.id, digest)
        return {**self.view.image_row(image), "size": len(data)}


def _image_size(data: bytes) -> tuple[int, int]:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            return int(img.width), int(img.height)
    except (UnidentifiedImageError, OSError):
        raise invalid("image_file", "the bytes are not an image") from None
