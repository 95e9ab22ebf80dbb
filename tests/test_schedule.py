"""`adcluster schedule`: cron parsing with a clear error, one cycle at a time on a machine (a second one
is skipped, not queued), and a scheduled cycle that stops for approval like `adcluster run`."""

from __future__ import annotations

import datetime as dt
import multiprocessing
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from app.cli import app
from app.schedule_cli import cycle_lock, parse_cron, scheduled_cycle
from app.settings import load_settings
from sandbox.market.market import Market

runner = CliRunner()


def test_cron_times_and_a_clear_error() -> None:
    trigger = parse_cron("0 */4 * * *")
    start = dt.datetime(2026, 11, 25, 9, 30, tzinfo=dt.UTC)
    assert trigger.get_next_fire_time(None, start) == dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
    with pytest.raises(typer.BadParameter, match="not a cron expression"):
        parse_cron("every day at noon")
    bad = runner.invoke(app, ["schedule", "--cron", "61 * * * *"])
    assert bad.exit_code == 2 and "higher than the maximum" in bad.output
    shown = runner.invoke(app, ["schedule", "--cron", "30 2 * * *", "--show", "2"])
    assert shown.exit_code == 0 and shown.output.count("T02:30:00") == 2


def _hold(path: str, ready, release) -> None:  # type: ignore[no-untyped-def]
    with cycle_lock(Path(path)) as held:
        ready.put(held)
        release.wait(10)


def test_one_cycle_at_a_time_across_processes(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Queue(), ctx.Event()
    other = ctx.Process(target=_hold, args=(str(tmp_path), ready, release))
    other.start()
    try:
        assert ready.get(timeout=30) is True
        with cycle_lock(tmp_path) as held:
            assert held is False  # the other process holds it
    finally:
        release.set()
        other.join(10)
    with cycle_lock(tmp_path) as held:
        assert held is True  # released when its holder finished (or died)


def test_a_scheduled_cycle_stops_for_approval_and_a_concurrent_one_is_skipped(configured: Market) -> None:
    settings = load_settings()
    with cycle_lock(settings.data_dir) as held:
        assert held
        assert scheduled_cycle(settings) is None  # skipped, not queued
    thread = scheduled_cycle(settings)
    assert thread is not None and thread.startswith("cron-")
    listed = runner.invoke(app, ["approvals", "list", "--thread", thread, "--json"])
    assert listed.exit_code == 0 and '"proposals"' in listed.output
