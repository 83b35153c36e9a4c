"""Error answers in each shape the real API may use."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from aiohttp import web

from .config import ErrorBodyStyle


class ApiError(Exception):
    """Raised by a handler to answer ``status`` with ``message`` in the configured shape."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def not_found(message: str) -> ApiError:
    return ApiError(404, message)


def default_message(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


def error_response(
    style: ErrorBodyStyle,
    status: int,
    message: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    text = message if message is not None else default_message(status)
    if style == "text":
        return web.Response(status=status, text=text, headers=headers)
    key = "error" if style == "json_error" else "message"
    return web.json_response({key: text}, status=status, headers=headers)


def custom_response(
    status: int, body: dict[str, Any] | str | bytes, headers: Mapping[str, str] | None = None
) -> web.Response:
    if isinstance(body, dict):
        return web.json_response(body, status=status, headers=headers)
    if isinstance(body, str):
        return web.Response(status=status, text=body, headers=headers)
    return web.Response(status=status, body=body, headers=headers)


def retry_after_header(seconds: float | None) -> dict[str, str]:
    """``Retry-After`` in whole seconds when whole, else as a decimal (handy for fast tests)."""
    if seconds is None:
        return {}
    if float(seconds).is_integer():
        return {"Retry-After": str(int(seconds))}
    return {"Retry-After": f"{seconds:.3f}".rstrip("0")}
