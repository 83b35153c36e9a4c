"""The store fixtures: every test that takes `store` or `open_store` runs on both backends,
SQLite and PostgreSQL (a fresh schema of the test server, see `tests/pg.py`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from bot.jobs.store import JobStore, Store
from bot.jobs.store.postgres import PgStore

OpenStore = Callable[[], Store]


@pytest.fixture(params=["sqlite", "postgres"])
def open_store(request: pytest.FixtureRequest, tmp_path) -> Iterator[OpenStore]:
    """Opens a store of one backend; each call opens the same database again."""
    opened: list[Store] = []
    if request.param == "postgres":
        conninfo = request.getfixturevalue("pg_schema").conninfo

        def open_one() -> Store:
            opened.append(PgStore(conninfo))
            return opened[-1]
    else:
        path = tmp_path / "jobs.sqlite3"

        def open_one() -> Store:
            opened.append(JobStore(path))
            return opened[-1]

    yield open_one
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: OpenStore) -> Store:
    return open_store()
