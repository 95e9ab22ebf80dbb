"""`adcluster creative write|variants|search|images|import` end to end: a scripted LLM over real HTTP,
the asset store and the vector index in a temporary data dir, a warehouse synced from the sandbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from sqlalchemy import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from app.cli import app
from sandbox.market.market import Market
from storage.models import Ad
from tools.llm.fake import Fail, FakeChatServer, Reply

runner = CliRunner()


def draft(headline: str, text: str, offer: str = "none") -> Reply:
    return Reply.json(
        {
            "headline": headline,
            "primary_text": text,
            "cta_type": "shop_now",
            "emotion": "calm" if "calm" in headline.lower() else "joy",
            "theme": "quality",
            "offer": offer,
            "language": "en",
        }
    )


@pytest.fixture
def studio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ADCLUSTER_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def invoke(*args: str) -> dict:  # type: ignore[type-arg]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_write_keeps_tagged_variants_in_the_library_and_search_finds_them(
    studio: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeChatServer(
        [
            draft("Roll out calm", "Grippy yoga mats that stay put on every pose."),
            draft("Save on yoga mats", "20% off cushioned yoga mats this week.", offer="discount"),
            draft("Backpacks for weekends", "Travel backpacks that carry everything you need."),
        ]
    )
    with fake.serve() as url:
        monkeypatch.setenv("ADCLUSTER_LLM_BASE_URL", url)
        monkeypatch.setenv("ADCLUSTER_LLM_MODEL", "fake-model")
        out = invoke("creative", "write", "--product", "yoga mats", "--platform", "meta", "-n", "3")
    assert [v["headline"] for v in out["variants"]] == [
        "Roll out calm",
        "Save on yoga mats",
        "Backpacks for weekends",
    ]
    assert len(out["asset_ids"]) == 3 and out["llm_usage"]["calls"] == 3
    hits = invoke("creative", "search", "a discount on mats", "-k", "3")
    assert hits[0]["asset_id"] == out["asset_ids"][1]  # the nearest in meaning
    only = invoke("creative", "search", "mats", "--tag", "offer:discount")
    assert [h["asset_id"] for h in only] == [out["asset_ids"][1]]
    bad = runner.invoke(app, ["creative", "search", "mats", "--tag", "mood:happy"])
    assert bad.exit_code == 2 and "Traceback" not in bad.output


def test_a_down_llm_is_a_clear_error_and_nothing_is_stored(
    studio: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeChatServer(then=Fail(status=503)).serve() as url:
        monkeypatch.setenv("ADCLUSTER_LLM_BASE_URL", url)
        monkeypatch.setenv("ADCLUSTER_LLM_MAX_RETRIES", "0")
        monkeypatch.setenv("ADCLUSTER_LLM_MODEL", "fake-model")
        result = runner.invoke(app, ["creative", "write", "--product", "mats", "--platform", "x", "-n", "2"])
    assert result.exit_code == 1 and "LLMUnavailableError" in result.output
    assert invoke("creative", "search", "mats") == []


def test_variants_of_a_synced_ad_carry_its_numbers_to_the_model(
    configured: Market, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert runner.invoke(app, ["sync", "--days", "7"]).exit_code == 0
    with Session(engine) as session:
        ad = session.exec(select(Ad)).first()
    assert ad is not None
    fake = FakeChatServer([draft("Fresh take", "A new way to see our range.")])
    with fake.serve() as url:
        monkeypatch.setenv("ADCLUSTER_LLM_BASE_URL", url)
        monkeypatch.setenv("ADCLUSTER_LLM_MODEL", "fake-model")
        out = invoke("creative", "variants", "--ad", ad.platform_id, "-n", "1")
    assert out["brief"]["platform"] == "meta" and out["variants"][0]["headline"] == "Fresh take"
    prompt = fake.requests[0].body["messages"][-1]["content"]
    assert "CTR:" in prompt and "<existing_ad>" in prompt
    missing = runner.invoke(app, ["creative", "variants", "--ad", "nope"])
    assert missing.exit_code == 2 and "no ad" in missing.output


def test_images_and_import_fill_the_library_and_report_bad_files(studio: Path) -> None:
    picture = Image.new("RGB", (1600, 1000), (240, 240, 235))
    ImageDraw.Draw(picture).ellipse((1250, 350, 1500, 650), fill=(200, 30, 30))
    source = studio / "product.jpg"
    picture.save(source)
    out = invoke(
        "creative", "images", str(source), "--platforms", "meta,tiktok", "--out", str(studio / "out")
    )
    assert {v["aspect"] for v in out["variants"]} >= {"1:1", "9:16", "1.91:1"}
    assert all(v["ok"] for v in out["variants"]) and len(list((studio / "out").iterdir())) == len(
        out["variants"]
    )
    folder = studio / "import"
    folder.mkdir()
    picture.save(folder / "red_ball.png")
    (folder / "copy.txt").write_text("Summer sale on red balls", encoding="utf-8")
    (folder / "broken.jpg").write_bytes(b"not an image")
    (folder / "notes.pdf").write_bytes(b"%PDF-1.4")
    result = invoke("creative", "import", str(folder))
    assert sorted(Path(d["file"]).name for d in result["imported"]) == ["copy.txt", "red_ball.png"]
    assert sorted(Path(f["file"]).name for f in result["failed"]) == ["broken.jpg", "notes.pdf"]
    again = invoke("creative", "import", str(folder))  # content-addressed: the same ids, nothing doubled
    assert [d["asset_id"] for d in again["imported"]] == [d["asset_id"] for d in result["imported"]]
    hits = invoke("creative", "search", "summer sale")
    assert hits[0]["text"] == "Summer sale on red balls"
