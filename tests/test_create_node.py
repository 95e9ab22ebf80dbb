"""The create node: the creative agent writes new copy for an ad set settled on a winner; the new ad is
a proposal like any other and reaches the platform only after approval, under its deterministic name."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph.types import Command
from sqlalchemy import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from app import composition
from app.cli import app
from app.cycle import open_cycle
from app.demo import sync_daily
from app.sandbox_runner import running_sandbox
from app.settings import load_settings
from sandbox.market.market import Market
from storage.audit import AuditLog
from storage.models import Ad, Creative
from tests.conftest import small_config
from tools.creative.library import CreativeLibrary
from tools.llm.fake import Fail, FakeChatServer, Reply

DRAFT = {
    "headline": "Run farther in comfort",
    "primary_text": "Light trail shoes with grip for every path. Free returns.",
    "cta_type": "shop_now",
    "emotion": "joy",
    "theme": "quality",
    "offer": "none",
    "language": "en",
}


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """SQLite only: the audit log and checkpoints on PostgreSQL are tested in test_graph and test_run_cli."""
    from storage.db import make_engine, migrate

    eng = make_engine(f"sqlite:///{tmp_path / 'warehouse.db'}")
    migrate(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def synced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: Engine) -> Iterator[Engine]:
    market = Market(small_config(seed=9, accounts=1, ads=20, days=14))
    with running_sandbox(market) as url:
        monkeypatch.setenv("ADCLUSTER_SANDBOX_URL", url)
        monkeypatch.setenv("ADCLUSTER_PLATFORMS", '["meta", "x", "tiktok"]')
        monkeypatch.setenv("ADCLUSTER_DATA_DIR", str(tmp_path / "data"))
        monkeypatch.setenv("ADCLUSTER_DATABASE_URL", engine.url.render_as_string(hide_password=False))
        # Daily figures only (what the graph reads): a full sync with segments takes far longer.
        asyncio.run(sync_daily(load_settings(), 14))
        yield engine


def _cycle(fake: FakeChatServer | None, thread: str, answer: str | None) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        settings = load_settings()
        llm = fake.client() if fake else None
        try:
            async with open_cycle(settings, thread_id=thread, llm=llm) as cycle:
                config = cycle.config(thread)
                first = await cycle.graph.ainvoke({"request": None}, config, context=cycle.context)
                if not first.get("__interrupt__"):
                    return {**first, "created": []}
                waiting = first["__interrupt__"][0].value["proposals"]
                created = [p for p in waiting if p["action"]["kind"] == "create_ad"]
                if answer is None:
                    return {**first, "created": created}
                decisions = [
                    {"id": p["action"]["id"], "decision": answer if p in created else "reject"}
                    for p in waiting
                ]
                done = await cycle.graph.ainvoke(
                    Command(resume={"decisions": decisions}), config, context=cycle.context
                )
                return {**done, "created": created}
        finally:
            if llm is not None:
                await llm.aclose()

    return asyncio.run(go())


def test_a_new_ad_is_proposed_from_the_winner_and_created_only_after_approval(synced: Engine) -> None:
    fake = FakeChatServer(then=Reply.json(DRAFT))
    waiting = _cycle(fake, "create-1", None)
    (created,) = waiting["created"]
    action = created["action"]
    assert action["proposed_by"] == "creative" and action["spec"]["headline"] == DRAFT["headline"]
    assert action["spec"]["name"].endswith(f"[{action['id']}]")  # found again after a crash, not doubled
    assert (
        created["verdict"] != "refused" and not created["auto_approved"]
    )  # a new ad can spend: a person decides
    # The copy is kept in the creative library (a tagged text asset, indexed for search).
    asset_id = action["evidence"][0]["figures"]["copy_asset_id"]
    settings = load_settings()
    library = CreativeLibrary(composition.asset_store(settings, synced), composition.creative_index(settings))
    assert library.store.get(asset_id).label == DRAFT["headline"]
    assert library.index.search(DRAFT["headline"], k=1)[0].asset_id == asset_id
    # The base ad's image and link are kept; only the words are new.
    with Session(synced) as session:
        names = {a.name for a in session.exec(select(Ad))}
    assert action["spec"]["name"] not in names
    # The next cycle asks about the same new ad again instead of writing another one for the ad set.
    again = FakeChatServer(then=Reply.json(DRAFT))
    done = _cycle(again, "create-2", "approve")
    assert [c["action"]["id"] for c in done["created"]] == [action["id"]] and again.requests == []
    assert [r["status"] for r in done["results"] if r["id"] == action["id"]] == ["executed"]
    # Once made, the ad set is given time to show how the new ad does: no new copy for it meanwhile.
    later = FakeChatServer(then=Reply.json(DRAFT))
    after = _cycle(later, "create-3", None)
    adset = action["entity"]["platform_id"]
    assert all(c["action"]["entity"]["platform_id"] != adset for c in after.get("created", []))
    assert any("a new ad was executed on" in n and "no new copy before" in n for n in after["notes"])
    assert CliRunner().invoke(app, ["sync", "--days", "1"]).exit_code == 0
    with Session(synced) as session:
        new = session.exec(select(Ad).where(Ad.name == done["created"][0]["action"]["spec"]["name"])).one()
        creative = session.get(Creative, new.creative_id)
    assert creative is not None and creative.headline == DRAFT["headline"]


def test_with_new_ads_off_the_cycle_says_which_ad_sets_could_test_one(
    synced: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ADCLUSTER_NEW_ADS_PER_CYCLE", "0")
    waiting = _cycle(None, "create-3", None)
    assert waiting["created"] == []
    assert any("could test a new ad; new ads are off" in n for n in waiting["notes"])


def test_a_cycle_opens_the_configured_model_only_for_new_ads_and_survives_its_failure(
    synced: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeChatServer(then=Reply.json(DRAFT)).serve() as url:
        monkeypatch.setenv("ADCLUSTER_LLM_BASE_URL", url)
        monkeypatch.setenv("ADCLUSTER_LLM_MODEL", "fake-model")
        opened = _cycle(None, "create-4", None)  # no client given: the cycle opens one for the create node
    assert len(opened["created"]) == 1
    # Nobody answered and it expired: the ad set is due new copy again (and the model now fails).
    AuditLog(synced).set_status(
        opened["created"][0]["action"]["id"], "expired", note="test", expect=("proposed",)
    )
    with FakeChatServer(then=Fail(status=503)).serve() as url:
        monkeypatch.setenv("ADCLUSTER_LLM_BASE_URL", url)
        monkeypatch.setenv("ADCLUSTER_LLM_MAX_RETRIES", "0")
        failed = _cycle(None, "create-5", None)
    assert failed["created"] == [] and failed["__interrupt__"]  # the other proposals still wait
    assert any("no new copy, the model failed" in n for n in failed["notes"]), failed["notes"]
