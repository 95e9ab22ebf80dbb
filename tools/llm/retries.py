"""Which failures are worth another try, how long the server asked us to wait, and the typed error a
failure becomes once the retries are spent."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping

import openai

from tools.llm.errors import LLMError, LLMRequestError, LLMTimeoutError, LLMUnavailableError

HINTS = {
    401: " (check the API key)",
    403: " (check the API key's permissions)",
    404: " (check that the base URL ends in /v1 and that the model exists)",
}


def is_transient(exc: BaseException) -> bool:
    """Connection failures and timeouts, 408, 409, 429 and 5xx: the same request may well succeed."""
    if isinstance(exc, openai.APIConnectionError):  # APITimeoutError included
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in (408, 409, 429) or exc.status_code >= 500
    return False


def retry_after_s(headers: Mapping[str, str]) -> float | None:
    """Seconds the server asked us to wait: `retry-after-ms`, or `retry-after` as seconds or HTTP date."""
    try:
        return float(headers["retry-after-ms"]) / 1000
    except (KeyError, ValueError):
        pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def as_llm_error(exc: openai.APIError, *, base_url: str, timeout_s: float, attempts: int) -> LLMError:
    if isinstance(exc, openai.APITimeoutError):
        return LLMTimeoutError(
            f"no answer from {base_url} within {timeout_s:g}s ({attempts} attempts)",
            base_url=base_url,
            attempts=attempts,
        )
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ or exc
        return LLMUnavailableError(
            f"cannot reach the LLM server at {base_url}: {type(cause).__name__}: {cause} "
            f"({attempts} attempts)",
            base_url=base_url,
            attempts=attempts,
        )
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        if is_transient(exc):
            return LLMUnavailableError(
                f"the LLM server at {base_url} kept failing: HTTP {status} ({attempts} attempts): "
                f"{exc.message}",
                base_url=base_url,
                attempts=attempts,
                status=status,
            )
        return LLMRequestError(
            f"the LLM server at {base_url} refused the request: HTTP {status}{HINTS.get(status, '')}: "
            f"{exc.message}",
            base_url=base_url,
            status=status,
            body=exc.response.text[:2000],
        )
    return LLMUnavailableError(
        f"the LLM call to {base_url} failed: {exc}", base_url=base_url, attempts=attempts
    )
