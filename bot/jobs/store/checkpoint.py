"""Background WAL checkpoints for the job store's SQLite database.

Not SQL on the store's tables, only a pragma: the store stays the only module that writes them.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

log = logging.getLogger(__name__)


class WalCheckpointer:
    """Copies the WAL back into the database file, on a thread and connection of its own.

    SQLite's own automatic checkpoint runs inside whichever commit crosses its threshold and,
    with its fsyncs, takes tens of milliseconds: a stall of the event loop every few hundred
    writes. Here it runs off the loop (sqlite3 releases the GIL while it works), every
    `interval` seconds or sooner after a burst of writes. A PASSIVE checkpoint never blocks
    the store's reads or writes.
    """

    def __init__(self, path: str, interval: float, after_writes: int, busy_timeout: float) -> None:
        """`busy_timeout` (seconds) is how long its connection waits on a locked database."""
        self.frames_checkpointed = 0  # a running total, for tests and curiosity
        self._interval = interval
        self._after_writes = after_writes
        self._writes = 0
        self._stopping = False
        self._wake = threading.Event()
        self._conn = sqlite3.connect(
            path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
        )
        self._thread = threading.Thread(target=self._run, name="jobstore-checkpoint", daemon=True)
        self._thread.start()

    def note_write(self) -> None:
        self._writes += 1
        if self._writes >= self._after_writes:
            self._writes = 0
            self._wake.set()

    def _run(self) -> None:
        try:
            while True:
                self._wake.wait(self._interval)
                self._wake.clear()
                if self._stopping:
                    return
                try:
                    _, _, done = self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.Error as exc:
                    log.warning("background WAL checkpoint failed: %s", exc)
                    continue
                self.frames_checkpointed += max(done, 0)
        finally:
            self._conn.close()

    def close(self) -> None:
        self._stopping = True
        self._wake.set()
        self._thread.join()
