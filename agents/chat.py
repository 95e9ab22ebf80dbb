"""The chat router: a marketer's request becomes one typed tool call, chosen by the LLM and validated, and
the tool's deterministic answer (proposals that wait for approval, or figures from the warehouse).

The model chooses a tool and fills its arguments; it never produces a number that is acted on:

- the arguments are validated by the tool's pydantic schema (`LLMClient.choose_tool`);
- every number in them must appear in the request itself (or be the field's default), so a threshold or
  an amount comes from the person, not from the model;
- answers are rendered from the tools' results; a summary the model writes is kept only if every number
  in it is one of those results, else it is dropped and the reason shown.

Text from the platforms (ad names, copy) reaches the model only inside tool results, marked as data.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import Engine
from sqlmodel import Session, select

from agents.actions import Action, BidChange, EntityRef, Evidence, StatusChange, TargetingChange, series_ref
from agents.audience_proposals import AudienceConfig, audience_actions
from agents.experiment_split import split_arms
from prompts import load as load_prompt
from storage.models import Ad, Creative
from tools.alert_inputs import detect_all
from tools.audience_inputs import load_segments
from tools.experiment_runs import ExperimentError, ads_baseline, create_experiment, list_experiments
from tools.experiment_runs import status as experiment_status
from tools.explain import ExplainedMetric, explain_change
from tools.llm.client import LLMClient
from tools.llm.errors import LLMError
from tools.llm.tool_choice import ToolChoice, ToolSpec
from tools.optimize.rules import evaluate
from tools.optimize.rules_language import Condition, Rule, RuleAction
from tools.optimize.rules_records import RuleProposal
from tools.platforms.money import exponent
from tools.reporting import performance
from tools.rule_inputs import load_series

ChatPlatform = Literal["meta", "x", "tiktok"]
FilterMetric = Literal[
    "ctr", "cvr", "cpa", "cpc", "cpm", "roas", "spend", "conversions", "clicks", "impressions"
]
MAX_REQUEST_CHARS = 2_000
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:[.,]\d+)*(?:\.\d+)?")


class ChatError(ValueError):
    """A request the router cannot serve; the message says why and nothing was proposed."""


class PauseWhere(BaseModel):
    """Pause every ad (or ad set, or campaign) whose metric over the last days meets a condition, e.g.
    "pause every X ad with CTR under 0.5% in the last 7 days". The pauses wait for approval."""

    platform: ChatPlatform | Literal["all"] = Field(description="meta, x, tiktok, or all")
    level: Literal["ad", "adset", "campaign"] = Field(default="ad", description="what to pause")
    metric: FilterMetric = Field(description="ctr and cvr in percent; cpa, cpc, cpm and spend in money")
    op: Literal["<", "<=", ">", ">="] = Field(description="< for under/below, > for over/above")
    value: float = Field(ge=0, description="the threshold exactly as the request says it")
    days: int = Field(default=7, ge=1, le=90, description="the window, ending yesterday")


class ExplainChange(BaseModel):
    """Why a platform's metric rose or fell over the last days against the days before, e.g. "why did
    TikTok CPA rise this week?": the funnel factors and the campaigns that moved it."""

    platform: ChatPlatform
    metric: ExplainedMetric = Field(description="cpa, cpc, cpm, ctr, cvr, roas, spend or conversions")
    days: int = Field(default=7, ge=1, le=90, description="length of each compared period")


class ShowPerformance(BaseModel):
    """Spend, results, CPA and ROAS per platform over the last days, e.g. "how are we doing?"."""

    days: int = Field(default=7, ge=1, le=365)


class AudienceWaste(BaseModel):
    """Which audience segments (age, gender, country, placement) cost credibly more per conversion than
    the rest of their ad set, e.g. "which audiences waste money on TikTok?"; proposes excluding them,
    which waits for approval."""

    platform: ChatPlatform | Literal["all"] = Field(default="all", description="meta, x, tiktok, or all")
    days: int = Field(default=28, ge=7, le=90, description="the history read, ending yesterday")


class ShowAlerts(BaseModel):
    """Problems to look at now: spend spikes, delivery drops, CPA jumps, CTR drops, disapproved ads,
    stopped campaigns, stale syncs, e.g. "anything wrong today?" or "any alerts?"."""


class ExperimentProgress(BaseModel):
    """How the running A/B tests are doing, e.g. "how is the headline test going?"."""


class CapBid(BaseModel):
    """Set a bid cap on one ad set, e.g. "cap the bid on ad set Summer Shoes at the CPA goal" (the cap that
    makes a click cost the goal CPA at the ad set's conversion rate) or "cap the bid on Summer Shoes at
    0.80". The change waits for approval."""

    adset: str = Field(
        min_length=2, max_length=200, description="the ad set's name (or id) as the request says"
    )
    bid: float | None = Field(
        default=None, gt=0, description="the cap in major units, only if the request gives one"
    )


class StartExperiment(BaseModel):
    """Start an A/B test of two or more ads, named or quoted by their ad names or headlines, e.g. "start a
    test of the headlines 'Run farther' and 'Built to last'". Ads of one ad set get ad sets of their own,
    which wait for approval."""

    arms: list[str] = Field(min_length=2, max_length=5, description="the ads' names or headlines, as quoted")
    metric: Literal["ctr", "cvr", "cpa"] = Field(default="ctr")
    mde: float = Field(default=0.1, gt=0, le=5, description="the smallest relative lift worth finding")


class Optimise(BaseModel):
    """Look at every account and propose budget and creative changes with the optimizers, e.g. "what
    should I change?" or "optimise my budgets". The changes wait for approval."""


CHAT_TOOLS: dict[str, type[BaseModel]] = {
    "pause_where": PauseWhere,
    "explain_change": ExplainChange,
    "show_performance": ShowPerformance,
    "audience_waste": AudienceWaste,
    "show_alerts": ShowAlerts,
    "experiment_progress": ExperimentProgress,
    "cap_bid": CapBid,
    "start_experiment": StartExperiment,
    "optimise": Optimise,
}


def chat_tools() -> list[ToolSpec]:
    return [
        ToolSpec(name=name, description=(model.__doc__ or "").strip(), args=model)
        for name, model in CHAT_TOOLS.items()
    ]


class ChatOutcome(BaseModel):
    tool: str
    arguments: dict[str, Any]
    proposals: list[dict[str, Any]] = Field(default_factory=list, description="Action JSON")
    answer: str
    notes: list[str] = Field(default_factory=list)
    wants_cycle: bool = Field(default=False, description="the request asks for the optimizers' cycle")


# -- grounding ---------------------------------------------------------------------------------------


def numbers_in(text: str) -> set[Decimal]:
    """The numbers written in a text ("1,200" and "0.5%" included), as Decimals."""
    found: set[Decimal] = set()
    for token in _NUMBER.findall(text):
        for candidate in (token.replace(",", ""), token.replace(",", ".")):
            try:
                found.add(Decimal(candidate).normalize())
            except InvalidOperation:
                continue
    return found


def ungrounded_numbers(arguments: BaseModel, request: str) -> list[str]:
    """Numeric arguments that are neither in the request nor the field's default."""
    stated = numbers_in(request)
    bad = []
    for name, field in type(arguments).model_fields.items():
        value = getattr(arguments, name)
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
            continue
        if value == field.default:
            continue
        if Decimal(str(value)).normalize() not in stated:
            bad.append(f"{name}={value}")
    return bad


# What a request can name, by argument: the value it means and the words that name it.
_MENTIONS: dict[str, dict[str, re.Pattern[str]]] = {
    "platform": {
        "meta": re.compile(r"\b(meta|facebook|fb|instagram|ig)\b", re.I),
        "x": re.compile(r"\b(twitter|tweets?)\b|\bX\b"),
        "tiktok": re.compile(r"\btik ?tok\b", re.I),
    },
    "metric": {
        "ctr": re.compile(r"\b(ctr|click[- ]through)", re.I),
        "cvr": re.compile(r"\b(cvr|conversion rate)\b", re.I),
        "cpa": re.compile(r"\b(cpa|cost per (acquisition|action|conversion|purchase|result))\b", re.I),
        "cpc": re.compile(r"\b(cpc|cost per click)\b", re.I),
        "cpm": re.compile(r"\b(cpm|cost per (mille|thousand))\b", re.I),
        "roas": re.compile(r"\b(roas|return on ad spend)\b", re.I),
        "spend": re.compile(r"\b(spend|spent|spending)\b", re.I),
        "conversions": re.compile(r"\b(conversions|purchases|sales)\b", re.I),
        "clicks": re.compile(r"\bclicks\b", re.I),
        "impressions": re.compile(r"\bimpressions\b", re.I),
    },
    "level": {
        "campaign": re.compile(r"\bcampaigns?\b", re.I),
        "adset": re.compile(r"\b(ad ?sets?|ad ?groups?)\b", re.I),
        "ad": re.compile(r"\bads?\b(?! ?(sets?|groups?)\b)", re.I),
    },
    "op": {
        "<": re.compile(r"\b(under|below|less than|lower than|beneath)\b|<", re.I),
        ">": re.compile(r"\b(over|above|more than|greater than|higher than|exceeds?)\b|>", re.I),
    },
}


# Tools that act (or answer a narrow question) only when the request says so in words.
_TRIGGERS: dict[type[BaseModel], re.Pattern[str]] = {
    PauseWhere: re.compile(r"\b(pause|stop|turn off|switch off|disable)", re.I),
    CapBid: re.compile(r"\b(bid|cap)", re.I),
    StartExperiment: re.compile(r"\b(test|experiment|a/?b)\b", re.I),
    ExperimentProgress: re.compile(r"\b(test|experiment|a/?b)", re.I),
    AudienceWaste: re.compile(r"\b(audience|segment|age|gender|countr|placement|demographic)", re.I),
    ShowAlerts: re.compile(r"\b(alert|wrong|problem|issue|anomal|broken|odd)", re.I),
    ExplainChange: re.compile(r"\b(why|explain|what happened|behind|cause|reason)", re.I),
}


def inconsistent_choices(arguments: BaseModel, request: str) -> list[str]:
    """Categorical arguments that contradict what the request names (a platform, metric, level or
    direction it does not say, when it says one), that guess a platform the request never names, or a
    tool the request's words do not ask for (a bid cap for a request that never says "bid")."""
    problems = []
    trigger = _TRIGGERS.get(type(arguments))
    if trigger is not None and not trigger.search(request):
        problems.append(
            f"the request does not ask for {type(arguments).__name__}: choose the tool it asks for"
        )
    fields = type(arguments).model_fields
    for name, words in _MENTIONS.items():
        if name not in fields:
            continue
        value = str(getattr(arguments, name))
        named = {v for v, pattern in words.items() if pattern.search(request)}
        if name == "op":
            value = value.rstrip("=")
        if named and value not in named and not (name == "platform" and value == "all" and len(named) > 1):
            problems.append(f"{name}={value} but the request says {' or '.join(sorted(named))}")
        elif name == "platform" and not named and value != "all":
            problems.append(f"platform={value} but the request names no platform")
    return problems


def ungrounded_text(text: str, facts: str) -> list[str]:
    """Numbers in a model's text that are not in the facts it was given."""
    known = numbers_in(facts)
    return sorted(format(n, "f") for n in numbers_in(text) - known)


# -- routing ------------------------------------------------------------------------------------------


async def route(llm: LLMClient, request: str, *, today: dt.date, platforms: Sequence[str]) -> ToolChoice:
    """The tool and arguments for a request. A choice with a number the request does not contain is
    shown back to the model once with the reason; a second such choice is refused."""
    text = request.strip()
    if not text:
        raise ChatError("the request is empty")
    if len(text) > MAX_REQUEST_CHARS:
        raise ChatError(f"the request is {len(text):,} characters; at most {MAX_REQUEST_CHARS:,} are read")
    system = load_prompt("chat_router").format(today=today.isoformat(), platforms=", ".join(platforms))
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": system},
        {"role": "user", "content": text},
    ]
    for attempt in (1, 2):
        try:
            choice = await llm.choose_tool(messages, chat_tools(), purpose="chat_router")
        except LLMError as exc:
            raise ChatError(f"the model could not route the request: {str(exc).splitlines()[0]}") from exc
        bad = ungrounded_numbers(choice.arguments, text)
        wrong = inconsistent_choices(choice.arguments, text)
        if not bad and not wrong:
            return choice
        reasons = []
        if bad:
            reasons.append(
                f"{', '.join(bad)} {'is' if len(bad) == 1 else 'are'} not in the request; use only numbers "
                "the request states, or leave the default"
            )
        reasons += wrong
        reason = "; ".join(reasons)
        if attempt == 2:
            raise ChatError(f"the model's {choice.name} call was refused: {reason}")
        messages += [
            {"role": "assistant", "content": choice.arguments.model_dump_json()},
            {"role": "user", "content": f"That call cannot be used: {reason}. Choose again."},
        ]
    raise AssertionError("unreachable")  # pragma: no cover


# -- the tools ----------------------------------------------------------------------------------------


def _status_action(p: RuleProposal, request: str) -> Action:
    assert p.proposed_status is not None and p.current_status in ("ACTIVE", "PAUSED")
    summary = "; ".join(f.text for f in p.figures)
    return StatusChange(
        entity=EntityRef(
            platform=p.platform,  # type: ignore[arg-type]
            account_id=p.account_platform_id or p.account_id,
            level=p.level,
            platform_id=p.platform_id,
            name=p.entity_name,
        ),
        before=p.current_status,  # type: ignore[arg-type]
        after=p.proposed_status,
        reason=p.reason,
        proposed_by="chat",
        evidence=[
            Evidence(
                source=f"chat request: {request[:120]}",
                summary=summary,
                figures={f"{f.metric}_{f.first_day}_{f.last_day}": str(f.value) for f in p.figures},
            )
        ],
    )


def pause_where(
    engine: Engine, args: PauseWhere, *, until: dt.date, request: str
) -> tuple[list[Action], list[str]]:
    """The request as a one-off rule on the warehouse's figures (the rules engine's own semantics: sums
    over the window, a cost with no result counts as at least the spend)."""
    rule = Rule(
        name="chat",
        level=args.level,
        platforms=None if args.platform == "all" else [args.platform],
        conditions=[
            Condition(metric=args.metric, op=args.op, value=Decimal(str(args.value)), days=args.days)
        ],
        action=RuleAction(kind="pause"),
        cooldown_hours=0,
    )
    series = load_series(engine, args.level, until - dt.timedelta(days=args.days - 1), until)
    result = evaluate([rule], series, now=dt.datetime.now(dt.UTC))
    notes = [s.reason if s.entity is None else f"{s.entity}: {s.reason}" for s in result.skipped]
    return [_status_action(p, request) for p in result.proposals], notes


def _performance_text(
    engine: Engine, days: int, until: dt.date, fx: dict[str, Decimal], currency: str
) -> str:
    first, last, rows = performance(engine, days=days, until=until, fx=fx, reporting_currency=currency)
    if not rows:
        return f"The warehouse has no figures for {first}..{last}."
    lines = [f"{first}..{last}, money in {currency}:"]
    for r in rows:
        cpa = (r.spend_reporting / r.conversions).quantize(Decimal("0.01")) if r.conversions else None
        roas = (
            (r.value_reporting / r.spend_reporting).quantize(Decimal("0.01")) if r.spend_reporting else None
        )
        lines.append(
            f"- {r.platform}: spend {r.spend_reporting}, {r.conversions} conversions, "
            f"CPA {cpa if cpa is not None else 'n/a'}, ROAS {roas if roas is not None else 'n/a'}, "
            f"CTR {r.ctr}%"
        )
    return "\n".join(lines)


def run_tool(
    engine: Engine,
    choice: ToolChoice,
    *,
    request: str,
    until: dt.date,
    fx: dict[str, Decimal],
    reporting_currency: str,
) -> ChatOutcome:
    """The chosen tool's deterministic result."""
    args = choice.arguments
    base = {"tool": choice.name, "arguments": args.model_dump(mode="json")}
    if isinstance(args, PauseWhere):
        actions, notes = pause_where(engine, args, until=until, request=request)
        where = "every platform" if args.platform == "all" else args.platform
        answer = (
            f"{len(actions)} {args.level}(s) on {where} with {args.metric.upper()} {args.op} {args.value} "
            f"over the {args.days} days to {until}: each pause waits for your approval."
            if actions
            else f"No active {args.level} on {where} has {args.metric.upper()} {args.op} {args.value} "
            f"over the {args.days} days to {until}: nothing to pause."
        )
        return ChatOutcome(
            **base, proposals=[a.model_dump(mode="json") for a in actions], answer=answer, notes=notes
        )
    if isinstance(args, ExplainChange):
        try:
            explanation = explain_change(
                engine,
                platform=args.platform,
                metric=args.metric,
                until=until,
                days=args.days,
                fx=fx,
                reporting_currency=reporting_currency,
            )
        except ValueError as exc:
            return ChatOutcome(**base, answer=str(exc))
        return ChatOutcome(**base, answer=explanation.text())
    if isinstance(args, ShowPerformance):
        return ChatOutcome(**base, answer=_performance_text(engine, args.days, until, fx, reporting_currency))
    if isinstance(args, AudienceWaste):
        return _audience_waste(engine, args, until=until, base=base)
    if isinstance(args, ShowAlerts):
        alerts = detect_all(engine, judged=until, now=dt.datetime.now(dt.UTC))
        if not alerts:
            return ChatOutcome(**base, answer=f"No alerts for {until}.")
        lines = [f"{len(alerts)} alert(s) for {until}:"] + [
            f"- {a.severity}: {a.message}" for a in alerts[:20]
        ]
        return ChatOutcome(**base, answer="\n".join(lines))
    if isinstance(args, ExperimentProgress):
        running = [e for e in list_experiments(engine) if e.status == "running"]
        if not running:
            return ChatOutcome(**base, answer="No experiment is running (adcluster experiment create ...).")
        lines = [f"- {e.name}: {experiment_status(engine, e.id, until=until).conclusion}" for e in running]
        return ChatOutcome(**base, answer="\n".join([f"{len(running)} running experiment(s):", *lines]))
    if isinstance(args, StartExperiment):
        return _start_experiment(engine, args, until=until, base=base, request=request)
    if isinstance(args, CapBid):
        return _cap_bid(engine, args, until=until, base=base, request=request)
    if isinstance(args, Optimise):
        return ChatOutcome(**base, answer="Running the optimizers on every account.", wants_cycle=True)
    raise ChatError(f"no handler for tool {choice.name}")  # pragma: no cover: CHAT_TOOLS is closed


def _audience_waste(
    engine: Engine, args: AudienceWaste, *, until: dt.date, base: dict[str, Any]
) -> ChatOutcome:
    since = until - dt.timedelta(days=args.days - 1)
    segments = [s for s in load_segments(engine, since, until) if args.platform in ("all", s.platform)]
    if not segments:
        return ChatOutcome(
            **base, answer="The warehouse has no segment figures for that (adcluster sync reads them)."
        )
    notes: list[str] = []
    actions = audience_actions(segments, AudienceConfig(), notes)
    where = "every platform" if args.platform == "all" else args.platform
    if not actions:
        answer = (
            f"No audience segment on {where} costs credibly more per conversion than its ad set over "
            f"{since}..{until}."
        )
    else:
        lines = [
            f"{len(actions)} ad set(s) on {where} spend on dearer segments ({since}..{until}); each "
            "exclusion waits for your approval:"
        ]
        for a in actions:
            assert isinstance(a, TargetingChange)
            for e in a.evidence:
                lines.append(f"- {a.entity.platform} {a.entity.name!r}: {e.summary}")
        answer = "\n".join(lines)
    return ChatOutcome(
        **base, proposals=[a.model_dump(mode="json") for a in actions], answer=answer, notes=notes
    )


def _find_ads(engine: Engine, refs: list[str]) -> list[Ad] | str:
    """Each reference as exactly one ad: by its name or its creative's headline (exact, else contained)."""
    with Session(engine) as session:
        pairs = [
            (ad, (creative.headline or "") if creative else "")
            for ad, creative in session.exec(
                select(Ad, Creative).join(Creative, Creative.id == Ad.creative_id, isouter=True)
            )
        ]
    found: list[Ad] = []
    for ref in refs:
        key = ref.strip().strip("'\"").lower()
        exact = [ad for ad, headline in pairs if key in (ad.name.lower(), headline.lower(), ad.platform_id)]
        near = exact or [
            ad for ad, headline in pairs if key and (key in ad.name.lower() or key in headline.lower())
        ]
        if len(near) != 1:
            return f"{len(near)} ads match {ref!r}: name each ad so that exactly one matches"
        found.append(near[0])
    return found


def _start_experiment(
    engine: Engine, args: StartExperiment, *, until: dt.date, base: dict[str, Any], request: str
) -> ChatOutcome:
    ads = _find_ads(engine, args.arms)
    if isinstance(ads, str):
        return ChatOutcome(**base, answer=f"Not started: {ads}.")
    name = f"chat test {until.isoformat()} {'-'.join(a.platform_id[-4:] for a in ads)}"
    refs = [a.id for a in ads]
    try:
        baseline = ads_baseline(engine, refs, args.metric, until=until)
        if len({a.adset_id for a in ads}) == 1:
            record, actions, planned = split_arms(
                engine,
                name=name,
                refs=refs,
                metric=args.metric,
                mde=Decimal(str(args.mde)),
                power=Decimal("0.8"),
                alpha=Decimal("0.05"),
                baseline=baseline,
                by="chat",
            )
            answer = (
                f"Experiment {record.id} ({name}) is pending: the ads share an ad set, so each gets one of "
                f"its own ({len(actions)} new ad sets, each waiting for your approval); "
                f"{planned.per_arm:,.0f} per arm planned on {args.metric}."
            )
            return ChatOutcome(**base, proposals=[a.model_dump(mode="json") for a in actions], answer=answer)
        record, planned = create_experiment(
            engine,
            name=name,
            refs=refs,
            metric=args.metric,
            mde=Decimal(str(args.mde)),
            start_day=until + dt.timedelta(days=1),
            by="chat",
            baseline=baseline,
        )
    except ExperimentError as exc:
        return ChatOutcome(**base, answer=f"Not started: {exc}")
    return ChatOutcome(
        **base,
        answer=f"Experiment {record.id} ({name}) runs from {record.start_day}: {planned.per_arm:,.0f} per "
        f"arm planned on {args.metric}; its arms are left alone until it ends.",
    )


def _cap_bid(
    engine: Engine, args: CapBid, *, until: dt.date, base: dict[str, Any], request: str
) -> ChatOutcome:
    series = [
        s
        for s in load_series(engine, "adset", until - dt.timedelta(days=27), until)
        if args.adset.lower() in (s.name.lower(), s.platform_id.lower(), s.entity_id)
        or args.adset.lower() in s.name.lower()
    ]
    if not series:
        return ChatOutcome(**base, answer=f"No ad set named like {args.adset!r} in the warehouse.")
    if len(series) > 1:
        names = ", ".join(repr(s.name) for s in series[:8])
        return ChatOutcome(**base, answer=f"{len(series)} ad sets match {args.adset!r} ({names}): name one.")
    s = series[0]
    step = 10 ** (6 - exponent(s.currency))
    if args.bid is not None:
        after = round(Decimal(str(args.bid)) * 1_000_000 / step) * step
        why = f"a bid cap of {args.bid} {s.currency}, as asked"
    else:
        spend = sum(d.spend_micros for d in s.days)
        conv = sum(d.conversions for d in s.days)
        clicks = sum(min(d.clicks, d.impressions) for d in s.days)
        target = s.goal.target_cpa_micros if s.goal and s.goal.currency == s.currency else None
        target = target or (spend // conv if conv else None)
        if not target or not conv or not clicks:
            return ChatOutcome(
                **base, answer=f"{s.name!r} has no conversions in 28 days: give the cap as a number."
            )
        after = max(step, round(target * conv / clicks / step) * step)
        why = (
            f"the CPA goal {Decimal(target) / 1_000_000:.2f} {s.currency} at the ad set's "
            f"{conv / clicks:.2%} conversions per click"
        )
    action = BidChange(
        entity=series_ref(s),
        currency=s.currency,
        before_micros=s.bid_micros,
        after_micros=after,
        reason=f"cap the bid: {why}",
        proposed_by="chat",
        evidence=[Evidence(source=f"chat request: {request[:120]}", summary=why)],
    )
    answer = (
        f"Cap the bid of {s.name!r} at {Decimal(after) / 1_000_000} {s.currency} ({why}): it waits for your "
        "approval."
    )
    return ChatOutcome(**base, proposals=[action.model_dump(mode="json")], answer=answer)


async def summarise(llm: LLMClient, findings: str) -> tuple[str | None, str | None]:
    """(a short summary by the model, None) or (None, why it was dropped): a summary that quotes a number
    the findings do not contain is not shown."""
    try:
        done = await llm.complete(
            [{"role": "user", "content": load_prompt("chat_summary").format(findings=findings)}],
            purpose="chat_summary",
            temperature=0.0,
            max_tokens=120,
        )
    except LLMError as exc:
        return None, f"no summary: {str(exc).splitlines()[0]}"
    text = done.text.strip()
    if not text:
        return None, "no summary: the model answered nothing"
    bad = ungrounded_text(text, findings)
    if bad:
        return None, f"the model's summary was dropped: it quoted {', '.join(bad)}, which no result contains"
    return text, None
