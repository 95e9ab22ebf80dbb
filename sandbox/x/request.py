"""Request parameters as X takes them: query string (and form bodies), lists comma-joined or repeated."""

from __future__ import annotations

from typing import Any

from sandbox.x.errors import invalid_parameter, missing_parameter

TRUE, FALSE = {"true", "1"}, {"false", "0"}


class XParams:
    """Parsed parameters; remembers which were read so writes can refuse unknown ones."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.values: dict[str, list[str]] = {}
        for key, value in pairs:
            # requests sends a Python list as repeated keys; X's own form is one comma-joined value.
            self.values.setdefault(key, []).append(value)
        self.used: set[str] = set()

    def has(self, name: str) -> bool:
        return name in self.values

    def raw(self, name: str) -> str | None:
        self.used.add(name)
        values = self.values.get(name)
        return None if values is None else ",".join(values)

    def string(self, name: str, *, required: bool = False) -> str | None:
        value = self.raw(name)
        if value is None or value == "":
            if required:
                raise missing_parameter(name)
            return None
        return value

    def ids(self, name: str, *, limit: int | None = None, required: bool = False) -> list[str] | None:
        value = self.string(name, required=required)
        if value is None:
            return None
        items = [v.strip() for v in value.split(",") if v.strip()]
        if not items and required:
            raise missing_parameter(name)
        if limit is not None and len(items) > limit:
            raise invalid_parameter(name, f"Expected at most {limit} values for {name}, got {len(items)}")
        return items

    def integer(self, name: str, *, lo: int | None = None, hi: int | None = None) -> int | None:
        value = self.string(name)
        if value is None:
            return None
        try:
            number = int(value)
        except ValueError:
            raise invalid_parameter(name, f'Expected integer, got "{value}" for {name}') from None
        if (lo is not None and number < lo) or (hi is not None and number > hi):
            raise invalid_parameter(name, f"{name} must be between {lo} and {hi}, got {number}")
        return number

    def boolean(self, name: str, default: bool = False) -> bool:
        value = self.string(name)
        if value is None:
            return default
        if value.lower() in TRUE:
            return True
        if value.lower() in FALSE:
            return False
        raise invalid_parameter(name, f'Expected boolean, got "{value}" for {name}')

    def enum(self, name: str, allowed: tuple[str, ...], *, required: bool = False) -> str | None:
        value = self.string(name, required=required)
        if value is None:
            return None
        if value.upper() not in allowed:
            raise invalid_parameter(name, f'Expected one of {", ".join(allowed)}, got "{value}" for {name}')
        return value.upper()

    def unused(self) -> list[str]:
        return sorted(set(self.values) - self.used)

    def echo(self) -> dict[str, Any]:
        """request.params: the parsed request, list parameters as arrays."""
        out: dict[str, Any] = {}
        for key, values in self.values.items():
            joined = ",".join(values)
            out[key] = [v for v in joined.split(",") if v] if key.endswith(("_ids", "_groups")) else joined
        return out
