"""The creative index: a persistent Chroma collection of creatives, searched by meaning and filtered
by platform, tags and performance band.

One record per asset (its id is the asset's sha256), holding the creative's text (copy, or an image's
label and description) and its metadata: kind, platforms, tags as `kind:value` strings, performance
band, the ads that use it, and an image's MIME type and size. Indexing is an upsert that replaces every
field, so indexing the same creatives again changes nothing. Vectors come from the embedding function
given (storage/embeddings.py: offline MiniLM by default); telemetry is off.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any

import chromadb
from chromadb.api.types import Documents, EmbeddingFunction
from chromadb.config import Settings
from pydantic import BaseModel, Field, field_validator

from storage.asset_content import AssetKind
from storage.asset_types import Tag

DEFAULT_COLLECTION = "creatives"
UPSERT_BATCH = 512


class Band(StrEnum):
    """Where a creative stands against its peers (computed by the analytics, stored here for filters)."""

    TOP = "top"
    MIDDLE = "middle"
    BOTTOM = "bottom"
    UNTESTED = "untested"


class EmptyQueryError(ValueError):
    """A search with no text to search for."""


class IndexConfigError(RuntimeError):
    """The collection on disk was built with another embedding function."""


class CreativeDoc(BaseModel):
    """One creative as indexed."""

    asset_id: str = Field(min_length=1, max_length=128)
    text: str = Field(min_length=1)
    kind: AssetKind = AssetKind.TEXT
    platforms: list[str] = Field(default_factory=list)
    tags: list[Tag] = Field(default_factory=list)
    band: Band = Band.UNTESTED
    ad_ids: list[str] = Field(default_factory=list)
    mime: str | None = None
    width: int | None = None
    height: int | None = None
    parent_id: str | None = None

    @field_validator("text")
    @classmethod
    def _has_words(cls, text: str) -> str:
        if not text.strip():
            raise ValueError("a creative's text must not be blank")
        return text

    @field_validator("tags", mode="before")
    @classmethod
    def _parse_tags(cls, tags: Any) -> Any:
        if isinstance(tags, list | tuple):
            return [Tag.parse(t) if isinstance(t, str) else t for t in tags]
        return tags


class Hit(CreativeDoc):
    """A search result: the creative and how close it is to the query (cosine similarity, 1 = same)."""

    similarity: float
    distance: float


def _metadata(doc: CreativeDoc) -> dict[str, Any]:
    # Every key every time: Chroma merges metadata on upsert, and None removes a key.
    return {
        "asset_id": doc.asset_id,
        "kind": AssetKind(doc.kind).value,
        "band": Band(doc.band).value,
        "platforms": sorted(set(doc.platforms)) or None,
        "tags": sorted({str(t) for t in doc.tags}) or None,
        "ad_ids": sorted(set(doc.ad_ids)) or None,
        "mime": doc.mime,
        "width": doc.width,
        "height": doc.height,
        "parent_id": doc.parent_id,
    }


def _doc(text: str, meta: dict[str, Any]) -> dict[str, Any]:
    return {
        "asset_id": meta["asset_id"],
        "text": text,
        "kind": meta.get("kind", AssetKind.TEXT.value),
        "platforms": list(meta.get("platforms") or []),
        "tags": [Tag.parse(t) for t in meta.get("tags") or []],
        "band": meta.get("band", Band.UNTESTED.value),
        "ad_ids": list(meta.get("ad_ids") or []),
        "mime": meta.get("mime"),
        "width": meta.get("width"),
        "height": meta.get("height"),
        "parent_id": meta.get("parent_id"),
    }


class CreativeIndex:
    """Creatives in a Chroma collection persisted under `path`."""

    def __init__(
        self,
        *,
        path: Path,
        embedding_function: EmbeddingFunction[Documents],
        collection: str = DEFAULT_COLLECTION,
    ) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._client = chromadb.PersistentClient(
            path=str(self.path), settings=Settings(anonymized_telemetry=False, allow_reset=False)
        )
        try:
            self._collection = self._client.get_or_create_collection(
                collection,
                embedding_function=embedding_function,  # type: ignore[arg-type]
                configuration={"hnsw": {"space": "cosine"}},
            )
        except ValueError as exc:
            if "embedding function" not in str(exc).lower():
                raise
            raise IndexConfigError(
                f"collection {collection!r} under {self.path} was built with another embedding function "
                f"than {embedding_function.name()!r}; index into a new collection or directory ({exc})"
            ) from exc

    def count(self) -> int:
        return self._collection.count()

    def index(self, creatives: Iterable[CreativeDoc]) -> int:
        """Add or replace creatives by asset id (the last of duplicates in one call wins)."""
        latest = {doc.asset_id: doc for doc in creatives}
        docs = list(latest.values())
        for start in range(0, len(docs), UPSERT_BATCH):
            batch = docs[start : start + UPSERT_BATCH]
            self._collection.upsert(
                ids=[d.asset_id for d in batch],
                documents=[d.text for d in batch],
                metadatas=[_metadata(d) for d in batch],  # type: ignore[misc]
            )
        return len(docs)

    def get(self, asset_id: str) -> CreativeDoc | None:
        found = self._collection.get(ids=[asset_id], include=["documents", "metadatas"])
        if not found["ids"]:
            return None
        return CreativeDoc(**_doc(found["documents"][0], dict(found["metadatas"][0])))  # type: ignore[index]

    def delete(self, asset_ids: Sequence[str]) -> None:
        if asset_ids:
            self._collection.delete(ids=list(asset_ids))

    def reindex(self, creatives: Iterable[CreativeDoc]) -> int:
        """Make the index hold exactly `creatives`: index them and delete every other record."""
        docs = list(creatives)
        keep = {d.asset_id for d in docs}
        stale = [i for i in self._collection.get(include=[])["ids"] if i not in keep]
        self.delete(stale)
        return self.index(docs)

    def search(
        self,
        text: str,
        *,
        platform: str | None = None,
        tags: Sequence[Tag | str] | None = None,
        band: Band | str | Sequence[Band | str] | None = None,
        kind: AssetKind | str | None = None,
        k: int = 10,
    ) -> list[Hit]:
        """The `k` creatives nearest in meaning to `text` that pass every filter given (all tags must
        match; several bands mean any of them), nearest first."""
        if not isinstance(text, str) or not text.strip():
            raise EmptyQueryError("search needs some text to search for")
        if k < 1:
            raise ValueError("k must be at least 1")
        total = self.count()
        if total == 0:
            return []
        where = self._where(platform=platform, tags=tags, band=band, kind=kind)
        result = self._collection.query(
            query_texts=[text],
            n_results=min(k, total),
            where=where,  # type: ignore[arg-type]
            include=["documents", "metadatas", "distances"],
        )
        hits: list[Hit] = []
        for doc, meta, dist in zip(
            result["documents"][0],  # type: ignore[index]
            result["metadatas"][0],  # type: ignore[index]
            result["distances"][0],  # type: ignore[index]
            strict=True,
        ):
            hits.append(Hit(**_doc(doc, dict(meta)), similarity=1.0 - float(dist), distance=float(dist)))
        return hits

    @staticmethod
    def _where(
        *,
        platform: str | None,
        tags: Sequence[Tag | str] | None,
        band: Band | str | Sequence[Band | str] | None,
        kind: AssetKind | str | None,
    ) -> dict[str, Any] | None:
        clauses: list[dict[str, Any]] = []
        if platform:
            clauses.append({"platforms": {"$contains": platform}})
        for tag in tags or []:
            parsed = Tag.parse(tag) if isinstance(tag, str) else tag
            clauses.append({"tags": {"$contains": str(parsed)}})
        if band is not None:
            bands = [band] if isinstance(band, str) else list(band)
            values = [Band(b).value for b in bands]
            clauses.append({"band": values[0]} if len(values) == 1 else {"band": {"$in": values}})
        if kind is not None:
            clauses.append({"kind": AssetKind(kind).value})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}
