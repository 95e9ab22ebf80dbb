"""Small readers over ledger frames for tests."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import numpy as np

from sandbox.market.ledger import METRICS, LedgerFrame
from sandbox.market.market import Market


def by_adset_day(market: Market, frame: LedgerFrame) -> dict[tuple[str, int], dict[str, int]]:
    adset_of = np.array([market.world.ads[a].adset_id for a in frame.ad_ids] or [""])
    out: dict[tuple[str, int], dict[str, int]] = defaultdict(lambda: dict.fromkeys(METRICS, 0))
    cols = frame.columns
    for i in range(len(frame)):
        row = out[(str(adset_of[cols["ad"][i]]), int(cols["day"][i]))]
        for m in METRICS:
            row[m] += int(cols[m][i])
    return out


def account_of_platform(market: Market, platform: str, currency: str | None = None) -> str:
    for account in market.world.accounts.values():
        if account.platform.value == platform and (currency is None or account.currency == currency):
            return account.id
    raise LookupError(platform)


def whole_history(market: Market) -> tuple[dt.date, dt.date]:
    return market.config.start_date, market.now().date


async def no_sleep(_: float) -> None:
    """A sleep that returns at once: retries and pacing without waiting in tests."""
    return None
