"""The marketer's rules (`tools/optimize/rules_language.py`) evaluated on daily warehouse figures
(`tools/optimize/rules_records.py`), producing typed proposals that carry the figures that triggered them.

Decisions, said once:
- Metrics come from sums over the window (CPA = summed spend / summed conversions), never from averaged
  daily ratios. Money is in major units of the entity's currency, CTR and CVR in percent, CPM per 1,000
  impressions, ROAS a ratio (2.5 = 250%). Comparisons are exact (Decimal, cross-multiplied), never floats.
- A cost per result with no result yet (CPA with 0 conversions, CPC with 0 clicks, CPM with 0
  impressions) is neither infinite nor NaN: it is *at least the spend*, what it would be if the next
  result came now. So "cpa > X" holds once the spend exceeds X (as Meta's rules count it) and "cpa < X"
  never holds. With no spend either, or a ratio of nothing (CTR with no impressions, ROAS with no spend),
  the metric is undefined and meets no condition.
- A window of N days ends on the series' last day; days in the covered range without a row had no
  delivery (zeros). A series covering fewer days than a rule needs is skipped, with the reason.
- Money amounts in a rule (an absolute spend or CPA threshold, `set`, `at_least`, `at_most`) are in the
  entity's currency. A rule with such amounts that matches entities of several currencies is refused as
  a whole unless it names its `currency`; a goal CPA in another currency than the entity's is refused.
- Budgets and bids move toward the asked change and stop at whole minor units (a +15% rule never raises
  more than 15%), never below one minor unit, the entity's minimum or `at_least` (clamped, and said), never
  above `at_most`. A change that would not move the amount, or would move it against the rule's sign, is
  skipped with the reason. An ad-set rule whose budget lives on the campaign proposes on the campaign.
- Rules act on ACTIVE entities (pause, budget, bid) or PAUSED ones (activate); others are not considered.
- `last_fired` records, per rule and changed entity, when a proposal was made (whether or not a person
  approves it, so a rejected change is not proposed again within the cooldown).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, localcontext

from tools.optimize.rules_language import LEVEL_NAMES, METRICS, Condition, Level, Metric, Op, Rule
from tools.optimize.rules_records import (
    EntitySeries,
    RuleEvaluation,
    RuleProposal,
    SkipCause,
    SkippedRule,
    TriggerFigure,
)
from tools.platforms.money import EXPONENTS

MICROS = 10**6
ELIGIBLE = {"pause": {"ACTIVE"}, "budget": {"ACTIVE"}, "bid": {"ACTIVE"}, "activate": {"PAUSED"}}


@dataclass(frozen=True)
class _Totals:
    spend_micros: int = 0
    impressions: int = 0
    clicks: int = 0
    conversions: int = 0
    value_micros: int = 0

    def __add__(self, o: _Totals) -> _Totals:
        return _Totals(*(a + b for a, b in zip(self._tuple(), o._tuple(), strict=True)))

    def _tuple(self) -> tuple[int, ...]:
        return (self.spend_micros, self.impressions, self.clicks, self.conversions, self.value_micros)

    def get(self, name: str) -> Decimal:
        if name in ("spend", "value"):
            return Decimal(getattr(self, f"{name}_micros")) / MICROS
        return Decimal(getattr(self, name))


def _measure(metric: Metric, t: _Totals) -> tuple[Decimal | None, bool]:
    """(value, at_least) of a metric over summed figures; None when undefined."""
    with localcontext() as ctx:
        ctx.prec = 60
        num = t.get(metric.numerator) * metric.scale
        if metric.denominator is None:
            return num, False
        den = t.get(metric.denominator)
        if den > 0:
            return (num / den).quantize(Decimal("0.000001")), False
        if metric.cost and t.spend_micros > 0:
            return num, True
        return None, False


def _holds(metric: Metric, t: _Totals, op: Op, threshold: Decimal) -> bool:
    """Exactly: num / den op threshold is num op threshold x den for den > 0."""
    with localcontext() as ctx:
        ctx.prec = 60
        lhs, rhs = t.get(metric.numerator) * metric.scale, threshold
        if metric.denominator is not None:
            den = t.get(metric.denominator)
            if den == 0:
                if not (metric.cost and t.spend_micros > 0 and op in (">", ">=")):
                    return False  # undefined, or a cost that is only known to be at least the spend
            else:
                rhs = threshold * den
        return {">": lhs > rhs, ">=": lhs >= rhs, "<": lhs < rhs, "<=": lhs <= rhs}[op]


def _fmt(unit: str, value: Decimal | None, currency: str) -> str:
    if value is None:
        return "undefined"
    if unit == "money":
        return f"{value.quantize(Decimal(1).scaleb(-EXPONENTS.get(currency, 2))):,} {currency}"
    if unit == "count" and value == value.to_integral_value():
        return f"{int(value):,}"
    return f"{value.quantize(Decimal('0.01'))}{'%' if unit == 'percent' else ''}"


def _micros_text(micros: int, currency: str) -> str:
    return _fmt("money", Decimal(micros) / MICROS, currency)


def evaluate(
    rules: Sequence[Rule],
    series: Sequence[EntitySeries],
    *,
    now: dt.datetime,
    last_fired: Mapping[str, Mapping[str, dt.datetime]] | None = None,
) -> RuleEvaluation:
    """Every rule on every entity of its level: proposals, skips with reasons, and the updated record of
    when each (rule, changed entity) last fired. Rules run in order; entities by id."""
    fired = {rule: dict(times) for rule, times in (last_fired or {}).items()}
    if now.tzinfo is None or any(t.tzinfo is None for times in fired.values() for t in times.values()):
        raise ValueError("now and the last-fired times must be timezone-aware datetimes")
    out = RuleEvaluation(last_fired=fired)
    ordered = sorted(series, key=lambda s: (s.level, s.entity_id))
    for rule in rules:
        _apply(rule, ordered, now, out)
    return out


def _apply(rule: Rule, series: list[EntitySeries], now: dt.datetime, out: RuleEvaluation) -> None:
    matched = [
        s
        for s in series
        if s.level == rule.level
        and s.status in ELIGIBLE[rule.action.kind]
        and (rule.platforms is None or s.platform in rule.platforms)
        and (rule.accounts is None or s.account_platform_id in rule.accounts or s.account_id in rule.accounts)
        and (rule.currency is None or s.currency == rule.currency)
    ]
    currencies = sorted({s.currency for s in matched})
    if rule.currency is None and len(currencies) > 1 and _has_amounts(rule):
        reason = (
            f"its money amounts are in the entity's currency and its {LEVEL_NAMES[rule.level]}s spend in "
            f'{", ".join(currencies)}: add currency = "..." or an accounts filter'
        )
        out.skipped.append(SkippedRule(rule=rule.name, cause="currency", reason=reason))
        return
    changed: dict[str, str] = {}  # entity changed -> label of the entity that triggered it
    for s in matched:
        problem = _unusable(rule, s)
        if problem:
            cause, reason = problem
            out.skipped.append(
                SkippedRule(rule=rule.name, entity_id=s.entity_id, entity=s.label, cause=cause, reason=reason)
            )
            continue
        by_day = _by_day(s)
        figures = [_check(c, s, by_day) for c in rule.conditions]
        if all(f is not None for f in figures):
            _propose(rule, s, [f for f in figures if f is not None], now, out, changed)


def _has_amounts(rule: Rule) -> bool:
    a = rule.action
    return any(c.relative_to is None and METRICS[c.metric].unit == "money" for c in rule.conditions) or any(
        x is not None for x in (a.set_to, a.at_least, a.at_most)
    )


def _unusable(rule: Rule, s: EntitySeries) -> tuple[SkipCause, str] | None:
    if s.currency not in EXPONENTS:
        return "currency", f"unknown currency {s.currency!r}"
    mixed = sorted({r.currency for r in s.days if r.currency and r.currency != s.currency})
    if mixed:
        return (
            "currency",
            f"its history mixes {s.currency} with {', '.join(mixed)}: its sums would add unlike money",
        )
    if s.first_day is None or s.last_day is None or s.first_day > s.last_day:
        return "history", "no history: no synced day to evaluate"
    need, have = max(c.days for c in rule.conditions), (s.last_day - s.first_day).days + 1
    if have < need:
        return "history", f"needs {need} days of history to {s.last_day}, has {have} (from {s.first_day})"
    for ref in sorted({c.relative_to for c in rule.conditions if c.relative_to}):
        what = "CPA" if ref == "goal_cpa" else "ROAS"
        if s.goal is None:
            return (
                "goal",
                f"compares with the goal {what}, and it has no goal (set one on its campaign or account)",
            )
        target = s.goal.target_cpa_micros if ref == "goal_cpa" else s.goal.target_roas
        if target is None:
            return (
                "goal",
                f"compares with the goal {what}, and its goal ({s.goal.source}) sets no target {what}",
            )
        if ref == "goal_cpa" and s.goal.currency != s.currency:
            return (
                "goal",
                f"its goal CPA is in {s.goal.currency} ({s.goal.source}) but it spends in {s.currency}",
            )
    return None


def _by_day(s: EntitySeries) -> dict[dt.date, _Totals]:
    out: dict[dt.date, _Totals] = {}
    for r in s.days:
        if s.first_day is not None and s.last_day is not None and s.first_day <= r.day <= s.last_day:
            row = _Totals(r.spend_micros, r.impressions, r.clicks, r.conversions, r.value_micros)
            out[r.day] = out.get(r.day, _Totals()) + row
    return out


def _check(c: Condition, s: EntitySeries, by_day: dict[dt.date, _Totals]) -> TriggerFigure | None:
    """The condition's figure when it holds, None when it does not."""
    assert s.last_day is not None  # checked by _unusable
    metric = METRICS[c.metric]
    goal = None
    if c.relative_to == "goal_cpa" and s.goal and s.goal.target_cpa_micros:
        goal = Decimal(s.goal.target_cpa_micros) / MICROS
    elif c.relative_to == "goal_roas" and s.goal and s.goal.target_roas:
        goal = s.goal.target_roas
    threshold = c.value * goal if goal is not None else c.value
    days = [s.last_day - dt.timedelta(days=c.days - 1 - i) for i in range(c.days)]
    each = [by_day.get(d, _Totals()) for d in days]
    total = sum(each, _Totals())
    met = (
        all(_holds(metric, t, c.op, threshold) for t in each)
        if c.every_day
        else _holds(metric, total, c.op, threshold)
    )
    if not met:
        return None
    value, at_least = _measure(metric, total)
    measured = [_measure(metric, t) for t in each] if c.every_day else []
    daily = [v for v, _ in measured]
    shown = _fmt(metric.unit, value, s.currency)
    if at_least:
        shown = f"at least {shown} (no {metric.denominator} yet)"
    label = c.metric.upper() if metric.denominator else c.metric
    text = f"{label} {shown} {c.op} {_fmt(metric.unit, threshold, s.currency)}"
    if goal is not None:
        text += f" ({c.value} x goal {_fmt(metric.unit, goal, s.currency)})"
    if c.days == 1:
        text += f" on {days[0]}"
    else:
        text += f" {'on each of' if c.every_day else 'over'} the {c.days} days to {days[-1]}"
    if measured:
        shown_days = [("at least " if low else "") + _fmt(metric.unit, v, s.currency) for v, low in measured]
        text += f" ({', '.join(shown_days)})"
    return TriggerFigure(
        metric=c.metric,
        op=c.op,
        value=value,
        at_least=at_least,
        threshold=threshold,
        relative_to=c.relative_to,
        goal=goal,
        first_day=days[0],
        last_day=days[-1],
        every_day=c.every_day,
        daily=daily,
        text=text,
    )


@dataclass(frozen=True)
class _Target:
    level: Level
    entity_id: str
    platform_id: str
    name: str
    current: int | None = None
    note: str = ""

    @property
    def label(self) -> str:
        return f"{LEVEL_NAMES[self.level]} {self.name or self.entity_id!r}"


def _target(rule: Rule, s: EntitySeries) -> _Target | str:
    kind = rule.action.kind
    if kind in ("pause", "activate"):
        return _Target(s.level, s.entity_id, s.platform_id, s.name)
    if kind == "bid":
        if s.bid_micros is None:
            return "conditions met, but it has no bid amount to change (automatic bidding)"
        return _Target(s.level, s.entity_id, s.platform_id, s.name, s.bid_micros)
    holder = s.budget
    if holder is None or (s.level == "campaign" and holder.level != "campaign"):
        where = (
            'its ad sets carry the budgets: use level = "adset"' if s.level == "campaign" else "none found"
        )
        return f"conditions met, but it has no daily budget of its own ({where})"
    if not holder.daily_budget_micros:
        kind_text = "a lifetime budget only" if holder.lifetime_budget_micros else "no daily budget"
        return f"conditions met, but {LEVEL_NAMES[holder.level]} {holder.name!r} has {kind_text}"
    note = f" (the budget of {s.label} lives on its campaign)" if holder.level != s.level else ""
    return _Target(
        holder.level, holder.entity_id, holder.platform_id, holder.name, holder.daily_budget_micros, note
    )


def _new_amount(rule: Rule, s: EntitySeries, current: int) -> tuple[int, str] | str:
    """The proposed budget or bid in micros and a note on bounds, or why there is none."""
    a, cur, what = rule.action, s.currency, "budget" if rule.action.kind == "budget" else "bid"
    step = 10 ** (6 - EXPONENTS[cur])
    floors = [step, s.min_budget_micros or 0] if a.kind == "budget" else [step]
    if a.at_least is not None:
        floors.append(int((a.at_least * MICROS / step).to_integral_value(ROUND_CEILING)) * step)
    lo = max(floors)
    hi = None if a.at_most is None else int((a.at_most * MICROS / step).to_integral_value(ROUND_FLOOR)) * step
    if hi is not None and hi < lo:
        return f"at_most {_micros_text(hi, cur)} is below the minimum {what} {_micros_text(lo, cur)}"
    if a.set_to is not None:
        wanted = a.set_to * MICROS
        if wanted % step:
            return f"set = {a.set_to} is not a whole number of {cur} minor units"
        new = int(wanted)
    else:
        assert a.change_pct is not None
        raw = Decimal(current) * (100 + a.change_pct) / 100 / step
        new = int(raw.to_integral_value(ROUND_FLOOR if a.change_pct > 0 else ROUND_CEILING)) * step
    note = ""
    if new < lo:
        new, note = lo, f"clamped to the minimum {_micros_text(lo, cur)}"
    if hi is not None and new > hi:
        new, note = hi, f"capped at {_micros_text(hi, cur)}"
    if new == current:
        return f"conditions met, but the {what} stays {_micros_text(current, cur)}" + (
            f" ({note})" if note else ""
        )
    if a.change_pct is not None and (new - current) * a.change_pct < 0:
        return f"conditions met, but the {what} {_micros_text(current, cur)} is outside its bounds ({note})"
    return new, note


def _propose(
    rule: Rule,
    s: EntitySeries,
    figures: list[TriggerFigure],
    now: dt.datetime,
    out: RuleEvaluation,
    changed: dict[str, str],
) -> None:
    def skip(cause: SkipCause, reason: str) -> None:
        out.skipped.append(
            SkippedRule(rule=rule.name, entity_id=s.entity_id, entity=s.label, cause=cause, reason=reason)
        )

    target = _target(rule, s)
    if isinstance(target, str):
        return skip("no_lever", target)
    if target.entity_id in changed:
        return skip(
            "duplicate",
            f"conditions met, but this rule already proposes a change to {target.label} "
            f"(via {changed[target.entity_id]})",
        )
    last = out.last_fired.get(rule.name, {}).get(target.entity_id)
    cooldown = dt.timedelta(hours=rule.cooldown_hours)
    if last is not None and now - last < cooldown:
        return skip(
            "cooldown",
            f"conditions met, but it fired on {target.label} at {last.isoformat()}; "
            f"the {rule.cooldown_hours:g} h cooldown ends at {(last + cooldown).isoformat()}",
        )
    kind = rule.action.kind
    new: int | None = None
    if kind in ("budget", "bid"):
        assert target.current is not None
        amount = _new_amount(rule, s, target.current)
        if isinstance(amount, str):
            return skip("amount", amount)
        new, bound = amount
        pct = (Decimal(new - target.current) * 100 / target.current).quantize(Decimal("0.1"))
        what = "daily budget" if kind == "budget" else "bid"
        act = (
            f"{what} of {target.label} {_micros_text(target.current, s.currency)} -> "
            f"{_micros_text(new, s.currency)} ({pct:+}%{', ' + bound if bound else ''})"
        )
    else:
        act = f"{kind} {target.label}"
    out.proposals.append(
        RuleProposal(
            rule=rule.name,
            action=kind,
            level=target.level,
            entity_id=target.entity_id,
            entity_name=target.name,
            platform_id=target.platform_id,
            platform=s.platform,
            account_id=s.account_id,
            account_platform_id=s.account_platform_id,
            currency=s.currency,
            triggered_by=s.entity_id,
            current_micros=target.current,
            proposed_micros=new,
            current_status=s.status if kind in ("pause", "activate") else None,
            proposed_status={"pause": "PAUSED", "activate": "ACTIVE"}.get(kind),  # type: ignore[arg-type]
            figures=figures,
            reason=f"{rule.name}: {'; '.join(f.text for f in figures)} -> {act}{target.note}",
            fired_at=now,
        )
    )
    changed[target.entity_id] = s.label
    out.last_fired.setdefault(rule.name, {})[target.entity_id] = now
    return None
