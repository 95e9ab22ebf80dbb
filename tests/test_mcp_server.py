"""adcluster as an MCP server, through the `mcp` package's own client: the tools are listed with their
schemas, read tools answer from the warehouse, a proposal tool leaves its changes waiting for a person
(the sandbox unchanged), bad input is a tool error; and the stdio transport works end to end."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from mcp import Client, StdioServerParameters
from sqlalchemy import Engine
from typer.testing import CliRunner

from app.cli import app as cli
from app.mcp_server import build_server
from app.settings import load_settings
from sandbox.market.market import Market
from storage.audit import AuditLog

ROOT = Path(__file__).resolve().parents[1]


def _payload(result: object) -> object:
    content = result.content  # type: ignore[attr-defined]
    return json.loads(content[0].text) if len(content) == 1 else [json.loads(c.text) for c in content]


def test_read_and_proposal_tools_in_process(configured: Market, engine: Engine) -> None:
    assert CliRunner().invoke(cli, ["sync", "--days", "14"]).exit_code == 0
    server = build_server(load_settings())

    async def go() -> dict[str, object]:
        async with Client(server) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            perf = await client.call_tool("performance", {"days": 7})
            ads = await client.call_tool("entities", {"level": "ad", "platform": "meta"})
            bad = await client.call_tool("performance", {"days": 0})
            pauses = await client.call_tool(
                "propose_pauses", {"platform": "meta", "metric": "ctr", "op": "<", "value": 100}
            )
            listed = await client.call_tool("proposals", {})
            return {"names": names, "perf": perf, "ads": ads, "bad": bad, "pauses": pauses, "listed": listed}

    out = asyncio.run(go())
    assert {
        "performance",
        "entities",
        "alerts",
        "explain_change",
        "audience_segments",
        "proposals",
        "propose_changes",
        "propose_pauses",
    } <= out["names"]  # type: ignore[operator]
    rows = _payload(out["perf"])
    assert isinstance(rows, (list, dict))
    assert out["bad"].is_error and "between 1 and 365" in out["bad"].content[0].text  # type: ignore[attr-defined]
    waiting = _payload(out["pauses"])
    assert isinstance(waiting, dict) and waiting["waiting_for_approval"], waiting
    ids = {p["id"] for p in waiting["waiting_for_approval"]}
    audit = AuditLog(engine)
    assert all(str(audit.get(i).status) == "proposed" for i in ids)  # waiting, not applied
    hour = configured.clock.now_hour
    assert all(
        configured.world.ad(p["entity"]["platform_id"]).value_at("status", hour + 1) == "ACTIVE"
        for p in waiting["waiting_for_approval"]
    )


def test_the_stdio_transport_lists_and_calls_tools(configured: Market, engine: Engine) -> None:
    assert CliRunner().invoke(cli, ["sync", "--days", "14"]).exit_code == 0
    env = {k: v for k, v in os.environ.items() if k.startswith("ADCLUSTER_") or k in ("PATH", "HOME")}
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "app.cli", "mcp"], env=env, cwd=str(ROOT)
    )

    async def go() -> tuple[set[str], object]:
        async with Client(params) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            return names, await client.call_tool("entities", {"level": "campaign"})

    names, campaigns = asyncio.run(go())
    assert "propose_pauses" in names
    rows = _payload(campaigns)
    assert rows and all("name" in r for r in (rows if isinstance(rows, list) else [rows]))
