"""Where the asset store keeps bytes: a content-addressed folder, behind a protocol a bucket can fill.

A key is the sha256 hex of the bytes it names. A local write goes to a temporary file in the target's
own folder, is flushed and fsynced, then renamed over the final name (atomic on POSIX) and the folder
fsynced: a reader sees the whole file or no file, never part of one. A crash leaves at most a
`.tmp-*` file, which no key can name and `sweep_temporaries` removes.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol, runtime_checkable

KEY = re.compile(r"^[0-9a-f]{64}$")
TEMP_PREFIX = ".tmp-"


class BlobKeyError(ValueError):
    """A key that is not a lowercase sha256 hex digest."""


def check_key(key: str) -> str:
    if not isinstance(key, str) or not KEY.fullmatch(key):
        raise BlobKeyError(f"not an asset id (64 lowercase hex characters of a sha256): {key!r}")
    return key


@runtime_checkable
class BlobStore(Protocol):
    """Immutable bytes by content key. `write` is atomic and idempotent; it returns True when it wrote."""

    def write(self, key: str, data: bytes) -> bool: ...

    def read(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None: ...

    def uri(self, key: str) -> str: ...


class LocalBlobStore:
    """Blobs under `root/ab/cd/abcd…` (two levels of fan-out keep folders small)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        check_key(key)
        return self.root / key[:2] / key[2:4] / key

    def uri(self, key: str) -> str:
        return self.path(key).resolve().as_uri()

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def read(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def write(self, key: str, data: bytes) -> bool:
        target = self.path(key)
        if target.is_file():
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=target.parent)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(target.parent)
        return True

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def keys(self) -> Iterator[str]:
        """Every complete blob's key (temporary files are not blobs)."""
        if not self.root.is_dir():
            return
        for path in self.root.glob("??/??/*"):
            if path.is_file() and KEY.fullmatch(path.name):
                yield path.name

    def sweep_temporaries(self, *, older_than_s: float = 3600.0) -> int:
        """Remove temporary files left by writes that crashed; returns how many were removed."""
        cutoff = time.time() - older_than_s
        removed = 0
        for path in self.root.glob(f"??/??/{TEMP_PREFIX}*"):
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime <= cutoff:
                    path.unlink()
                    removed += 1
        return removed


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (a no-op where directories cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
