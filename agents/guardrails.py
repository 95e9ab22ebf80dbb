"""Guardrails: the limits every proposed action meets before a person sees it (`plan`) and again, in
code, before it reaches a platform (`execute`), whatever the LLM or a person asked for.

Decisions, said once:
- `Guardrails.check(action, context)` is pure: the config, the action and a `GuardContext` read by the
  caller (each entity's current budget, bid, status, platform minimum and last change from the audit
  log; each account's total of daily budgets; `now`). An entity missing from the context is refused,
  never guessed.
- A budget or bid of zero or less is refused whatever else holds. Amounts are integer micros in whole
  minor units of the currency (a cent, a yen); limits in major units are rounded inward (a minimum up,
  a maximum down) to whole minor units.
- A budget stays within [lo, hi]: lo the largest of one minor unit, the platform's minimum and your
  minimum for the currency, hi your maximum. It moves at most `max_change` of the current value per
  action, and a raise keeps the account's daily budgets within the account's cap. An amount outside a
  limit is clamped to it (said, with the limit); a clamp that leaves no change, turns a cut into a raise
  or cannot meet every limit at once refuses the action instead. Bids: positive, the same step limit.
- Changes to one entity are at least `min_interval` apart (ad sets stay out of the platforms' learning
  phase): too soon is refused with the time it may change next. Status changes and new ads pass the
  money checks but not the allow-list, the interval or dry run.
- A context that looks stale is refused: an action proposed from another value than the entity has now,
  a last change after `now`, an account total below the entity's own budget.
- A clamped action is a new action (`with_value`): its id derives from the new value, and the expected
  effect estimated for the old value is dropped.
- Dry run checks everything as usual and marks every verdict as not executable.
- `check_all` checks a batch in order: the account cap counts the sum of the raises allowed before (cuts
  free no room: a person may reject them), and a second change of the same kind to one entity, or an
  action repeated, is refused.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agents.actions import (
    Action,
    BidChange,
    BudgetChange,
    CreateAd,
    CreateAdSet,
    EntityRef,
    StatusChange,
    TargetingChange,
    targeting_fields_changed,
)
from agents.guard_types import (
    MICROS,
    AccountState,
    EntityState,
    GuardContext,
    Outcome,
    Reason,
    Rule,
    Verdict,
    account_key,
    money,
    with_value,
)
from tools.platforms.money import EXPONENTS, MoneyError, exponent
from tools.platforms.registry import targeting_problem

ANY_CURRENCY = "*"


class _Reasons(list[Reason]):
    def refuse(self, rule: Rule, message: str) -> None:
        self.append(Reason(rule=rule, effect="refuse", message=message))

    def clamp(self, rule: Rule, message: str) -> None:
        self.append(Reason(rule=rule, effect="clamp", message=message))

    def note(self, rule: Rule, message: str) -> None:
        self.append(Reason(rule=rule, effect="note", message=message))

    @property
    def refused(self) -> bool:
        return any(r.effect == "refuse" for r in self)


def _label(ref: EntityRef) -> str:
    name = f" {ref.name!r}" if ref.name else ""
    return f"{ref.platform} {ref.level}{name} ({ref.platform_id})"


def _share_text(share: Decimal) -> str:
    return f"{float(share * 100):g}%"


def _step(currency: str) -> int:
    return 10 ** (6 - exponent(currency))


def _round(micros: Decimal, step: int, rounding: str) -> int:
    return int((micros / step).to_integral_value(rounding)) * step


def _per_currency(value: object) -> object:
    if value is None:
        return {}
    if isinstance(value, int | float | str | Decimal):
        return {ANY_CURRENCY: Decimal(str(value))}
    return value


class Guardrails(BaseModel):
    """The limits, from settings (`app.composition.guardrails_and_policy`). Money in major units of the
    entity's currency: per currency (`{"USD": 5, "JPY": 500}`), `"*"` for any other, or one number for
    all. Accounts (caps, allow-list) as `account_id` or `platform:account_id`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_change: Decimal = Field(
        default=Decimal("0.3"),
        gt=0,
        le=5,
        description="largest change per action, as a share of the current value",
    )
    max_audience_cut: Decimal = Field(
        default=Decimal("0.3"),
        gt=0,
        lt=1,
        description="the largest share of an ad set's recent spend one targeting change may exclude",
    )
    min_budget: dict[str, Decimal] = Field(
        default_factory=dict, description="per-entity minimum daily budget"
    )
    max_budget: dict[str, Decimal] = Field(
        default_factory=dict, description="per-entity maximum daily budget"
    )
    min_bid: dict[str, Decimal] = Field(
        default_factory=dict, description="the lowest bid cap (a platform's floor)"
    )
    max_bid: dict[str, Decimal] = Field(default_factory=dict, description="the highest bid cap allowed")
    min_interval: dt.timedelta = Field(
        default=dt.timedelta(hours=24), description="between two changes to one entity; 0: no limit"
    )
    account_daily_caps: dict[str, Decimal] = Field(
        default_factory=dict, description="the most an account's daily budgets may add up to"
    )
    allowed_accounts: frozenset[str] = Field(default_factory=frozenset, description="empty: every account")
    dry_run: bool = False

    @field_validator("min_budget", "max_budget", "min_bid", "max_bid", mode="before")
    @classmethod
    def _one_number_for_all(cls, value: object) -> object:
        return _per_currency(value)

    @field_validator("min_budget", "max_budget", "min_bid", "max_bid")
    @classmethod
    def _known_currencies(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        out = {}
        for code, amount in value.items():
            key = code.upper()
            if key != ANY_CURRENCY and key not in EXPONENTS:
                raise ValueError(f"unknown currency {code!r}: use an ISO 4217 code or {ANY_CURRENCY!r}")
            if amount <= 0:
                raise ValueError(f"{code}: {amount} is not a positive amount")
            out[key] = amount
        return out

    @field_validator("account_daily_caps")
    @classmethod
    def _positive_caps(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        bad = {k: str(v) for k, v in value.items() if v <= 0}
        if bad:
            raise ValueError(f"account caps must be positive: {bad}")
        return value

    @field_validator("min_interval")
    @classmethod
    def _not_negative(cls, value: dt.timedelta) -> dt.timedelta:
        if value < dt.timedelta(0):
            raise ValueError("the minimum interval cannot be negative")
        return value

    @model_validator(mode="after")
    def _min_below_max(self) -> Guardrails:
        for code in sorted(set(self.min_budget) | set(self.max_budget)):
            lo, hi = self._limit(self.min_budget, code), self._limit(self.max_budget, code)
            if lo is not None and hi is not None and lo > hi:
                raise ValueError(f"the minimum budget {lo} {code} is above the maximum {hi} {code}")
        return self

    @staticmethod
    def _limit(limits: Mapping[str, Decimal], currency: str) -> Decimal | None:
        return limits.get(currency, limits.get(ANY_CURRENCY))

    def min_budget_micros(self, currency: str) -> int | None:
        amount = self._limit(self.min_budget, currency)
        return None if amount is None else _round(amount * MICROS, _step(currency), ROUND_CEILING)

    def max_budget_micros(self, currency: str) -> int | None:
        amount = self._limit(self.max_budget, currency)
        return None if amount is None else _round(amount * MICROS, _step(currency), ROUND_FLOOR)

    def daily_cap_micros(self, entity: EntityRef, currency: str) -> int | None:
        cap = self.account_daily_caps.get(f"{entity.platform}:{entity.account_id}")
        if cap is None:
            cap = self.account_daily_caps.get(entity.account_id)
        return None if cap is None else _round(cap * MICROS, _step(currency), ROUND_FLOOR)

    def allows_account(self, entity: EntityRef) -> bool:
        allowed = self.allowed_accounts
        return (
            not allowed or entity.account_id in allowed or f"{entity.platform}:{entity.account_id}" in allowed
        )

    # --- checks ---------------------------------------------------------------------------------------

    def check(self, action: Action, context: GuardContext) -> Verdict:
        """Every rule on one action, every reason said."""
        return self._check(action, context, raised_before=0, prior=())

    def check_all(self, actions: Sequence[Action], context: GuardContext) -> list[Verdict]:
        """Each action in order, as one batch: the account caps count the raises allowed before."""
        raised: dict[str, int] = {}
        seen: set[str] = set()
        changed: dict[tuple[str, str], str] = {}
        verdicts = []
        for action in actions:
            prior = _Reasons()
            if action.id in seen:
                prior.refuse("batch", f"action {action.id} appears earlier in this batch")
            elif (action.entity.key, action.kind) in changed and not isinstance(
                action, CreateAd | CreateAdSet
            ):
                first = changed[(action.entity.key, action.kind)]
                prior.refuse(
                    "batch",
                    f"action {first} earlier in this batch already makes a {action.kind.replace('_', ' ')} "
                    f"to {_label(action.entity)}",
                )
            seen.add(action.id)
            key = account_key(action.entity)
            verdict = self._check(action, context, raised_before=raised.get(key, 0), prior=prior)
            verdicts.append(verdict)
            if verdict.outcome == "refused":
                continue
            changed.setdefault((action.entity.key, action.kind), action.id)
            new = verdict.action
            if isinstance(new, BudgetChange) and new.after_micros > new.before_micros:
                raised[key] = raised.get(key, 0) + new.after_micros - new.before_micros
            if isinstance(new, CreateAdSet) and new.spec.daily_budget_micros:
                raised[key] = raised.get(key, 0) + new.spec.daily_budget_micros
        return verdicts

    def _check(
        self, action: Action, ctx: GuardContext, *, raised_before: int, prior: Sequence[Reason]
    ) -> Verdict:
        reasons = _Reasons(prior)
        ref = action.entity
        if not self.allows_account(ref):
            reasons.refuse(
                "allow_list", f"account {ref.platform}:{ref.account_id} is not among the allowed accounts"
            )
        state = ctx.entity(ref)
        if state is None:
            reasons.refuse(
                "context", f"the guard context has no state for {_label(ref)}: read it before checking"
            )
        elif not isinstance(action, CreateAdSet):  # a new ad set edits nothing that is learning
            self._interval(ref, state, ctx.now, reasons)
        new_value: int | None = None
        if isinstance(action, BudgetChange):
            new_value = self._budget(action, state, ctx.account(ref), raised_before, reasons)
        elif isinstance(action, BidChange):
            new_value = self._bid(action, state, ctx.account(ref), reasons)
        elif isinstance(action, StatusChange):
            self._status(action, state, reasons)
        elif isinstance(action, TargetingChange):
            self._targeting(action, reasons)
        elif isinstance(action, CreateAdSet):
            self._new_adset(action, ctx.account(ref), raised_before, reasons)

        if reasons.refused:
            outcome: Outcome = "refused"
            result: Action | None = None
        elif (
            new_value is not None
            and isinstance(action, BudgetChange | BidChange)
            and (new_value != action.after_micros)
        ):
            outcome, result = "clamped", with_value(action, new_value)
        else:
            outcome, result = "allowed", action
        if self.dry_run:
            reasons.note("dry_run", "dry run: checked and shown, never executed")
        return Verdict(
            proposed_id=action.id,
            outcome=outcome,
            action=result,
            reasons=list(reasons),
            executable=outcome != "refused" and not self.dry_run,
        )

    def _interval(self, ref: EntityRef, state: EntityState, now: dt.datetime, reasons: _Reasons) -> None:
        last = state.last_changed_at
        if last is None:
            return
        if last > now:
            reasons.refuse(
                "stale",
                f"{_label(ref)} last changed at {last.isoformat()}, after now ({now.isoformat()}): "
                "the context looks stale or the clocks disagree",
            )
            return
        if not self.min_interval:
            return
        nxt = last + self.min_interval
        if now < nxt:
            hours = f"{self.min_interval.total_seconds() / 3600:g}"
            wait = f"{(nxt - now).total_seconds() / 3600:.1f}"
            reasons.refuse(
                "interval",
                f"{_label(ref)} changed at {last.isoformat()}; changes to one entity are at least {hours} h "
                f"apart (learning phase): it may change again from {nxt.isoformat()} (in {wait} h)",
            )

    def _new_adset(
        self, action: CreateAdSet, account: AccountState | None, raised_before: int, reasons: _Reasons
    ) -> None:
        """A new ad set's budget: positive, within the per-entity limits and the account's daily cap."""
        budget = action.spec.daily_budget_micros
        if budget is None:
            return  # spends its campaign's budget
        cur = account.currency if account else "USD"
        if budget <= 0:
            reasons.refuse("non_positive", "a zero or negative budget is refused")
            return
        lo, hi = self.min_budget_micros(cur), self.max_budget_micros(cur)
        if lo is not None and budget < lo:
            reasons.refuse("min_budget", f"{money(budget, cur)} is below the minimum budget {money(lo, cur)}")
        if hi is not None and budget > hi:
            reasons.refuse("max_budget", f"{money(budget, cur)} is above the maximum budget {money(hi, cur)}")
        cap = self.daily_cap_micros(action.entity, cur)
        if cap is not None and account is not None:
            total = account.daily_budget_total_micros + raised_before + budget
            if total > cap:
                reasons.refuse(
                    "account_cap",
                    f"a new {money(budget, cur)} a day takes account {action.entity.account_id}'s daily "
                    f"budgets to {money(total, cur)}, over its cap of {money(cap, cur)}",
                )

    def _targeting(self, action: TargetingChange, reasons: _Reasons) -> None:
        ref = action.entity
        if ref.level != "adset":
            reasons.refuse("targeting", "targeting belongs to ad sets")
        if not targeting_fields_changed(action):
            reasons.refuse("no_change", "the targeting stays the same: nothing to do")
        for field, values in action.excluded.items():
            if values and not getattr(action.after, field, None):
                reasons.refuse("targeting", f"excluding {', '.join(values)} would leave no {field} to target")
        if Decimal(str(action.excluded_spend_share)) > self.max_audience_cut:
            reasons.refuse(
                "targeting",
                f"the excluded segments took {action.excluded_spend_share:.0%} of the ad set's spend; one "
                f"change may exclude at most {_share_text(self.max_audience_cut)}",
            )
        problem = targeting_problem(ref.platform, action.after)
        if problem:
            reasons.refuse("targeting", f"{ref.platform} cannot express this targeting: {problem}")

    @staticmethod
    def _status(action: StatusChange, state: EntityState | None, reasons: _Reasons) -> None:
        if action.before == action.after:
            reasons.refuse("no_change", f"the status stays {action.after}: nothing to do")
        elif state is not None and state.status is not None and state.status != action.before:
            reasons.refuse(
                "stale",
                f"proposed from status {action.before}, but {_label(action.entity)} is {state.status} now",
            )

    @staticmethod
    def _money_basics(
        action: BudgetChange | BidChange, account: AccountState | None, what: str, reasons: _Reasons
    ) -> int | None:
        """The currency's minor unit in micros (None: an unknown currency), after the checks every amount
        meets."""
        cur = action.currency
        try:
            step = _step(cur)
        except MoneyError as exc:
            reasons.refuse("currency", str(exc))
            return None
        if action.after_micros <= 0:
            reasons.refuse(
                "non_positive",
                f"a {what} of {money(action.after_micros, cur)} is refused: it must be positive",
            )
        elif action.after_micros % step:
            reasons.refuse(
                "minor_units", f"{action.after_micros} micros is not a whole number of {cur} minor units"
            )
        if account is not None and account.currency != cur:
            reasons.refuse(
                "currency",
                f"the action is in {cur}, but account {action.entity.account_id} is in {account.currency}",
            )
        return step

    def _budget(
        self,
        action: BudgetChange,
        state: EntityState | None,
        account: AccountState | None,
        raised_before: int,
        reasons: _Reasons,
    ) -> int | None:
        step = self._money_basics(action, account, "budget", reasons)
        if step is None or state is None:
            return None
        cur, ref, target = action.currency, action.entity, action.after_micros
        current = state.daily_budget_micros
        if current is None:
            reasons.refuse("context", f"{_label(ref)} has no daily budget of its own")
            return None
        if current != action.before_micros:
            reasons.refuse(
                "stale",
                f"proposed from a budget of {money(action.before_micros, cur)}, but {_label(ref)} has "
                f"{money(current, cur)} now: propose again from the current state",
            )
            return None
        if target == current:
            reasons.refuse("no_change", f"the budget stays {money(current, cur)}: nothing to do")
            return None
        if reasons.refused:
            return None

        floors: list[tuple[int, Rule, str]] = [(step, "non_positive", "one minor unit")]
        if state.platform_min_budget_micros is None:
            reasons.note(
                "platform_min", f"the {ref.platform} minimum budget is unknown here; the platform checks it"
            )
        else:
            pmin = _round(Decimal(state.platform_min_budget_micros), step, ROUND_CEILING)
            floors.append((pmin, "platform_min", f"the {ref.platform} minimum"))
        own_min = self.min_budget_micros(cur)
        if own_min is not None:
            floors.append((own_min, "min_budget", "the minimum budget"))
        lo, lo_rule, lo_name = max(floors, key=lambda f: f[0])
        hi = self.max_budget_micros(cur)
        if hi is not None and hi < lo:
            reasons.refuse(
                "max_budget",
                f"the maximum budget {money(hi, cur)} is below {lo_name} {money(lo, cur)}: no budget fits",
            )
            return None

        new = target
        if new < lo:
            new = lo
            reasons.clamp(lo_rule, f"{money(target, cur)} is below {lo_name} {money(lo, cur)}: raised to it")
        if hi is not None and new > hi:
            new = hi
            reasons.clamp(
                "max_budget", f"{money(target, cur)} is above the maximum budget: lowered to {money(hi, cur)}"
            )
        if new == current:
            reasons.refuse(
                "no_change", f"within the limits the budget stays {money(current, cur)}: nothing to do"
            )
            return None
        if (new > current) != (target > current):
            reasons.refuse(
                "direction",
                f"asked for {money(target, cur)} from {money(current, cur)}, but the limits would move "
                f"it the other way, to {money(new, cur)}",
            )
            return None

        new = self._step_limit(current, new, cur, step, "budget", reasons)
        if new is None:
            return None

        cap = self.daily_cap_micros(ref, cur)
        if cap is not None and new > current:
            if account is None:
                reasons.refuse(
                    "context",
                    f"the context has no total of account {ref.account_id}'s daily budgets: its cap of "
                    f"{money(cap, cur)} cannot be checked",
                )
                return None
            if account.daily_budget_total_micros < current:
                reasons.refuse(
                    "stale",
                    f"account {ref.account_id}'s daily budgets add up to "
                    f"{money(account.daily_budget_total_micros, cur)}, less than this one's "
                    f"{money(current, cur)}: the context looks stale",
                )
                return None
            total = account.daily_budget_total_micros + raised_before
            room = _round(Decimal(cap - total), step, ROUND_FLOOR)
            earlier = (
                f" with {money(raised_before, cur)} raised earlier in this batch" if raised_before else ""
            )
            if room <= 0:
                reasons.refuse(
                    "account_cap",
                    f"account {ref.account_id}'s daily budgets add up to {money(total, cur)}{earlier}, at or "
                    f"above its cap of {money(cap, cur)}: no raise fits",
                )
                return None
            if new - current > room:
                new = current + room
                reasons.clamp(
                    "account_cap",
                    f"account {ref.account_id}'s daily budgets add up to {money(total, cur)}{earlier}; "
                    f"its cap of {money(cap, cur)} leaves room for {money(room, cur)}: raised to "
                    f"{money(new, cur)}",
                )

        if new < lo or (hi is not None and new > hi):
            reasons.refuse(
                "max_change",
                f"no budget meets every limit: {money(new, cur)} is outside "
                f"[{money(lo, cur)}, {money(hi, cur) if hi is not None else 'no maximum'}]",
            )
            return None
        return new

    def _bid(
        self, action: BidChange, state: EntityState | None, account: AccountState | None, reasons: _Reasons
    ) -> int | None:
        step = self._money_basics(action, account, "bid", reasons)
        if step is None or state is None:
            return None
        cur, ref = action.currency, action.entity
        if state.bid_micros != action.before_micros:
            was = "automatic" if action.before_micros is None else money(action.before_micros, cur)
            now = "automatic" if state.bid_micros is None else money(state.bid_micros, cur)
            reasons.refuse("stale", f"proposed from a bid of {was}, but {_label(ref)} bids {now} now")
            return None
        if action.before_micros is None:
            reasons.note(
                "max_change", "no current bid (automatic bidding): the step limit has nothing to compare"
            )
            return self._bid_range(action.after_micros, cur, reasons)
        if action.after_micros == action.before_micros:
            reasons.refuse("no_change", f"the bid stays {money(action.before_micros, cur)}: nothing to do")
            return None
        if reasons.refused:
            return None
        new = self._step_limit(action.before_micros, action.after_micros, cur, step, "bid", reasons)
        return None if new is None else self._bid_range(new, cur, reasons)

    def _bid_range(self, new: int, cur: str, reasons: _Reasons) -> int | None:
        """Within the bid range set for the currency (a platform's floor and your ceiling)."""
        lo, hi = self._limit(self.min_bid, cur), self._limit(self.max_bid, cur)
        lo_m = None if lo is None else _round(lo * MICROS, _step(cur), ROUND_CEILING)
        hi_m = None if hi is None else _round(hi * MICROS, _step(cur), ROUND_FLOOR)
        if lo_m is not None and hi_m is not None and hi_m < lo_m:
            reasons.refuse("bid_range", f"the bid range {money(lo_m, cur)}..{money(hi_m, cur)} is empty")
            return None
        if lo_m is not None and new < lo_m:
            reasons.clamp(
                "bid_range", f"{money(new, cur)} is below the lowest bid {money(lo_m, cur)}: raised to it"
            )
            return lo_m
        if hi_m is not None and new > hi_m:
            reasons.clamp(
                "bid_range", f"{money(new, cur)} is above the highest bid {money(hi_m, cur)}: lowered to it"
            )
            return hi_m
        return new

    def _step_limit(
        self, current: int, new: int, cur: str, step: int, what: str, reasons: _Reasons
    ) -> int | None:
        limit = _round(Decimal(current) * self.max_change, step, ROUND_FLOOR)
        if abs(new - current) <= limit:
            return new
        if limit == 0:
            reasons.refuse(
                "max_change",
                f"{_share_text(self.max_change)} of {money(current, cur)} is less than one minor unit: "
                f"the {what} cannot change",
            )
            return None
        bounded = current + limit if new > current else current - limit
        reasons.clamp(
            "max_change",
            f"{money(current, cur)} to {money(new, cur)} is a change of "
            f"{_share_text(Decimal(abs(new - current)) / current)}; at most "
            f"{_share_text(self.max_change)} per action: clamped to {money(bounded, cur)}",
        )
        return bounded
