"""The project's one LLM client, on the `openai` package, for any OpenAI-compatible server (OpenAI, Azure's
/openai/v1, vLLM, Ollama, llama.cpp's server, the embedded model).

- transient failures (connection, timeout, 408/409/429, 5xx) are retried with tenacity, honouring
  Retry-After; the rest become typed errors (`tools.llm.errors`);
- every answered request is recorded (`Usage`: tokens, latency), totals on `client.usage`;
- `structured()` asks for a pydantic model through `response_format` json_schema and validates the
  answer with that model; an unusable answer is shown back to the model with the reason, a bounded
  number of times, then raised as `LLMOutputError` carrying every raw answer;
- `choose_tool()` returns one `ToolChoice` from native tool calls or, for models that make none, from a
  JSON answer, validated by the tools' own argument schemas.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal, TypeVar

import httpx
import openai
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletion, ChatCompletionMessage
from pydantic import BaseModel, ValidationError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from tools.llm.config import LLMConfig
from tools.llm.errors import LLMOutputError, OutputFailure, ToolChoiceError
from tools.llm.messages import (
    Message,
    message_dicts,
    raw_answer,
    structured_retry,
    tool_retry,
    with_instruction,
)
from tools.llm.retries import as_llm_error, is_transient, retry_after_s
from tools.llm.schemas import fields_hint, response_format, validation_reason
from tools.llm.tool_choice import (
    InvalidChoiceError,
    ToolChoice,
    ToolLike,
    function_tools,
    json_choice_format,
    json_mode_instruction,
    parse_json_choice,
    parse_native_choice,
    tool_specs,
)
from tools.llm.usage import Usage, UsageMeter, UsageTotals

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
Sleep = Callable[[float], Awaitable[None]]


class Completion(BaseModel):
    text: str
    finish_reason: str | None
    usage: Usage


class LLMClient:
    """One OpenAI-compatible endpoint. Use as `async with LLMClient(config) as llm:` (or call `aclose`).

    `http_client` replaces the HTTP layer (tests give an `httpx.MockTransport`); `sleep` replaces the
    waits between retries (tests give one that only records)."""

    def __init__(
        self,
        config: LLMConfig,
        *,
        http_client: httpx.AsyncClient | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if config.base_url is None:
            raise ValueError(
                "LLMClient needs a base_url; open_llm(config) starts the embedded model and uses it"
            )
        self.config = config
        self.base_url = config.base_url.rstrip("/")
        self._sleep = sleep
        self._meter = UsageMeter()
        self._openai = AsyncOpenAI(
            base_url=self.base_url,
            api_key=config.api_key.get_secret_value() if config.api_key else "unused",
            timeout=config.timeout_s,
            max_retries=0,  # retries are ours: one policy, Retry-After honoured, waits injectable
            http_client=http_client,
        )

    async def __aenter__(self) -> LLMClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._openai.close()

    @property
    def model(self) -> str:
        return self.config.model_name

    @property
    def usage(self) -> UsageTotals:
        """Totals since the client was made (a copy)."""
        return self._meter.totals.model_copy()

    @property
    def calls(self) -> list[Usage]:
        """The most recent per-request records, oldest first."""
        return list(self._meter.records)

    # -- public calls -----------------------------------------------------------------------------------

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        purpose: str = "text",
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> Completion:
        """A plain text answer."""
        completion, usage = await self._create(
            message_dicts(messages), purpose=purpose, attempt=1, **self._sampling(temperature, max_tokens)
        )
        message = completion.choices[0].message if completion.choices else None
        return Completion(
            text=(message.content if message else None) or "",
            finish_reason=usage.finish_reason,
            usage=usage,
        )

    async def structured(
        self,
        messages: Sequence[Message],
        schema: type[M],
        *,
        purpose: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        field_hint: bool = True,
    ) -> M:
        """An instance of `schema`, asked for with `response_format` json_schema and validated by it.
        `field_hint` also names the fields and their descriptions in the system message: small models
        (the embedded one) fill fields far better when told what each is for."""
        base = message_dicts(messages)
        if field_hint:
            base = with_instruction(base, fields_hint(schema))
        fmt = response_format(schema)
        conversation = base
        failures: list[OutputFailure] = []
        for attempt in range(1, self.config.output_attempts + 1):
            completion, usage = await self._create(
                conversation,
                purpose=purpose or f"structured:{schema.__name__}",
                attempt=attempt,
                response_format=fmt,
                **self._sampling(temperature, max_tokens),
            )
            message = completion.choices[0].message if completion.choices else None
            raw = (message.content if message else None) or ""
            refusal = getattr(message, "refusal", None)
            if refusal:
                reason = f"the model refused: {refusal}"
            else:
                try:
                    value = schema.model_validate_json(raw)
                except ValidationError as exc:
                    reason = validation_reason(exc)
                else:
                    self._meter.mark(usage, "valid")
                    return value
            if usage.finish_reason == "length":
                reason += " (the answer was cut off at max_tokens)"
            self._meter.mark(usage, "invalid")
            failures.append(OutputFailure(raw=raw, reason=reason))
            logger.info(
                "%s: unusable %s answer (attempt %d): %s", self.model, schema.__name__, attempt, reason
            )
            conversation = [*base, *structured_retry(raw, reason)]
        raise LLMOutputError(
            f"{self.model} gave no valid {schema.__name__} in {len(failures)} answers; "
            f"last: {failures[-1].reason}",
            schema=schema.__name__,
            failures=failures,
        )

    async def choose_tool(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolLike],
        *,
        mode: Literal["native", "json"] | None = None,
        purpose: str = "tool_choice",
        temperature: float | None = 0.0,
        max_tokens: int | None = None,
    ) -> ToolChoice:
        """The one tool the model chooses, with arguments valid for it. `mode` defaults to the config's."""
        specs = tool_specs(tools)
        mode = mode or self.config.resolved_tool_mode
        base = message_dicts(messages)
        names = ", ".join(specs)
        failures: list[OutputFailure] = []
        if mode == "json":
            base = with_instruction(base, json_mode_instruction(specs))
            params: dict[str, Any] = {"response_format": json_choice_format(specs)}
        else:
            params = {"tools": function_tools(specs), "tool_choice": "required"}
        conversation = base
        for attempt in range(1, self.config.output_attempts + 1):
            completion, usage = await self._create(
                conversation,
                purpose=purpose,
                attempt=attempt,
                **params,
                **self._sampling(temperature, max_tokens),
            )
            message = (
                completion.choices[0].message
                if completion.choices
                else ChatCompletionMessage(role="assistant")
            )
            try:
                choice = (
                    parse_json_choice(message.content or "", specs)
                    if mode == "json"
                    else parse_native_choice(message, specs)
                )
            except InvalidChoiceError as invalid:
                reason = invalid.reason
            else:
                self._meter.mark(usage, "valid")
                return choice
            self._meter.mark(usage, "invalid")
            raw = raw_answer(message)
            failures.append(OutputFailure(raw=raw, reason=reason))
            logger.info("%s: invalid tool choice (attempt %d): %s", self.model, attempt, reason)
            conversation = [*base, *tool_retry(mode, message, reason, names)]
        raise ToolChoiceError(
            f"{self.model} chose no valid tool among [{names}] in {len(failures)} answers; "
            f"last: {failures[-1].reason}",
            schema="ToolCall",
            failures=failures,
        )

    # -- one request, retried ---------------------------------------------------------------------------

    def _sampling(self, temperature: float | None, max_tokens: int | None) -> dict[str, Any]:
        params: dict[str, Any] = {
            "temperature": self.config.temperature if temperature is None else temperature,
            "max_tokens": max_tokens or self.config.max_tokens,
        }
        if self.config.seed is not None:
            params["seed"] = self.config.seed
        return params

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, openai.APIStatusError):
            asked = retry_after_s(exc.response.headers)
            if asked is not None:
                return min(asked, self.config.max_wait_s)
        return float(
            wait_random_exponential(multiplier=self.config.backoff_s, max=self.config.max_wait_s)(state)
        )

    async def _backoff(self, seconds: float) -> None:
        self._meter.retried()
        await self._sleep(seconds)

    async def _create(
        self, messages: list[dict[str, Any]], *, purpose: str, attempt: int, **params: Any
    ) -> tuple[ChatCompletion, Usage]:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.config.max_retries + 1),
            wait=self._wait,
            sleep=self._backoff,
            retry=retry_if_exception(is_transient),
            reraise=True,
        )
        try:
            async for trial in retrying:
                with trial:
                    return await self._once(messages, purpose=purpose, attempt=attempt, **params)
        except openai.APIError as exc:
            attempts = retrying.statistics.get("attempt_number", 1)
            raise as_llm_error(
                exc, base_url=self.base_url, timeout_s=self.config.timeout_s, attempts=attempts
            ) from exc
        raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover

    async def _once(
        self, messages: list[dict[str, Any]], *, purpose: str, attempt: int, **params: Any
    ) -> tuple[ChatCompletion, Usage]:
        started = time.perf_counter()
        completion = await self._openai.chat.completions.create(
            model=self.model,
            messages=messages,  # type: ignore[arg-type]
            **params,
        )
        latency = time.perf_counter() - started
        tokens = completion.usage
        usage = Usage(
            model=completion.model or self.model,
            purpose=purpose,
            attempt=attempt,
            prompt_tokens=tokens.prompt_tokens if tokens else 0,
            completion_tokens=tokens.completion_tokens if tokens else 0,
            latency_s=latency,
            finish_reason=completion.choices[0].finish_reason if completion.choices else None,
            reported=tokens is not None,
        )
        self._meter.record(usage)
        return completion, usage
