"""Fixed market constants: platform levels, currencies, seasonality, pacing and conversion lags.

Levels sit inside the published ranges of ../shared/reference/market-model.md; individual ad sets
and ads spread around them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sandbox.market.segments import Platform


@dataclass(frozen=True, kw_only=True)
class PlatformProfile:
    cpm_usd: float  # average CPM at full auction win rate
    ctr: float  # average link CTR
    cvr: float  # average purchases per click
    aov_usd: float  # average order value
    attribution_days: int  # default click-attribution window: conversions later than this are never reported
    volume_scale: float  # response scale: how far a typical budget is from saturation


PLATFORMS: dict[Platform, PlatformProfile] = {
    Platform.META: PlatformProfile(
        cpm_usd=6.5, ctr=0.011, cvr=0.045, aov_usd=70.0, attribution_days=7, volume_scale=1.0
    ),
    Platform.TIKTOK: PlatformProfile(
        cpm_usd=4.5, ctr=0.0075, cvr=0.022, aov_usd=50.0, attribution_days=7, volume_scale=1.3
    ),
    Platform.X: PlatformProfile(
        cpm_usd=3.6, ctr=0.007, cvr=0.022, aov_usd=70.0, attribution_days=14, volume_scale=0.7
    ),
}


@dataclass(frozen=True, kw_only=True)
class Currency:
    code: str
    exponent: int  # digits of the minor unit: USD 2, JPY 0
    per_usd: float  # units of this currency per USD (the market's fixed rate table)


CURRENCIES: dict[str, Currency] = {
    "USD": Currency(code="USD", exponent=2, per_usd=1.0),
    "JPY": Currency(code="JPY", exponent=0, per_usd=150.0),
    "EUR": Currency(code="EUR", exponent=2, per_usd=0.92),
    "GBP": Currency(code="GBP", exponent=2, per_usd=0.79),
}

# Account currencies and time zones, cycled per platform so every platform has USD and JPY first.
ACCOUNT_LOCALES: tuple[tuple[str, str], ...] = (
    ("USD", "America/Los_Angeles"),
    ("JPY", "Asia/Tokyo"),
    ("EUR", "Europe/Berlin"),
    ("GBP", "Europe/London"),
)

# Day-of-week multipliers (Monday first): delivery volume and conversion rate.
DOW_VOLUME = np.array([0.94, 0.97, 0.98, 1.0, 1.03, 1.06, 1.02])
DOW_CVR = np.array([0.95, 0.98, 1.0, 1.0, 1.02, 1.06, 0.99])

# Share of a day's delivery per local hour: quiet at night, peaks in the evening.
_HOURLY_RAW = np.array(
    [
        0.35,
        0.25,
        0.2,
        0.18,
        0.2,
        0.3,
        0.5,
        0.75,
        0.9,
        0.95,
        1.0,
        1.05,
        1.1,
        1.05,
        1.0,
        1.0,
        1.05,
        1.15,
        1.3,
        1.45,
        1.5,
        1.35,
        1.0,
        0.6,
    ]
)
HOURLY_PROFILE = _HOURLY_RAW / _HOURLY_RAW.sum()

# Days from click to purchase: most the same day, a tail over the following two weeks.
LAG_PROBS = np.array(
    [0.52, 0.16, 0.09, 0.06, 0.045, 0.035, 0.025, 0.02, 0.015, 0.012, 0.01, 0.008, 0.006, 0.004]
)
LAG_PROBS = LAG_PROBS / LAG_PROBS.sum()
MAX_LAG_DAYS = len(LAG_PROBS) - 1

# Pacing: a day may overspend its daily budget up to this factor; a calendar week stays within 7x.
MAX_DAILY_OVERSPEND = 1.75
PACING_SIGMA = 0.2

# Ad-set delivery saturates: spend beyond this many response scales buys nothing and is not spent.
SATURATION_SCALES = 3.0

# Fatigue: CTR x exp(-FATIGUE_PHI * decayed frequency); frequency decays by this factor per day.
FATIGUE_PHI = 0.45
FREQUENCY_DECAY = 0.9
DRIFT_SIGMA = 0.025  # daily random-walk step on log CTR

ORDER_VALUE_SIGMA = 0.55  # lognormal spread of one order's value
REVIEW_HOURS = (1, 12)  # a new ad waits between these many hours for review
DISAPPROVAL_RATE = 0.04
BANNED_WORDS = ("guaranteed", "miracle", "risk-free", "get rich")
