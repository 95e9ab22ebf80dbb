"""The market's hidden true parameters: per ad set, per segment, per creative element, per ad.

Everything here is a pure function of the seed and entity ids or content, so a new ad's true rates
are drawn deterministically from its content, and the ground truth can be exposed as it is.
Rates are log-linear (log CTR = level + effects), which matches a logit model at sub-5% rates and
lets segment mixtures factor cleanly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sandbox.market import keyed
from sandbox.market.entities import Ad, AdSet, Creative
from sandbox.market.params import PLATFORMS
from sandbox.market.segments import DIMENSIONS, N_SEGMENTS, SEGMENT_INDEX, Platform, Targeting
from sandbox.market.world import World

# (dimension, mean log-effect per value, spread across ad sets) for CTR, CVR and order value.
_CTR_EFFECTS = {
    "age": ((0.1, 0.05, -0.05, -0.15), 0.22),
    "gender": ((0.0, 0.0), 0.12),
    "country": ((0.0, -0.05, 0.05), 0.18),
    "placement": ((0.0, -0.1, -0.35), 0.15),
}
_CVR_EFFECTS = {
    "age": ((-1.0, 0.1, 0.15, 0.0), 0.35),
    "gender": ((0.0, 0.0), 0.15),
    "country": ((0.1, 0.0, -0.3), 0.3),
    "placement": ((0.1, -0.05, -1.1), 0.3),
}
_AOV_EFFECTS = {
    "age": ((-0.2, 0.0, 0.1, 0.15), 0.1),
    "gender": ((0.0, 0.0), 0.05),
    "country": ((0.0, 0.05, -0.05), 0.1),
    "placement": ((0.0, 0.0, -0.1), 0.05),
}
_VOLUME = {
    "age": (0.3, 0.3, 0.22, 0.18),
    "gender": (0.5, 0.5),
    "country": (0.6, 0.25, 0.15),
    "placement": (0.55, 0.3, 0.15),
}
_CPM_FACTOR = {"placement": (1.0, 0.85, 0.75), "country": (1.0, 0.8, 0.9)}
_CELL_SIGMA = 0.08  # small interaction between dimensions, per segment cell

# Creative elements: spread of log-effects on CTR and CVR by element kind.
ELEMENT_SIGMA: dict[str, tuple[float, float]] = {
    "headline": (0.42, 0.1),
    "body": (0.15, 0.1),
    "image": (0.42, 0.08),
    "cta": (0.12, 0.15),
}
PAIR_SIGMA = 0.1  # headline x image interaction on CTR
AD_PLACEMENT_SIGMA = 0.1  # per ad, per placement: segments respond differently by creative
AUDIENCE_PEOPLE_PER_IMPRESSION = 2.5  # reachable people per impression of daily capacity (frequency)
AUCTION_CENTRE, AUCTION_WIDTH = 0.8, 0.2  # as fractions of the full-win CPM
CPM_AT_ZERO_WIN = 0.55  # CPM paid rises from this fraction of full-win CPM to 1 as win rate -> 1


def true_scale_usd(seed: int, adset_id: str, platform: Platform, has_custom_audience: bool) -> float:
    """The ad set's response scale S in USD/day at full win rate and full targeting."""
    z = float(keyed.normal(seed, keyed.stable_key(adset_id, "scale")))
    audience = 0.5 if has_custom_audience else 1.0  # custom audiences are smaller
    return 90.0 * PLATFORMS[platform].volume_scale * float(np.exp(0.9 * z)) * audience


@dataclass(frozen=True, kw_only=True)
class AdSetTruth:
    adset_id: str
    cpm_full_usd: float  # CPM at full win rate and full targeting
    scale_usd: float  # response scale S (USD/day) at full win rate and full targeting
    log_ctr: np.ndarray  # [72] ad-set level + segment effects on log CTR
    log_cvr: np.ndarray
    log_aov: np.ndarray
    volume: np.ndarray  # [72] share of the ad set's reachable impressions per segment cell
    cpm_factor: np.ndarray  # [72] relative CPM per segment cell
    audience_lift: float

    @property
    def capacity_full(self) -> float:
        """Daily impressions available at full win rate and full targeting."""
        return self.scale_usd * 1000.0 / self.cpm_full_usd

    def win_rate(self, cap_cpm_usd: np.ndarray | float) -> np.ndarray:
        z = (np.asarray(cap_cpm_usd) - AUCTION_CENTRE * self.cpm_full_usd) / (
            AUCTION_WIDTH * self.cpm_full_usd
        )
        return 1.0 / (1.0 + np.exp(-z))

    def targeting_terms(self, targeting: Targeting) -> tuple[float, float]:
        """(volume share, CPM factor) of the targeted cells."""
        mask = targeting.mask()
        vol = float(self.volume[mask].sum())
        cpm = float((self.volume[mask] * self.cpm_factor[mask]).sum() / max(vol, 1e-12))
        full = float((self.volume * self.cpm_factor).sum())
        return vol, cpm / full


@dataclass(frozen=True, kw_only=True)
class AdTruth:
    ad_id: str
    log_ctr: np.ndarray  # [72] including the ad set's segment effects
    log_cvr: np.ndarray
    log_aov: np.ndarray
    element_ctr: dict[str, float] = field(default_factory=dict)


class TrueModel:
    """Lazily computed, cached true parameters of one world."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.seed = world.config.seed
        self._adsets: dict[str, AdSetTruth] = {}
        self._ads: dict[str, AdTruth] = {}

    def _normal(self, *key: object) -> float:
        return float(keyed.normal(self.seed, keyed.stable_key(*key)))

    def element_effect(self, kind: str, content: str) -> tuple[float, float]:
        """(log CTR effect, log CVR effect) of one creative element, from its content alone."""
        sd_ctr, sd_cvr = ELEMENT_SIGMA[kind]
        return (
            sd_ctr * self._normal("element", kind, content, "ctr"),
            sd_cvr * self._normal("element", kind, content, "cvr"),
        )

    def pair_effect(self, headline: str, image: str) -> float:
        return PAIR_SIGMA * self._normal("pair", headline, image)

    def adset(self, adset_id: str) -> AdSetTruth:
        cached = self._adsets.get(adset_id)
        if cached is None:
            cached = self._make_adset(self.world.adset(adset_id))
            self._adsets[adset_id] = cached
        return cached

    def _per_cell(
        self, adset: AdSet, name: str, effects: dict[str, tuple[tuple[float, ...], float]]
    ) -> np.ndarray:
        out = np.zeros(N_SEGMENTS)
        for dim, (means, sd) in effects.items():
            values = np.array(
                [
                    m + sd * self._normal(adset.id, name, dim, v)
                    for v, m in zip(DIMENSIONS[dim], means, strict=True)
                ]
            )
            out += values[SEGMENT_INDEX[dim]]
        cells = keyed.normal(self.seed, keyed.stable_key(adset.id, name, "cell"), np.arange(N_SEGMENTS))
        return out + _CELL_SIGMA * cells

    def _make_adset(self, adset: AdSet) -> AdSetTruth:
        account = self.world.account(adset.account_id)
        prof = PLATFORMS[account.platform]
        volume = np.ones(N_SEGMENTS)
        for dim, shares in _VOLUME.items():
            jitter = np.array([np.exp(0.2 * self._normal(adset.id, "vol", dim, v)) for v in DIMENSIONS[dim]])
            volume *= (np.array(shares) * jitter)[SEGMENT_INDEX[dim]]
        volume /= volume.sum()
        cpm_factor = np.ones(N_SEGMENTS)
        for dim, factors in _CPM_FACTOR.items():
            cpm_factor *= np.array(factors)[SEGMENT_INDEX[dim]]
        lift = 1.0
        for aud_id in adset.custom_audience_ids:
            lift *= self.world.audiences[aud_id].cvr_lift
        return AdSetTruth(
            adset_id=adset.id,
            cpm_full_usd=prof.cpm_usd * float(np.exp(0.35 * self._normal(adset.id, "cpm"))),
            scale_usd=true_scale_usd(self.seed, adset.id, account.platform, bool(adset.custom_audience_ids)),
            log_ctr=np.log(prof.ctr)
            + 0.3 * self._normal(adset.id, "q_ctr")
            + self._per_cell(adset, "ctr", _CTR_EFFECTS)
            - 0.12,
            log_cvr=np.log(prof.cvr)
            + 0.5 * self._normal(adset.id, "q_cvr")
            + self._per_cell(adset, "cvr", _CVR_EFFECTS)
            + 0.1,
            log_aov=np.log(prof.aov_usd)
            + 0.2 * self._normal(adset.id, "q_aov")
            + self._per_cell(adset, "aov", _AOV_EFFECTS),
            volume=volume,
            cpm_factor=cpm_factor,
            audience_lift=lift,
        )

    def ad(self, ad_id: str) -> AdTruth:
        cached = self._ads.get(ad_id)
        if cached is None:
            ad = self.world.ad(ad_id)
            cached = self.ad_from_content(ad, self.world.creative(ad.creative_id))
            self._ads[ad_id] = cached
        return cached

    def ad_from_content(self, ad: Ad, creative: Creative) -> AdTruth:
        base = self.adset(ad.adset_id)
        parts = {
            "headline": creative.headline,
            "body": creative.body,
            "image": creative.image_hash,
            "cta": creative.cta,
        }
        effects = {kind: self.element_effect(kind, content) for kind, content in parts.items()}
        ctr = sum(e[0] for e in effects.values()) + self.pair_effect(creative.headline, creative.image_hash)
        cvr = sum(e[1] for e in effects.values())
        placement = np.array(
            [AD_PLACEMENT_SIGMA * self._normal(ad.id, "placement", p) for p in DIMENSIONS["placement"]]
        )[SEGMENT_INDEX["placement"]]
        return AdTruth(
            ad_id=ad.id,
            log_ctr=base.log_ctr + ctr + placement,
            log_cvr=base.log_cvr + cvr + np.log(base.audience_lift),
            log_aov=base.log_aov,
            element_ctr={k: e[0] for k, e in effects.items()},
        )
