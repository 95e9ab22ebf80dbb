"""`adcluster schedule --cron EXPR`: one cycle at each cron time (APScheduler), never two at once on this
machine (a lock file that the operating system releases if the holder dies), and a missed time run once,
not once per missed slot."""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import typer
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from app.console import cli_settings, make_console
from app.settings import Settings

logger = logging.getLogger(__name__)
LOCK_FILE = "cycle.lock"


def parse_cron(expr: str) -> CronTrigger:
    try:
        return CronTrigger.from_crontab(expr, timezone=dt.UTC)
    except ValueError as exc:
        raise typer.BadParameter(
            f"{expr!r} is not a cron expression (minute hour day month weekday, e.g. '0 */4 * * *'): {exc}"
        ) from None


@contextlib.contextmanager
def cycle_lock(data_dir: Path) -> Iterator[bool]:
    """True while this process holds the machine's cycle lock; False when another run holds it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / LOCK_FILE, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def scheduled_cycle(settings: Settings) -> str | None:
    """One cycle under the lock; the thread id it waits on, or None when another run held the lock."""
    from app.run_cli import run_cycle

    with cycle_lock(settings.data_dir) as held:
        if not held:
            logger.warning("a cycle is already running on this machine: this one is skipped")
            return None
        thread_id = f"cron-{dt.datetime.now(dt.UTC):%Y%m%d%H%M}-{uuid.uuid4().hex[:4]}"
        result = run_cycle(settings, thread_id=thread_id)
        waiting = result.get("__interrupt__")
        logger.info("cycle %s: %s", thread_id, "waiting for approval" if waiting else result.get("summary"))
        return thread_id


def schedule(
    cron: str = typer.Option(
        ..., "--cron", help="when to run, as cron: '0 */4 * * *' is every 4 hours (UTC)"
    ),
    show: int = typer.Option(0, "--show", min=0, max=50, help="only print the next N run times and exit"),
) -> None:
    """Run a cycle on a schedule; each stops for approval (answer with `adcluster approvals`)."""
    trigger = parse_cron(cron)
    console = make_console()
    if show:
        at = dt.datetime.now(dt.UTC)
        for _ in range(show):
            at = trigger.get_next_fire_time(None, at + dt.timedelta(seconds=1))
            console.print(at.isoformat())
        return
    settings = cli_settings()
    scheduler = BlockingScheduler(timezone=dt.UTC)
    scheduler.add_job(
        scheduled_cycle,
        trigger,
        args=[settings],
        max_instances=1,  # never two in this process
        coalesce=True,  # several missed times run once
        misfire_grace_time=3600,
    )
    console.print(
        f"scheduled: {cron} (UTC); next at {trigger.get_next_fire_time(None, dt.datetime.now(dt.UTC))}"
    )
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        scheduler.start()
