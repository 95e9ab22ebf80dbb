"""Tools as the model sees them, and its choice of one, in both modes.

- native: the tools go in `tools=[...]` as functions and the model answers with a tool call;
- json: for models that make no tool calls (the embedded one), the model answers a JSON schema
  `{"call": {"name": <tool>, "arguments": {...}}}` whose `call` is a union of one branch per tool.

Either way the arguments are validated by the tool's own pydantic argument schema, the one LangChain
validates with, so a choice that passes here passes the tool.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeGuard, Union

from langchain_core.messages import ToolCall
from langchain_core.tools import BaseTool
from openai.types.chat import ChatCompletionMessage
from pydantic import BaseModel, Field, ValidationError, create_model

from tools.llm.schemas import schema_name, strict_compatible, strict_schema, validation_reason

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class ToolSpec:
    """A tool by name, what it is for, and the pydantic model of its arguments."""

    name: str
    description: str
    args: type[BaseModel]

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", self.name):
            raise ValueError(f"tool name {self.name!r} must match [a-zA-Z0-9_-]{{1,64}}")


ToolLike = BaseTool | type[BaseModel] | ToolSpec


def _is_model(value: object) -> TypeGuard[type[BaseModel]]:
    return isinstance(value, type) and issubclass(value, BaseModel)


def as_tool_spec(tool: ToolLike) -> ToolSpec:
    """A LangChain tool (its call schema), a pydantic model (name: the class, description: its
    docstring) or a ToolSpec as it is."""
    if isinstance(tool, ToolSpec):
        return tool
    if isinstance(tool, BaseTool):
        schema = tool.tool_call_schema  # the arguments a model gives: injected ones left out
        own = tool.args_schema
        if _is_model(own) and _is_model(schema) and set(own.model_fields) == set(schema.model_fields):
            schema = own  # no injected arguments: validate with the tool's own model
        if not _is_model(schema):
            raise TypeError(
                f"tool {tool.name!r} has no pydantic argument schema (got {type(schema).__name__})"
            )
        return ToolSpec(name=tool.name, description=tool.description, args=schema)
    if isinstance(tool, type) and issubclass(tool, BaseModel):
        return ToolSpec(name=tool.__name__, description=(tool.__doc__ or "").strip(), args=tool)
    raise TypeError(f"not a tool: {tool!r} (give a LangChain tool, a pydantic model or a ToolSpec)")


def tool_specs(tools: Sequence[ToolLike]) -> dict[str, ToolSpec]:
    specs = [as_tool_spec(t) for t in tools]
    if not specs:
        raise ValueError("choose_tool needs at least one tool")
    names = [s.name for s in specs]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValueError(f"tool names must be unique; repeated: {duplicated}")
    return {s.name: s for s in specs}


@dataclass(frozen=True, kw_only=True)
class ToolChoice:
    """The tool the model chose and its arguments, validated by the tool's own schema."""

    name: str
    arguments: BaseModel
    call_id: str | None = None
    mode: Literal["native", "json"] = "native"

    def to_langchain(self) -> ToolCall:
        """As a LangChain tool call, ready for `tool.ainvoke(call)`."""
        return ToolCall(
            name=self.name,
            args=self.arguments.model_dump(mode="json"),
            id=self.call_id or f"call_{uuid.uuid4().hex[:12]}",
            type="tool_call",
        )


class InvalidChoiceError(Exception):
    """An answer that chose no valid tool; the reason is shown to the model when it is asked again."""

    def __init__(self, reason: str, *, call_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.call_id = call_id


def validate_choice(
    specs: dict[str, ToolSpec],
    name: str,
    arguments: Any,
    *,
    call_id: str | None,
    mode: Literal["native", "json"],
) -> ToolChoice:
    spec = specs.get(name)
    if spec is None:
        raise InvalidChoiceError(f"unknown tool {name!r}; the tools are {sorted(specs)}", call_id=call_id)
    try:
        args = (
            spec.args.model_validate_json(arguments)
            if isinstance(arguments, str)
            else spec.args.model_validate(arguments)
        )
    except ValidationError as exc:
        raise InvalidChoiceError(f"arguments of {name}: {validation_reason(exc)}", call_id=call_id) from None
    return ToolChoice(name=name, arguments=args, call_id=call_id, mode=mode)


# -- native mode ----------------------------------------------------------------------------------------


def function_tools(specs: dict[str, ToolSpec]) -> list[dict[str, Any]]:
    functions = []
    for spec in specs.values():
        schema = strict_schema(spec.args)
        functions.append(
            {
                "type": "function",
                "function": {
                    "name": spec.name,
                    "description": spec.description,
                    "parameters": schema,
                    "strict": strict_compatible(schema),
                },
            }
        )
    return functions


# -- json mode ------------------------------------------------------------------------------------------


def _envelope(specs: dict[str, ToolSpec]) -> type[BaseModel]:
    branches = [
        create_model(
            f"Call_{schema_name(spec.name)}",
            name=(Literal[spec.name], Field(description="the chosen tool")),  # type: ignore[valid-type]
            arguments=(spec.args, Field(description=f"arguments of {spec.name}")),
        )
        for spec in specs.values()
    ]
    call_type = branches[0] if len(branches) == 1 else Union[tuple(branches)]  # noqa: UP007
    return create_model("ToolCall", call=(call_type, Field(description="exactly one tool call")))


def json_choice_format(specs: dict[str, ToolSpec]) -> dict[str, Any]:
    schema = strict_schema(_envelope(specs))
    return {
        "type": "json_schema",
        "json_schema": {"name": "ToolCall", "schema": schema, "strict": strict_compatible(schema)},
    }


def _first_paragraph(text: str, limit: int = 300) -> str:
    paragraph = " ".join(text.strip().split("\n\n")[0].split())
    return paragraph if len(paragraph) <= limit else paragraph[: limit - 1] + "…"


def json_mode_instruction(specs: dict[str, ToolSpec]) -> str:
    lines = ["Choose the next action by calling exactly one of these tools:"]
    for spec in specs.values():
        fields = [
            f"{name} ({_first_paragraph(field.description, 80)})" if field.description else name
            for name, field in spec.args.model_fields.items()
        ]
        lines.append(
            f"- {spec.name}: {_first_paragraph(spec.description)} Arguments: {', '.join(fields) or 'none'}."
        )
    lines.append('Answer with JSON only: {"call": {"name": "<tool name>", "arguments": {...}}}.')
    return "\n".join(lines)


def parse_native_choice(message: ChatCompletionMessage, specs: dict[str, ToolSpec]) -> ToolChoice:
    calls = [c for c in message.tool_calls or [] if getattr(c, "function", None) is not None]
    if not calls:
        raise InvalidChoiceError("the answer called no tool")
    if len(calls) > 1:
        logger.info("the model made %d tool calls; the first is used", len(calls))
    call = calls[0]
    return validate_choice(
        specs, call.function.name, call.function.arguments or "{}", call_id=call.id, mode="native"
    )


def parse_json_choice(raw: str, specs: dict[str, ToolSpec]) -> ToolChoice:
    try:
        answer = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidChoiceError(f"not valid JSON: {exc}") from None
    call = answer.get("call") if isinstance(answer, dict) else None
    if not isinstance(call, dict) or not isinstance(call.get("name"), str):
        raise InvalidChoiceError('the answer must be {"call": {"name": ..., "arguments": {...}}}')
    return validate_choice(specs, call["name"], call.get("arguments", {}), call_id=None, mode="json")
