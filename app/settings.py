"""The one place that reads the environment: every setting, with its ADCLUSTER_ variable."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ADCLUSTER_", env_file=".env", extra="ignore")

    log_level: str = Field(
        default="INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$", description="logging level of library code"
    )
    sandbox_url: str | None = Field(
        default=None, description="a running sandbox that all three platforms point at"
    )
    sandbox_host: str = Field(default="127.0.0.1", description="where `adcluster sandbox serve` listens")
    sandbox_port: int = Field(default=8700, ge=1, le=65535)
    sandbox_seed: int = Field(default=7, ge=0, le=2**63 - 1, description="seed of the sandbox's market")
    sandbox_today: dt.date | None = Field(default=None, description="simulated start date (default: today)")
    sandbox_state_dir: Path | None = Field(default=None, description="persist the sandbox world here")
