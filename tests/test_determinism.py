"""Same seed and changes: byte-identical ledgers in any request order and across a restart."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from sandbox.market.market import Market
from tests.conftest import small_config


def _script(market: Market) -> None:
    """A fixed sequence of changes and clock moves."""
    hour = market.clock.now_hour
    adsets = [s for s in market.world.adsets.values() if s.value_at("daily_budget_micros", hour)]
    market.advance(hours=5)
    market.apply({"kind": "update_adset", "id": adsets[0].id, "daily_budget_micros": 80_000_000})
    market.advance(days=2, hours=3)
    creative = market.apply(
        {
            "kind": "create_creative",
            "account_id": adsets[1].account_id,
            "name": "c",
            "headline": "Fresh start",
            "image_name": "fresh.jpg",
        }
    ).created_id
    market.apply({"kind": "create_ad", "adset_id": adsets[1].id, "creative_id": creative, "name": "fresh"})
    market.apply({"kind": "update_adset", "id": adsets[1].id, "targeting": {"ages": ["25-34", "35-44"]}})
    market.advance(days=1, hours=7)


def _dump(market: Market, order: list[str]) -> dict[str, str]:
    start, today = market.config.start_date, market.now().date
    out: dict[str, str] = {}
    for account in order:
        out[f"{account}/segments"] = json.dumps(market.daily(account, start, today, segments=True).to_rows())
        out[f"{account}/daily"] = json.dumps(market.daily(account, start, today).to_rows())
        for day in (today, today - dt.timedelta(days=1)):
            out[f"{account}/hourly/{day}"] = json.dumps(market.hourly(account, day).to_rows())
    return dict(sorted(out.items()))


def test_same_seed_and_changes_give_identical_ledgers_in_any_request_order() -> None:
    a, b = Market(small_config(accounts=2)), Market(small_config(accounts=2))
    _script(a)
    _script(b)
    accounts = list(a.world.accounts)
    # b is read piecemeal in reverse first, so caches fill in a different order.
    for account in reversed(accounts):
        b.daily(account, b.now().date - dt.timedelta(days=3), b.now().date, segments=True)
    assert _dump(a, accounts) == _dump(b, list(reversed(accounts)))


def test_the_world_survives_a_restart_with_state_dir_byte_for_byte(tmp_path: Path) -> None:
    first = Market.open(small_config(accounts=2), tmp_path)
    _script(first)
    expected = _dump(first, list(first.world.accounts))
    reopened = Market.open(small_config(accounts=2), tmp_path)
    assert reopened.now() == first.now()
    assert len(reopened.log) == len(first.log)
    assert _dump(reopened, list(reopened.world.accounts)) == expected


def test_a_different_seed_gives_a_different_market() -> None:
    a, b = Market(small_config(seed=3)), Market(small_config(seed=4))
    rows_a = a.daily(next(iter(a.world.accounts)), a.config.start_date, a.now().date).totals()
    rows_b = b.daily(next(iter(b.world.accounts)), b.config.start_date, b.now().date).totals()
    assert rows_a != rows_b
    assert list(a.world.accounts) != list(b.world.accounts)


def test_a_corrupt_state_dir_is_reported_not_silently_replaced(tmp_path: Path) -> None:
    Market.open(small_config(), tmp_path)
    (tmp_path / "state.json").write_text("{not json")
    try:
        Market.open(small_config(), tmp_path)
    except ValueError as exc:
        assert "cannot read sandbox state" in str(exc)
    else:
        raise AssertionError("a corrupt state file must be refused")
    assert (tmp_path / "state.json").read_text() == "{not json"
