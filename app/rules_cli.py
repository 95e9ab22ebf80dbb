"""`adcluster rules check`: the marketer's rules file evaluated on the warehouse's daily figures.

It only proposes: nothing is sent to a platform. When each rule last fired on each entity is kept in a
small JSON file in the data directory, so that a rule's cooldown ("at most once a day") holds across runs.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from collections import Counter
from enum import StrEnum
from pathlib import Path

import typer
from pydantic import AwareDatetime, TypeAdapter, ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from app.console import cli_settings, make_console
from tools.optimize.rules_language import LEVEL_NAMES, Rule
from tools.optimize.rules_records import SKIP_CAUSES, RuleEvaluation, RuleProposal
from tools.platforms.money import MoneyError, micros_to_decimal

LAST_FIRED_FILE = "rules_last_fired.json"
LastFired = dict[str, dict[str, dt.datetime]]
_LAST_FIRED = TypeAdapter(dict[str, dict[str, AwareDatetime]])

rules_app = typer.Typer(
    help="The marketer's own rules (a TOML file) on the warehouse's figures. "
    "They only propose changes: nothing is sent to a platform.",
    no_args_is_help=True,
)


CHECK_HELP = (
    "Evaluate a rules file on the warehouse's daily figures and print the changes it proposes, with the "
    "figures that triggered them, and what it skipped and why.\n\n"
    "It only proposes: nothing is sent to a platform.\n\n"
    "A rule fires at most once per entity within its cooldown (24 h by default): when it fired is kept in "
    f"{LAST_FIRED_FILE} in ADCLUSTER_DATA_DIR across runs, unless --dry-run."
)


class RulesFormat(StrEnum):
    table = "table"
    json = "json"


class LastFiredError(ValueError):
    """The record of when rules fired cannot be read (the message names the file)."""


def read_last_fired(path: Path) -> LastFired:
    """Per rule and entity, when it last fired; empty when the file does not exist yet."""
    try:
        return _LAST_FIRED.validate_json(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, ValidationError) as exc:
        raise LastFiredError(
            f"{path}: not a record of when rules fired ({exc}); delete it to start afresh"
        ) from None


def write_last_fired(path: Path, fired: LastFired) -> None:
    """Write the whole record atomically: a reader (or a crash) sees the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = _LAST_FIRED.dump_json(fired, indent=2)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"Error: {message}", err=True)
    return typer.Exit(code=code)


def _window(
    rules: list[Rule],
    now: dt.datetime,
    days: int | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
) -> tuple[dt.date, dt.date]:
    if days is not None and since is not None:
        raise typer.BadParameter("give --since or --days, not both")
    last = until.date() if until else now.date() - dt.timedelta(days=1)  # a synced today is a partial day
    if since is not None:
        first = since.date()
    else:
        # By default just the history the longest condition window needs.
        span = days or max(c.days for r in rules for c in r.conditions)
        first = last - dt.timedelta(days=span - 1)
    if first > last:
        raise typer.BadParameter(f"--since {first} is after the last day judged, {last}")
    return first, last


@rules_app.command("check", help=CHECK_HELP)
def check(
    file: Path = typer.Option(..., "--file", "-f", help="the rules file (TOML), e.g. examples/rules.toml"),
    days: int | None = typer.Option(
        None,
        "--days",
        min=1,
        max=1100,
        help="days of history, ending on --until (default: the rules' longest window)",
    ),
    since: dt.datetime | None = typer.Option(
        None, "--since", formats=["%Y-%m-%d"], help="first day of history (instead of --days)"
    ),
    until: dt.datetime | None = typer.Option(
        None,
        "--until",
        formats=["%Y-%m-%d"],
        help="last day judged (default: yesterday in UTC, the last whole day)",
    ),
    fmt: RulesFormat = typer.Option(RulesFormat.table, "--format", help="output format"),
    dry_run: bool = typer.Option(
        False,
        "--dry-run",
        "--no-record",
        help="do not record that rules fired (the cooldowns stay as they were)",
    ),
    verbose: bool = typer.Option(
        False, "--verbose", help="also each proposal's full reason, and each skipped entity with its reason"
    ),
) -> None:
    """Evaluate a rules file on the warehouse and print what it proposes and what it skipped."""
    from app import composition
    from tools.optimize.rules import evaluate
    from tools.optimize.rules_language import RulesFileError
    from tools.rule_inputs import RuleInputError, load_rules, load_series

    settings = cli_settings()
    try:
        rules = load_rules(file)
    except RulesFileError as exc:
        raise _fail(f"the rules file cannot be used:\n{exc}", 2) from None
    now = dt.datetime.now(dt.UTC)
    first, last = _window(rules, now, days, since, until)
    record = settings.data_dir / LAST_FIRED_FILE
    try:
        fired = read_last_fired(record)
        engine = composition.warehouse(settings)
        series = [
            s for level in sorted({r.level for r in rules}) for s in load_series(engine, level, first, last)
        ]
    except (LastFiredError, RuleInputError) as exc:
        raise _fail(str(exc), 1) from None
    result = evaluate(rules, series, now=now, last_fired=fired)
    recorded = not dry_run and result.last_fired != fired
    if recorded:
        try:
            write_last_fired(record, result.last_fired)
        except OSError as exc:
            raise _fail(f"cannot record when rules fired in {record}: {exc}", 1) from None
    if fmt is RulesFormat.json:
        payload = {
            "now": now.isoformat(),
            "since": first.isoformat(),
            "until": last.isoformat(),
            "rules_file": str(file),
            "recorded_in": str(record) if recorded else None,
            "proposals": [p.model_dump(mode="json") for p in result.proposals],
            "skipped_by_cause": dict(Counter(s.cause for s in result.skipped).most_common()),
            "skipped": [s.model_dump(mode="json") for s in result.skipped],
        }
        typer.echo(json.dumps(payload, indent=2))
        return
    console = make_console()
    labels = {s.entity_id: s.label for s in series}
    _print(console, result, first, last, len(rules), labels, verbose)
    if recorded:
        console.print(f"Recorded when each rule fired in {record} (cooldowns hold across runs).")
    elif dry_run:
        console.print("Dry run: the record of when rules fired is untouched.")


def _money(micros: int | None, currency: str) -> str:
    if micros is None:
        return "-"
    try:
        return f"{micros_to_decimal(micros, currency):,} {currency}"
    except MoneyError:
        return f"{micros / 1e6:,.2f} {currency}"


def _change(p: RuleProposal) -> str:
    if p.action in ("pause", "activate"):
        return f"{p.current_status} → {p.proposed_status}"
    return f"{_money(p.current_micros, p.currency)} → {_money(p.proposed_micros, p.currency)}"


def _print(
    console: Console,
    result: RuleEvaluation,
    first: dt.date,
    last: dt.date,
    rules: int,
    labels: dict[str, str],
    verbose: bool,
) -> None:
    scope = f"{rules} rule(s) on {len(labels)} entities, {first} .. {last}"
    if not result.proposals:
        console.print(f"No proposals from {scope}.")
    else:
        table = Table(title=f"Proposals from {scope}: not sent to any platform", show_lines=True)
        columns = ["rule", "entity", "action", "current → proposed", "triggered by"]
        for col in [*columns, "reason"] if verbose else columns:
            table.add_column(col, overflow="fold")
        for p in result.proposals:
            # Names and reasons are the marketer's and the platforms' text, not rich markup.
            entity = f"{p.platform} {LEVEL_NAMES[p.level]} {escape(p.entity_name or p.entity_id)}"
            entity += f"\n[dim]{escape(p.platform_id)}[/]"
            if p.triggered_by != p.entity_id:  # an ad set's figures moving its campaign's budget
                entity += f"\nvia {escape(labels.get(p.triggered_by, p.triggered_by))}"
            figures = escape("\n".join(f.text for f in p.figures))
            reason = [escape(p.reason)] if verbose else []
            table.add_row(escape(p.rule), entity, p.action, _change(p), figures, *reason)
        console.print(table)
    if not result.skipped:
        return
    counts = Counter((s.cause, s.rule) for s in result.skipped)
    summary = Table(title=f"Skipped: {len(result.skipped)}")
    for col in ("why", "rule", "count"):
        summary.add_column(col, justify="right" if col == "count" else "left")
    for (cause, rule), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        summary.add_row(SKIP_CAUSES[cause], escape(rule), str(n))
    console.print(summary)
    if not verbose:
        console.print("[dim]--verbose lists each skipped entity with its reason[/]")
        return
    details = Table(title="Skipped, one by one", show_lines=True)
    for col in ("rule", "entity", "reason"):
        details.add_column(col, overflow="fold")
    for s in result.skipped:
        details.add_row(escape(s.rule), escape(s.entity or "(every entity)"), escape(s.reason))
    console.print(details)
