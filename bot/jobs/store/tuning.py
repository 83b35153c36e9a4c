"""The SQLite store's tuning figures (a module of their own so tests may change them)."""

BUSY_TIMEOUT_MS = 5000
# Background WAL checkpoints: at least this often (seconds), and after this many writes.
CHECKPOINT_INTERVAL = 1.0
CHECKPOINT_AFTER_WRITES = 200
# A commit only checkpoints by itself if the background checkpoints fall this far behind.
FALLBACK_AUTOCHECKPOINT_PAGES = 10_000
