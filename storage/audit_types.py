"""The audit log's vocabulary: proposal and attempt statuses, decision verdicts and channels, the
frozen records `AuditLog` answers with (a proposal, a decision, an execution attempt, and an entry
bundling them), its errors, and the `Proposable` protocol an action satisfies to be proposed (pydantic
models; the tables are in storage/models.py, the log itself in storage/audit.py)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict


class ProposalStatus(StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"
    EDITED = "edited"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"
    EXECUTING = "executing"
    EXECUTED = "executed"
    FAILED = "failed"
    STALE = "stale"
    REFUSED = "refused"


class Verdict(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    EDIT = "edit"


class How(StrEnum):
    CLI = "cli"
    WEB = "web"
    API = "api"
    AUTO_POLICY = "auto-policy"


class AttemptStatus(StrEnum):
    PENDING = "pending"  # committed before the platform call; still so after a crash
    APPLIED = "applied"  # the platform answered with the change
    FOUND = "found"  # found already applied on the platform (after a crash or a failed answer)
    FAILED = "failed"  # the platform refused or erred, and does not show the change
    INTERRUPTED = "interrupted"  # a crashed attempt found not applied: retried by the next attempt
    UNKNOWN = "unknown"  # the call failed and the platform could not be read: the next run checks
    DRY_RUN = "dry_run"  # what would have been sent (attempt 0, the latest dry run)


class AuditError(ValueError):
    """A request the audit log cannot honour; the message says why and nothing was changed."""


class UnknownActionError(AuditError):
    """No proposal with that id."""


class NotPendingError(AuditError):
    """The proposal is no longer waiting for a decision (decided, expired or superseded)."""


class _Entity(Protocol):
    @property
    def key(self) -> str: ...
    @property
    def platform(self) -> str: ...
    @property
    def account_id(self) -> str: ...


class Proposable(Protocol):
    """What the audit log needs of an action (agents.actions types satisfy it)."""

    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def proposed_by(self) -> str: ...
    @property
    def spends_more(self) -> bool: ...
    @property
    def entity(self) -> _Entity: ...
    def model_dump(self, *, mode: str) -> dict[str, Any]: ...


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True)


class ProposalRecord(_Record):
    id: str
    round: int
    kind: str
    entity_key: str
    platform: str
    account_id: str
    action: dict[str, Any]
    spends_more: bool
    proposed_by: str
    thread_id: str | None
    run_id: str | None
    status: ProposalStatus
    note: str | None
    edited_from: str | None
    superseded_by: str | None
    attempts: int
    created_at: dt.datetime
    proposed_at: dt.datetime
    expires_at: dt.datetime | None
    updated_at: dt.datetime


class DecisionRecord(_Record):
    action_id: str
    round: int
    verdict: Verdict
    decided_by: str
    how: How
    note: str | None
    edited_value: dict[str, Any] | None
    edited_action_id: str | None
    decided_at: dt.datetime


class ExecutionRecord(_Record):
    action_id: str
    round: int
    attempt: int
    entity_key: str
    run_id: str | None
    owner: str
    status: AttemptStatus
    observed: dict[str, Any] | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    result_platform_id: str | None
    error: str | None
    started_at: dt.datetime
    finished_at: dt.datetime | None


class AuditEntry(_Record):
    """A proposal with all its decisions and execution attempts, oldest first."""

    proposal: ProposalRecord
    decisions: list[DecisionRecord]
    executions: list[ExecutionRecord]
