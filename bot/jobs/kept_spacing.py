"""The spacing of the bot's own key's image polls, kept in the store across restarts.

A key's spacing (`bot.jobs.spacing`) follows the busiest load it has carried and lets go of
it over half an hour. Forgotten at a restart, a busy bot polled at the tail spacing again,
queued once its load came back, and only then widened its spacing: the first minutes after
each start were polled unevenly, and at the p95 uneven polls cost as much as a wider
spacing (10 % in the benchmark's runs). So the spacing is kept in the store's `meta`, with
when it was reached, and read back at a start, let go of by the time that has passed. Only
the bot's own key's: a server's own key carries another load.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from bot.jobs.spacing import let_go
from bot.jobs.store import Store

log = logging.getLogger(__name__)

META_KEY = "image_poll_spacing"
# A spacing is written when it is this much wider than the one kept (let go of as it is).
WRITE_STEP = 1.05


class KeptSpacing:
    """Times on the poller's clock; the spacing is kept in seconds of the schedule's clock,
    `speed` times faster."""

    def __init__(self, store: Store, clock: Callable[[], float], speed: float = 1.0) -> None:
        self._store = store
        self._clock = clock
        self._speed = speed
        self._kept: tuple[float, float] | None = None  # (spacing on the schedule's clock, at)
        self._write_failed = False

    def restore(self) -> float:
        """The kept spacing, let go of since it was written (0: none)."""
        try:
            value = self._store.get_meta(META_KEY)
            if value is None:
                return 0.0
            data = json.loads(value)
            self._kept = (float(data["spacing"]), float(data["at"]))
        except Exception:
            log.warning("the kept spacing of image polls could not be read", exc_info=True)
            return 0.0
        return self._now_of(self._kept) / self._speed

    def note(self, spacing: float) -> None:
        """The key's spacing now, in seconds of the poller's clock: written when wider."""
        wider = spacing * self._speed
        if wider <= 0:
            return
        if self._kept is not None and wider <= WRITE_STEP * self._now_of(self._kept):
            return
        kept = (wider, self._clock())
        self._kept = kept  # not written again at every poll while the store refuses
        try:
            self._store.set_meta(META_KEY, json.dumps({"spacing": kept[0], "at": kept[1]}))
        except Exception:
            if not self._write_failed:
                log.warning("the spacing of image polls could not be kept", exc_info=True)
            self._write_failed = True
        else:
            self._write_failed = False

    def _now_of(self, kept: tuple[float, float]) -> float:
        spacing, at = kept
        return let_go(spacing, max(0.0, self._clock() - at) * self._speed)
