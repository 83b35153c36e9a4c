"""The job store: the `Store` interface, its SQLite implementation `JobStore` (the default)
and `open_store`, which picks the backend (`postgres.py` when DATABASE_URL is set)."""

from bot.jobs.store.factory import StoreOpenError, open_store
from bot.jobs.store.interface import Store
from bot.jobs.store.sqlite import JobStore
from bot.jobs.store.user_defaults import UserDefaults

__all__ = ["JobStore", "Store", "StoreOpenError", "UserDefaults", "open_store"]
