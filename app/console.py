"""The terminal console: the terminal's own width, or 120 columns when output is piped."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from rich.console import Console

if TYPE_CHECKING:
    from app.settings import Settings


def make_console() -> Console:
    return Console() if sys.stdout.isatty() else Console(width=120)


def cli_settings() -> Settings:
    """The settings for a command, or a usage error (exit 2) that names the bad variable."""
    import typer

    from app.settings import SettingsError, load_settings

    try:
        return load_settings()
    except SettingsError as exc:
        raise typer.BadParameter(str(exc)) from None
