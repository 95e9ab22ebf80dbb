"""The one place that reads the environment: every setting, with its ADCLUSTER_ variable.

Lists and maps are JSON (`ADCLUSTER_META_ACCOUNT_IDS='["act_1","act_2"]'`,
`ADCLUSTER_FX_RATES='{"EUR": "0.92"}'`). A bad value fails at start-up with the setting's name.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import Field, HttpUrl, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tools.ingest.goals import GoalSpec as Goal

PLATFORMS = ("meta", "x", "tiktok")
PLACEHOLDERS = {"changeme", "change-me", "xxx", "todo", "secret", "your-token-here"}


class SettingsError(ValueError):
    """A setting that cannot work; the message names it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ADCLUSTER_", env_file=".env", extra="ignore")

    environment: Literal["development", "production"] = "development"
    log_level: str = Field(
        default="INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$", description="logging level of library code"
    )
    data_dir: Path = Field(default=Path(".adcluster"), description="warehouse file and raw lake live here")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default SQLite in data_dir")
    lake_dir: Path | None = Field(default=None, description="raw lake root; default data_dir/lake")
    reporting_currency: str = Field(default="USD", min_length=3, max_length=3)
    fx_rates: dict[str, Decimal] = Field(
        default_factory=lambda: {
            "USD": Decimal(1),
            "EUR": Decimal("0.92"),
            "GBP": Decimal("0.79"),
            "JPY": Decimal(150),
        },
        description="units of each currency per one unit of the reporting currency",
    )
    platforms: list[str] = Field(default_factory=lambda: list(PLATFORMS), description="platforms to use")
    sync_days: int = Field(default=30, ge=1, le=1100, description="history a first sync reads")
    goals: list[Goal] = Field(default_factory=list)

    sandbox_url: HttpUrl | None = Field(default=None, description="point all three platforms at this sandbox")
    sandbox_host: str = Field(default="127.0.0.1", description="where `adcluster sandbox serve` listens")
    sandbox_port: int = Field(default=8700, ge=1, le=65535)
    sandbox_seed: int = Field(default=7, ge=0, le=2**63 - 1, description="seed of the sandbox's market")
    sandbox_today: dt.date | None = Field(default=None, description="simulated start date (default: today)")
    sandbox_state_dir: Path | None = Field(default=None, description="persist the sandbox world here")

    meta_base_url: HttpUrl = HttpUrl("https://graph.facebook.com")
    meta_api_version: str = Field(default="v25.0", pattern=r"^v\d+\.\d+$")
    meta_access_token: str | None = None
    meta_app_secret: str | None = None
    meta_account_ids: list[str] = Field(default_factory=list)

    x_base_url: HttpUrl = HttpUrl("https://ads-api.x.com")
    x_api_version: str = Field(default="12", pattern=r"^\d+$")
    x_consumer_key: str | None = None
    x_consumer_secret: str | None = None
    x_access_token: str | None = None
    x_access_token_secret: str | None = None
    x_account_ids: list[str] = Field(default_factory=list)

    tiktok_base_url: HttpUrl = HttpUrl("https://business-api.tiktok.com/open_api/v1.3")
    tiktok_access_token: str | None = None
    tiktok_app_id: str | None = None
    tiktok_secret: str | None = None
    tiktok_advertiser_ids: list[str] = Field(default_factory=list)

    llm_base_url: HttpUrl | None = Field(
        default=None,
        description="an OpenAI-compatible /v1 root (OpenAI, Azure /openai/v1, vLLM, Ollama, llama.cpp); "
        "unset: the embedded SmolLM2-135M on loopback",
    )
    llm_api_key: str | None = Field(default=None, description="the LLM server's key; local servers take none")
    llm_model: str | None = Field(default=None, description="model name, required with a base URL")
    llm_tool_mode: Literal["auto", "native", "json"] = Field(
        default="auto",
        description="native tool calls, or JSON validated against the tool schemas for models that make "
        "none; auto: json for the embedded model, native otherwise",
    )
    llm_timeout_s: float = Field(default=60.0, gt=0, le=3600, description="seconds per LLM request")
    llm_max_retries: int = Field(default=3, ge=0, le=10, description="retries of a failed LLM request")

    assets_dir: Path | None = Field(default=None, description="creative asset files; default data_dir/assets")
    vectors_dir: Path | None = Field(default=None, description="the Chroma index; default data_dir/vectors")
    embedding_base_url: HttpUrl | None = Field(
        default=None,
        description="an OpenAI-compatible /v1 root for embeddings; unset: the bundled int8 MiniLM, offline",
    )
    embedding_model: str = Field(default="text-embedding-3-small", description="model name at that endpoint")
    embedding_api_key: str | None = Field(default=None, description="the embedding endpoint's key")

    @field_validator("llm_base_url", "llm_api_key", "llm_model", "embedding_base_url", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("platforms")
    @classmethod
    def _known_platforms(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(PLATFORMS))
        if unknown:
            raise ValueError(f"unknown platform(s) {unknown}; choose from {list(PLATFORMS)}")
        return value

    @field_validator("reporting_currency")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.reporting_currency not in self.fx_rates:
            raise ValueError(
                f"ADCLUSTER_FX_RATES has no rate for the reporting currency {self.reporting_currency}"
            )
        if self.llm_base_url is None and (self.llm_model or self.llm_api_key):
            raise ValueError(
                "ADCLUSTER_LLM_MODEL and ADCLUSTER_LLM_API_KEY need ADCLUSTER_LLM_BASE_URL (without it the "
                "embedded SmolLM2 model is used, which takes neither)"
            )
        if self.llm_base_url is not None and not self.llm_model:
            raise ValueError("ADCLUSTER_LLM_BASE_URL is set: ADCLUSTER_LLM_MODEL must name the model to use")
        if self.llm_base_url is None and self.llm_tool_mode == "native":
            raise ValueError(
                "ADCLUSTER_LLM_TOOL_MODE=native needs ADCLUSTER_LLM_BASE_URL: the embedded model makes no "
                "native tool calls (use json or auto)"
            )
        if self.environment == "production":
            for name in (
                "llm_api_key",
                "meta_access_token",
                "meta_app_secret",
                "x_consumer_secret",
                "x_access_token_secret",
                "tiktok_access_token",
                "tiktok_secret",
            ):
                value = getattr(self, name)
                if value and value.strip().lower() in PLACEHOLDERS:
                    raise ValueError(f"ADCLUSTER_{name.upper()} is a placeholder; set the real secret")
        return self

    def check_platforms(self) -> None:
        """Fail with the missing settings' names unless every enabled platform can be reached."""
        if self.sandbox_url is not None:
            return
        needs = {
            "meta": ("meta_access_token", "meta_account_ids"),
            "x": (
                "x_consumer_key",
                "x_consumer_secret",
                "x_access_token",
                "x_access_token_secret",
                "x_account_ids",
            ),
            "tiktok": ("tiktok_access_token", "tiktok_advertiser_ids"),
        }
        for platform in self.platforms:
            missing = [f"ADCLUSTER_{n.upper()}" for n in needs[platform] if not getattr(self, n)]
            if missing:
                raise SettingsError(
                    f"platform {platform} needs {', '.join(missing)} (or set ADCLUSTER_SANDBOX_URL, "
                    "or drop it from ADCLUSTER_PLATFORMS)"
                )

    @property
    def warehouse_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'adcluster.db').resolve()}"

    @property
    def lake_root(self) -> Path:
        return self.lake_dir or self.data_dir / "lake"

    @property
    def assets_root(self) -> Path:
        return self.assets_dir or self.data_dir / "assets"

    @property
    def vectors_root(self) -> Path:
        return self.vectors_dir or self.data_dir / "vectors"


def load_settings() -> Settings:
    """Settings from the environment, or a SettingsError whose message names each bad variable."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"])
            name = f"ADCLUSTER_{field.split('.')[0].upper()}" if field else "settings"
            problems.append(f"{name} ({field}): {error['msg']}" if field else error["msg"])
        raise SettingsError("invalid settings: " + "; ".join(problems)) from None
