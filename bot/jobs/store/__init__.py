"""The job store: the `Store` interface and its SQLite implementation, `JobStore`."""

from bot.jobs.store.interface import Store
from bot.jobs.store.sqlite import JobStore
from bot.jobs.store.user_defaults import UserDefaults

__all__ = ["JobStore", "Store", "UserDefaults"]
