"""`adcluster`: the command line. Run `adcluster --help` for the commands."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from app import ingest_cli
from app.alerts_cli import alerts as alerts_command
from app.audit_cli import audit_app
from app.chat_cli import chat as chat_command
from app.creative_cli import creative_app
from app.experiment_cli import experiment_app
from app.rules_cli import rules_app
from app.run_cli import approvals_app
from app.run_cli import run as run_command
from app.run_cli import undo as undo_command
from app.sandbox_cli import sandbox_app
from app.schedule_cli import schedule as schedule_command
from app.web_cli import mcp as mcp_command
from app.web_cli import serve as serve_command
from app.web_cli import users_app

app = typer.Typer(
    name="adcluster",
    help="Cross-platform ad optimisation (Meta, X, TikTok) under human approval. "
    "Everything runs offline against a built-in sandbox of the three platforms.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(rules_app, name="rules")
app.add_typer(creative_app, name="creative")
app.add_typer(audit_app, name="audit")
app.add_typer(approvals_app, name="approvals")
app.add_typer(experiment_app, name="experiment")
app.add_typer(users_app, name="users")
app.command("run")(run_command)
app.command("alerts")(alerts_command)
app.command("serve")(serve_command)
app.command("mcp")(mcp_command)
app.command("chat")(chat_command)
app.command("undo")(undo_command)
app.command("schedule")(schedule_command)
app.command()(ingest_cli.sync)
app.command()(ingest_cli.rebuild)
app.command()(ingest_cli.report)


@app.callback()
def _root(verbose: bool = typer.Option(False, "--verbose", "-v", help="log debug output")) -> None:
    from app.settings import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as exc:
        raise typer.BadParameter(str(exc)) from None
    level = logging.DEBUG if verbose else settings.log_level
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not verbose:
        for noisy in ("httpx", "httpx2", "alembic", "chromadb", "tools.llm.embedded"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


@app.command()
def demo(
    yes: bool = typer.Option(False, "--yes", help="approve every proposal (they still pass the guardrails)"),
    cycles: int = typer.Option(3, min=1, max=30, help="cycles to run, one simulated day apart"),
    seed: int = typer.Option(7, min=0, help="market seed"),
    out: Path = typer.Option(Path("adcluster-demo"), help="folder for the warehouse, checkpoints and chart"),
    llm: bool = typer.Option(True, "--llm/--no-llm", help="the chat turns and new copy (the embedded model)"),
) -> None:
    """The whole product on the built-in sandbox: sync, several graph cycles with the approval prompt,
    what changed and how the market answered (with a PNG chart), two chat turns and new copy."""
    from app.demo import run_demo

    run_demo(cycles=cycles, seed=seed, yes=yes, out=out, llm=llm)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
