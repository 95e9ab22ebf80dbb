from __future__ import annotations

import pytest
from pydantic import ValidationError

from sandbox.market.config import WorldConfig


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("seed", -1, "greater than or equal to 0"),
        ("seed", 2**64, "less than or equal to"),
        ("seed", "seven", "valid integer"),
        ("today", "2026-13-01", "YYYY-MM-DD"),
        ("today", "1999-12-31", "between 2000-01-01"),
        ("accounts", 0, "greater than or equal to 1"),
        ("ads", 100_000, "less than or equal to 5000"),
        ("days", 3, "greater than or equal to 7"),
        ("platforms", "meta,meta", "must not repeat"),
        ("platforms", "myspace", "meta"),
    ],
)
def test_bad_world_settings_are_refused_with_a_clear_message(field: str, value: object, message: str) -> None:
    with pytest.raises(ValidationError) as err:
        WorldConfig(**{field: value})
    assert message in str(err.value)


def test_unknown_settings_are_refused() -> None:
    with pytest.raises(ValidationError, match="extra"):
        WorldConfig(sed=7)  # type: ignore[call-arg]
