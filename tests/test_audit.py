"""The audit log on SQLite and PostgreSQL: idempotent proposals, decisions with who/when/how, expiry and
supersession, execution attempts claimed once, the entity and time-range queries, its migration and
`adcluster audit`."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import typer
from alembic import command
from sqlalchemy import Engine, inspect
from typer.testing import CliRunner

from agents.actions import BudgetChange, CreateAd, EntityRef, StatusChange
from app.audit_cli import audit_app
from storage.audit import AuditLog
from storage.audit_types import (
    AttemptStatus,
    AuditError,
    NotPendingError,
    ProposalStatus,
    UnknownActionError,
)
from storage.db import alembic_config, migrate
from tools.platforms.base import NewAd

AUDIT_TABLES = {"audit_proposal", "audit_decision", "audit_execution"}
T0 = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
ADSET = EntityRef(platform="meta", account_id="act_1", level="adset", platform_id="123", name="Shoes [b]")
OTHER = EntityRef(platform="x", account_id="18ce54", level="adset", platform_id="9zz")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now

    def tick(self, **kw: float) -> dt.datetime:
        self.now += dt.timedelta(**kw)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def audit(engine: Engine, clock: Clock) -> AuditLog:
    return AuditLog(engine, clock=clock)


def budget(before: int = 10_000_000, after: int = 12_000_000, entity: EntityRef = ADSET) -> BudgetChange:
    return BudgetChange(
        entity=entity, currency="USD", before_micros=before, after_micros=after, reason="best CPA"
    )


# --- migration --------------------------------------------------------------------------------------


def test_migration_0003_adds_the_audit_tables_and_downgrades_cleanly(engine: Engine) -> None:
    assert set(inspect(engine).get_table_names()) >= AUDIT_TABLES
    command.downgrade(alembic_config(engine), "0002")
    assert not AUDIT_TABLES & set(inspect(engine).get_table_names())
    migrate(engine)
    assert set(inspect(engine).get_table_names()) >= AUDIT_TABLES


# --- proposals --------------------------------------------------------------------------------------


def test_proposing_the_same_action_again_keeps_one_record_with_the_newest_cycle(
    audit: AuditLog, clock: Clock
) -> None:
    first = audit.propose([budget()], thread_id="t1", run_id="r1", expires_in=dt.timedelta(hours=4))[0]
    clock.tick(hours=1)
    again = audit.propose([budget()], thread_id="t2", run_id="r2", expires_in=dt.timedelta(hours=4))[0]
    assert first.id == again.id and again.round == 1 and again.status is ProposalStatus.PROPOSED
    assert (again.thread_id, again.run_id, again.created_at) == ("t2", "r2", T0)
    assert again.expires_at == T0 + dt.timedelta(hours=5)
    assert again.action["entity"]["name"] == "Shoes [b]" and again.kind == "budget_change"
    assert [p.id for p in audit.pending()] == [first.id]


def test_a_later_cycles_proposal_for_the_same_entity_supersedes_the_waiting_one(
    audit: AuditLog, clock: Clock
) -> None:
    old = audit.propose([budget(after=12_000_000), budget(entity=OTHER)], run_id="r1")
    clock.tick(hours=4)
    pause = StatusChange(entity=ADSET, before="ACTIVE", after="PAUSED", reason="r")
    new = audit.propose([budget(after=13_000_000), pause], run_id="r2")
    replaced = audit.get(old[0].id)
    assert replaced.status is ProposalStatus.SUPERSEDED and replaced.superseded_by == new[0].id
    assert audit.get(old[1].id).status is ProposalStatus.PROPOSED  # another entity
    assert {p.id for p in audit.pending()} == {old[1].id, new[0].id, new[1].id}  # other kinds stay
    with pytest.raises(NotPendingError, match="superseded"):
        audit.decide(old[0].id, verdict="approve", by="ana", how="cli")


def test_undecided_proposals_expire_and_then_cannot_be_approved(audit: AuditLog, clock: Clock) -> None:
    action = budget()
    audit.propose([action], expires_in=dt.timedelta(hours=2))
    clock.tick(hours=2)
    assert audit.pending() == []
    record = audit.get(action.id)
    assert record.status is ProposalStatus.EXPIRED and "nothing was applied" in (record.note or "")
    with pytest.raises(NotPendingError, match="expired"):
        audit.decide(action.id, verdict="approve", by="ana", how="web")
    clock.tick(hours=1)
    reopened = audit.propose([action], expires_in=dt.timedelta(hours=2))[0]
    assert (reopened.status, reopened.round, reopened.created_at) == (ProposalStatus.PROPOSED, 2, T0)


# --- decisions --------------------------------------------------------------------------------------


def test_a_decision_records_who_when_and_how_and_repeating_it_changes_nothing(
    audit: AuditLog, clock: Clock
) -> None:
    action = budget()
    audit.propose([action])
    clock.tick(minutes=5)
    approved = audit.decide(action.id, verdict="approve", by="ana", how="cli", note="ok")
    clock.tick(minutes=5)
    again = audit.decide(action.id, verdict="approve", by="ana", how="cli")
    assert approved.status is again.status is ProposalStatus.APPROVED
    [decision] = audit.entry(action.id).decisions
    assert (decision.decided_by, decision.how.value, decision.note) == ("ana", "cli", "ok")
    assert decision.decided_at == T0 + dt.timedelta(minutes=5)
    with pytest.raises(NotPendingError, match=r"already approved by ana via cli at 2026-11-25 09:05"):
        audit.decide(action.id, verdict="reject", by="bo", how="web")


@pytest.mark.parametrize(
    ("action_id", "kwargs", "error", "message"),
    [
        ("nope", {"verdict": "approve"}, UnknownActionError, "no proposal 'nope'"),
        (None, {"verdict": "maybe"}, ValueError, "maybe"),
        (None, {"verdict": "approve", "how": "telepathy"}, ValueError, "telepathy"),
        (None, {"verdict": "edit"}, AuditError, "needs the edited action"),
        (None, {"verdict": "approve", "by": " "}, AuditError, "names who"),
    ],
)
def test_bad_decisions_are_refused_with_a_clear_message_and_change_nothing(
    audit: AuditLog, action_id: str | None, kwargs: dict[str, str], error: type[Exception], message: str
) -> None:
    action = budget()
    audit.propose([action])
    arguments = {"by": "ana", "how": "cli", **kwargs}
    with pytest.raises(error, match=message):
        audit.decide(action_id or action.id, **arguments)  # type: ignore[arg-type]
    assert audit.get(action.id).status is ProposalStatus.PROPOSED and audit.entry(action.id).decisions == []


def test_an_edit_keeps_the_value_and_approves_the_edited_action(audit: AuditLog) -> None:
    action = budget(after=15_000_000)
    audit.propose([action], thread_id="t1")
    smaller = budget(after=11_000_000)
    original = audit.decide(action.id, verdict="edit", by="ana", how="web", edited=smaller)
    assert original.status is ProposalStatus.EDITED and original.note == f"edited into {smaller.id}"
    [decision] = audit.entry(action.id).decisions
    assert decision.edited_value is not None and decision.edited_value["after_micros"] == 11_000_000
    edited = audit.entry(smaller.id)
    assert edited.proposal.status is ProposalStatus.APPROVED and edited.proposal.edited_from == action.id
    assert edited.proposal.thread_id == "t1" and edited.decisions[0].decided_by == "ana"
    with pytest.raises(AuditError, match="keep its kind and entity"):
        other = budget(entity=OTHER)
        audit.propose([other])
        audit.decide(other.id, verdict="edit", by="ana", how="web", edited=budget(entity=ADSET, after=1))


def test_the_auto_policy_is_recorded_as_how_it_was_approved(audit: AuditLog) -> None:
    pause = StatusChange(entity=ADSET, before="ACTIVE", after="PAUSED", reason="r")
    audit.propose([pause])
    audit.decide(pause.id, verdict="approve", by="policy:pauses", how="auto-policy")
    assert audit.entry(pause.id).decisions[0].how.value == "auto-policy"
    assert audit.get(pause.id).spends_more is False


# --- execution attempts -----------------------------------------------------------------------------


def test_an_attempt_is_claimed_once_and_closed_with_the_platforms_answer(
    audit: AuditLog, clock: Clock
) -> None:
    action = budget()
    audit.propose([action])
    proposal = audit.decide(action.id, verdict="approve", by="ana", how="cli")
    clock.tick(minutes=1)
    attempt = audit.begin_attempt(proposal, owner="h:1:a", run_id="r1", observed={"daily": 10_000_000})
    assert attempt is not None and attempt.status is AttemptStatus.PENDING and attempt.attempt == 1
    assert audit.get(action.id).status is ProposalStatus.EXECUTING
    assert audit.begin_attempt(proposal, owner="h:2:b", run_id="r2", observed=None) is None  # taken
    assert audit.last_change(ADSET.key) == T0 + dt.timedelta(minutes=1)  # a pending attempt counts
    clock.tick(seconds=2)
    done = audit.finish_attempt(
        attempt,
        status=AttemptStatus.APPLIED,
        proposal_status=ProposalStatus.EXECUTED,
        before={"daily_budget": "1000"},
        after={"daily_budget": "1200"},
        result_platform_id="123",
    )
    assert done.finished_at == T0 + dt.timedelta(minutes=1, seconds=2)
    assert audit.get(action.id).status is ProposalStatus.EXECUTED
    assert audit.last_change(ADSET.key) == done.finished_at and audit.last_change(OTHER.key) is None
    [execution] = audit.entry(action.id).executions
    assert (execution.before, execution.after) == ({"daily_budget": "1000"}, {"daily_budget": "1200"})
    assert audit.propose([action])[0].status is ProposalStatus.EXECUTED  # an executed change stays


def test_a_change_proposed_again_after_it_went_stale_opens_a_new_round(audit: AuditLog) -> None:
    action = budget()
    audit.propose([action])
    audit.decide(action.id, verdict="approve", by="ana", how="cli")
    assert audit.set_status(action.id, "stale", note="the platform shows 11.00")
    assert not audit.set_status(action.id, "refused", note="x")  # only from approved by default
    again = audit.propose([action])[0]
    assert (again.round, again.status, again.attempts) == (2, ProposalStatus.PROPOSED, 0)
    audit.decide(action.id, verdict="approve", by="bo", how="api")
    assert [(d.round, d.decided_by) for d in audit.entry(action.id).decisions] == [(1, "ana"), (2, "bo")]


def test_a_dry_run_is_kept_as_attempt_zero_and_leaves_the_proposal_approved(audit: AuditLog) -> None:
    action = budget()
    audit.propose([action])
    proposal = audit.decide(action.id, verdict="approve", by="ana", how="cli")
    audit.record_dry_run(proposal, owner="h:1:a", run_id="r1", observed=None)
    audit.record_dry_run(proposal, owner="h:1:a", run_id="r2", observed=None)
    [dry] = audit.entry(action.id).executions
    assert (dry.attempt, dry.status, dry.run_id) == (0, AttemptStatus.DRY_RUN, "r2")
    assert audit.get(action.id).status is ProposalStatus.APPROVED and audit.last_change(ADSET.key) is None


# --- queries ----------------------------------------------------------------------------------------


def test_history_of_an_entity_and_everything_in_a_time_range(audit: AuditLog, clock: Clock) -> None:
    first = budget()
    audit.propose([first])
    clock.tick(days=1)
    create = CreateAd(
        entity=ADSET, spec=NewAd(adset_platform_id="123", name="Calm", headline="h"), reason="r"
    )
    audit.propose([create, budget(entity=OTHER)])
    clock.tick(days=1)
    audit.decide(first.id, verdict="reject", by="ana", how="cli")
    assert [e.proposal.id for e in audit.history(ADSET.key)] == [first.id, create.id]
    assert [e.proposal.id for e in audit.between(None, entity="123")] == [first.id, create.id]
    day2 = audit.between(T0 + dt.timedelta(hours=12), T0 + dt.timedelta(hours=36))
    assert {e.proposal.id for e in day2} == {first.id, create.id, budget(entity=OTHER).id}
    assert [e.proposal.id for e in audit.between(T0 + dt.timedelta(hours=36))] == [first.id]
    assert audit.between(None, T0 - dt.timedelta(hours=1)) == []
    assert audit.with_status("rejected")[0].id == first.id


# --- the CLI ----------------------------------------------------------------------------------------


def _cli() -> typer.Typer:
    root = typer.Typer()
    root.add_typer(audit_app, name="audit")

    @root.callback()
    def _root() -> None:  # a group, as in app/cli.py
        pass

    return root


def test_adcluster_audit_shows_proposals_decisions_and_executions(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ADCLUSTER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ADCLUSTER_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    audit = AuditLog(engine)
    action, other = budget(), budget(entity=OTHER)
    audit.propose([action, other])
    proposal = audit.decide(action.id, verdict="approve", by="ana", how="cli")
    attempt = audit.begin_attempt(proposal, owner="h:1:a", run_id="r", observed=None)
    assert attempt is not None
    audit.finish_attempt(
        attempt, status=AttemptStatus.FAILED, proposal_status=ProposalStatus.FAILED, error="boom"
    )
    runner = CliRunner()
    table = runner.invoke(_cli(), ["audit"])
    assert table.exit_code == 0, table.output
    out = table.output  # cells wrap at 120 columns: check words that stay on one line
    assert all(w in out for w in ("budget 10.00 →", "12.00 USD", "approve by ana", "failed #1", "Shoes [b]"))
    assert "1 failed, 1 proposed" in out
    as_json = runner.invoke(_cli(), ["audit", "--entity", ADSET.key, "--json"])
    [entry] = json.loads(as_json.output)
    assert entry["proposal"]["id"] == action.id and entry["executions"][0]["error"] == "boom"
    old = runner.invoke(_cli(), ["audit", "--since", "2000-01-01", "--entity", "9zz", "--json"])
    assert [e["proposal"]["id"] for e in json.loads(old.output)] == [other.id]
    assert (
        json.loads(runner.invoke(_cli(), ["audit", "show", action.id]).output)["proposal"]["id"] == action.id
    )
    unknown = runner.invoke(_cli(), ["audit", "show", "nope"])
    assert unknown.exit_code == 2 and "no proposal 'nope'" in unknown.output
