"""`adcluster experiment create|status|stop|list`: A/B tests over ads or ad sets, planned for a minimum
detectable effect and power, monitored daily by a sequential test that stays valid under daily peeking.
Nothing here changes a platform: arms must already deliver separately with equal budgets (the analyst
leaves running arms alone), and a concluded test's loser is proposed for pausing by the next cycle."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal, InvalidOperation
from enum import StrEnum

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from app.console import cli_settings, make_console
from storage.models import DailyMetric
from tools.experiment_runs import (
    ExperimentError,
    ExperimentStatus,
    create_experiment,
    end_experiment,
    list_experiments,
    status,
)

experiment_app = typer.Typer(
    help="A/B tests of ads or ad sets with a sequential test that stays valid when you look every day.",
    no_args_is_help=True,
)


class MetricChoice(StrEnum):
    ctr = "ctr"
    cvr = "cvr"
    cpa = "cpa"


def _engine() -> Engine:
    from app import composition

    return composition.warehouse(cli_settings())


def _last_day(engine: Engine) -> dt.date:
    with Session(engine) as session:
        last = session.exec(select(func.max(DailyMetric.day))).one()
    if last is None:
        raise typer.BadParameter("the warehouse has no daily figures yet: run adcluster sync first")
    return last


def _decimal(value: str, name: str, low: Decimal, high: Decimal) -> Decimal:
    try:
        d = Decimal(value)
    except InvalidOperation:
        raise typer.BadParameter(f"{name} {value!r} is not a number") from None
    if not low < d < high:
        raise typer.BadParameter(f"{name} must be between {low} and {high}")
    return d


@experiment_app.command("create")
def create(
    arms: list[str] = typer.Argument(
        ..., help="two or more ad or ad set ids (warehouse or platform); the first is the control"
    ),
    name: str = typer.Option(..., "--name", help="a name to refer to it by"),
    metric: MetricChoice = typer.Option(
        MetricChoice.ctr, "--metric", help="ctr, cvr (conversions per click) or cpa"
    ),
    mde: str = typer.Option(
        "0.1", "--mde", help="the smallest relative lift worth finding, e.g. 0.1 for 10%"
    ),
    power: str = typer.Option("0.8", "--power"),
    alpha: str = typer.Option("0.05", "--alpha", help="the false-winner rate, held under daily looks"),
    start: dt.datetime | None = typer.Option(
        None,
        "--start",
        formats=["%Y-%m-%d"],
        help="first day counted (default: the day after the last synced day)",
    ),
    by: str = typer.Option("cli", "--by"),
    split: bool = typer.Option(
        False, "--split", help="ads of one ad set: propose an ad set of its own for each (waits for approval)"
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Set up an experiment: the arms are checked (separate ad sets, equal budgets, one currency and
    objective, live), and the sample each arm needs is planned from their last 14 days. With --split,
    ads that share an ad set each get a new ad set (an equal share of its budget, its targeting and bid),
    proposed for approval; the test starts when a sync sees them."""
    engine = _engine()
    if split:
        _split(engine, arms, name, metric.value, mde, power, alpha, by, as_json)  # type: ignore[arg-type]
        return
    first = start.date() if start else _last_day(engine) + dt.timedelta(days=1)
    try:
        record, planned = create_experiment(
            engine,
            name=name,
            refs=arms,
            metric=metric.value,  # type: ignore[arg-type]
            mde=_decimal(mde, "--mde", Decimal(0), Decimal(10)),
            power=_decimal(power, "--power", Decimal(0), Decimal(1)),
            alpha=_decimal(alpha, "--alpha", Decimal(0), Decimal("0.5")),
            start_day=first,
            by=by,
        )
    except ExperimentError as exc:
        raise typer.BadParameter(str(exc)) from None
    unit = {"ctr": "impressions", "cvr": "clicks", "cpa": "spend (major units)"}[metric.value]
    if as_json:
        typer.echo(
            json.dumps({"id": record.id, "plan": planned.model_dump(mode="json"), "start_day": str(first)})
        )
        return
    console = make_console()
    console.print(
        escape(
            f"experiment {record.id} ({name}): {len(arms)} arms on {metric.value}, counting from {first}; "
            f"{float(planned.per_arm):,.0f} {unit} per arm find a {float(mde):.0%} lift with "
            f"{float(power):.0%} power (baseline {planned.baseline_rate:.4g}); check with "
            f"adcluster experiment status {record.id}"
        )
    )


def _split(
    engine: Engine,
    arms: list[str],
    name: str,
    metric: str,
    mde: str,
    power: str,
    alpha: str,
    by: str,
    as_json: bool,
) -> None:
    import asyncio
    import uuid

    from agents.experiment_split import split_arms
    from app.cycle import open_cycle
    from app.run_cli import print_waiting
    from graph.nodes import given_input
    from tools.experiment_runs import ads_baseline

    try:
        baseline = ads_baseline(engine, arms, metric, until=_last_day(engine))  # type: ignore[arg-type]
        record, actions, planned = split_arms(
            engine,
            name=name,
            refs=arms,
            metric=metric,  # type: ignore[arg-type]
            mde=_decimal(mde, "--mde", Decimal(0), Decimal(10)),
            power=_decimal(power, "--power", Decimal(0), Decimal(1)),
            alpha=_decimal(alpha, "--alpha", Decimal(0), Decimal("0.5")),
            baseline=baseline,
            by=by,
        )
    except ExperimentError as exc:
        raise typer.BadParameter(str(exc)) from None
    thread = f"experiment-{record.id}-{uuid.uuid4().hex[:4]}"

    async def go() -> dict[str, object]:
        async with open_cycle(cli_settings(), thread_id=thread) as cycle:
            payload = given_input([a.model_dump(mode="json") for a in actions])
            return await cycle.graph.ainvoke(payload, cycle.config(thread), context=cycle.context)

    result = asyncio.run(go())
    if not as_json:
        make_console().print(
            escape(
                f"experiment {record.id} ({name}) is pending: {len(actions)} ad sets proposed, "
                f"{planned.per_arm:,.0f} per arm planned; approve them, then sync"
            )
        )
    print_waiting(result, thread, as_json)


def _print(found: ExperimentStatus, as_json: bool) -> None:
    if as_json:
        typer.echo(found.model_dump_json())
        return
    console = make_console()
    console.print(
        escape(
            f"{found.name} ({found.id}): {found.status}, {found.metric}, days {found.start_day}.."
            f"{found.until} ({found.days}), {found.progress:.0%} of the planned sample"
        )
    )
    table = Table()
    for col in ("arm", "impressions", "clicks", "conversions", "spend"):
        table.add_column(col)
    for arm in found.arms:
        table.add_row(
            escape(arm.name),
            f"{arm.impressions:,}",
            f"{arm.clicks:,}",
            f"{arm.conversions:,}",
            f"{arm.spend_micros / 1e6:,.2f}",
        )
    console.print(table)
    console.print(escape(found.conclusion))


@experiment_app.command("status")
def show(
    experiment: str = typer.Argument(..., help="its id or name"),
    until: dt.datetime | None = typer.Option(None, "--until", formats=["%Y-%m-%d"]),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """The arms' figures since the start and each treatment against the control, as of the last synced
    day. A winner declared here is final: the test is valid however often you look."""
    engine = _engine()
    try:
        found = status(engine, experiment, until=until.date() if until else _last_day(engine))
    except ExperimentError as exc:
        raise typer.BadParameter(str(exc)) from None
    _print(found, as_json)


@experiment_app.command("stop")
def stop(
    experiment: str = typer.Argument(..., help="its id or name"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """End an experiment now, keeping its result (concluded if a winner was declared, else stopped);
    the analyst may then change its arms again."""
    engine = _engine()
    try:
        current = status(engine, experiment, until=_last_day(engine))
        found = end_experiment(
            engine, experiment, until=current.until, stopped=not any(c.winner for c in current.comparisons)
        )
    except ExperimentError as exc:
        raise typer.BadParameter(str(exc)) from None
    _print(found, as_json)


@experiment_app.command("list")
def listing(as_json: bool = typer.Option(False, "--json")) -> None:
    """Every experiment with its status."""
    rows = list_experiments(_engine())
    if as_json:
        typer.echo(json.dumps([r.model_dump(mode="json") for r in rows]))
        return
    table = Table()
    for col in ("id", "name", "metric", "arms", "start", "status"):
        table.add_column(col)
    for r in rows:
        table.add_row(r.id, escape(r.name), r.metric, str(len(r.arms)), str(r.start_day), r.status)
    make_console().print(table)
