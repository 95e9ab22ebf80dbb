"""The sandbox as a user starts it: `adcluster sandbox serve`, and it survives its own bugs."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from app.sandbox_runner import free_port, running_sandbox
from sandbox.market.market import Market
from tests.conftest import small_config


class _BrokenMarket(Market):
    def describe(self) -> dict[str, object]:
        raise RuntimeError("boom")


def test_an_unexpected_error_is_a_json_500_and_the_server_keeps_serving() -> None:
    with running_sandbox(_BrokenMarket(small_config())) as url:
        broken = httpx.get(f"{url}/_sandbox/world")
        assert broken.status_code == 500
        assert broken.json()["error"]["message"] == "RuntimeError: boom"
        assert httpx.get(f"{url}/_sandbox/clock").status_code == 200


def test_sandbox_serve_starts_listens_and_persists_its_state(tmp_path: Path) -> None:
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "app.cli",
        "sandbox",
        "serve",
        "--port",
        str(port),
        "--seed",
        "11",
        "--ads",
        "10",
        "--accounts",
        "1",
        "--days",
        "14",
        "--today",
        "2026-11-25",
        "--state-dir",
        str(tmp_path),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                world = httpx.get(f"http://127.0.0.1:{port}/_sandbox/world", timeout=2).json()
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
                assert time.monotonic() < deadline, "the sandbox did not start"
                time.sleep(0.2)
        assert world["seed"] == 11 and len(world["accounts"]) == 3
        httpx.post(f"http://127.0.0.1:{port}/_sandbox/clock/advance", json={"hours": 5})
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert '"now_hour": 341' in (tmp_path / "state.json").read_text()
