"""Where each platform's adapter module lives; modules are imported only when a platform is used."""

from __future__ import annotations

import importlib
from types import ModuleType

from tools.platforms.base import PlatformCodec
from tools.platforms.errors import BadRequestError
from tools.platforms.records import TargetingSpec

MODULES = {"meta": "tools.platforms.meta", "x": "tools.platforms.x", "tiktok": "tools.platforms.tiktok"}


def module(platform: str) -> ModuleType:
    try:
        return importlib.import_module(MODULES[platform])
    except KeyError:
        raise ValueError(f"unknown platform {platform!r}; known: {sorted(MODULES)}") from None


def codec(platform: str) -> PlatformCodec:
    """The platform's lake codec (its module's CODEC), for `adcluster rebuild`."""
    return module(platform).CODEC  # type: ignore[no-any-return]


def targeting_problem(platform: str, targeting: TargetingSpec) -> str | None:
    """Why the platform cannot express `targeting` (its adapter's own translation says), or None."""
    try:
        module(platform).check_targeting(targeting)
    except BadRequestError as exc:
        return str(exc)
    return None
