"""What an execution run reports: each action's outcome (executed, found, failed, unknown, stale,
refused, skipped, dry_run) with the platform's before/after, and the run's report over all of them
(counts, a one-line summary and a JSON-able dict). The executor itself is in agents/executor.py."""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

Outcome = Literal["executed", "found", "failed", "unknown", "stale", "refused", "skipped", "dry_run"]


@dataclass(frozen=True, kw_only=True)
class ActionOutcome:
    action_id: str
    kind: str
    entity_key: str
    outcome: Outcome
    note: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    result_platform_id: str | None = None
    attempt: int | None = None


@dataclass(frozen=True, kw_only=True)
class ExecutionReport:
    outcomes: list[ActionOutcome]
    dry_run: bool = False

    def of(self, *outcomes: Outcome) -> list[ActionOutcome]:
        return [o for o in self.outcomes if o.outcome in outcomes]

    @property
    def applied(self) -> list[ActionOutcome]:
        """Executed now, or found already applied on the platform."""
        return self.of("executed", "found")

    def counts(self) -> dict[str, int]:
        return dict(Counter(o.outcome for o in self.outcomes))

    def summary(self) -> str:
        if not self.outcomes:
            return "nothing to execute"
        parts = ", ".join(f"{n} {k}" for k, n in sorted(self.counts().items()))
        return f"{'dry run: ' if self.dry_run else ''}{parts}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "counts": self.counts(),
            "outcomes": [dataclasses.asdict(o) for o in self.outcomes],
        }
