"""Signed approve/reject links: a cycle that stops for approval posts its proposals to the approval
webhook, each with signed links; a link's page decides nothing, its POST answers once in the named
approver's name (the sandbox changes), and a used, expired or forged link is refused."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from app.cli import app as cli
from app.sandbox_runner import serving
from app.settings import load_settings
from app.web.api import create_app
from app.web.auth import AuthError, NewUser, create_user
from app.web.links import sign, use, verify
from sandbox.market.market import Market
from storage.db import make_engine, migrate

SECRET = "s" * 40


def test_a_link_is_signed_expires_and_works_once(tmp_path: object) -> None:
    engine = make_engine("sqlite://")
    migrate(engine)
    now = dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC)
    token = sign(SECRET, "p1", "approve", "ana", expires=now + dt.timedelta(hours=1))
    claims = verify(SECRET, token, now=now)
    assert (claims.proposal_id, claims.decision, claims.user) == ("p1", "approve", "ana")
    mac = token.split(".")[1]
    forged = (
        sign(SECRET, "p1", "reject", "ana", expires=now + dt.timedelta(hours=1)).split(".")[0] + "." + mac
    )
    for bad in (
        forged,
        token + "x",
        "nonsense",
        sign("t" * 40, "p1", "approve", "ana", expires=now + dt.timedelta(hours=1)),
    ):
        with pytest.raises(AuthError) as refused:
            verify(SECRET, bad, now=now)
        assert refused.value.status == 403
    with pytest.raises(AuthError) as late:
        verify(SECRET, token, now=now + dt.timedelta(hours=2))
    assert late.value.status == 410
    use(engine, claims, now=now)
    with pytest.raises(AuthError, match="used already"):
        use(engine, claims, now=now)


@pytest.fixture
def hook() -> Iterator[tuple[str, list[dict]]]:  # type: ignore[type-arg]
    received: list[dict] = []  # type: ignore[type-arg]
    app = FastAPI()

    @app.post("/hook")
    async def catch(request: Request) -> dict[str, str]:
        received.append(await request.json())
        return {"ok": "yes"}

    with serving(app, name="a webhook") as url:
        yield f"{url}/hook", received


def test_the_approval_webhook_carries_links_that_answer_once(
    configured: Market,
    engine: Engine,
    hook: tuple,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[type-arg]
) -> None:
    url, received = hook
    monkeypatch.setenv("ADCLUSTER_APPROVAL_WEBHOOK_URL", url)
    monkeypatch.setenv("ADCLUSTER_WEB_SECRET", SECRET)
    monkeypatch.setenv("ADCLUSTER_WEB_BASE_URL", "http://testserver")
    monkeypatch.setenv("ADCLUSTER_APPROVAL_LINK_USER", "ana")
    create_user(engine, NewUser(username="ana", password="correct horse battery", role="approver"))
    result = CliRunner().invoke(cli, ["run", "--json"])
    assert result.exit_code == 0, result.output
    cycle = json.loads(result.stdout.strip().splitlines()[-1])
    budget = next(
        p["action"] for p in cycle["waiting"][0]["proposals"] if p["action"]["kind"] == "budget_change"
    )
    (message,) = received
    assert message["text"].startswith("adcluster: ") and "wait for approval" in message["text"]
    text = json.dumps(message)
    links = dict(
        re.findall(r"http://testserver(/link/[A-Za-z0-9_.-]+)\|(Approve|Reject)", text.replace("\\n", "\n"))
    )
    approve = next(
        path
        for path, what in links.items()
        if what == "Approve"
        and verify(SECRET, path.split("/")[-1], now=dt.datetime.now(dt.UTC)).proposal_id == budget["id"]
    )
    console = TestClient(create_app(load_settings(), engine))
    page = console.get(approve)
    assert (
        page.status_code == 200 and f'action="{approve}"' in page.text
    )  # a page with a button: nothing decided
    adset = configured.world.adset(budget["entity"]["platform_id"])
    assert adset.value_at("daily_budget_micros", configured.clock.now_hour + 1) == budget["before_micros"]
    done = console.post(approve)
    assert "approved by ana: the proposal is executed" in done.text
    assert adset.value_at("daily_budget_micros", configured.clock.now_hour + 1) == budget["after_micros"]
    assert "used already" in console.post(approve).text
    assert "not valid" in console.get(approve[:-3] + "abc").text
    audit = CliRunner().invoke(cli, ["audit", "--json"])
    assert "ana" in audit.output
