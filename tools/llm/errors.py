"""Typed failures of the LLM layer. Each message says what happened and where; each error carries the
facts a caller needs to report it (status, attempts, the model's raw text)."""

from __future__ import annotations

from dataclasses import dataclass


class LLMError(Exception):
    """Anything the LLM layer could not do."""


class LLMUnavailableError(LLMError):
    """The server could not be reached or kept failing (connection, 5xx, 429) after the retries."""

    def __init__(self, message: str, *, base_url: str, attempts: int, status: int | None = None) -> None:
        super().__init__(message)
        self.base_url = base_url
        self.attempts = attempts
        self.status = status


class LLMTimeoutError(LLMUnavailableError):
    """No answer within the configured timeout, on every attempt."""


class LLMRequestError(LLMError):
    """The server refused the request (a 4xx other than 408/409/429): retrying would not help."""

    def __init__(self, message: str, *, base_url: str, status: int, body: str) -> None:
        super().__init__(message)
        self.base_url = base_url
        self.status = status
        self.body = body


@dataclass(frozen=True, kw_only=True)
class OutputFailure:
    """One answer that could not be used, and why."""

    raw: str
    reason: str


class LLMOutputError(LLMError):
    """Every answer the model gave was unusable (not JSON, failed the schema, no valid tool choice).
    `raw` is the last answer as received; `failures` holds every attempt's answer and reason."""

    def __init__(self, message: str, *, schema: str, failures: list[OutputFailure]) -> None:
        super().__init__(message)
        self.schema = schema
        self.failures = failures

    @property
    def raw(self) -> str:
        return self.failures[-1].raw if self.failures else ""

    @property
    def attempts(self) -> int:
        return len(self.failures)


class ToolChoiceError(LLMOutputError):
    """The model named no known tool, or gave arguments its schema rejects, on every attempt."""


class EmbeddedModelError(LLMError):
    """The embedded model cannot run here: its file or its runtime is missing, or its server did not
    start. The message names what to install or set."""
