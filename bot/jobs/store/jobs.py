"""The jobs table: every write returns the row it wrote (`RETURNING`), never a re-read."""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import Any

from bot.jobs.job_requests import JobRequest
from bot.jobs.models import Job, JobKind, JobSource, JobState
from bot.jobs.store.rows import ACTIVE, POLLABLE, UPDATABLE_FIELDS, column_of, to_column
from bot.jobs.store.sql_base import SqlRows


class JobRows(SqlRows):
    # --- writes ---

    def create_job(
        self,
        *,
        kind: JobKind,
        user_id: int,
        channel_id: int,
        guild_id: int | None,
        request: JobRequest,
        upload_limit: int,
        source: JobSource = JobSource.COMMAND,
        now: float | None = None,
        asked_channel_id: int | None = None,
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
            request=request,
            source=JobSource(source),
            upload_limit=upload_limit,
            created_at=now,
            updated_at=now,
            asked_channel_id=asked_channel_id,
        )
        row = {column_of(name): to_column(name, getattr(job, name)) for name in UPDATABLE_FIELDS}
        columns = ", ".join(row)
        marks = ", ".join(f":{name}" for name in row)
        written = self._write_returning_job(f"INSERT INTO jobs ({columns}) VALUES ({marks})", row)
        assert written is not None  # an INSERT that did not raise wrote its row
        return written

    def mark_submitted(
        self, job_id: int, miraflow_job_id: str, next_poll_at: float, now: float | None = None
    ) -> Job | None:
        """Record the answer of the create call: SUBMITTING -> QUEUED; the job as it now is,
        or None when there is no such job.

        The Miraflow job id and submission time are recorded whatever the state, but the state
        moves only from SUBMITTING: a job cancelled while its create call was in flight stays
        cancelled.
        """
        now = time.time() if now is None else now
        # Every right-hand side sees the row as it was before the UPDATE.
        return self._write_returning_job(
            "UPDATE jobs SET miraflow_job_id = :mf, submitted_at = :now, updated_at = :now,"
            " next_poll_at = CASE WHEN state = :from THEN :next ELSE next_poll_at END,"
            " state = CASE WHEN state = :from THEN :to ELSE state END"
            " WHERE id = :id",
            {
                "id": job_id,
                "mf": miraflow_job_id,
                "now": now,
                "next": next_poll_at,
                "from": JobState.SUBMITTING.value,
                "to": JobState.QUEUED.value,
            },
        )

    def update(self, job_id: int, **fields: Any) -> Job | None:
        """Set any Job fields but `id`; `updated_at` is set to now unless given. Returns the
        job as written, or None when there is no such job.

        A plain write: for a change of state prefer `set_state`, which guards and stamps it.
        """
        unknown = set(fields).difference(UPDATABLE_FIELDS)
        if unknown:
            raise ValueError(f"not a Job field (or not updatable): {', '.join(sorted(unknown))}")
        fields.setdefault("updated_at", time.time())
        values = {column_of(name): to_column(name, value) for name, value in fields.items()}
        assignments = ", ".join(f"{name} = :{name}" for name in values)
        # Column names come from the whitelist above, never from outside.
        return self._write_returning_job(
            f"UPDATE jobs SET {assignments} WHERE id = :__id", {**values, "__id": job_id}
        )

    def set_state(
        self,
        job_id: int,
        state: JobState,
        *,
        error: str | None = None,
        now: float | None = None,
        only_from: Collection[JobState] | None = None,
        **fields: Any,
    ) -> Job | None:
        """Move a job to `state` (and set `fields` with it); the job as written, or None (and
        nothing changed) if it is missing or its current state is not in `only_from`.

        Sets `completed_at` on entering COMPLETE and `delivered_at` on entering DELIVERED
        (a repeated transition keeps the first time); `error` replaces the stored one when
        given. A job entering a pollable state without a `next_poll_at` becomes due at once,
        so no pollable job can be forgotten by the poller.
        """
        state = JobState(state)
        now = time.time() if now is None else now
        unknown = set(fields).difference(UPDATABLE_FIELDS) | ({"state", "error"} & set(fields))
        if unknown:
            raise ValueError(f"not a field set_state may set: {', '.join(sorted(unknown))}")
        guard = ""
        values: dict[str, Any] = {"id": job_id, "state": state.value, "now": now, "error": error}
        if only_from is not None:
            allowed = [JobState(s).value for s in only_from]
            if not allowed:
                return None
            names = [f"from{i}" for i in range(len(allowed))]
            values.update(zip(names, allowed, strict=True))
            guard = f" AND state IN ({', '.join(':' + name for name in names)})"
        assignments = ["state = :state", "error = coalesce(:error, error)"]
        if "updated_at" not in fields:
            assignments.append("updated_at = :now")
        if state is JobState.COMPLETE:
            assignments.append(
                "completed_at = CASE WHEN state = :state THEN completed_at ELSE :now END"
            )
        elif state is JobState.DELIVERED:
            assignments.append(
                "delivered_at = CASE WHEN state = :state THEN delivered_at ELSE :now END"
            )
        if state.is_pollable and "next_poll_at" not in fields:
            assignments.append("next_poll_at = coalesce(next_poll_at, :now)")
        for name, value in fields.items():
            values[f"f_{name}"] = to_column(name, value)
            assignments.append(f"{column_of(name)} = :f_{name}")
        return self._write_returning_job(
            f"UPDATE jobs SET {', '.join(assignments)} WHERE id = :id{guard}", values
        )

    # --- reads ---

    def get(self, job_id: int) -> Job | None:
        jobs = self._select_jobs("id = ?", [job_id])
        return jobs[0] if jobs else None

    def due_jobs(self, now: float, limit: int) -> list[Job]:
        """Pollable jobs whose `next_poll_at` has come, soonest first."""
        return self._select_jobs(
            f"{POLLABLE} AND next_poll_at <= ? ORDER BY next_poll_at, id LIMIT ?", [now, limit]
        )

    def next_due_at(self, excluding: Collection[int] = ()) -> float | None:
        """When the next pollable job is due, leaving out the jobs `excluding` names (those
        being handled right now); None when nothing is pending."""
        marks = ", ".join("?" * len(excluding))
        also = f" AND id NOT IN ({marks})" if excluding else ""
        ((first,),) = self._read(
            f"SELECT min(next_poll_at) FROM jobs WHERE {POLLABLE}{also}", list(excluding)
        )
        return None if first is None else float(first)

    def pending_count(self) -> int:
        """How many jobs the poller is looking after."""
        return self._count(POLLABLE)

    def waiting_jobs(self, kind: JobKind) -> list[Job]:
        """Jobs of `kind` still waiting on Miraflow (queued or working), oldest first."""
        return self._select_jobs(
            f"{POLLABLE} AND state IN (?, ?) AND kind = ? ORDER BY id",
            [JobState.QUEUED.value, JobState.WORKING.value, JobKind(kind).value],
        )

    def recent_durations(self, kind: JobKind, limit: int) -> list[float]:
        """Seconds from submission to the end of the last `limit` jobs of `kind` Miraflow
        finished, newest first (videos found with `/videos get` were not made here): to
        when each probably ended (`ended_at`), or, where that was not kept, to when it was
        found done. Not indexed: callers cache it."""
        rows = self._read(
            "SELECT coalesce(ended_at, completed_at) - submitted_at FROM jobs"
            " WHERE kind = ? AND source != ?"
            " AND completed_at IS NOT NULL AND submitted_at IS NOT NULL"
            " ORDER BY completed_at DESC LIMIT ?",
            [JobKind(kind).value, JobSource.VIDEOS_GET.value, limit],
        )
        return [float(row[0]) for row in rows]

    def jobs_in_states(self, states: Collection[JobState]) -> list[Job]:
        """Every job in one of `states`, oldest first. Not indexed: for start-up, not hot paths."""
        wanted = [JobState(s).value for s in states]
        if not wanted:
            return []
        marks = ", ".join("?" * len(wanted))
        return self._select_jobs(f"state IN ({marks}) ORDER BY id", wanted)

    def count_by_state(self) -> dict[str, int]:
        """How many jobs are in each state (states with none are left out)."""
        rows = self._read("SELECT state, count(*) FROM jobs GROUP BY state")
        return {str(state): int(count) for state, count in rows}

    def active_count(self, user_id: int, now: float | None = None) -> int:
        """The user's unfinished jobs, and their cancelled ones Miraflow is still working on
        (a cancelled row's `next_poll_at` is when Miraflow would have finished it)."""
        now = time.time() if now is None else now
        return self._count(
            f"user_id = ? AND ({ACTIVE} OR (state = ? AND next_poll_at > ?))",
            [user_id, JobState.CANCELLED.value, now],
        )

    def count_since(self, user_id: int, since: float) -> int:
        """Jobs the user asked Miraflow for at or after `since`, whatever became of them
        (results found without a create call, such as `/videos get`, cost nothing)."""
        return self._count(
            "user_id = ? AND created_at >= ? AND source != ?",
            [user_id, since, JobSource.VIDEOS_GET.value],
        )

    def count_guild_since(self, guild_id: int, since: float) -> int:
        """Jobs asked for on a server at or after `since` (`/videos get` costs nothing)."""
        return self._count(
            "guild_id = ? AND created_at >= ? AND source != ?",
            [guild_id, since, JobSource.VIDEOS_GET.value],
        )

    def on_key_in_guild(self, guild_id: int, unclear_since: float) -> int:
        """A server's jobs that still need its Miraflow key: the unfinished ones, and its
        unclear videos (`unknown`, no Miraflow id) made since `unclear_since`, still looked
        for by name."""
        return self._count(
            f"guild_id = ? AND ({ACTIVE} OR (state = ? AND kind = ? AND miraflow_job_id IS NULL"
            " AND created_at >= ?))",
            [guild_id, JobState.UNKNOWN.value, JobKind.VIDEO.value, unclear_since],
        )

    def recent_jobs(self, user_id: int, limit: int = 10) -> list[Job]:
        return self._select_jobs(
            "user_id = ? ORDER BY created_at DESC, id DESC LIMIT ?", [user_id, limit]
        )

    def pending_jobs_of(self, user_id: int) -> list[Job]:
        """The user's active jobs, newest first."""
        return self._select_jobs(
            f"user_id = ? AND {ACTIVE} ORDER BY created_at DESC, id DESC", [user_id]
        )
