"""A fuzz pass over the web console's OpenAPI schema (schemathesis): every operation, with generated
input as a logged-in approver on a warehouse synced from the sandbox, answers below 500."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from sqlalchemy import Engine
from typer.testing import CliRunner

from app.cli import app as cli
from app.settings import load_settings
from app.web.api import create_app
from app.web.auth import NewUser, create_user, login
from sandbox.market.market import Market
from tools.llm.fake import FakeChatServer, Reply


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """SQLite only: the routes do not depend on the backend (the API's PostgreSQL paths are in
    test_web_api)."""
    from storage.db import make_engine, migrate

    eng = make_engine(f"sqlite:///{tmp_path / 'warehouse.db'}")
    migrate(eng)
    yield eng
    eng.dispose()


def test_no_operation_answers_a_server_error(
    configured: Market, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The chat route gets a scripted model: the embedded one would be started for every generated request.
    model = FakeChatServer(then=Reply.tool("show_performance", {"days": 7}))
    with model.serve() as url:
        monkeypatch.setenv("ADCLUSTER_LLM_BASE_URL", url)
        monkeypatch.setenv("ADCLUSTER_LLM_MODEL", "fake-model")
        _fuzz(engine)


def _fuzz(engine: Engine) -> None:
    assert CliRunner().invoke(cli, ["run"]).exit_code == 0
    create_user(engine, NewUser(username="fuzz", password="correct horse battery", role="approver"))
    token, _ = login(engine, "fuzz", "correct horse battery", ttl=dt.timedelta(hours=1))
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(load_settings(), engine))
    seen = []
    for result in schema.get_all_operations():
        operation = result.ok()
        seen.append(f"{operation.method.upper()} {operation.path}")
        if operation.path == "/api/logout":
            continue  # it would end the session the other calls use (tested in test_web_api)

        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def call(case: schemathesis.Case) -> None:
            response = case.call(headers={"Authorization": f"Bearer {token}"})
            assert response.status_code < 500, (case.method, case.formatted_path, response.text[:300])

        call()
    assert {"POST /api/login", "POST /api/proposals/{proposal_id}/decision", "GET /api/performance"} <= set(
        seen
    )
