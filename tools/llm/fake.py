"""A scripted fake of an OpenAI-compatible chat server, for tests that must not depend on what a model
writes. Each request to `/chat/completions` takes the next step of the script:

    fake = FakeChatServer([Fail(status=429, retry_after=2), Reply.json({"headline": "Run further"})])
    async with fake.client() as llm:               # an LLMClient over httpx.MockTransport
        copy = await llm.structured(messages, AdCopy)
    fake.requests[1].response_format               # what the client sent
    fake.sleeps                                    # [2.0]: waits recorded, never slept

A step is a `Reply` (text, JSON or tool calls), a `Fail` (HTTP status, Retry-After), a `Timeout`, a
`Disconnect`, or a function of the `ChatRequest` returning one of those. `then` answers every request
after the script. `serve()` runs the same fake over real HTTP on a free loopback port, for code that
only takes a base URL (the CLI, subprocesses).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import BaseModel, SecretStr

from tools.llm.client import LLMClient
from tools.llm.config import LLMConfig

FAKE_BASE_URL = "http://fake-llm.test/v1"


@dataclass(frozen=True, kw_only=True)
class FakeToolCall:
    name: str
    arguments: Mapping[str, Any] | str
    id: str | None = None


@dataclass(frozen=True, kw_only=True)
class Reply:
    """An answer. Token counts default to len(text) // 4 + 1, so accounting is deterministic."""

    content: str | None = None
    tool_calls: Sequence[FakeToolCall] = ()
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    with_usage: bool = True

    @classmethod
    def json(cls, value: Any, **kwargs: Any) -> Reply:
        text = value.model_dump_json() if isinstance(value, BaseModel) else json.dumps(value)
        return cls(content=text, **kwargs)

    @classmethod
    def tool(cls, name: str, arguments: Mapping[str, Any] | str, **kwargs: Any) -> Reply:
        """A native tool call."""
        return cls(tool_calls=[FakeToolCall(name=name, arguments=arguments)], **kwargs)

    @classmethod
    def json_tool(cls, name: str, arguments: Mapping[str, Any], **kwargs: Any) -> Reply:
        """A tool choice as the JSON mode asks for it."""
        return cls.json({"call": {"name": name, "arguments": dict(arguments)}}, **kwargs)


@dataclass(frozen=True, kw_only=True)
class Fail:
    """An HTTP error answer, with the OpenAI error envelope and, if given, a Retry-After header."""

    status: int = 500
    retry_after: float | None = None
    message: str = "scripted failure"
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Timeout:
    """No answer in time: MockTransport raises a read timeout at once; `serve()` waits `seconds`."""

    seconds: float = 3600.0


@dataclass(frozen=True)
class Disconnect:
    """The connection drops without an answer (over `serve()`: a 502)."""


@dataclass(frozen=True)
class ChatRequest:
    """A request as the fake received it."""

    path: str
    body: dict[str, Any]
    headers: Mapping[str, str]

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages") or [])

    @property
    def model(self) -> str | None:
        return self.body.get("model")

    @property
    def response_format(self) -> dict[str, Any] | None:
        return self.body.get("response_format")

    @property
    def schema(self) -> dict[str, Any] | None:
        """The JSON schema asked for through response_format, if any."""
        fmt = self.response_format or {}
        return (fmt.get("json_schema") or {}).get("schema")

    @property
    def tools(self) -> list[dict[str, Any]]:
        return list(self.body.get("tools") or [])

    @property
    def last_user_text(self) -> str:
        for message in reversed(self.messages):
            if message.get("role") == "user" and isinstance(message.get("content"), str):
                return str(message["content"])
        return ""


Step = Reply | Fail | Timeout | Disconnect
Responder = Callable[[ChatRequest], Step]


def _tokens(text: str) -> int:
    return len(text) // 4 + 1


class FakeChatServer:
    def __init__(
        self,
        script: Iterable[Step | Responder] = (),
        *,
        then: Step | Responder | None = None,
        model: str = "fake-model",
    ) -> None:
        self.script: deque[Step | Responder] = deque(script)
        self.then = then
        self.model = model
        self.requests: list[ChatRequest] = []
        self.sleeps: list[float] = []

    def add(self, *steps: Step | Responder) -> FakeChatServer:
        self.script.extend(steps)
        return self

    # -- answering ------------------------------------------------------------------------------------

    def _step(self, request: ChatRequest) -> Step:
        if self.script:
            step = self.script.popleft()
        elif self.then is not None:
            step = self.then
        else:
            return Fail(
                status=400,
                message=f"fake chat server: the script has no step for request {len(self.requests)}",
            )
        return step(request) if callable(step) else step

    def answer(
        self, method: str, path: str, body: bytes, headers: Mapping[str, str]
    ) -> Step | tuple[int, dict[str, Any]]:
        """The step for one request, or (status, JSON body) for paths other than chat completions."""
        if method == "GET" and path.rstrip("/").endswith("/models"):
            return 200, {
                "object": "list",
                "data": [{"id": self.model, "object": "model", "owned_by": "fake"}],
            }
        if method != "POST" or not path.rstrip("/").endswith("/chat/completions"):
            return 404, {
                "error": {"message": f"fake chat server: no route {method} {path}", "type": "not_found"}
            }
        request = ChatRequest(path=path, body=json.loads(body or b"{}"), headers=dict(headers))
        self.requests.append(request)
        return self._step(request)

    def render(
        self, step: Reply | Fail, request: ChatRequest | None
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        if isinstance(step, Fail):
            headers = dict(step.headers)
            if step.retry_after is not None:
                headers["retry-after"] = f"{step.retry_after:g}"
            kind = "rate_limit_exceeded" if step.status == 429 else "server_error"
            return step.status, headers, {"error": {"message": step.message, "type": kind, "code": None}}
        calls = [
            {
                "id": call.id or f"call_{len(self.requests)}_{i}",
                "type": "function",
                "function": {
                    "name": call.name,
                    "arguments": call.arguments
                    if isinstance(call.arguments, str)
                    else json.dumps(call.arguments),
                },
            }
            for i, call in enumerate(step.tool_calls)
        ]
        message: dict[str, Any] = {"role": "assistant", "content": step.content}
        if calls:
            message["tool_calls"] = calls
        written = (step.content or "") + "".join(c["function"]["arguments"] for c in calls)
        prompt = json.dumps(request.messages) if request else ""
        body: dict[str, Any] = {
            "id": f"chatcmpl-fake-{len(self.requests)}",
            "object": "chat.completion",
            "created": 0,
            "model": (request.model if request else None) or self.model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": step.finish_reason or ("tool_calls" if calls else "stop"),
                }
            ],
        }
        if step.with_usage:
            prompt_tokens = step.prompt_tokens if step.prompt_tokens is not None else _tokens(prompt)
            completion_tokens = (
                step.completion_tokens if step.completion_tokens is not None else _tokens(written)
            )
            body["usage"] = {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            }
        return 200, {}, body

    # -- in process (httpx.MockTransport) -------------------------------------------------------------

    def _handle(self, request: httpx.Request) -> httpx.Response:
        outcome = self.answer(request.method, request.url.path, request.content, request.headers)
        if isinstance(outcome, tuple):
            return httpx.Response(outcome[0], json=outcome[1])
        if isinstance(outcome, Timeout):
            raise httpx.ReadTimeout("fake chat server: scripted timeout", request=request)
        if isinstance(outcome, Disconnect):
            raise httpx.RemoteProtocolError("fake chat server: scripted disconnect", request=request)
        status, headers, body = self.render(outcome, self.requests[-1])
        return httpx.Response(status, headers=headers, json=body)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._handle)

    def http_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=self.transport)

    async def _record_sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def config(self, **overrides: Any) -> LLMConfig:
        values: dict[str, Any] = {
            "base_url": FAKE_BASE_URL,
            "model": self.model,
            "api_key": SecretStr("fake-key"),
        }
        values.update(overrides)
        return LLMConfig(**values)

    def client(self, config: LLMConfig | None = None, **overrides: Any) -> LLMClient:
        """An LLMClient wired to this fake; waits between retries are recorded in `sleeps`, not slept."""
        return LLMClient(
            config or self.config(**overrides), http_client=self.http_client(), sleep=self._record_sleep
        )

    # -- over real HTTP -------------------------------------------------------------------------------

    async def _asgi(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            event = await receive()
            body += event.get("body", b"")
            if not event.get("more_body"):
                break
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        outcome = self.answer(scope["method"], scope["path"], body, headers)
        if isinstance(outcome, tuple):
            status, extra, payload = outcome[0], {}, outcome[1]
        elif isinstance(outcome, Timeout):
            await asyncio.sleep(outcome.seconds)
            status, extra, payload = 504, {}, {"error": {"message": "fake chat server: timeout"}}
        elif isinstance(outcome, Disconnect):
            status, extra, payload = 502, {}, {"error": {"message": "fake chat server: disconnect"}}
        else:
            status, extra, payload = self.render(outcome, self.requests[-1])
        data = json.dumps(payload).encode()
        raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
        raw_headers += [(k.encode(), v.encode()) for k, v in extra.items()]
        await send({"type": "http.response.start", "status": status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": data})

    @contextmanager
    def serve(self, *, host: str = "127.0.0.1", start_timeout: float = 10.0) -> Iterator[str]:
        """Serve over HTTP until the block ends; yields the `/v1` base URL."""
        import uvicorn

        with socket.socket() as s:
            s.bind((host, 0))
            port = int(s.getsockname()[1])
        server = uvicorn.Server(
            uvicorn.Config(
                self._asgi,
                interface="asgi3",
                host=host,
                port=port,
                log_level="warning",
                lifespan="off",
                timeout_graceful_shutdown=1,
            )
        )
        thread = threading.Thread(target=server.run, name="fake-chat-server", daemon=True)
        thread.start()
        deadline = time.monotonic() + start_timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                raise RuntimeError(f"the fake chat server did not start on {host}:{port}")
            time.sleep(0.01)
        try:
            yield f"http://{host}:{port}/v1"
        finally:
            server.should_exit = True
            thread.join(timeout=10)
