"""The Market: one seeded world, its clock, its change log, the ledger and the ground truth.

Plain Python with no HTTP. The API layers read the ledger and send writes here; the admin API and
the benchmarks read the ground truth. With a state directory the world survives restarts: it is
rebuilt from its config and the replayed change log, so figures are byte-identical.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sandbox.market import params
from sandbox.market.changes import CHANGE_ADAPTER, AppliedChange, apply_change
from sandbox.market.clock import SimClock, SimTime
from sandbox.market.config import WorldConfig
from sandbox.market.delivery import Planner
from sandbox.market.errors import InvalidQueryError, MarketError
from sandbox.market.ledger import Ledger, LedgerFrame
from sandbox.market.oracle import Curve, expected_conversions, water_fill
from sandbox.market.segments import DIMENSIONS, SEGMENT_INDEX, SEGMENTS, Targeting
from sandbox.market.truth import AUCTION_CENTRE, AUCTION_WIDTH, CPM_AT_ZERO_WIN, TrueModel
from sandbox.market.worldgen import build_world, round_minor

logger = logging.getLogger(__name__)

STATE_FILE = "state.json"
FRAME_CACHE = 48
CHANGES_FILE = "changes.jsonl"


class Market:
    def __init__(self, config: WorldConfig, *, state_dir: Path | None = None) -> None:
        self.config = config
        self.state_dir = state_dir
        self.lock = threading.RLock()
        self.world = build_world(config)
        self.truth = TrueModel(self.world)
        self.planner = Planner(self.world, self.truth)
        self.ledger = Ledger(self.world, self.truth, self.planner)
        self.clock = SimClock(config.start_date, config.days * 24)
        self.log: list[AppliedChange] = []
        self._frames: OrderedDict[tuple[Any, ...], LedgerFrame] = OrderedDict()

    # -- lifecycle ------------------------------------------------------------------------------

    @classmethod
    def open(cls, config: WorldConfig, state_dir: Path | None = None) -> Market:
        """A new market, or the one saved in `state_dir` (whose own config then wins)."""
        if state_dir is None:
            return cls(config)
        state_dir = Path(state_dir)
        state_path = state_dir / STATE_FILE
        if not state_path.exists():
            state_dir.mkdir(parents=True, exist_ok=True)
            market = cls(config, state_dir=state_dir)
            market._save_state()
            return market
        try:
            state = json.loads(state_path.read_text())
            saved = WorldConfig.model_validate(state["config"])
            now_hour = int(state["now_hour"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise MarketError(f"cannot read sandbox state in {state_dir}: {exc}") from exc
        if saved != config:
            logger.warning(
                "state dir %s holds a world with %s; using it", state_dir, saved.model_dump(mode="json")
            )
        market = cls(saved, state_dir=state_dir)
        changes_path = state_dir / CHANGES_FILE
        if changes_path.exists():
            for n, line in enumerate(changes_path.read_text().splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    entry = AppliedChange.model_validate_json(line)
                except ValueError as exc:
                    raise MarketError(f"{changes_path}:{n}: unreadable change: {exc}") from exc
                market.clock.now_hour = entry.hour
                market._apply_logged(entry.change, entry.hour)
        market.clock.now_hour = max(now_hour, market.clock.now_hour)
        return market

    def _save_state(self) -> None:
        if self.state_dir is None:
            return
        tmp = self.state_dir / (STATE_FILE + ".tmp")
        tmp.write_text(
            json.dumps({"config": self.config.model_dump(mode="json"), "now_hour": self.clock.now_hour})
        )
        os.replace(tmp, self.state_dir / STATE_FILE)

    def _apply_logged(self, change: Any, hour: int) -> AppliedChange:
        entry = apply_change(self.world, change, hour=hour, seq=len(self.log))
        self.log.append(entry)
        self.planner.invalidate()
        return entry

    # -- clock and changes ----------------------------------------------------------------------

    def now(self) -> SimTime:
        return self.clock.time()

    def advance(self, *, days: int = 0, hours: int = 0) -> SimTime:
        with self.lock:
            self.clock.check_advance(days=days, hours=hours)
            t = self.clock.advance(days=days, hours=hours)
            self._save_state()
            return t

    def apply(self, change: Any) -> AppliedChange:
        """Validate and apply a change from the next simulated hour on; append it to the log."""
        if isinstance(change, dict):
            try:
                change = CHANGE_ADAPTER.validate_python(change)
            except ValueError as exc:
                raise MarketError(f"invalid change: {exc}") from exc
        with self.lock:
            entry = self._apply_logged(change, self.clock.now_hour)
            if self.state_dir is not None:
                with open(self.state_dir / CHANGES_FILE, "a", encoding="utf-8") as fh:
                    fh.write(entry.model_dump_json() + "\n")
                    fh.flush()
                    os.fsync(fh.fileno())
            return entry

    # -- the ledger -----------------------------------------------------------------------------

    def day_index(self, date: dt.date) -> int:
        return (date - self.config.start_date).days

    def daily(
        self, account_id: str, since: dt.date, until: dt.date, *, segments: bool = False
    ) -> LedgerFrame:
        """Ad x day rows (x segment cell) as reported now. Frames are shared: callers must not mutate them."""
        with self.lock:
            key = ("daily", account_id, since, until, segments, self.clock.now_hour, len(self.log))
            return self._memo(
                key,
                lambda: self.ledger.daily(
                    account_id, since, until, now_hour=self.clock.now_hour, segments=segments
                ),
            )

    def hourly(self, account_id: str, date: dt.date) -> LedgerFrame:
        with self.lock:
            key = ("hourly", account_id, date, self.clock.now_hour, len(self.log))
            return self._memo(key, lambda: self.ledger.hourly(account_id, date, now_hour=self.clock.now_hour))

    def _memo(self, key: tuple[Any, ...], compute: Callable[[], LedgerFrame]) -> LedgerFrame:
        """The same question at the same simulated hour and change count has the same answer: reuse it
        (platform APIs ask for one account's window once per page or per 20 entity ids)."""
        frame = self._frames.get(key)
        if frame is None:
            frame = compute()
            self._frames[key] = frame
            while len(self._frames) > FRAME_CACHE:
                self._frames.popitem(last=False)
        else:
            self._frames.move_to_end(key)
        return frame

    # -- ground truth ---------------------------------------------------------------------------

    def _truth_day(self, date: dt.date | None) -> int:
        d = self.clock.today if date is None else self.day_index(date)
        if not 0 <= d <= self.clock.today:
            raise InvalidQueryError(
                f"date {date} is outside the simulated history "
                f"({self.config.start_date} .. {self.now().date})"
            )
        return d

    def ad_truth(
        self, account_id: str, date: dt.date | None = None, *, segments: bool = False
    ) -> list[dict[str, Any]]:
        """True rates per ad (and per segment cell) on a day, at mid-day settings."""
        with self.lock:
            d = self._truth_day(date)
            h = d * 24 + 12
            self.world.account(account_id)
            out: list[dict[str, Any]] = []
            for adset in self.world.adsets_of(account_id):
                plan = self.planner.plan(adset.id, (d + 1) * 24)
                terms = plan.terms[plan.targeting_idx[h]]
                base = self.truth.adset(adset.id)
                for a, ad_id in enumerate(plan.ad_ids):
                    at = self.truth.ad(ad_id)
                    ctr, cvr = float(plan.ctr[a, h]), float(plan.cvr[a, h])
                    fatigue = float(np.exp(-params.FATIGUE_PHI * plan.frequency[a, d]))
                    row: dict[str, Any] = {
                        "ad_id": ad_id,
                        "adset_id": adset.id,
                        "creative_id": self.world.ads[ad_id].creative_id,
                        "creative_ctr": float(terms.ctr_mix[a]),
                        "ctr": ctr,
                        "cvr": cvr,
                        "aov": float(np.exp(base.log_aov) @ terms.weights),
                        "frequency": float(plan.frequency[a, d]),
                        "fatigue_factor": fatigue,
                        "impression_share": float(plan.shares[a, h]),
                        "live": bool(plan.shares[a, h] > 0),
                    }
                    if segments:
                        factor = ctr / terms.ctr_mix[a] if terms.ctr_mix[a] > 0 else 0.0
                        dow = cvr / (terms.conv_mix[a] / terms.ctr_mix[a]) if terms.conv_mix[a] > 0 else 0.0
                        row["segments"] = [
                            {
                                "age": s[0],
                                "gender": s[1],
                                "country": s[2],
                                "placement": s[3],
                                "targeted": bool(terms.weights[i] > 0),
                                "volume_share": float(terms.weights[i]),
                                "ctr": float(np.exp(at.log_ctr[i]) * factor),
                                "cvr": float(np.exp(at.log_cvr[i]) * dow),
                                "aov": float(np.exp(base.log_aov[i])),
                            }
                            for i, s in enumerate(SEGMENTS)
                        ]
                    out.append(row)
            return out

    def element_truth(self, account_id: str) -> list[dict[str, Any]]:
        """Each creative element the account uses, with its effect on log CTR and log CVR."""
        with self.lock:
            self.world.account(account_id)
            seen: dict[tuple[str, str], dict[str, Any]] = {}
            for cr in self.world.creatives.values():
                if cr.account_id != account_id:
                    continue
                for kind, content in (
                    ("headline", cr.headline),
                    ("body", cr.body),
                    ("image", cr.image_hash),
                    ("cta", cr.cta),
                ):
                    if (kind, content) not in seen:
                        ctr, cvr = self.truth.element_effect(kind, content)
                        seen[(kind, content)] = {
                            "kind": kind,
                            "content": content,
                            "log_ctr_effect": ctr,
                            "log_cvr_effect": cvr,
                            **({"image_name": cr.image_name} if kind == "image" else {}),
                        }
            return list(seen.values())

    def curves(self, adset_ids: list[str], date: dt.date | None = None) -> list[Curve]:
        """True daily response curves (money in each account's major units) at mid-day settings."""
        d = self._truth_day(date)
        h = d * 24 + 12
        out = []
        for adset_id in adset_ids:
            adset = self.world.adset(adset_id)
            fx = params.CURRENCIES[self.world.account(adset.account_id).currency].per_usd
            plan = self.planner.plan(adset_id, (d + 1) * 24)
            r = float((plan.shares[:, h] * plan.ctr[:, h] * plan.cvr[:, h]).sum())
            out.append(
                Curve(
                    adset_id=adset_id,
                    capacity=float(plan.capacity[h]),
                    scale=float(plan.scale_usd[h] * fx),
                    conversions_per_impression=r,
                )
            )
        return out

    def adset_truth(self, account_id: str, date: dt.date | None = None) -> list[dict[str, Any]]:
        """Per ad set: response curve, auction parameters and where it sits on them today."""
        with self.lock:
            d = self._truth_day(date)
            h = d * 24 + 12
            account = self.world.account(account_id)
            fx = params.CURRENCIES[account.currency].per_usd
            rows = []
            adsets = self.world.adsets_of(account_id)
            for adset, curve in zip(adsets, self.curves([s.id for s in adsets], date), strict=True):
                plan = self.planner.plan(adset.id, (d + 1) * 24)
                base = self.truth.adset(adset.id)
                spend = float(plan.spend_day_usd[h] * fx)
                bid = adset.value_at("bid_micros", h)
                targeting = adset.value_at("targeting", h)
                rows.append(
                    {
                        "adset_id": adset.id,
                        "campaign_id": adset.campaign_id,
                        "currency": account.currency,
                        "running": bool(plan.active[h]),
                        "response": {
                            "capacity_impressions": curve.capacity,
                            "scale": curve.scale,
                            "saturation_spend": params.SATURATION_SCALES * curve.scale,
                            "conversions_per_impression": curve.conversions_per_impression,
                            "points": [
                                {
                                    "spend": x * curve.scale,
                                    "conversions": float(curve.conversions(x * curve.scale)),
                                }
                                for x in (0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
                            ],
                        },
                        "auction": {
                            "cpm_full_win": base.cpm_full_usd * fx,
                            "centre_cpm": AUCTION_CENTRE * base.cpm_full_usd * fx,
                            "width_cpm": AUCTION_WIDTH * base.cpm_full_usd * fx,
                            "bid_cap_micros": bid,
                            "win_rate": float(plan.win_rate[h]),
                            "cpm_paid": float(plan.cpm_eff_usd[h] * fx),
                            "points": self._auction_points(plan, h, fx),
                        },
                        "budget": float(plan.budget_usd[h] * fx),
                        "expected_spend": spend,
                        "expected_impressions": float(plan.imps_day[h]),
                        "expected_conversions": float(curve.conversions(spend)),
                        "marginal_cpa": curve.marginal_cpa(spend),
                        "targeting": targeting.model_dump() if targeting else None,
                        "segment_values": self._segment_values(plan, h, fx),
                    }
                )
            return rows

    def what_if(
        self,
        adset_id: str,
        *,
        date: dt.date | None = None,
        targeting: Targeting | None = None,
        daily_budget_micros: int | None = None,
    ) -> dict[str, Any]:
        """Expected daily spend, purchases and CPA of an ad set if its settings differed all day.

        The world is not changed; siblings under a campaign budget keep their shares.
        """
        with self.lock:
            d = self._truth_day(date)
            h = d * 24 + 12
            adset = self.world.adset(adset_id)
            fx = params.CURRENCIES[self.world.account(adset.account_id).currency].per_usd
            variant = adset.model_copy(deep=True)
            if targeting is not None:
                variant.set_from("targeting", d * 24, targeting)
            if daily_budget_micros is not None:
                variant.set_from("daily_budget_micros", d * 24, daily_budget_micros)
            out = {}
            for name, which in (("current", adset), ("what_if", variant)):
                plan = (
                    self.planner.plan(adset_id, (d + 1) * 24)
                    if which is adset
                    else self.planner.plan_for(which, (d + 1) * 24)
                )
                spend = float(plan.spend_day_usd[h] * fx)
                conv = float(plan.imps_day[h] * (plan.shares[:, h] * plan.ctr[:, h] * plan.cvr[:, h]).sum())
                out[name] = {
                    "spend": spend,
                    "impressions": float(plan.imps_day[h]),
                    "conversions": conv,
                    "cpa": spend / conv if conv > 0 else None,
                }
            return out

    def _auction_points(self, plan: Any, h: int, fx: float) -> list[dict[str, float]]:
        """Win rate, CPM paid and daily impressions available at a grid of cost-per-click bids."""
        base = self.truth.adset(plan.adset_id)
        ctr = float(plan.bid_ctr[h])
        if ctr <= 0:
            return []
        full = float(plan.capacity[h] / plan.win_rate[h]) if plan.win_rate[h] > 0 else 0.0
        cpm_now = float(plan.scale_usd[h] * 1000.0 / plan.capacity[h]) if plan.capacity[h] > 0 else 0.0
        cpm_full = cpm_now / (CPM_AT_ZERO_WIN + (1 - CPM_AT_ZERO_WIN) * float(plan.win_rate[h]))
        points = []
        for mult in (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0):
            bid_usd = mult * AUCTION_CENTRE * base.cpm_full_usd / (1000.0 * ctr)
            win = float(base.win_rate(bid_usd * ctr * 1000.0))
            points.append(
                {
                    "bid_micros": round(bid_usd * fx * 1e6),
                    "win_rate": win,
                    "cpm": cpm_full * (CPM_AT_ZERO_WIN + (1 - CPM_AT_ZERO_WIN) * win) * fx,
                    "impressions_available": full * win,
                }
            )
        return points

    def _segment_values(self, plan: Any, h: int, fx: float) -> list[dict[str, Any]]:
        """True CPA, purchases per impression and impression share of every targeted dimension value."""
        base = self.truth.adset(plan.adset_id)
        terms = plan.terms[plan.targeting_idx[h]]
        ctr_as = np.array([np.exp(self.truth.ad(a).log_ctr) for a in plan.ad_ids]).reshape(-1, len(SEGMENTS))
        cvr_as = np.array([np.exp(self.truth.ad(a).log_cvr) for a in plan.ad_ids]).reshape(-1, len(SEGMENTS))
        with np.errstate(divide="ignore", invalid="ignore"):
            ctr_factor = np.where(terms.ctr_mix > 0, plan.ctr[:, h] / terms.ctr_mix, 0.0)
            cvr_factor = np.where(terms.conv_mix > 0, plan.cvr[:, h] * terms.ctr_mix / terms.conv_mix, 0.0)
        conv_pi = (plan.shares[:, h, None] * ctr_factor[:, None] * cvr_factor[:, None] * ctr_as * cvr_as).sum(
            axis=0
        )
        cost_pi = (
            float(plan.cpm_eff_usd[h])
            * fx
            / 1000.0
            * base.cpm_factor
            / max(float(terms.weights @ base.cpm_factor), 1e-12)
        )
        out = []
        for dim, values in DIMENSIONS.items():
            for j, value in enumerate(values):
                cells = (SEGMENT_INDEX[dim] == j) & (terms.weights > 0)
                w = terms.weights[cells]
                conv = float(w @ conv_pi[cells])
                out.append(
                    {
                        "dimension": dim,
                        "value": value,
                        "targeted": bool(cells.any()),
                        "impression_share": float(w.sum()),
                        "conversions_per_impression": conv / float(w.sum()) if cells.any() else 0.0,
                        "cpa": float(w @ cost_pi[cells]) / conv if conv > 0 else None,
                    }
                )
        return out

    def oracle(
        self,
        currency: str,
        total_budget_micros: int,
        date: dt.date | None = None,
        adset_ids: list[str] | None = None,
    ) -> dict[str, Any]:
        """Water-filling split of a daily budget over ad sets of one currency, with expected purchases."""
        if currency not in params.CURRENCIES:
            raise InvalidQueryError(f"unknown currency {currency!r}; known: {sorted(params.CURRENCIES)}")
        if total_budget_micros <= 0:
            raise InvalidQueryError("total budget must be positive")
        with self.lock:
            d = self._truth_day(date)
            h = d * 24 + 12
            if adset_ids is None:
                adset_ids = [
                    s.id
                    for s in self.world.adsets.values()
                    if self.world.account(s.account_id).currency == currency
                    and self.planner.plan(s.id, (d + 1) * 24).active[h]
                ]
            for sid in adset_ids:
                if self.world.account(self.world.adset(sid).account_id).currency != currency:
                    raise InvalidQueryError(f"ad set {sid} is not in {currency}")
            curves = self.curves(adset_ids, date)
            total = total_budget_micros / 1e6
            best = water_fill(curves, total)
            equal = np.full(len(curves), total / max(len(curves), 1))
            return {
                "currency": currency,
                "date": (self.config.start_date + dt.timedelta(days=d)).isoformat(),
                "total_budget_micros": total_budget_micros,
                "allocation": [
                    {
                        "adset_id": c.adset_id,
                        "budget_micros": round_minor(b * 1e6, currency) if b > 0 else 0,
                        "expected_conversions": float(c.conversions(b)),
                    }
                    for c, b in zip(curves, best, strict=True)
                ],
                "expected_conversions": expected_conversions(curves, best),
                "equal_split_expected_conversions": expected_conversions(curves, equal),
            }

    # -- what a client needs --------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        with self.lock:
            t = self.now()
            return {
                "seed": self.config.seed,
                "start_date": self.config.start_date.isoformat(),
                "today": t.date.isoformat(),
                "hours_done": t.hours_done,
                "hour_index": t.hour_index,
                "changes": len(self.log),
                "accounts": [
                    {
                        "platform": a.platform.value,
                        "id": a.id,
                        "name": a.name,
                        "currency": a.currency,
                        "timezone": a.timezone,
                        "campaigns": len(self.world.campaigns_of(a.id)),
                        "adsets": len(self.world.adsets_of(a.id)),
                        "ads": len(self.world.ads_of(a.id)),
                    }
                    for a in self.world.accounts.values()
                ],
            }
