"""TikTok's response envelope and the codes it answers with (ad-platform-apis.md §3.5).

Every answer, errors and throttles included, is HTTP 200 with {"code", "message", "request_id", "data"};
`code != 0` is a failure. Codes beyond the reference come from the official SDK's `tiktok_code.py`.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

OK = 0
NO_PERMISSION = 40001
INVALID_PARAM = 40002
TOO_MANY_REQUESTS = 40100
TOKEN_EXPIRED = 40102
TOKEN_EMPTY = 40104
TOKEN_INVALID = 40105
ROUTE_NOT_FOUND = 40400  # the SDK's ERROR_CODE_ROUTE_NOT_FOUND
SIGNATURE_ERROR = 40900  # the SDK's ERROR_CODE_SIGNATURE_ERROR (an upload whose MD5 does not match)
SYSTEM_ERROR = 50000


class TikTokError(Exception):
    """A refusal answered in TikTok's envelope; nothing was changed."""

    def __init__(self, code: int, message: str, *, http_status: int = 200) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status


def request_id() -> str:
    """TikTok's request ids: a UTC timestamp followed by random hex."""
    return time.strftime("%Y%m%d%H%M%S", time.gmtime()) + secrets.token_hex(12).upper()


def envelope(data: Any = None, *, code: int = OK, message: str = "OK") -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "request_id": request_id(),
        "data": {} if data is None else data,
    }


def invalid(field: str, message: str) -> TikTokError:
    """40002, naming the field the way TikTok's messages do."""
    return TikTokError(INVALID_PARAM, f"{field}: {message}")


def no_permission(what: str) -> TikTokError:
    return TikTokError(NO_PERMISSION, f"No permission to operate {what}")


def too_many_requests() -> TikTokError:
    return TikTokError(TOO_MANY_REQUESTS, "Too many requests. Please retry in some time.")


def system_error() -> TikTokError:
    return TikTokError(SYSTEM_ERROR, "System error. Please retry later.")
