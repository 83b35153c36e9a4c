"""The SQLite store: the only code that writes SQL (with `rows.py`, `migrations.py`)."""

from __future__ import annotations

from bot.jobs.store.jobs import JobRows
from bot.jobs.store.user_defaults import MetaRows, UserDefaultsRows


class JobStore(JobRows, UserDefaultsRows, MetaRows):
    """Jobs, per-user defaults and small settings, in one SQLite database (see `Store`)."""
