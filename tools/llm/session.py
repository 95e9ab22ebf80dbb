"""`open_llm(config)`: the client for a configuration, with the embedded server started (and stopped)
around it when no base URL is configured. The one way the rest of the project gets an LLM."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from pydantic import SecretStr

from tools.llm.client import LLMClient, Sleep
from tools.llm.config import LLMConfig
from tools.llm.embedded import EmbeddedServer


@asynccontextmanager
async def open_llm(
    config: LLMConfig, *, http_client: httpx.AsyncClient | None = None, sleep: Sleep = asyncio.sleep
) -> AsyncIterator[LLMClient]:
    if not config.is_embedded:
        async with LLMClient(config, http_client=http_client, sleep=sleep) as client:
            yield client
        return
    async with EmbeddedServer(config.embedded) as server:
        endpoint = config.model_copy(
            update={
                "base_url": server.base_url,
                "api_key": SecretStr(server.api_key),
                "model": server.model,
                "tool_mode": config.resolved_tool_mode,
            }
        )
        async with LLMClient(endpoint, http_client=http_client, sleep=sleep) as client:
            yield client
