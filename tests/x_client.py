"""A small X Ads API client for tests: OAuth 1.0a signing by requests-oauthlib (the SDK's signer), and
a runner serving a given app so tests can reach app.state (faults, X options)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
import uvicorn
from fastapi import FastAPI
from requests_oauthlib import OAuth1

from sandbox.server.credentials import XCredentials


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(app: FastAPI, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve `app` on a free loopback port until the block ends; yields the base URL."""
    port = free_port(host)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, name="x-sandbox", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError("the sandbox did not start")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


class XClient:
    def __init__(self, base: str, creds: XCredentials, version: str = "12", **overrides: Any) -> None:
        self.base = f"{base}/{version}"
        keys = {
            "client_key": creds.consumer_key,
            "client_secret": creds.consumer_secret,
            "resource_owner_key": creds.access_token,
            "resource_owner_secret": creds.access_token_secret,
        }
        keys.update(overrides)
        self.auth = OAuth1(**keys)
        self.session = requests.Session()

    def request(self, method: str, path: str, **params: Any) -> requests.Response:
        query = {
            k: ",".join(map(str, v)) if isinstance(v, list | tuple) else str(v) for k, v in params.items()
        }
        return self.session.request(method, self.base + path, params=query, auth=self.auth, timeout=60)

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.request("GET", path, **params)

    def put(self, path: str, **params: Any) -> requests.Response:
        return self.request("PUT", path, **params)

    def post(self, path: str, **params: Any) -> requests.Response:
        return self.request("POST", path, **params)

    def delete(self, path: str, **params: Any) -> requests.Response:
        return self.request("DELETE", path, **params)

    def walk(self, path: str, **params: Any) -> list[dict[str, Any]]:
        """Every row of a collection, following next_cursor until it is null."""
        rows: list[dict[str, Any]] = []
        cursor = None
        while True:
            response = self.get(path, **params, **({"cursor": cursor} if cursor else {}))
            assert response.status_code == 200, response.text
            body = response.json()
            rows.extend(body["data"])
            cursor = body["next_cursor"]
            if cursor is None:
                return rows
