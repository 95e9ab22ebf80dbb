from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from app.cli import app

runner = CliRunner()


def test_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "sandbox" in result.output and "demo" in result.output
    sandbox_help = runner.invoke(app, ["sandbox", "--help"])
    assert "serve" in sandbox_help.output and "world" in sandbox_help.output


def test_sandbox_world_prints_what_a_client_needs_as_json() -> None:
    result = runner.invoke(
        app,
        [
            "sandbox",
            "world",
            "--json",
            "--seed",
            "5",
            "--accounts",
            "1",
            "--ads",
            "10",
            "--days",
            "14",
            "--today",
            "2026-11-25",
        ],
    )
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["seed"] == 5 and info["today"] == "2026-11-25"
    assert len(info["accounts"]) == 3
    assert info["credentials"]["tiktok"]["access_token"]


def test_bad_world_options_exit_with_a_clear_message() -> None:
    result = runner.invoke(app, ["sandbox", "world", "--seed", "-4"])
    assert result.exit_code == 2
    assert "seed" in result.output
    result = runner.invoke(app, ["sandbox", "world", "--today", "2026-02-31"])
    assert result.exit_code == 2
    assert "YYYY-MM-DD" in result.output


def test_demo_runs_the_graph_applies_the_approved_changes_and_charts_them(tmp_path: Path) -> None:
    from sqlalchemy import create_engine

    from storage.audit import AuditLog

    out = tmp_path / "demo"
    result = runner.invoke(app, ["demo", "--yes", "--no-llm", "--cycles", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Waiting for approval (thread demo-cycle-1)" in result.output
    assert "--yes: every proposal approved" in result.output
    assert "How the market answered" in result.output and "stopped cleanly" in result.output
    png = (out / "demo.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    engine = create_engine(f"sqlite:///{out / 'adcluster.db'}")
    assert AuditLog(engine).with_status("executed")  # applied on the sandbox over the APIs, and logged
    # Without --yes and without a terminal, nothing is applied: the proposals stay waiting.
    again = runner.invoke(app, ["demo", "--no-llm", "--cycles", "1", "--out", str(out)])
    assert again.exit_code == 0, again.output
    assert "the proposals stay waiting" in again.output and "no change was applied" in again.output
