"""The web console's server-rendered pages: log in, overview (charts over time), campaigns / ad sets / ads
with sorting and filters, the approvals queue (approve, reject, edit, bulk), alerts, experiments and the
audit log. Jinja2 escapes every value (ad names and copy are data); forms carry the session's CSRF token;
charts are inline SVG drawn on the server, so nothing is fetched from a CDN."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import func
from sqlmodel import Session, col, select

from app.web.api import Web, answer_proposals
from app.web.auth import SESSION_COOKIE, AuthError, Principal, check_csrf, login, logout, principal
from app.web.charts import line_chart
from storage.audit import AuditLog
from storage.models import Account, Ad, AdSet, Campaign, DailyMetric
from tools.reporting import daily_by_platform

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
pages = APIRouter(include_in_schema=False)


def _web(request: Request) -> Web:
    return request.app.state.web  # type: ignore[no-any-return]


def _me(request: Request) -> Principal | None:
    try:
        return principal(_web(request).engine, request.cookies.get(SESSION_COOKIE), via="cookie")
    except AuthError:
        return None


def _render(request: Request, name: str, me: Principal | None, **context: Any) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(
        request,
        name,
        {
            "me": me,
            "flash": request.query_params.get("flash"),
            "error": request.query_params.get("error"),
            **context,
        },
    )


def _to_login() -> RedirectResponse:
    return RedirectResponse("/login?error=" + "log in first", status_code=303)


async def _form_me(request: Request) -> tuple[Principal, dict[str, Any]]:
    """The logged-in user of a form post, its CSRF token checked; AuthError otherwise."""
    me = principal(_web(request).engine, request.cookies.get(SESSION_COOKIE), via="cookie")
    form = await request.form()
    check_csrf(me, "POST", str(form.get("csrf_token") or ""))
    return me, {k: form.getlist(k) if k == "ids" else form.get(k) for k in form}


@pages.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    return _render(request, "login.html", None, title="Log in")


@pages.post("/login")
async def login_form(request: Request) -> Response:
    form = await request.form()
    w = _web(request)
    try:
        token, _ = login(
            w.engine,
            str(form.get("username") or ""),
            str(form.get("password") or ""),
            ttl=dt.timedelta(hours=w.settings.web_session_hours),
        )
    except AuthError as exc:
        return RedirectResponse("/login?" + urlencode({"error": str(exc)}), status_code=303)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE, token, httponly=True, samesite="lax", max_age=int(w.settings.web_session_hours * 3600)
    )
    return response


@pages.post("/logout")
async def logout_form(request: Request) -> Response:
    try:
        await _form_me(request)
    except AuthError as exc:
        return RedirectResponse("/login?" + urlencode({"error": str(exc)}), status_code=303)
    logout(_web(request).engine, request.cookies.get(SESSION_COOKIE) or "")
    response = RedirectResponse("/login?flash=logged+out", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


def _visible(w: Web, me: Principal) -> dict[str, Account]:
    with Session(w.engine) as session:
        return {a.id: a for a in session.exec(select(Account)) if me.sees(a.platform, a.platform_id)}


def _date(value: str | None, default: dt.date) -> dt.date:
    if not value:
        return default
    return dt.date.fromisoformat(value)


@pages.get("/", response_class=HTMLResponse)
def overview(request: Request) -> Response:
    me = _me(request)
    if me is None:
        return _to_login()
    w = _web(request)
    accounts = _visible(w, me)
    with Session(w.engine) as session:
        last = session.exec(select(func.max(DailyMetric.day))).one() or dt.date.today()
    try:
        until = _date(request.query_params.get("until"), last)
        since = _date(request.query_params.get("since"), until - dt.timedelta(days=27))
    except ValueError:
        return RedirectResponse("/?error=" + "dates are YYYY-MM-DD", status_code=303)
    if since > until or (until - since).days > 400:
        return RedirectResponse(
            "/?error=" + "pick a range of at most 400 days, the first day first", status_code=303
        )
    rows = daily_by_platform(
        w.engine,
        since=since,
        until=until,
        fx=w.settings.fx_rates,
        reporting_currency=w.settings.reporting_currency,
        account_ids=list(accounts),
    )
    by: dict[str, dict[str, list[tuple[dt.date, float]]]] = {"spend": {}, "conv": {}, "cpa": {}, "roas": {}}
    totals: dict[str, list[Decimal | int]] = {}
    for r in rows:
        by["spend"].setdefault(r.platform, []).append((r.day, float(r.spend_reporting)))
        by["conv"].setdefault(r.platform, []).append((r.day, float(r.conversions)))
        if r.conversions:
            by["cpa"].setdefault(r.platform, []).append((r.day, float(r.spend_reporting / r.conversions)))
        if r.spend_reporting:
            by["roas"].setdefault(r.platform, []).append(
                (r.day, float(r.value_reporting / r.spend_reporting))
            )
        t = totals.setdefault(r.platform, [Decimal(0), 0, Decimal(0), 0, 0])
        t[0] += r.spend_reporting
        t[1] += r.conversions
        t[2] += r.value_reporting
        t[3] += r.clicks
        t[4] += r.impressions
    cur = w.settings.reporting_currency
    table = [
        {
            "platform": p,
            "spend": f"{t[0]:,.2f}",
            "conversions": t[1],
            "cpa": f"{t[0] / t[1]:,.2f}" if t[1] else "-",
            "roas": f"{t[2] / t[0]:.2f}" if t[0] else "-",
            "clicks": f"{t[3]:,}",
            "impressions": f"{t[4]:,}",
        }
        for p, t in sorted(totals.items())
    ]
    return _render(
        request,
        "overview.html",
        me,
        title="Overview",
        since=since,
        until=until,
        currency=cur,
        totals=table,
        spend_chart=line_chart(by["spend"], title=f"Spend per day ({cur})"),
        conversions_chart=line_chart(by["conv"], title="Conversions per day"),
        cpa_chart=line_chart(by["cpa"], title=f"CPA ({cur})"),
        roas_chart=line_chart(by["roas"], title="ROAS"),
    )


SORTS = ("name", "platform", "status", "spend", "conversions", "cpa", "ctr", "daily_budget")


@pages.get("/entities", response_class=HTMLResponse)
def entities(request: Request) -> Response:
    me = _me(request)
    if me is None:
        return _to_login()
    w = _web(request)
    params = request.query_params
    level = params.get("level") if params.get("level") in ("campaign", "adset", "ad") else "campaign"
    platform = params.get("platform") if params.get("platform") in ("meta", "x", "tiktok") else None
    q = (params.get("q") or "")[:200] or None
    sort = params.get("sort") if params.get("sort") in SORTS else "spend"
    desc = params.get("dir", "desc") != "asc"
    days = 7
    accounts = _visible(w, me)
    model = {"campaign": Campaign, "adset": AdSet, "ad": Ad}[level]
    key = {"campaign": DailyMetric.campaign_id, "adset": DailyMetric.adset_id, "ad": DailyMetric.ad_id}[level]
    with Session(w.engine) as session:
        last = session.exec(select(func.max(DailyMetric.day))).one() or dt.date.today()
        query = select(model).where(col(model.account_id).in_(list(accounts)))
        if platform:
            query = query.where(model.platform == platform)
        if q:
            query = query.where(col(model.name).contains(q, autoescape=True))
        found = list(session.exec(query.limit(2000)))
        sums = {
            k: (int(s or 0), int(i or 0), int(c or 0), int(v or 0))
            for k, s, i, c, v in session.exec(
                select(
                    key,
                    func.sum(DailyMetric.spend_micros),
                    func.sum(DailyMetric.impressions),
                    func.sum(DailyMetric.clicks),
                    func.sum(DailyMetric.conversions),
                )
                .where(DailyMetric.day > last - dt.timedelta(days=days), DailyMetric.day <= last)
                .group_by(key)
            ).all()
        }
    rows = []
    for e in found:
        s, i, c, v = sums.get(e.id, (0, 0, 0, 0))
        budget = getattr(e, "daily_budget_micros", None)
        rows.append(
            {
                "name": e.name,
                "platform": e.platform,
                "status": e.status
                if e.status == e.effective_status
                else f"{e.status} ({e.effective_status})",
                "spend": s / 1e6,
                "conversions": v,
                "cpa": s / 1e6 / v if v else None,
                "ctr": 100 * c / i if i else None,
                "daily_budget": budget / 1e6 if budget else None,
            }
        )
    rows.sort(key=lambda r: (r[sort] is None, r[sort] if r[sort] is not None else 0), reverse=False)
    if desc:
        present = [r for r in rows if r[sort] is not None]
        rows = sorted(present, key=lambda r: r[sort], reverse=True) + [r for r in rows if r[sort] is None]
    shown = [
        {
            **r,
            "spend": f"{r['spend']:,.2f}",
            "cpa": f"{r['cpa']:,.2f}" if r["cpa"] is not None else "-",
            "ctr": f"{r['ctr']:.2f}%" if r["ctr"] is not None else "-",
            "daily_budget": f"{r['daily_budget']:,.2f}" if r["daily_budget"] is not None else "-",
        }
        for r in rows[:500]
    ]

    def sort_link(column: str) -> str:
        flip = "asc" if column == sort and desc else "desc"
        query = {"level": level, "platform": platform or "", "q": q or "", "sort": column, "dir": flip}
        return "/entities?" + urlencode(query)

    columns = [
        ("name", "name"),
        ("platform", "platform"),
        ("status", "status"),
        ("spend", "spend"),
        ("conversions", "conversions"),
        ("cpa", "CPA"),
        ("ctr", "CTR"),
        ("daily_budget", "daily budget"),
    ]
    return _render(
        request,
        "entities.html",
        me,
        title="Campaigns",
        level=level,
        level_name={"campaign": "Campaigns", "adset": "Ad sets", "ad": "Ads"}[level],
        platform=platform,
        q=q,
        rows=shown,
        columns=columns,
        sort_link=sort_link,
        days=days,
    )


def _change(action: dict[str, Any]) -> str:
    kind = action.get("kind")
    if kind in ("budget_change", "bid_change"):
        before, after = action.get("before_micros"), action.get("after_micros")
        what = "budget" if kind == "budget_change" else "bid"
        was = "automatic" if before is None else f"{before / 1e6:,.2f}"
        return f"{what} {was} → {after / 1e6:,.2f} {action.get('currency', '')}"
    if kind == "status_change":
        return f"{action.get('before')} → {action.get('after')}"
    if kind == "targeting_change":
        return "targeting: exclude " + "; ".join(
            f"{k} {', '.join(v)}" for k, v in (action.get("excluded") or {}).items()
        )
    if kind == "create_adset":
        return f"new ad set {action['spec']['name']}"
    return f"new ad {action.get('spec', {}).get('name')}"


@pages.get("/approvals", response_class=HTMLResponse)
def approvals(request: Request) -> Response:
    me = _me(request)
    if me is None:
        return _to_login()
    audit = AuditLog(_web(request).engine)
    audit.expire()
    items = []
    for p in audit.with_status("proposed"):
        if not me.sees(p.platform, p.account_id):
            continue
        a = p.action
        items.append(
            {
                "id": p.id,
                "change": _change(a),
                "platform": p.platform,
                "level": a["entity"]["level"],
                "entity_name": a["entity"].get("name") or a["entity"]["platform_id"],
                "reason": a.get("reason", ""),
                "evidence": a.get("evidence", []),
                "expires": f"{p.expires_at:%Y-%m-%d %H:%M}" if p.expires_at else "never",
                "editable": a.get("kind") in ("budget_change", "bid_change"),
            }
        )
    return _render(
        request, "approvals.html", me, title="Approvals", items=items, can_approve=me.may("approver")
    )


async def _answer(request: Request, answers: list[tuple[str, str, Decimal | None, str | None]]) -> Response:
    try:
        me, _ = await _form_me(request)
        done = await answer_proposals(_web(request), me, answers)
    except AuthError as exc:
        return RedirectResponse("/approvals?" + urlencode({"error": str(exc)}), status_code=303)
    summary = ", ".join(f"{k}: {v['status']}" for k, v in done.items())
    return RedirectResponse("/approvals?" + urlencode({"flash": summary}), status_code=303)


@pages.post("/approvals/bulk")
async def approvals_bulk(request: Request) -> Response:
    form = await request.form()
    decision = str(form.get("decision") or "")
    ids = [str(i) for i in form.getlist("ids")]
    if decision not in ("approve", "reject") or not ids:
        return RedirectResponse(
            "/approvals?error=" + "check proposals and choose approve or reject", status_code=303
        )
    return await _answer(request, [(i, decision, None, None) for i in ids])


@pages.post("/approvals/{proposal_id}")
async def approvals_one(proposal_id: str, request: Request) -> Response:
    form = await request.form()
    decision = str(form.get("decision") or "")
    if decision not in ("approve", "reject", "edit"):
        return RedirectResponse("/approvals?error=" + "choose approve, reject or edit", status_code=303)
    value = None
    if decision == "edit":
        try:
            value = Decimal(str(form.get("value") or ""))
        except InvalidOperation:
            return RedirectResponse(
                "/approvals?error=" + "an edit needs a number, e.g. 42.50", status_code=303
            )
    return await _answer(request, [(proposal_id, decision, value, None)])


@pages.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request) -> Response:
    me = _me(request)
    if me is None:
        return _to_login()
    entries = AuditLog(_web(request).engine).between(None)
    rows = []
    for e in reversed(entries[-300:]):
        p = e.proposal
        if not me.sees(p.platform, p.account_id):
            continue
        who = "; ".join(f"{d.verdict} by {d.decided_by}" for d in e.decisions) or "-"
        rows.append(
            [
                f"{p.proposed_at:%Y-%m-%d %H:%M}",
                p.platform,
                _change(p.action),
                p.action["entity"].get("name") or "",
                str(p.status),
                who,
            ]
        )
    return _render(
        request,
        "table.html",
        me,
        title="Audit log",
        heading="Audit log",
        empty="Nothing proposed yet.",
        header=["proposed", "platform", "change", "entity", "status", "decisions"],
        rows=rows,
    )


@pages.get("/alerts", response_class=HTMLResponse)
def alerts_page(request: Request) -> Response:
    from tools.alert_store import recent

    me = _me(request)
    if me is None:
        return _to_login()
    rows = [
        [str(a.day), a.severity, a.kind.replace("_", " "), a.platform, a.message, a.status]
        for a in recent(_web(request).engine, since=dt.date.today() - dt.timedelta(days=3650))
        if me.sees(a.platform, a.account_id) or a.platform == "*" or a.account_id == "*"
    ][:300]
    return _render(
        request,
        "table.html",
        me,
        title="Alerts",
        heading="Alerts",
        empty="No alerts raised (adcluster alerts).",
        header=["day", "severity", "kind", "platform", "what", "delivery"],
        rows=rows,
    )


@pages.get("/experiments", response_class=HTMLResponse)
def experiments_page(request: Request) -> Response:
    from tools.experiment_runs import list_experiments

    me = _me(request)
    if me is None:
        return _to_login()
    rows = [
        [
            e.name,
            e.metric,
            str(len(e.arms)),
            str(e.start_day) if e.status != "pending" else "-",
            e.status,
            (e.result or {}).get("conclusion", ""),
        ]
        for e in list_experiments(_web(request).engine)
        if any(me.sees(a["platform"], a["account_id"]) for a in e.arms)
    ]
    return _render(
        request,
        "table.html",
        me,
        title="Experiments",
        heading="Experiments",
        empty="No experiment yet.",
        header=["name", "metric", "arms", "start", "status", "conclusion"],
        rows=rows,
    )


@pages.get("/runs", response_class=HTMLResponse)
def runs_page(request: Request) -> Response:
    """Each cycle (a graph thread) with when it proposed, what, and what became of it."""
    me = _me(request)
    if me is None:
        return _to_login()
    entries = AuditLog(_web(request).engine).between(None)
    threads: dict[str, dict[str, Any]] = {}
    for e in entries:
        p = e.proposal
        if not me.sees(p.platform, p.account_id):
            continue
        t = threads.setdefault(
            p.thread_id or "-", {"first": p.proposed_at, "last": p.updated_at, "count": 0, "status": {}}
        )
        t["first"], t["last"] = min(t["first"], p.proposed_at), max(t["last"], p.updated_at)
        t["count"] += 1
        t["status"][str(p.status)] = t["status"].get(str(p.status), 0) + 1
    rows = [
        [
            thread,
            f"{t['first']:%Y-%m-%d %H:%M}",
            f"{t['last']:%Y-%m-%d %H:%M}",
            str(t["count"]),
            ", ".join(f"{n} {k}" for k, n in sorted(t["status"].items())),
        ]
        for thread, t in sorted(threads.items(), key=lambda kv: kv[1]["first"], reverse=True)
    ][:300]
    return _render(
        request,
        "table.html",
        me,
        title="Runs",
        heading="Runs (cycles and chats)",
        empty="No cycle has proposed anything yet.",
        header=["thread", "first proposal", "last change", "proposals", "outcome"],
        rows=rows,
    )


def _link_claims(request: Request, token: str) -> tuple[Any, Any]:
    from app.web.links import verify

    w = _web(request)
    if not w.settings.web_secret:
        raise AuthError(404, "signed links are not configured (ADCLUSTER_WEB_SECRET)")
    claims = verify(w.settings.web_secret, token, now=dt.datetime.now(dt.UTC))
    proposal = AuditLog(w.engine).find(claims.proposal_id)
    if proposal is None:
        raise AuthError(404, f"no proposal {claims.proposal_id}")
    return claims, proposal


@pages.get("/link/{token}", response_class=HTMLResponse)
def link_page(token: str, request: Request) -> Response:
    """The confirmation page of a signed link: it decides nothing (chat apps fetch links to preview)."""
    try:
        claims, p = _link_claims(request, token)
    except AuthError as exc:
        return _render(
            request, "link.html", None, title="Link", heading="This link cannot be used", outcome=str(exc)
        )
    a = p.action
    return _render(
        request,
        "link.html",
        None,
        title="Confirm",
        heading="Confirm",
        token=token,
        decision=claims.decision,
        user=claims.user,
        change=_change(a),
        entity=f"{p.platform} {a['entity']['level']} {a['entity'].get('name') or ''}",
        reason=a.get("reason", ""),
    )


@pages.post("/link/{token}", response_class=HTMLResponse)
async def link_use(token: str, request: Request) -> Response:
    """Answer the proposal as the link's approver, once; the guardrails and the executor as always."""
    from sqlmodel import Session as DbSession

    from app.web.links import use
    from storage.models import WebUser

    w = _web(request)
    try:
        claims, _ = _link_claims(request, token)
        with DbSession(w.engine) as session:
            user = session.exec(select(WebUser).where(WebUser.username == claims.user)).first()
        if user is None:
            raise AuthError(403, f"the link's approver {claims.user} is not a console user")
        who = Principal(
            user_id=user.id,
            username=user.username,
            role=user.role,
            accounts=list(user.accounts),
            csrf_token="",
            via="bearer",  # type: ignore[arg-type]
        )
        use(w.engine, claims, now=dt.datetime.now(dt.UTC))
        done = await answer_proposals(w, who, [(claims.proposal_id, claims.decision, None, "by signed link")])
    except AuthError as exc:
        return _render(request, "link.html", None, title="Link", heading="Not done", outcome=str(exc))
    outcome = f"{claims.decision}d by {claims.user}: the proposal is {done[claims.proposal_id]['status']}"
    return _render(request, "link.html", None, title="Done", heading="Done", outcome=outcome)


@pages.get("/creatives", response_class=HTMLResponse)
def creatives_page(request: Request) -> Response:
    """Semantic search over the creative library (the Chroma index) and the accounts' creatives with
    their figures."""
    from app import composition
    from storage.asset_types import AssetKind
    from storage.models import Creative

    me = _me(request)
    if me is None:
        return _to_login()
    w = _web(request)
    q = (request.query_params.get("q") or "").strip()[:300]
    hits = []
    if q:
        index = composition.creative_index(w.settings)
        if index.count():
            for h in index.search(q, k=20):
                hits.append(
                    {
                        "similarity": f"{h.similarity:.2f}",
                        "text": h.text,
                        "tags": ", ".join(str(t) for t in h.tags),
                        "platforms": ", ".join(h.platforms),
                        "asset_id": h.asset_id,
                        "image": AssetKind(h.kind) == AssetKind.IMAGE,
                    }
                )
    days = 28
    accounts = _visible(w, me)
    with Session(w.engine) as session:
        last = session.exec(select(func.max(DailyMetric.day))).one() or dt.date.today()
        figures = {
            cid: (int(i or 0), int(c or 0), int(v or 0))
            for cid, i, c, v in session.exec(
                select(
                    Ad.creative_id,
                    func.sum(DailyMetric.impressions),
                    func.sum(DailyMetric.clicks),
                    func.sum(DailyMetric.conversions),
                )
                .join(Ad, Ad.id == DailyMetric.ad_id)
                .where(
                    DailyMetric.day > last - dt.timedelta(days=days), col(Ad.account_id).in_(list(accounts))
                )
                .group_by(Ad.creative_id)
            ).all()
        }
        rows = list(session.exec(select(Creative).where(col(Creative.id).in_(list(figures)))))
    rows.sort(key=lambda c: -figures[c.id][0])
    creatives = [
        {
            "platform": c.platform,
            "headline": c.headline or "",
            "body": (c.body or "")[:200],
            "cta": c.call_to_action or "",
            "impressions": f"{figures[c.id][0]:,}",
            "ctr": f"{100 * figures[c.id][1] / figures[c.id][0]:.2f}%" if figures[c.id][0] else "-",
            "conversions": figures[c.id][2],
        }
        for c in rows[:200]
    ]
    return _render(
        request, "creatives.html", me, title="Creatives", q=q, hits=hits, creatives=creatives, days=days
    )


@pages.get("/assets/{asset_id}")
def asset_bytes(asset_id: str, request: Request) -> Response:
    """An image of the creative library, served by the console (no CDN)."""
    from app import composition
    from storage.asset_types import AssetNotFoundError, CorruptBlobError

    me = _me(request)
    if me is None:
        return Response(status_code=401)
    w = _web(request)
    store = composition.asset_store(w.settings, w.engine)
    try:
        record = store.get(asset_id)
        data = store.read(asset_id)
    except (AssetNotFoundError, CorruptBlobError, ValueError):
        return Response("no such asset", status_code=404)
    if not record.mime.startswith("image/"):
        return Response("not an image", status_code=404)
    return Response(data, media_type=record.mime, headers={"X-Content-Type-Options": "nosniff"})


@pages.get("/settings", response_class=HTMLResponse)
def settings_page(request: Request) -> Response:
    """Goals (admins edit them), and the guardrails, approval policy and schedule in force."""
    from storage.models import Goal

    me = _me(request)
    if me is None:
        return _to_login()
    w = _web(request)
    accounts = _visible(w, me)
    with Session(w.engine) as session:
        goals = {g.entity_id: g for g in session.exec(select(Goal).where(Goal.scope == "account"))}
    rows_goals = []
    for a in sorted(accounts.values(), key=lambda a: (a.platform, a.platform_id)):
        g = goals.get(a.id)
        rows_goals.append(
            {
                "platform": a.platform,
                "account_id": a.platform_id,
                "name": a.name,
                "currency": a.currency,
                "target_cpa": f"{Decimal(g.target_cpa_micros) / 10**6}" if g and g.target_cpa_micros else "",
                "target_roas": g.target_roas if g and g.target_roas else "",
            }
        )
    st = w.settings
    rows = [
        ("largest change per action (share)", "ADCLUSTER_GUARDRAIL_MAX_CHANGE", st.guardrail_max_change),
        ("minimum daily budget", "ADCLUSTER_GUARDRAIL_MIN_BUDGET", st.guardrail_min_budget or "none"),
        ("maximum daily budget", "ADCLUSTER_GUARDRAIL_MAX_BUDGET", st.guardrail_max_budget or "none"),
        (
            "bid range",
            "ADCLUSTER_GUARDRAIL_MIN_BID / MAX_BID",
            f"{st.guardrail_min_bid or '-'} .. {st.guardrail_max_bid or '-'}",
        ),
        (
            "hours between changes to one entity",
            "ADCLUSTER_GUARDRAIL_MIN_INTERVAL_HOURS",
            st.guardrail_min_interval_hours,
        ),
        (
            "account daily caps",
            "ADCLUSTER_GUARDRAIL_ACCOUNT_DAILY_CAPS",
            st.guardrail_account_daily_caps or "none",
        ),
        (
            "largest audience cut (share of spend)",
            "ADCLUSTER_GUARDRAIL_MAX_AUDIENCE_CUT",
            st.guardrail_max_audience_cut,
        ),
        ("allowed accounts", "ADCLUSTER_ALLOWED_ACCOUNTS", ", ".join(st.allowed_accounts) or "all"),
        ("dry run", "ADCLUSTER_DRY_RUN", st.dry_run),
        ("approved without a person", "ADCLUSTER_AUTO_APPROVE", st.auto_approve or "nothing"),
        ("proposals expire after (hours)", "ADCLUSTER_PROPOSAL_TTL_HOURS", st.proposal_ttl_hours),
        ("ad sets given new copy per cycle", "ADCLUSTER_NEW_ADS_PER_CYCLE", st.new_ads_per_cycle),
        ("schedule", "adcluster schedule --cron", "a separate process: see adcluster schedule --show"),
    ]
    return _render(
        request, "settings.html", me, title="Settings", goals=rows_goals, rows=rows, can_edit=me.may("admin")
    )


@pages.post("/settings/goals")
async def settings_goals(request: Request) -> Response:
    """An admin sets an account's target CPA and ROAS (blank: none)."""
    from tools.ingest.goals import GoalSpec, write_goals

    try:
        me, form = await _form_me(request)
        if not me.may("admin"):
            raise AuthError(403, f"{me.username} is a {me.role}: only admins change settings")
        platform, account_id = str(form.get("platform") or ""), str(form.get("account_id") or "")
        if not me.sees(platform, account_id):
            raise AuthError(404, f"no account {platform}:{account_id}")
        try:
            spec = GoalSpec(
                platform=platform,  # type: ignore[arg-type]
                account_id=account_id,
                target_cpa=Decimal(str(form["target_cpa"])) if form.get("target_cpa") else None,
                target_roas=Decimal(str(form["target_roas"])) if form.get("target_roas") else None,
            )
        except (ValueError, InvalidOperation) as exc:
            raise AuthError(422, f"the goal is not valid: {str(exc).splitlines()[0]}") from None
        write_goals(_web(request).engine, [spec])
    except AuthError as exc:
        return RedirectResponse("/settings?" + urlencode({"error": str(exc)}), status_code=303)
    return RedirectResponse(
        "/settings?" + urlencode({"flash": f"goal of {platform}:{account_id} saved"}), status_code=303
    )


@pages.get("/chat", response_class=HTMLResponse)
def chat_page(request: Request) -> Response:
    me = _me(request)
    if me is None:
        return _to_login()
    return _render(request, "chat.html", me, title="Chat", max_chars=2000)
