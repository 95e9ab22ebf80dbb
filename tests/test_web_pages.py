"""The web console's pages against the sandbox (server-rendered, driven with HTTP requests here; the
headless-browser tests come with the browser set-up): log in, the overview's charts, sorting and
filtering, the approvals queue (one, bulk, CSRF, viewers), and names that carry HTML shown as text."""

from __future__ import annotations

import html
import json
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from app.cli import app as cli
from app.settings import load_settings
from app.web.api import create_app
from app.web.auth import NewUser, create_user
from sandbox.market.changes import UpdateAd
from sandbox.market.market import Market

runner = CliRunner()
PASSWORD = "correct horse battery"
XSS = "<script>alert(1)</script>"


@pytest.fixture
def cycle(configured: Market, engine: Engine) -> dict:  # type: ignore[type-arg]
    world = configured.world
    ad = sorted(
        (a for a in world.ads.values() if world.account(a.account_id).platform == "meta"), key=lambda a: a.id
    )[0]
    configured.apply(UpdateAd(id=ad.id, name=XSS))
    result = runner.invoke(cli, ["run", "--json"])
    assert result.exit_code == 0, result.output
    for name, role in (("ana", "approver"), ("vic", "viewer")):
        create_user(engine, NewUser(username=name, password=PASSWORD, role=role))  # type: ignore[arg-type]
    return json.loads(result.stdout.strip().splitlines()[-1])


def browser(engine: Engine, name: str | None = None) -> TestClient:
    c = TestClient(create_app(load_settings(), engine), raise_server_exceptions=False)
    if name:
        answer = c.post("/login", data={"username": name, "password": PASSWORD}, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == "/"
    return c


def csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found
    return found.group(1)


def test_login_then_the_overview_draws_its_charts(cycle: dict, engine: Engine) -> None:  # type: ignore[type-arg]
    anonymous = browser(engine)
    assert anonymous.get("/", follow_redirects=False).headers["location"].startswith("/login")
    wrong = anonymous.post("/login", data={"username": "ana", "password": "nope"}, follow_redirects=False)
    assert "wrong+username+or+password" in wrong.headers["location"]
    ana = browser(engine, "ana")
    page = ana.get("/").text
    assert page.count("<svg") == 4 and 'data-series="meta"' in page
    assert re.search(r"<td>meta</td><td>[\d,]+\.\d\d</td>", page)
    bad = ana.get("/?since=2026-13-01", follow_redirects=False)
    assert bad.status_code == 303 and "YYYY-MM-DD" in bad.headers["location"].replace("%20", " ")


def test_tables_sort_filter_and_show_html_in_names_as_text(cycle: dict, engine: Engine) -> None:  # type: ignore[type-arg]
    ana = browser(engine, "ana")
    ads = ana.get("/entities?level=ad&sort=name&dir=asc").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in ads and XSS not in ads
    names = [html.unescape(n) for n in re.findall(r"<tr><td>([^<]+)</td><td>meta</td>", ads)]
    assert names == sorted(names) and len(names) > 3
    spends = [
        float(s.replace(",", ""))
        for s in re.findall(
            r"<td>meta</td><td>[^<]+</td><td>([\d,.]+)</td>", ana.get("/entities?level=ad").text
        )
    ]
    assert spends == sorted(spends, reverse=True)
    filtered = ana.get("/entities?level=ad&q=script").text
    assert len(re.findall(r"<tr><td>", filtered)) == 1


def test_the_approvals_queue_answers_one_or_many_and_checks_who_and_csrf(
    cycle: dict,
    engine: Engine,
    configured: Market,  # type: ignore[type-arg]
) -> None:
    proposals = cycle["waiting"][0]["proposals"]
    viewer = browser(engine, "vic")
    assert "viewers cannot answer" in viewer.get("/approvals").text
    ana = browser(engine, "ana")
    page = ana.get("/approvals").text
    assert all(f'id="proposal-{p["action"]["id"]}"' in page for p in proposals)
    first = proposals[0]["action"]["id"]
    forged = ana.post(
        f"/approvals/{first}", data={"decision": "approve", "csrf_token": "forged"}, follow_redirects=False
    )
    assert (
        "X-CSRF-Token" in forged.headers["location"].replace("%20", " ")
        or "CSRF" in forged.headers["location"]
    )
    token = csrf(page)
    by_viewer = viewer.post(
        f"/approvals/{first}",
        data={"decision": "approve", "csrf_token": csrf(viewer.get("/approvals").text)},
        follow_redirects=False,
    )
    assert "only+approvers" in by_viewer.headers["location"]
    ids = [p["action"]["id"] for p in proposals]
    done = ana.post(
        "/approvals/bulk",
        data={"decision": "reject", "ids": ids, "csrf_token": token},
        follow_redirects=False,
    )
    assert done.status_code == 303 and "flash=" in done.headers["location"]
    assert ana.get("/approvals").text.count('id="proposal-') == 0
    audit = ana.get("/audit").text
    assert "reject by ana" in audit
    runs = ana.get("/runs").text
    assert f"{len(ids)} rejected" in runs


def test_the_creative_library_searches_by_meaning_and_lists_the_accounts_creatives(
    cycle: dict,
    engine: Engine,  # type: ignore[type-arg]
) -> None:
    from app import composition
    from storage.vectors import CreativeDoc

    index = composition.creative_index(load_settings())
    index.index(
        [
            CreativeDoc(asset_id="a-ship", text="Free shipping on every pair of running shoes"),
            CreativeDoc(asset_id="a-yoga", text="Calm mornings on a thick yoga mat"),
        ]
    )
    ana = browser(engine, "ana")
    page = ana.get("/creatives?q=delivery+at+no+cost+for+runners").text
    first = page.index("Free shipping on every pair")
    assert first < page.find("Calm mornings") or page.find("Calm mornings") == -1
    assert "Creatives in your accounts" in page and re.search(r"<td>meta</td><td>[^<]+</td>", page)
    assert ana.get("/assets/nope").status_code == 404


def test_admins_set_goals_and_others_only_read_the_strategy(cycle: dict, engine: Engine) -> None:  # type: ignore[type-arg]
    from sqlmodel import Session, select

    from storage.models import Account, Goal

    create_user(engine, NewUser(username="adam", password=PASSWORD, role="admin"))
    with Session(engine) as session:
        account = session.exec(select(Account).where(Account.platform == "meta")).first()
    assert account is not None
    ana = browser(engine, "ana")
    page = ana.get("/settings").text
    assert "ADCLUSTER_GUARDRAIL_MAX_CHANGE" in page and "Only admins change them" in page
    refused = ana.post(
        "/settings/goals",
        data={
            "platform": "meta",
            "account_id": account.platform_id,
            "target_cpa": "25",
            "csrf_token": csrf(page),
        },
        follow_redirects=False,
    )
    assert "only+admins" in refused.headers["location"]
    adam = browser(engine, "adam")
    form = adam.get("/settings").text
    bad = adam.post(
        "/settings/goals",
        data={
            "platform": "meta",
            "account_id": account.platform_id,
            "target_cpa": "-3",
            "csrf_token": csrf(form),
        },
        follow_redirects=False,
    )
    assert "not+valid" in bad.headers["location"]
    saved = adam.post(
        "/settings/goals",
        data={
            "platform": "meta",
            "account_id": account.platform_id,
            "target_cpa": "25.50",
            "csrf_token": csrf(form),
        },
        follow_redirects=False,
    )
    assert "saved" in saved.headers["location"]
    with Session(engine) as session:
        goal = session.exec(select(Goal).where(Goal.entity_id == account.id)).one()
    assert goal.target_cpa_micros == 25_500_000
    assert 'value="25.5"' in adam.get("/settings").text or 'value="25.50"' in adam.get("/settings").text
