"""A pacer for tests that lets every attempt through and notes each one."""

from __future__ import annotations

import time


class OpenPacer:
    """Lets every attempt through at once; counts them (`attempts`) and notes when each says
    its request left (`left`, wall-clock times)."""

    def __init__(self) -> None:
        self.attempts = 0
        self.left: list[float] = []

    async def acquire(self) -> OpenPacer:
        self.attempts += 1
        return self

    @property
    def probe(self) -> bool:
        return False

    def started(self) -> None:
        self.left.append(time.time())

    def report(self, probe: bool, status: int | None, retry_after: float | None) -> None:
        pass
