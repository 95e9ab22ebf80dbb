"""Graph request parameters: query string, form or multipart body, decoded as Meta decodes them.

Clients JSON-encode lists, objects and booleans into strings (the official SDK does, compact and with
sorted keys); `fields` may also be a plain comma list.
"""

from __future__ import annotations

import json
from typing import Any

from sandbox.meta.errors import GraphError, invalid_parameter


class GraphParams:
    """All parameters of one request, with typed getters that answer Meta's validation errors."""

    def __init__(self, values: dict[str, str], files: dict[str, bytes] | None = None) -> None:
        self.values = values
        self.files = files or {}
        self.used: set[str] = {
            "access_token",
            "appsecret_proof",
            "method",
            "suppress_http_code",
            "pretty",
            "locale",
            "include_headers",
        }

    def __contains__(self, name: str) -> bool:
        return name in self.values

    def raw(self, name: str) -> str | None:
        self.used.add(name)
        return self.values.get(name)

    def text(self, name: str, *, required: bool = False, max_length: int = 400) -> str | None:
        value = self.raw(name)
        if value is None:
            if required:
                raise invalid_parameter(f"The parameter {name} is required", field=name)
            return None
        if not value.strip() or len(value) > max_length:
            raise invalid_parameter(
                f"Param {name} must be a non-empty string of at most {max_length} characters", field=name
            )
        return value

    def integer(self, name: str, *, required: bool = False, minimum: int | None = None) -> int | None:
        value = self.raw(name)
        if value is None:
            if required:
                raise invalid_parameter(f"The parameter {name} is required", field=name)
            return None
        try:
            number = int(value)
        except ValueError:
            raise invalid_parameter(f"Param {name} must be an integer, got {value!r}", field=name) from None
        if minimum is not None and number < minimum:
            raise invalid_parameter(f"Param {name} must be at least {minimum}", field=name)
        return number

    def boolean(self, name: str, default: bool = False) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        if value.lower() in ("true", "1"):
            return True
        if value.lower() in ("false", "0"):
            return False
        raise invalid_parameter(f"Param {name} must be a boolean", field=name)

    def json(self, name: str, expect: type | tuple[type, ...]) -> Any:
        value = self.raw(name)
        if value is None:
            return None
        try:
            decoded = json.loads(value)
        except ValueError:
            raise invalid_parameter(
                f"Param {name} must be JSON-encoded, got {value[:80]!r}", field=name
            ) from None
        if not isinstance(decoded, expect):
            names = expect.__name__ if isinstance(expect, type) else " or ".join(t.__name__ for t in expect)
            raise invalid_parameter(f"Param {name} must be a JSON {names}", field=name)
        return decoded

    def string_list(self, name: str) -> list[str] | None:
        """A list given as a JSON array or as a comma list."""
        value = self.raw(name)
        if value is None:
            return None
        stripped = value.strip()
        if stripped.startswith("["):
            items = self.json(name, list)
            if not all(isinstance(i, str) for i in items):
                raise invalid_parameter(f"Param {name} must be a list of strings", field=name)
            return [i.strip() for i in items]
        return [part.strip() for part in stripped.split(",") if part.strip()]

    def fields(self) -> list[str] | None:
        """`fields`, without nested field expansions (`creative{id,name}` is read as `creative`)."""
        value = self.raw("fields")
        if value is None:
            return None
        out, depth, current = [], 0, ""
        for ch in value.strip().strip("[]"):
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            elif ch == "," and depth == 0:
                out.append(current)
                current = ""
            elif depth == 0:
                current += ch
        out.append(current)
        return [f.strip().strip('"') for f in out if f.strip().strip('"')]

    def check_unused(self, allowed_extra: set[str] | None = None) -> None:
        """Refuse parameters nobody read: Meta names the field it does not know."""
        unknown = sorted(set(self.values) - self.used - (allowed_extra or set()))
        if unknown:
            raise invalid_parameter(
                f"Param {unknown[0]} is not a valid parameter for this request", field=unknown[0]
            )


def parse_form_value(raw: Any) -> str:
    if isinstance(raw, bytes):
        return raw.decode("utf-8", errors="replace")
    return str(raw)


def too_many_values(name: str) -> GraphError:
    return invalid_parameter(f"Param {name} was given more than once", field=name)
