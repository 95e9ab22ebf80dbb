"""The web console's JSON API against the sandbox: log in, roles, CSRF, scoping by client, a proposal
approved over the API reaches the sandbox once, and bad input (unknown ids, bad dates, expired sessions,
a second answer) gets a clear 4xx, never a 500."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from app.cli import app as cli
from app.settings import load_settings
from app.web.api import create_app
from app.web.auth import NewUser, create_user, login
from sandbox.market.market import Market

runner = CliRunner()
PASSWORD = "correct horse battery"


@pytest.fixture
def world(configured: Market, engine: Engine) -> tuple[Market, Engine, dict]:  # type: ignore[type-arg]
    result = runner.invoke(cli, ["run", "--json"])
    assert result.exit_code == 0, result.output
    cycle = json.loads(result.stdout.strip().splitlines()[-1])
    for name, role, accounts in (
        ("ana", "approver", ["*"]),
        ("vic", "viewer", ["*"]),
        ("xena", "approver", ["x:nobody"]),
    ):
        create_user(engine, NewUser(username=name, password=PASSWORD, role=role, accounts=accounts))  # type: ignore[arg-type]
    return configured, engine, cycle


def client(engine: Engine) -> TestClient:
    return TestClient(create_app(load_settings(), engine), raise_server_exceptions=False)


def logged_in(engine: Engine, name: str) -> tuple[TestClient, str]:
    c = client(engine)
    answer = c.post("/api/login", json={"username": name, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return c, answer.json()["csrf_token"]


def _budget(market: Market, adset_id: str) -> int:
    return market.world.adset(adset_id).value_at("daily_budget_micros", market.clock.now_hour + 1)


def test_health_login_and_the_errors_of_not_being_logged_in(world: tuple) -> None:  # type: ignore[type-arg]
    _, engine, _ = world
    c = client(engine)
    assert c.get("/healthz").json() == {"status": "ok", "warehouse": "ok"}
    assert c.get("/api/me").status_code == 401
    assert c.get("/api/me").json()["detail"] == "log in first (POST /api/login)"
    wrong = c.post("/api/login", json={"username": "ana", "password": "nope"})
    unknown = c.post("/api/login", json={"username": "nobody", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 401 and wrong.json() == unknown.json()
    c, csrf = logged_in(engine, "vic")
    me = c.get("/api/me").json()
    assert me["role"] == "viewer" and me["csrf_token"] == csrf
    assert "set-cookie" not in c.get("/api/me").headers  # the cookie is set at login only
    out = c.post("/api/logout", headers={"X-CSRF-Token": csrf})
    assert out.status_code == 200 and c.get("/api/me").status_code == 401
    token, _ = login(engine, "vic", PASSWORD, ttl=dt.timedelta(seconds=-1))
    expired = client(engine).get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]


def test_an_approver_approves_over_the_api_and_the_sandbox_changes_once(world: tuple) -> None:  # type: ignore[type-arg]
    market, engine, cycle = world
    budget = next(
        p["action"] for p in cycle["waiting"][0]["proposals"] if p["action"]["kind"] == "budget_change"
    )
    adset = budget["entity"]["platform_id"]
    viewer, viewer_csrf = logged_in(engine, "vic")
    listed = viewer.get("/api/proposals").json()
    assert budget["id"] in {p["id"] for p in listed}
    refused = viewer.post(
        f"/api/proposals/{budget['id']}/decision",
        json={"decision": "approve"},
        headers={"X-CSRF-Token": viewer_csrf},
    )
    assert refused.status_code == 403 and "only approvers" in refused.json()["detail"]
    ana, csrf = logged_in(engine, "ana")
    no_csrf = ana.post(f"/api/proposals/{budget['id']}/decision", json={"decision": "approve"})
    assert no_csrf.status_code == 403 and "X-CSRF-Token" in no_csrf.json()["detail"]
    assert _budget(market, adset) == budget["before_micros"]
    done = ana.post(
        f"/api/proposals/{budget['id']}/decision",
        json={"decision": "approve"},
        headers={"X-CSRF-Token": csrf},
    )
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "executed" and _budget(market, adset) == budget["after_micros"]
    again = ana.post(
        f"/api/proposals/{budget['id']}/decision",
        json={"decision": "approve"},
        headers={"X-CSRF-Token": csrf},
    )
    assert again.status_code == 409 and "not waiting" in again.json()["detail"]
    # The cycle's other proposals still wait on the same thread, each answerable in its own time.
    others = [
        p["action"]["id"] for p in cycle["waiting"][0]["proposals"] if p["action"]["id"] != budget["id"]
    ]
    assert others and {p["id"] for p in ana.get("/api/proposals").json()} >= set(others)
    later = ana.post(
        f"/api/proposals/{others[0]}/decision", json={"decision": "reject"}, headers={"X-CSRF-Token": csrf}
    )
    assert later.status_code == 200 and later.json()["status"] == "rejected"
    audit = ana.get("/api/audit").json()
    decided = next(e for e in audit if e["proposal"]["id"] == budget["id"])
    assert decided["decisions"][0]["decided_by"] == "ana"
    metrics = ana.get("/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    assert 'adcluster_proposals{kind="budget_change",status="executed"} 1.0' in metrics.text
    assert 'adcluster_decisions{verdict="approve"} 1.0' in metrics.text
    assert 'adcluster_sync_failing_streams{platform="meta"} 0.0' in metrics.text
    assert 'route="/api/proposals/{proposal_id}/decision",status="409"' in metrics.text


def test_scoping_bad_input_and_bearer_tokens(world: tuple) -> None:  # type: ignore[type-arg]
    _, engine, cycle = world
    some = cycle["waiting"][0]["proposals"][0]["action"]["id"]
    xena, _ = logged_in(engine, "xena")
    assert xena.get("/api/proposals").json() == [] and xena.get("/api/entities").json() == []
    assert xena.get(f"/api/proposals/{some}").status_code == 404  # another client's: as if it did not exist
    ana, csrf = logged_in(engine, "ana")
    assert ana.get("/api/proposals/nope").status_code == 404
    assert ana.get("/api/performance?since=2026-13-01&until=2026-11-01").status_code == 422
    backwards = ana.get("/api/performance?since=2026-11-10&until=2026-11-01")
    assert backwards.status_code == 422 and "after until" in backwards.json()["detail"]
    perf = ana.get("/api/performance?since=2026-11-01&until=2026-11-24").json()
    assert perf["days"] and {d["platform"] for d in perf["days"]} == {"meta"}
    bad = ana.post(
        f"/api/proposals/{some}/decision", json={"decision": "edit"}, headers={"X-CSRF-Token": csrf}
    )
    assert bad.status_code == 422  # an edit without a value
    token = ana.post("/api/login", json={"username": "ana", "password": PASSWORD}).json()["token"]
    bearer = client(engine)
    assert bearer.get("/api/me", headers={"Authorization": f"Bearer {token}"}).json()["username"] == "ana"
    entities = bearer.get("/api/entities?level=ad&limit=5", headers={"Authorization": f"Bearer {token}"})
    assert entities.status_code == 200 and len(entities.json()) == 5
    schema = bearer.get("/openapi.json").json()
    assert {"/api/login", "/api/proposals/{proposal_id}/decision", "/api/performance"} <= set(schema["paths"])


def test_users_add_hashes_the_password_and_refuses_bad_ones(
    configured: Market, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlmodel import Session, select

    from storage.models import WebUser

    monkeypatch.setenv("ADCLUSTER_NEW_PASSWORD", PASSWORD)
    made = runner.invoke(
        cli, ["users", "add", "olga", "--role", "admin", "--account", "meta:1", "--account", "x:2"]
    )
    assert made.exit_code == 0, made.output
    with Session(engine) as session:
        user = session.exec(select(WebUser).where(WebUser.username == "olga")).one()
    assert user.role == "admin" and user.accounts == ["meta:1", "x:2"]
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
    twice = runner.invoke(cli, ["users", "add", "olga"])
    assert twice.exit_code == 2 and "exists already" in twice.output
    monkeypatch.setenv("ADCLUSTER_NEW_PASSWORD", "short")
    weak = runner.invoke(cli, ["users", "add", "pat"])
    assert weak.exit_code == 2 and "at least 10 characters" in weak.output
    bad_role = runner.invoke(cli, ["users", "add", "quinn", "--role", "owner"])
    assert bad_role.exit_code == 2


def test_each_request_has_an_id_in_its_json_log_line_and_its_response(
    world: tuple,
    capsys: pytest.CaptureFixture[str],  # type: ignore[type-arg]
) -> None:
    import logging

    from app.web.logs import json_logging

    _, engine, _ = world
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    try:
        json_logging("INFO")
        given = client(engine).get("/healthz", headers={"X-Request-ID": "abc-123"})
        made = client(engine).get("/healthz")
    finally:
        root.handlers[:], root.level = saved, level
    assert given.headers["X-Request-ID"] == "abc-123"
    assert len(made.headers["X-Request-ID"]) == 32
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    mine = [line for line in lines if line.get("message") == "request"]
    assert {"request_id": "abc-123", "path": "/healthz", "status": 200}.items() <= mine[0].items()
    assert mine[1]["request_id"] == made.headers["X-Request-ID"]
