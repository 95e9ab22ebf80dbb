"""The web console in a real browser: Debian's headless Chromium driven by Selenium through Debian's
chromedriver (`.ci/run` installs both; nothing is downloaded). Log in, see the dashboard's charts, approve
a proposal and see the sandbox's budget change; a viewer cannot approve; a state change without the
CSRF token is refused; an ad named `<script>alert(1)</script>` shows as text and runs nothing."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from app.cli import app as cli
from app.sandbox_runner import serving
from app.settings import load_settings
from app.web.api import create_app
from app.web.auth import NewUser, create_user
from sandbox.market.changes import UpdateAd
from sandbox.market.market import Market
from tools.llm.fake import FakeChatServer, Reply

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
PASSWORD = "correct horse battery"
XSS = "<script>alert(1)</script>"

pytestmark = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and Path(DRIVER).exists()),
    reason="Debian's chromium and chromium-driver are not installed (.ci/run installs them)",
)


@pytest.fixture
def console(
    configured: Market, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, Market, dict]]:  # type: ignore[type-arg]
    world = configured.world
    ad = sorted(
        (a for a in world.ads.values() if world.account(a.account_id).platform == "meta"), key=lambda a: a.id
    )[0]
    configured.apply(UpdateAd(id=ad.id, name=XSS))
    result = CliRunner().invoke(cli, ["run", "--json"])
    assert result.exit_code == 0, result.output
    cycle = json.loads(result.stdout.strip().splitlines()[-1])
    for name, role in (("ana", "approver"), ("vic", "viewer")):
        create_user(engine, NewUser(username=name, password=PASSWORD, role=role))  # type: ignore[arg-type]
    model = FakeChatServer(then=Reply.tool("show_performance", {"days": 7}))
    with model.serve() as llm_url:
        monkeypatch.setenv("ADCLUSTER_LLM_BASE_URL", llm_url)
        monkeypatch.setenv("ADCLUSTER_LLM_MODEL", "fake-model")
        with serving(create_app(load_settings(), engine), name="the web console") as url:
            yield url, configured, cycle


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,900",
        f"--user-data-dir={tmp_path / 'chromium'}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(
        options=options, service=Service(executable_path=shutil.which("chromedriver") or DRIVER)
    )
    try:
        yield driver
    finally:
        driver.quit()


def log_in(driver: object, url: str, name: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(f"{url}/login")  # type: ignore[attr-defined]
    driver.find_element(By.NAME, "username").send_keys(name)  # type: ignore[attr-defined]
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)  # type: ignore[attr-defined]
    driver.find_element(By.CSS_SELECTOR, "form[action='/login'] button").click()  # type: ignore[attr-defined]
    WebDriverWait(driver, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, "form[action='/logout']"))  # type: ignore[arg-type]


def test_log_in_see_the_charts_approve_and_the_sandbox_changes(console: tuple, browser: object) -> None:  # type: ignore[type-arg]
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    url, market, cycle = console
    driver = browser
    log_in(driver, url, "ana")
    assert driver.current_url == f"{url}/"  # type: ignore[attr-defined]
    charts = driver.find_elements(By.CSS_SELECTOR, "svg.chart")  # type: ignore[attr-defined]
    assert len(charts) == 4 and all(c.size["width"] > 300 for c in charts)
    assert driver.find_elements(By.CSS_SELECTOR, "svg.chart polyline[data-series='meta']")  # type: ignore[attr-defined]
    budget = next(
        p["action"] for p in cycle["waiting"][0]["proposals"] if p["action"]["kind"] == "budget_change"
    )
    adset = market.world.adset(budget["entity"]["platform_id"])
    hour = market.clock.now_hour
    assert adset.value_at("daily_budget_micros", hour + 1) == budget["before_micros"]
    driver.get(f"{url}/approvals")  # type: ignore[attr-defined]
    row = driver.find_element(By.ID, f"proposal-{budget['id']}")  # type: ignore[attr-defined]
    row.find_element(By.CSS_SELECTOR, "button[value='approve']").click()
    found = WebDriverWait(driver, 30).until(  # type: ignore[arg-type]
        lambda d: d.find_elements(By.CSS_SELECTOR, ".flash, .error")
    )
    flash = found[0].text
    assert f"{budget['id']}: executed" in flash
    assert adset.value_at("daily_budget_micros", market.clock.now_hour + 1) == budget["after_micros"]


def test_a_viewer_cannot_approve_and_a_forged_post_is_refused(console: tuple, browser: object) -> None:  # type: ignore[type-arg]
    from selenium.webdriver.common.by import By

    url, _, cycle = console
    driver = browser
    log_in(driver, url, "vic")
    driver.get(f"{url}/approvals")  # type: ignore[attr-defined]
    assert not driver.find_elements(By.CSS_SELECTOR, "button[value='approve']")  # type: ignore[attr-defined]
    assert "viewers cannot answer" in driver.page_source  # type: ignore[attr-defined]
    some = cycle["waiting"][0]["proposals"][0]["action"]["id"]
    # A request from the logged-in browser without the CSRF token: refused, nothing answered.
    status = driver.execute_async_script(  # type: ignore[attr-defined]
        "const done = arguments[arguments.length - 1];"
        f"fetch('/approvals/{some}', {{method: 'POST', body: new URLSearchParams({{decision: 'approve'}})}})"
        ".then(r => done(r.url)).catch(e => done('error ' + e));"
    )
    assert "error=" in status and "CSRF" in status.replace("%20", " ").replace("+", " ")


def test_an_ad_named_like_a_script_shows_as_text(console: tuple, browser: object) -> None:  # type: ignore[type-arg]
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    url, _, _ = console
    driver = browser
    log_in(driver, url, "ana")
    driver.get(f"{url}/entities?level=ad&q=script")  # type: ignore[attr-defined]
    cells = [c.text for c in driver.find_elements(By.CSS_SELECTOR, "table td")]  # type: ignore[attr-defined]
    assert XSS in cells
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # type: ignore[attr-defined]  # noqa: B018


def test_chat_shows_the_agents_steps_as_they_stream(console: tuple, browser: object) -> None:  # type: ignore[type-arg]
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    url, _, _ = console
    driver = browser
    log_in(driver, url, "ana")
    driver.get(f"{url}/chat")  # type: ignore[attr-defined]
    driver.find_element(By.ID, "chat-message").send_keys("how are we doing?")  # type: ignore[attr-defined]
    driver.find_element(By.CSS_SELECTOR, "#chat-form button").click()  # type: ignore[attr-defined]
    log = WebDriverWait(driver, 30).until(  # type: ignore[arg-type]
        lambda d: (t := d.find_element(By.ID, "chat-log").text) and "spend" in t and t
    )
    assert "you> how are we doing?" in log and "> router: show_performance(days=7) - validated" in log
