"""`adcluster sync`, `report` and `rebuild` against a sandbox, and start-up errors that name the setting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app

runner = CliRunner()


def test_sync_then_report_then_rebuild_give_the_same_figures(configured: object) -> None:
    synced = runner.invoke(app, ["sync", "--days", "10"])
    assert synced.exit_code == 0, synced.output
    assert "Sync" in synced.output and "meta" in synced.output
    before = json.loads(runner.invoke(app, ["report", "--days", "7", "--format", "json"]).output)
    assert before["rows"][0]["platform"] == "meta" and before["rows"][0]["impressions"] > 0
    refused = runner.invoke(app, ["rebuild"])
    assert refused.exit_code == 2 and "--force" in refused.output
    rebuilt = runner.invoke(app, ["rebuild", "--force"])
    assert rebuilt.exit_code == 0, rebuilt.output
    after = json.loads(runner.invoke(app, ["report", "--days", "7", "--format", "json"]).output)
    assert after == before
    by_campaign = runner.invoke(app, ["report", "--by", "campaign", "--format", "csv"])
    assert by_campaign.exit_code == 0 and by_campaign.output.startswith("platform,key,currency")


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"ADCLUSTER_PLATFORMS": '["myspace"]'}, "unknown platform"),
        ({"ADCLUSTER_SANDBOX_URL": "not a url"}, "sandbox_url"),
        ({"ADCLUSTER_SANDBOX_URL": "", "ADCLUSTER_PLATFORMS": '["meta"]'}, "ADCLUSTER_META_ACCESS_TOKEN"),
        ({"ADCLUSTER_REPORTING_CURRENCY": "CHF"}, "ADCLUSTER_FX_RATES"),
    ],
)
def test_bad_settings_fail_at_start_up_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env: dict[str, str], needle: str
) -> None:
    monkeypatch.setenv("ADCLUSTER_DATA_DIR", str(tmp_path))
    for key, value in env.items():
        if value:
            monkeypatch.setenv(key, value)
        else:
            monkeypatch.delenv(key, raising=False)
    result = runner.invoke(app, ["sync"])
    assert result.exit_code != 0
    assert needle in result.output, result.output


def test_a_sandbox_that_does_not_answer_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ADCLUSTER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ADCLUSTER_SANDBOX_URL", "http://127.0.0.1:9")
    result = runner.invoke(app, ["sync"])
    assert result.exit_code == 2
    assert "does not answer" in result.output
