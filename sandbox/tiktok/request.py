"""Request parameters as TikTok takes them: a GET's query string (lists and objects JSON-encoded, as the
official SDK `json.dumps` them), a POST's JSON body, or an upload's multipart form.

Getters answer 40002 naming the field; `check_unused` refuses fields nobody read.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from sandbox.tiktok.errors import invalid

# Sent by clients on every call and never meaningful to a handler.
ALWAYS_ALLOWED = frozenset({"request_id"})


class TikTokParams:
    def __init__(
        self,
        values: dict[str, Any],
        *,
        from_query: bool,
        files: dict[str, tuple[str, bytes]] | None = None,
    ) -> None:
        self.values = values
        self.from_query = from_query  # query values are strings that may hold JSON
        self.files = files or {}  # multipart field -> (file name, bytes)
        self.used: set[str] = set(ALWAYS_ALLOWED)

    def __contains__(self, name: str) -> bool:
        return name in self.values

    def raw(self, name: str) -> Any:
        self.used.add(name)
        return self.values.get(name)

    def _decoded(self, name: str) -> Any:
        value = self.raw(name)
        if self.from_query and isinstance(value, str) and value.strip()[:1] in ("[", "{"):
            try:
                return json.loads(value, parse_float=Decimal)
            except ValueError:
                raise invalid(name, "must be valid JSON") from None
        return value

    def string(self, name: str, *, required: bool = False, max_length: int = 512) -> str | None:
        value = self.raw(name)
        if value is None:
            if required:
                raise invalid(name, "this field is required")
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)  # ids sent as JSON numbers
        if not isinstance(value, str) or not value.strip() or len(value) > max_length:
            raise invalid(name, f"must be a non-empty string of at most {max_length} characters")
        return value

    def choice(self, name: str, allowed: tuple[str, ...], *, default: str | None = None) -> str | None:
        value = self.string(name)
        if value is None:
            return default
        if value not in allowed:
            raise invalid(name, f"must be one of {', '.join(allowed)}; got {value!r}")
        return value

    def integer(
        self, name: str, *, default: int | None = None, lo: int | None = None, hi: int | None = None
    ) -> int | None:
        value = self.raw(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise invalid(name, "must be an integer")
        try:
            number = int(value)
        except ValueError:
            raise invalid(name, f"must be an integer; got {value!r}") from None
        if (lo is not None and number < lo) or (hi is not None and number > hi):
            raise invalid(name, f"must be between {lo} and {hi}; got {number}")
        return number

    def boolean(self, name: str, *, default: bool = False) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise invalid(name, "must be a boolean")

    def string_list(self, name: str, *, required: bool = False, max_items: int = 1000) -> list[str] | None:
        value = self._decoded(name)
        if value is None:
            if required:
                raise invalid(name, "this field is required")
            return None
        if isinstance(value, str) and self.from_query:
            value = [v for v in value.split(",") if v]
        if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
            raise invalid(name, "must be a list of strings")
        if required and not value:
            raise invalid(name, "must not be empty")
        if len(value) > max_items:
            raise invalid(name, f"takes at most {max_items} items")
        return [str(v) for v in value]

    def obj(self, name: str) -> Any:
        """A JSON object or list (filtering), decoded from the query string when needed."""
        value = self._decoded(name)
        if value is not None and not isinstance(value, dict | list):
            raise invalid(name, "must be a JSON object")
        return value

    def money(self, name: str, exponent: int) -> int | None:
        """A decimal amount in major units (20.5 = 20.50 USD) as integer micros; strings are refused."""
        value = self.raw(name)
        if value is None:
            return None
        return money_micros(name, value, exponent)

    def defaults(self, table: dict[str, Any]) -> None:
        """Fields the official SDK always sends at its model defaults: fine at the default, refused
        (naming the field) at any other value the market cannot model."""
        for name, default in table.items():
            value = self.raw(name)
            if value is not None and value != default:
                raise invalid(name, f"is not modelled by the sandbox; leave it at {json.dumps(default)}")

    def check_unused(self, allowed_extra: frozenset[str] | set[str] = frozenset()) -> None:
        unknown = sorted(set(self.values) - self.used - set(allowed_extra))
        if unknown:
            raise invalid(unknown[0], "unknown field; this endpoint does not take it")


def money_micros(name: str, value: Any, exponent: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise invalid(name, "must be a number in major units of the advertiser currency, not a string")
    try:
        amount = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:
        raise invalid(name, "must be a finite number") from None
    if not amount.is_finite() or amount <= 0:
        raise invalid(name, "must be a positive number")
    places = -amount.normalize().as_tuple().exponent  # type: ignore[operator]
    if places > exponent:
        raise invalid(name, f"takes at most {exponent} decimal places in this currency; got {value}")
    return int(amount * 1_000_000)
