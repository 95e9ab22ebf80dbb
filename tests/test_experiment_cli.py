"""`adcluster experiment` against the sandbox: arms the platform's delivery would judge (ads in one ad
set, unequal budgets, unknown ids) are refused with the reason; a valid experiment is planned, monitored
over new simulated days, held out of the analyst's proposals while it runs, and ended with its result;
a concluded experiment's loser is proposed for pausing."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from agents.actions import BudgetChange, StatusChange
from agents.analyst import AnalystConfig, analyse
from app.cli import app
from sandbox.market.changes import UpdateAdSet
from sandbox.market.market import Market
from storage.db import session_scope
from storage.models import Ad, AdSet, Experiment

runner = CliRunner()


def _json(*args: str) -> object:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


def _live_adsets(engine: Engine) -> list[AdSet]:
    with Session(engine) as session:
        return [
            s
            for s in session.exec(select(AdSet).order_by(AdSet.platform_id))
            if s.status == "ACTIVE" and s.daily_budget_micros
        ]


def test_an_experiment_is_checked_planned_monitored_held_and_ended(
    configured: Market, engine: Engine
) -> None:
    assert runner.invoke(app, ["sync", "--days", "14"]).exit_code == 0
    one, two = _live_adsets(engine)[:2]
    with Session(engine) as session:
        same = [a.platform_id for a in session.exec(select(Ad).where(Ad.adset_id == one.id))][:2]
    shared = runner.invoke(app, ["experiment", "create", *same, "--name", "x"])
    assert shared.exit_code == 2 and "share ad set" in shared.output
    unknown = runner.invoke(app, ["experiment", "create", one.platform_id, "nope", "--name", "x"])
    assert unknown.exit_code == 2 and "no ad or ad set 'nope'" in unknown.output
    if one.daily_budget_micros != two.daily_budget_micros:
        unequal = runner.invoke(
            app, ["experiment", "create", one.platform_id, two.platform_id, "--name", "x"]
        )
        assert unequal.exit_code == 2 and "daily budgets differ" in unequal.output
    # Equal budgets on the platform, synced: the split is the platform's to enforce.
    configured.apply(UpdateAdSet(id=two.platform_id, daily_budget_micros=one.daily_budget_micros))
    assert runner.invoke(app, ["sync", "--days", "2"]).exit_code == 0
    made = _json(
        "experiment", "create", one.platform_id, two.platform_id, "--name", "budget split", "--mde", "0.3"
    )
    assert isinstance(made, dict) and made["plan"]["per_arm"] > 0
    start = dt.date.fromisoformat(made["start_day"])
    # While it runs, the analyst proposes no budget change for either arm.
    analysis = analyse(engine, until=start - dt.timedelta(days=1), config=AnalystConfig(days=14))
    touched = {a.entity.platform_id for a in analysis.actions if isinstance(a, BudgetChange)}
    assert not touched & {one.platform_id, two.platform_id}
    assert any("running experiments left alone" in n for n in analysis.notes)
    configured.advance(days=5)
    assert runner.invoke(app, ["sync", "--days", "6"]).exit_code == 0
    status = _json("experiment", "status", "budget split")
    assert isinstance(status, dict) and status["days"] >= 5 and status["status"] == "running"
    assert all(arm["impressions"] > 0 for arm in status["arms"]) and status["progress"] > 0
    (comparison,) = status["comparisons"]
    assert len(comparison["looks"]) == status["days"] and comparison["looks"][-1]["p_value"] <= 1
    again = runner.invoke(app, ["experiment", "create", two.platform_id, one.platform_id, "--name", "y"])
    assert again.exit_code == 2 and "already in a running experiment" in again.output
    ended = _json("experiment", "stop", status["id"])
    assert isinstance(ended, dict) and ended["status"] in ("stopped", "concluded")
    listed = _json("experiment", "list")
    assert isinstance(listed, list) and listed[0]["result"]["conclusion"] == ended["conclusion"]
    twice = runner.invoke(app, ["experiment", "stop", status["id"]])
    assert twice.exit_code == 2 and "already" in twice.output


def test_a_concluded_experiments_loser_is_proposed_for_pausing(configured: Market, engine: Engine) -> None:
    assert runner.invoke(app, ["sync", "--days", "14"]).exit_code == 0
    one, two = _live_adsets(engine)[:2]
    arms = [
        {
            "name": s.name,
            "level": "adset",
            "id": s.id,
            "platform": "meta",
            "account_id": configured.world.adset(s.platform_id).account_id,
            "platform_id": s.platform_id,
            "adset_id": s.id,
            "currency": s.currency,
        }
        for s in (one, two)
    ]
    with session_scope(engine) as session:
        session.add(
            Experiment(
                id="e1",
                name="done",
                metric="ctr",
                mde="0.1",
                alpha="0.05",
                power="0.8",
                arms=arms,
                start_day=dt.date(2026, 11, 1),
                planned_per_arm="1000",
                status="concluded",
                result={
                    "conclusion": f"{one.name} beats {two.name}",
                    "winners": [one.name],
                    "lifts": [-0.25],
                    "intervals": [[-0.4, -0.1]],
                    "p_values": [0.01],
                },
                created_by="test",
                created_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
            )
        )
    analysis = analyse(engine, until=dt.date(2026, 11, 24), config=AnalystConfig(days=14))
    pauses = [a for a in analysis.actions if isinstance(a, StatusChange) and "lost experiment" in a.reason]
    assert [(p.entity.platform_id, p.after) for p in pauses] == [(two.platform_id, "PAUSED")]
    assert pauses[0].evidence[0].figures["lift_treatment_vs_control"] == -0.25


def test_ads_of_one_ad_set_are_split_into_ad_sets_of_their_own_after_approval(
    configured: Market, engine: Engine
) -> None:
    assert runner.invoke(app, ["sync", "--days", "14"]).exit_code == 0
    source = _live_adsets(engine)[0]
    with Session(engine) as session:
        ads = [a for a in session.exec(select(Ad).where(Ad.adset_id == source.id)) if a.status == "ACTIVE"][
            :2
        ]
    assert len(ads) == 2
    before = len(configured.world.adsets)
    waiting = _json("experiment", "create", *(a.platform_id for a in ads), "--name", "copy test", "--split")
    assert isinstance(waiting, dict) and len(configured.world.adsets) == before  # nothing made yet
    proposals = waiting["waiting"][0]["proposals"]
    assert [p["action"]["kind"] for p in proposals] == ["create_adset", "create_adset"]
    assert all(not p["auto_approved"] and p["verdict"] != "refused" for p in proposals), proposals
    pending = _json("experiment", "status", "copy test")
    assert (
        isinstance(pending, dict)
        and pending["status"] == "pending"
        and "waiting for the arms" in pending["conclusion"]
    )
    done = _json("approvals", "approve", "--all", "--thread", waiting["thread"])
    assert isinstance(done, dict) and [r["status"] for r in done["results"]] == ["executed", "executed"]
    made = [s for s in configured.world.adsets.values() if s.name.startswith("copy test | arm")]
    assert len(made) == 2
    hour = configured.clock.now_hour
    share = source.daily_budget_micros // 2 // 10_000 * 10_000  # type: ignore[operator]
    assert all(s.value_at("daily_budget_micros", hour + 1) == share for s in made)
    arm_ads = [a for a in configured.world.ads.values() if a.adset_id in {s.id for s in made}]
    assert sorted(a.creative_id for a in arm_ads) == sorted(
        configured.world.ad(a.platform_id).creative_id for a in ads
    )
    configured.advance(days=2)
    assert runner.invoke(app, ["sync", "--days", "3"]).exit_code == 0
    running = _json("experiment", "status", "copy test")
    assert isinstance(running, dict) and running["status"] == "running" and running["days"] >= 1
    assert all(arm["impressions"] > 0 for arm in running["arms"])


def test_the_daily_look_concludes_an_experiment_with_a_winner_and_proposes_pausing_the_loser(
    engine: Engine,
) -> None:
    from tests.test_perception import UNTIL, build

    build(engine)  # ad set s1 ("steady") at 1% CTR, s2 ("starved") at 0.5%, 14 days each
    arms = [
        {
            "name": name,
            "level": "adset",
            "id": sid,
            "platform": "meta",
            "account_id": "act_1",
            "platform_id": sid + "p",
            "adset_id": sid,
            "currency": "USD",
        }
        for sid, name in (("s1", "steady"), ("s2", "starved"))
    ]
    with session_scope(engine) as session:
        session.add(
            Experiment(
                id="e2",
                name="ctr test",
                metric="ctr",
                mde="0.1",
                alpha="0.05",
                power="0.8",
                arms=arms,
                start_day=UNTIL - dt.timedelta(days=13),
                planned_per_arm="10000000",
                status="running",
                created_by="test",
                created_at=dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
            )
        )
    analysis = analyse(engine, until=UNTIL, config=AnalystConfig(days=14))
    assert any(n.startswith("experiment 'ctr test' concluded: steady beats starved") for n in analysis.notes)
    pauses = [a for a in analysis.actions if isinstance(a, StatusChange) and "lost experiment" in a.reason]
    assert [p.entity.platform_id for p in pauses] == ["s2p"]
    with Session(engine) as session:
        done = session.get(Experiment, "e2")
        assert done is not None and done.status == "concluded" and done.result["winners"] == ["steady"]
