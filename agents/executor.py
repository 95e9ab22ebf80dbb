"""The executor: applies approved actions to the platforms, each at most once, and says what happened.

For each action it asks the audit log whether it was approved, enforces the hard rules (and the
guardrails, through `guard`) again whatever was asked, reads the entity on the platform and refuses the
action as stale when it no longer shows the action's `before`, commits a pending attempt, calls the
adapter and records the platform's before/after. One action's failure does not stop the others.

Crash safety: an action found `executing` (a crash between the pending attempt and its result) is
reconciled by reading the platform. When it already shows the `after` value (for a created ad: an ad
with the action's deterministic name in the ad set) the action is marked executed without a call;
when it still shows `before` the action is retried once; otherwise it is stale. A call that fails is
followed by the same read, so a write the platform applied before its answer was lost is not repeated.
An attempt that another live process holds (same host and pid alive, or younger than `lease`) is left
alone.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import TypeAdapter
from pydantic_core import to_jsonable_python

from agents.actions import (
    Action,
    BidChange,
    BudgetChange,
    CreateAd,
    CreateAdSet,
    StatusChange,
    TargetingChange,
)
from agents.execution_types import ActionOutcome, ExecutionReport, Outcome
from agents.platform_state import Observed, Reader, held_elsewhere, known_ads, process_owner
from storage.audit import AuditLog
from storage.audit_types import AttemptStatus, ExecutionRecord, ProposalRecord, ProposalStatus
from tools.platforms.base import PlatformAdapter
from tools.platforms.errors import BadRequestError
from tools.platforms.money import MoneyError, micros_to_decimal
from tools.platforms.records import AccountRecord, WriteResult
from tools.platforms.registry import targeting_problem

Guard = Callable[[Action, AuditLog], str | None]
"""The guardrails, checked again just before the call: a reason to refuse the action, or None."""

MAX_ATTEMPTS = 2  # the first call and one retry after a crash
DEFAULT_LEASE = dt.timedelta(minutes=10)
_ACTION: TypeAdapter[Action] = TypeAdapter(Action)
_IN_FLIGHT: set[str] = set()  # actions being executed by this process right now


# --- the hard rules and the calls -------------------------------------------------------------------


def hard_refusal(
    action: Action, account: AccountRecord | None, adapter: PlatformAdapter | None
) -> str | None:
    """What is refused whatever the guardrails' settings, a person or the LLM asked."""
    ref = action.entity
    if adapter is None:
        return f"no adapter is configured for {ref.platform}"
    if account is None:
        return f"account {ref.account_id} on {ref.platform} is not among the accounts this run may change"
    if isinstance(action, BudgetChange | BidChange):
        if action.after_micros <= 0:
            return f"a zero or negative {'budget' if isinstance(action, BudgetChange) else 'bid'} is refused"
        if action.currency != account.currency:
            return f"the action is in {action.currency} but the account bills in {account.currency}"
    if isinstance(action, BudgetChange) and ref.level not in ("campaign", "adset"):
        return "budgets are set on campaigns and ad sets"
    if isinstance(action, BidChange | CreateAd) and ref.level != "adset":
        return "bids and new ads belong to ad sets"
    if isinstance(action, CreateAd) and action.spec.adset_platform_id != ref.platform_id:
        return "the new ad's ad set is not the action's entity"
    if isinstance(action, CreateAdSet):
        if ref.level != "campaign" or action.spec.campaign_platform_id != ref.platform_id:
            return "a new ad set belongs to the action's campaign"
        if action.spec.daily_budget_micros is not None and action.spec.daily_budget_micros <= 0:
            return "a zero or negative budget is refused"
        if action.ad.creative_platform_id is None:
            return "an experiment arm's ad needs an existing creative"
    if isinstance(action, TargetingChange):
        if ref.level != "adset":
            return "targeting belongs to ad sets"
        problem = targeting_problem(ref.platform, action.after)
        if problem:
            return f"{ref.platform} cannot express this targeting: {problem}"
    return None


async def _call(
    adapter: PlatformAdapter, account: AccountRecord, action: Action, observed: Observed
) -> WriteResult:
    ref = action.entity
    if isinstance(action, BudgetChange):
        lifetime = observed.values.get("lifetime_budget_micros") == action.before_micros and (
            observed.values.get("daily_budget_micros") != action.before_micros
        )
        return await adapter.set_budget(
            account,
            level=ref.level,  # type: ignore[arg-type]
            platform_id=ref.platform_id,
            daily_micros=None if lifetime else action.after_micros,
            lifetime_micros=action.after_micros if lifetime else None,
        )
    if isinstance(action, BidChange):
        return await adapter.set_bid(account, ref.platform_id, action.after_micros)
    if isinstance(action, StatusChange):
        return await adapter.set_status(
            account, level=ref.level, platform_id=ref.platform_id, status=action.after
        )
    if isinstance(action, TargetingChange):
        return await adapter.set_targeting(account, ref.platform_id, action.after)
    if isinstance(action, CreateAdSet):
        # An ad set left without its ad by an earlier failure is completed, not made again.
        adset_id = observed.values.get("adset_platform_id")
        if not adset_id:
            adset_id = (await adapter.create_adset(account, action.spec)).platform_id
        ad = await adapter.create_ad(account, action.ad.model_copy(update={"adset_platform_id": adset_id}))
        return WriteResult(
            entity="adset",
            platform_id=str(adset_id),
            before=None,
            after={"adset_platform_id": str(adset_id), "ad_platform_id": ad.platform_id},
        )
    return await adapter.create_ad(account, action.spec)


# --- the run ------------------------------------------------------------------------------------------


@dataclass
class _Run:
    adapters: Mapping[str, PlatformAdapter]
    audit: AuditLog
    accounts: dict[tuple[str, str], AccountRecord]
    run_id: str | None
    dry_run: bool
    guard: Guard | None
    lease: dt.timedelta
    reader: Reader = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.reader = Reader(self.adapters)

    def _outcome(self, p: ProposalRecord, outcome: Outcome, note: str, **kw: Any) -> ActionOutcome:
        return ActionOutcome(
            action_id=p.id, kind=p.kind, entity_key=p.entity_key, outcome=outcome, note=note, **kw
        )

    def _refuse(self, p: ProposalRecord, outcome: Literal["stale", "refused"], note: str) -> ActionOutcome:
        self.audit.set_status(p.id, outcome, note=note, expect=(p.status,))
        return self._outcome(p, outcome, note)

    def _refusal(self, action: Action) -> str | None:
        account = self.accounts.get((action.entity.platform, action.entity.account_id))
        reason = hard_refusal(action, account, self.adapters.get(action.entity.platform))
        if reason is None and self.guard is not None:
            reason = self.guard(action, self.audit)
        return reason

    async def one(self, action_id: str) -> ActionOutcome:
        p = self.audit.find(action_id)
        if p is None:
            return ActionOutcome(
                action_id=action_id, kind="?", entity_key="?", outcome="skipped", note="never proposed"
            )
        if p.status == ProposalStatus.EXECUTED:
            return self._outcome(p, "skipped", "already executed")
        if p.status == ProposalStatus.EXECUTING:
            return await self._reconcile(p, _ACTION.validate_python(p.action))
        if p.status != ProposalStatus.APPROVED:
            return self._outcome(p, "skipped", f"not approved: the proposal is {p.status}")
        action = _ACTION.validate_python(p.action)
        reason = self._refusal(action)
        if reason is not None:
            return self._refuse(p, "refused", reason)
        if self.dry_run:
            self.audit.record_dry_run(p, owner=process_owner(), run_id=self.run_id, observed=None)
            return self._outcome(p, "dry_run", f"would {_describe(action)}; nothing was sent")
        account, _ = self._target(action)
        try:
            observed = await self.reader.observe(action, account)
        except Exception as exc:
            return self._outcome(p, "failed", f"could not read the entity, nothing was sent: {exc}")
        if observed is None:
            return self._refuse(p, "stale", "the platform no longer lists the entity (or it is deleted)")
        if isinstance(action, CreateAd) and observed.found is not None:
            return await self._found(p, action, observed, previous=None)
        if isinstance(action, CreateAdSet) and "after" in observed.matches:
            return await self._found(p, action, observed, previous=None)
        if "before" not in observed.matches:
            return self._refuse(
                p, "stale", f"changed since proposed: the platform shows {observed.describe()}"
            )
        attempt = self.audit.begin_attempt(
            p, owner=process_owner(), run_id=self.run_id, observed=observed.values
        )
        if attempt is None:
            return self._outcome(p, "skipped", "another run took it first")
        return await self._apply(p, action, attempt)

    def _target(self, action: Action) -> tuple[AccountRecord, PlatformAdapter]:
        ref = action.entity
        return self.accounts[(ref.platform, ref.account_id)], self.adapters[ref.platform]

    async def _reconcile(self, p: ProposalRecord, action: Action) -> ActionOutcome:
        """An attempt was left open by a crash: find out from the platform whether it landed."""
        previous = self.audit.open_attempt(p.id)
        if previous is not None and held_elsewhere(previous, now=self.audit.now(), lease=self.lease):
            return self._outcome(
                p, "skipped", f"being executed by {previous.owner} since {previous.started_at}"
            )
        if self.dry_run:
            return self._outcome(p, "skipped", "left executing by an interrupted run: a real run checks it")
        account = self.accounts.get((action.entity.platform, action.entity.account_id))
        if account is None or action.entity.platform not in self.adapters:
            return self._outcome(p, "skipped", "left executing, but this run cannot read its account")
        try:
            observed = await self.reader.observe(action, account, known_ads=known_ads(previous))
        except Exception as exc:
            return self._outcome(p, "unknown", f"left executing; the platform could not be read: {exc}")
        if observed is not None and "after" in observed.matches:
            return await self._found(p, action, observed, previous=previous)
        if observed is None or "before" not in observed.matches:
            seen = observed.describe() if observed else "no such entity"
            return self._close(p, previous, "stale", f"interrupted, and since changed ({seen}): not retried")
        if p.attempts >= MAX_ATTEMPTS:
            return self._close(
                p, previous, "failed", f"interrupted {p.attempts} times, never applied: given up"
            )
        reason = self._refusal(action)
        if reason is not None:
            return self._close(p, previous, "refused", f"interrupted, and now refused: {reason}")
        if previous is not None:
            self.audit.finish_attempt(
                previous,
                status=AttemptStatus.INTERRUPTED,
                proposal_status=None,
                note="interrupted before the platform applied it: retried once",
            )
        attempt = self.audit.begin_attempt(
            p, owner=process_owner(), run_id=self.run_id, observed=observed.values
        )
        if attempt is None:
            return self._outcome(p, "skipped", "another run took it first")
        return await self._apply(p, action, attempt)

    def _close(
        self,
        p: ProposalRecord,
        previous: ExecutionRecord | None,
        outcome: Literal["stale", "failed", "refused"],
        note: str,
    ) -> ActionOutcome:
        if previous is not None:
            self.audit.finish_attempt(
                previous, status=AttemptStatus.INTERRUPTED, proposal_status=ProposalStatus(outcome), note=note
            )
        self.audit.set_status(p.id, outcome, note=note, expect=(ProposalStatus.EXECUTING,))
        return self._outcome(p, outcome, note)

    async def _found(
        self, p: ProposalRecord, action: Action, observed: Observed, *, previous: ExecutionRecord | None
    ) -> ActionOutcome:
        """The platform already shows the change: record it as executed without calling again."""
        attempt = previous
        if attempt is None or attempt.status not in (AttemptStatus.PENDING, AttemptStatus.UNKNOWN):
            attempt = self.audit.begin_attempt(
                p, owner=process_owner(), run_id=self.run_id, observed=observed.values
            )
            if attempt is None:
                return self._outcome(p, "skipped", "another run took it first")
        after = observed.found.model_dump(mode="json") if observed.found else observed.values
        created = observed.found.platform_id if observed.found else None
        problem = await self._pause_replaced(action)
        note = "found already applied on the platform: not sent again" + (f"; {problem}" if problem else "")
        self.audit.finish_attempt(
            attempt,
            status=AttemptStatus.FOUND,
            proposal_status=ProposalStatus.FAILED if problem else ProposalStatus.EXECUTED,
            after=after,
            result_platform_id=created,
            note=note,
        )
        return self._outcome(
            p,
            "failed" if problem else "found",
            note,
            after=after,
            result_platform_id=created,
            attempt=attempt.attempt,
        )

    async def _apply(self, p: ProposalRecord, action: Action, attempt: ExecutionRecord) -> ActionOutcome:
        ref = action.entity
        account, adapter = self._target(action)
        observed = Observed(frozenset({"before"}), dict(attempt.observed or {}))
        try:
            result = await _call(adapter, account, action, observed)
        except Exception as exc:
            self.reader.forget(ref.platform, ref.account_id)
            return await self._after_failure(p, action, attempt, exc)
        self.reader.wrote(action)
        before, after = to_jsonable_python(result.before), to_jsonable_python(result.after)
        problem = await self._pause_replaced(action)
        note = f"{_describe(action)}: done" + (f"; {problem}" if problem else "")
        self.audit.finish_attempt(
            attempt,
            status=AttemptStatus.APPLIED,
            proposal_status=ProposalStatus.FAILED if problem else ProposalStatus.EXECUTED,
            before=before,
            after=after,
            result_platform_id=result.platform_id,
            note=note,
        )
        return self._outcome(
            p,
            "failed" if problem else "executed",
            note,
            before=before,
            after=after,
            result_platform_id=result.platform_id,
            attempt=attempt.attempt,
        )

    async def _after_failure(
        self, p: ProposalRecord, action: Action, attempt: ExecutionRecord, exc: Exception
    ) -> ActionOutcome:
        """The call raised: read the platform to learn whether the write landed anyway (a refused
        request did not)."""
        error = f"{type(exc).__name__}: {exc}"
        account, _ = self._target(action)
        try:
            refused = isinstance(exc, BadRequestError | ValueError)
            observed = (
                None if refused else await self.reader.observe(action, account, known_ads=known_ads(attempt))
            )
        except Exception as read_exc:
            note = f"{error}; the platform could not be read ({read_exc}): the next run checks it first"
            self.audit.finish_attempt(
                attempt, status=AttemptStatus.UNKNOWN, proposal_status=None, error=error, note=note
            )
            return self._outcome(p, "unknown", note, attempt=attempt.attempt)
        if observed is not None and "after" in observed.matches and "before" not in observed.matches:
            return await self._found(p, action, observed, previous=attempt)
        self.audit.finish_attempt(
            attempt, status=AttemptStatus.FAILED, proposal_status=ProposalStatus.FAILED, error=error
        )
        return self._outcome(p, "failed", error, attempt=attempt.attempt)

    async def _pause_replaced(self, action: Action) -> str | None:
        """A creative swap: pause the replaced ad once the new one exists (a no-op when already paused)."""
        if not isinstance(action, CreateAd) or action.replaces is None:
            return None
        old = action.replaces
        account, adapter = self._target(action)
        try:
            ads = await self.reader.listed(old.platform, account, "ad")
            if (ad := ads.get(old.platform_id)) is not None and ad.status == "PAUSED":
                return None
            await adapter.set_status(account, level="ad", platform_id=old.platform_id, status="PAUSED")
        except Exception as exc:
            return f"the new ad exists but pausing the replaced ad {old.platform_id} failed: {exc}"
        finally:
            self.reader.forget(old.platform, old.account_id)
        return None


def _money(micros: int | None, currency: str) -> str:
    if micros is None:
        return "automatic"
    try:
        return str(micros_to_decimal(micros, currency))
    except MoneyError:
        return f"{micros} micros"


def _describe(action: Action) -> str:
    ref = action.entity
    where = f"{ref.platform} {ref.level} {ref.platform_id}"
    if isinstance(action, BudgetChange | BidChange):
        what = "budget" if isinstance(action, BudgetChange) else "bid"
        return f"set the {what} of {where} from {_money(action.before_micros, action.currency)} to " + (
            f"{_money(action.after_micros, action.currency)} {action.currency}"
        )
    if isinstance(action, StatusChange):
        return f"set {where} from {action.before} to {action.after}"
    if isinstance(action, TargetingChange):
        out = "; ".join(f"{k} {', '.join(v)}" for k, v in action.excluded.items())
        return f"change the targeting of {where}" + (f" (excluding {out})" if out else "")
    if isinstance(action, CreateAdSet):
        return f"create the ad set {action.spec.name!r} in {where}"
    return f"create the ad {action.spec.name!r} in {where}"


def _internal_error(audit: AuditLog, action_id: str, exc: Exception) -> ActionOutcome:
    """An error outside the platform call. The pending attempt is committed before any call, so either
    nothing was sent, or the action stays `executing` and the next run checks the platform first."""
    try:
        p = audit.find(action_id)
    except Exception:
        p = None
    executing = p is not None and p.status == ProposalStatus.EXECUTING
    return ActionOutcome(
        action_id=action_id,
        kind=p.kind if p else "?",
        entity_key=p.entity_key if p else "?",
        outcome="unknown" if executing else "failed",
        note=f"{type(exc).__name__}: {exc}"
        + ("; left executing: the next run checks the platform first" if executing else ""),
    )


async def execute(
    approved: Iterable[Action | str],
    adapters: Mapping[str, PlatformAdapter],
    audit: AuditLog,
    *,
    accounts: Iterable[AccountRecord] | None = None,
    run_id: str | None = None,
    dry_run: bool = False,
    guard: Guard | None = None,
    lease: dt.timedelta = DEFAULT_LEASE,
) -> ExecutionReport:
    """Apply the approved actions among `approved` (actions or their ids), in order, each at most once.

    Only what the audit log holds as approved (or executing, after a crash) is applied, as the audit
    log holds it. `accounts` are the accounts this run may change (None: every account the adapters
    list). With `dry_run` nothing is sent to a platform: what would be done is recorded and reported.
    """
    if accounts is None:
        accounts = [a for adapter in adapters.values() for a in await adapter.accounts()]
    run = _Run(
        adapters=adapters,
        audit=audit,
        accounts={(a.platform, a.platform_id): a for a in accounts},
        run_id=run_id,
        dry_run=dry_run,
        guard=guard,
        lease=lease,
    )
    outcomes: list[ActionOutcome] = []
    seen: set[str] = set()
    for item in approved:
        action_id = item if isinstance(item, str) else item.id
        if action_id in seen:
            continue
        seen.add(action_id)
        if action_id in _IN_FLIGHT:
            outcomes.append(
                ActionOutcome(
                    action_id=action_id,
                    kind="?",
                    entity_key="?",
                    outcome="skipped",
                    note="being executed by this process",
                )
            )
            continue
        _IN_FLIGHT.add(action_id)
        try:
            outcomes.append(await run.one(action_id))
        except Exception as exc:  # e.g. the audit database: this action is reported, the others go on
            outcomes.append(_internal_error(audit, action_id, exc))
        finally:
            _IN_FLIGHT.discard(action_id)
    return ExecutionReport(outcomes=outcomes, dry_run=dry_run)
