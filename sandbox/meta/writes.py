"""Graph writes: POST to an object id updates it, POST to an account edge creates, DELETE deletes.

Each write is validated in Meta's terms, turned into one market change and applied; anything refused
changes nothing. Money arrives in the account currency's minor units, as Meta takes it.
"""

from __future__ import annotations

import base64
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
from sandbox.market.errors import MarketError, UnknownEntityError
from sandbox.meta.errors import GraphError, invalid_parameter
from sandbox.meta.nodes import MetaView, targeting_from_meta
from sandbox.meta.request import GraphParams

BUDGET_CHANGES_PER_HOUR = 4
WRITABLE_STATUSES = ("ACTIVE", "PAUSED", "DELETED")


def _status(params: GraphParams) -> Status | None:
    value = params.raw("status")
    if value is None:
        return None
    if value == "ARCHIVED":
        raise invalid_parameter(
            "ARCHIVED is not supported by the sandbox; use PAUSED or DELETED", field="status"
        )
    if value not in WRITABLE_STATUSES:
        raise invalid_parameter(f"Param status must be one of {list(WRITABLE_STATUSES)}", field="status")
    return Status(value)


def budget_too_low(view: MetaView, account: Account, field: str) -> GraphError:
    minimum = account.min_daily_budget_micros // view.step(account.id)
    return GraphError(
        f"(#100) Invalid parameter: {field} must be at least {minimum} ({account.currency} minor units)",
        code=100,
        subcode=1885272,
        user_title="Your budget is too low",
        user_msg=f"The minimum daily budget of this ad account is {minimum} {account.currency} minor units.",
        blame_fields=[field],
    )


def budget_limit_reached() -> GraphError:
    return GraphError(
        "(#17) User request limit reached: an ad set's budget can change at most 4 times an hour",
        code=17,
        subcode=2446079,
        is_transient=True,
        user_title="Budget changed too often",
        user_msg="This ad set's budget was changed 4 times in the last hour; try again in an hour.",
    )


class MetaWriter:
    def __init__(self, view: MetaView) -> None:
        self.view = view
        self.market = view.market

    def _apply(self, change: Any) -> str | None:
        try:
            return self.market.apply(change).created_id
        except UnknownEntityError as exc:
            raise invalid_parameter(
                f"{exc.kind} {exc.entity_id} does not exist in this ad account", field=exc.kind
            ) from None
        except MarketError as exc:
            raise invalid_parameter(str(exc)) from None

    def _money(self, params: GraphParams, name: str, account: Account) -> int | None:
        minor = params.integer(name)
        if minor is None:
            return None
        if minor <= 0:
            raise invalid_parameter(f"Param {name} must be a positive integer", field=name)
        micros = self.view.micros(account.id, minor)
        if name in ("daily_budget",) and micros < account.min_daily_budget_micros:
            raise budget_too_low(self.view, account, name)
        return micros

    def _budget_changes_this_hour(self, adset_id: str) -> int:
        hour = self.market.clock.now_hour
        return sum(
            1
            for e in self.market.log
            if e.hour == hour
            and isinstance(e.change, UpdateAdSet)
            and e.change.id == adset_id
            and (e.change.daily_budget_micros or e.change.lifetime_budget_micros)
        )

    # -- updates --------------------------------------------------------------------------------

    def update(self, entity: Campaign | AdSet | Ad, params: GraphParams) -> dict[str, Any]:
        account = self.view.world.account(entity.account_id)
        name = params.text("name")
        status = _status(params)
        if isinstance(entity, Campaign):
            budget = self._money(params, "daily_budget", account)
            params.raw("bid_strategy")
            params.check_unused()
            self._apply(UpdateCampaign(id=entity.id, name=name, status=status, daily_budget_micros=budget))
        elif isinstance(entity, AdSet):
            daily = self._money(params, "daily_budget", account)
            lifetime = self._money(params, "lifetime_budget", account)
            end = params.raw("end_time")
            end_hour = self.view.hour_of(account, end, "end_time") if end else None
            bid = params.integer("bid_amount", minimum=0)
            strategy = params.raw("bid_strategy")
            if strategy is not None and strategy not in (
                "LOWEST_COST_WITHOUT_CAP",
                "LOWEST_COST_WITH_BID_CAP",
                "COST_CAP",
            ):
                raise invalid_parameter(
                    "bid_strategy must be LOWEST_COST_WITHOUT_CAP, LOWEST_COST_WITH_BID_CAP or "
                    "COST_CAP in the sandbox",
                    field="bid_strategy",
                )
            if strategy in ("LOWEST_COST_WITH_BID_CAP", "COST_CAP") and not (
                bid or entity.value_at("bid_micros", self.market.clock.now_hour)
            ):
                raise invalid_parameter("a bid cap strategy needs bid_amount", field="bid_amount")
            bid_micros = (
                0
                if strategy == "LOWEST_COST_WITHOUT_CAP"
                else (None if bid is None else self.view.micros(account.id, bid))
            )
            targeting = None
            spec = params.json("targeting", dict)
            if spec is not None:
                targeting, audiences = targeting_from_meta(spec)
                if audiences is not None and sorted(audiences) != sorted(entity.custom_audience_ids):
                    raise invalid_parameter(
                        "custom audiences of an existing ad set cannot be changed in the sandbox",
                        field="targeting.custom_audiences",
                    )
            params.check_unused({"optimization_goal", "billing_event"} & set(params.values))
            if (daily or lifetime) and self._budget_changes_this_hour(entity.id) >= BUDGET_CHANGES_PER_HOUR:
                raise budget_limit_reached()
            self._apply(
                UpdateAdSet(
                    id=entity.id,
                    name=name,
                    status=status,
                    daily_budget_micros=daily,
                    lifetime_budget_micros=lifetime,
                    end_hour=end_hour,
                    bid_micros=bid_micros,
                    targeting=targeting,
                )
            )
        else:
            if "creative" in params:
                raise invalid_parameter(
                    "an ad's creative cannot be changed in the sandbox; create a new ad", field="creative"
                )
            params.check_unused()
            self._apply(UpdateAd(id=entity.id, name=name, status=status))
        return {"success": True}

    def delete(self, entity: Campaign | AdSet | Ad) -> dict[str, Any]:
        change = {Campaign: UpdateCampaign, AdSet: UpdateAdSet, Ad: UpdateAd}[type(entity)]
        self._apply(change(id=entity.id, status=Status.DELETED))
        return {"success": True}

    # -- creates --------------------------------------------------------------------------------

    def create(self, account: Account, edge: str, params: GraphParams) -> dict[str, Any]:
        handler = {
            "campaigns": self._campaign,
            "adsets": self._adset,
            "ads": self._ad,
            "adcreatives": self._creative,
            "adimages": self._image,
        }[edge]
        return handler(account, params)

    def _owned(self, kind: str, entity_id: str | None, account: Account, field: str) -> Any:
        getter = {
            "campaign": self.view.world.campaigns,
            "adset": self.view.world.adsets,
            "creative": self.view.world.creatives,
        }[kind]
        entity = getter.get(entity_id or "")
        if entity is None or entity.account_id != account.id:
            raise invalid_parameter(
                f"Param {field} must be the id of a {kind} in ad account act_{account.id}", field=field
            )
        return entity

    def _campaign(self, account: Account, params: GraphParams) -> dict[str, Any]:
        name = params.text("name", required=True)
        objective = params.raw("objective") or "OUTCOME_SALES"
        status = _status(params) or Status.PAUSED
        budget = self._money(params, "daily_budget", account)
        categories = params.json("special_ad_categories", list)
        if categories:
            raise invalid_parameter(
                "the sandbox serves no special ad categories", field="special_ad_categories"
            )
        for ignored in ("buying_type", "bid_strategy"):
            params.raw(ignored)
        params.check_unused()
        if status is Status.DELETED:
            raise invalid_parameter("a new campaign cannot start deleted", field="status")
        created = self._apply(
            CreateCampaign(
                account_id=account.id,
                name=str(name),
                objective=objective,
                status=status,
                daily_budget_micros=budget,
            )
        )
        return {"id": created}

    def _adset(self, account: Account, params: GraphParams) -> dict[str, Any]:
        name = params.text("name", required=True)
        campaign = self._owned("campaign", params.raw("campaign_id"), account, "campaign_id")
        daily = self._money(params, "daily_budget", account)
        lifetime = self._money(params, "lifetime_budget", account)
        end = params.raw("end_time")
        end_hour = self.view.hour_of(account, end, "end_time") if end else None
        bid = params.integer("bid_amount", minimum=0)
        spec = params.json("targeting", dict)
        if spec is None:
            raise invalid_parameter("The parameter targeting is required", field="targeting")
        targeting, audiences = targeting_from_meta(spec)
        status = _status(params) or Status.PAUSED
        for ignored in (
            "billing_event",
            "optimization_goal",
            "bid_strategy",
            "promoted_object",
            "start_time",
            "destination_type",
            "attribution_spec",
        ):
            params.raw(ignored)
        params.check_unused()
        created = self._apply(
            CreateAdSet(
                campaign_id=campaign.id,
                name=str(name),
                status=status,
                daily_budget_micros=daily,
                lifetime_budget_micros=lifetime,
                end_hour=end_hour,
                bid_micros=self.view.micros(account.id, bid) if bid else None,
                targeting=targeting,
                custom_audience_ids=audiences or [],
            )
        )
        return {"id": created}

    def _creative(self, account: Account, params: GraphParams) -> dict[str, Any]:
        name = params.text("name") or "Creative"
        spec = params.json("object_story_spec", dict) or {}
        link = spec.get("link_data") if isinstance(spec, dict) else None
        link = link if isinstance(link, dict) else {}
        headline = link.get("name") or params.raw("title")
        body = link.get("message") or params.raw("body") or ""
        image_hash = link.get("image_hash") or params.raw("image_hash")
        cta = (
            (link.get("call_to_action") or {}).get("type")
            if isinstance(link.get("call_to_action"), dict)
            else None
        )
        cta = cta or params.raw("call_to_action_type") or "SHOP_NOW"
        url = link.get("link") or "https://shop.example.com/"
        for ignored in ("object_type", "url_tags", "degrees_of_freedom_spec"):
            params.raw(ignored)
        params.check_unused()
        if not headline:
            raise invalid_parameter(
                "a creative needs a headline: object_story_spec.link_data.name or title",
                field="object_story_spec",
            )
        if not image_hash:
            raise invalid_parameter(
                "a creative needs an image_hash (upload it to /adimages first)", field="object_story_spec"
            )
        if f"{account.id}:{image_hash}" not in self.view.world.images:
            raise invalid_parameter(
                f"image hash {image_hash} is not an image of this ad account", field="image_hash"
            )
        image = self.view.world.image(account.id, image_hash)
        created = self._apply(
            CreateCreative(
                account_id=account.id,
                name=str(name),
                headline=str(headline)[:400],
                body=str(body)[:5000],
                image_name=image.name,
                image_hash=image_hash,
                cta=str(cta),
                link=str(url),
            )
        )
        return {"id": created}

    def _ad(self, account: Account, params: GraphParams) -> dict[str, Any]:
        name = params.text("name", required=True)
        adset = self._owned("adset", params.raw("adset_id"), account, "adset_id")
        creative_spec = params.json("creative", dict)
        if not creative_spec or "creative_id" not in creative_spec:
            raise invalid_parameter('Param creative must be {"creative_id": "..."}', field="creative")
        creative = self._owned("creative", str(creative_spec["creative_id"]), account, "creative")
        status = _status(params) or Status.ACTIVE
        for ignored in ("tracking_specs", "conversion_domain"):
            params.raw(ignored)
        params.check_unused()
        if status is Status.DELETED:
            raise invalid_parameter("a new ad cannot start deleted", field="status")
        created = self._apply(
            CreateAd(adset_id=adset.id, creative_id=creative.id, name=str(name), status=status)
        )
        return {"id": created}

    def _image(self, account: Account, params: GraphParams) -> dict[str, Any]:
        uploads: list[tuple[str, bytes]] = list(params.files.items())
        encoded = params.raw("bytes")
        if encoded is not None:
            try:
                uploads.append((params.raw("name") or "image.jpg", base64.b64decode(encoded, validate=True)))
            except ValueError:
                raise invalid_parameter("Param bytes must be base64", field="bytes") from None
        else:
            params.raw("name")
        params.check_unused()
        if not uploads:
            raise invalid_parameter("upload an image as a file part or as base64 in bytes", field="bytes")
        images: dict[str, Any] = {}
        for filename, data in uploads:
            width, height = _image_size(data, filename)
            digest = hashlib.md5(data).hexdigest()
            self._apply(
                CreateImage(account_id=account.id, hash=digest, name=filename, width=width, height=height)
            )
            images[filename] = {"hash": digest, "url": self.view.image_url(digest)}
        return {"images": images}


def _image_size(data: bytes, filename: str) -> tuple[int, int]:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            return img.size
    except (UnidentifiedImageError, OSError):
        raise GraphError(
            f"(#100) Invalid image file {filename}: the bytes are not an image",
            code=100,
            subcode=1487242,
            user_title="Image could not be read",
            blame_fields=["bytes"],
        ) from None
