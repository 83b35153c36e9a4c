"""The SQL with which several bot processes share one PostgreSQL store (`claims.py` drives it).

A process is a *worker*: a row of `workers` it refreshes every second or so (the heartbeat,
in the database's clock, so hosts need not agree on the time). A pollable job is handled by
the one worker that claimed it: a row of `job_claims`, taken with `FOR UPDATE SKIP LOCKED`
on the job so that two workers never take one job, and kept until the job ends. A worker
whose heartbeat is older than `stale_after` is gone: any worker deletes it, and its claims
with it, in one statement; its jobs are then free for the others to claim.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass

import psycopg
from psycopg_pool import ConnectionPool

from bot.jobs.models import Job
from bot.jobs.store.rows import JOB_COLUMNS, POLLABLE, job_from_row
from bot.jobs.store.sql_base import Row

CLAIMS_TRACK = "claims"
NOTIFY_CHANNEL = "miraflow_jobs"  # "there may be jobs to claim": a submitted or freed job

# v1: workers and their claims; a job that becomes pollable wakes every worker.
_V1_WORKERS_AND_CLAIMS = f"""
CREATE TABLE workers (
    id TEXT PRIMARY KEY,
    started_at DOUBLE PRECISION NOT NULL,
    heartbeat_at DOUBLE PRECISION NOT NULL,
    shards TEXT NOT NULL DEFAULT ''
);
CREATE TABLE job_claims (
    job_id BIGINT PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    worker_id TEXT NOT NULL,
    claimed_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX job_claims_worker ON job_claims (worker_id);
CREATE FUNCTION miraflow_job_submitted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{NOTIFY_CHANNEL}', NEW.id::text);
    RETURN NULL;
END $$;
CREATE TRIGGER jobs_submitted AFTER UPDATE OF state ON jobs FOR EACH ROW
    WHEN (OLD.state = 'submitting' AND NEW.state = 'queued')
    EXECUTE FUNCTION miraflow_job_submitted();
"""

CLAIMS_MIGRATIONS: tuple[str, ...] = (_V1_WORKERS_AND_CLAIMS,)

_DB_NOW = "extract(epoch FROM clock_timestamp())"
# The job is pollable and no other worker holds it.
_FREE_FOR_ME = (
    f"{POLLABLE} AND NOT EXISTS (SELECT 1 FROM job_claims c"
    " WHERE c.job_id = jobs.id AND c.worker_id <> %(me)s)"
)
# Insert a claim, or keep ours; a claim of another worker is left alone and not returned.
_CLAIM = (
    "INSERT INTO job_claims (job_id, worker_id, claimed_at)"
    f" SELECT id, %(me)s, {_DB_NOW} FROM picked"
    " ON CONFLICT (job_id) DO UPDATE SET worker_id = excluded.worker_id"
    " WHERE job_claims.worker_id = excluded.worker_id"
    " RETURNING job_id"
)
_PREFIXED_COLUMNS = ", ".join(f"jobs.{column.strip()}" for column in JOB_COLUMNS.split(","))


@dataclass(frozen=True, slots=True)
class Beat:
    live_workers: int  # this one included
    released_jobs: int  # claims of gone workers deleted by this beat
    inserted: bool  # this worker had no row: it is new, or was taken for gone


class PgClaimRows:
    """The claim and heartbeat statements, each one transaction on a pooled connection."""

    def __init__(self, pool: ConnectionPool, conninfo: str, stale_after: float) -> None:
        self._pool = pool
        self._conninfo = conninfo
        self.stale_after = stale_after

    def notifications(self) -> AsyncIterator[None]:
        return notifications(self._conninfo)

    def _run(self, sql: str, params: dict[str, object]) -> list[Row]:
        with self._pool.connection() as conn:
            cursor = conn.execute(sql, params)  # type: ignore[arg-type]  # built from constants
            return list(cursor.fetchall()) if cursor.description is not None else []

    def beat(self, me: str, shards: str) -> Beat:
        """Refresh this worker's heartbeat, remove gone workers and their claims (waking the
        others if that freed jobs), and count the live workers."""
        params: dict[str, object] = {"me": me, "shards": shards, "stale": self.stale_after}
        ((inserted,),) = self._run(
            "INSERT INTO workers (id, started_at, heartbeat_at, shards)"
            f" VALUES (%(me)s, {_DB_NOW}, {_DB_NOW}, %(shards)s)"
            " ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at"
            " RETURNING xmax = 0",
            params,
        )
        released = self._run(
            f"WITH gone AS (DELETE FROM workers WHERE heartbeat_at < {_DB_NOW} - %(stale)s"
            " RETURNING id)"
            " DELETE FROM job_claims WHERE worker_id IN (SELECT id FROM gone)"
            " OR worker_id NOT IN (SELECT id FROM workers)"
            " RETURNING job_id",
            params,
        )
        if released:
            self._run(f"SELECT pg_notify('{NOTIFY_CHANNEL}', 'released')", {})
        ((live,),) = self._run(
            f"SELECT count(*) FROM workers WHERE heartbeat_at >= {_DB_NOW} - %(stale)s", params
        )
        return Beat(int(live), len(released), bool(inserted))

    def claim_due(self, me: str, now: float, limit: int) -> list[Job]:
        """Claim up to `limit` due jobs no other worker holds (ours included), soonest first."""
        rows = self._run(
            f"WITH picked AS (SELECT id FROM jobs WHERE {_FREE_FOR_ME}"
            " AND next_poll_at <= %(now)s ORDER BY next_poll_at, id LIMIT %(limit)s"
            " FOR UPDATE SKIP LOCKED),"
            f" claimed AS ({_CLAIM})"
            f" SELECT {_PREFIXED_COLUMNS} FROM jobs JOIN claimed ON claimed.job_id = jobs.id"
            " ORDER BY jobs.next_poll_at, jobs.id",
            {"me": me, "now": now, "limit": limit},
        )
        return [job_from_row(row) for row in rows]

    def take(self, me: str, job_ids: Collection[int]) -> set[int]:
        """Claim these jobs where no other worker holds them; the ids now ours. The others
        are made due now and their holders woken, so that they handle them at once."""
        if not job_ids:
            return set()
        params: dict[str, object] = {"me": me, "ids": list(job_ids)}
        rows = self._run(
            "WITH picked AS (SELECT id FROM jobs WHERE id = ANY(%(ids)s)"
            " AND NOT EXISTS (SELECT 1 FROM job_claims c"
            " WHERE c.job_id = jobs.id AND c.worker_id <> %(me)s)"
            " FOR UPDATE SKIP LOCKED)"
            f" {_CLAIM}",
            params,
        )
        ours = {int(job_id) for (job_id,) in rows}
        if len(ours) < len(job_ids):
            params["ours"] = list(ours)
            self._run(
                f"UPDATE jobs SET next_poll_at = least(next_poll_at, {_DB_NOW})"
                " WHERE id = ANY(%(ids)s) AND NOT (id = ANY(%(ours)s))",
                params,
            )
            self._run(f"SELECT pg_notify('{NOTIFY_CHANNEL}', 'handed over')", {})
        return ours

    def next_due_at(self, me: str, excluding: Collection[int]) -> float | None:
        ((first,),) = self._run(
            f"SELECT min(next_poll_at) FROM jobs WHERE {_FREE_FOR_ME}"
            " AND NOT (id = ANY(%(excluding)s))",
            {"me": me, "excluding": list(excluding)},
        )
        return None if first is None else float(first)

    def forget_finished(self, me: str) -> None:
        """Drop this worker's claims on jobs that are no longer pollable."""
        self._run(
            "DELETE FROM job_claims c WHERE c.worker_id = %(me)s AND NOT EXISTS"
            f" (SELECT 1 FROM jobs WHERE jobs.id = c.job_id AND {POLLABLE})",
            {"me": me},
        )

    def leave(self, me: str) -> None:
        """A clean stop: this worker's claims are free at once, for the others to take."""
        released = self._run(
            "WITH gone AS (DELETE FROM workers WHERE id = %(me)s RETURNING id)"
            " DELETE FROM job_claims WHERE worker_id = %(me)s RETURNING job_id",
            {"me": me},
        )
        if released:
            self._run(f"SELECT pg_notify('{NOTIFY_CHANNEL}', 'released')", {})


async def notifications(conninfo: str) -> AsyncIterator[None]:
    """Yields once when listening starts (anything sent before was missed), then once per
    notice on the channel; ends by raising `psycopg.Error` when the connection is lost."""
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
        await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
        yield None
        async for _notice in conn.notifies():
            yield None
