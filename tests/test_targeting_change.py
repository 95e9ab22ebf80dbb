"""TargetingChange with known answers: what counts as widening (it can raise spend, so it always waits),
the guardrails' refusals (too much of the spend excluded, a dimension left empty, targeting the platform
cannot express, no change), the inverse, and the approval policy."""

from __future__ import annotations

from decimal import Decimal

import pytest

from agents.actions import TargetingChange, inverse, targeting_fields_changed, targeting_matches
from agents.approval_policy import ApprovalPolicy
from agents.guardrails import Guardrails
from tests.test_guardrails import ADSET, NO_INTERVAL, context, rules
from tools.platforms.records import TargetingSpec

ALL = TargetingSpec()


def change(before: TargetingSpec, after: TargetingSpec, share: float = 0.2, **kw: object) -> TargetingChange:
    return TargetingChange(
        entity=ADSET, before=before, after=after, excluded_spend_share=share, reason="test", **kw
    )


def test_narrowing_does_not_raise_spend_and_widening_does() -> None:
    narrow = change(ALL, TargetingSpec(ages=["25-34", "35-44", "45+"]), excluded={"ages": ["18-24"]})
    assert not narrow.spends_more and targeting_fields_changed(narrow) == ["ages"]
    assert inverse(narrow).spends_more  # putting 18-24 back reaches people again
    assert change(TargetingSpec(countries=["US"]), TargetingSpec(countries=["US", "GB"])).spends_more
    assert change(TargetingSpec(countries=["US"]), ALL).spends_more
    assert not change(TargetingSpec(countries=["US", "GB"]), TargetingSpec(countries=["GB"])).spends_more
    # An empty list and the whole closed vocabulary are the same audience.
    assert targeting_matches(TargetingSpec(genders=["male", "female"]), ALL, ["genders"])
    assert not targeting_matches(TargetingSpec(countries=["US"]), ALL, ["countries"])


def test_the_guardrails_allow_a_modest_expressible_exclusion() -> None:
    ok = change(ALL, TargetingSpec(ages=["25-34", "35-44", "45+"]), excluded={"ages": ["18-24"]})
    verdict = Guardrails(**NO_INTERVAL).check(ok, context())
    assert verdict.outcome == "allowed", verdict.reasons


@pytest.mark.parametrize(
    ("after", "excluded", "share", "rule", "text"),
    [
        (
            TargetingSpec(ages=["25-34", "35-44", "45+"]),
            {"ages": ["18-24"]},
            0.45,
            "targeting",
            "at most 30%",
        ),
        (TargetingSpec(ages=["18-24", "35-44", "45+"]), {"ages": ["25-34"]}, 0.1, "targeting", "contiguous"),
        (
            TargetingSpec(),
            {"placements": ["feed", "stories", "network"]},
            0.2,
            "targeting",
            "leave no placements",
        ),
        (TargetingSpec(), {}, 0.0, "no_change", "stays the same"),
    ],
)
def test_the_guardrails_refuse_what_would_harm_or_cannot_be_written(
    after: TargetingSpec, excluded: dict[str, list[str]], share: float, rule: str, text: str
) -> None:
    verdict = Guardrails(**NO_INTERVAL).check(change(ALL, after, share, excluded=excluded), context())
    assert verdict.outcome == "refused" and (rule, "refuse") in rules(verdict)
    assert any(text in r.message for r in verdict.reasons), verdict.reasons


def test_the_cut_limit_is_a_setting_and_targeting_always_waits_for_a_person() -> None:
    wide = change(ALL, TargetingSpec(ages=["25-34", "35-44", "45+"]), 0.45, excluded={"ages": ["18-24"]})
    assert (
        Guardrails(max_audience_cut=Decimal("0.5"), **NO_INTERVAL).check(wide, context()).outcome == "allowed"
    )
    policy = ApprovalPolicy(pause=True, budget_cut_max_share=Decimal("0.5"))
    approved, why = policy.explain(wide)
    assert not approved and "targeting change waits for a person" in why
