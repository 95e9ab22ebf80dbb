from __future__ import annotations

import json

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


def test_demo_runs_end_to_end_and_stops_the_sandbox() -> None:
    result = runner.invoke(app, ["demo", "--days", "1"])
    assert result.exit_code == 0, result.output
    assert "What the market delivered" in result.output
    assert "stopped cleanly" in result.output
