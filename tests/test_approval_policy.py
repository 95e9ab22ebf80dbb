"""Approval: the default policy approves nothing, an explicit one pauses and small cuts only, nothing that
can raise spend is ever approved by policy; decisions and their bad input (unknown ids, deciding twice,
edits that cannot apply); edits as new actions that pass the guardrails again; the settings."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from agents.actions import Action, BidChange, BudgetChange, CreateAd, EntityRef, StatusChange
from agents.approval_policy import (
    ApprovalPolicy,
    Decision,
    DecisionError,
    apply_edit,
    resolve,
    validate_decisions,
)
from agents.guard_types import AccountState, EntityState, GuardContext, account_key
from agents.guardrails import Guardrails
from app.composition import guardrails_and_policy
from app.settings import SettingsError, load_settings
from tools.platforms.base import NewAd

NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
ADSET = EntityRef(platform="meta", account_id="act_1", level="adset", platform_id="11", name="Shoes")
AD = EntityRef(platform="meta", account_id="act_1", level="ad", platform_id="111")
LENIENT = ApprovalPolicy(pause=True, budget_cut_max_share=Decimal("0.99"))


def usd(amount: str | int) -> int:
    return int(Decimal(str(amount)) * 10**6)


def budget(before: str | int, after: str | int) -> BudgetChange:
    return BudgetChange(
        entity=ADSET, currency="USD", before_micros=usd(before), after_micros=usd(after), reason="r"
    )


PAUSE = StatusChange(entity=AD, before="ACTIVE", after="PAUSED", reason="r")
ACTIVATE = StatusChange(entity=AD, before="PAUSED", after="ACTIVE", reason="r")
CUT = budget(100, 85)
RAISE = budget(100, 110)
BID_DOWN = BidChange(entity=ADSET, currency="USD", before_micros=usd(2), after_micros=usd(1), reason="r")
FIRST_BID = BidChange(entity=ADSET, currency="USD", before_micros=None, after_micros=usd(1), reason="r")
NEW_AD = CreateAd(entity=ADSET, spec=NewAd(adset_platform_id="11", name="n", headline="h"), reason="r")
PROPOSALS: list[Action] = [PAUSE, CUT, RAISE, NEW_AD]


def decision(action_id: str, kind: str = "approve", **extra: Any) -> dict[str, Any]:
    return {"action_id": action_id, "type": kind, "by": "ana", "at": NOW.isoformat(), **extra}


# --- the policy ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("action", [PAUSE, CUT, BID_DOWN, RAISE, ACTIVATE, FIRST_BID, NEW_AD])
def test_the_default_policy_approves_nothing(action: Action) -> None:
    approved, why = ApprovalPolicy().explain(action)
    assert not approved and why


@pytest.mark.parametrize(
    ("action", "approved", "why"),
    [
        (PAUSE, True, "pauses are approved by policy"),
        (budget(100, 85), True, "within 20%"),
        (budget(100, 80), True, "within 20%"),  # exactly the share
        (budget(100, "79.99"), False, "more than 20%"),
        (BID_DOWN, False, "waits for a person"),  # the policy has no rule for bids
    ],
)
def test_an_explicit_policy_approves_pauses_and_cuts_within_its_share(
    action: Action, approved: bool, why: str
) -> None:
    policy = ApprovalPolicy.model_validate({"pause": True, "budget_cut_max_share": 0.2})
    assert policy.auto_approves(action) is approved and why in policy.explain(action)[1]


@pytest.mark.parametrize("action", [RAISE, ACTIVATE, FIRST_BID, NEW_AD, budget(100, "100.01")])
def test_nothing_that_can_raise_spend_is_approved_by_any_policy(action: Action) -> None:
    assert action.spends_more
    assert not LENIENT.auto_approves(action)
    assert LENIENT.explain(action)[1] == "it can raise spend: a person decides"
    assert LENIENT.auto_decisions([action], now=NOW) == []


def test_auto_decisions_are_recorded_as_the_policys() -> None:
    decisions = ApprovalPolicy(pause=True).auto_decisions(PROPOSALS, now=NOW)
    assert [(d.action_id, d.type, d.by, d.at) for d in decisions] == [(PAUSE.id, "approve", "policy", NOW)]
    assert decisions[0].note == "pauses are approved by policy"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"budget_cut_max_share": 1}, "less than 1"),
        ({"budget_cut_max_share": -0.1}, "greater than or equal to 0"),
        ({"raise": True}, "Extra inputs are not permitted"),
        ({"proposal_ttl": dt.timedelta(0)}, "proposal_ttl must be positive"),
    ],
)
def test_bad_policies_are_refused(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ApprovalPolicy(**values)


def test_undecided_proposals_expire_after_the_ttl() -> None:
    policy = ApprovalPolicy(proposal_ttl=dt.timedelta(hours=24))
    proposed = NOW - dt.timedelta(hours=24)
    assert policy.expires_at(proposed) == NOW and policy.is_expired(proposed, NOW)
    assert not policy.is_expired(proposed + dt.timedelta(seconds=1), NOW)


# --- decisions -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (decision("a", "edit"), "an edit needs a value"),
        (decision("a", "edit", value="0"), "an edit to 0 is refused: a budget or bid must be positive"),
        (decision("a", "edit", value="-5"), "must be positive"),
        (decision("a", "approve", value="5"), "only an edit carries a value; this is a approve"),
        (decision("a", "accept"), "'approve', 'reject' or 'edit'"),
        (decision("", "approve"), "at least 1 character"),
        (decision("a", by=""), "at least 1 character"),
        ({**decision("a"), "at": "2026-11-25T09:00:00"}, "timezone"),
        ({**decision("a"), "when": "now"}, "Extra inputs are not permitted"),
    ],
)
def test_bad_decisions_are_refused_by_the_schema(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Decision.model_validate(values)


def test_decisions_arrive_as_json_and_are_validated_against_the_proposals() -> None:
    resume = json.loads(
        json.dumps(
            [
                decision(PAUSE.id),
                decision(CUT.id, "reject", note="too early"),
                decision(RAISE.id, "edit", value="105"),
            ]
        )
    )
    decisions = validate_decisions(PROPOSALS, resume)
    assert [(d.action_id, d.type, d.value) for d in decisions] == [
        (PAUSE.id, "approve", None),
        (CUT.id, "reject", None),
        (RAISE.id, "edit", Decimal("105")),
    ]
    assert decisions[1].note == "too early" and decisions[0].at == NOW


@pytest.mark.parametrize(
    ("decisions", "message"),
    [
        ([decision("deadbeefdeadbeef")], "no waiting proposal has id 'deadbeefdeadbeef' (waiting: "),
        (
            [decision(PAUSE.id), decision(PAUSE.id, "reject")],
            f"{PAUSE.id} is decided twice (decisions 1 and 2)",
        ),
        ([decision(PAUSE.id, "edit", value="5")], f"{PAUSE.id} is a status change: approve or reject it"),
        ([decision(NEW_AD.id, "edit", value="5")], f"{NEW_AD.id} is a new ad: approve or reject it"),
        (
            [decision(RAISE.id, "edit", value="0")],
            "decision 1 (" + RAISE.id + "): an edit to 0 is refused",
        ),
        (
            [decision(RAISE.id, "edit", value="105.005")],
            "105.005 USD is not a whole number of USD minor units",
        ),
        (
            [decision(RAISE.id, "edit", value="100")],
            "100.00 USD is the current value, so the edit changes nothing",
        ),
        ([decision(RAISE.id, "maybe")], "decision 1 (" + RAISE.id + "): type:"),
    ],
)
def test_decisions_that_cannot_apply_are_refused_with_a_clear_message(
    decisions: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(DecisionError) as err:
        validate_decisions(PROPOSALS, decisions)
    assert message in str(err.value)


def test_approving_a_proposal_already_decided_is_refused() -> None:
    with pytest.raises(DecisionError, match=f"{PAUSE.id} was already decided"):
        validate_decisions(PROPOSALS, [decision(PAUSE.id)], decided={PAUSE.id})


def test_every_problem_of_a_batch_is_named_and_none_of_it_applies() -> None:
    batch = [decision(PAUSE.id), decision("nope"), decision(PAUSE.id), decision(CUT.id, "edit", value="-1")]
    with pytest.raises(DecisionError) as err:
        resolve(PROPOSALS, batch)
    assert len(err.value.problems) == 3
    assert [p.split(":")[0] for p in err.value.problems] == [
        "decision 2",
        "decision 3",
        f"decision 4 ({CUT.id})",
    ]


def test_no_decisions_leave_every_proposal_undecided() -> None:
    assert resolve(PROPOSALS, []).undecided == PROPOSALS


# --- edits ---------------------------------------------------------------------------------------------


def _context() -> GuardContext:
    return GuardContext(
        now=NOW,
        entities={ADSET.key: EntityState(daily_budget_micros=usd(100), platform_min_budget_micros=usd(5))},
        accounts={account_key(ADSET): AccountState(currency="USD", daily_budget_total_micros=usd(300))},
    )


def test_an_edit_is_a_new_action_with_its_own_id() -> None:
    edited = apply_edit(RAISE, Decision.model_validate(decision(RAISE.id, "edit", value="104.50")))
    assert isinstance(edited, BudgetChange) and edited.after_micros == usd("104.50")
    assert edited.id == budget(100, "104.50").id != RAISE.id
    assert edited.proposed_by == f"ana (edit of {RAISE.id})" and edited.before_micros == RAISE.before_micros


def test_an_edited_bid_keeps_its_kind() -> None:
    edited = apply_edit(BID_DOWN, Decision.model_validate(decision(BID_DOWN.id, "edit", value="1.5")))
    assert isinstance(edited, BidChange) and edited.after_micros == usd("1.5")


@pytest.mark.parametrize(
    ("value", "outcome", "after", "message"),
    [
        ("120", "allowed", "120", ""),
        ("500", "clamped", "130", "at most 30% per action"),
        ("2", "clamped", "70", "is below the meta minimum 5.00 USD"),
    ],
)
def test_an_edit_passes_the_guardrails_again(value: str, outcome: str, after: str, message: str) -> None:
    resolution = resolve(PROPOSALS, [decision(RAISE.id, "edit", value=value)])
    (edited,) = resolution.edited
    verdict = Guardrails().check(edited, _context())
    assert verdict.outcome == outcome and getattr(verdict.action, "after_micros", None) == usd(after)
    assert message in verdict.summary()


def test_an_edit_outside_the_account_cap_is_refused_by_the_guardrails() -> None:
    (edited,) = resolve(PROPOSALS, [decision(RAISE.id, "edit", value="110")]).edited
    verdict = Guardrails(account_daily_caps={"act_1": 300}).check(edited, _context())
    assert verdict.outcome == "refused" and "at or above its cap of 300.00 USD" in verdict.summary()


def test_apply_edit_refuses_a_decision_that_is_not_an_edit_of_that_action() -> None:
    with pytest.raises(ValueError, match="is not an edit of"):
        apply_edit(RAISE, Decision.model_validate(decision(RAISE.id)))
    with pytest.raises(ValueError, match="is not an edit of"):
        apply_edit(CUT, Decision.model_validate(decision(RAISE.id, "edit", value="90")))


def test_resolve_sorts_the_proposals_by_their_decisions() -> None:
    result = resolve(
        PROPOSALS,
        [decision(PAUSE.id), decision(NEW_AD.id, "reject"), decision(CUT.id, "edit", value="90")],
    )
    assert result.approved == [PAUSE] and result.rejected == [NEW_AD] and result.undecided == [RAISE]
    assert [a.after_micros for a in result.edited] == [usd(90)]  # type: ignore[union-attr]


# --- settings ------------------------------------------------------------------------------------------


def test_settings_build_the_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADCLUSTER_AUTO_APPROVE", '{"pause": true, "budget_cut_max_share": 0.2}')
    monkeypatch.setenv("ADCLUSTER_PROPOSAL_TTL_HOURS", "6")
    _, policy = guardrails_and_policy(load_settings())
    assert policy == ApprovalPolicy(
        pause=True, budget_cut_max_share=Decimal("0.2"), proposal_ttl=dt.timedelta(hours=6)
    )


def test_the_default_settings_approve_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ADCLUSTER_AUTO_APPROVE", raising=False)
    monkeypatch.delenv("ADCLUSTER_PROPOSAL_TTL_HOURS", raising=False)
    _, policy = guardrails_and_policy(load_settings())
    assert policy == ApprovalPolicy() and policy.proposal_ttl == dt.timedelta(hours=24)
    assert not any(policy.auto_approves(a) for a in (PAUSE, CUT, BID_DOWN))


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("ADCLUSTER_AUTO_APPROVE", '{"pause": true, "raise": true}', r"unknown key\(s\) \['raise'\]"),
        ("ADCLUSTER_AUTO_APPROVE", '{"budget_cut_max_share": 1.5}', "a share from 0 \\(none\\) up to"),
        ("ADCLUSTER_AUTO_APPROVE", '{"budget_cut_max_share": true}', "a share from 0"),
        ("ADCLUSTER_PROPOSAL_TTL_HOURS", "0", "ADCLUSTER_PROPOSAL_TTL_HOURS"),
    ],
)
def test_bad_approval_settings_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=message):
        load_settings()
