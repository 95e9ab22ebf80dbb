"""Run the sandbox ASGI app in a background thread on a free loopback port (demo, tests, benchmarks)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from sandbox.market.market import Market
from sandbox.meta.api import MetaOptions
from sandbox.server.app import create_app
from sandbox.tiktok.api import TikTokOptions
from sandbox.x.api import XOptions


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(
    app: Any, *, name: str, host: str = "127.0.0.1", port: int | None = None, start_timeout: float = 20.0
) -> Iterator[str]:
    """Serve an ASGI app on loopback in a background thread until the block ends; yields its base URL."""
    port = port or free_port(host)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"{name} did not start on {host}:{port}")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def running_sandbox(
    market: Market,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    start_timeout: float = 20.0,
    meta: MetaOptions | None = None,
    x: XOptions | None = None,
    tiktok: TikTokOptions | None = None,
) -> Iterator[str]:
    """Serve `market` until the block ends; yields the base URL."""
    app = create_app(market, meta=meta, x=x, tiktok=tiktok)
    with serving(app, name="the sandbox", host=host, port=port, start_timeout=start_timeout) as url:
        yield url
