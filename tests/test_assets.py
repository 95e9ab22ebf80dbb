"""The creative asset store: content addressing, atomic writes, versions, tags, uploads, performance,
and the migration that adds its tables, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import time
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from PIL import Image
from sqlalchemy import Engine, inspect
from sqlmodel import Session, SQLModel, func, select

import storage.assets as assets_module
import storage.blobs as blobs_module
from storage.asset_content import inspect_content
from storage.assets import (
    AssetKind,
    AssetMeta,
    AssetNotFoundError,
    AssetStore,
    CorruptBlobError,
    InvalidAssetError,
    Tag,
    TagKind,
    UnknownTagKindError,
    Upload,
)
from storage.blobs import LocalBlobStore
from storage.db import alembic_config, migrate
from storage.models import Account, Asset, AssetTag, DailyMetric, internal_id
from storage.upsert import upsert

ASSET_TABLES = {"asset", "asset_tag", "asset_platform", "asset_ad"}
DAY = dt.date(2026, 11, 20)


def png(width: int = 40, height: int = 20, colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format="PNG")
    return buffer.getvalue()


MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64


@pytest.fixture
def store(engine: Engine, tmp_path: Path) -> AssetStore:
    return AssetStore.local(tmp_path / "assets", engine=engine)


def rows(engine: Engine, model: type[SQLModel]) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(model)).one()


def files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


# --- migrations -------------------------------------------------------------------------------------


def test_migration_0002_upgrades_a_warehouse_at_0001_and_keeps_its_rows(engine: Engine) -> None:
    config = alembic_config(engine)
    command.downgrade(config, "0001")
    assert not ASSET_TABLES & set(inspect(engine).get_table_names())
    account = internal_id("meta", "1", "account", "1")
    row = {"id": account, "platform": "meta", "platform_id": "1", "name": "Shop", "currency": "USD"}
    with Session(engine) as session:
        upsert(session, Account, [{**row, "timezone": "UTC", "status": "ACTIVE"}])
        session.commit()
    migrate(engine)
    assert set(inspect(engine).get_table_names()) >= ASSET_TABLES
    assert rows(engine, Account) == 1


def test_models_and_migrations_agree(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"render_as_batch": conn.dialect.name == "sqlite"})
        assert compare_metadata(context, SQLModel.metadata) == []


# --- content addressing -----------------------------------------------------------------------------


def test_put_is_idempotent_one_row_one_file_and_tags_accumulate(store: AssetStore, tmp_path: Path) -> None:
    data = png()
    first = store.put(data, AssetMeta(kind=AssetKind.IMAGE, label="hero", tags=[Tag.of("theme", "Summer")]))
    again = store.put(data, AssetMeta(kind=AssetKind.IMAGE, label="other", tags=[Tag.of("emotion", "joy")]))
    assert first.id == again.id == hashlib.sha256(data).hexdigest()
    assert (first.mime, first.width, first.height, first.size_bytes) == ("image/png", 40, 20, len(data))
    assert again.label == "hero"  # the first metadata wins
    assert {str(t) for t in again.tags} == {"theme:summer", "emotion:joy"}
    assert rows(store.engine, Asset) == 1
    assert len(files(tmp_path / "assets")) == 1
    assert store.read(first.id) == data
    assert store.get(first.id) == again


def test_text_and_video_assets_keep_their_declared_measures(store: AssetStore) -> None:
    copy = "Soldes d’été : -30 % sur les sandales"
    text = store.put(copy.encode(), AssetMeta(kind=AssetKind.TEXT, source="llm"))
    assert store.read(text.id).decode() == copy
    assert (text.mime, text.width, text.source) == ("text/plain; charset=utf-8", None, "llm")
    video = store.put(MP4, AssetMeta(kind="video", width=1080, height=1920, duration_ms=15_000))
    assert (video.mime, video.width, video.height, video.duration_ms) == ("video/mp4", 1080, 1920, 15_000)


def test_variants_know_their_parent_and_the_parent_lists_them(store: AssetStore) -> None:
    source = store.put(png(), AssetMeta(kind=AssetKind.IMAGE, source="import"))
    square = store.put(png(30, 30), AssetMeta(kind=AssetKind.IMAGE, parent_id=source.id, label="1:1"))
    story = store.put(png(18, 32), AssetMeta(kind=AssetKind.IMAGE, parent_id=source.id, label="9:16"))
    recoloured = store.put(png(30, 30, (0, 0, 255)), AssetMeta(kind=AssetKind.IMAGE, parent_id=square.id))
    assert {c.id for c in store.children(source.id)} == {square.id, story.id}
    assert [c.id for c in store.children(square.id)] == [recoloured.id]
    assert store.children(story.id) == []
    assert [r.id for r in store.lineage(recoloured.id)] == [recoloured.id, square.id, source.id]


def test_unknown_parent_is_refused_and_nothing_is_written(store: AssetStore, tmp_path: Path) -> None:
    with pytest.raises(AssetNotFoundError):
        store.put(png(), AssetMeta(kind=AssetKind.IMAGE, parent_id="0" * 64))
    assert rows(store.engine, Asset) == 0
    assert files(tmp_path / "assets") == []


# --- atomic writes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("crash", [OSError("disk full"), KeyboardInterrupt()])
def test_a_crash_mid_write_leaves_no_file_and_no_row(
    store: AssetStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crash: BaseException
) -> None:
    data = png()

    def die(_fd: int) -> None:  # the bytes are in the temporary file; the crash comes before the rename
        raise crash

    monkeypatch.setattr(blobs_module.os, "fsync", die)
    with pytest.raises(type(crash)):
        store.put(data, AssetMeta(kind=AssetKind.IMAGE))
    monkeypatch.undo()
    assert files(tmp_path / "assets") == []  # neither the final name nor a temporary file
    assert rows(store.engine, Asset) == 0
    record = store.put(data, AssetMeta(kind=AssetKind.IMAGE))  # and the next try succeeds
    assert store.read(record.id) == data


def test_a_crash_before_the_row_commits_leaves_a_whole_file_and_no_row(
    store: AssetStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = png()

    def die(*_args: object) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(assets_module, "_insert_ignore", die)
    with pytest.raises(RuntimeError):
        store.put(data, AssetMeta(kind=AssetKind.IMAGE))
    monkeypatch.undo()
    assert rows(store.engine, Asset) == 0
    [blob] = files(tmp_path / "assets")
    assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name  # complete, never partial
    assert store.put(data, AssetMeta(kind=AssetKind.IMAGE)).id == blob.name
    assert rows(store.engine, Asset) == 1


def test_local_blobs_list_only_whole_files_and_sweep_stale_temporaries(tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path)
    key = hashlib.sha256(b"x").hexdigest()
    assert blobs.write(key, b"x") is True
    assert blobs.write(key, b"x") is False
    stale = blobs.path(key).parent / ".tmp-crashed"
    stale.write_bytes(b"half")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    assert list(blobs.keys()) == [key]
    assert blobs.sweep_temporaries(older_than_s=3600) == 1
    assert not stale.exists()


def test_bytes_changed_on_disk_are_reported_on_read(store: AssetStore, tmp_path: Path) -> None:
    record = store.put(png(), AssetMeta(kind=AssetKind.IMAGE))
    [blob] = files(tmp_path / "assets")
    blob.write_bytes(blob.read_bytes()[:-1] + b"\x00")
    with pytest.raises(CorruptBlobError):
        store.read(record.id)


# --- bad input --------------------------------------------------------------------------------------


BAD_BYTES = [
    (b"", AssetKind.IMAGE, "empty"),
    (b"", AssetKind.TEXT, "empty"),
    (b"", AssetKind.VIDEO, "empty"),
    (png()[:60], AssetKind.IMAGE, "corrupt"),
    (b"\x89PNG not really", AssetKind.IMAGE, "not an image"),
    (b"GIF89a" + b"\x00" * 5, AssetKind.IMAGE, "image"),
    (b"\xff\xfe\x00bad utf", AssetKind.TEXT, "UTF-8"),
    (b"   \n\t ", AssetKind.TEXT, "whitespace"),
    (b"caf\xc3\xa9\x00", AssetKind.TEXT, "NUL"),
    (b"just some bytes, not a video", AssetKind.VIDEO, "video container"),
]


@pytest.mark.parametrize(("data", "kind", "message"), BAD_BYTES)
def test_corrupt_or_empty_bytes_are_named_for_what_they_are(
    data: bytes, kind: AssetKind, message: str
) -> None:
    with pytest.raises(InvalidAssetError, match=message):
        inspect_content(data, kind)


def test_corrupt_or_empty_bytes_are_refused_and_nothing_is_written(store: AssetStore, tmp_path: Path) -> None:
    for data, kind, _ in BAD_BYTES:
        with pytest.raises(InvalidAssetError):
            store.put(data, AssetMeta(kind=kind))
    assert rows(store.engine, Asset) == 0
    assert files(tmp_path / "assets") == []


def test_images_too_large_to_decode_and_files_over_the_limit_are_refused(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # a 40x20 image now counts as a decompression bomb
    store = AssetStore.local(tmp_path, engine=engine)
    with pytest.raises(InvalidAssetError, match="too large"):
        store.put(png(), AssetMeta(kind=AssetKind.IMAGE))
    small = AssetStore.local(tmp_path, engine=engine, max_bytes=10)
    with pytest.raises(InvalidAssetError, match="exceeds"):
        small.put(b"eleven bytes", AssetMeta(kind=AssetKind.TEXT))


def test_unknown_tag_kinds_are_refused_with_the_vocabulary(store: AssetStore) -> None:
    record = store.put(b"Buy now", AssetMeta(kind=AssetKind.TEXT))
    with pytest.raises(UnknownTagKindError, match="emotion, theme, product, offer, cta_type, language"):
        store.tag(record.id, kind="mood", value="happy")
    with pytest.raises(UnknownTagKindError):
        Tag.parse("no-colon")
    assert store.tag(record.id, kind="CTA_TYPE", value=" Shop  Now ") == Tag(
        kind=TagKind.CTA_TYPE, value="shop now"
    )
    store.tag(record.id, kind=TagKind.LANGUAGE, value="en")
    store.tag(record.id, kind=TagKind.LANGUAGE, value="en")
    assert [str(t) for t in store.tags(record.id)] == ["cta_type:shop now", "language:en"]
    assert rows(store.engine, AssetTag) == 2


def test_unknown_or_malformed_ids_are_not_found(store: AssetStore) -> None:
    for asset_id in ["0" * 64, "not-a-hash", "../../etc/passwd"]:
        with pytest.raises(AssetNotFoundError):
            store.get(asset_id)
        with pytest.raises(AssetNotFoundError):
            store.tag(asset_id, kind="theme", value="x")
        with pytest.raises(AssetNotFoundError):
            store.link_ad(asset_id, ad_id="ad")
        with pytest.raises(AssetNotFoundError):
            store.performance([asset_id], since=DAY, until=DAY)


# --- platforms, ads and performance -----------------------------------------------------------------


def test_uploads_record_each_platform_id_and_a_re_upload_replaces_it(store: AssetStore) -> None:
    record = store.put(png(), AssetMeta(kind=AssetKind.IMAGE))
    meta_acct = internal_id("meta", "act_1", "account", "act_1")
    tiktok_acct = internal_id("tiktok", "77", "account", "77")
    store.record_upload(
        Upload(asset_id=record.id, platform="meta", account_id=meta_acct, platform_ref="abc123hash")
    )
    store.record_upload(
        Upload(
            asset_id=record.id,
            platform="tiktok",
            account_id=tiktok_acct,
            platform_ref="ad-img-1",
            placements=["PLACEMENT_TIKTOK"],
        )
    )
    store.record_upload(
        Upload(
            asset_id=record.id,
            platform="meta",
            account_id=meta_acct,
            platform_ref="newhash",
            placements=["feed", "story"],
        )
    )
    uploads = {u.platform: u for u in store.uploads(record.id)}
    assert (uploads["meta"].platform_ref, uploads["meta"].placements) == ("newhash", ["feed", "story"])
    assert uploads["tiktok"].placements == ["PLACEMENT_TIKTOK"]
    assert all(u.uploaded_at is not None for u in uploads.values())
    found = store.find_upload(platform="meta", platform_ref="newhash")
    assert found is not None and found.id == record.id
    assert store.find_upload(platform="meta", platform_ref="abc123hash") is None


def _metric(ad_id: str, account_id: str, currency: str, day: dt.date, **counts: int) -> dict[str, object]:
    return {
        "ad_id": ad_id,
        "day": day,
        "account_id": account_id,
        "adset_id": "s",
        "campaign_id": "c",
        "currency": currency,
        "impressions": counts.get("impressions", 0),
        "clicks": counts.get("clicks", 0),
        "spend_micros": counts.get("spend", 0),
        "conversions": counts.get("conversions", 0),
        "value_micros": counts.get("value", 0),
    }


def test_performance_rolls_up_across_two_ads_on_two_platforms(store: AssetStore) -> None:
    meta_acct = internal_id("meta", "act_1", "account", "act_1")
    tiktok_acct = internal_id("tiktok", "77", "account", "77")
    meta_ad, tiktok_ad, other_ad = "ad-meta-1", "ad-tiktok-1", "ad-meta-2"
    with Session(store.engine) as session:
        upsert(
            session,
            Account,
            [
                {"id": meta_acct, "platform": "meta", "platform_id": "act_1", "name": "M", "currency": "USD"}
                | {"timezone": "UTC", "status": "ACTIVE"},
                {"id": tiktok_acct, "platform": "tiktok", "platform_id": "77", "name": "T", "currency": "JPY"}
                | {"timezone": "Asia/Tokyo", "status": "ACTIVE"},
            ],
        )
        upsert(
            session,
            DailyMetric,
            [
                _metric(
                    meta_ad,
                    meta_acct,
                    "USD",
                    DAY,
                    impressions=1000,
                    clicks=20,
                    spend=5_000_000,
                    conversions=2,
                ),
                _metric(meta_ad, meta_acct, "USD", DAY + dt.timedelta(days=1), impressions=500, clicks=5),
                _metric(
                    meta_ad, meta_acct, "USD", DAY + dt.timedelta(days=9), impressions=999_999
                ),  # outside
                _metric(tiktok_ad, tiktok_acct, "JPY", DAY, impressions=3000, clicks=30, spend=900_000_000)
                | {"conversions": 3, "value_micros": 12_000_000_000},
                _metric(other_ad, meta_acct, "USD", DAY, impressions=7777, clicks=77),  # not linked
            ],
        )
        session.commit()
    image = store.put(png(), AssetMeta(kind=AssetKind.IMAGE))
    headline = store.put(b"Summer sale", AssetMeta(kind=AssetKind.TEXT))
    idle = store.put(b"Never used", AssetMeta(kind=AssetKind.TEXT))
    for ad in (meta_ad, tiktok_ad):
        store.link_ad(image.id, ad_id=ad, role="image")
        store.link_ad(image.id, ad_id=ad, role="image")  # idempotent
    store.link_ad(headline.id, ad_id=meta_ad, role="headline")
    store.link_ad(headline.id, ad_id="ad-created-not-yet-synced", role="headline")

    perf = store.performance([image.id, headline.id, idle.id], since=DAY, until=DAY + dt.timedelta(days=6))
    by_id = {p.asset_id: p for p in perf}
    img = by_id[image.id]
    assert [p.asset_id for p in perf] == [image.id, headline.id, idle.id]
    assert (img.linked_ads, img.ads_with_delivery) == (2, 2)
    assert (img.impressions, img.clicks, img.conversions) == (4500, 55, 5)
    assert img.spend_micros == {"USD": 5_000_000, "JPY": 900_000_000}  # never summed across currencies
    assert img.value_micros == {"USD": 0, "JPY": 12_000_000_000}
    assert {(p.platform, p.currency, p.impressions) for p in img.by_platform} == {
        ("meta", "USD", 1500),
        ("tiktok", "JPY", 3000),
    }
    assert float(img.ctr or 0) == pytest.approx(55 / 4500)
    hl = by_id[headline.id]
    assert (hl.linked_ads, hl.ads_with_delivery, hl.impressions) == (2, 1, 1500)
    assert (by_id[idle.id].linked_ads, by_id[idle.id].impressions, by_id[idle.id].ctr) == (0, 0, None)
    assert store.ads(image.id) == sorted([meta_ad, tiktok_ad])
    with pytest.raises(ValueError, match="after"):
        store.performance([image.id], since=DAY, until=DAY - dt.timedelta(days=1))
