"""Performance alerts: each ad set against its own recent behaviour, the platforms' verdicts on ads and
campaigns, and the data flow's own health. Each alert carries the figures behind it.

Per ad set, the day judged (the last complete day) against its previous `baseline_days`:
- spend spike: the day's spend at least `spike_ratio` times its expected spend (the median of its last
  7 days; `spike_ratio_in_budget` while the spend stays within `pace_allowance` times the daily budget,
  where a jump is more often the platform's pacing than a fault), at least `spike_z` robust standard
  deviations above it (the day-to-day spread of log spend, floored at `min_log_sd`, as budget-capped
  spend barely moves).
- intraday overspend: today's hourly spend so far already `over_budget` times the daily budget.
- delivery drop: an ad set live on every count with impressions on most baseline days delivers under
  `drop_share` of its usual impressions (its baseline median with a weekday effect); a synced day with no
  row is a day without delivery.
- CPA jump / CTR drop: the last `recent_days` against the days before, credibly (posterior probability
  `credibility` under Gamma-Poisson / Beta-binomial) and materially (`cpa_ratio`, `ctr_ratio`); the CPA
  window ends `conversion_lag_days` early, as the platforms still add late conversions to recent days.
- an ad disapproved, or a campaign stopped by the platform, from the statuses the platforms report.
The thresholds are set so that quiet ad sets alert rarely (benchmarks/alerts.py measures both rates).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field
from scipy import stats

AlertKind = Literal[
    "spend_spike",
    "intraday_overspend",
    "delivery_drop",
    "cpa_jump",
    "ctr_drop",
    "ad_disapproved",
    "campaign_stopped",
    "sync_stale",
    "sync_failing",
    "token_expiring",
    "approvals_piling_up",
]
Severity = Literal["warning", "critical"]
MICRO = 1_000_000
DISAPPROVED_MARKERS = ("DISAPPROV", "NOT_APPROVED", "REJECT", "AUDIT_DENY")
STOPPED_MARKERS = ("WITH_ISSUES",)


class AlertConfig(BaseModel):
    baseline_days: int = Field(default=28, ge=7, le=90)
    min_baseline_days: int = Field(default=7, ge=3)
    spike_ratio: float = Field(default=2.0, gt=1, description="spend over usual, beyond the pacing allowance")
    spike_ratio_in_budget: float = Field(
        default=2.6, gt=1, description="the same, within `pace_allowance` x the daily budget"
    )
    pace_allowance: float = Field(
        default=1.5, gt=1, description="daily overspend the platforms' pacing makes"
    )
    spike_z: float = Field(default=3.0, gt=0)
    min_log_sd: float = Field(default=0.15, gt=0)
    over_budget: float = Field(
        default=1.75,
        gt=1,
        description="daily spend over the budget beyond the platforms' own allowance (Meta: 75%)",
    )
    drop_share: float = Field(default=0.1, gt=0, lt=1)
    min_usual_impressions: int = Field(default=200, ge=1)
    recent_days: int = Field(default=3, ge=1, le=14)
    conversion_lag_days: int = Field(
        default=3,
        ge=0,
        le=14,
        description="recent days left out of the CPA check: late conversions still arrive",
    )
    credibility: float = Field(default=0.9999, gt=0.5, lt=1)
    cpa_ratio: float = Field(default=1.75, gt=1)
    ctr_ratio: float = Field(default=0.5, gt=0, lt=1)
    min_baseline_conversions: int = Field(default=20, ge=1)


class Day(BaseModel):
    day: dt.date
    spend_micros: int = Field(default=0, ge=0)
    impressions: int = Field(default=0, ge=0)
    clicks: int = Field(default=0, ge=0)
    conversions: int = Field(default=0, ge=0)


class Entity(BaseModel):
    platform: str
    account_id: str  # the platform's
    level: Literal["account", "campaign", "adset", "ad", "stream", "queue"]
    platform_id: str
    name: str = ""
    currency: str | None = None


class AdSetWatch(BaseModel):
    entity: Entity
    live: bool = Field(
        description="the advertiser's status and the platform's effective status both allow delivery"
    )
    daily_budget_micros: int | None = None  # its own or its campaign's
    days: list[Day]
    hours_today: list[int] = Field(default_factory=list, description="spend micros per hour of today so far")
    synced_through: dt.date | None = Field(
        default=None, description="the account's last synced day: a missing day up to it had no delivery"
    )


class Alert(BaseModel):
    id: str
    kind: AlertKind
    severity: Severity
    entity: Entity
    day: dt.date
    message: str
    figures: dict[str, float | int | str | None] = Field(default_factory=dict)


def make_alert(
    kind: AlertKind,
    severity: Severity,
    entity: Entity,
    day: dt.date,
    message: str,
    figures: dict[str, float | int | str | None] | None = None,
) -> Alert:
    """An alert whose id is the same for the same kind, entity and day (so it is kept and sent once)."""
    key = f"{kind}|{entity.platform}|{entity.account_id}|{entity.level}|{entity.platform_id}|{day}"
    return Alert(
        id=hashlib.sha256(key.encode()).hexdigest()[:16],
        kind=kind,
        severity=severity,
        entity=entity,
        day=day,
        message=message,
        figures=figures or {},
    )


def _money(micros: float, currency: str | None) -> str:
    return f"{micros / MICRO:,.2f} {currency or ''}".strip()


def _expected_log(days: Sequence[Day], value: str, judged: dt.date) -> tuple[float, float] | None:
    """Expected log of `value` on `judged` (median plus a median weekday effect) and the residuals'
    robust sd, from the days with a positive value."""
    rows = [(d.day.weekday(), float(getattr(d, value))) for d in days if getattr(d, value) > 0]
    if len(rows) < 5:
        return None
    logs = np.log([v for _, v in rows])
    centre = float(np.median(logs))
    weekday = np.array([w for w, _ in rows])
    effects = {
        w: float(np.median(logs[weekday == w] - centre))
        for w in set(weekday.tolist())
        if (weekday == w).sum() >= 2
    }
    fitted = centre + np.array([effects.get(int(w), 0.0) for w in weekday])
    resid = logs - fitted
    sd = 1.4826 * float(np.median(np.abs(resid - np.median(resid))))
    return centre + effects.get(judged.weekday(), 0.0), sd


def _recent_level(days: Sequence[Day], value: str, window: int = 7) -> tuple[float, float] | None:
    """The log level of `value` over the last `window` days (their median) and its day-to-day robust sd
    over all the days given (from log differences, so a trend or a ramp-up does not pass for noise)."""
    values = np.array([float(getattr(d, value)) for d in days])
    positive = values[values > 0]
    if positive.size < 5:
        return None
    recent = values[-window:]
    recent = recent[recent > 0]
    if recent.size < 3:
        return None
    logs = np.log(positive)
    steps = np.diff(logs)
    sd = 1.4826 * float(np.median(np.abs(steps - np.median(steps)))) / np.sqrt(2)
    return float(np.median(np.log(recent))), sd


def adset_alerts(watch: AdSetWatch, judged: dt.date, cfg: AlertConfig | None = None) -> list[Alert]:
    """The alerts of one ad set for the day `judged` (and today's hours, if given)."""
    cfg = cfg or AlertConfig()
    e = watch.entity
    by_day = {d.day: d for d in watch.days}
    today = by_day.get(judged)
    if today is None and watch.synced_through is not None and watch.synced_through >= judged:
        today = Day(day=judged)  # platforms report no row for a day without delivery
    first = judged - dt.timedelta(days=cfg.baseline_days)
    baseline = [
        by_day.get(first + dt.timedelta(days=k), Day(day=first + dt.timedelta(days=k)))
        for k in range(cfg.baseline_days)
    ]
    out: list[Alert] = []
    budget = watch.daily_budget_micros
    if watch.hours_today and budget:
        so_far = sum(watch.hours_today)
        if so_far >= cfg.over_budget * budget:
            out.append(
                make_alert(
                    "intraday_overspend",
                    "critical",
                    e,
                    judged + dt.timedelta(days=1),
                    f"{e.name or e.platform_id}: {_money(so_far, e.currency)} spent by hour "
                    f"{len(watch.hours_today) - 1} "
                    f"today, {so_far / budget:.1f}x its daily budget of {_money(budget, e.currency)}",
                    {
                        "spend_today": so_far / MICRO,
                        "daily_budget": budget / MICRO,
                        "hours": len(watch.hours_today),
                    },
                )
            )
    active_days = sum(d.impressions > 0 for d in baseline)
    if today is None or active_days < cfg.min_baseline_days:
        return out
    spend = _recent_level(baseline, "spend_micros")
    if spend is not None and today.spend_micros > 0:
        centre, sd = spend
        expected = float(np.exp(centre))
        z = (np.log(today.spend_micros) - centre) / max(sd, cfg.min_log_sd)
        ratio = today.spend_micros / expected
        # Up to `pace_allowance` x the budget, a jump is more often the platform's pacing than a fault.
        within = budget is not None and today.spend_micros <= cfg.pace_allowance * budget
        unusual = ratio >= (cfg.spike_ratio_in_budget if within else cfg.spike_ratio) and z >= cfg.spike_z
        if unusual:
            out.append(
                make_alert(
                    "spend_spike",
                    "critical",
                    e,
                    judged,
                    f"{e.name or e.platform_id} spent {_money(today.spend_micros, e.currency)} on {judged}, "
                    f"{ratio:.1f}x its usual {_money(expected, e.currency)}"
                    + (f" (daily budget {_money(budget, e.currency)})" if budget else ""),
                    {
                        "spend": today.spend_micros / MICRO,
                        "expected": expected / MICRO,
                        "ratio": ratio,
                        "z": float(z),
                    },
                )
            )
    usual = _expected_log(baseline, "impressions", judged)
    if (
        watch.live
        and usual is not None
        and active_days >= 0.8 * cfg.baseline_days
        and float(np.exp(usual[0])) >= cfg.min_usual_impressions
        and today.impressions <= cfg.drop_share * float(np.exp(usual[0]))
    ):
        expected_imps = float(np.exp(usual[0]))
        out.append(
            make_alert(
                "delivery_drop",
                "critical",
                e,
                judged,
                f"{e.name or e.platform_id} delivered {today.impressions:,} impressions on {judged} against "
                f"its usual "
                f"{expected_imps:,.0f}, while it is live",
                {"impressions": today.impressions, "expected": expected_imps},
            )
        )
    out.extend(_ratio_alerts(watch, by_day, judged, cfg))
    return out


def _ratio_alerts(
    watch: AdSetWatch, by_day: dict[dt.date, Day], judged: dt.date, cfg: AlertConfig
) -> list[Alert]:
    e = watch.entity
    out: list[Alert] = []
    # CPA: a window ending `conversion_lag_days` before the day judged, as late conversions still arrive.
    end = judged - dt.timedelta(days=cfg.conversion_lag_days)
    recent = [by_day[d] for d in _days(end, 0, cfg.recent_days) if d in by_day]
    base = [by_day[d] for d in _days(end, cfg.recent_days, cfg.baseline_days) if d in by_day]
    s0, c0 = sum(d.spend_micros for d in base) / MICRO, sum(d.conversions for d in base)
    s1, c1 = sum(d.spend_micros for d in recent) / MICRO, sum(d.conversions for d in recent)
    if c0 >= cfg.min_baseline_conversions and s0 > 0 and s1 > 0:
        cpa0 = s0 / c0
        rate0 = c0 / s0
        # The recent rate's posterior (Gamma, Jeffreys-like), against the baseline's rate.
        prob_lower = float(stats.gamma.cdf(rate0, 0.5 + c1, scale=1 / s1))
        cpa1 = s1 / c1 if c1 else float("inf")
        if prob_lower >= cfg.credibility and cpa1 >= cfg.cpa_ratio * cpa0 and s1 >= 2 * cpa0:
            out.append(
                make_alert(
                    "cpa_jump",
                    "warning",
                    e,
                    judged,
                    f"{e.name or e.platform_id}: CPA {'none' if not c1 else f'{cpa1:,.2f}'} over the last "
                    f"{cfg.recent_days} days ({c1} conversions on {s1:,.2f} {e.currency or ''}) against "
                    f"{cpa0:,.2f} before",
                    {
                        "cpa_recent": None if not c1 else cpa1,
                        "cpa_before": cpa0,
                        "conversions_recent": c1,
                        "prob": prob_lower,
                    },
                )
            )
    recent = [by_day[d] for d in _days(judged, 0, cfg.recent_days) if d in by_day]
    base = [by_day[d] for d in _days(judged, cfg.recent_days, cfg.baseline_days) if d in by_day]
    n0, k0 = sum(d.impressions for d in base), sum(min(d.clicks, d.impressions) for d in base)
    n1, k1 = sum(d.impressions for d in recent), sum(min(d.clicks, d.impressions) for d in recent)
    if n0 > 0 and k0 >= 50 and n1 >= 3000:
        ctr0 = k0 / n0
        prob_lower = float(stats.beta.cdf(ctr0, 0.5 + k1, 0.5 + n1 - k1))
        ctr1 = k1 / n1
        if prob_lower >= cfg.credibility and ctr1 <= cfg.ctr_ratio * ctr0:
            out.append(
                make_alert(
                    "ctr_drop",
                    "warning",
                    e,
                    judged,
                    f"{e.name or e.platform_id}: CTR {ctr1:.2%} over the last {cfg.recent_days} days "
                    f"against {ctr0:.2%} before",
                    {"ctr_recent": ctr1, "ctr_before": ctr0, "impressions_recent": n1, "prob": prob_lower},
                )
            )
    return out


def _days(end: dt.date, skip: int, count: int) -> list[dt.date]:
    return [end - dt.timedelta(days=k) for k in range(skip, skip + count)]


def status_alert(entity: Entity, status: str, effective_status: str, day: dt.date) -> Alert | None:
    """An ad the platform disapproved, or a campaign it stopped, while the advertiser has it live."""
    if status != "ACTIVE":
        return None
    upper = effective_status.upper()
    if entity.level == "ad" and any(m in upper for m in DISAPPROVED_MARKERS):
        return make_alert(
            "ad_disapproved",
            "critical",
            entity,
            day,
            f"ad {entity.name or entity.platform_id} was disapproved by {entity.platform} "
            f"({effective_status})",
            {"effective_status": effective_status},
        )
    if entity.level == "campaign" and any(m in upper for m in STOPPED_MARKERS):
        return make_alert(
            "campaign_stopped",
            "critical",
            entity,
            day,
            f"campaign {entity.name or entity.platform_id} was stopped by {entity.platform} "
            f"({effective_status})",
            {"effective_status": effective_status},
        )
    return None
