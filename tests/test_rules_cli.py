"""`adcluster rules check` on a warehouse synced from the sandbox: proposals as the evaluator makes them,
the cooldown held across runs through the last-fired record, dry runs, and clear exits on bad input."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from app.cli import app
from app.rules_cli import LAST_FIRED_FILE, LastFiredError, read_last_fired, write_last_fired
from sandbox.market.market import Market
from tools.optimize.rules import evaluate
from tools.platforms.money import micros_to_decimal
from tools.rule_inputs import load_rules, load_series

runner = CliRunner()
UNTIL = dt.date(2026, 11, 24)  # the sandbox's last whole day (its simulated today is Nov 25)
RULES = """
[[rule]]
name = "scale spenders"
level = "adset"
conditions = [{metric = "spend", op = ">", value = 0, days = 3}]
action = {kind = "budget", change_pct = 15}

[[rule]]
name = "pause delivering ads"
level = "ad"
conditions = [{metric = "impressions", op = ">", value = 0, days = 2}]
action = {kind = "pause"}

[[rule]]
name = "on goal"
level = "adset"
conditions = [{metric = "cpa", op = ">", value = 2, relative_to = "goal_cpa"}]
action = {kind = "pause"}
"""


@pytest.fixture
def synced(request: pytest.FixtureRequest, engine: Engine) -> Engine:
    """The warehouse under test, filled by `adcluster sync` from the sandbox of tests/test_ingest_cli.py."""
    request.getfixturevalue("configured")
    result = runner.invoke(app, ["sync", "--days", "10"])
    assert result.exit_code == 0, result.output
    return engine


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    path = tmp_path / "rules.toml"
    path.write_text(RULES, encoding="utf-8")
    return path


def check(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["rules", "check", *args])
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def check_json(*args: str) -> dict:
    result = runner.invoke(app, ["rules", "check", *args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_given_a_synced_warehouse_when_checking_then_it_proposes_what_the_evaluator_does(
    synced: Engine, rules_file: Path
) -> None:
    out = check_json("--file", str(rules_file), "--until", str(UNTIL), "--dry-run")
    first = UNTIL - dt.timedelta(days=2)  # the rules' longest window: 3 days
    assert (out["since"], out["until"], out["recorded_in"]) == (str(first), str(UNTIL), None)
    rules = load_rules(rules_file)
    series = [s for level in ("ad", "adset") for s in load_series(synced, level, first, UNTIL)]
    expected = evaluate(rules, series, now=dt.datetime.now(dt.UTC))
    key = ("rule", "entity_id", "current_micros", "proposed_micros", "proposed_status")
    assert [tuple(p[k] for k in key) for p in out["proposals"]] == [
        tuple(getattr(p, k) for k in key) for p in expected.proposals
    ]
    actions = {p["rule"]: p["action"] for p in out["proposals"]}
    assert actions == {"scale spenders": "budget", "pause delivering ads": "pause"}
    # No goal in the sandbox's warehouse: the goal rule is skipped on every ad set, counted by cause.
    assert out["skipped_by_cause"] == {"goal": sum(s.level == "adset" for s in series)}
    assert {s["rule"] for s in out["skipped"]} == {"on goal"}


def test_a_rule_fires_once_a_day_across_runs_and_a_dry_run_records_nothing(
    synced: Engine, rules_file: Path, tmp_path: Path
) -> None:
    record = tmp_path / "data" / LAST_FIRED_FILE
    args = ("--file", str(rules_file), "--until", str(UNTIL))
    dry = check_json(*args, "--no-record")
    assert dry["proposals"] and not record.exists()
    first = check_json(*args)
    assert first["recorded_in"] == str(record)
    assert [(p["rule"], p["entity_id"]) for p in first["proposals"]] == [
        (p["rule"], p["entity_id"]) for p in dry["proposals"]
    ]
    fired = read_last_fired(record)
    assert {(rule, entity) for rule, times in fired.items() for entity in times} == {
        (p["rule"], p["entity_id"]) for p in first["proposals"]
    }
    again = check_json(*args)
    assert again["proposals"] == [] and again["recorded_in"] is None
    assert again["skipped_by_cause"]["cooldown"] == len(first["proposals"])
    assert read_last_fired(record) == fired


def test_the_table_shows_amounts_in_major_units_figures_and_skips(synced: Engine, rules_file: Path) -> None:
    args = ("--file", str(rules_file), "--until", str(UNTIL), "--dry-run")
    budget = next(p for p in check_json(*args)["proposals"] if p["action"] == "budget")
    code, output = check(*args)
    assert code == 0
    current, proposed = (micros_to_decimal(budget[k], "USD") for k in ("current_micros", "proposed_micros"))
    assert f"{current:,} USD → {proposed:,} USD" in output
    assert "ACTIVE → PAUSED" in output and "USD > 0.00 USD" in output and "over the 3 days to" in output
    assert "not sent to any platform" in output and "Dry run" in output
    assert "no usable goal to compare with" in output and "--verbose lists" in output
    assert "Skipped, one by one" not in output and "┃ reason" not in output
    code, verbose = check(*args, "--verbose")  # each proposal's reason, and each skip with its own
    assert code == 0 and "Skipped, one by one" in verbose and "┃ reason" in verbose
    assert verbose.count("'Trail Running Shoes | AdSet") >= 2  # the skipped ad sets, by name


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (
            RULES.replace('"impressions"', '"impresions"'),
            "rule 'pause delivering ads': condition 1: unknown metric",
        ),
        ("[[rule]]\nname = 'x'\n", "missing required field 'level'"),
        (None, "cannot read the rules file"),
    ],
)
def test_a_bad_rules_file_exits_2_with_its_problems_and_no_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, text: str | None, needle: str
) -> None:
    monkeypatch.setenv("ADCLUSTER_DATA_DIR", str(tmp_path / "data"))
    path = tmp_path / "rules.toml"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["rules", "check", "--file", str(path)])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert needle in result.output and "Traceback" not in result.output
    assert not (tmp_path / "data" / LAST_FIRED_FILE).exists()


def test_since_with_days_or_a_corrupt_record_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, rules_file: Path
) -> None:
    data = tmp_path / "data"
    monkeypatch.setenv("ADCLUSTER_DATA_DIR", str(data))
    monkeypatch.setenv("ADCLUSTER_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    code, output = check("--file", str(rules_file), "--since", "2026-11-01", "--days", "3")
    assert code == 2 and "--since or --days" in output
    data.mkdir()
    (data / LAST_FIRED_FILE).write_text('{"r": {"e": "yesterday"}}')
    code, output = check("--file", str(rules_file))
    assert code == 1 and LAST_FIRED_FILE in output and "delete it" in output


def test_the_last_fired_record_round_trips_and_is_replaced_whole(tmp_path: Path) -> None:
    path = tmp_path / "state" / LAST_FIRED_FILE
    assert read_last_fired(path) == {}
    fired = {"r": {"e1": dt.datetime(2026, 11, 25, 9, tzinfo=dt.UTC)}}
    write_last_fired(path, fired)
    write_last_fired(path, {**fired, "s": {"e2": dt.datetime(2026, 11, 25, 10, tzinfo=dt.UTC)}})
    assert read_last_fired(path) == {**fired, "s": {"e2": dt.datetime(2026, 11, 25, 10, tzinfo=dt.UTC)}}
    assert [p.name for p in path.parent.iterdir()] == [LAST_FIRED_FILE]  # no temporary file left behind
    path.write_text('{"r": {"e1": "2026-11-25T09:00:00"}}')  # a naive time cannot be compared with now
    with pytest.raises(LastFiredError, match="not a record of when rules fired"):
        read_last_fired(path)


def test_goals_from_the_settings_reach_the_warehouse_and_the_goal_rules(
    configured: Market,
    engine: Engine,
    rules_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    account = next(a for a in configured.world.accounts.values() if a.platform.value == "meta")
    monkeypatch.setenv(
        "ADCLUSTER_GOALS",
        json.dumps(
            [
                {"platform": "meta", "account_id": account.id, "target_cpa": "0.01"},
                {"platform": "meta", "account_id": "act_404", "target_cpa": "5"},
            ]
        ),
    )
    synced = runner.invoke(app, ["sync", "--days", "10"])
    assert synced.exit_code == 0, synced.output
    assert "act_404" in synced.output  # a goal whose account is unknown is named, not guessed at
    out = check_json("--file", str(rules_file), "--until", str(UNTIL), "--dry-run")
    on_goal = [p for p in out["proposals"] if p["rule"] == "on goal"]
    # With a goal CPA of 0.01, every spending ad set is above 2x it: the goal rule fires instead of skipping.
    assert on_goal and all(p["action"] == "pause" for p in on_goal)
    assert "goal" not in out["skipped_by_cause"]
