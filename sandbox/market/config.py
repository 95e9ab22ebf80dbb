"""What a world is built from: seed, start date and size. Validated at the boundary."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sandbox.market.segments import Platform

MAX_SEED = 2**63 - 1


class WorldConfig(BaseModel):
    """The inputs that, with the change log, fully determine a market."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seed: int = Field(default=7, ge=0, le=MAX_SEED, description="seed of every random figure")
    today: dt.date = Field(
        default_factory=dt.date.today, description="the simulated date the world starts on"
    )
    accounts: int = Field(default=2, ge=1, le=500, description="ad accounts per platform")
    ads: int = Field(default=60, ge=1, le=5000, description="ads per account")
    days: int = Field(default=60, ge=7, le=400, description="days of history before today")
    platforms: tuple[Platform, ...] = (Platform.META, Platform.X, Platform.TIKTOK)

    @field_validator("today", mode="before")
    @classmethod
    def _parse_today(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError as exc:
                raise ValueError(f"today must be a date as YYYY-MM-DD, got {value!r}") from exc
        return value

    @field_validator("today")
    @classmethod
    def _sane_today(cls, value: dt.date) -> dt.date:
        if not dt.date(2000, 1, 1) <= value <= dt.date(2200, 12, 31):
            raise ValueError(f"today must lie between 2000-01-01 and 2200-12-31, got {value}")
        return value

    @field_validator("platforms", mode="before")
    @classmethod
    def _platforms(cls, value: object) -> object:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        items = tuple(value)  # type: ignore[arg-type]
        if not items:
            raise ValueError("at least one platform is needed")
        if len(set(items)) != len(items):
            raise ValueError("platforms must not repeat")
        return items

    @property
    def start_date(self) -> dt.date:
        """The first simulated day (hour 0 of the world)."""
        return self.today - dt.timedelta(days=self.days)
