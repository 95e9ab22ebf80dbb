"""X's error envelope: {"errors": [{"code", "message", "parameter"?}], "request": {...}} (§2.8)."""

from __future__ import annotations

from typing import Any


class XError(Exception):
    """An error answered in X's envelope with X's HTTP status for its code."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int = 400,
        parameter: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.parameter = parameter
        self.headers = headers or {}

    def body(self, params: dict[str, Any] | None = None) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.parameter is not None:
            error["parameter"] = self.parameter
        return {"errors": [error], "request": {"params": params or {}}}


def invalid_parameter(parameter: str, message: str) -> XError:
    return XError("INVALID_PARAMETER", message, parameter=parameter)


def missing_parameter(parameter: str) -> XError:
    return XError("MISSING_PARAMETER", f'"{parameter}" is missing', parameter=parameter)


def not_found(message: str = "The requested resource could not be found", code: str = "NOT_FOUND") -> XError:
    return XError(code, message, status=404)


def route_not_found() -> XError:
    return XError("ROUTE_NOT_FOUND", "The requested resource could not be found", status=404)


def unauthorized(message: str = "This request is not properly authenticated") -> XError:
    return XError("UNAUTHORIZED_ACCESS", message, status=401)
