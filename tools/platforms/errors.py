"""Typed platform errors: what a caller may retry, what needs a person, what is a bug in the request."""

from __future__ import annotations


class PlatformError(Exception):
    """A platform call failed. `retryable` says whether trying again later can help."""

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        platform: str,
        status: int | None = None,
        code: str | int | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(f"{platform}: {message}")
        self.platform = platform
        self.status = status
        self.code = code
        self.request_id = request_id


class AuthError(PlatformError):
    """The credential is invalid, expired or revoked: stop this platform and ask for a new one."""


class BadRequestError(PlatformError):
    """The platform refused the request itself (parameters, permissions, business rules)."""


class TransientError(PlatformError):
    """A 5xx, a timeout, a dropped connection or a malformed page: retry with backoff."""

    retryable = True


class RateLimitedError(TransientError):
    """The platform asked us to slow down; `retry_after` seconds if it said how long."""

    def __init__(
        self, message: str, *, platform: str, retry_after: float | None = None, **kw: object
    ) -> None:
        super().__init__(message, platform=platform, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class MalformedResponseError(TransientError):
    """The body was not the documented shape (not JSON, cut short, wrong types)."""
