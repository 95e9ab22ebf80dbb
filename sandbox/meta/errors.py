"""The Graph API error envelope and the codes Meta really sends (see ad-platform-apis.md §1.9)."""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any


class GraphError(Exception):
    """An error answered in Meta's envelope: {"error": {message, type, code, error_subcode, ...}}."""

    def __init__(
        self,
        message: str,
        *,
        code: int,
        subcode: int | None = None,
        http_status: int = 400,
        type_: str = "OAuthException",
        is_transient: bool = False,
        user_title: str | None = None,
        user_msg: str | None = None,
        blame_fields: list[str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.subcode = subcode
        self.http_status = http_status
        self.type = type_
        self.is_transient = is_transient
        self.user_title = user_title
        self.user_msg = user_msg
        self.blame_fields = blame_fields
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {
            "message": self.message,
            "type": self.type,
            "code": self.code,
            "is_transient": self.is_transient,
            "fbtrace_id": "A" + secrets.token_urlsafe(16).replace("-", "x").replace("_", "y")[:22],
        }
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        if self.user_title:
            error["error_user_title"] = self.user_title
        if self.user_msg:
            error["error_user_msg"] = self.user_msg
        if self.blame_fields:
            # Meta sends error_data as a JSON string; the SDK parses both forms.
            error["error_data"] = json.dumps({"blame_field_specs": [[f] for f in self.blame_fields]})
        return {"error": error}


def invalid_token() -> GraphError:
    return GraphError("Invalid OAuth access token - Cannot parse access token", code=190, http_status=400)


def expired_token() -> GraphError:
    return GraphError(
        "Error validating access token: Session has expired.", code=190, subcode=463, http_status=400
    )


def bad_proof() -> GraphError:
    return GraphError("Invalid appsecret_proof provided in the API argument", code=100, http_status=400)


def invalid_parameter(message: str, *, field: str | None = None, subcode: int | None = None) -> GraphError:
    return GraphError(
        f"(#100) {message}",
        code=100,
        subcode=subcode,
        user_title="Invalid parameter",
        user_msg=message,
        blame_fields=[field] if field else None,
    )


def unknown_object(object_id: str) -> GraphError:
    return GraphError(
        f"Unsupported get request. Object with ID '{object_id}' does not exist, cannot be loaded due to "
        "missing permissions, or does not support this operation. Please read the Graph API documentation at "
        "https://developers.facebook.com/docs/graph-api",
        code=100,
        subcode=33,
        type_="GraphMethodException",
    )


def unknown_path(path: str) -> GraphError:
    return GraphError(f"(#100) Unknown path components: {path}", code=100)


def nonexisting_field(field: str, node_type: str) -> GraphError:
    return GraphError(
        f"(#100) Tried accessing nonexisting field ({field}) on node type ({node_type})",
        code=100,
        blame_fields=[field],
    )


def reduce_data() -> GraphError:
    return GraphError(
        "Please reduce the amount of data you're asking for, then retry your request",
        code=1,
        http_status=500,
        type_="OAuthException",
        is_transient=False,
    )


def trace_seed(value: str) -> str:
    """A short stable hash used in opaque ids and cursors."""
    return hashlib.sha1(value.encode()).hexdigest()[:12]
