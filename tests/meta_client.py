"""A tiny Graph client for tests: the access token on every call, as the official SDK sends it."""

from __future__ import annotations

import json
from typing import Any

import httpx


class Graph:
    def __init__(self, base: str, token: str, version: str = "v25.0") -> None:
        self.client = httpx.Client(base_url=f"{base}/{version}", params={"access_token": token}, timeout=60)
        # `paging.next` embeds the token; client-level params would replace its query string.
        self.plain = httpx.Client(timeout=60)

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.client.get(path, params=_encode(params))

    def post(self, path: str, **params: Any) -> httpx.Response:
        return self.client.post(path, data=_encode(params))

    def delete(self, path: str) -> httpx.Response:
        return self.client.delete(path)

    def walk(self, path: str, **params: Any) -> list[dict[str, Any]]:
        """Every row of an edge, following paging.next until it is absent."""
        rows: list[dict[str, Any]] = []
        response = self.get(path, **params)
        while True:
            assert response.status_code == 200, response.text
            body = response.json()
            rows.extend(body["data"])
            nxt = body.get("paging", {}).get("next")
            if not nxt:
                assert "after" in body.get("paging", {}).get("cursors", {"after": ""}) or not body["data"]
                return rows
            response = self.plain.get(nxt)


def _encode(params: dict[str, Any]) -> dict[str, str]:
    out = {}
    for key, value in params.items():
        if isinstance(value, dict | list | bool):
            out[key] = json.dumps(value, sort_keys=True, separators=(",", ":"))
        else:
            out[key] = str(value)
    return out
