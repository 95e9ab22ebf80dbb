"""The audit log: every proposal, every decision on it and every execution attempt, in the warehouse.

A proposal is keyed by its action's stable id, so proposing the same change again finds the first
record instead of adding one, and deciding the same way twice changes nothing. Its status moves
proposed -> approved | rejected | edited | expired | superseded, and an approved one
-> executing -> executed | failed, or -> stale | refused without a platform call. A change proposed
again after it ended without effect (expired, superseded, stale, failed, refused) opens a new `round`;
one rejected or executed stays as it is.

An execution attempt is written as `pending`, with the proposal set to `executing`, and committed
before the platform is called (`begin_attempt`, a compare-and-set, so two runs cannot both claim one
action); `finish_attempt` then records the platform's before/after or the error. Storage knows actions
only as JSON (`agents/` types them): anything with `id`, `kind`, `proposed_by`, `spends_more`,
`entity.key|platform|account_id` and `model_dump` can be proposed. Times are aware UTC datetimes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import Engine, func, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from storage.audit_types import (
    AttemptStatus,
    AuditEntry,
    AuditError,
    DecisionRecord,
    ExecutionRecord,
    How,
    NotPendingError,
    Proposable,
    ProposalRecord,
    ProposalStatus,
    UnknownActionError,
    Verdict,
)
from storage.db import session_scope
from storage.models import AuditDecision, AuditExecution, AuditProposal

REOPENABLE = frozenset(
    {
        ProposalStatus.EXPIRED,
        ProposalStatus.SUPERSEDED,
        ProposalStatus.STALE,
        ProposalStatus.FAILED,
        ProposalStatus.REFUSED,
    }
)
CHANGED = (AttemptStatus.APPLIED, AttemptStatus.FOUND, AttemptStatus.PENDING, AttemptStatus.UNKNOWN)
_PAST = {Verdict.APPROVE: "approved", Verdict.REJECT: "rejected", Verdict.EDIT: "edited"}


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _proposal(row: AuditProposal) -> ProposalRecord:
    return ProposalRecord.model_validate(row.model_dump())


def _decision(row: AuditDecision) -> DecisionRecord:
    return DecisionRecord.model_validate(row.model_dump())


def _execution(row: AuditExecution) -> ExecutionRecord:
    return ExecutionRecord.model_validate(row.model_dump())


def _jsonable(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """Platform answers as JSON (TikTok's decimals become strings, exactly)."""
    return None if value is None else to_jsonable_python(value)  # type: ignore[no-any-return]


def _insert_ignore(session: Session, row: dict[str, Any]) -> bool:
    """INSERT … ON CONFLICT DO NOTHING: two processes proposing one action both end with one row.
    True when this call inserted it."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    table = AuditProposal.__table__  # type: ignore[attr-defined]
    result = session.execute(insert(table).values(**row).on_conflict_do_nothing().returning(table.c.id))
    return result.first() is not None


class AuditLog:
    """Proposals, decisions and execution attempts over one warehouse engine."""

    def __init__(self, engine: Engine, *, clock: Callable[[], dt.datetime] = _utcnow) -> None:
        self.engine = engine
        self._clock = clock

    def now(self) -> dt.datetime:
        return self._clock()

    # --- proposals -------------------------------------------------------------------------------

    def propose(
        self,
        actions: Sequence[Proposable],
        *,
        thread_id: str | None = None,
        run_id: str | None = None,
        expires_in: dt.timedelta | None = None,
        supersede: bool = True,
    ) -> list[ProposalRecord]:
        """Record `actions` as waiting for a decision (idempotent by action id) and return each one's
        record: a status other than `proposed` means it is not waiting (already approved, rejected,
        executing or executed). With `supersede`, an undecided proposal of the same kind for the same
        entity that is not among `actions` becomes `superseded` by the new one."""
        now = self._clock()
        expires_at = now + expires_in if expires_in is not None else None
        batch = {a.id for a in actions}
        with session_scope(self.engine) as session:
            rows = [
                self._upsert(session, a, now=now, thread_id=thread_id, run_id=run_id, expires_at=expires_at)
                for a in actions
            ]
            if supersede:
                for a in actions:
                    session.execute(
                        update(AuditProposal)
                        .where(
                            col(AuditProposal.entity_key) == a.entity.key,
                            col(AuditProposal.kind) == a.kind,
                            col(AuditProposal.status) == ProposalStatus.PROPOSED,
                            col(AuditProposal.id).notin_(batch),
                        )
                        .values(
                            status=ProposalStatus.SUPERSEDED,
                            superseded_by=a.id,
                            note=f"superseded by {a.id}, proposed for the same entity by a later cycle",
                            updated_at=now,
                        )
                    )
            return [_proposal(r) for r in rows]

    def _upsert(
        self,
        session: Session,
        action: Proposable,
        *,
        now: dt.datetime,
        thread_id: str | None,
        run_id: str | None,
        expires_at: dt.datetime | None,
        edited_from: str | None = None,
    ) -> AuditProposal:
        fields = {
            "kind": action.kind,
            "entity_key": action.entity.key,
            "platform": action.entity.platform,
            "account_id": action.entity.account_id,
            "action": action.model_dump(mode="json"),
            "spends_more": action.spends_more,
            "proposed_by": action.proposed_by,
            "thread_id": thread_id,
            "run_id": run_id,
            "expires_at": expires_at,
            "edited_from": edited_from,
        }
        inserted = _insert_ignore(
            session,
            {
                "id": action.id,
                "round": 1,
                "status": ProposalStatus.PROPOSED,
                "attempts": 0,
                "created_at": now,
                "proposed_at": now,
                "updated_at": now,
                **fields,
            },
        )
        row = session.exec(
            select(AuditProposal)
            .where(AuditProposal.id == action.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one()
        if inserted:
            return row
        if row.status == ProposalStatus.PROPOSED:  # proposed again while waiting: the newest cycle's
            row.thread_id, row.run_id = thread_id or row.thread_id, run_id or row.run_id
            row.expires_at, row.updated_at = expires_at, now
        elif row.status in REOPENABLE:  # the same change, proposed anew after it ended without effect
            for name, value in fields.items():
                setattr(row, name, value)
            row.round += 1
            row.status, row.note, row.superseded_by, row.attempts = ProposalStatus.PROPOSED, None, None, 0
            row.proposed_at = row.updated_at = now
        session.add(row)
        session.flush()
        return row

    def expire(self) -> list[ProposalRecord]:
        """Mark proposals still undecided at their `expires_at` as expired, and return them."""
        now = self._clock()
        with session_scope(self.engine) as session:
            rows = session.exec(
                select(AuditProposal).where(
                    AuditProposal.status == ProposalStatus.PROPOSED,
                    col(AuditProposal.expires_at).is_not(None),
                    col(AuditProposal.expires_at) <= now,
                )
            ).all()
            for row in rows:
                row.status, row.updated_at = ProposalStatus.EXPIRED, now
                row.note = f"no decision before {row.expires_at:%Y-%m-%d %H:%M} UTC: nothing was applied"
                session.add(row)
            return [_proposal(r) for r in rows]

    # --- decisions -------------------------------------------------------------------------------

    def decide(
        self,
        action_id: str,
        *,
        verdict: Verdict | str,
        by: str,
        how: How | str,
        note: str | None = None,
        edited: Proposable | None = None,
    ) -> ProposalRecord:
        """Record a decision on a waiting proposal. The same decision again returns the record unchanged;
        a different one, or one on an expired or superseded proposal, raises NotPendingError.

        An edit (`edited`: the action with the person's value, already checked by the guardrails) marks
        this proposal `edited` and records the edited action as a proposal of its own, approved by the
        same person (`edited_from` names this one)."""
        verdict, how = Verdict(verdict), How(how)
        if (verdict is Verdict.EDIT) != (edited is not None):
            raise AuditError("an edit needs the edited action, and only an edit takes one")
        if not by.strip():
            raise AuditError("a decision names who made it")
        self.expire()
        now = self._clock()
        with session_scope(self.engine) as session:
            row = session.exec(
                select(AuditProposal).where(AuditProposal.id == action_id).with_for_update()
            ).first()
            if row is None:
                raise UnknownActionError(f"no proposal {action_id!r} in the audit log")
            existing = session.get(AuditDecision, (action_id, row.round))
            if existing is not None:
                same_edit = edited is None or existing.edited_action_id == edited.id
                if existing.verdict == verdict and same_edit:
                    return _proposal(row)
                raise NotPendingError(
                    f"{action_id} was already {_PAST[Verdict(existing.verdict)]} by {existing.decided_by} "
                    f"via {existing.how} at {existing.decided_at:%Y-%m-%d %H:%M} UTC (now {row.status})"
                )
            if row.status != ProposalStatus.PROPOSED:
                raise NotPendingError(f"{action_id} is {row.status}, not waiting for a decision: {row.note}")
            if edited is not None:
                if edited.entity.key != row.entity_key or edited.kind != row.kind:
                    raise AuditError(f"an edit of {action_id} must keep its kind and entity")
                if edited.id == action_id:
                    raise AuditError(f"the edit of {action_id} changes nothing: approve it instead")
                self._approve_edit(session, row, edited, by=by, how=how, note=note, now=now)
            session.add(
                AuditDecision(
                    action_id=action_id,
                    round=row.round,
                    verdict=verdict,
                    decided_by=by,
                    how=how,
                    note=note,
                    edited_value=edited.model_dump(mode="json") if edited is not None else None,
                    edited_action_id=edited.id if edited is not None else None,
                    decided_at=now,
                )
            )
            row.status = {
                Verdict.APPROVE: ProposalStatus.APPROVED,
                Verdict.REJECT: ProposalStatus.REJECTED,
                Verdict.EDIT: ProposalStatus.EDITED,
            }[verdict]
            row.note = f"edited into {edited.id}" if edited is not None else note
            row.updated_at = now
            session.add(row)
            session.flush()
            return _proposal(row)

    def _approve_edit(
        self,
        session: Session,
        original: AuditProposal,
        edited: Proposable,
        *,
        by: str,
        how: How,
        note: str | None,
        now: dt.datetime,
    ) -> None:
        row = self._upsert(
            session,
            edited,
            now=now,
            thread_id=original.thread_id,
            run_id=original.run_id,
            expires_at=None,
            edited_from=original.id,
        )
        if row.status != ProposalStatus.PROPOSED:
            raise NotPendingError(f"the edited action {edited.id} is already {row.status}")
        session.add(
            AuditDecision(
                action_id=row.id,
                round=row.round,
                verdict=Verdict.APPROVE,
                decided_by=by,
                how=how,
                note=note or f"the edit of {original.id}",
                decided_at=now,
            )
        )
        row.status, row.note, row.updated_at = ProposalStatus.APPROVED, f"edit of {original.id}", now
        session.add(row)

    # --- reading ---------------------------------------------------------------------------------

    def find(self, action_id: str) -> ProposalRecord | None:
        with Session(self.engine) as session:
            row = session.get(AuditProposal, action_id)
            return _proposal(row) if row is not None else None

    def get(self, action_id: str) -> ProposalRecord:
        record = self.find(action_id)
        if record is None:
            raise UnknownActionError(f"no proposal {action_id!r} in the audit log")
        return record

    def entry(self, action_id: str) -> AuditEntry:
        self.get(action_id)
        with Session(self.engine) as session:
            return self._entries(session, [session.get(AuditProposal, action_id)])[0]  # type: ignore[list-item]

    def pending(self, *, thread_id: str | None = None) -> list[ProposalRecord]:
        """Proposals waiting for a decision (overdue ones are expired first), oldest first."""
        self.expire()
        query = select(AuditProposal).where(AuditProposal.status == ProposalStatus.PROPOSED)
        if thread_id is not None:
            query = query.where(AuditProposal.thread_id == thread_id)
        return self._proposals(query)

    def with_status(self, *statuses: ProposalStatus | str) -> list[ProposalRecord]:
        """E.g. `with_status("approved", "executing")`: what an execute run has to do or finish."""
        return self._proposals(
            select(AuditProposal).where(col(AuditProposal.status).in_([str(s) for s in statuses]))
        )

    def _proposals(self, query: Any) -> list[ProposalRecord]:
        with Session(self.engine) as session:
            rows = session.exec(query.order_by(col(AuditProposal.proposed_at), col(AuditProposal.id))).all()
            return [_proposal(r) for r in rows]

    def latest(self, kind: str, entity_keys: Sequence[str]) -> dict[str, ProposalRecord]:
        """Per entity key, the most recently proposed action of `kind` (whatever became of it)."""
        out: dict[str, ProposalRecord] = {}
        keys = list(dict.fromkeys(entity_keys))
        for start in range(0, len(keys), 500):
            query = select(AuditProposal).where(
                AuditProposal.kind == kind, col(AuditProposal.entity_key).in_(keys[start : start + 500])
            )
            for record in self._proposals(query):  # oldest first: the newest of each key stays
                out[record.entity_key] = record
        return out

    def history(self, entity_key: str) -> list[AuditEntry]:
        """Everything proposed for one entity (an EntityRef key), oldest first."""
        return self.between(None, None, entity=entity_key)

    def last_change(self, entity_key: str) -> dt.datetime | None:
        """When the entity was last changed through the executor (an attempt applied, found applied,
        or of unknown outcome): what the minimum interval between changes is measured from."""
        with Session(self.engine) as session:
            return session.exec(
                select(func.max(func.coalesce(AuditExecution.finished_at, AuditExecution.started_at))).where(
                    AuditExecution.entity_key == entity_key,
                    col(AuditExecution.status).in_([str(s) for s in CHANGED]),
                )
            ).one()

    def between(
        self, since: dt.datetime | None, until: dt.datetime | None = None, *, entity: str | None = None
    ) -> list[AuditEntry]:
        """Proposals with anything recorded in [since, until), each with its decisions and attempts.
        `entity` is an entity key, or a bare platform id matched at the end of keys."""
        query = select(AuditProposal)
        if since is not None:
            query = query.where(AuditProposal.updated_at >= since)
        if until is not None:
            query = query.where(AuditProposal.created_at < until)
        if entity is not None:
            if "|" in entity:
                query = query.where(AuditProposal.entity_key == entity)
            else:
                query = query.where(col(AuditProposal.entity_key).endswith(f"|{entity}", autoescape=True))
        with Session(self.engine) as session:
            rows = session.exec(query.order_by(col(AuditProposal.proposed_at), col(AuditProposal.id))).all()
            return self._entries(session, list(rows))

    def _entries(self, session: Session, rows: list[AuditProposal]) -> list[AuditEntry]:
        ids = [r.id for r in rows]
        decisions: dict[str, list[DecisionRecord]] = {i: [] for i in ids}
        executions: dict[str, list[ExecutionRecord]] = {i: [] for i in ids}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            for d in session.exec(
                select(AuditDecision)
                .where(col(AuditDecision.action_id).in_(chunk))
                .order_by(col(AuditDecision.round))
            ):
                decisions[d.action_id].append(_decision(d))
            for e in session.exec(
                select(AuditExecution)
                .where(col(AuditExecution.action_id).in_(chunk))
                .order_by(col(AuditExecution.round), col(AuditExecution.attempt))
            ):
                executions[e.action_id].append(_execution(e))
        return [
            AuditEntry(proposal=_proposal(r), decisions=decisions[r.id], executions=executions[r.id])
            for r in rows
        ]

    # --- execution (agents/executor.py) -----------------------------------------------------------

    def set_status(
        self,
        action_id: str,
        status: ProposalStatus | str,
        *,
        note: str,
        expect: Iterable[ProposalStatus | str] = (ProposalStatus.APPROVED,),
    ) -> bool:
        """Move a proposal to `status` (stale, refused, …) if it is in one of `expect`; False if not."""
        with session_scope(self.engine) as session:
            result = session.execute(
                update(AuditProposal)
                .where(
                    col(AuditProposal.id) == action_id,
                    col(AuditProposal.status).in_([str(s) for s in expect]),
                )
                .values(status=str(ProposalStatus(status)), note=note, updated_at=self._clock())
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def begin_attempt(
        self,
        proposal: ProposalRecord,
        *,
        owner: str,
        run_id: str | None,
        observed: dict[str, Any] | None,
        close_previous: str | None = None,
    ) -> ExecutionRecord | None:
        """Claim `proposal` (as read: same round, status and attempts) for one more attempt: the
        proposal becomes `executing` and a `pending` attempt is committed before this returns. None when
        another run changed it first. `close_previous` marks the open attempts of the round
        `interrupted` with that note (a retry after a crash)."""
        now = self._clock()
        with session_scope(self.engine) as session:
            claimed = session.execute(
                update(AuditProposal)
                .where(
                    col(AuditProposal.id) == proposal.id,
                    col(AuditProposal.round) == proposal.round,
                    col(AuditProposal.status) == proposal.status,
                    col(AuditProposal.attempts) == proposal.attempts,
                )
                .values(status=ProposalStatus.EXECUTING, attempts=proposal.attempts + 1, updated_at=now)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                return None
            if close_previous is not None:
                session.execute(
                    update(AuditExecution)
                    .where(
                        col(AuditExecution.action_id) == proposal.id,
                        col(AuditExecution.round) == proposal.round,
                        col(AuditExecution.status).in_([AttemptStatus.PENDING, AttemptStatus.UNKNOWN]),
                    )
                    .values(status=AttemptStatus.INTERRUPTED, error=close_previous, finished_at=now)
                )
            row = AuditExecution(
                action_id=proposal.id,
                round=proposal.round,
                attempt=proposal.attempts + 1,
                entity_key=proposal.entity_key,
                run_id=run_id,
                owner=owner,
                status=AttemptStatus.PENDING,
                observed=_jsonable(observed),
                started_at=now,
            )
            session.add(row)
            session.flush()
            return _execution(row)

    def finish_attempt(
        self,
        attempt: ExecutionRecord,
        *,
        status: AttemptStatus,
        proposal_status: ProposalStatus | None,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
        result_platform_id: str | None = None,
        error: str | None = None,
        note: str | None = None,
    ) -> ExecutionRecord:
        """Close an attempt with the platform's answer; move the proposal (if still `executing` in that
        round) to `proposal_status`, or leave it `executing` when None (outcome unknown)."""
        now = self._clock()
        with session_scope(self.engine) as session:
            row = session.get(AuditExecution, (attempt.action_id, attempt.round, attempt.attempt))
            if row is None:
                raise UnknownActionError(f"no attempt {attempt.attempt} of {attempt.action_id}")
            row.status, row.before, row.after, row.error = status, _jsonable(before), _jsonable(after), error
            row.result_platform_id, row.finished_at = result_platform_id, now
            session.add(row)
            values: dict[str, Any] = {"note": note or error, "updated_at": now}
            if proposal_status is not None:
                values["status"] = proposal_status
            session.execute(
                update(AuditProposal)
                .where(
                    col(AuditProposal.id) == attempt.action_id,
                    col(AuditProposal.round) == attempt.round,
                    col(AuditProposal.status) == ProposalStatus.EXECUTING,
                )
                .values(**values)
            )
            session.flush()
            return _execution(row)

    def record_dry_run(
        self, proposal: ProposalRecord, *, owner: str, run_id: str | None, observed: dict[str, Any] | None
    ) -> ExecutionRecord:
        """Keep what a dry run would have sent as attempt 0 (the latest dry run); the proposal stays."""
        now = self._clock()
        with session_scope(self.engine) as session:
            row = session.get(AuditExecution, (proposal.id, proposal.round, 0)) or AuditExecution(
                action_id=proposal.id,
                round=proposal.round,
                attempt=0,
                entity_key=proposal.entity_key,
                owner=owner,
                status=AttemptStatus.DRY_RUN,
                started_at=now,
            )
            row.run_id, row.owner, row.observed = run_id, owner, _jsonable(observed)
            row.after = proposal.action
            row.started_at = row.finished_at = now
            session.add(row)
            session.flush()
            return _execution(row)

    def open_attempt(self, action_id: str) -> ExecutionRecord | None:
        """The latest attempt of the proposal's current round (None before the first)."""
        with Session(self.engine) as session:
            proposal = session.get(AuditProposal, action_id)
            if proposal is None:
                return None
            row = session.exec(
                select(AuditExecution)
                .where(
                    AuditExecution.action_id == action_id,
                    AuditExecution.round == proposal.round,
                    AuditExecution.attempt > 0,
                )
                .order_by(col(AuditExecution.attempt).desc())
            ).first()
            return _execution(row) if row is not None else None
