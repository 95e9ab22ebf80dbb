"""Typed actions: stable ids, what spends money, JSON round trips, deterministic names, undo."""

from __future__ import annotations

import pytest

from agents.actions import ActionList, BidChange, BudgetChange, CreateAd, EntityRef, StatusChange, inverse
from tools.platforms.base import NewAd

ADSET = EntityRef(
    platform="meta", account_id="act_1", level="adset", platform_id="123", name="Shoes | AdSet 1"
)


def test_the_same_change_from_the_same_state_has_the_same_id_whatever_the_reason() -> None:
    a = BudgetChange(
        entity=ADSET, currency="USD", before_micros=10_000_000, after_micros=12_000_000, reason="x"
    )
    b = BudgetChange(
        entity=ADSET, currency="USD", before_micros=10_000_000, after_micros=12_000_000, reason="y"
    )
    c = BudgetChange(
        entity=ADSET, currency="USD", before_micros=11_000_000, after_micros=12_000_000, reason="x"
    )
    assert a.id == b.id != c.id and len(a.id) == 16


def test_what_can_raise_spend_is_marked() -> None:
    up = BudgetChange(entity=ADSET, currency="USD", before_micros=10, after_micros=12, reason="r")
    down = BudgetChange(entity=ADSET, currency="USD", before_micros=12, after_micros=10, reason="r")
    pause = StatusChange(entity=ADSET, before="ACTIVE", after="PAUSED", reason="r")
    activate = StatusChange(entity=ADSET, before="PAUSED", after="ACTIVE", reason="r")
    first_bid = BidChange(entity=ADSET, currency="USD", before_micros=None, after_micros=500_000, reason="r")
    assert (
        up.spends_more,
        down.spends_more,
        pause.spends_more,
        activate.spends_more,
        first_bid.spends_more,
    ) == (
        True,
        False,
        False,
        True,
        True,
    )


def test_actions_round_trip_through_json_and_created_ads_get_a_findable_name() -> None:
    create = CreateAd(
        entity=ADSET,
        spec=NewAd(adset_platform_id="123", name="Calm mats", headline="Roll out calm"),
        reason="r",
    )
    assert create.spec.name == f"Calm mats [{create.id}]"
    again = ActionList.model_validate_json(ActionList(actions=[create]).model_dump_json()).actions[0]
    assert again == create and again.spec.name.count("[") == 1


def test_undo_reverses_each_kind() -> None:
    up = BudgetChange(entity=ADSET, currency="USD", before_micros=10, after_micros=12, reason="r")
    back = inverse(up)
    assert (back.before_micros, back.after_micros, back.proposed_by) == (12, 10, "undo")  # type: ignore[union-attr]
    pause = StatusChange(entity=ADSET, before="ACTIVE", after="PAUSED", reason="r")
    assert inverse(pause).after == "ACTIVE"  # type: ignore[union-attr]
    create = CreateAd(entity=ADSET, spec=NewAd(adset_platform_id="123", name="n", headline="h"), reason="r")
    undo_create = inverse(create, {"id": "777"})
    assert undo_create.entity.platform_id == "777" and undo_create.after == "PAUSED"  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="unknown"):
        inverse(create, {})
    with pytest.raises(ValueError, match="automatic"):
        inverse(BidChange(entity=ADSET, currency="USD", before_micros=None, after_micros=5, reason="r"))
