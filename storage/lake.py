"""The raw lake: every platform response body exactly as received, before any parsing.

Gzip JSON lines, one file per platform / account / stream / UTC day of receipt; each line carries the
request (method, URL without secrets, parameters without secrets), the status and the body text. Any
day of the warehouse can be rebuilt from here with no network.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

SECRET_KEYS = re.compile(r"(token|secret|signature|proof|password|authorization|oauth_)", re.IGNORECASE)


def redact(params: dict[str, Any] | None) -> dict[str, Any]:
    return {k: ("***" if SECRET_KEYS.search(k) else v) for k, v in (params or {}).items()}


def redact_url(url: str) -> str:
    return re.sub(r"((?:access_token|appsecret_proof|secret|app_secret|oauth_[a-z_]+)=)[^&]+", r"\1***", url)


class LakeRecord(BaseModel):
    seq: int
    received_at: dt.datetime
    platform: str
    account: str
    stream: str
    method: str
    url: str
    params: dict[str, Any]
    status: int
    body: str


class RawLake:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._lock = threading.Lock()
        self._seq = 0

    def path_for(self, platform: str, account: str, stream: str, day: dt.date) -> Path:
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", account) or "_"
        return self.root / platform / safe / stream / f"{day.isoformat()}.jsonl.gz"

    def write(
        self,
        *,
        platform: str,
        account: str,
        stream: str,
        method: str,
        url: str,
        params: dict[str, Any] | None,
        status: int,
        body: bytes | str,
        received_at: dt.datetime | None = None,
    ) -> Path:
        """Append one response; safe to call from several threads."""
        when = received_at or dt.datetime.now(dt.UTC)
        text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
        with self._lock:
            self._seq += 1
            record = LakeRecord(
                seq=self._seq,
                received_at=when,
                platform=platform,
                account=account,
                stream=stream,
                method=method,
                url=redact_url(url),
                params=redact(params),
                status=status,
                body=text,
            )
            path = self.path_for(platform, account, stream, when.date())
            path.parent.mkdir(parents=True, exist_ok=True)
            # Appending a gzip member per line keeps every earlier line readable after a crash.
            with gzip.open(path, "ab") as fh:
                fh.write(record.model_dump_json().encode() + b"\n")
        return path

    def records(self, *, platform: str | None = None) -> Iterator[LakeRecord]:
        """Every record, oldest first (by receipt time, then write order)."""
        files = sorted(self.root.glob("*/*/*/*.jsonl.gz")) if self.root.exists() else []
        out: list[LakeRecord] = []
        for path in files:
            if platform and path.relative_to(self.root).parts[0] != platform:
                continue
            with gzip.open(path, "rb") as fh:
                for line in fh:
                    if line.strip():
                        out.append(LakeRecord.model_validate(json.loads(line)))
        out.sort(key=lambda r: (r.received_at, r.seq))
        yield from out
