"""The creative index: nearest creatives by meaning, metadata filters, idempotent upserts, deletes and
re-indexing, persistence across processes' clients."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from storage.assets import Tag, TagKind, UnknownTagKindError
from storage.embeddings import EndpointEmbeddingFunction, MiniLMEmbeddingFunction
from storage.vectors import Band, CreativeDoc, CreativeIndex, EmptyQueryError, IndexConfigError

# Twelve short ads in four themes; each query paraphrases one ad without sharing its key words.
ADS = {
    "run-shoes": ("fitness", "Lightweight running shoes built for your next marathon"),
    "gym-leggings": ("fitness", "Crush your morning workout with breathable gym leggings"),
    "protein": ("fitness", "Protein shakes that help your muscles recover after training"),
    "beans": ("coffee", "Freshly roasted espresso beans delivered to your door every week"),
    "cold-brew": ("coffee", "Start your day with a smooth cold brew coffee"),
    "mugs": ("coffee", "Handmade ceramic mugs for the perfect morning latte"),
    "greece": ("travel", "Book a beach holiday in Greece with flights and hotel included"),
    "ski": ("travel", "Last-minute ski trips to the Alps at half price"),
    "tokyo": ("travel", "Explore Tokyo with a guided city tour and sushi tasting"),
    "savings": ("finance", "Open a savings account with no monthly fees"),
    "loan": ("finance", "Low interest personal loans approved in minutes"),
    "funds": ("finance", "Invest in index funds from your phone with zero commission"),
}
QUERIES = {
    "sneakers for long distance runners": "run-shoes",
    "yoga pants for exercising": "gym-leggings",
    "whey drink for muscle recovery": "protein",
    "coffee bean subscription": "beans",
    "iced coffee to wake up": "cold-brew",
    "cup for drinking cappuccino": "mugs",
    "summer vacation package on a Greek island": "greece",
    "cheap skiing holidays in the mountains": "ski",
    "Japan sightseeing trip": "tokyo",
    "bank account without fees": "savings",
    "borrow money quickly at a low rate": "loan",
    "buy ETFs with a mobile app": "funds",
}
BANDS = [Band.TOP, Band.MIDDLE, Band.BOTTOM]


def creatives() -> list[CreativeDoc]:
    docs = []
    for n, (asset_id, (theme, text)) in enumerate(ADS.items()):
        docs.append(
            CreativeDoc(
                asset_id=asset_id,
                text=text,
                platforms=["meta"] if n % 2 == 0 else ["x", "tiktok"],
                tags=[f"theme:{theme}", "language:en"],
                band=BANDS[n % 3],
                ad_ids=[f"ad-{asset_id}"],
            )
        )
    return docs


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbeddingFunction:
    return MiniLMEmbeddingFunction()


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory, minilm: MiniLMEmbeddingFunction) -> CreativeIndex:
    """The twelve ads, indexed once for the read-only tests."""
    index = CreativeIndex(path=tmp_path_factory.mktemp("library"), embedding_function=minilm)
    index.index(creatives())
    return index


@pytest.fixture
def fresh(tmp_path: Path, minilm: MiniLMEmbeddingFunction) -> CreativeIndex:
    index = CreativeIndex(path=tmp_path / "index", embedding_function=minilm)
    index.index(creatives())
    return index


def test_the_expected_neighbour_ranks_first_for_every_query(library: CreativeIndex) -> None:
    firsts = {query: library.search(query, k=3)[0].asset_id for query in QUERIES}
    assert firsts == QUERIES
    hit = library.search("sneakers for long distance runners", k=1)[0]
    assert hit.text == ADS["run-shoes"][1] and 0 < hit.similarity <= 1


def test_the_same_theme_fills_the_top_three(library: CreativeIndex) -> None:
    themes = {asset_id: theme for asset_id, (theme, _) in ADS.items()}
    for query, expected in QUERIES.items():
        if query in {"yoga pants for exercising", "cup for drinking cappuccino"}:
            continue  # short, vague queries: only the first place is promised
        top = [h.asset_id for h in library.search(query, k=3)]
        assert sum(themes[a] == themes[expected] for a in top) >= 2, (query, top)


def test_filters_by_platform_tags_and_band(library: CreativeIndex) -> None:
    on_meta = library.search("coffee", platform="meta", k=12)
    assert on_meta and all("meta" in h.platforms for h in on_meta)
    assert len(on_meta) == 6
    travel = library.search("a trip", tags=["theme:travel", Tag(kind=TagKind.LANGUAGE, value="en")], k=12)
    assert {h.asset_id for h in travel} == {"greece", "ski", "tokyo"}
    top = library.search("anything", band=Band.TOP, k=12)
    assert {h.band for h in top} == {Band.TOP} and len(top) == 4
    top_or_bottom = library.search("anything", band=["top", "bottom"], k=12)
    assert len(top_or_bottom) == 8
    both = library.search("coffee beans", platform="tiktok", tags=["theme:coffee"], k=5)
    assert [h.asset_id for h in both] == ["beans", "mugs"]  # cold-brew, on meta only, is filtered out
    assert library.search("coffee", tags=["theme:gardening"], k=5) == []
    hit = library.search("coffee bean subscription", k=1)[0]
    assert (hit.ad_ids, hit.kind.value, {str(t) for t in hit.tags}) == (
        ["ad-beans"],
        "text",
        {"theme:coffee", "language:en"},
    )


def test_indexing_again_is_an_upsert_that_replaces_every_field(fresh: CreativeIndex) -> None:
    fresh.index(creatives())
    assert fresh.count() == 12
    beans = fresh.get("beans")
    assert beans is not None
    changed = beans.model_copy(
        update={"tags": [Tag.of("theme", "breakfast")], "platforms": [], "band": "top"}
    )
    fresh.index([changed])
    assert fresh.count() == 12
    assert fresh.search("coffee", tags=["language:en"], k=12)[0].asset_id != "beans"  # old tag gone
    assert fresh.search("coffee", tags=["theme:breakfast"], k=3)[0].asset_id == "beans"
    again = fresh.get("beans")
    assert again is not None and again.platforms == [] and again.band is Band.TOP


def test_delete_and_reindex_leave_exactly_what_was_asked(fresh: CreativeIndex) -> None:
    fresh.delete(["loan", "funds"])
    assert fresh.count() == 10
    assert "loan" not in {h.asset_id for h in fresh.search("borrow money", k=10)}
    keep = [d for d in creatives() if d.asset_id in {"ski", "tokyo", "loan"}]
    assert fresh.reindex(keep) == 3
    assert fresh.count() == 3
    assert fresh.search("borrow money quickly at a low rate", k=1)[0].asset_id == "loan"


def test_the_index_persists_and_a_new_client_finds_it(
    tmp_path: Path, fresh: CreativeIndex, minilm: MiniLMEmbeddingFunction
) -> None:
    reopened = CreativeIndex(path=tmp_path / "index", embedding_function=minilm)
    assert reopened.count() == 12
    assert reopened.search("Japan sightseeing trip", k=1)[0].asset_id == "tokyo"
    assert reopened._client.get_settings().anonymized_telemetry is False


def test_another_embedding_function_on_the_same_collection_is_refused(
    fresh: CreativeIndex, tmp_path: Path
) -> None:
    other = EndpointEmbeddingFunction(
        base_url="http://llm.local/v1",
        model="m",
        transport=httpx.MockTransport(lambda r: httpx.Response(500)),
    )
    with pytest.raises(IndexConfigError, match="another embedding function"):
        CreativeIndex(path=tmp_path / "index", embedding_function=other)


def test_bad_queries_and_creatives_are_refused(library: CreativeIndex, tmp_path: Path) -> None:
    for empty in ["", "   \n"]:
        with pytest.raises(EmptyQueryError):
            library.search(empty)
    with pytest.raises(ValueError, match="k must be"):
        library.search("coffee", k=0)
    with pytest.raises(UnknownTagKindError):
        library.search("coffee", tags=["mood:happy"])
    with pytest.raises(ValueError):
        library.search("coffee", band="legendary")
    with pytest.raises(ValidationError):
        CreativeDoc(asset_id="a", text="  ")
    with pytest.raises(ValidationError):
        CreativeDoc(asset_id="a", text="ok", tags=["mood:happy"])


def test_an_empty_index_answers_nothing(tmp_path: Path, minilm: MiniLMEmbeddingFunction) -> None:
    index = CreativeIndex(path=tmp_path / "empty", embedding_function=minilm)
    assert index.search("coffee") == []
    assert index.get("nothing") is None
    assert index.index([]) == 0
