"""The segment vocabulary and how it maps onto each platform's own targeting fields.

A segment is one (age band, gender, country, placement) cell: 4 x 2 x 3 x 3 = 72 cells. Targeting
is a set of allowed values per dimension; the market turns it into a boolean mask over the cells.
"""

from __future__ import annotations

import itertools
from enum import StrEnum

import numpy as np
from pydantic import BaseModel, ConfigDict, field_validator

AGES: tuple[str, ...] = ("18-24", "25-34", "35-44", "45+")
GENDERS: tuple[str, ...] = ("female", "male")
COUNTRIES: tuple[str, ...] = ("US", "GB", "JP")
PLACEMENTS: tuple[str, ...] = ("feed", "stories", "network")

DIMENSIONS: dict[str, tuple[str, ...]] = {
    "age": AGES,
    "gender": GENDERS,
    "country": COUNTRIES,
    "placement": PLACEMENTS,
}

SEGMENTS: tuple[tuple[str, str, str, str], ...] = tuple(
    itertools.product(AGES, GENDERS, COUNTRIES, PLACEMENTS)
)
N_SEGMENTS = len(SEGMENTS)

# Index arrays: for each segment cell, the index of its value in every dimension.
SEGMENT_INDEX: dict[str, np.ndarray] = {
    dim: np.array([values.index(seg[i]) for seg in SEGMENTS], dtype=np.int64)
    for i, (dim, values) in enumerate(DIMENSIONS.items())
}


class Platform(StrEnum):
    META = "meta"
    X = "x"
    TIKTOK = "tiktok"


class Targeting(BaseModel):
    """Allowed values per dimension; every dimension must keep at least one value."""

    model_config = ConfigDict(frozen=True)

    ages: tuple[str, ...] = AGES
    genders: tuple[str, ...] = GENDERS
    countries: tuple[str, ...] = COUNTRIES
    placements: tuple[str, ...] = PLACEMENTS

    @field_validator("ages", "genders", "countries", "placements", mode="before")
    @classmethod
    def _as_sorted_tuple(cls, value: object, info: object) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [value]
        items = tuple(value)  # type: ignore[arg-type]
        field = getattr(info, "field_name", "")
        allowed = {"ages": AGES, "genders": GENDERS, "countries": COUNTRIES, "placements": PLACEMENTS}[field]
        unknown = [v for v in items if v not in allowed]
        if unknown:
            raise ValueError(f"unknown {field} {unknown}; allowed: {list(allowed)}")
        if not items:
            raise ValueError(f"targeting must keep at least one of {field}")
        return tuple(v for v in allowed if v in items)

    def mask(self) -> np.ndarray:
        """Boolean mask over the 72 segment cells."""
        ok = np.ones(N_SEGMENTS, dtype=bool)
        for dim, chosen in (
            ("age", self.ages),
            ("gender", self.genders),
            ("country", self.countries),
            ("placement", self.placements),
        ):
            values = DIMENSIONS[dim]
            allowed = np.array([v in chosen for v in values])
            ok &= allowed[SEGMENT_INDEX[dim]]
        return ok

    def excluding(self, dimension: str, value: str) -> Targeting:
        field = {"age": "ages", "gender": "genders", "country": "countries", "placement": "placements"}[
            dimension
        ]
        kept = tuple(v for v in getattr(self, field) if v != value)
        return self.model_copy(update={field: kept}) if kept else self


# How each platform names the market's segment values (used by the API layers and the adapters).
PLATFORM_TARGETING: dict[Platform, dict[str, dict[str, object]]] = {
    Platform.META: {
        "age": {"18-24": (18, 24), "25-34": (25, 34), "35-44": (35, 44), "45+": (45, 65)},
        "gender": {"male": 1, "female": 2},
        "country": {"US": "US", "GB": "GB", "JP": "JP"},
        "placement": {
            "feed": ("facebook", "feed"),
            "stories": ("instagram", "story"),
            "network": ("audience_network", "classic"),
        },
    },
    Platform.X: {
        "age": {
            "18-24": "AGE_18_TO_24",
            "25-34": "AGE_25_TO_34",
            "35-44": "AGE_35_TO_44",
            "45+": "AGE_OVER_45",
        },
        "gender": {"male": "1", "female": "2"},
        "country": {"US": "96683cc9126741d1", "GB": "6416b8512febefc9", "JP": "06ef846bfc783874"},
        "placement": {
            "feed": "TWITTER_TIMELINE",
            "stories": "TWITTER_SEARCH",
            "network": "PUBLISHER_NETWORK",
        },
    },
    Platform.TIKTOK: {
        "age": {"18-24": "AGE_18_24", "25-34": "AGE_25_34", "35-44": "AGE_35_44", "45+": "AGE_45_54"},
        "gender": {"male": "GENDER_MALE", "female": "GENDER_FEMALE"},
        "country": {"US": "6252001", "GB": "2635167", "JP": "1861060"},
        "placement": {
            "feed": "PLACEMENT_TIKTOK",
            "stories": "PLACEMENT_GLOBAL_APP_BUNDLE",
            "network": "PLACEMENT_PANGLE",
        },
    },
}
