"""Chat messages as the OpenAI API takes them, and the turns that show a model its unusable answer."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from langchain_core.messages import BaseMessage, convert_to_openai_messages
from openai.types.chat import ChatCompletionMessage

Message = Mapping[str, Any] | BaseMessage

RETRY_STRUCTURED = (
    "That answer could not be used: {reason}. Answer again with JSON only, matching the schema."
)
RETRY_JSON_TOOL = (
    "That answer could not be used: {reason}. Answer again with JSON only, calling exactly one of the "
    "tools ({names}) with valid arguments."
)
RETRY_NATIVE_TOOL = "Error: {reason}. Call exactly one of the tools ({names}) again, with valid arguments."
RETRY_NO_TOOL_CALL = "Do not answer in text: call exactly one of the tools ({names})."


def message_dicts(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """OpenAI message dicts, from dicts or LangChain messages."""
    out: list[dict[str, Any]] = []
    for message in messages:
        if isinstance(message, BaseMessage):
            out.append(convert_to_openai_messages(message))  # type: ignore[arg-type]
        else:
            out.append(dict(message))
    if not out:
        raise ValueError("a chat request needs at least one message")
    return out


def with_instruction(messages: list[dict[str, Any]], instruction: str) -> list[dict[str, Any]]:
    """The instruction joined to the leading system message (one system message suits every template)."""
    first = messages[0]
    if first.get("role") == "system" and isinstance(first.get("content"), str):
        return [{**first, "content": f"{first['content']}\n\n{instruction}"}, *messages[1:]]
    return [{"role": "system", "content": instruction}, *messages]


def function_calls(message: ChatCompletionMessage) -> list[Any]:
    return [c for c in message.tool_calls or [] if getattr(c, "function", None) is not None]


def raw_answer(message: ChatCompletionMessage) -> str:
    """The answer as received: its text, or its tool calls as JSON."""
    calls = function_calls(message)
    if not calls:
        return message.content or ""
    return json.dumps([{"name": c.function.name, "arguments": c.function.arguments} for c in calls])


def structured_retry(raw: str, reason: str) -> list[dict[str, Any]]:
    return [
        {"role": "assistant", "content": raw},
        {"role": "user", "content": RETRY_STRUCTURED.format(reason=reason)},
    ]


def tool_retry(
    mode: Literal["native", "json"], message: ChatCompletionMessage, reason: str, names: str
) -> list[dict[str, Any]]:
    """The unusable answer and the reason: in JSON mode as a user turn, in native mode as each tool
    call's answer (the API wants one per call id), or a user turn when the model called nothing."""
    if mode == "json":
        return [
            {"role": "assistant", "content": message.content or ""},
            {"role": "user", "content": RETRY_JSON_TOOL.format(reason=reason, names=names)},
        ]
    calls = function_calls(message)
    turn: dict[str, Any] = {"role": "assistant", "content": message.content or ""}
    if not calls:
        return [turn, {"role": "user", "content": RETRY_NO_TOOL_CALL.format(names=names)}]
    turn["tool_calls"] = [
        {
            "id": c.id,
            "type": "function",
            "function": {"name": c.function.name, "arguments": c.function.arguments},
        }
        for c in calls
    ]
    note = RETRY_NATIVE_TOOL.format(reason=reason, names=names)
    return [turn, *({"role": "tool", "tool_call_id": c.id, "content": note} for c in calls)]
