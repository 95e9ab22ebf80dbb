"""True CTRs of creatives built from a sandbox account's own element pools (headline, body, image, CTA),
read from the market's ground truth: the bandit benchmarks draw their arms here instead of from a made-up
distribution, so the spread between creatives is the market's (element effects and their interaction)."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass

import numpy as np

from sandbox.market.config import WorldConfig
from sandbox.market.segments import Platform
from sandbox.market.truth import TrueModel
from sandbox.market.worldgen import build_world


@dataclass(frozen=True)
class CreativeTruth:
    rates: np.ndarray  # the tested creatives' true CTRs
    history_rates: np.ndarray  # the account's other creatives' true CTRs
    elements: list[tuple[str, str, str, str]]  # (headline, body, image hash, CTA) per tested creative
    history_elements: list[tuple[str, str, str, str]]


def creative_ctrs(
    seed: int, count: int, *, centre: float, band: tuple[float, float] | None = None, history: int = 40
) -> CreativeTruth:
    """`count` creatives' true CTRs and `history` other creatives' from the same pools, with their
    elements, scaled so that the median creative's CTR is `centre`; the ratios between creatives are the
    market's. With `band`, the tested creatives are drawn among those whose CTR falls inside it."""
    world = build_world(
        WorldConfig(
            seed=seed, today=dt.date(2026, 11, 25), accounts=1, ads=120, days=7, platforms=(Platform.META,)
        )
    )
    truth = TrueModel(world)
    ad = next(iter(world.ads.values()))
    base = world.creative(ad.creative_id)
    pools = [
        sorted({getattr(c, kind) for c in world.creatives.values() if c.account_id == base.account_id})
        for kind in ("headline", "body", "image_hash", "cta")
    ]
    combos = list(itertools.product(*pools))
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(combos), size=min(4 * (count + history), len(combos)), replace=False)
    volume = truth.adset(ad.adset_id).volume
    rates = []
    for k in picked:
        h, b, im, c = combos[k]
        creative = base.model_copy(update={"headline": h, "body": b, "image_hash": im, "cta": c})
        rates.append(float(volume @ np.exp(truth.ad_from_content(ad, creative).log_ctr)))
    rates_arr = np.array(rates) * centre / float(np.median(rates))
    inside = (
        np.ones(rates_arr.size, bool) if band is None else (rates_arr >= band[0]) & (rates_arr <= band[1])
    )
    if inside.sum() < count:
        raise ValueError(f"seed {seed}: fewer than {count} creatives inside {band}")
    tested = np.flatnonzero(inside)[:count]
    rest = np.setdiff1d(np.arange(rates_arr.size), tested)[:history]
    contents = [combos[k] for k in picked]
    return CreativeTruth(
        rates=rates_arr[tested],
        history_rates=rates_arr[rest],
        elements=[contents[i] for i in tested],
        history_elements=[contents[i] for i in rest],
    )
