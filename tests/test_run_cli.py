"""`adcluster run` and `adcluster approvals` against the sandbox: a budget change reaches the platform
only after a person approves it, from another invocation (a new process would read the same checkpoint
and audit log); rejecting leaves the platform unchanged; answers for unknown ids are refused."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from app.cli import app
from sandbox.market.market import Market

runner = CliRunner()


def _json(*args: str) -> dict:  # type: ignore[type-arg]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


def _budget(market: Market, adset_id: str) -> int:
    return market.world.adset(adset_id).value_at("daily_budget_micros", market.clock.now_hour + 1)


def test_a_budget_change_reaches_the_sandbox_only_after_approval(configured: Market) -> None:
    first = _json("run")
    thread = first["thread"]
    proposals = first["waiting"][0]["proposals"]
    budget = next(p["action"] for p in proposals if p["action"]["kind"] == "budget_change")
    adset = budget["entity"]["platform_id"]
    assert _budget(configured, adset) == budget["before_micros"]  # proposed, not applied
    listed = _json("approvals", "list", "--thread", thread)
    assert [p["action"]["id"] for p in listed["waiting"][0]["proposals"]] == [
        p["action"]["id"] for p in proposals
    ]
    done = _json("approvals", "approve", budget["id"], "--thread", thread, "--by", "ana")
    assert {"id": budget["id"], "status": "executed"}.items() <= done["results"][0].items()
    assert _budget(configured, adset) == budget["after_micros"]
    again = runner.invoke(app, ["approvals", "approve", budget["id"], "--thread", thread])
    assert again.exit_code == 2 and "not waiting" in again.output
    audit = runner.invoke(app, ["audit", "--json"])
    assert audit.exit_code == 0 and "ana" in audit.output


def test_rejecting_leaves_the_sandbox_unchanged_and_unknown_ids_are_refused(configured: Market) -> None:
    first = _json("run")
    thread = first["thread"]
    budget = next(
        p["action"] for p in first["waiting"][0]["proposals"] if p["action"]["kind"] == "budget_change"
    )
    bad = runner.invoke(app, ["approvals", "approve", "nope", "--thread", thread])
    assert bad.exit_code == 2 and "not waiting" in bad.output
    _json("approvals", "reject", "--all", "--thread", thread)
    assert _budget(configured, budget["entity"]["platform_id"]) == budget["before_micros"]
