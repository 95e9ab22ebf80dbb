"""Changes the market takes: updates of status, budget, bid and targeting, and new entities.

A change is validated against the world as it is at the hour it takes effect (the next simulated
hour); if any field is bad nothing is applied. Applied changes form a replayable log: the world is
its seed plus this log.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from sandbox.market import keyed, params
from sandbox.market.entities import Ad, AdSet, Campaign, Creative, Image, Status
from sandbox.market.errors import InvalidChangeError
from sandbox.market.segments import Targeting
from sandbox.market.world import World
from sandbox.market.worldgen import image_hash


class _Change(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UpdateCampaign(_Change):
    kind: Literal["update_campaign"] = "update_campaign"
    id: str
    status: Status | None = None
    daily_budget_micros: int | None = Field(default=None, gt=0)
    name: str | None = Field(default=None, min_length=1, max_length=400)


class UpdateAdSet(_Change):
    kind: Literal["update_adset"] = "update_adset"
    id: str
    status: Status | None = None
    daily_budget_micros: int | None = Field(default=None, gt=0)
    lifetime_budget_micros: int | None = Field(default=None, gt=0)
    end_hour: int | None = Field(default=None, ge=0)
    bid_micros: int | None = Field(default=None, ge=0, description="0 removes the bid cap")
    targeting: Targeting | None = None
    name: str | None = Field(default=None, min_length=1, max_length=400)


class UpdateAd(_Change):
    kind: Literal["update_ad"] = "update_ad"
    id: str
    status: Status | None = None
    name: str | None = Field(default=None, min_length=1, max_length=400)


class CreateCampaign(_Change):
    kind: Literal["create_campaign"] = "create_campaign"
    account_id: str
    name: str = Field(min_length=1, max_length=400)
    objective: str = "SALES"
    status: Status = Status.PAUSED
    daily_budget_micros: int | None = Field(default=None, gt=0)


class CreateAdSet(_Change):
    kind: Literal["create_adset"] = "create_adset"
    campaign_id: str
    name: str = Field(min_length=1, max_length=400)
    status: Status = Status.PAUSED
    daily_budget_micros: int | None = Field(default=None, gt=0)
    lifetime_budget_micros: int | None = Field(default=None, gt=0)
    end_hour: int | None = Field(default=None, ge=0)
    bid_micros: int | None = Field(default=None, ge=0)
    targeting: Targeting = Field(default_factory=Targeting)
    custom_audience_ids: list[str] = Field(default_factory=list)


class CreateCreative(_Change):
    kind: Literal["create_creative"] = "create_creative"
    account_id: str
    name: str = Field(min_length=1, max_length=400)
    headline: str = Field(min_length=1, max_length=400)
    body: str = Field(default="", max_length=5000)
    image_name: str = Field(default="image.jpg", max_length=400)
    image_hash: str | None = None
    cta: str = "SHOP_NOW"
    link: str = "https://shop.example.com/"


class CreateImage(_Change):
    kind: Literal["create_image"] = "create_image"
    account_id: str
    hash: str = Field(pattern="^[0-9a-f]{32}$", description="MD5 of the image bytes, lower-case hex")
    name: str = Field(min_length=1, max_length=400)
    width: int = Field(gt=0, le=20_000)
    height: int = Field(gt=0, le=20_000)


class CreateAd(_Change):
    kind: Literal["create_ad"] = "create_ad"
    adset_id: str
    creative_id: str
    name: str = Field(min_length=1, max_length=400)
    status: Status = Status.ACTIVE

    @field_validator("status")
    @classmethod
    def _not_deleted(cls, value: Status) -> Status:
        if value is Status.DELETED:
            raise ValueError("a new ad cannot start deleted")
        return value


class MarketEvent(_Change):
    """Something the platform does on its own (for alerting and experiments), from the next hour."""

    kind: Literal["event"] = "event"
    event: Literal["spend_spike", "delivery_drop", "disapprove_ad", "stop_campaign"]
    id: str = Field(description="ad set id (spend_spike, delivery_drop), ad id or campaign id")
    hours: int | None = Field(default=None, ge=1, le=24 * 400, description="how long; None = until changed")
    factor: float = Field(default=3.0, gt=1.0, le=50.0, description="spend multiplier of a spend spike")


Change = Annotated[
    UpdateCampaign
    | UpdateAdSet
    | UpdateAd
    | CreateCampaign
    | CreateAdSet
    | CreateCreative
    | CreateImage
    | CreateAd
    | MarketEvent,
    Field(discriminator="kind"),
]
CHANGE_ADAPTER: TypeAdapter[Any] = TypeAdapter(Change)


class AppliedChange(BaseModel):
    """One entry of the replayable log."""

    seq: int
    hour: int
    change: Change
    created_id: str | None = None


def _not_deleted(entity: Campaign | AdSet | Ad, hour: int, what: str) -> None:
    if entity.value_at("status", hour) == Status.DELETED:
        raise InvalidChangeError(f"{what} {entity.id} is deleted and cannot change")


def _check_budget(world: World, account_id: str, micros: int | None) -> None:
    if micros is None:
        return
    account = world.account(account_id)
    if micros < account.min_daily_budget_micros:
        raise InvalidChangeError(
            f"budget {micros} micros is below the account minimum {account.min_daily_budget_micros} micros "
            f"({account.currency})"
        )
    step = 10 ** (6 - params.CURRENCIES[account.currency].exponent)
    if micros % step:
        raise InvalidChangeError(f"budget must be a whole number of {account.currency} minor units")


def new_id(world: World, seq: int, kind: str) -> str:
    """Ids for created entities: deterministic in (seed, log position)."""
    k = keyed.stable_key(world.config.seed, "created", kind, seq)
    return "9" + str(k % 10**15).zfill(15)


def apply_change(world: World, change: Any, *, hour: int, seq: int) -> AppliedChange:
    """Validate and apply one change from `hour` on. Raises InvalidChangeError with nothing changed."""
    created: str | None = None
    match change:
        case UpdateCampaign():
            camp = world.campaign(change.id)
            _not_deleted(camp, hour, "campaign")
            if change.daily_budget_micros is not None:
                if not camp.has_campaign_budget(hour):
                    raise InvalidChangeError(
                        f"campaign {camp.id} has ad-set budgets; its budget cannot be set (budgets live on"
                        " the campaign or on its ad sets, not both)"
                    )
                _check_budget(world, camp.account_id, change.daily_budget_micros)
            _set(camp, hour, change, ("status", "daily_budget_micros"))
        case UpdateAdSet():
            adset = world.adset(change.id)
            _not_deleted(adset, hour, "ad set")
            budget_fields = (change.daily_budget_micros, change.lifetime_budget_micros)
            if any(v is not None for v in budget_fields) and world.campaign(
                adset.campaign_id
            ).has_campaign_budget(hour):
                raise InvalidChangeError(
                    f"ad set {adset.id} is under a campaign budget; change the campaign's budget instead"
                )
            if change.daily_budget_micros is not None and change.lifetime_budget_micros is not None:
                raise InvalidChangeError("set a daily or a lifetime budget, not both")
            _check_budget(world, adset.account_id, change.daily_budget_micros)
            if (
                change.lifetime_budget_micros is not None
                and (change.end_hour or adset.value_at("end_hour", hour)) is None
            ):
                raise InvalidChangeError("a lifetime budget needs an end_hour")
            _set(
                adset,
                hour,
                change,
                ("status", "daily_budget_micros", "lifetime_budget_micros", "end_hour", "targeting"),
            )
            if change.daily_budget_micros is not None:
                adset.set_from("lifetime_budget_micros", hour, None)
            if change.lifetime_budget_micros is not None:
                adset.set_from("daily_budget_micros", hour, None)
            if change.bid_micros is not None:
                adset.set_from("bid_micros", hour, change.bid_micros or None)
        case UpdateAd():
            ad = world.ad(change.id)
            _not_deleted(ad, hour, "ad")
            _set(ad, hour, change, ("status",))
        case CreateCampaign():
            world.account(change.account_id)
            _check_budget(world, change.account_id, change.daily_budget_micros)
            created = new_id(world, seq, "campaign")
            camp = Campaign(
                id=created,
                account_id=change.account_id,
                name=change.name,
                objective=change.objective,
                created_hour=hour,
            )
            camp.set_from("status", hour, change.status)
            camp.set_from("daily_budget_micros", hour, change.daily_budget_micros)
            world.campaigns[created] = camp
        case CreateAdSet():
            camp = world.campaign(change.campaign_id)
            _not_deleted(camp, hour, "campaign")
            has_cbo = camp.has_campaign_budget(hour)
            own = change.daily_budget_micros or change.lifetime_budget_micros
            if has_cbo and own is not None:
                raise InvalidChangeError(f"campaign {camp.id} has a campaign budget; its ad sets take none")
            if not has_cbo and own is None:
                raise InvalidChangeError(
                    "an ad set needs a daily or lifetime budget unless its campaign has one"
                )
            if change.lifetime_budget_micros is not None and change.end_hour is None:
                raise InvalidChangeError("a lifetime budget needs an end_hour")
            _check_budget(world, camp.account_id, change.daily_budget_micros)
            for aud in change.custom_audience_ids:
                if aud not in world.audiences or world.audiences[aud].account_id != camp.account_id:
                    raise InvalidChangeError(f"unknown custom audience {aud!r} for this account")
            created = new_id(world, seq, "adset")
            adset = AdSet(
                id=created,
                campaign_id=camp.id,
                account_id=camp.account_id,
                name=change.name,
                created_hour=hour,
                custom_audience_ids=list(change.custom_audience_ids),
            )
            for f in ("status", "daily_budget_micros", "lifetime_budget_micros", "end_hour", "targeting"):
                adset.set_from(f, hour, getattr(change, f))
            adset.set_from("bid_micros", hour, change.bid_micros or None)
            world.adsets[created] = adset
        case CreateImage():
            world.account(change.account_id)
            image = Image(
                account_id=change.account_id,
                hash=change.hash,
                name=change.name,
                width=change.width,
                height=change.height,
                created_hour=hour,
            )
            created = world.add_image(image).hash
        case CreateCreative():
            world.account(change.account_id)
            if change.image_hash is not None:
                world.image(change.account_id, change.image_hash)
            created = new_id(world, seq, "creative")
            world.creatives[created] = Creative(
                id=created,
                account_id=change.account_id,
                name=change.name,
                headline=change.headline,
                body=change.body,
                image_name=change.image_name,
                image_hash=change.image_hash or image_hash(change.account_id, change.image_name),
                cta=change.cta,
                link=change.link,
            )
            if change.image_hash is None:
                creative = world.creatives[created]
                world.add_image(
                    Image(
                        account_id=change.account_id,
                        hash=creative.image_hash,
                        name=creative.image_name,
                        width=1080,
                        height=1080,
                        created_hour=hour,
                    )
                )
        case CreateAd():
            adset = world.adset(change.adset_id)
            _not_deleted(adset, hour, "ad set")
            creative = world.creative(change.creative_id)
            if creative.account_id != adset.account_id:
                raise InvalidChangeError("the creative belongs to another account")
            created = new_id(world, seq, "ad")
            review = keyed.uniform(world.config.seed, keyed.stable_key("review", created))
            lo, hi = params.REVIEW_HOURS
            text = f"{creative.headline} {creative.body}".lower()
            disapproved = (
                any(w in text for w in params.BANNED_WORDS)
                or float(keyed.uniform(world.config.seed, keyed.stable_key("disapprove", created)))
                < params.DISAPPROVAL_RATE
            )
            ad = Ad(
                id=created,
                adset_id=adset.id,
                campaign_id=adset.campaign_id,
                account_id=adset.account_id,
                name=change.name,
                creative_id=creative.id,
                created_hour=hour,
                review_hours=lo + int((hi - lo + 1) * float(review)),
                disapproved=disapproved,
            )
            ad.set_from("status", hour, change.status)
            world.add_ad(ad)
        case MarketEvent():
            _apply_event(world, change, hour)
        case _:
            raise InvalidChangeError(f"unsupported change {change!r}")
    return AppliedChange(seq=seq, hour=hour, change=change, created_id=created)


def _apply_event(world: World, event: MarketEvent, hour: int) -> None:
    end = None if event.hours is None else hour + event.hours
    match event.event:
        case "spend_spike" | "delivery_drop":
            adset = world.adset(event.id)
            field, value = (
                ("spend_factor", event.factor) if event.event == "spend_spike" else ("delivery_factor", 0.0)
            )
            adset.set_from(field, hour, value)
            if end is not None:
                adset.set_from(field, end, 1.0)
        case "disapprove_ad":
            world.ad(event.id).set_from("disapproved_by_platform", hour, 1.0)
        case "stop_campaign":
            camp = world.campaign(event.id)
            camp.set_from("stopped_by_platform", hour, 1.0)
            if end is not None:
                camp.set_from("stopped_by_platform", end, 0.0)


def _set(entity: Campaign | AdSet | Ad, hour: int, change: _Change, fields: tuple[str, ...]) -> None:
    for f in fields:
        value = getattr(change, f, None)
        if value is not None:
            entity.set_from(f, hour, value)
    name = getattr(change, "name", None)
    if name is not None:
        entity.name = name
