"""The LLM client against a scripted fake chat server: nothing here depends on what a model writes.

Structured output, invalid answers asked again and then reported, transient failures retried (Retry-After
honoured, no real sleeping), timeouts, token accounting, and tool choice in both modes validated by the
tools' own schemas; then the settings and the composition root that build the client.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from typing import Any, Literal, TypeVar
from unittest.mock import ANY

import pytest
from langchain_core.tools import StructuredTool
from pydantic import BaseModel, Field, ValidationError

from app import composition
from app.settings import Settings
from tools.llm import (
    LLMClient,
    LLMConfig,
    LLMOutputError,
    LLMRequestError,
    LLMTimeoutError,
    LLMUnavailableError,
    ToolChoiceError,
    ToolSpec,
)
from tools.llm.fake import Disconnect, Fail, FakeChatServer, Reply, Timeout
from tools.llm.schemas import response_format, strict_compatible, strict_schema
from tools.optimize.langchain_tools import optimizer_tools

T = TypeVar("T")
ASK = [{"role": "system", "content": "You write ad copy."}, {"role": "user", "content": "Running shoes."}]


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


class AdCopy(BaseModel):
    headline: str = Field(description="the ad's headline", max_length=40)
    cta: Literal["shop_now", "learn_more"] = Field(description="the call to action")


class PauseAd(BaseModel):
    """Pause an ad that spends without results."""

    ad_id: str = Field(description="the ad's id", min_length=1)


class BudgetChange(BaseModel):
    ad_set_id: str = Field(description="the ad set's id")
    percent: int = Field(ge=-50, le=50, description="change of the daily budget, in percent")


def _change_budget(ad_set_id: str, percent: int) -> str:
    return f"{ad_set_id}:{percent:+d}%"


CHANGE_BUDGET = StructuredTool.from_function(
    _change_budget,
    name="change_budget",
    description="Change an ad set's daily budget.",
    args_schema=BudgetChange,
)
TOOLS = [PauseAd, CHANGE_BUDGET]


async def _structured(fake: FakeChatServer, **config: Any) -> AdCopy:
    async with fake.client(**config) as llm:
        return await llm.structured(ASK, AdCopy)


# -- structured output -----------------------------------------------------------------------------------


def test_structured_answer_is_validated_into_the_pydantic_model() -> None:
    fake = FakeChatServer([Reply.json({"headline": "Run further", "cta": "shop_now"})])
    copy = run(_structured(fake))
    assert copy == AdCopy(headline="Run further", cta="shop_now")
    sent = fake.requests[0]
    assert sent.model == "fake-model"
    assert sent.headers["authorization"] == "Bearer fake-key"
    assert sent.response_format is not None and sent.response_format["type"] == "json_schema"
    assert sent.response_format["json_schema"]["strict"] is True
    assert sent.schema == strict_schema(AdCopy)
    assert sent.schema["required"] == ["headline", "cta"] and sent.schema["additionalProperties"] is False
    assert sent.messages[0]["content"] == (
        "You write ad copy.\n\n"
        "Answer with a JSON object with these fields: headline (the ad's headline); cta (the call to action)."
    )


def test_given_invalid_json_when_asking_then_the_model_is_asked_again_with_the_reason() -> None:
    fake = FakeChatServer(
        [Reply(content='{"headline": "Run'), Reply.json({"headline": "Run further", "cta": "learn_more"})]
    )
    client = fake.client()
    copy = run(client.structured(ASK, AdCopy))
    assert copy.cta == "learn_more"
    retry = fake.requests[1].messages
    assert retry[1] == ASK[1]
    assert retry[2] == {"role": "assistant", "content": '{"headline": "Run'}
    assert retry[3]["role"] == "user" and "not valid JSON" in retry[3]["content"]
    assert client.usage.invalid_outputs == 1
    assert [(c.attempt, c.outcome) for c in client.calls] == [(1, "invalid"), (2, "valid")]


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("Sure! Here is your ad: Run further.", "not valid JSON"),
        (json.dumps({"headline": "x" * 41, "cta": "shop_now"}), "headline: String should have at most 40"),
        (json.dumps({"headline": "Run", "cta": "buy"}), "cta: Input should be 'shop_now' or 'learn_more'"),
    ],
)
def test_given_only_unusable_answers_then_a_typed_error_carries_the_raw_text(
    answer: str, reason: str
) -> None:
    fake = FakeChatServer(then=Reply(content=answer))
    with pytest.raises(LLMOutputError) as err:
        run(_structured(fake, output_attempts=3))
    assert len(fake.requests) == 3
    assert err.value.raw == answer and err.value.attempts == 3 and err.value.schema == "AdCopy"
    assert all(reason in f.reason for f in err.value.failures)
    assert reason in str(err.value)


def test_a_cut_off_answer_is_reported_as_cut_off() -> None:
    fake = FakeChatServer(then=Reply(content='{"headline": "Run fur', finish_reason="length"))
    with pytest.raises(LLMOutputError, match="cut off at max_tokens"):
        run(_structured(fake, output_attempts=1))


# -- transient failures ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "waited"),
    [
        (Fail(status=429, retry_after=7), 7.0),
        (Fail(status=429, headers={"retry-after-ms": "1500"}), 1.5),
        (Fail(status=503, retry_after=2), 2.0),
        (Fail(status=429, retry_after=900), 30.0),  # capped at max_wait_s
    ],
)
def test_given_a_rate_limit_or_5xx_with_retry_after_when_asking_then_the_wait_is_honoured(
    failure: Fail, waited: float
) -> None:
    fake = FakeChatServer([failure, Reply.json({"headline": "Run", "cta": "shop_now"})])
    client = fake.client(max_wait_s=30)
    assert run(client.structured(ASK, AdCopy)).headline == "Run"
    assert fake.sleeps == [waited]
    assert client.usage.transport_retries == 1 and client.usage.calls == 1


def test_given_500s_on_every_attempt_then_the_server_is_reported_unavailable() -> None:
    fake = FakeChatServer(then=Fail(status=500, message="model crashed"))
    with pytest.raises(LLMUnavailableError) as err:
        run(_structured(fake, max_retries=3, backoff_s=0.5, max_wait_s=4))
    assert len(fake.requests) == 4 and err.value.attempts == 4 and err.value.status == 500
    assert "HTTP 500" in str(err.value) and "model crashed" in str(err.value)
    assert len(fake.sleeps) == 3 and all(0 <= s <= 4 for s in fake.sleeps)


def test_given_a_timeout_on_every_attempt_then_a_timeout_error() -> None:
    fake = FakeChatServer(then=Timeout())
    with pytest.raises(LLMTimeoutError, match=r"within 5s \(3 attempts\)") as err:
        run(_structured(fake, timeout_s=5, max_retries=2))
    assert err.value.attempts == 3 and len(fake.requests) == 3


@pytest.mark.parametrize("hiccup", [Timeout(), Disconnect(), Fail(status=502)])
def test_given_one_hiccup_then_the_retry_answers(hiccup: Any) -> None:
    fake = FakeChatServer([hiccup, Reply.json({"headline": "Run", "cta": "shop_now"})])
    assert run(_structured(fake)).headline == "Run"
    assert len(fake.requests) == 2 and len(fake.sleeps) == 1


@pytest.mark.parametrize(("status", "hint"), [(400, "HTTP 400"), (401, "check the API key"), (404, "/v1")])
def test_a_refused_request_is_not_retried(status: int, hint: str) -> None:
    fake = FakeChatServer(then=Fail(status=status, message="nope"))
    with pytest.raises(LLMRequestError, match=hint) as err:
        run(_structured(fake))
    assert len(fake.requests) == 1 and fake.sleeps == [] and err.value.status == status


def test_an_unreachable_server_is_reported_with_its_address() -> None:
    async def ask() -> None:
        async with LLMClient(
            LLMConfig(base_url="http://127.0.0.1:9/v1", model="m", max_retries=1, backoff_s=0)
        ) as llm:
            await llm.complete(ASK)

    with pytest.raises(LLMUnavailableError, match=r"cannot reach the LLM server at http://127.0.0.1:9/v1"):
        run(ask())


# -- token accounting ------------------------------------------------------------------------------------


def test_tokens_and_latency_are_recorded_per_call_and_totalled() -> None:
    fake = FakeChatServer(
        [
            Reply(content="Run further.", prompt_tokens=30, completion_tokens=5),
            Fail(status=429, retry_after=1),
            Reply.json({"headline": "Run", "cta": "shop_now"}, prompt_tokens=40, completion_tokens=12),
            Reply(content="no usage block", with_usage=False),
        ]
    )

    async def calls() -> LLMClient:
        async with fake.client() as llm:
            text = await llm.complete(ASK, purpose="headline")
            assert text.text == "Run further." and text.usage.completion_tokens == 5
            await llm.structured(ASK, AdCopy)
            await llm.complete(ASK)
            return llm

    client = run(calls())
    records = client.calls
    assert [(r.purpose, r.prompt_tokens, r.completion_tokens, r.reported) for r in records] == [
        ("headline", 30, 5, True),
        ("structured:AdCopy", 40, 12, True),
        ("text", 0, 0, False),
    ]
    assert all(r.latency_s >= 0 and r.model == "fake-model" for r in records)
    totals = client.usage
    assert (totals.calls, totals.prompt_tokens, totals.completion_tokens, totals.total_tokens) == (
        3,
        70,
        17,
        87,
    )
    assert totals.transport_retries == 1
    assert totals.latency_s == pytest.approx(sum(r.latency_s for r in records))


def test_request_carries_the_configured_sampling() -> None:
    fake = FakeChatServer([Reply(content="ok"), Reply(content="ok")])

    async def calls() -> None:
        async with fake.client(temperature=0.7, max_tokens=64, seed=11) as llm:
            await llm.complete(ASK)
            await llm.complete(ASK, temperature=0.0, max_tokens=8)

    run(calls())
    first, second = (r.body for r in fake.requests)
    assert (first["temperature"], first["max_tokens"], first["seed"]) == (0.7, 64, 11)
    assert (second["temperature"], second["max_tokens"]) == (0.0, 8)


# -- tool choice -----------------------------------------------------------------------------------------


async def _choose(fake: FakeChatServer, mode: Literal["native", "json"], **config: Any) -> Any:
    async with fake.client(**config) as llm:
        return await llm.choose_tool(ASK, TOOLS, mode=mode)


def test_native_tool_call_is_validated_by_the_tools_own_schema() -> None:
    fake = FakeChatServer([Reply.tool("change_budget", {"ad_set_id": "as_1", "percent": 20})])
    choice = run(_choose(fake, "native"))
    assert choice.name == "change_budget" and choice.mode == "native"
    assert choice.arguments == BudgetChange(ad_set_id="as_1", percent=20)
    assert CHANGE_BUDGET.invoke(choice.to_langchain()).content == "as_1:+20%"
    sent = fake.requests[0].body
    assert sent["tool_choice"] == "required" and "response_format" not in sent
    functions = {t["function"]["name"]: t["function"] for t in sent["tools"]}
    assert functions["PauseAd"]["description"] == "Pause an ad that spends without results."
    assert functions["change_budget"]["parameters"] == strict_schema(BudgetChange)
    assert sent["temperature"] == 0.0


def test_given_invalid_native_tool_calls_then_each_error_goes_back_as_the_tools_answer() -> None:
    fake = FakeChatServer(
        [
            Reply.tool("delete_account", {}),
            Reply.tool("change_budget", {"ad_set_id": "as_1", "percent": 500}),
            Reply(content="I think you should pause it."),
            Reply.tool("PauseAd", {"ad_id": "ad_9"}),
        ]
    )
    choice = run(_choose(fake, "native", output_attempts=4))
    assert choice.name == "PauseAd" and choice.arguments == PauseAd(ad_id="ad_9")
    unknown = fake.requests[1].messages[-1]
    assert unknown["role"] == "tool" and unknown["tool_call_id"] == "call_1_0"
    assert "unknown tool 'delete_account'" in unknown["content"]
    assert fake.requests[1].messages[-2]["tool_calls"][0]["function"]["name"] == "delete_account"
    assert "percent: Input should be less than or equal to 50" in fake.requests[2].messages[-1]["content"]
    assert (
        "call exactly one of the tools (PauseAd, change_budget)" in fake.requests[3].messages[-1]["content"]
    )


def test_json_mode_asks_for_a_union_of_the_tools_and_validates_the_answer() -> None:
    fake = FakeChatServer([Reply.json_tool("PauseAd", {"ad_id": "ad_3"})])
    choice = run(_choose(fake, "json"))
    assert choice.name == "PauseAd" and choice.arguments == PauseAd(ad_id="ad_3") and choice.mode == "json"
    sent = fake.requests[0]
    assert "tools" not in sent.body
    assert sent.messages[0]["role"] == "system" and sent.messages[0]["content"].startswith(
        "You write ad copy."
    )
    assert "- change_budget: Change an ad set's daily budget." in sent.messages[0]["content"]
    schema: dict[str, Any] = sent.schema or {}
    branches = [schema["$defs"][b["$ref"].split("/")[-1]] for b in schema["properties"]["call"]["anyOf"]]
    assert [b["properties"]["name"]["enum"] for b in branches] == [["PauseAd"], ["change_budget"]]
    assert branches[1]["properties"]["arguments"] == strict_schema(BudgetChange) | {"description": ANY}


@pytest.mark.parametrize("mode", ["native", "json"])
@pytest.mark.parametrize(
    ("name", "arguments", "reason"),
    [
        ("raise_bids", {"percent": 10}, "unknown tool 'raise_bids'"),
        ("change_budget", {"ad_set_id": "as_1", "percent": -80}, "percent: Input should be greater than"),
        ("change_budget", {"percent": 10}, "ad_set_id: Field required"),
        ("PauseAd", {"ad_id": ""}, "ad_id: String should have at least 1 character"),
    ],
)
def test_a_bad_choice_is_refused_alike_in_both_modes_then_reported(
    mode: Literal["native", "json"], name: str, arguments: dict[str, Any], reason: str
) -> None:
    reply = Reply.tool(name, arguments) if mode == "native" else Reply.json_tool(name, arguments)
    fake = FakeChatServer(then=reply)
    with pytest.raises(ToolChoiceError) as err:
        run(_choose(fake, mode, output_attempts=2))
    assert len(fake.requests) == 2 and err.value.attempts == 2
    assert reason in err.value.failures[-1].reason and name in err.value.raw


def test_json_mode_answer_that_is_not_a_call_is_asked_again() -> None:
    fake = FakeChatServer([Reply(content='{"tool": "PauseAd"}'), Reply.json_tool("PauseAd", {"ad_id": "a"})])
    assert run(_choose(fake, "json")).name == "PauseAd"
    assert '{"call": {"name": ..., "arguments": {...}}}' in fake.requests[1].messages[-1]["content"]


def test_tool_mode_defaults_to_the_configured_one() -> None:
    fake = FakeChatServer([Reply.json_tool("PauseAd", {"ad_id": "a"})])

    async def choose() -> str:
        async with fake.client(tool_mode="json") as llm:
            return (
                await llm.choose_tool(ASK, [ToolSpec(name="PauseAd", description="Pause.", args=PauseAd)])
            ).mode

    assert run(choose()) == "json" and "tools" not in fake.requests[0].body


def test_every_optimizer_tool_can_be_offered_in_both_modes() -> None:
    tools = optimizer_tools()
    fake = FakeChatServer(
        [
            Reply.tool("detect_creative_fatigue", {"days": []}),
            Reply.json_tool("detect_creative_fatigue", {"days": []}),
        ]
    )

    async def choose() -> list[Any]:
        async with fake.client() as llm:
            return [await llm.choose_tool(ASK, tools, mode=m) for m in ("native", "json")]

    native, as_json = run(choose())
    assert native.name == as_json.name == "detect_creative_fatigue"
    assert native.arguments == as_json.arguments
    assert {t["function"]["name"] for t in fake.requests[0].tools} == {t.name for t in tools}


# -- schemas ---------------------------------------------------------------------------------------------


class Inner(BaseModel):
    label: str = "x"


class Loose(BaseModel):
    counts: dict[str, int] = Field(default_factory=dict)
    inner: Inner = Field(description="a nested model with a description")
    kind: Literal["a"] = "a"


def test_strict_schemas_inline_described_refs_and_claim_strict_only_when_closed() -> None:
    schema = strict_schema(Loose)
    assert "$ref" not in schema["properties"]["inner"] and schema["properties"]["inner"]["required"] == [
        "label"
    ]
    assert schema["properties"]["kind"]["enum"] == ["a"] and "default" not in schema["properties"]["kind"]
    assert not strict_compatible(schema)  # dict[str, int] is an open object
    assert response_format(Loose)["json_schema"]["strict"] is False
    assert response_format(AdCopy)["json_schema"]["strict"] is True


# -- settings and composition ----------------------------------------------------------------------------


def _settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for name, value in env.items():
        monkeypatch.setenv(f"ADCLUSTER_{name}", value)
    return Settings(_env_file=None)  # type: ignore[call-arg]


def test_without_llm_settings_the_embedded_model_is_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    config = composition.llm_config(_settings(monkeypatch, LLM_BASE_URL=" "))
    assert (
        config.is_embedded
        and config.resolved_tool_mode == "json"
        and config.model_name == "smollm2-135m-instruct"
    )


def test_llm_settings_reach_the_client_config(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(
        monkeypatch,
        LLM_BASE_URL="http://localhost:11434/v1/",
        LLM_API_KEY="sk-test",
        LLM_MODEL="qwen2.5:7b",
        LLM_TOOL_MODE="json",
        LLM_TIMEOUT_S="12.5",
        LLM_MAX_RETRIES="1",
    )
    config = composition.llm_config(settings)
    assert config.base_url == "http://localhost:11434/v1" and config.model == "qwen2.5:7b"
    assert config.api_key is not None and config.api_key.get_secret_value() == "sk-test"
    assert (config.resolved_tool_mode, config.timeout_s, config.max_retries) == ("json", 12.5, 1)
    assert "sk-test" not in repr(config)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LLM_BASE_URL": "http://localhost:8080/v1"}, "ADCLUSTER_LLM_MODEL must name the model"),
        ({"LLM_MODEL": "gpt-4o-mini"}, "need ADCLUSTER_LLM_BASE_URL"),
        ({"LLM_TOOL_MODE": "native"}, "the embedded model makes no native tool calls"),
        ({"LLM_TOOL_MODE": "functions"}, "'auto', 'native' or 'json'"),
        ({"LLM_BASE_URL": "localhost:8080"}, "URL"),
        ({"LLM_TIMEOUT_S": "0"}, "greater than 0"),
        ({"LLM_MAX_RETRIES": "-1"}, "greater than or equal to 0"),
        (
            {
                "ENVIRONMENT": "production",
                "LLM_BASE_URL": "https://api.openai.com/v1",
                "LLM_MODEL": "m",
                "LLM_API_KEY": "changeme",
            },
            "ADCLUSTER_LLM_API_KEY is a placeholder",
        ),
    ],
)
def test_bad_llm_settings_are_refused_with_their_names(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        _settings(monkeypatch, **env)


def test_the_composition_root_gives_a_client_for_a_configured_server(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeChatServer([Reply.json({"headline": "Run", "cta": "shop_now"})], model="served-model")
    with fake.serve() as base_url:
        settings = _settings(monkeypatch, LLM_BASE_URL=base_url, LLM_MODEL="served-model", LLM_API_KEY="k")

        async def ask() -> AdCopy:
            async with composition.llm_client(settings) as llm:
                return await llm.structured(ASK, AdCopy)

        assert run(ask()).headline == "Run"
    assert fake.requests[0].headers["authorization"] == "Bearer k"
    assert fake.requests[0].model == "served-model"
