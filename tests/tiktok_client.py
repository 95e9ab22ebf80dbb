"""A tiny TikTok Business API client for tests: Access-Token header, JSON-encoded GET params."""

from __future__ import annotations

import json
from typing import Any

import httpx


class TikTok:
    def __init__(self, base: str, token: str | None) -> None:
        headers = {"Access-Token": token} if token is not None else {}
        self.client = httpx.Client(base_url=f"{base}/open_api/v1.3", headers=headers, timeout=60)

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        response = self.client.get(f"/{path.strip('/')}/", params=_encode(params))
        assert response.status_code == 200, response.text
        return response.json()

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.client.post(f"/{path.strip('/')}/", json=body)
        assert response.status_code == 200, response.text
        return response.json()

    def ok(self, path: str, **params: Any) -> dict[str, Any]:
        body = self.get(path, **params)
        assert body["code"] == 0, body
        return body["data"]

    def walk(self, path: str, **params: Any) -> list[dict[str, Any]]:
        """Every row of a list endpoint, paging until page_info.total_page."""
        rows: list[dict[str, Any]] = []
        page = 1
        while True:
            data = self.ok(path, page=page, **params)
            rows.extend(data["list"])
            if page >= data["page_info"]["total_page"]:
                return rows
            page += 1


def _encode(params: dict[str, Any]) -> dict[str, str]:
    return {k: json.dumps(v) if isinstance(v, dict | list | bool) else str(v) for k, v in params.items()}
