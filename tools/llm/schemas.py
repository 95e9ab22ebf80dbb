"""JSON schemas a server is shown, from pydantic models: `response_format` for structured output and
function definitions for tools.

Schemas are made *strict* the way OpenAI's structured outputs want them (every property required, no
extra properties, no defaults, `const` as a one-value `enum`); `strict: true` is only claimed when the
whole schema allows it (a `dict[str, X]` field does not), so OpenAI never refuses one. llama.cpp, vLLM
and Ollama use the same schema as a grammar. The answer is always validated by the pydantic model
itself: the schema guides, the model decides.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from pydantic import BaseModel, ValidationError

_SCHEMA_MAPS = ("properties", "$defs", "definitions", "patternProperties")
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SCHEMA_ONES = ("items", "additionalProperties", "not", "contains")


def strict_schema(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()
    _strictify(schema, schema)
    return schema


def _resolve(root: dict[str, Any], ref: str) -> dict[str, Any]:
    if not ref.startswith("#/"):
        raise ValueError(f"cannot resolve the non-local $ref {ref!r}")
    node: Any = root
    for part in ref[2:].split("/"):
        node = node[part]
    return copy.deepcopy(node)  # type: ignore[no-any-return]


def _strictify(node: dict[str, Any], root: dict[str, Any]) -> None:
    if "$ref" in node and len(node) > 1:  # a $ref with siblings (a described field): inline it
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        resolved = _resolve(root, node["$ref"])
        node.clear()
        node.update(resolved)
        node.update(siblings)
    node.pop("default", None)
    if "const" in node:
        node["enum"] = [node.pop("const")]
    if node.get("type") == "object" and "properties" in node:
        node.setdefault("additionalProperties", False)
        node["required"] = list(node["properties"])
    for key in _SCHEMA_MAPS:
        for child in (node.get(key) or {}).values():
            if isinstance(child, dict):
                _strictify(child, root)
    for key in _SCHEMA_LISTS:
        for child in node.get(key) or []:
            if isinstance(child, dict):
                _strictify(child, root)
    for key in _SCHEMA_ONES:
        child = node.get(key)
        if isinstance(child, dict):
            _strictify(child, root)


def strict_compatible(schema: dict[str, Any]) -> bool:
    """True when OpenAI's strict mode accepts the schema: a closed object at the root and everywhere."""

    def closed(node: Any) -> bool:
        if isinstance(node, list):
            return all(closed(n) for n in node)
        if not isinstance(node, dict):
            return True
        if node.get("type") == "object" and node.get("additionalProperties", True) is not False:
            return False
        children = [node.get(k) for k in (*_SCHEMA_LISTS, *_SCHEMA_ONES)]
        children += [v for k in _SCHEMA_MAPS for v in (node.get(k) or {}).values()]
        return all(closed(c) for c in children if c is not None)

    return schema.get("type") == "object" and closed(schema)


def schema_name(name: str) -> str:
    """A name OpenAI accepts for a schema or function: ^[a-zA-Z0-9_-]{1,64}$."""
    cleaned = re.sub(r"[^a-zA-Z0-9_-]", "_", name)[:64]
    return cleaned or "answer"


def response_format(model: type[BaseModel]) -> dict[str, Any]:
    """`response_format={"type": "json_schema", ...}` asking for an instance of `model`."""
    schema = strict_schema(model)
    return {
        "type": "json_schema",
        "json_schema": {
            "name": schema_name(model.__name__),
            "schema": schema,
            "strict": strict_compatible(schema),
        },
    }


def fields_hint(model: type[BaseModel]) -> str:
    """One line naming the answer's fields and what each is for (top level; the schema has the rest)."""
    fields = [
        f"{name} ({' '.join(field.description.split())})" if field.description else name
        for name, field in model.model_fields.items()
    ]
    return f"Answer with a JSON object with these fields: {'; '.join(fields)}."


def validation_reason(exc: ValidationError, *, limit: int = 3) -> str:
    """A short, model-readable account of what failed ("not valid JSON", or the first fields' errors)."""
    errors = exc.errors(include_url=False)
    if any(e["type"] == "json_invalid" for e in errors):
        return "not valid JSON: " + str(errors[0].get("ctx", {}).get("error", errors[0]["msg"]))
    parts = [f"{'.'.join(str(p) for p in e['loc']) or 'answer'}: {e['msg']}" for e in errors[:limit]]
    more = f" (and {len(errors) - limit} more)" if len(errors) > limit else ""
    return "; ".join(parts) + more
