"""The one place that reads the environment: every setting, with its ADCLUSTER_ variable.

Lists and maps are JSON (`ADCLUSTER_META_ACCOUNT_IDS='["act_1","act_2"]'`,
`ADCLUSTER_FX_RATES='{"EUR": "0.92"}'`). A bad value fails at start-up with the setting's name.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, HttpUrl, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from tools.ingest.goals import GoalSpec as Goal
from tools.platforms.money import EXPONENTS

PLATFORMS = ("meta", "x", "tiktok")
AUTO_APPROVE_KEYS = {"pause", "budget_cut_max_share"}
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

    guardrail_max_change: Decimal = Field(
        default=Decimal("0.3"), gt=0, le=5, description="largest budget or bid change per action, as a share"
    )
    guardrail_max_audience_cut: Decimal = Field(
        default=Decimal("0.3"),
        gt=0,
        lt=1,
        description="the largest share of an ad set's recent spend one targeting change may exclude",
    )
    guardrail_min_budget: Annotated[dict[str, Decimal], NoDecode] = Field(
        default_factory=dict,
        description="per-entity minimum daily budget in major units: one number, or per currency "
        '(`{"USD": 5, "JPY": 500, "*": 5}`)',
    )
    guardrail_max_budget: Annotated[dict[str, Decimal], NoDecode] = Field(
        default_factory=dict, description="per-entity maximum daily budget, as the minimum"
    )
    guardrail_min_bid: Annotated[dict[str, Decimal], NoDecode] = Field(
        default_factory=dict,
        description="the lowest bid cap in major units (a platform's floor), as the budgets",
    )
    guardrail_max_bid: Annotated[dict[str, Decimal], NoDecode] = Field(
        default_factory=dict, description="the highest bid cap in major units, as the budgets"
    )
    guardrail_min_interval_hours: float = Field(
        default=24,
        ge=0,
        le=24 * 90,
        description="between two changes to one entity (learning phase); 0: none",
    )
    guardrail_account_daily_caps: dict[str, Decimal] = Field(
        default_factory=dict,
        description="per account id (or platform:account_id), the most its daily budgets may add up to, in "
        "major units of the account currency",
    )
    allowed_accounts: list[str] = Field(
        default_factory=list, description="accounts the agents may change (id or platform:id); empty: all"
    )
    dry_run: bool = Field(default=False, description="check and show every action, execute none")
    auto_approve: dict[str, bool | Decimal] = Field(
        default_factory=dict,
        description='actions approved without a person: {"pause": true, "budget_cut_max_share": 0.2}; '
        "empty: none (spend increases never are)",
    )
    proposal_ttl_hours: float = Field(
        default=24, gt=0, le=24 * 30, description="undecided proposals expire after this long"
    )
    new_ads_per_cycle: int = Field(
        default=2,
        ge=0,
        le=20,
        description="ad sets (fatigued, losing, or settled on a winner) that get new copy (a new ad to "
        "approve) per cycle; 0: none",
    )
    new_ad_wait_days: float = Field(
        default=7,
        ge=0,
        le=90,
        description="days after a new ad is created or rejected in an ad set before the next is written",
    )
    web_host: str = Field(default="127.0.0.1", description="where `adcluster serve` listens")
    web_port: int = Field(default=8000, ge=1, le=65535)
    web_session_hours: float = Field(default=12, gt=0, le=24 * 30, description="a login lasts this long")
    web_secret: str | None = Field(
        default=None, min_length=32, description="signs approve/reject links in webhook messages (32+ chars)"
    )
    web_base_url: HttpUrl | None = Field(
        default=None, description="the console's address, for links in messages"
    )
    approval_webhook_url: HttpUrl | None = Field(
        default=None, description="a Slack-compatible webhook told of proposals that wait, with signed links"
    )
    approval_link_user: str | None = Field(
        default=None, description="the approver whose name the signed links decide in (a console user)"
    )
    approval_link_hours: float = Field(
        default=24, gt=0, le=24 * 14, description="a signed link expires after"
    )
    alert_webhook_url: HttpUrl | None = Field(
        default=None, description="a Slack-compatible incoming webhook that alerts are posted to; unset: none"
    )
    alert_stale_hours: float = Field(
        default=26, gt=0, le=24 * 30, description="a stream not synced for this long is alerted as stale"
    )
    alert_max_pending: int = Field(
        default=25, ge=1, description="undecided proposals before the approval queue is alerted"
    )
    token_expiry: dict[str, dt.date] = Field(
        default_factory=dict,
        description='access token expiry per platform, alerted 7 days ahead (`{"meta": "2027-01-20"}`)',
    )

    @field_validator("llm_base_url", "llm_api_key", "llm_model", "embedding_base_url", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator(
        "guardrail_min_budget",
        "guardrail_max_budget",
        "guardrail_min_bid",
        "guardrail_max_bid",
        mode="before",
    )
    @classmethod
    def _one_amount_for_every_currency(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise ValueError(
                    f"{value!r} is neither an amount nor a JSON map of currency to amount"
                ) from None
        if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
            return {"*": Decimal(str(value))}
        return value

    @field_validator("guardrail_min_budget", "guardrail_max_budget", "guardrail_min_bid", "guardrail_max_bid")
    @classmethod
    def _known_currency_amounts(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        out = {}
        for code, amount in value.items():
            key = code.upper()
            if key != "*" and key not in EXPONENTS:
                raise ValueError(f"unknown currency {code!r}: use an ISO 4217 code, or * for any currency")
            if amount <= 0:
                raise ValueError(f"{code}: {amount} is not a positive amount")
            out[key] = amount
        return out

    @field_validator("guardrail_account_daily_caps")
    @classmethod
    def _positive_caps(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        bad = {account: str(cap) for account, cap in value.items() if cap <= 0}
        if bad:
            raise ValueError(f"account caps must be positive amounts: {bad}")
        return value

    @field_validator("auto_approve")
    @classmethod
    def _known_policy(cls, value: dict[str, bool | Decimal]) -> dict[str, bool | Decimal]:
        unknown = sorted(set(value) - AUTO_APPROVE_KEYS)
        if unknown:
            raise ValueError(f"unknown key(s) {unknown}; the policy takes {sorted(AUTO_APPROVE_KEYS)}")
        if "pause" in value and not isinstance(value["pause"], bool):
            raise ValueError("pause must be true or false")
        share = value.get("budget_cut_max_share", Decimal(0))
        if isinstance(share, bool) or not Decimal(0) <= Decimal(share) < 1:
            raise ValueError("budget_cut_max_share must be a share from 0 (none) up to, not including, 1")
        return value

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
        wanted = (self.approval_webhook_url, self.web_secret, self.web_base_url, self.approval_link_user)
        if self.approval_webhook_url is not None and not all(wanted):
            raise ValueError(
                "ADCLUSTER_APPROVAL_WEBHOOK_URL needs ADCLUSTER_WEB_SECRET, ADCLUSTER_WEB_BASE_URL and "
                "ADCLUSTER_APPROVAL_LINK_USER (the links' signature, address and approver)"
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
                "web_secret",
            ):
                value = getattr(self, name)
                if value and value.strip().lower() in PLACEHOLDERS:
                    raise ValueError(f"ADCLUSTER_{name.upper()} is a placeholder; set the real secret")
        return self

    @model_validator(mode="after")
    def _guardrail_bounds(self) -> Settings:
        for code in sorted(set(self.guardrail_min_budget) | set(self.guardrail_max_budget)):
            lo = self.guardrail_min_budget.get(code, self.guardrail_min_budget.get("*"))
            hi = self.guardrail_max_budget.get(code, self.guardrail_max_budget.get("*"))
            if lo is not None and hi is not None and lo > hi:
                raise ValueError(
                    f"ADCLUSTER_GUARDRAIL_MIN_BUDGET ({lo} for {code}) is above "
                    f"ADCLUSTER_GUARDRAIL_MAX_BUDGET ({hi} for {code})"
                )
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
