"""Screenshots of the web console's main pages for the README, taken in Debian's headless Chromium on a
sandbox world synced over the APIs, with one cycle waiting for approval.

    .venv/bin/python docs/screenshots.py     # writes docs/screenshots/*.png (needs chromium, chromium-driver)
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app import composition
from app.cycle import open_cycle
from app.demo import demo_settings, sync_daily
from app.sandbox_runner import running_sandbox, serving
from app.web.api import create_app
from app.web.auth import NewUser, create_user
from sandbox.market.config import WorldConfig
from sandbox.market.market import Market

OUT = Path(__file__).parent / "screenshots"
PAGES = {
    "overview": "/",
    "campaigns": "/entities?level=adset",
    "approvals": "/approvals",
    "audit": "/audit",
}


async def _cycle(settings: object) -> None:
    async with open_cycle(settings, thread_id="screenshots") as cycle:  # type: ignore[arg-type]
        await cycle.graph.ainvoke({"request": None}, cycle.config("screenshots"), context=cycle.context)


def main() -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    OUT.mkdir(exist_ok=True)
    market = Market(WorldConfig(seed=7, accounts=1, ads=30, days=35))
    with running_sandbox(market) as base, tempfile.TemporaryDirectory() as tmp:
        settings = demo_settings(base, Path(tmp), llm=False)
        asyncio.run(sync_daily(settings, 35))
        asyncio.run(_cycle(settings))
        engine = composition.warehouse(settings)
        create_user(engine, NewUser(username="ana", password="correct horse battery", role="approver"))
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for flag in (
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            "--window-size=1280,1000",
            f"--user-data-dir={tmp}/chromium",
        ):
            options.add_argument(flag)
        with serving(create_app(settings, engine), name="the web console") as url:
            driver = webdriver.Chrome(
                options=options, service=Service(executable_path="/usr/bin/chromedriver")
            )
            try:
                driver.get(f"{url}/login")
                driver.find_element(By.NAME, "username").send_keys("ana")
                driver.find_element(By.NAME, "password").send_keys("correct horse battery")
                driver.find_element(By.CSS_SELECTOR, "form[action='/login'] button").click()
                WebDriverWait(driver, 20).until(
                    lambda d: d.find_elements(By.CSS_SELECTOR, "form[action='/logout']")
                )
                for name, path in PAGES.items():
                    driver.get(url + path)
                    driver.save_screenshot(str(OUT / f"{name}.png"))
                    print(OUT / f"{name}.png")
            finally:
                driver.quit()


if __name__ == "__main__":
    main()
