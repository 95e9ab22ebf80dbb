"""The creative studio's benchmarks, each against a bare baseline measured in the same process:

1. copy variants per minute through `write_variants` (the embedded SmolLM2 through `LLMClient.structured`,
   then repair to the platform's limits, policy, tag checks and de-duplication; the template fallback is
   off, so every variant counted is the model's) against bare `llm.complete` calls sending the same
   prompt for plain text, with no schema and no checks (capped at `--bare-max-tokens`: uncapped, the
   model rambles to the client's 512-token limit on every call); generated tokens per second of both;
2. the share of the model's answers that pass every check first time (`first_time_valid /
   model_answers`; and, stricter, also valid JSON at the first attempt), the share dropped with the top
   reasons, and the share of calls that failed after the client's retries;
3. embedding throughput of `MiniLMEmbeddingFunction` (tokenised once, length-sorted, padded per batch)
   against the same ONNX session fed the way the model's own `tokenizer.json` pads by default: every
   text to a fixed 128 tokens, batches in input order;
4. search latency through `CreativeIndex.search` (Chroma's HNSW, query embedded by the same function) at
   10,000 indexed creatives, without and with metadata filters, against brute-force numpy cosine over
   the same stored vectors (query embedded the same way, filters as boolean masks), with recall@10 of
   the index against the exact answer.

Ad texts, creatives and queries are generated combinatorially from product, benefit and offer phrases
(seeded). The index is loaded through `CreativeIndex.index` (it embeds every text: that time is
reported as the indexing rate); the numpy baseline reads the very vectors Chroma stored, so both
search the same 10,000 vectors and nothing is embedded twice.

Threads: the embedded model runs `EmbeddedConfig.threads` llama.cpp threads (default half the cores: 1 on
2 cores; `--threads` to change); onnxruntime uses its default (all cores). The LLM server is stopped
before the embedding and search measurements. The machine's cores and its load average at the start
and end are reported: other processes on a shared machine move every figure here. Three private names
are read on purpose: `tools.creative.text._messages` (the exact prompt the pipeline sends, for the bare
baseline), `MiniLMEmbeddingFunction._runtime` (its ONNX session and tokenizer, for the padded baseline and
token counts) and `CreativeIndex._collection` (to read the stored vectors back for numpy).

    .venv/bin/python -m benchmarks.creative [--quick] [--per-brief 4] [--creatives 10000] [--queries 200]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import re
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction

from storage.embeddings import MiniLMEmbeddingFunction, locate_minilm
from storage.vectors import Band, CreativeDoc, CreativeIndex
from tools.creative.text import ANGLES, Brief, VariantBatch, _messages, write_variants
from tools.llm.client import LLMClient
from tools.llm.config import EmbeddedConfig, LLMConfig
from tools.llm.embedded import default_threads
from tools.llm.errors import LLMError
from tools.llm.session import open_llm
from tools.llm.usage import UsageTotals

SEED = 20261125
K = 10

# -- briefs for the copy benchmark: several products on each platform ----------------------------------

BRIEFS = (
    Brief(
        product="trail running shoes",
        platform="meta",
        audience="runners who train on weekends",
        offer="free shipping on every order",
    ),
    Brief(
        product="noise-cancelling headphones",
        platform="x",
        audience="commuters and remote workers",
        offer="20% off this week",
    ),
    Brief(
        product="reusable water bottle", platform="tiktok", audience="students", offer="buy two, get one free"
    ),
    Brief(
        product="organic coffee beans subscription",
        platform="meta",
        audience="coffee lovers who brew at home",
        offer="first bag half price",
        tone="warm and calm",
    ),
    Brief(
        product="project management app",
        platform="x",
        audience="small team leads",
        offer="14-day free trial",
        tone="confident and clear",
    ),
    Brief(
        product="vegan skincare serum", platform="tiktok", audience="people who shop online", tone="playful"
    ),
)

# -- realistic ad texts, generated ------------------------------------------------------------------------

# (product, tag value, benefits of its own)
PRODUCTS = (
    ("trail running shoes", "running shoes", ("grip that holds on wet rock", "cushioning for long runs")),
    ("noise-cancelling headphones", "headphones", ("silence on a crowded train", "30 hours on one charge")),
    ("reusable water bottle", "water bottle", ("cold water for 24 hours", "no more plastic bottles")),
    ("organic coffee beans", "coffee", ("roasted the week you order", "rich flavour without bitterness")),
    ("project management app", "software", ("every deadline in one place", "plans your team actually reads")),
    ("vegan skincare serum", "skincare", ("skin that feels soft all day", "made without animal ingredients")),
    ("yoga mat", "yoga mat", ("grip in every pose", "cushioned for your knees")),
    ("electric toothbrush", "toothbrush", ("a dentist-clean feeling at home", "a battery that lasts weeks")),
    ("standing desk", "desk", ("sit or stand at the press of a button", "a steady desk at any height")),
    ("dog food", "pet food", ("real meat as the first ingredient", "recipes vets recommend")),
    ("language learning app", "education", ("five minutes a day is enough", "lessons that feel like games")),
    ("robot vacuum", "home appliance", ("clean floors while you are out", "maps every room on its own")),
    ("merino wool socks", "socks", ("warm feet without the itch", "socks that do not smell after a hike")),
    ("meal kit delivery", "food", ("dinner ready in 20 minutes", "fresh ingredients measured for you")),
    ("camping tent", "tent", ("up in five minutes", "dry through a night of rain")),
    ("smartwatch", "wearable", ("track your sleep and your runs", "a week of battery life")),
    ("kids' bike", "bike", ("light enough for small riders", "training wheels that come off easily")),
    ("houseplant delivery", "plants", ("plants that are hard to kill", "delivered in their pots")),
    ("budget travel backpack", "backpack", ("fits in every cabin", "a laptop pocket that opens flat")),
    ("cast iron pan", "cookware", ("a pan for a lifetime", "crisp crusts on every steak")),
)
BENEFITS = (
    "designed with people like you",
    "loved by thousands of customers",
    "built to last for years",
    "easy to set up in minutes",
    "better for the planet",
    "made by a small team that cares",
    "tested in real life, not just in a lab",
    "rated 4.8 out of 5 by our customers",
    "quality you can feel from day one",
    "simple to use, hard to put down",
)
# (offer line, offer tag)
OFFERS = (
    ("20% off this week", "discount"),
    ("Free shipping on every order", "free_shipping"),
    ("Try it free for 30 days", "free_trial"),
    ("Buy two, get one free", "bundle"),
    ("Today only: 15% off", "limited_time"),
    ("New season, new colours", "none"),
    ("", "none"),
    ("", "none"),
)
CTAS = ("Shop now.", "Order today.", "Learn more.", "Get yours.", "Sign up today.", "See the range.")
HEADLINES = (
    "Meet the {p}",
    "Your new favourite {p}",
    "{P}, reimagined",
    "Why everyone loves our {p}",
    "The {p} you have been waiting for",
    "Upgrade your {p}",
    "{P} for every day",
    "Say hello to better {p}",
)
BODIES = (
    "",  # a headline alone: short texts exist too
    "{B}. {O}",
    "Our {p}: {b}. {O} {cta}",
    "{B}, and {b2}. {O} {cta}",
    "Looking for {p}? {B}. {O} {cta}",
    "{B}. {B2}. Thousands of customers switched to our {p} this year and most of them tell us they "
    "will never go back. {O} {cta}",
)
PLATFORM_SETS = (["meta"], ["x"], ["tiktok"], ["meta", "x"], ["meta", "tiktok"], ["meta", "x", "tiktok"])
THEMES = ("price", "quality", "convenience", "social_proof", "novelty", "sustainability", "lifestyle")
EMOTIONS = ("joy", "trust", "urgency", "curiosity", "calm")
BANDS = (Band.TOP, Band.MIDDLE, Band.BOTTOM, Band.UNTESTED)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _ad(rng: random.Random) -> tuple[str, str, str]:
    """One ad text and its product and offer tags."""
    product, product_tag, own = rng.choice(PRODUCTS)
    b, b2 = rng.sample(own + BENEFITS, 2)
    offer, offer_tag = rng.choice(OFFERS)
    headline = rng.choice(HEADLINES).format(p=product, P=_cap(product))
    body = rng.choice(BODIES).format(
        p=product, b=b, b2=b2, B=_cap(b), B2=_cap(b2), O=f"{offer}." if offer else "", cta=rng.choice(CTAS)
    )
    text = re.sub(r"\s+", " ", f"{headline}. {body}".strip()).replace(" .", ".")
    return text, product_tag, offer_tag


def ad_texts(n: int, *, seed: int = SEED) -> list[str]:
    """`n` distinct ad texts (headline alone up to headline + three sentences), reproducible."""
    rng = random.Random(seed)
    seen: dict[str, None] = {}
    while len(seen) < n:
        seen.setdefault(_ad(rng)[0], None)
    return list(seen)


def creatives(n: int, *, seed: int = SEED) -> list[CreativeDoc]:
    """`n` distinct text creatives with platforms, tags and a performance band, reproducible."""
    rng = random.Random(seed + 1)
    docs: dict[str, CreativeDoc] = {}
    while len(docs) < n:
        text, product_tag, offer_tag = _ad(rng)
        asset_id = hashlib.sha256(text.encode()).hexdigest()
        if asset_id in docs:
            continue
        docs[asset_id] = CreativeDoc(
            asset_id=asset_id,
            text=text,
            platforms=rng.choice(PLATFORM_SETS),
            tags=[
                f"product:{product_tag}",
                f"offer:{offer_tag}",
                f"theme:{rng.choice(THEMES)}",
                f"emotion:{rng.choice(EMOTIONS)}",
                "language:en",
            ],
            band=rng.choice(BANDS),
        )
    return list(docs.values())


def queries(n: int, *, seed: int = SEED) -> list[str]:
    """Search phrases a marketer would type: a product with a benefit or an offer, in other words."""
    rng = random.Random(seed + 2)
    forms = (
        "{p} {b}",
        "{o} on {p}",
        "ads about {b}",
        "{p} that are {b2}",
        "cheap {p}",
        "{p} for beginners",
    )
    out = []
    for _ in range(n):
        product, _tag, own = rng.choice(PRODUCTS)
        out.append(
            rng.choice(forms).format(
                p=product, b=rng.choice(own), b2=rng.choice(BENEFITS), o=rng.choice(OFFERS[:5])[0].lower()
            )
        )
    return out


# -- 1 and 2: copy from the model ---------------------------------------------------------------------------


class _FirstAttempt:
    """The client as `write_variants` sees it, noting which drafts were valid JSON at the first attempt."""

    def __init__(self, llm: LLMClient) -> None:
        self.llm = llm
        self.calls = 0
        self.first_ok = 0
        self.first: set[tuple[str, str]] = set()

    async def structured(self, messages: Any, schema: Any, *, temperature: float | None = None) -> Any:
        self.calls += 1
        value = await self.llm.structured(messages, schema, temperature=temperature)
        records = self.llm.calls
        if records and records[-1].attempt == 1:
            self.first_ok += 1
            self.first.add((value.headline, value.primary_text))
        return value


def _delta(after: UsageTotals, before: UsageTotals) -> dict[str, float]:
    return {
        name: getattr(after, name) - getattr(before, name)
        for name in ("calls", "prompt_tokens", "completion_tokens", "latency_s", "invalid_outputs")
    }


def _sum(parts: Sequence[dict[str, float]]) -> dict[str, float]:
    total: Counter[str] = Counter()
    for part in parts:
        total.update(part)
    return dict(total)


def _reason_kind(reason: str) -> str:
    if reason.startswith("policy "):
        return reason.split(":", maxsplit=1)[0]
    if reason.startswith("near-duplicate of a creative in the library"):
        return "near-duplicate of the library"
    if reason.startswith("near-duplicate"):
        return "near-duplicate within the batch"
    if reason.startswith("reuses the headline"):
        return "reuses a headline"
    return re.sub(r"\d+", "N", re.sub(r"\s*\(.*\)$", "", reason))


def _rate_per_min(count: int, seconds: float) -> float:
    return 60.0 * count / seconds if seconds > 0 else 0.0


async def measure_copy(
    llm: LLMClient, briefs: Sequence[Brief], per_brief: int, *, bare_max_tokens: int
) -> tuple[dict[str, Any], list[VariantBatch], list[str]]:
    """Per brief, `write_variants(n=per_brief)` then `per_brief` bare completions of the same prompts
    (same angles, same temperature), interleaved so that both see the same machine."""
    await llm.complete([{"role": "user", "content": "Say hello."}], max_tokens=8)  # warm the server
    ours_s = bare_s = 0.0
    ours_use: list[dict[str, float]] = []
    bare_use: list[dict[str, float]] = []
    batches: list[VariantBatch] = []
    bare_texts: list[str] = []
    bare_calls = bare_nonempty = bare_cut = bare_failed = 0
    structured_calls = first_json = strict_first = 0
    for brief in briefs:
        recorder = _FirstAttempt(llm)
        before, t0 = llm.usage, time.perf_counter()
        batch = await write_variants(recorder, brief, per_brief)  # type: ignore[arg-type]
        ours_s += time.perf_counter() - t0
        ours_use.append(_delta(llm.usage, before))
        batches.append(batch)
        structured_calls += recorder.calls
        first_json += recorder.first_ok
        strict_first += sum(
            1
            for v in batch.variants
            if v.source == "model"
            and not v.repairs
            and not v.tag_fixes
            and (v.headline, v.primary_text) in recorder.first
        )

        before, t0 = llm.usage, time.perf_counter()
        for call in range(per_brief):
            bare_calls += 1
            try:
                answer = await llm.complete(
                    _messages(brief, None, ANGLES[call % len(ANGLES)]),
                    purpose="bare",
                    temperature=0.8,
                    max_tokens=bare_max_tokens,
                )
            except LLMError:
                bare_failed += 1
                continue
            if answer.text.strip():
                bare_nonempty += 1
                bare_texts.append(answer.text.strip())
            bare_cut += answer.finish_reason == "length"
        bare_s += time.perf_counter() - t0
        bare_use.append(_delta(llm.usage, before))

    ours, bare = _sum(ours_use), _sum(bare_use)
    asked = sum(b.asked for b in batches)
    from_model = sum(b.from_model for b in batches)
    answers = sum(b.model_answers for b in batches)
    first_time = sum(b.first_time_valid for b in batches)
    failures = [f for b in batches for f in b.model_failures]
    dropped = [d for b in batches for d in b.dropped]
    repaired = sum(1 for b in batches for v in b.variants if v.repairs)
    tag_fixed = sum(1 for b in batches for v in b.variants if v.tag_fixes)
    reasons = Counter(_reason_kind(d.reason) for d in dropped).most_common(5)
    failure_kinds = Counter(f.split(":")[1].strip() for f in failures if f.count(":") >= 2).most_common(3)
    ours_rate = _rate_per_min(from_model, ours_s)
    bare_rate = _rate_per_min(bare_nonempty, bare_s)

    def share(part: float, whole: float) -> float | None:
        return round(part / whole, 3) if whole else None

    def tps(use: dict[str, float]) -> float:
        return round(use.get("completion_tokens", 0) / use["latency_s"], 1) if use.get("latency_s") else 0.0

    figures: dict[str, Any] = {
        "briefs": len(briefs),
        "platforms": sorted({b.platform for b in briefs}),
        "asked": asked,
        "variants_from_model": from_model,
        "variants_from_template": sum(b.from_template for b in batches),
        "wall_s": round(ours_s, 2),
        "variants_per_min": round(ours_rate, 2),
        "http_answers": int(ours.get("calls", 0)),
        "completion_tokens_per_s": tps(ours),
        "prompt_tokens_per_call": round(ours["prompt_tokens"] / ours["calls"]) if ours.get("calls") else 0,
        "completion_tokens_per_call": round(ours["completion_tokens"] / ours["calls"])
        if ours.get("calls")
        else 0,
        "bare": {
            "calls": bare_calls,
            "nonempty": bare_nonempty,
            "failed": bare_failed,
            "max_tokens": bare_max_tokens,
            "cut_at_max_tokens_share": share(bare_cut, bare_calls - bare_failed),
            "wall_s": round(bare_s, 2),
            "variants_per_min": round(bare_rate, 2),
            "completion_tokens_per_s": tps(bare),
            "prompt_tokens_per_call": round(bare["prompt_tokens"] / bare["calls"])
            if bare.get("calls")
            else 0,
            "completion_tokens_per_call": round(bare["completion_tokens"] / bare["calls"])
            if bare.get("calls")
            else 0,
        },
        "ratio_variants_per_min": round(ours_rate / bare_rate, 3) if bare_rate else None,
        "validation": {
            "model_answers": answers,
            "first_time_valid": first_time,
            "first_time_valid_share": share(first_time, answers),
            "first_time_valid_and_json_first_attempt_share": share(strict_first, answers),
            "json_valid_at_first_attempt_share": share(first_json, structured_calls),
            "invalid_json_answers": int(ours.get("invalid_outputs", 0)),
            "accepted_share": share(from_model, answers),
            "accepted_after_repair_share": share(repaired, answers),
            "accepted_with_tag_fix_share": share(tag_fixed, answers),
            "dropped_share": share(len(dropped), answers),
            "top_drop_reasons": [[reason, count] for reason, count in reasons],
            "calls": answers + len(failures),
            "failed_after_retries_share": share(len(failures), answers + len(failures)),
            "failure_kinds": [[kind, count] for kind, count in failure_kinds],
        },
    }
    return figures, batches, bare_texts


async def run_copy(
    briefs: Sequence[Brief], per_brief: int, *, threads: int | None, bare_max_tokens: int
) -> tuple[dict[str, Any], list[VariantBatch], list[str]]:
    config = LLMConfig(embedded=EmbeddedConfig(threads=threads))
    t0 = time.perf_counter()
    async with open_llm(config) as llm:
        started = time.perf_counter() - t0
        figures, batches, bare = await measure_copy(llm, briefs, per_brief, bare_max_tokens=bare_max_tokens)
    figures = {
        "model": llm.model,
        "llm_threads": threads or default_threads(),
        "server_start_s": round(started, 2),
        **figures,
    }
    return figures, batches, bare


# -- 3: embedding throughput -------------------------------------------------------------------------------


def padded_baseline(fn: MiniLMEmbeddingFunction) -> Callable[[list[str]], np.ndarray]:
    """The same ONNX session, fed as the model's shipped tokenizer.json does by default: every text
    padded (and truncated) to a fixed 128 tokens, batches of the same size in input order, no sorting."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(locate_minilm().tokenizer))  # its own padding: Fixed(128)
    session = fn._runtime.session  # the very session the function runs: only the feeding differs
    names = {i.name for i in session.get_inputs()}
    batch = fn.batch_size

    def embed(texts: list[str]) -> np.ndarray:
        out = []
        for start in range(0, len(texts), batch):
            enc = tokenizer.encode_batch(texts[start : start + batch])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            hidden = session.run(None, {k: v for k, v in feeds.items() if k in names})[0]
            w = mask[..., None].astype(np.float32)
            pooled = (hidden * w).sum(axis=1) / np.clip(w.sum(axis=1), 1e-9, None)
            out.append(pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None))
        return np.vstack(out)

    return embed


def measure_embeddings(
    ours: Callable[[list[str]], Any],
    bare: Callable[[list[str]], np.ndarray],
    texts: list[str],
    *,
    repeats: int,
    token_counts: Sequence[int] | None = None,
) -> dict[str, Any]:
    """Texts per second of each (median of `repeats` alternating runs), and how far their vectors differ."""
    ours(texts[:8])
    bare(texts[:8])
    ours_t, bare_t = [], []
    a = b = np.zeros((0, 0))
    for _ in range(repeats):
        t0 = time.perf_counter()
        a = np.asarray(ours(texts), dtype=np.float32)
        ours_t.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        b = bare(texts)
        bare_t.append(time.perf_counter() - t0)
    ours_rate = len(texts) / statistics.median(ours_t)
    bare_rate = len(texts) / statistics.median(bare_t)
    figures: dict[str, Any] = {
        "texts": len(texts),
        "repeats": repeats,
        "texts_per_s": round(ours_rate, 1),
        "bare_padded_128_texts_per_s": round(bare_rate, 1),
        "ratio": round(ours_rate / bare_rate, 3),
        "min_cosine_between_the_two": round(float(np.min(np.sum(a * b, axis=1))), 5),
    }
    if token_counts:
        figures["tokens_per_text_mean"] = round(statistics.fmean(token_counts), 1)
        figures["tokens_per_text_max"] = max(token_counts)
    return figures


def run_embeddings(fn: MiniLMEmbeddingFunction, n: int, repeats: int) -> dict[str, Any]:
    texts = ad_texts(n, seed=SEED + 7)
    counts = [len(e.ids) for e in fn._runtime.tokenizer.encode_batch(texts)]
    return {
        "model": "all-MiniLM-L6-v2 int8 ONNX",
        "batch_size": fn.batch_size,
        **measure_embeddings(fn, padded_baseline(fn), texts, repeats=repeats, token_counts=counts),
    }


# -- 4: search latency ------------------------------------------------------------------------------------

FILTERS: dict[str, dict[str, Any]] = {
    "none": {},
    "platform": {"platform": "tiktok"},
    "platform_and_tag": {"platform": "tiktok", "tags": ["offer:discount"]},
}


def _mask(
    metas: Sequence[dict[str, Any]], platform: str | None = None, tags: Sequence[str] = ()
) -> np.ndarray:
    keep = np.ones(len(metas), dtype=bool)
    for i, meta in enumerate(metas):
        if (platform and platform not in (meta.get("platforms") or [])) or any(
            t not in (meta.get("tags") or []) for t in tags
        ):
            keep[i] = False
    return keep


def _ms(samples: list[float]) -> dict[str, float]:
    arr = np.asarray(samples) * 1000.0
    return {"median_ms": round(float(np.median(arr)), 3), "p95_ms": round(float(np.percentile(arr, 95)), 3)}


def measure_search(
    fn: EmbeddingFunction[Documents], docs: list[CreativeDoc], phrases: list[str], path: Path
) -> dict[str, Any]:
    index = CreativeIndex(path=path, embedding_function=fn)
    t0 = time.perf_counter()
    index.index(docs)
    index_s = time.perf_counter() - t0
    # The vectors Chroma stored, for the numpy baseline (read through the collection: CreativeIndex has
    # no bulk export). Filters become boolean masks over the same stored metadata.
    stored = index._collection.get(include=["embeddings", "metadatas"])
    ids = np.asarray(stored["ids"])
    matrix = np.asarray(stored["embeddings"], dtype=np.float32)
    metas = [dict(m) for m in stored["metadatas"]]  # type: ignore[union-attr]
    masks = {name: _mask(metas, f.get("platform"), f.get("tags", ())) for name, f in FILTERS.items()}

    def bare(text: str, keep: np.ndarray) -> list[str]:
        q = np.asarray(fn([text])[0], dtype=np.float32)
        rows = np.flatnonzero(keep)
        scores = matrix[rows] @ q
        k = min(K, rows.size)
        top = np.argpartition(-scores, k - 1)[:k]
        return ids[rows[top[np.argsort(-scores[top])]]].tolist()

    for text in phrases[:5]:  # warm both paths
        index.search(text, k=K)
        bare(text, masks["none"])
    ours_t: dict[str, list[float]] = {name: [] for name in FILTERS}
    bare_t: dict[str, list[float]] = {name: [] for name in FILTERS}
    recall: dict[str, list[float]] = {name: [] for name in FILTERS}
    embed_t: list[float] = []
    for text in phrases:
        t0 = time.perf_counter()
        fn([text])
        embed_t.append(time.perf_counter() - t0)
        for name, where in FILTERS.items():
            t0 = time.perf_counter()
            hits = index.search(text, k=K, **where)
            ours_t[name].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            exact = bare(text, masks[name])
            bare_t[name].append(time.perf_counter() - t0)
            if exact:
                recall[name].append(len({h.asset_id for h in hits} & set(exact)) / len(exact))
    out: dict[str, Any] = {
        "indexed": index.count(),
        "index_s": round(index_s, 2),
        "index_rate_per_s": round(len(docs) / index_s, 1),
        "queries": len(phrases),
        "k": K,
        "query_embedding": _ms(embed_t),
    }
    for name in FILTERS:
        ours_ms, bare_ms = _ms(ours_t[name]), _ms(bare_t[name])
        out[f"filter_{name}"] = {
            "matching": int(masks[name].sum()),
            "index": ours_ms,
            "bare_numpy": bare_ms,
            "ratio_median": round(ours_ms["median_ms"] / bare_ms["median_ms"], 3),
            "recall_at_10": round(statistics.fmean(recall[name]), 4) if recall[name] else None,
        }
    return out


# -- the run ----------------------------------------------------------------------------------------------


def _machine() -> dict[str, Any]:
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "cpu_count": os.cpu_count(),
        "usable_cores": affinity,
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "onnx_threads": "onnxruntime default (all cores)",
    }


def _print_copy(copy: dict[str, Any], batches: list[VariantBatch], bare_texts: list[str]) -> None:
    v, b = copy["validation"], copy["bare"]
    print(
        f"copy ({copy['model']}, {copy['llm_threads']} llama.cpp thread(s), server up in "
        f"{copy['server_start_s']} s; {copy['briefs']} briefs on {', '.join(copy['platforms'])}):"
    )
    print(
        f"  write_variants: {copy['variants_from_model']}/{copy['asked']} variants from the model "
        f"(template: {copy['variants_from_template']}) in {copy['wall_s']} s = "
        f"{copy['variants_per_min']} /min; {copy['http_answers']} answers, "
        f"{copy['completion_tokens_per_s']} tokens/s, {copy['prompt_tokens_per_call']} prompt + "
        f"{copy['completion_tokens_per_call']} completion tokens per answer"
    )
    print(
        f"  bare complete (same prompt, plain text, max {b['max_tokens']} tokens, no checks): "
        f"{b['nonempty']}/{b['calls']} texts in {b['wall_s']} s = {b['variants_per_min']} /min, "
        f"{b['completion_tokens_per_s']} tokens/s, {b['cut_at_max_tokens_share']} cut at the cap"
    )
    print(f"  ratio {copy['ratio_variants_per_min']} (variants/min, pipeline / bare)")
    print(
        f"  first time valid {v['first_time_valid']}/{v['model_answers']} = {v['first_time_valid_share']} "
        f"(also JSON at the first attempt: {v['first_time_valid_and_json_first_attempt_share']}); JSON "
        f"valid at first attempt {v['json_valid_at_first_attempt_share']}; repaired "
        f"{v['accepted_after_repair_share']}, tags fixed {v['accepted_with_tag_fix_share']}, dropped "
        f"{v['dropped_share']}; failed after retries {v['failed_after_retries_share']} of {v['calls']} calls"
    )
    for reason, count in v["top_drop_reasons"]:
        print(f"    dropped x{count}: {reason}")
    accepted = [(x.brief.platform, x.variants[0]) for x in batches if x.variants][:3]
    for platform, var in accepted:
        fixes = "; ".join(var.repairs + var.tag_fixes) or "as written"
        print(f"    accepted [{platform}] {var.headline!r} / {var.primary_text!r} ({fixes})")
    for platform, d in [(x.brief.platform, x.dropped[0]) for x in batches if x.dropped][:3]:
        print(f"    dropped  [{platform}] {d.headline!r} / {d.primary_text!r}: {d.reason}")
    for text in bare_texts[:2]:
        print(f"    bare: {text[:160]!r}")


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="3 briefs x 1 variant, 1,000 creatives")
    parser.add_argument("--per-brief", type=int, default=4, help="variants asked per brief (6 briefs)")
    parser.add_argument("--creatives", type=int, default=10_000, help="creatives indexed for search")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--embed-texts", type=int, default=320, help="texts for embedding throughput")
    parser.add_argument(
        "--threads", type=int, default=None, help="llama.cpp threads (default: half the cores)"
    )
    parser.add_argument("--bare-max-tokens", type=int, default=128)
    args = parser.parse_args(argv)
    briefs: Sequence[Brief] = BRIEFS
    repeats = 2
    if args.quick:
        briefs, args.per_brief = BRIEFS[:3], 1
        args.creatives, args.queries, args.embed_texts, repeats = 1_000, 50, 128, 1

    started = time.perf_counter()
    machine = _machine()
    print(
        f"machine: {machine['cpu_count']} cores ({machine['usable_cores']} usable), "
        f"load {machine['load_avg_1m']}"
    )
    copy, batches, bare_texts = asyncio.run(
        run_copy(briefs, args.per_brief, threads=args.threads, bare_max_tokens=args.bare_max_tokens)
    )
    _print_copy(copy, batches, bare_texts)

    fn = MiniLMEmbeddingFunction()
    embeddings = e = run_embeddings(fn, args.embed_texts, repeats)
    print(
        f"embeddings ({e['texts']} ad texts, {e['tokens_per_text_mean']} tokens each on average, max "
        f"{e['tokens_per_text_max']}): MiniLMEmbeddingFunction {e['texts_per_s']} texts/s, bare padded "
        f"to 128 {e['bare_padded_128_texts_per_s']} texts/s, ratio {e['ratio']} (vectors agree to "
        f"cosine >= {e['min_cosine_between_the_two']})"
    )

    with tempfile.TemporaryDirectory(prefix="adcluster-bench-") as tmp:
        search = measure_search(
            fn, creatives(args.creatives), queries(args.queries, seed=SEED + 3), Path(tmp) / "index"
        )
    print(
        f"search at {search['indexed']:,} creatives (indexed through CreativeIndex.index in "
        f"{search['index_s']} s = {search['index_rate_per_s']}/s), {search['queries']} queries, k={K}; "
        f"query embedding alone median {search['query_embedding']['median_ms']} ms:"
    )
    for name in FILTERS:
        f = search[f"filter_{name}"]
        print(
            f"  filter {name:16s} ({f['matching']:,} match): index median {f['index']['median_ms']} ms "
            f"p95 {f['index']['p95_ms']} ms; numpy median {f['bare_numpy']['median_ms']} ms p95 "
            f"{f['bare_numpy']['p95_ms']} ms; ratio {f['ratio_median']}; recall@10 {f['recall_at_10']}"
        )

    machine["load_avg_1m_end"] = round(os.getloadavg()[0], 2)
    result = {
        "creative": {
            "quick": args.quick,
            "machine": machine,
            "copy": copy,
            "embeddings": embeddings,
            "search": search,
            "elapsed_s": round(time.perf_counter() - started, 1),
        }
    }
    print(json.dumps(result, separators=(",", ":")))
    return result


if __name__ == "__main__":
    main()
