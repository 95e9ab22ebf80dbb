"""The creative asset store: content-addressed bytes plus their metadata in the warehouse.

An asset's id is the sha256 of its bytes, so storing the same file twice gives the same record. The
bytes are checked (storage/asset_content.py) and written atomically (storage/blobs.py) before the
metadata row is committed: a failed or interrupted put leaves neither a partial file nor a row. A
variant names the asset it was made from (`parent_id`); tags come from a fixed vocabulary of kinds;
an upload records the id each platform gave the asset; links to ads let its performance roll up from
`daily_metric` across ads and platforms.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from storage.asset_content import AssetKind, InvalidAssetError, inspect_content
from storage.asset_types import (
    AssetMeta,
    AssetNotFoundError,
    AssetPerformance,
    AssetRecord,
    CorruptBlobError,
    PlatformPerformance,
    Tag,
    TagKind,
    UnknownTagKindError,
    Upload,
)
from storage.blobs import BlobKeyError, BlobStore, LocalBlobStore, check_key
from storage.db import session_scope
from storage.models import Account, Asset, AssetAd, AssetPlatform, AssetTag, DailyMetric

__all__ = [
    "AssetKind",
    "AssetMeta",
    "AssetNotFoundError",
    "AssetPerformance",
    "AssetRecord",
    "AssetStore",
    "CorruptBlobError",
    "InvalidAssetError",
    "PlatformPerformance",
    "Tag",
    "TagKind",
    "UnknownTagKindError",
    "Upload",
]

DEFAULT_MAX_BYTES = 512 * 1024 * 1024


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _record(row: Asset, tags: Iterable[AssetTag] = ()) -> AssetRecord:
    return AssetRecord(**row.model_dump(), tags=[Tag(kind=TagKind(t.kind), value=t.value) for t in tags])


def _insert_ignore(session: Session, model: type[Any], rows: Sequence[dict[str, Any]]) -> None:
    """INSERT … ON CONFLICT DO NOTHING on SQLite and PostgreSQL: repeating an insert is harmless."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(model.__table__).on_conflict_do_nothing(), list(rows))


class AssetStore:
    """Assets by content: `put` bytes, `get` their record, `read` them back, and relate them."""

    def __init__(
        self,
        *,
        engine: Engine,
        blobs: BlobStore,
        max_bytes: int = DEFAULT_MAX_BYTES,
        clock: Callable[[], dt.datetime] = _utcnow,
    ) -> None:
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        self.engine = engine
        self.blobs = blobs
        self.max_bytes = max_bytes
        self._clock = clock

    @classmethod
    def local(cls, root: Path, *, engine: Engine, max_bytes: int = DEFAULT_MAX_BYTES) -> AssetStore:
        return cls(engine=engine, blobs=LocalBlobStore(root), max_bytes=max_bytes)

    # --- bytes and records -------------------------------------------------------------------------

    def put(self, data: bytes, meta: AssetMeta) -> AssetRecord:
        """Store `data` once. The same bytes again return the first record (first metadata wins; new
        tags are added). Raises InvalidAssetError for empty, corrupt, unsupported or oversized bytes and
        AssetNotFoundError for an unknown parent; in either case nothing is written."""
        if isinstance(data, bytes | bytearray | memoryview) and len(data) > self.max_bytes:
            raise InvalidAssetError(
                f"asset of {len(data)} bytes exceeds the store's limit of {self.max_bytes}"
            )
        content = inspect_content(data, meta.kind)
        data = bytes(data)
        asset_id = hashlib.sha256(data).hexdigest()
        tag_rows = [{"asset_id": asset_id, "kind": t.kind.value, "value": t.value} for t in meta.tags]
        with session_scope(self.engine) as session:
            existing = session.get(Asset, asset_id)
            if existing is not None:
                if not self.blobs.exists(asset_id):  # heal a blob lost outside the store
                    self.blobs.write(asset_id, data)
                _insert_ignore(session, AssetTag, tag_rows)
                return self._load(session, asset_id)
            if meta.parent_id is not None:
                self._require(session, meta.parent_id)
            is_image = meta.kind is AssetKind.IMAGE
            row = {
                "id": asset_id,
                "kind": meta.kind.value,
                "mime": content.mime,
                "size_bytes": len(data),
                "width": content.width if is_image else meta.width,
                "height": content.height if is_image else meta.height,
                "duration_ms": None if is_image else meta.duration_ms,
                "parent_id": meta.parent_id,
                "source": meta.source,
                "label": meta.label,
                "created_at": self._clock(),
            }
            # Bytes first, then the row in the same transaction: a row never names a missing file.
            self.blobs.write(asset_id, data)
            _insert_ignore(session, Asset, [row])
            _insert_ignore(session, AssetTag, tag_rows)
            session.flush()
            return self._load(session, asset_id)

    def get(self, asset_id: str) -> AssetRecord:
        with Session(self.engine) as session:
            return self._load(session, asset_id)

    def read(self, asset_id: str) -> bytes:
        """The asset's bytes, checked against its id."""
        self.get(asset_id)
        data = self.blobs.read(asset_id)
        if hashlib.sha256(data).hexdigest() != asset_id:
            raise CorruptBlobError(f"stored bytes of asset {asset_id} no longer match their sha256")
        return data

    def children(self, asset_id: str) -> list[AssetRecord]:
        """The variants made directly from `asset_id`, oldest first."""
        with Session(self.engine) as session:
            self._require(session, asset_id)
            rows = session.exec(
                select(Asset)
                .where(Asset.parent_id == asset_id)
                .order_by(col(Asset.created_at), col(Asset.id))
            ).all()
            return [self._load(session, r.id) for r in rows]

    def lineage(self, asset_id: str) -> list[AssetRecord]:
        """The asset, its parent, its parent's parent, … up to the original."""
        chain: list[AssetRecord] = []
        with Session(self.engine) as session:
            current: str | None = asset_id
            while current is not None and len(chain) < 1000:
                record = self._load(session, current)
                chain.append(record)
                current = record.parent_id
        return chain

    # --- tags, ads, uploads ------------------------------------------------------------------------

    def tag(self, asset_id: str, *, kind: str | TagKind, value: str) -> Tag:
        """Add one tag (idempotent). An unknown kind raises UnknownTagKindError."""
        tag = Tag.of(kind, value)
        with session_scope(self.engine) as session:
            self._require(session, asset_id)
            _insert_ignore(
                session, AssetTag, [{"asset_id": asset_id, "kind": tag.kind.value, "value": tag.value}]
            )
        return tag

    def tags(self, asset_id: str) -> list[Tag]:
        return self.get(asset_id).tags

    def link_ad(self, asset_id: str, *, ad_id: str, role: str = "creative") -> None:
        """Record that ad `ad_id` (internal id) uses the asset (idempotent)."""
        if not ad_id:
            raise ValueError("ad_id must not be empty")
        with session_scope(self.engine) as session:
            self._require(session, asset_id)
            row = {"asset_id": asset_id, "ad_id": ad_id, "role": role, "linked_at": self._clock()}
            _insert_ignore(session, AssetAd, [row])

    def ads(self, asset_id: str) -> list[str]:
        with Session(self.engine) as session:
            self._require(session, asset_id)
            query = select(AssetAd.ad_id).where(AssetAd.asset_id == asset_id).order_by(col(AssetAd.ad_id))
            return list(session.exec(query).all())

    def record_upload(self, upload: Upload) -> Upload:
        """Record (or replace) the id a platform account gave the asset."""
        stamped = upload.model_copy(update={"uploaded_at": upload.uploaded_at or self._clock()})
        with session_scope(self.engine) as session:
            self._require(session, upload.asset_id)
            key = (upload.asset_id, upload.platform, upload.account_id)
            row = session.get(AssetPlatform, key) or AssetPlatform(
                asset_id=upload.asset_id,
                platform=upload.platform,
                account_id=upload.account_id,
                platform_ref="",
            )
            row.platform_ref = stamped.platform_ref
            row.placements = list(stamped.placements)
            row.uploaded_at = stamped.uploaded_at  # type: ignore[assignment]
            session.add(row)
        return stamped

    def uploads(self, asset_id: str) -> list[Upload]:
        with Session(self.engine) as session:
            self._require(session, asset_id)
            rows = session.exec(
                select(AssetPlatform)
                .where(AssetPlatform.asset_id == asset_id)
                .order_by(col(AssetPlatform.platform), col(AssetPlatform.account_id))
            ).all()
            return [Upload(**r.model_dump()) for r in rows]

    def find_upload(self, *, platform: str, platform_ref: str) -> AssetRecord | None:
        """The asset a platform id (an image hash seen in a synced creative, say) refers to."""
        with Session(self.engine) as session:
            asset_id = session.exec(
                select(AssetPlatform.asset_id).where(
                    AssetPlatform.platform == platform, AssetPlatform.platform_ref == platform_ref
                )
            ).first()
            return None if asset_id is None else self._load(session, asset_id)

    # --- performance -------------------------------------------------------------------------------

    def performance(
        self, asset_ids: Sequence[str], *, since: dt.date, until: dt.date
    ) -> list[AssetPerformance]:
        """Per asset (in the order asked), delivery summed over every linked ad on every platform."""
        if since > until:
            raise ValueError(f"since ({since}) is after until ({until})")
        ids = list(dict.fromkeys(asset_ids))
        with Session(self.engine) as session:
            for asset_id in ids:
                self._require(session, asset_id)
            linked: dict[str, int] = dict(
                session.exec(  # type: ignore[arg-type]
                    select(AssetAd.asset_id, func.count())
                    .where(col(AssetAd.asset_id).in_(ids))
                    .group_by(col(AssetAd.asset_id))
                ).all()
            )
            platform = func.coalesce(Account.platform, "unknown")
            rows = session.exec(
                select(  # type: ignore[call-overload]
                    AssetAd.asset_id,
                    platform,
                    DailyMetric.currency,
                    func.count(func.distinct(DailyMetric.ad_id)),
                    func.sum(DailyMetric.impressions),
                    func.sum(DailyMetric.clicks),
                    func.sum(DailyMetric.conversions),
                    func.sum(DailyMetric.spend_micros),
                    func.sum(DailyMetric.value_micros),
                )
                .join(DailyMetric, col(DailyMetric.ad_id) == col(AssetAd.ad_id))
                .join(Account, col(Account.id) == col(DailyMetric.account_id), isouter=True)
                .where(col(AssetAd.asset_id).in_(ids), DailyMetric.day >= since, DailyMetric.day <= until)
                .group_by(col(AssetAd.asset_id), platform, col(DailyMetric.currency))
                .order_by(col(AssetAd.asset_id), platform, col(DailyMetric.currency))
            ).all()
        slices: dict[str, list[PlatformPerformance]] = defaultdict(list)
        for asset_id, plat, currency, ads, imps, clicks, convs, spend, value in rows:
            slices[asset_id].append(
                PlatformPerformance(
                    platform=plat,
                    currency=currency,
                    ads=int(ads),
                    impressions=int(imps or 0),
                    clicks=int(clicks or 0),
                    conversions=int(convs or 0),
                    spend_micros=int(spend or 0),
                    value_micros=int(value or 0),
                )
            )
        return [self._roll_up(a, since, until, linked.get(a, 0), slices.get(a, [])) for a in ids]

    @staticmethod
    def _roll_up(
        asset_id: str, since: dt.date, until: dt.date, linked: int, parts: list[PlatformPerformance]
    ) -> AssetPerformance:
        spend: dict[str, int] = defaultdict(int)
        value: dict[str, int] = defaultdict(int)
        for p in parts:
            spend[p.currency] += p.spend_micros
            value[p.currency] += p.value_micros
        return AssetPerformance(
            asset_id=asset_id,
            since=since,
            until=until,
            linked_ads=linked,
            ads_with_delivery=sum(p.ads for p in parts),  # an ad has one platform and one currency
            impressions=sum(p.impressions for p in parts),
            clicks=sum(p.clicks for p in parts),
            conversions=sum(p.conversions for p in parts),
            spend_micros=dict(spend),
            value_micros=dict(value),
            by_platform=parts,
        )

    # --- helpers -----------------------------------------------------------------------------------

    def _require(self, session: Session, asset_id: str) -> Asset:
        try:
            check_key(asset_id)
        except BlobKeyError as exc:
            raise AssetNotFoundError(str(exc)) from None
        row = session.get(Asset, asset_id)
        if row is None:
            raise AssetNotFoundError(f"no asset {asset_id}")
        return row

    def _load(self, session: Session, asset_id: str) -> AssetRecord:
        row = self._require(session, asset_id)
        tags = session.exec(
            select(AssetTag)
            .where(AssetTag.asset_id == asset_id)
            .order_by(col(AssetTag.kind), col(AssetTag.value))
        ).all()
        return _record(row, tags)
