"""What the table classes (`jobs.py`, `user_defaults.py`) run their SQL through.

They write SQLite's parameter style (`?` and `:name`); each backend's connection implements
`_write` and `_read`, so SQLite and PostgreSQL run the very same statements.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self

from bot.jobs.models import Job
from bot.jobs.store.rows import JOB_COLUMNS, job_from_row

Params = dict[str, Any] | Sequence[Any]
Row = Sequence[Any]


class SqlRows(ABC):
    @abstractmethod
    def close(self) -> None:
        """Close the connection (or pool); the store is unusable after."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @abstractmethod
    def _write(self, sql: str, params: Params) -> list[Row]:
        """Run one write as its own transaction; the rows it returned (`RETURNING`), if any."""

    @abstractmethod
    def _read(self, sql: str, params: Params = ()) -> list[Row]:
        """Run one query; all its rows."""

    def _write_returning_job(self, sql: str, params: Params) -> Job | None:
        """Run a write that ends in `RETURNING {JOB_COLUMNS}`; the row it wrote, if any."""
        rows = self._write(f"{sql} RETURNING {JOB_COLUMNS}", params)
        return job_from_row(rows[0]) if rows else None

    def _select_jobs(self, where: str, params: Params = ()) -> list[Job]:
        rows = self._read(f"SELECT {JOB_COLUMNS} FROM jobs WHERE {where}", params)
        return [job_from_row(row) for row in rows]

    def _count(self, where: str, params: Params = ()) -> int:
        return int(self._read(f"SELECT count(*) FROM jobs WHERE {where}", params)[0][0])
