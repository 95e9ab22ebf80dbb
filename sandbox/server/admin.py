"""The admin API under /_sandbox/: the world, the clock, the ledger, changes and the ground truth.

This is the test harness's view of the market, not a platform API: no platform client calls it.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import BaseModel, Field

from sandbox.faults import FaultConfig
from sandbox.market.changes import CHANGE_ADAPTER, MarketEvent
from sandbox.market.errors import InvalidQueryError
from sandbox.market.market import Market
from sandbox.market.segments import Platform, Targeting
from sandbox.server.credentials import credentials_for

router = APIRouter(prefix="/_sandbox", tags=["sandbox admin"])

MAX_PAGE = 100_000


def get_market(request: Request) -> Market:
    return request.app.state.market  # type: ignore[no-any-return]


MarketDep = Annotated[Market, Depends(get_market)]


class Advance(BaseModel):
    days: int = Field(default=0, description="whole days to move forward")
    hours: int = Field(default=0, description="whole hours to move forward")


class WhatIf(BaseModel):
    adset_id: str
    date: dt.date | None = None
    targeting: Targeting | None = None
    daily_budget_micros: int | None = Field(default=None, gt=0)


@router.get("/world")
def world(market: MarketDep, request: Request) -> dict[str, Any]:
    """Everything a client needs: tokens, accounts with currencies and time zones, the simulated date."""
    base = str(request.base_url).rstrip("/")
    return {
        **market.describe(),
        "credentials": credentials_for(market.config.seed).model_dump(),
        "base_urls": {"meta": f"{base}/v25.0", "x": f"{base}/12", "tiktok": f"{base}/open_api/v1.3"},
    }


@router.get("/clock")
def clock(market: MarketDep) -> dict[str, Any]:
    return market.now().model_dump(mode="json")


@router.post("/clock/advance")
def advance(market: MarketDep, body: Advance) -> dict[str, Any]:
    """Move the simulated clock forward by days and/or hours (never backwards)."""
    return market.advance(days=body.days, hours=body.hours).model_dump(mode="json")


@router.get("/ledger")
def ledger(
    market: MarketDep,
    account_id: str,
    since: dt.date,
    until: dt.date,
    breakdown: Literal["none", "segment", "hour"] = "none",
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 10_000,
) -> dict[str, Any]:
    """What the market delivered, as reported so far (restatements included), ad x day rows."""
    if breakdown == "hour":
        if since != until:
            raise InvalidQueryError("breakdown=hour covers one day: since must equal until")
        frame = market.hourly(account_id, since)
    else:
        frame = market.daily(account_id, since, until, segments=breakdown == "segment")
    adset_of = {ad_id: market.world.ads[ad_id].adset_id for ad_id in frame.ad_ids}
    rows = frame.to_rows(adset_of=adset_of)
    page = rows[offset : offset + limit]
    account = market.world.account(account_id)
    return {
        "account_id": account_id,
        "currency": account.currency,
        "as_of": market.now().model_dump(mode="json"),
        "totals": frame.totals(),
        "total_rows": len(rows),
        "offset": offset,
        "next_offset": offset + limit if offset + limit < len(rows) else None,
        "rows": page,
    }


@router.get("/changes")
def changes(market: MarketDep) -> list[dict[str, Any]]:
    return [entry.model_dump(mode="json") for entry in market.log]


@router.post("/changes")
def apply(market: MarketDep, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    """Apply one market change (update_campaign, update_adset, update_ad, create_*) from the next hour."""
    change = CHANGE_ADAPTER.validate_python(body)
    return market.apply(change).model_dump(mode="json")


@router.get("/faults")
def faults(request: Request) -> dict[str, Any]:
    """Fault plans per platform, with request counts and faults injected so far."""
    return request.app.state.faults.traffic()  # type: ignore[no-any-return]


@router.put("/faults/{platform}")
def set_faults(request: Request, platform: Platform, body: FaultConfig) -> dict[str, Any]:
    """Switch faults on for one platform: a share of requests misbehave, drawn from the seed."""
    request.app.state.faults.configure(platform, body)
    return request.app.state.faults.traffic()[platform.value]  # type: ignore[no-any-return]


@router.delete("/faults/{platform}")
def clear_faults(request: Request, platform: Platform) -> dict[str, Any]:
    request.app.state.faults.configure(platform, None)
    return request.app.state.faults.traffic()[platform.value]  # type: ignore[no-any-return]


@router.get("/traffic")
def traffic(request: Request) -> dict[str, Any]:
    """Requests per platform: total, in the last second, mean per second over the last minute."""
    return request.app.state.faults.traffic()  # type: ignore[no-any-return]


@router.post("/events")
def event(market: MarketDep, body: MarketEvent) -> dict[str, Any]:
    """A market event from the next hour: spend_spike, delivery_drop, disapprove_ad or stop_campaign."""
    return market.apply(body).model_dump(mode="json")


@router.get("/truth/ads")
def truth_ads(
    market: MarketDep, account_id: str, date: dt.date | None = None, segments: bool = False
) -> list[dict[str, Any]]:
    """True CTR, CVR, order value, frequency and fatigue per ad (and per segment cell)."""
    return market.ad_truth(account_id, date, segments=segments)


@router.get("/truth/adsets")
def truth_adsets(market: MarketDep, account_id: str, date: dt.date | None = None) -> list[dict[str, Any]]:
    """Response curve, auction parameters and per-segment-value CPA of each ad set."""
    return market.adset_truth(account_id, date)


@router.get("/truth/elements")
def truth_elements(market: MarketDep, account_id: str) -> list[dict[str, Any]]:
    """Each creative element's true effect on log CTR and log CVR."""
    return market.element_truth(account_id)


@router.get("/truth/oracle")
def truth_oracle(
    market: MarketDep,
    currency: str,
    total_budget_micros: int,
    date: dt.date | None = None,
    adset_ids: str | None = None,
) -> dict[str, Any]:
    """Water-filling split of a daily budget over ad sets of one currency, with expected purchases."""
    ids = [s for s in adset_ids.split(",") if s] if adset_ids else None
    return market.oracle(currency, total_budget_micros, date, ids)


@router.post("/truth/what_if")
def truth_what_if(market: MarketDep, body: WhatIf) -> dict[str, Any]:
    """Expected spend, purchases and CPA of an ad set under other targeting or budget, the world unchanged."""
    return market.what_if(
        body.adset_id, date=body.date, targeting=body.targeting, daily_budget_micros=body.daily_budget_micros
    )
