"""The graph's nodes: each `async def verb(state, runtime) -> partial update`. Side effects on the
platforms live only in `execute`; `approve` does nothing but interrupt (langgraph re-runs a node from its
start on resume)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from langgraph.graph import END
from langgraph.runtime import Runtime
from langgraph.types import interrupt
from pydantic import TypeAdapter, ValidationError

from agents.actions import Action
from agents.analyst import NewAdRequest
from agents.analyst import analyse as run_analyst
from agents.approval_policy import Decision, apply_edit
from agents.approval_policy import validate_decisions as check_decisions
from agents.chat import ChatError, ChatOutcome, route, run_tool, summarise
from agents.creative_agent import due_requests, propose_new_ads
from agents.perception import snapshot
from agents.planner import PlanItem
from graph.context import CycleContext
from graph.state import Answers, CycleState
from tools.llm.errors import LLMError

_ACTION = TypeAdapter(Action)
MAX_FINDINGS = 5  # perception's findings repeated in the cycle's summary


def _actions(rows: list[dict[str, Any]]) -> list[Action]:
    return [_ACTION.validate_python(r) for r in rows]


# What one turn produces; cleared when a new turn starts on the same thread.
_TURN_RESET: dict[str, Any] = {
    "proposals": [],
    "new_ads": [],
    "plan": [],
    "decisions": [],
    "results": [],
    "notes": [],
}


def route_start(state: CycleState) -> Literal["chat", "perceive", "plan"]:
    if state.get("request"):
        return "chat"
    return "plan" if state.get("given") else "perceive"


def given_input(proposals: list[dict[str, Any]]) -> dict[str, Any]:
    """A turn that starts at plan with these proposals (Action JSON): the guardrails, the approval and
    the executor as for any other; what an earlier turn on the thread left is cleared."""
    return {
        **_TURN_RESET,
        "request": None,
        "chat": None,
        "answer": None,
        "summary": "",
        "given": True,
        "proposals": proposals,
    }


async def chat(state: CycleState, runtime: Runtime[CycleContext]) -> dict[str, Any]:
    """The router: the request becomes one validated tool call and that tool's result."""
    ctx = runtime.context
    request = state.get("request") or ""
    reset = {**_TURN_RESET, "summary": "", "answer": None, "given": False}
    try:
        if ctx.llm is None:
            raise ChatError("no language model is configured for chat (see ADCLUSTER_LLM_* settings)")
        choice = await route(ctx.llm, request, today=ctx.until, platforms=ctx.platforms)
        outcome = run_tool(
            ctx.engine,
            choice,
            request=request,
            until=ctx.until,
            fx=ctx.fx,
            reporting_currency=ctx.reporting_currency,
        )
    except ChatError as exc:
        outcome = ChatOutcome(tool="none", arguments={}, answer=f"Not done: {exc}")
        return {**reset, "chat": outcome.model_dump(mode="json"), "answer": outcome.answer}
    answer = outcome.answer
    if (
        ctx.summarise_answers
        and ctx.llm is not None
        and outcome.tool in ("explain_change", "show_performance")
    ):
        lead, dropped = await summarise(ctx.llm, outcome.answer)
        if lead:
            answer = f"{lead}\n\n{outcome.answer}"
        if dropped:
            outcome.notes.append(dropped)
    return {
        **reset,
        "chat": outcome.model_dump(mode="json"),
        "answer": answer,
        "proposals": outcome.proposals,
        "notes": outcome.notes,
    }


def route_after_chat(state: CycleState) -> str:
    outcome = state.get("chat") or {}
    if outcome.get("wants_cycle"):
        return "perceive"
    return "plan" if outcome.get("proposals") else END


async def perceive(state: CycleState, runtime: Runtime[CycleContext]) -> dict[str, Any]:
    ctx = runtime.context
    snap = snapshot(ctx.engine, until=ctx.until, fx=ctx.fx, reporting_currency=ctx.reporting_currency)
    alerts = await ctx.alerts(ctx.until) if ctx.alerts is not None else []
    return {
        **_TURN_RESET,
        "summary": "",
        "snapshot": snap.model_dump(mode="json"),
        "alerts": alerts,
        "given": False,
    }


async def analyse(state: CycleState, runtime: Runtime[CycleContext]) -> dict[str, Any]:
    ctx = runtime.context
    result = run_analyst(ctx.engine, until=ctx.until, config=ctx.analyst)
    return {
        "proposals": [a.model_dump(mode="json") for a in result.actions],
        "notes": result.notes,
        "new_ads": [r.model_dump(mode="json") for r in result.new_ads],
    }


async def create(state: CycleState, runtime: Runtime[CycleContext]) -> dict[str, Any]:
    """The creative agent: new ads for the ad sets the analyst found fatigued, losing or settled, written
    by the LLM (one in flight per ad set); they join the proposals and pass the same guardrails and
    approval."""
    ctx = runtime.context
    requests = [NewAdRequest.model_validate(r) for r in state.get("new_ads", [])]
    if not requests:
        return {}
    if ctx.new_ads_per_cycle == 0 or (ctx.llm is None and ctx.open_llm is None):
        why = "new ads are off (new_ads_per_cycle 0)" if ctx.new_ads_per_cycle == 0 else "no language model"
        return {"notes": [*state.get("notes", []), f"{len(requests)} ad set(s) could test a new ad; {why}"]}
    requests, carried, waited = due_requests(ctx.engine, requests, wait=ctx.new_ad_wait)
    previous = [*state.get("proposals", []), *(a.model_dump(mode="json") for a in carried)]
    if not requests:
        return {"proposals": previous, "notes": [*state.get("notes", []), *waited]}
    library, unkept = None, []
    if ctx.library is not None:
        try:
            library = ctx.library()
        except Exception as exc:  # the copy can still be proposed; it is just not kept for search
            unkept = [f"the creative library could not be opened ({exc}); new copy is not kept in it"]
    if ctx.llm is not None:
        actions, notes = await propose_new_ads(
            ctx.engine, ctx.llm, requests, max_adsets=ctx.new_ads_per_cycle, library=library
        )
    else:
        assert ctx.open_llm is not None
        try:
            async with ctx.open_llm() as llm:
                actions, notes = await propose_new_ads(
                    ctx.engine, llm, requests, max_adsets=ctx.new_ads_per_cycle, library=library
                )
        except LLMError as exc:
            actions, notes = [], [f"no new ads: the model could not start: {str(exc).splitlines()[0]}"]
    return {
        "proposals": [*previous, *(a.model_dump(mode="json") for a in actions)],
        "notes": [*state.get("notes", []), *waited, *unkept, *notes],
    }


async def plan(state: CycleState, runtime: Runtime[CycleContext]) -> dict[str, Any]:
    """The guardrails over every proposal (and over edited values coming back from approval); the
    proposals are written to the audit log before anyone is asked."""
    ctx = runtime.context
    items = ctx.guard(_actions(state.get("proposals", [])))
    statuses = ctx.record("proposed", [i.model_dump(mode="json") for i in items]) or {}
    for i in items:
        status = statuses.get(i.action.id, "proposed")
        if i.verdict != "refused" and status not in ("proposed", "approved"):
            # The same change from the same state was answered before (rejected, executed): not asked again.
            i.verdict, i.auto_approved = "refused", False
            i.reasons.append(f"already {status} in the audit log")
    out: dict[str, Any] = {"plan": [i.model_dump(mode="json") for i in items], "given": False}
    waiting = [i.model_dump(mode="json") for i in items if i.verdict != "refused" and not i.auto_approved]
    if waiting and ctx.announce is not None:
        problem = await ctx.announce(waiting, ctx.thread_id)
        if problem:
            out["notes"] = [*state.get("notes", []), problem]
    return out


def _waiting(state: CycleState) -> list[PlanItem]:
    items = [PlanItem.model_validate(r) for r in state.get("plan", [])]
    return [i for i in items if i.verdict != "refused" and not i.auto_approved]


def route_after_plan(state: CycleState) -> Literal["approve", "execute"]:
    return "approve" if _waiting(state) else "execute"


def validate_decisions(answer: object, waiting: list[PlanItem], *, now: dt.datetime) -> list[Decision]:
    """The resume value as decisions, or a ValueError naming every problem (a malformed answer, unknown
    ids, an id answered twice, an edit of something that is not a budget or a bid, or to a value that is
    not a positive whole number of minor units). The rules are `agents.approval_policy`'s."""
    try:
        answers = Answers.model_validate(answer if isinstance(answer, dict) else {"decisions": answer})
    except ValidationError as exc:
        raise ValueError("; ".join(_error_text(e) for e in exc.errors())) from None
    raw = [
        {"action_id": a.id, "type": a.decision, "value": a.value, "by": a.by, "at": now, "note": a.note}
        for a in answers.decisions
    ]
    return check_decisions([i.action for i in waiting], raw)


def _error_text(error: Any) -> str:
    where = ".".join(str(p) for p in error["loc"])
    return f"{where}: {error['msg']}" if where else error["msg"]


async def approve(state: CycleState, runtime: Runtime[CycleContext]) -> dict[str, Any]:
    """Ask a person; nothing else. An unusable answer is not taken: the question is asked again, with
    what was wrong (langgraph matches each interrupt of the node to its resume value in order)."""
    waiting = _waiting(state)
    question: dict[str, Any] = {
        "question": "approve, reject or edit each proposed change",
        "proposals": [i.model_dump(mode="json") for i in waiting],
    }
    while True:
        answer = interrupt(question)
        try:
            decisions = validate_decisions(answer, waiting, now=dt.datetime.now(dt.UTC))
        except ValueError as exc:
            question = {**question, "error": str(exc).splitlines()[0]}
            continue
        return {"decisions": [d.model_dump(mode="json") for d in decisions]}


async def execute(state: CycleState, runtime: Runtime[CycleContext]) -> dict[str, Any]:
    """Apply what was approved (by a person, or by the explicit auto-approval policy); an edited value is
    checked by the guardrails again first. Decisions are written to the audit log before any call."""
    ctx = runtime.context
    items = {i.action.id: i for i in (PlanItem.model_validate(r) for r in state.get("plan", []))}
    decisions = [Decision.model_validate(d) for d in state.get("decisions", [])]
    # (the proposal's id, the action to apply: the proposal's own, or its edited version)
    approved: list[tuple[str, Action]] = [
        (i.action.id, i.action) for i in items.values() if i.auto_approved and i.verdict != "refused"
    ]
    rows: list[dict[str, Any]] = [
        {"id": i.action.id, "decision": "approve", "by": "policy", "how": "auto-policy"}
        for i in items.values()
        if i.auto_approved and i.verdict != "refused"
    ]
    refused: list[dict[str, Any]] = []
    for d in decisions:
        row: dict[str, Any] = {
            "id": d.action_id,
            "decision": d.type,
            "by": d.by,
            "note": d.note,
            "how": "cli",
        }
        if d.type == "approve":
            approved.append((d.action_id, items[d.action_id].action))
        elif d.type == "edit":
            (checked,) = ctx.guard([apply_edit(items[d.action_id].action, d)])
            if checked.verdict == "refused":
                row |= {"decision": "reject", "note": "the edit was refused: " + "; ".join(checked.reasons)}
                refused.append({"id": d.action_id, "status": "refused", "reasons": checked.reasons})
            else:
                row["edited_action"] = checked.action.model_dump(mode="json")
                approved.append((d.action_id, checked.action))
        rows.append(row)
    not_taken = ctx.record("decided", rows) or {}
    for action_id, why in not_taken.items():
        refused.append({"id": action_id, "status": "not_pending", "note": why})
    to_apply = [a for origin, a in approved if origin not in not_taken]
    results = await ctx.execute(to_apply) if to_apply else []
    return {"results": results + refused}


async def report(state: CycleState, runtime: Runtime[CycleContext]) -> dict[str, Any]:
    plan_items = [PlanItem.model_validate(r) for r in state.get("plan", [])]
    decisions = [Decision.model_validate(d) for d in state.get("decisions", [])]
    results = state.get("results", [])
    done = [r for r in results if r.get("status") == "executed"]
    refused = sum(i.verdict == "refused" for i in plan_items)
    by_policy = sum(i.auto_approved for i in plan_items)
    counts = {k: sum(d.type == k for d in decisions) for k in ("approve", "reject", "edit")}
    findings = (state.get("snapshot") or {}).get("findings") or []
    raised = [a for a in state.get("alerts") or [] if a.get("status") != "repeat"]
    lines = [
        *(f"alert ({a['severity']}): {a['message']}" for a in raised[:MAX_FINDINGS]),
        *(
            [f"alert: {len(raised) - MAX_FINDINGS} more (adcluster alerts)"]
            if len(raised) > MAX_FINDINGS
            else []
        ),
        *(f"seen: {f}" for f in findings[:MAX_FINDINGS]),
        *([f"seen: {len(findings) - MAX_FINDINGS} more finding(s)"] if len(findings) > MAX_FINDINGS else []),
        f"{len(plan_items)} proposal(s): {refused} refused by the guardrails, {by_policy} approved by policy",
        f"{counts['approve']} approved, {counts['reject']} rejected, {counts['edit']} edited by a person",
        f"{len(done)} applied on the platforms, {len(results) - len(done)} not applied",
    ]
    return {"summary": "\n".join(lines)}
