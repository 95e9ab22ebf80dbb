"""The creative library: written copy kept as text assets with their tags (the asset store) and indexed
for semantic search (the Chroma index), and the index as a similarity function that `write_variants`
uses to drop near-duplicates of what the library already holds. Used by `adcluster creative write` and
by the graph's creative agent."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

from storage.asset_types import AssetKind, AssetMeta, Tag
from storage.assets import AssetStore
from storage.vectors import CreativeDoc, CreativeIndex
from tools.creative.text import Similarity, VariantBatch

TAG_KINDS = ("emotion", "theme", "product", "offer", "cta_type", "language")


@dataclass(frozen=True)
class CreativeLibrary:
    store: AssetStore
    index: CreativeIndex

    def keep(self, batch: VariantBatch, model: str) -> list[str]:
        """Each variant as a text asset with its tags, indexed for search; the asset ids, in order."""
        ids, docs = [], []
        for v in batch.variants:
            tags = [Tag.of(kind, str(getattr(v.tags, kind))) for kind in TAG_KINDS]
            body = json.dumps({"headline": v.headline, "primary_text": v.primary_text, "cta": v.platform_cta})
            record = self.store.put(
                body.encode(),
                AssetMeta(
                    kind=AssetKind.TEXT, source=f"{v.source}:{model}", label=v.headline[:200], tags=tags
                ),
            )
            ids.append(record.id)
            docs.append(
                CreativeDoc(
                    asset_id=record.id,
                    text=f"{v.headline}\n{v.primary_text}",
                    platforms=[batch.brief.platform],
                    tags=tags,
                )
            )
        if docs:
            self.index.index(docs)
        return ids

    def similarity(self) -> Similarity | None:
        """How close a copy is to its nearest neighbour in the library (None while the library is empty)."""
        if not self.index.count():
            return None
        index = self.index

        async def nearest(copy: str) -> float:
            hits = await asyncio.to_thread(index.search, copy, k=1)
            return hits[0].similarity if hits else 0.0

        return nearest
