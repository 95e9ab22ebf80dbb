"""Chat in the web console with a scripted model: the agents' steps stream as server-sent events, then the
answer; a request that proposes changes says where they wait; an oversized message is refused."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from app.cli import app as cli
from app.settings import load_settings
from app.web.api import create_app
from app.web.auth import NewUser, create_user, login
from sandbox.market.market import Market
from tools.llm.fake import FakeChatServer, Reply


@pytest.fixture
def model(configured: Market, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeChatServer]:
    fake = FakeChatServer()
    with fake.serve() as url:
        monkeypatch.setenv("ADCLUSTER_LLM_BASE_URL", url)
        monkeypatch.setenv("ADCLUSTER_LLM_MODEL", "fake-model")
        yield fake


def _events(response: object) -> list[str]:
    return [json.loads(line[6:])["text"] for line in response.text.splitlines() if line.startswith("data: ")]  # type: ignore[attr-defined]


def test_chat_streams_the_steps_then_the_answer(model: FakeChatServer, engine: Engine) -> None:
    assert CliRunner().invoke(cli, ["sync", "--days", "14"]).exit_code == 0
    create_user(engine, NewUser(username="ana", password="correct horse battery", role="approver"))
    token, _ = login(engine, "ana", "correct horse battery", ttl=dt.timedelta(hours=1))
    client = TestClient(create_app(load_settings(), engine))
    auth = {"Authorization": f"Bearer {token}"}
    model.add(Reply.tool("show_performance", {"days": 7}))
    answer = client.post("/chat/stream", json={"message": "how are we doing?"}, headers=auth)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/event-stream")
    events = _events(answer)
    assert events[0] == "> router: show_performance(days=7) - validated"
    assert any("meta: spend" in e for e in events)
    model.add(Reply.tool("pause_where", {"platform": "meta", "metric": "ctr", "op": "<", "value": 100}))
    paused = _events(
        client.post(
            "/chat/stream", json={"message": "pause every Facebook ad with CTR under 100%"}, headers=auth
        )
    )
    assert paused[-1].endswith("change(s) wait for approval: /approvals") and any(
        "guardrails" in e for e in paused
    )
    too_long = client.post("/chat/stream", json={"message": "x" * 2001}, headers=auth)
    assert too_long.status_code == 422
    assert client.post("/chat/stream", json={"message": "hi"}).status_code == 401
    metrics = client.get("/metrics").text
    assert 'adcluster_graph_runs_total{kind="chat",outcome="ok"} 2.0' in metrics
    assert 'adcluster_llm_tokens_total{direction="prompt"}' in metrics
    assert "adcluster_llm_seconds_total" in metrics
