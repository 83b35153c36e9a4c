"""Small records of the simulator's state: requests seen, media, injected faults."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


class Headers(dict[str, str]):
    """A dict of header names (stored in lower case) that looks them up in any case."""

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__((name.lower(), value) for name, value in items)

    def __getitem__(self, name: str) -> str:
        return super().__getitem__(name.lower())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and super().__contains__(name.lower())

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(name.lower(), default)


@dataclass
class RecordedRequest:
    method: str
    path: str
    # Header names in lower case; lookups work in any case.
    headers: dict[str, str]
    # Wall-clock time.time() at arrival.
    time: float
    query: dict[str, str] = field(default_factory=dict)
    # The status answered; None while the request is in flight (or was never answered).
    status: int | None = None


@dataclass
class SimMedia:
    id: str
    file_name: str
    content_type: str
    file_size: int
    upload_token: str
    data: bytes | None = None
    finalized: bool = False
    # The account (API key) that made it: no other key may use it.
    account: str = ""

    @property
    def uploaded(self) -> bool:
        return self.data is not None


@dataclass
class FailRule:
    """The next ``remaining`` requests matching it are answered with ``status``."""

    remaining: int
    status: int
    path_prefix: str
    method: str | None = None
    retry_after: float | None = None
    # A dict is sent as JSON, a str as text, bytes as they are; None: the usual error body.
    body: dict[str, Any] | str | bytes | None = None
    drop: bool = False  # close the connection without an answer instead

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return path.startswith(self.path_prefix)


@dataclass
class HangRule:
    path_prefix: str
    # True: the request takes effect (e.g. the job is created), only its answer is held.
    after_processing: bool = False


@dataclass
class Outage:
    status: int
    retry_after: float | None = None


class RateWindow:
    """Counts accepted requests over the last ``window`` seconds (one simulated second)."""

    def __init__(self) -> None:
        self._times: deque[float] = deque()

    def try_accept(self, now: float, limit: float, window: float = 1.0) -> bool:
        while self._times and self._times[0] <= now - window:
            self._times.popleft()
        if len(self._times) >= limit:
            return False
        self._times.append(now)
        return True


class Gate:
    """Where hung requests wait: opened by ``unhang`` (they go on) or by shutdown (dropped)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self.closing = False
        self.held = 0

    async def wait(self) -> None:
        event = self._event
        self.held += 1
        try:
            await event.wait()
        finally:
            self.held -= 1

    def open(self) -> None:
        """Release everyone waiting now; later hung requests wait on a fresh gate."""
        self._event.set()
        self._event = asyncio.Event()

    def close_for_shutdown(self) -> None:
        self.closing = True
        self._event.set()
