"""One log line per interval for a condition that may last (a store that cannot be
written): the first occurrence is logged, the repeats within the interval are counted."""

from __future__ import annotations

import time
from collections.abc import Callable


class LogLimit:
    def __init__(self, interval: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self._interval = interval
        self._clock = clock
        self._logged_at: float | None = None
        self.skipped = 0  # occurrences not logged since the last line

    def due(self) -> bool:
        """True (and the interval starts again) when a line may be logged now."""
        now = self._clock()
        if self._logged_at is not None and now - self._logged_at < self._interval:
            self.skipped += 1
            return False
        self._logged_at = now
        return True

    def take_skipped(self) -> int:
        skipped, self.skipped = self.skipped, 0
        return skipped
