"""Build the default world from a WorldConfig: accounts, campaigns, ad sets, ads, creatives,
custom audiences and 60 days of settings history. Deterministic in the seed."""

from __future__ import annotations

import hashlib
import math

from sandbox.market import keyed
from sandbox.market.config import WorldConfig
from sandbox.market.entities import Account, Ad, AdSet, Campaign, Creative, CustomAudience, Image, Status
from sandbox.market.params import ACCOUNT_LOCALES, CURRENCIES, PLATFORMS
from sandbox.market.segments import AGES, COUNTRIES, Platform, Targeting
from sandbox.market.truth import true_scale_usd
from sandbox.market.world import World

PRODUCTS: tuple[str, ...] = (
    "trail running shoes",
    "cold brew coffee",
    "wireless earbuds",
    "yoga mats",
    "vitamin C serum",
    "travel backpacks",
    "smart water bottles",
    "linen bedding",
    "protein bars",
    "desk lamps",
)
HEADLINES: tuple[str, ...] = (
    "Meet the {p} everyone is talking about",
    "{P}, made to last",
    "20% off {p} this week only",
    "Why 10,000 customers switched to our {p}",
    "The last {p} you will ever buy",
    "{P} that fit your life",
    "Free shipping on {p} today",
    "New season, new {p}",
    "Designers love these {p}",
    "Try our {p} for 30 days",
    "Your morning needs better {p}",
    "{P}: small price, big difference",
)
BODIES: tuple[str, ...] = (
    "Crafted from sustainable materials and backed by a two-year warranty.",
    "Join thousands of happy customers and see the difference in a week.",
    "Limited stock. Order today and get it by Friday.",
    "Rated 4.8 out of 5 by verified buyers.",
    "Simple design, serious performance. Returns are free.",
    "Built by a small team that tests everything twice.",
)
IMAGE_STYLES: tuple[str, ...] = (
    "lifestyle",
    "studio",
    "ugc",
    "flatlay",
    "closeup",
    "model",
    "outdoor",
    "unboxing",
)
CTAS: tuple[str, ...] = ("SHOP_NOW", "LEARN_MORE", "GET_OFFER", "SIGN_UP", "ORDER_NOW")
AUDIENCES: tuple[tuple[str, str, float], ...] = (
    ("Website visitors 30d", "website", 1.8),
    ("Customer list", "customer_list", 1.5),
    ("Lookalike 1%", "lookalike", 1.15),
)


class _Ids:
    """Platform-shaped ids, deterministic in (seed, sequence) and unique within the world."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.seen: set[str] = set()

    def make(self, platform: Platform, kind: str, *key: object) -> str:
        attempt = 0
        while True:
            k = keyed.stable_key(self.seed, platform, kind, *key, attempt)
            if platform is Platform.META:
                prefix = "23" if kind == "account" else "1202"
                width = 15 if kind == "account" else 14
                value = prefix + str(k % 10**width).zfill(width)
            elif platform is Platform.X:
                value = _base36(k)[: 11 if kind == "account" else 5]
            else:
                prefix = "70" if kind == "account" else "17"
                value = prefix + str(k % 10**17).zfill(17)
            if value not in self.seen:
                self.seen.add(value)
                return value
            attempt += 1


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out or "0"


def _u(seed: int, *key: object) -> float:
    return float(keyed.uniform(seed, keyed.stable_key(*key)))


def _n(seed: int, *key: object) -> float:
    return float(keyed.normal(seed, keyed.stable_key(*key)))


def _permutation(seed: int, n: int, *key: object) -> list[int]:
    return sorted(range(n), key=lambda j: _u(seed, *key, j))


def round_money(micros: float, currency: str) -> int:
    """Round to whole currency units (to 100 JPY for zero-exponent currencies), in micros."""
    step = 10**6 * (100 if CURRENCIES[currency].exponent == 0 else 1)
    return max(step, round(micros / step) * step)


def round_minor(micros: float, currency: str) -> int:
    """Round to the currency's minor unit (cents, whole yen), in micros; at least one minor unit."""
    step = 10 ** (6 - CURRENCIES[currency].exponent)
    return max(step, round(micros / step) * step)


def image_hash(account_id: str, image_name: str) -> str:
    return hashlib.md5(f"{account_id}/{image_name}".encode()).hexdigest()


def build_world(config: WorldConfig) -> World:
    world = World(config=config)
    ids = _Ids(config.seed)
    for platform in config.platforms:
        for a in range(config.accounts):
            _build_account(world, ids, platform, a)
    return world


def _build_account(world: World, ids: _Ids, platform: Platform, index: int) -> None:
    cfg, seed = world.config, world.config.seed
    currency, tz = ACCOUNT_LOCALES[index % len(ACCOUNT_LOCALES)]
    fx = CURRENCIES[currency].per_usd
    acc_id = ids.make(platform, "account", index)
    product = PRODUCTS[(index + list(Platform).index(platform) * 3) % len(PRODUCTS)]
    account = Account(
        id=acc_id,
        platform=platform,
        name=f"{product.title()} {platform.value.upper()} {currency} #{index + 1}",
        currency=currency,
        timezone=tz,
        min_daily_budget_micros=round_money(1.0 * fx * 1e6, currency),
    )
    world.add_account(account)

    audiences = []
    for j, (name, kind, lift) in enumerate(AUDIENCES):
        size = int(20_000 * math.exp(1.2 * _u(seed, acc_id, "aud", j)) * (1 + j))
        aud = CustomAudience(
            id=ids.make(platform, "audience", acc_id, j),
            account_id=acc_id,
            name=name,
            kind=kind,
            size=size,
            cvr_lift=lift,
        )
        world.audiences[aud.id] = aud
        audiences.append(aud)

    n_adsets = max(1, round(cfg.ads / 10))
    n_campaigns = max(1, math.ceil(n_adsets / 2.5))
    history_hours = cfg.days * 24
    campaigns = []
    for c in range(n_campaigns):
        camp = Campaign(
            id=ids.make(platform, "campaign", acc_id, c),
            account_id=acc_id,
            name=f"{product.title()} | {('Prospecting', 'Retargeting', 'Sale', 'Evergreen')[c % 4]} {c + 1}",
        )
        camp.set_from("status", 0, Status.ACTIVE)
        camp.set_from("daily_budget_micros", 0, None)
        world.campaigns[camp.id] = camp
        campaigns.append(camp)

    platform_profile = PLATFORMS[platform]
    cpc_usd = platform_profile.cpm_usd / (1000 * platform_profile.ctr)
    adsets: list[AdSet] = []
    for s in range(n_adsets):
        camp = campaigns[s % n_campaigns]
        adset = AdSet(
            id=ids.make(platform, "adset", acc_id, s),
            campaign_id=camp.id,
            account_id=acc_id,
            name=f"{product.title()} | AdSet {s + 1}",
        )
        adset.set_from("status", 0, Status.PAUSED if _u(seed, adset.id, "paused") < 0.08 else Status.ACTIVE)
        if _u(seed, adset.id, "aud") < 0.3:
            adset.custom_audience_ids = [audiences[int(3 * _u(seed, adset.id, "audpick"))].id]
        # Marketers size budgets roughly to what an ad set can deliver, with plenty of error.
        scale = true_scale_usd(seed, adset.id, platform, bool(adset.custom_audience_ids))
        budget_usd = min(600.0, max(5.0, 0.45 * scale * math.exp(0.5 * _n(seed, adset.id, "budget"))))
        adset.set_from("daily_budget_micros", 0, round_money(budget_usd * fx * 1e6, currency))
        # Marketers moved budgets every week or two: this gives the history a budget-response signal.
        day = 5 + int(10 * _u(seed, adset.id, "chg", 0))
        k = 1
        while day < cfg.days:
            factor = math.exp(0.4 * _n(seed, adset.id, "chgf", k))
            budget_usd = min(1.5 * scale, max(0.15 * scale, budget_usd * factor), 600.0)
            adset.set_from("daily_budget_micros", day * 24, round_money(budget_usd * fx * 1e6, currency))
            day += 6 + int(9 * _u(seed, adset.id, "chg", k))
            k += 1
        capped = _u(seed, adset.id, "bidcap") < 0.25
        bid = round_minor(cpc_usd * math.exp(0.1 + 0.25 * _n(seed, adset.id, "bid")) * fx * 1e6, currency)
        adset.set_from("bid_micros", 0, bid if capped else None)
        targeting = Targeting()
        r = _u(seed, adset.id, "targeting")
        if r < 0.15:
            targeting = Targeting(countries=COUNTRIES[:2])
        elif r < 0.3:
            targeting = Targeting(ages=AGES[1:])
        adset.set_from("targeting", 0, targeting)
        world.adsets[adset.id] = adset
        adsets.append(adset)

    # Campaign-level budgets: every third campaign (when there are at least two) owns its ad sets' budget.
    for c, camp in enumerate(campaigns):
        if n_campaigns >= 2 and c % 3 == 0:
            members = [s for s in adsets if s.campaign_id == camp.id]
            total = sum(s.value_at("daily_budget_micros", 0) for s in members)
            camp.set_from("daily_budget_micros", 0, round_money(total, currency))
            for s in members:
                s.timeline["daily_budget_micros"] = [(0, None)]

    _build_ads(world, ids, account, product, adsets, history_hours)


def _build_ads(
    world: World, ids: _Ids, account: Account, product: str, adsets: list[AdSet], history_hours: int
) -> None:
    cfg, seed, acc_id = world.config, world.config.seed, account.id
    heads = [h.format(p=product, P=product.capitalize()) for h in HEADLINES]
    images = [f"{product.replace(' ', '_')}_{style}.jpg" for style in IMAGE_STYLES]
    creatives_by_combo: dict[tuple[int, int, int, int], Creative] = {}
    for i in range(cfg.ads):
        adset = adsets[i % len(adsets)]
        # Within an ad set the marketer tests different headlines and images: walk a keyed permutation.
        k = i // len(adsets)
        combo = (
            _permutation(seed, len(heads), adset.id, "h")[k % len(heads)],
            int(len(BODIES) * _u(seed, acc_id, "b", i)),
            _permutation(seed, len(images), adset.id, "i")[k % len(images)],
            int(len(CTAS) * _u(seed, acc_id, "c", i)),
        )
        creative = creatives_by_combo.get(combo)
        if creative is None:
            h, b, im, c = combo
            creative = Creative(
                id=ids.make(account.platform, "creative", acc_id, i),
                account_id=acc_id,
                name=f"{product.title()} creative {len(creatives_by_combo) + 1}",
                headline=heads[h],
                body=BODIES[b],
                image_name=images[im],
                image_hash=image_hash(acc_id, images[im]),
                cta=CTAS[c],
                link=f"https://shop.example.com/{product.replace(' ', '-')}",
            )
            creatives_by_combo[combo] = creative
            world.creatives[creative.id] = creative
            world.add_image(
                Image(
                    account_id=acc_id,
                    hash=creative.image_hash,
                    name=creative.image_name,
                    width=1080,
                    height=1080,
                )
            )
        late = _u(seed, acc_id, "late", i) < 0.3
        created = 24 * int((cfg.days - 5) * _u(seed, acc_id, "created", i)) if late else 0
        ad = Ad(
            id=ids.make(account.platform, "ad", acc_id, i),
            adset_id=adset.id,
            campaign_id=adset.campaign_id,
            account_id=acc_id,
            name=f"{creative.headline[:40]} / {creative.image_name}",
            creative_id=creative.id,
            created_hour=created,
            review_hours=1 + int(11 * _u(seed, acc_id, "rv", i)),
        )
        ad.set_from("status", created, Status.ACTIVE)
        if _u(seed, acc_id, "adpause", i) < 0.12:
            ad.set_from(
                "status", 24 * int((cfg.days - 1) * (0.5 + 0.5 * _u(seed, acc_id, "pday", i))), Status.PAUSED
            )
        world.add_ad(ad)
