"""The web console's JSON API (documented by FastAPI's OpenAPI schema at /openapi.json): log in and out,
who am I, performance over time, entities, proposals and their decisions, the audit log, health.

Every route but /healthz and /api/login needs a session; state changes made with the session cookie
need the CSRF header; only approvers answer proposals. A user sees the accounts of their clients only.
Answering a proposal resumes its cycle's thread (the same graph, guardrails and executor as the CLI), one
answer at a time per thread in this process; the audit log refuses a proposal answered twice anyway.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections import defaultdict
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import Engine, text
from sqlmodel import Session, col, select

from app.settings import Settings
from app.web.auth import (
    CSRF_HEADER,
    SESSION_COOKIE,
    AuthError,
    Principal,
    check_csrf,
    login,
    logout,
    principal,
)
from app.web.logs import request_ids
from app.web.metrics import Metrics
from storage.audit import AuditLog
from storage.models import Account, Ad, AdSet, Campaign
from tools.reporting import daily_by_platform

MAX_DAYS = 400


class Web:
    """What the routes share: settings, the warehouse, a lock per graph thread."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self.locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self.metrics = Metrics(engine)


def web(request: Request) -> Web:
    return request.app.state.web  # type: ignore[no-any-return]


def who(request: Request, w: Annotated[Web, Depends(web)]) -> Principal:
    bearer = request.headers.get("authorization", "")
    if bearer.lower().startswith("bearer "):
        p = principal(w.engine, bearer[7:].strip(), via="bearer")
    else:
        p = principal(w.engine, request.cookies.get(SESSION_COOKIE), via="cookie")
    check_csrf(p, request.method, request.headers.get(CSRF_HEADER))
    return p


Who = Annotated[Principal, Depends(who)]
WebDep = Annotated[Web, Depends(web)]


class LoginBody(BaseModel):
    username: str = Field(min_length=1, max_length=80)
    password: str = Field(min_length=1, max_length=200)


class LoginAnswer(BaseModel):
    username: str
    role: str
    csrf_token: str
    token: str = Field(description="for API clients: send as `Authorization: Bearer ...`")
    expires_at: dt.datetime


class Me(BaseModel):
    username: str
    role: str
    accounts: list[str]
    csrf_token: str


class DailyRow(BaseModel):
    day: dt.date
    platform: str
    spend: Decimal = Field(description="in the reporting currency")
    conversions: int
    clicks: int
    impressions: int


class Performance(BaseModel):
    since: dt.date
    until: dt.date
    reporting_currency: str
    days: list[DailyRow]


class EntityRow(BaseModel):
    id: str
    level: Literal["campaign", "adset", "ad"]
    platform: str
    account_id: str
    platform_id: str
    name: str
    status: str
    effective_status: str
    daily_budget: Decimal | None = None
    currency: str | None = None


class ProposalRow(BaseModel):
    id: str
    kind: str
    status: str
    platform: str
    account_id: str
    thread_id: str | None
    proposed_at: dt.datetime
    expires_at: dt.datetime | None
    action: dict[str, Any]


class DecisionBody(BaseModel):
    decision: Literal["approve", "reject", "edit"]
    value: Decimal | None = Field(default=None, gt=0, description="edit: the new budget or bid, major units")
    note: str | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def _value_with_edit(self) -> DecisionBody:
        if (self.decision == "edit") != (self.value is not None):
            raise ValueError("an edit needs a value, and only an edit has one")
        return self


class DecisionAnswer(BaseModel):
    id: str
    status: str
    results: list[dict[str, Any]]
    summary: str | None


router = APIRouter()


@router.get("/healthz", tags=["health"])
def healthz(w: WebDep) -> dict[str, str]:
    with w.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return {"status": "ok", "warehouse": "ok"}


@router.post("/api/login", response_model=LoginAnswer, tags=["session"])
def api_login(body: LoginBody, response: Response, w: WebDep) -> LoginAnswer:
    ttl = dt.timedelta(hours=w.settings.web_session_hours)
    token, session = login(w.engine, body.username, body.password, ttl=ttl)
    response.set_cookie(
        SESSION_COOKIE, token, httponly=True, samesite="lax", max_age=int(ttl.total_seconds()), path="/"
    )
    p = principal(w.engine, token, via="cookie")
    return LoginAnswer(
        username=p.username,
        role=p.role,
        csrf_token=session.csrf_token,
        token=token,
        expires_at=session.expires_at,
    )


@router.post("/api/logout", tags=["session"])
def api_logout(request: Request, response: Response, w: WebDep, me: Who) -> dict[str, str]:
    token = request.cookies.get(SESSION_COOKIE) or request.headers.get("authorization", "")[7:].strip()
    logout(w.engine, token)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return {"status": "logged out"}


@router.get("/api/me", response_model=Me, tags=["session"])
def api_me(me: Who) -> Me:
    return Me(username=me.username, role=me.role, accounts=me.accounts, csrf_token=me.csrf_token)


def _visible_accounts(w: Web, me: Principal) -> dict[str, Account]:
    with Session(w.engine) as session:
        return {a.id: a for a in session.exec(select(Account)) if me.sees(a.platform, a.platform_id)}


@router.get("/api/performance", response_model=Performance, tags=["metrics"])
def api_performance(
    w: WebDep,
    me: Who,
    since: Annotated[dt.date, Query(description="first day, YYYY-MM-DD")],
    until: Annotated[dt.date, Query(description="last day, YYYY-MM-DD")],
) -> Performance:
    """Spend, conversions, clicks and impressions per day and platform, in the reporting currency."""
    if since > until:
        raise AuthError(422, f"since {since} is after until {until}")
    if (until - since).days >= MAX_DAYS:
        raise AuthError(422, f"at most {MAX_DAYS} days at once")
    accounts = _visible_accounts(w, me)
    rows = daily_by_platform(
        w.engine,
        since=since,
        until=until,
        fx=w.settings.fx_rates,
        reporting_currency=w.settings.reporting_currency,
        account_ids=list(accounts),
    )
    return Performance(
        since=since,
        until=until,
        reporting_currency=w.settings.reporting_currency,
        days=[
            DailyRow(
                day=r.day,
                platform=r.platform,
                spend=r.spend_reporting,
                conversions=r.conversions,
                clicks=r.clicks,
                impressions=r.impressions,
            )
            for r in rows
        ],
    )


@router.get("/api/entities", response_model=list[EntityRow], tags=["entities"])
def api_entities(
    w: WebDep,
    me: Who,
    level: Literal["campaign", "adset", "ad"] = "campaign",
    platform: Literal["meta", "x", "tiktok"] | None = None,
    q: Annotated[str | None, Query(max_length=200, description="part of the name")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[EntityRow]:
    accounts = _visible_accounts(w, me)
    model = {"campaign": Campaign, "adset": AdSet, "ad": Ad}[level]
    query = select(model).where(col(model.account_id).in_(list(accounts)))
    if platform:
        query = query.where(model.platform == platform)
    if q:
        query = query.where(col(model.name).contains(q, autoescape=True))
    with Session(w.engine) as session:
        rows = session.exec(query.order_by(col(model.name)).limit(limit)).all()
    out = []
    for r in rows:
        budget = getattr(r, "daily_budget_micros", None)
        out.append(
            EntityRow(
                id=r.id,
                level=level,
                platform=r.platform,
                account_id=accounts[r.account_id].platform_id,
                platform_id=r.platform_id,
                name=r.name,
                status=r.status,
                effective_status=r.effective_status,
                daily_budget=Decimal(budget) / 10**6 if budget else None,
                currency=accounts[r.account_id].currency,
            )
        )
    return out


def _row(p: Any) -> ProposalRow:
    return ProposalRow(
        id=p.id,
        kind=p.kind,
        status=str(p.status),
        platform=p.platform,
        account_id=p.account_id,
        thread_id=p.thread_id,
        proposed_at=p.proposed_at,
        expires_at=p.expires_at,
        action=p.action,
    )


@router.get("/api/proposals", response_model=list[ProposalRow], tags=["proposals"])
def api_proposals(
    w: WebDep,
    me: Who,
    status: Literal[
        "proposed", "approved", "rejected", "executed", "failed", "expired", "superseded", "refused", "stale"
    ] = "proposed",
) -> list[ProposalRow]:
    audit = AuditLog(w.engine)
    if status == "proposed":
        audit.expire()
    return [_row(p) for p in audit.with_status(status) if me.sees(p.platform, p.account_id)]


@router.get("/api/proposals/{proposal_id}", response_model=ProposalRow, tags=["proposals"])
def api_proposal(proposal_id: str, w: WebDep, me: Who) -> ProposalRow:
    p = AuditLog(w.engine).find(proposal_id)
    if p is None or not me.sees(p.platform, p.account_id):
        raise AuthError(404, f"no proposal {proposal_id}")
    return _row(p)


async def answer_proposals(
    w: Web, me: Principal, answers: list[tuple[str, str, Decimal | None, str | None]]
) -> dict[str, dict[str, Any]]:
    """Answer waiting proposals ((id, decision, value, note) each): per cycle thread, one resume with all
    of that thread's answers (the guardrails and the executor as for the CLI), one thread at a time in
    this process. Returns per id its status, results and the thread's summary; AuthError when a proposal
    is unknown to this user, not waiting, or the answer is refused (nothing of that thread applied)."""
    from app.cycle import open_cycle

    if not me.may("approver"):
        raise AuthError(403, f"{me.username} is a {me.role}: only approvers answer proposals")
    audit = AuditLog(w.engine)
    audit.expire()
    by_thread: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for proposal_id, decision, value, note in answers:
        p = audit.find(proposal_id)
        if p is None or not me.sees(p.platform, p.account_id):
            raise AuthError(404, f"no proposal {proposal_id}")
        if p.thread_id is None:
            raise AuthError(
                409, f"proposal {proposal_id} belongs to no cycle thread: answer it with adcluster approvals"
            )
        answer: dict[str, Any] = {"id": proposal_id, "decision": decision, "by": me.username}
        if value is not None:
            answer["value"] = str(value)
        if note:
            answer["note"] = note
        by_thread[p.thread_id].append(answer)
    out: dict[str, dict[str, Any]] = {}
    for thread, decisions in by_thread.items():
        async with w.locks[thread]:
            for d in decisions:
                current = audit.get(d["id"])
                if str(current.status) != "proposed":
                    raise AuthError(409, f"proposal {d['id']} is {current.status}, not waiting for an answer")
            async with open_cycle(w.settings, thread_id=thread) as cycle:
                config = cycle.config(thread)
                state = await cycle.graph.aget_state(config)
                waiting = {
                    q["action"]["id"]
                    for task in state.tasks
                    for i in task.interrupts
                    for q in i.value["proposals"]
                }
                missing = [d["id"] for d in decisions if d["id"] not in waiting]
                if missing:
                    raise AuthError(409, f"proposal {missing[0]} is not waiting in its thread any more")
                result = await cycle.answer(thread, decisions)
        again = [i.value for i in result.get("__interrupt__") or []]
        refused = bool(again and again[0].get("error"))
        w.metrics.graph_runs.labels("decision", "refused" if refused else "ok").inc()
        if again and again[0].get("error"):
            raise AuthError(422, again[0]["error"])
        for d in decisions:
            out[d["id"]] = {
                "status": str(audit.get(d["id"]).status),
                "results": [r for r in result.get("results", []) if r.get("id") == d["id"]],
                "summary": result.get("summary"),
            }
    return out


@router.post("/api/proposals/{proposal_id}/decision", response_model=DecisionAnswer, tags=["proposals"])
async def api_decide(proposal_id: str, body: DecisionBody, w: WebDep, me: Who) -> DecisionAnswer:
    """Approve, reject or edit one waiting proposal: its cycle's thread resumes with this answer (the
    guardrails check it again, the executor applies it at most once). The thread's other proposals are
    asked again on the same thread, so each can be answered in its own time."""
    done = await answer_proposals(w, me, [(proposal_id, body.decision, body.value, body.note)])
    return DecisionAnswer(id=proposal_id, **done[proposal_id])


class ChatBody(BaseModel):
    message: str = Field(min_length=1, max_length=2_000, description="a marketer's request")


@router.post("/chat/stream", tags=["chat"])
async def chat_stream(body: ChatBody, w: WebDep, me: Who) -> StreamingResponse:
    """The request through the graph on this user's chat thread, as server-sent events: one per agent
    step as it happens, then the answer (and where the proposals wait, if any)."""
    from app import composition
    from app.chat_cli import describe_step
    from app.cycle import open_cycle

    thread = f"web-chat-{me.user_id}"

    def event(text: str) -> str:
        return f"data: {json.dumps({'text': text})}\n\n"

    async def events() -> AsyncIterator[str]:
        async with w.locks[thread]:
            try:
                async with (
                    composition.llm_client(w.settings) as llm,
                    open_cycle(w.settings, thread_id=thread, llm=llm) as cycle,
                ):
                    config = cycle.config(thread)
                    async for chunk in cycle.graph.astream(
                        {"request": body.message}, config, context=cycle.context, stream_mode="updates"
                    ):
                        for node, update in chunk.items():
                            line = None if node == "__interrupt__" else describe_step(node, update)
                            if line:
                                yield event(f"> {line}")
                    state = await cycle.graph.aget_state(config)
                    values = state.values
                    waiting = [
                        p for task in state.tasks for i in task.interrupts for p in i.value["proposals"]
                    ]
                    yield event(values.get("answer") or values.get("summary") or "done")
                    if waiting:
                        yield event(f"{len(waiting)} change(s) wait for approval: /approvals")
                    w.metrics.llm_used(llm.usage)
                    w.metrics.graph_runs.labels("chat", "ok").inc()
            except Exception as exc:  # the model or the platforms failed: said in the stream, not a 500
                w.metrics.graph_runs.labels("chat", "failed").inc()
                yield event(f"not done: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")

    return StreamingResponse(events(), media_type="text/event-stream")


@router.get("/api/audit", tags=["audit"])
def api_audit(
    w: WebDep,
    me: Who,
    since: Annotated[dt.date | None, Query(description="YYYY-MM-DD")] = None,
) -> list[dict[str, Any]]:
    start = dt.datetime.combine(since, dt.time(), dt.UTC) if since else None
    entries = AuditLog(w.engine).between(start)
    return [e.model_dump(mode="json") for e in entries if me.sees(e.proposal.platform, e.proposal.account_id)]


def create_app(settings: Settings, engine: Engine) -> FastAPI:
    """The web console's ASGI app over one warehouse."""
    app = FastAPI(title="adcluster", version="0.1.0", description=__doc__)
    web_state = Web(settings, engine)
    app.state.web = web_state

    @app.exception_handler(AuthError)
    async def _auth_error(request: Request, exc: AuthError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=exc.status)

    app.include_router(router)
    from app.web.pages import pages  # the pages use this module's Web and answers

    app.include_router(pages)
    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static")
    metrics = web_state.metrics
    app.middleware("http")(metrics.middleware)
    app.middleware("http")(request_ids)
    app.add_api_route("/metrics", metrics.render, methods=["GET"], tags=["health"], include_in_schema=False)
    return app
