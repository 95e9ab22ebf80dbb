"""Alerts with known answers on seeded synthetic series: each kind fires on its anomaly and stays quiet on
steady data and on noise; the store keeps each alert once and a repeat as a repeat; the webhook gets
one Slack-compatible message, retried, and a webhook that is down loses nothing."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

import httpx
import numpy as np
import pytest
from sqlalchemy import Engine

from storage.db import make_engine, migrate
from tools.alert_store import deliver, slack_payload, store
from tools.optimize.alerts import AdSetWatch, AlertConfig, Day, Entity, adset_alerts, status_alert

JUDGED = dt.date(2026, 3, 31)
ADSET = Entity(
    platform="meta", account_id="act_1", level="adset", platform_id="11", name="Shoes", currency="USD"
)
M = 1_000_000


def series(
    rng: np.random.Generator,
    days: int = 35,
    spend: float = 50,
    imps: int = 10_000,
    ctr: float = 0.01,
    cpa: float = 10,
) -> list[Day]:
    out = []
    for k in range(days):
        day = JUDGED - dt.timedelta(days=days - 1 - k)
        s = spend * float(np.exp(rng.normal(0, 0.1)))
        n = int(imps * s / spend)
        out.append(
            Day(
                day=day,
                spend_micros=round(s * M),
                impressions=n,
                clicks=int(rng.binomial(n, ctr)),
                conversions=int(rng.poisson(s / cpa)),
            )
        )
    return out


def watch(days: list[Day], **kw: object) -> AdSetWatch:
    return AdSetWatch(
        entity=ADSET, live=True, daily_budget_micros=60 * M, days=days, synced_through=JUDGED, **kw
    )


def kinds(w: AdSetWatch, cfg: AlertConfig | None = None) -> list[str]:
    return [a.kind for a in adset_alerts(w, JUDGED, cfg)]


def test_steady_noisy_ad_sets_raise_nothing() -> None:
    rng = np.random.default_rng(1)
    raised = sum(len(kinds(watch(series(rng)))) for _ in range(200))
    assert raised == 0


def test_a_spend_spike_is_raised_with_its_figures() -> None:
    days = series(np.random.default_rng(2))
    days[-1] = days[-1].model_copy(update={"spend_micros": 120 * M})
    (alert,) = adset_alerts(watch(days), JUDGED)
    assert alert.kind == "spend_spike" and alert.severity == "critical"
    assert (
        alert.figures["ratio"] == pytest.approx(2.4, rel=0.15) and "daily budget 60.00 USD" in alert.message
    )
    # The same jump within the platform's pacing of a bigger budget needs a bigger ratio: not raised.
    assert kinds(watch(days).model_copy(update={"daily_budget_micros": 200 * M})) == []


def test_a_day_without_a_row_is_no_delivery_once_synced() -> None:
    days = series(np.random.default_rng(3))[:-1]  # the platform reported nothing on the judged day
    assert kinds(watch(days)) == ["delivery_drop"]
    assert kinds(watch(days).model_copy(update={"synced_through": JUDGED - dt.timedelta(days=1)})) == []
    assert kinds(watch(days).model_copy(update={"live": False})) == []  # paused by the advertiser


def test_intraday_overspend_from_todays_hours() -> None:
    days = series(np.random.default_rng(4))
    hours = [8 * M] * 14  # 112 spent by 13:00 on a 60 budget
    alerts = adset_alerts(watch(days, hours_today=hours), JUDGED)
    assert [a.kind for a in alerts] == ["intraday_overspend"] and alerts[0].day == JUDGED + dt.timedelta(
        days=1
    )
    assert kinds(watch(days, hours_today=[2 * M] * 14)) == []


def test_a_cpa_jump_is_judged_before_late_conversions_and_a_ctr_drop_at_once() -> None:
    rng = np.random.default_rng(5)
    days = series(rng, cpa=10)
    lagged = [JUDGED - dt.timedelta(days=k) for k in range(3, 6)]
    days = [d.model_copy(update={"conversions": d.conversions // 4}) if d.day in lagged else d for d in days]
    assert "cpa_jump" in kinds(watch(days))
    recent = [JUDGED - dt.timedelta(days=k) for k in range(3)]
    # The last three days' conversions alone are still arriving: no CPA alert from them.
    late = [
        d.model_copy(update={"conversions": d.conversions // 4}) if d.day in recent else d
        for d in series(rng)
    ]
    assert "cpa_jump" not in kinds(watch(late))
    dull = [d.model_copy(update={"clicks": d.clicks // 3}) if d.day in recent else d for d in series(rng)]
    assert kinds(watch(dull)) == ["ctr_drop"]


def test_platform_statuses_per_platform() -> None:
    ad = Entity(platform="tiktok", account_id="7", level="ad", platform_id="9", name="Ad")
    assert status_alert(ad, "ACTIVE", "AD_STATUS_NOT_APPROVED", JUDGED).kind == "ad_disapproved"  # type: ignore[union-attr]
    assert (
        status_alert(ad.model_copy(update={"platform": "meta"}), "ACTIVE", "DISAPPROVED", JUDGED) is not None
    )
    assert status_alert(ad, "PAUSED", "AD_STATUS_NOT_APPROVED", JUDGED) is None  # the advertiser paused it
    camp = Entity(platform="meta", account_id="act_1", level="campaign", platform_id="5")
    assert status_alert(camp, "ACTIVE", "WITH_ISSUES", JUDGED).kind == "campaign_stopped"  # type: ignore[union-attr]
    assert status_alert(camp, "ACTIVE", "ACTIVE", JUDGED) is None


@pytest.fixture
def db(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    migrate(engine)
    return engine


def _spike() -> list:  # type: ignore[type-arg]
    days = series(np.random.default_rng(2))
    days[-1] = days[-1].model_copy(update={"spend_micros": 150 * M})
    w = watch(days)
    w.entity.name = "<script>alert(1)</script>"
    return adset_alerts(w, JUDGED)


def test_an_alert_is_kept_once_and_a_repeat_within_a_week_is_not_sent_again(db: Engine) -> None:
    now = dt.datetime(2026, 4, 1, tzinfo=dt.UTC)
    first = store(db, _spike(), now=now)
    again = store(db, _spike(), now=now)
    assert [r.status for r in first] == ["new"] and [r.id for r in again] == [r.id for r in first]
    later = _spike()[0].model_copy(update={"id": "other", "day": JUDGED + dt.timedelta(days=2)})
    assert [r.status for r in store(db, [later], now=now)] == ["repeat"]


def test_the_webhook_gets_one_escaped_message_and_a_failure_loses_nothing(db: Engine) -> None:
    now = dt.datetime(2026, 4, 1, tzinfo=dt.UTC)
    records = store(db, _spike(), now=now)
    payload = slack_payload(records)
    assert "&lt;script&gt;" in json.dumps(payload) and "<script>" not in json.dumps(payload)
    linked = json.dumps(slack_payload(records, "https://ads.example.com/"))
    assert "<https://ads.example.com/alerts|open the alerts in the console>" in linked
    calls: list[int] = []

    def down(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(503)

    async def send(handler: object) -> object:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:  # type: ignore[arg-type]
            return await deliver(db, "https://hooks.example/x", now=now, client=client, wait_seconds=0)

    report = asyncio.run(send(down))
    assert len(calls) == 3 and report.failed == 1 and "503" in (report.error or "")  # type: ignore[union-attr]
    seen: list[dict] = []  # type: ignore[type-arg]

    def up(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(200, text="ok")

    report = asyncio.run(send(up))
    assert report.sent == 1 and seen[0]["text"].startswith("adcluster: 1 alert(s), 1 critical")  # type: ignore[union-attr]
    assert asyncio.run(send(up)).sent == 0  # type: ignore[union-attr]  # sent once


def test_an_account_wide_drop_of_ad_sets_too_small_to_judge_alone_is_alerted_once() -> None:
    from tools.alert_inputs import account_watches

    rng = np.random.default_rng(6)
    small = []
    for k in range(5):
        days = [d.model_copy(update={"impressions": 100}) for d in series(rng)][
            :-1
        ]  # nothing on the judged day
        small.append(
            watch(days).model_copy(update={"entity": ADSET.model_copy(update={"platform_id": f"s{k}"})})
        )
    assert all(kinds(w) == [] for w in small)  # 100 a day is under the 200 each needs to be judged
    (account,) = account_watches(small)
    assert account.entity.level == "account" and account.daily_budget_micros == 5 * 60 * M
    assert account.days[0].impressions == 500
    assert kinds(account) == ["delivery_drop"]
