"""`adcluster serve` (the web console's API on uvicorn) and `adcluster users add` (its logins)."""

from __future__ import annotations

import os

import typer

from app.console import cli_settings, make_console

users_app = typer.Typer(help="The web console's users: viewers, approvers and admins.", no_args_is_help=True)


def serve(
    host: str | None = typer.Option(None, "--host", help="default: ADCLUSTER_WEB_HOST (127.0.0.1)"),
    port: int | None = typer.Option(None, "--port", help="default: ADCLUSTER_WEB_PORT (8000)"),
) -> None:
    """The web console's JSON API (OpenAPI at /docs and /openapi.json) and /healthz. Create a login first
    with `adcluster users add`."""
    import uvicorn

    from app import composition
    from app.web.api import create_app
    from app.web.logs import json_logging

    settings = cli_settings()
    json_logging(settings.log_level)
    app = create_app(settings, composition.warehouse(settings))
    uvicorn.run(
        app, host=host or settings.web_host, port=port or settings.web_port, log_config=None, access_log=False
    )


@users_app.command("add")
def add(
    username: str = typer.Argument(..., help="letters, digits and . _ @ -"),
    role: str = typer.Option("viewer", "--role", help="viewer, approver or admin"),
    accounts: list[str] = typer.Option(
        ["*"], "--account", help="platform:account_id a user sees (repeat); * for every account"
    ),
) -> None:
    """Add a login. The password is read from ADCLUSTER_NEW_PASSWORD, or asked for (hidden); at least
    10 characters. Stored as an argon2id hash."""
    from pydantic import ValidationError

    from app import composition
    from app.web.auth import NewUser, create_user

    password = os.environ.get("ADCLUSTER_NEW_PASSWORD") or typer.prompt(
        "password", hide_input=True, confirmation_prompt=True
    )
    try:
        user = NewUser(username=username, password=password, role=role, accounts=accounts)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise typer.BadParameter("; ".join(e["msg"] for e in exc.errors())) from None
    try:
        create_user(composition.warehouse(cli_settings()), user)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    make_console().print(f"{username}: {role}, accounts {', '.join(accounts)}")


def mcp(
    transport: str = typer.Option(
        "stdio", "--transport", help="stdio (for a local MCP client) or http (streamable HTTP)"
    ),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8001, "--port"),
) -> None:
    """adcluster as an MCP server: read tools and proposal tools (their changes wait for a person)."""
    import asyncio

    from app.mcp_server import build_server

    if transport not in ("stdio", "http"):
        raise typer.BadParameter("--transport is stdio or http")
    server = build_server(cli_settings())
    if transport == "stdio":
        asyncio.run(server.run_stdio_async())
    else:
        asyncio.run(server.run_streamable_http_async(host=host, port=port))
