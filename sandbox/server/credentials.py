"""Fake but well-formed credentials, one user per platform, deterministic in the seed."""

from __future__ import annotations

import hashlib

from pydantic import BaseModel


class MetaCredentials(BaseModel):
    access_token: str
    app_secret: str


class XCredentials(BaseModel):
    consumer_key: str
    consumer_secret: str
    access_token: str
    access_token_secret: str


class TikTokCredentials(BaseModel):
    access_token: str
    app_id: str
    secret: str


class Credentials(BaseModel):
    meta: MetaCredentials
    x: XCredentials
    tiktok: TikTokCredentials


def _hex(seed: int, label: str, n: int) -> str:
    out = ""
    i = 0
    while len(out) < n:
        out += hashlib.sha256(f"{seed}:{label}:{i}".encode()).hexdigest()
        i += 1
    return out[:n]


def credentials_for(seed: int) -> Credentials:
    return Credentials(
        meta=MetaCredentials(
            access_token="EAAsbx" + _hex(seed, "meta-token", 58), app_secret=_hex(seed, "meta-app", 32)
        ),
        x=XCredentials(
            consumer_key=_hex(seed, "x-ck", 25),
            consumer_secret=_hex(seed, "x-cs", 50),
            access_token=str(int(_hex(seed, "x-uid", 15), 16) % 10**18) + "-" + _hex(seed, "x-at", 31),
            access_token_secret=_hex(seed, "x-ats", 45),
        ),
        tiktok=TikTokCredentials(
            access_token=_hex(seed, "tt-token", 40),
            app_id=str(int(_hex(seed, "tt-app", 15), 16)),
            secret=_hex(seed, "tt-secret", 40),
        ),
    )
