"""Async insight report runs: POST creates a run, polls move it along, some fail or stall as real ones do."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sandbox.meta.insights import InsightsQuery

# (async_status, async_percent_completion) a healthy run passes through, one step per poll.
PROGRESS = (("Job Not Started", 0), ("Job Started", 12), ("Job Running", 57), ("Job Completed", 100))
STALL_AT = ("Job Running", 57)


@dataclass(kw_only=True)
class ReportRun:
    id: str
    account_id: str
    query: InsightsQuery
    rows: list[dict[str, Any]]
    outcome: str  # ok | fail | stall
    created: float
    polls: int = 0
    done_at: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def state(self) -> tuple[str, int]:
        step = min(self.polls, len(PROGRESS) - 1)
        if self.outcome == "fail" and step >= 2:
            return "Job Failed", 57
        if self.outcome == "stall" and step >= 2:
            return STALL_AT
        return PROGRESS[step]

    @property
    def finished(self) -> bool:
        return self.state()[0] in ("Job Completed", "Job Failed")

    def node(self) -> dict[str, Any]:
        status, percent = self.state()
        obj: dict[str, Any] = {
            "id": self.id,
            "account_id": self.account_id,
            "async_status": status,
            "async_percent_completion": percent,
            "date_start": self.query.since.isoformat(),
            "date_stop": self.query.until.isoformat(),
            "time_ref": int(self.created),
            "time_completed": int(self.done_at) if status == "Job Completed" else 0,
            "is_running": status not in ("Job Completed", "Job Failed"),
        }
        if status == "Job Failed":
            obj.update(
                error_code=2601,
                error_subcode=1815107,
                error_message="Report job failed",
                error_user_msg="The report could not be completed. Retry it, or split it into smaller ones.",
            )
        return obj


class ReportRuns:
    def __init__(self) -> None:
        self._runs: dict[str, ReportRun] = {}
        self._lock = threading.Lock()
        self._seq = 0

    def next_id(self, seed: int) -> str:
        with self._lock:
            self._seq += 1
            return f"60{seed % 1000:03d}{self._seq:011d}"

    def add(self, run: ReportRun) -> None:
        with self._lock:
            self._runs[run.id] = run

    def get(self, run_id: str) -> ReportRun | None:
        return self._runs.get(run_id)

    def poll(self, run: ReportRun) -> None:
        with self._lock:
            run.polls += 1
            if run.finished and not run.done_at:
                run.done_at = time.time()
