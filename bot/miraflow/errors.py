"""Typed errors of the Miraflow client (their words for people are on the Discord side)."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any

from bot.miraflow.constants import ERROR_MESSAGE_MAX_CHARS

_CREDITS_WORDS = re.compile(r"credit|balance|insufficient", re.IGNORECASE)


class MiraflowError(Exception):
    """Base of every error the Miraflow client raises.

    `status` is the HTTP status when the server answered, else None; `message` is the server's
    own words (or ours when there was no answer), already cut to a sane length.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def __str__(self) -> str:
        return f"HTTP {self.status}: {self.message}" if self.status is not None else self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, message={self.message!r})"


class BadRequestError(MiraflowError):
    """400: invalid or missing parameters, or the account is out of credits."""

    def __init__(self, message: str, status: int | None = 400) -> None:
        super().__init__(message, status)
        self.out_of_credits = bool(_CREDITS_WORDS.search(message))


class AuthenticationError(MiraflowError):
    """401: the API key is missing or wrong."""

    def __init__(self, message: str, status: int | None = 401) -> None:
        super().__init__(message, status)


class NotFoundError(MiraflowError):
    """404: unknown avatar, voice, video, job or media."""

    def __init__(self, message: str, status: int | None = 404) -> None:
        super().__init__(message, status)


class RateLimitedError(MiraflowError):
    """429: too many requests; `retry_after` is the server's `Retry-After` in seconds, if any."""

    def __init__(
        self, message: str, status: int | None = 429, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status)
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, message={self.message!r}, "
            f"retry_after={self.retry_after!r})"
        )


class ServerError(MiraflowError):
    """5xx: the service is failing; temporary."""


class MiraflowConnectionError(MiraflowError):
    """The server could not be reached, or the connection broke before a full answer.

    `request_sent` is False only when no connection could be opened at all, so the server
    certainly never saw the request (safe to tell a user that nothing was created).
    """

    def __init__(self, message: str, *, request_sent: bool = True) -> None:
        super().__init__(message, None)
        self.request_sent = request_sent


class MiraflowTimeoutError(MiraflowError):
    """Miraflow did not answer in time; the request may or may not have been handled."""

    def __init__(self, message: str) -> None:
        super().__init__(message, None)


class FileTooLargeError(MiraflowError):
    """A download is larger than the limit it was given; the partial file has been removed."""

    def __init__(self, limit: int, size: int | None = None) -> None:
        size_text = f"{size} bytes" if size is not None else "more"
        super().__init__(f"the file is {size_text}, over the limit of {limit} bytes", None)
        self.limit = limit
        self.size = size


class UnexpectedResponseError(MiraflowError):
    """Miraflow answered with success but a body the client cannot read (no JSON, no job id)."""


def error_for_status(
    status: int, message: str, *, retry_after: float | None = None
) -> MiraflowError:
    """The error class that fits an HTTP error status."""
    if status == 400:
        return BadRequestError(message)
    if status == 401:
        return AuthenticationError(message)
    if status == 404:
        return NotFoundError(message)
    if status == 429:
        return RateLimitedError(message, retry_after=retry_after)
    if status >= 500:
        return ServerError(message, status)
    return MiraflowError(message, status)


def message_from_body(body: bytes, status: int | None = None) -> str:
    """The server's message in an error body, whatever its content type, cut to a sane length.

    JSON bodies give their `message` or `error` field (or `detail`); other text is taken as
    it is, except HTML pages (a proxy's error page), which give the status's reason phrase.
    """
    text = body.decode("utf-8", errors="replace").strip()
    message = _message_from_json(text)
    if message is None:
        message = "" if text[:1] == "<" else text
    message = " ".join(message.split())
    if not message and status is not None:
        message = _reason_phrase(status)
    return truncate(message, ERROR_MESSAGE_MAX_CHARS)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a `Retry-After` header (seconds or an HTTP date), else None."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _message_from_json(text: str) -> str | None:
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    return _message_in(parsed)


def _message_in(value: Any) -> str | None:
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, dict):
        for key in ("message", "error", "detail", "msg"):
            found = _message_in(value.get(key))
            if found:
                return found
    return None


def _reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"
