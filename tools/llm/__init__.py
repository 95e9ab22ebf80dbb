"""The LLM layer: one OpenAI-compatible client (`LLMClient`), the embedded offline default
(`EmbeddedServer`), and `open_llm(config)` that gives a client for either.

    async with open_llm(LLMConfig()) as llm:            # no base_url: the embedded SmolLM2
        copy = await llm.structured(messages, AdCopy)    # validated pydantic instance
        choice = await llm.choose_tool(messages, tools)  # ToolChoice(name, arguments)
        llm.usage                                        # tokens, latency, retries so far

The model writes words and picks tools; it never computes a number that is acted on.
"""

from tools.llm.client import Completion, LLMClient
from tools.llm.config import EMBEDDED_MODEL, EmbeddedConfig, LLMConfig, ToolMode
from tools.llm.embedded import EmbeddedServer, locate_model
from tools.llm.errors import (
    EmbeddedModelError,
    LLMError,
    LLMOutputError,
    LLMRequestError,
    LLMTimeoutError,
    LLMUnavailableError,
    OutputFailure,
    ToolChoiceError,
)
from tools.llm.messages import Message
from tools.llm.session import open_llm
from tools.llm.tool_choice import ToolChoice, ToolSpec, as_tool_spec
from tools.llm.usage import Usage, UsageTotals

__all__ = [
    "EMBEDDED_MODEL",
    "Completion",
    "EmbeddedConfig",
    "EmbeddedModelError",
    "EmbeddedServer",
    "LLMClient",
    "LLMConfig",
    "LLMError",
    "LLMOutputError",
    "LLMRequestError",
    "LLMTimeoutError",
    "LLMUnavailableError",
    "Message",
    "OutputFailure",
    "ToolChoice",
    "ToolChoiceError",
    "ToolMode",
    "ToolSpec",
    "Usage",
    "UsageTotals",
    "as_tool_spec",
    "locate_model",
    "open_llm",
]
