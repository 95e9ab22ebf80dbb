"""Token accounting: one `Usage` record per answered request, running totals per client."""

from __future__ import annotations

from collections import deque
from typing import Literal

from pydantic import BaseModel, Field

Outcome = Literal["text", "valid", "invalid"]


class Usage(BaseModel):
    """One chat completion the server answered (a retried transport failure has no record)."""

    model: str
    purpose: str = Field(description="what the call was for, e.g. 'structured:AdCopy' or 'tool_choice'")
    attempt: int = Field(ge=1, description="1 for the first answer, 2.. for answers asked again")
    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)
    latency_s: float = Field(ge=0, description="request sent to body received, retries excluded")
    finish_reason: str | None = None
    outcome: Outcome = "text"
    reported: bool = Field(default=True, description="False when the server sent no usage block")

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class UsageTotals(BaseModel):
    """Sums over a client's life."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    invalid_outputs: int = Field(default=0, description="answers that failed parsing or validation")
    transport_retries: int = Field(default=0, description="requests sent again after a transient failure")

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def completion_tokens_per_s(self) -> float:
        """Generated tokens per second of request time (prompt processing included)."""
        return self.completion_tokens / self.latency_s if self.latency_s > 0 else 0.0


class UsageMeter:
    """Keeps the totals and the most recent records (bounded, for a long-running process)."""

    def __init__(self, *, keep: int = 10_000) -> None:
        self.totals = UsageTotals()
        self.records: deque[Usage] = deque(maxlen=keep)

    def record(self, usage: Usage) -> None:
        self.records.append(usage)
        self.totals.calls += 1
        self.totals.prompt_tokens += usage.prompt_tokens
        self.totals.completion_tokens += usage.completion_tokens
        self.totals.latency_s += usage.latency_s

    def mark(self, usage: Usage, outcome: Outcome) -> None:
        usage.outcome = outcome
        if outcome == "invalid":
            self.totals.invalid_outputs += 1

    def retried(self) -> None:
        self.totals.transport_retries += 1
