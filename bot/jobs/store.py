"""The SQLite job store: the only module that writes SQL.

Every call is one transaction and returns quickly (indexed queries on one connection), so
the bot calls it directly from the event loop. Times are UNIX epoch seconds (float).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sqlite3
import time
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlite_utils import Database
from sqlite_utils.db import NotFoundError

from bot.jobs.checkpoint import WalCheckpointer
from bot.jobs.migrations import migrate, write_transaction
from bot.jobs.models import ACTIVE_STATES, POLLABLE_STATES, Job, JobKind, JobState

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000
# Background WAL checkpoints: at least this often (seconds), and after this many writes.
CHECKPOINT_INTERVAL = 1.0
CHECKPOINT_AFTER_WRITES = 200
# A commit only checkpoints by itself if the background checkpoints fall this far behind.
FALLBACK_AUTOCHECKPOINT_PAGES = 10_000
_JOB_FIELDS = tuple(f.name for f in dataclasses.fields(Job))
_JOB_COLUMNS = ", ".join(_JOB_FIELDS)
_UPDATABLE_FIELDS = tuple(name for name in _JOB_FIELDS if name != "id")


def _in_list(states: Iterable[JobState]) -> str:
    """A literal SQL list of states, in a stable order: `('complete', 'queued')`."""
    return "(" + ", ".join(f"'{state.value}'" for state in sorted(states)) + ")"


# Must match the predicate of the partial index `jobs_due` (see migrations.py) term for term,
# or SQLite will not use the index; tests check the query plans.
_POLLABLE = f"state IN {_in_list(POLLABLE_STATES)}"
_ACTIVE = f"state IN {_in_list(ACTIVE_STATES)}"


@dataclass(slots=True)
class UserDefaults:
    """What `/speak` uses when a user names no avatar or voice."""

    user_id: int
    avatar_id: str | None = None
    voice_id: str | None = None
    avatar_name: str | None = None
    voice_name: str | None = None
    updated_at: float = 0.0


# --- Row <-> Job: the one place where columns and fields meet ---


def _to_column(field: str, value: Any) -> Any:
    if field == "params":
        return json.dumps(value if value is not None else {}, ensure_ascii=False)
    if field == "kind":
        return JobKind(value).value
    if field == "state":
        return JobState(value).value
    return value


def _params_from_column(job_id: Any, text: Any) -> dict[str, Any]:
    if not text:
        return {}
    try:
        params = json.loads(text)
    except (TypeError, ValueError):
        log.warning("job %s: its params are not valid JSON; using none", job_id)
        return {}
    if not isinstance(params, dict):
        log.warning("job %s: its params are not a JSON object; using none", job_id)
        return {}
    return params


_KINDS = {kind.value: kind for kind in JobKind}
_STATES = {state.value: state for state in JobState}
_ID, _KIND, _STATE, _PARAMS = (_JOB_FIELDS.index(f) for f in ("id", "kind", "state", "params"))


def _job_from_row(row: Sequence[Any]) -> Job:
    """A Job from a row of `SELECT {_JOB_COLUMNS}`: the columns in Job field order."""
    values = list(row)
    # Dict lookups first: this runs for every row the poller reads, the Enum call is slower.
    values[_KIND] = _KINDS.get(row[_KIND]) or JobKind(row[_KIND])
    values[_STATE] = _STATES.get(row[_STATE]) or JobState(row[_STATE])
    values[_PARAMS] = _params_from_column(row[_ID], row[_PARAMS])
    return Job(*values)


class JobStore:
    """Jobs, per-user defaults and small settings, in one SQLite database.

    Meant for one thread at a time (the event loop's); `check_same_thread` is off only so
    that it may be created or closed elsewhere.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        in_memory = self.path == ":memory:"
        if not in_memory:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: the driver opens no implicit transactions; a single statement
        # is its own transaction, and multi-statement calls use `write_transaction`.
        conn = sqlite3.connect(
            self.path,
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,
            check_same_thread=False,
        )
        try:
            self._db = Database(conn, execute_plugins=False)
            self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if not in_memory:
                self._db.enable_wal()
                if self._db.journal_mode != "wal":
                    log.warning("%s: this file system refuses WAL mode", self.path)
                # Safe with WAL: a power cut may lose the last commits, never corrupt.
                self._db.execute("PRAGMA synchronous = NORMAL")
                self._db.execute(f"PRAGMA wal_autocheckpoint = {FALLBACK_AUTOCHECKPOINT_PAGES}")
            migrate(self._db)
        except BaseException:
            conn.close()
            raise
        self._checkpointer = (
            None
            if in_memory
            else WalCheckpointer(
                self.path, CHECKPOINT_INTERVAL, CHECKPOINT_AFTER_WRITES, BUSY_TIMEOUT_MS / 1000
            )
        )
        self._closed = False

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._checkpointer is not None:
            self._checkpointer.close()
        self._db.close()  # the last connection to close checkpoints and removes the WAL

    def __enter__(self) -> JobStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _write(self, sql: str, params: dict[str, Any] | Iterable[Any]) -> sqlite3.Cursor:
        cursor = self._db.execute(sql, params)
        if self._checkpointer is not None:
            self._checkpointer.note_write()
        return cursor

    def _select_jobs(self, where: str, params: dict[str, Any] | Iterable[Any] = ()) -> list[Job]:
        cursor = self._db.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE {where}", params)
        return [_job_from_row(row) for row in cursor.fetchall()]

    def _count(self, where: str, params: dict[str, Any] | Iterable[Any] = ()) -> int:
        return int(
            self._db.execute(f"SELECT count(*) FROM jobs WHERE {where}", params).fetchone()[0]
        )

    # --- Jobs: writes ---

    def create_job(
        self,
        *,
        kind: JobKind,
        user_id: int,
        channel_id: int,
        guild_id: int | None,
        params: dict[str, Any],
        upload_limit: int,
        now: float | None = None,
    ) -> Job:
        """Write a new job in state SUBMITTING: before its create call is sent."""
        now = time.time() if now is None else now
        job = Job(
            id=0,
            kind=JobKind(kind),
            state=JobState.SUBMITTING,
            user_id=user_id,
            channel_id=channel_id,
            guild_id=guild_id,
            params=dict(params),
            upload_limit=upload_limit,
            created_at=now,
            updated_at=now,
        )
        row = {name: _to_column(name, getattr(job, name)) for name in _UPDATABLE_FIELDS}
        columns = ", ".join(row)
        marks = ", ".join(f":{name}" for name in row)
        cursor = self._write(f"INSERT INTO jobs ({columns}) VALUES ({marks})", row)
        job.id = int(cursor.lastrowid)
        job.params = json.loads(row["params"])  # exactly what a later get() returns
        return job

    def mark_submitted(
        self, job_id: int, miraflow_job_id: str, next_poll_at: float, now: float | None = None
    ) -> bool:
        """Record the answer of the create call: SUBMITTING -> QUEUED.

        The Miraflow job id and submission time are recorded whatever the state, but the state
        moves only from SUBMITTING: a job cancelled while its create call was in flight stays
        cancelled. Returns whether the job moved to QUEUED.
        """
        now = time.time() if now is None else now
        with write_transaction(self._db):
            row = self._db.execute("SELECT state FROM jobs WHERE id = ?", [job_id]).fetchone()
            if row is None:
                return False
            fields: dict[str, Any] = {"miraflow_job_id": miraflow_job_id, "submitted_at": now}
            moving = row[0] == JobState.SUBMITTING.value
            if moving:
                fields.update(state=JobState.QUEUED, next_poll_at=next_poll_at)
            self.update(job_id, updated_at=now, **fields)
        return moving

    def update(self, job_id: int, **fields: Any) -> None:
        """Set any Job fields but `id`; `updated_at` is set to now unless given.

        A plain write: for a change of state prefer `set_state`, which guards and stamps it.
        """
        unknown = set(fields).difference(_UPDATABLE_FIELDS)
        if unknown:
            raise ValueError(f"not a Job field (or not updatable): {', '.join(sorted(unknown))}")
        fields.setdefault("updated_at", time.time())
        values = {name: _to_column(name, value) for name, value in fields.items()}
        assignments = ", ".join(f"{name} = :{name}" for name in values)
        # Column names come from the whitelist above, never from outside.
        self._write(
            f"UPDATE jobs SET {assignments} WHERE id = :__id",
            {**values, "__id": job_id},
        )

    def set_state(
        self,
        job_id: int,
        state: JobState,
        *,
        error: str | None = None,
        now: float | None = None,
        only_from: Collection[JobState] | None = None,
    ) -> bool:
        """Move a job to `state`; False (and nothing changed) if it is missing or its current
        state is not in `only_from`.

        Sets `completed_at` on entering COMPLETE and `delivered_at` on entering DELIVERED
        (a repeated transition keeps the first time); `error` replaces the stored one when
        given. A job entering a pollable state without a `next_poll_at` becomes due at once,
        so no pollable job can be forgotten by the poller.
        """
        state = JobState(state)
        now = time.time() if now is None else now
        guard = ""
        values: dict[str, Any] = {"id": job_id, "state": state.value, "now": now, "error": error}
        if only_from is not None:
            allowed = [JobState(s).value for s in only_from]
            if not allowed:
                return False
            names = [f"from{i}" for i in range(len(allowed))]
            values.update(zip(names, allowed, strict=True))
            guard = f" AND state IN ({', '.join(':' + name for name in names)})"
        assignments = ["state = :state", "updated_at = :now", "error = coalesce(:error, error)"]
        if state is JobState.COMPLETE:
            assignments.append(
                "completed_at = CASE WHEN state = :state THEN completed_at ELSE :now END"
            )
        elif state is JobState.DELIVERED:
            assignments.append(
                "delivered_at = CASE WHEN state = :state THEN delivered_at ELSE :now END"
            )
        if state.is_pollable:
            assignments.append("next_poll_at = coalesce(next_poll_at, :now)")
        cursor = self._write(
            f"UPDATE jobs SET {', '.join(assignments)} WHERE id = :id{guard}", values
        )
        return cursor.rowcount == 1

    # --- Jobs: reads ---

    def get(self, job_id: int) -> Job | None:
        jobs = self._select_jobs("id = ?", [job_id])
        return jobs[0] if jobs else None

    def due_jobs(self, now: float, limit: int) -> list[Job]:
        """Pollable jobs whose `next_poll_at` has come, soonest first."""
        return self._select_jobs(
            f"{_POLLABLE} AND next_poll_at <= ? ORDER BY next_poll_at, id LIMIT ?", [now, limit]
        )

    def next_due_at(self, excluding: Collection[int] = ()) -> float | None:
        """When the next pollable job is due, leaving out the jobs `excluding` names (those
        being handled right now); None when nothing is pending."""
        marks = ", ".join("?" * len(excluding))
        also = f" AND id NOT IN ({marks})" if excluding else ""
        row = self._db.execute(
            f"SELECT min(next_poll_at) FROM jobs WHERE {_POLLABLE}{also}", list(excluding)
        ).fetchone()
        return row[0]

    def pending_count(self) -> int:
        """How many jobs the poller is looking after."""
        return self._count(_POLLABLE)

    def waiting_jobs(self, kind: JobKind) -> list[Job]:
        """Jobs of `kind` still waiting on Miraflow (queued or working), oldest first."""
        return self._select_jobs(
            f"{_POLLABLE} AND state IN (?, ?) AND kind = ? ORDER BY id",
            [JobState.QUEUED.value, JobState.WORKING.value, JobKind(kind).value],
        )

    def recent_durations(self, videos: bool, limit: int = 200) -> list[float]:
        """Seconds from submission to completion of the latest completed jobs: videos, or
        every other kind. Not indexed: the poller asks now and then, not per poll."""
        rows = self._db.execute(
            "SELECT completed_at - submitted_at FROM jobs"
            f" WHERE kind {'=' if videos else '!='} ? AND completed_at IS NOT NULL"
            " AND submitted_at IS NOT NULL ORDER BY completed_at DESC LIMIT ?",
            [JobKind.VIDEO.value, limit],
        ).fetchall()
        return [float(row[0]) for row in rows]

    def jobs_in_states(self, states: Collection[JobState]) -> list[Job]:
        """Every job in one of `states`, oldest first. Not indexed: for start-up, not hot paths."""
        wanted = [JobState(s).value for s in states]
        if not wanted:
            return []
        marks = ", ".join("?" * len(wanted))
        return self._select_jobs(f"state IN ({marks}) ORDER BY id", wanted)

    def active_count(self, user_id: int) -> int:
        return self._count(f"user_id = ? AND {_ACTIVE}", [user_id])

    def count_since(self, user_id: int, since: float) -> int:
        """Jobs the user asked Miraflow for at or after `since`, whatever became of them
        (results adopted without a create call, such as `/videos get`, cost nothing)."""
        return self._count(
            "user_id = ? AND created_at >= ? AND json_extract(params, '$.adopted') IS NULL",
            [user_id, since],
        )

    def recent_jobs(self, user_id: int, limit: int = 10) -> list[Job]:
        return self._select_jobs(
            "user_id = ? ORDER BY created_at DESC, id DESC LIMIT ?", [user_id, limit]
        )

    def pending_jobs_of(self, user_id: int) -> list[Job]:
        """The user's active jobs, newest first."""
        return self._select_jobs(
            f"user_id = ? AND {_ACTIVE} ORDER BY created_at DESC, id DESC", [user_id]
        )

    # --- Small settings ---

    def get_meta(self, key: str) -> str | None:
        try:
            return self._db["meta"].get(key)["value"]
        except NotFoundError:
            return None

    def set_meta(self, key: str, value: str) -> None:
        self._write(
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [key, value],
        )

    # --- Per-user defaults ---

    def get_user_defaults(self, user_id: int) -> UserDefaults | None:
        try:
            row = self._db["user_defaults"].get(user_id)
        except NotFoundError:
            return None
        return UserDefaults(**row)

    def set_user_defaults(
        self,
        user_id: int,
        *,
        avatar_id: str | None = None,
        voice_id: str | None = None,
        avatar_name: str | None = None,
        voice_name: str | None = None,
        now: float | None = None,
    ) -> UserDefaults:
        """Remember a user's defaults; a value left at None keeps the stored one."""
        now = time.time() if now is None else now
        with write_transaction(self._db):
            self._write(
                "INSERT INTO user_defaults"
                " (user_id, avatar_id, voice_id, avatar_name, voice_name, updated_at)"
                " VALUES (:user_id, :avatar_id, :voice_id, :avatar_name, :voice_name, :now)"
                " ON CONFLICT (user_id) DO UPDATE SET"
                " avatar_id = coalesce(excluded.avatar_id, avatar_id),"
                " voice_id = coalesce(excluded.voice_id, voice_id),"
                " avatar_name = coalesce(excluded.avatar_name, avatar_name),"
                " voice_name = coalesce(excluded.voice_name, voice_name),"
                " updated_at = excluded.updated_at",
                {
                    "user_id": user_id,
                    "avatar_id": avatar_id,
                    "voice_id": voice_id,
                    "avatar_name": avatar_name,
                    "voice_name": voice_name,
                    "now": now,
                },
            )
            return UserDefaults(**self._db["user_defaults"].get(user_id))
