"""benchmarks/creative.py on its smallest path, with fakes only: a scripted chat server instead of the
embedded model, a hashing embedding function instead of MiniLM. Checks the accounting, not the speed."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings

from benchmarks.creative import (
    BRIEFS,
    ad_texts,
    creatives,
    measure_copy,
    measure_embeddings,
    measure_search,
    queries,
)
from storage.asset_types import Tag
from tools.llm.fake import ChatRequest, FakeChatServer, Reply


class HashingEmbedding(EmbeddingFunction[Documents]):
    """Words hashed into 64 dimensions, unit length: similar words, similar vectors; no model."""

    def __init__(self) -> None:
        pass

    def __call__(self, input: Documents) -> Embeddings:
        out = []
        for text in input:
            v = np.zeros(64, dtype=np.float32)
            for word in re.findall(r"\w+", text.lower()):
                v[int(hashlib.md5(word.encode()).hexdigest(), 16) % 64] += 1.0
            out.append(v / max(float(np.linalg.norm(v)), 1e-9))
        return out

    @staticmethod
    def name() -> str:
        return "test-hashing"

    def get_config(self) -> dict[str, Any]:
        return {}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> HashingEmbedding:
        return HashingEmbedding()


def _draft(headline: str, text: str, offer: str = "none") -> str:
    return json.dumps(
        {
            "headline": headline,
            "primary_text": text,
            "cta_type": "shop_now",
            "emotion": "joy",
            "theme": "quality",
            "offer": offer,
            "language": "en",
        }
    )


def test_copy_figures_count_first_time_answers_drops_and_the_bare_baseline_apart() -> None:
    structured = iter(
        [
            Reply(content=_draft("Grip on wet rock", "Trail shoes that hold on every climb.")),  # clean
            Reply(content="not json at all"),  # then retried:
            Reply(content=_draft("Quiet commute", "Silence on a crowded train, all week long.")),
            Reply(content=_draft("Guaranteed results", "Guaranteed to change your life, or else.")),  # policy
            Reply(content=_draft("Cold water all day", "A bottle that keeps water cold for 24 hours.")),
        ]
    )

    def answer(request: ChatRequest) -> Reply:
        if request.response_format is not None:
            return next(structured)
        return Reply(content="Plain ad text, unchecked.", finish_reason="length")

    async def go() -> tuple[dict[str, Any], list[Any], list[str]]:
        async with FakeChatServer(then=answer).client() as llm:
            return await measure_copy(llm, BRIEFS[:3], 1, bare_max_tokens=32)

    figures, batches, bare = asyncio.run(go())
    v = figures["validation"]
    assert figures["variants_from_model"] == 3 and figures["variants_from_template"] == 0
    assert [len(b.variants) for b in batches] == [1, 1, 1]
    assert v["model_answers"] == 4 and v["first_time_valid"] == 3 and v["invalid_json_answers"] == 1
    # The x variant passed every check but needed a second answer for valid JSON.
    assert v["first_time_valid_and_json_first_attempt_share"] == 0.5
    assert v["json_valid_at_first_attempt_share"] == 0.75
    assert v["dropped_share"] == 0.25 and v["top_drop_reasons"][0][0].startswith("policy ")
    assert v["failed_after_retries_share"] == 0.0
    assert figures["bare"]["calls"] == 3 and figures["bare"]["cut_at_max_tokens_share"] == 1.0
    assert bare == ["Plain ad text, unchecked."] * 3
    assert figures["variants_per_min"] > 0 and figures["ratio_variants_per_min"] > 0


def test_generated_texts_and_creatives_are_distinct_and_reproducible() -> None:
    texts = ad_texts(300)
    assert len(set(texts)) == 300 and texts == ad_texts(300)
    docs = creatives(200)
    assert len({d.asset_id for d in docs}) == 200
    assert all(Tag.parse("language:en") in d.tags and d.platforms for d in docs)
    assert len(set(queries(20))) > 10


def test_embedding_figures_compare_two_functions_on_the_same_texts() -> None:
    fn = HashingEmbedding()
    texts = ad_texts(40)
    figures = measure_embeddings(fn, lambda t: np.asarray(fn(t)), texts, repeats=1, token_counts=[3, 5])
    assert figures["texts"] == 40 and figures["ratio"] > 0
    assert figures["min_cosine_between_the_two"] == 1.0 and figures["tokens_per_text_max"] == 5


def test_search_figures_match_the_exact_answer_on_a_small_index(tmp_path: Path) -> None:
    docs = creatives(150)
    figures = measure_search(HashingEmbedding(), docs, queries(8), tmp_path / "index")
    assert figures["indexed"] == 150 and figures["queries"] == 8
    unfiltered = figures["filter_none"]
    assert unfiltered["matching"] == 150 and unfiltered["recall_at_10"] >= 0.9
    tiktok = sum("tiktok" in d.platforms for d in docs)
    assert figures["filter_platform"]["matching"] == tiktok
    assert 0 < figures["filter_platform_and_tag"]["matching"] < tiktok
    assert unfiltered["index"]["median_ms"] > 0 and unfiltered["bare_numpy"]["median_ms"] > 0
