"""The asset store's vocabulary at its boundary: kinds, tags, what a caller says about new bytes, what
the store answers, and its errors (pydantic models; the tables are in storage/models.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from storage.asset_content import AssetKind


class TagKind(StrEnum):
    EMOTION = "emotion"
    THEME = "theme"
    PRODUCT = "product"
    OFFER = "offer"
    CTA_TYPE = "cta_type"
    LANGUAGE = "language"


class UnknownTagKindError(ValueError):
    """A tag kind outside the vocabulary."""


class AssetNotFoundError(LookupError):
    """No asset with that id (or not a well-formed id at all)."""


class CorruptBlobError(RuntimeError):
    """Stored bytes whose sha256 no longer matches their id."""


def tag_kind(kind: str | TagKind) -> TagKind:
    try:
        return TagKind(str(kind).strip().lower())
    except ValueError:
        allowed = ", ".join(k.value for k in TagKind)
        raise UnknownTagKindError(f"unknown tag kind {kind!r}; the vocabulary is: {allowed}") from None


class Tag(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: TagKind
    value: str = Field(min_length=1, max_length=100)

    @field_validator("value", mode="before")
    @classmethod
    def _normalise(cls, value: Any) -> Any:
        return " ".join(value.split()).lower() if isinstance(value, str) else value

    @classmethod
    def of(cls, kind: str | TagKind, value: str) -> Tag:
        """A tag, with an unknown kind reported as `UnknownTagKindError` naming the vocabulary."""
        return cls(kind=tag_kind(kind), value=value)

    @classmethod
    def parse(cls, text: str) -> Tag:
        """`"theme:summer sale"` -> Tag(kind=theme, value="summer sale")."""
        kind, sep, value = text.partition(":")
        if not sep:
            raise UnknownTagKindError(f"a tag is written kind:value, got {text!r}")
        return cls.of(kind, value)

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.value}"


class AssetMeta(BaseModel):
    """What the caller knows about new bytes. Images are measured; a video's size and duration come
    from a probe (the store does not decode video)."""

    model_config = ConfigDict(extra="forbid")

    kind: AssetKind
    parent_id: str | None = None
    source: str | None = Field(default=None, max_length=1000)
    label: str | None = Field(default=None, max_length=1000)
    width: int | None = Field(default=None, gt=0)
    height: int | None = Field(default=None, gt=0)
    duration_ms: int | None = Field(default=None, ge=0)
    tags: list[Tag] = Field(default_factory=list)


class AssetRecord(BaseModel):
    id: str
    kind: AssetKind
    mime: str
    size_bytes: int
    width: int | None
    height: int | None
    duration_ms: int | None
    parent_id: str | None
    source: str | None
    label: str | None
    created_at: dt.datetime
    tags: list[Tag] = Field(default_factory=list)


class Upload(BaseModel):
    """The asset as one platform account knows it: Meta image hash / video id, X media key, TikTok
    image_id / video_id, and the placements it suits."""

    asset_id: str
    platform: str = Field(min_length=1)
    account_id: str = Field(min_length=1)  # the warehouse's internal account id
    platform_ref: str = Field(min_length=1)
    placements: list[str] = Field(default_factory=list)
    uploaded_at: dt.datetime | None = None


class PlatformPerformance(BaseModel):
    platform: str
    currency: str
    ads: int
    impressions: int
    clicks: int
    conversions: int
    spend_micros: int
    value_micros: int


class AssetPerformance(BaseModel):
    """Sums over every ad linked to the asset, on `since`..`until` inclusive. Money stays per currency
    (convert through the rate table to compare); ratios are computed from the sums."""

    asset_id: str
    since: dt.date
    until: dt.date
    linked_ads: int
    ads_with_delivery: int
    impressions: int = 0
    clicks: int = 0
    conversions: int = 0
    spend_micros: dict[str, int] = Field(default_factory=dict)
    value_micros: dict[str, int] = Field(default_factory=dict)
    by_platform: list[PlatformPerformance] = Field(default_factory=list)

    @property
    def ctr(self) -> Decimal | None:
        return Decimal(self.clicks) / Decimal(self.impressions) if self.impressions else None

    @property
    def cvr(self) -> Decimal | None:
        return Decimal(self.conversions) / Decimal(self.clicks) if self.clicks else None
