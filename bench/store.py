"""How fast the job store answers the poller: SQLite (file databases in WAL mode), or
PostgreSQL with `--database-url` (each size in a fresh schema, dropped afterwards).

    python bench/store.py [--rows 10000 100000] [--repeat 2000] [--polls 5000]
                          [--database-url postgresql://postgres@127.0.0.1:5432/test]

For each size it builds a temporary database through the store's public API: mostly
finished jobs, about 10 % pollable (queued, working or complete) with poll times spread
around "now". Then it measures, over many repetitions:

- `due_jobs(now, limit=50)` with more than 50 jobs due (the query and 50 rows to Job);
- `update(job, progress=..., next_poll_at=..., polls=...)` of one pollable job;
- a guarded `set_state` of one job (queued <-> working);
- the process CPU seconds per 1 000 simulated polls, a poll being its share of one due query
  plus one `update`, with a clock advancing one second per poller round.

It prints a table, then the figures as JSON on the last line. Target: <= 5 ms each at
10 000 rows. Needs the project installed (`pip install -e .`).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

from bot.jobs.job_requests import PictureRequest
from bot.jobs.models import JobKind, JobState
from bot.jobs.store import JobStore, Store
from bot.jobs.store.postgres import PgStore

TARGET_MS = 5.0
DUE_LIMIT = 50
POLLABLE_SHARE = 0.10
NOW = 1_700_000_000.0
TERMINAL = (JobState.DELIVERED, JobState.DELIVERED, JobState.FAILED, JobState.EXPIRED)
REQUEST = PictureRequest(
    prompt="a lighthouse at dusk, volumetric light, 35 mm, film grain " * 3,
    aspect_ratio="16:9",
    negative_prompt="blurry",
    seed=1234,
    name="imagine-1234",
)


def build(store: Store, rows: int, rng: random.Random) -> list[int]:
    """Fill the store; returns the ids of its pollable jobs."""
    pollable: list[int] = []
    users = max(rows // 20, 1)
    for n in range(rows):
        created = NOW - (rows - n) * 30.0  # one job every 30 s, oldest first
        job = store.create_job(
            kind=JobKind.VIDEO if n % 5 == 0 else JobKind.IMAGE,
            user_id=10**17 + rng.randrange(users),
            channel_id=10**17 + rng.randrange(50),
            guild_id=10**17,
            request=REQUEST,
            upload_limit=10 * 1024 * 1024,
            now=created,
        )
        if rng.random() < POLLABLE_SHARE:
            store.mark_submitted(job.id, f"job_{n:08d}", NOW + rng.uniform(-30, 60), now=created)
            if rng.random() < 0.5:
                store.set_state(job.id, JobState.WORKING, now=created)
            pollable.append(job.id)
        else:
            store.set_state(job.id, rng.choice(TERMINAL), now=created + 60)
    return pollable


def timings_ms(call: Callable[[int], object], repeat: int) -> dict[str, float]:
    samples = []
    for i in range(repeat):
        start = time.perf_counter_ns()
        call(i)
        samples.append((time.perf_counter_ns() - start) / 1e6)
    samples.sort()
    return {
        "median": round(statistics.median(samples), 4),
        "p95": round(samples[int(len(samples) * 0.95) - 1], 4),
        "max": round(samples[-1], 4),
    }


def cpu_per_1000_polls(store: Store, polls: int, rng: random.Random) -> float:
    """Process CPU seconds for 1 000 polls, the poller's own work excluded."""
    now = NOW
    done = 0
    start = time.process_time()
    while done < polls:
        for job in store.due_jobs(now, limit=DUE_LIMIT):
            store.update(
                job.id,
                progress=min((job.progress or 0) + 7, 99),
                next_poll_at=now + rng.uniform(2.0, 45.0),
                polls=job.polls + 1,
            )
            done += 1
        now += 1.0
    return (time.process_time() - start) * 1000 / done


@contextmanager
def sqlite_store(folder: Path, rows: int) -> Iterator[tuple[Store, Callable[[], float]]]:
    """A SQLite store, and how many MiB it takes on disk."""
    path = folder / f"bench-{rows}.sqlite3"
    with JobStore(path) as store:
        yield store, lambda: path.stat().st_size / 2**20


@contextmanager
def postgres_store(url: str) -> Iterator[tuple[Store, Callable[[], float]]]:
    """A PostgreSQL store in a fresh schema (dropped afterwards), and its tables' MiB."""
    name = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
        try:
            conninfo = psycopg.conninfo.make_conninfo(url, options=f"-c search_path={name}")
            with PgStore(conninfo) as store:

                def size() -> float:
                    total = "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c"
                    where = " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s"
                    row = admin.execute(total + where + " AND c.relkind = 'r'", [name]).fetchone()
                    return float(row[0] or 0) / 2**20 if row else 0.0

                yield store, size
        finally:
            admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))


def measure(
    rows: int, repeat: int, polls: int, folder: Path, database_url: str | None
) -> dict[str, object]:
    rng = random.Random(rows)
    opened = postgres_store(database_url) if database_url else sqlite_store(folder, rows)
    with opened as (store, size_mib):
        started = time.perf_counter()
        pollable = build(store, rows, rng)
        build_s = time.perf_counter() - started
        due_now = NOW + 60  # every pollable job is due: the query always fills its limit

        def due(_: int) -> object:
            return store.due_jobs(due_now, limit=DUE_LIMIT)

        def update(i: int) -> None:
            store.update(
                pollable[i % len(pollable)],
                progress=i % 100,
                next_poll_at=NOW + rng.uniform(-30, 60),
                polls=i,
            )

        def set_state(i: int) -> None:
            forward = (i // len(pollable)) % 2 == 0
            store.set_state(
                pollable[i % len(pollable)],
                JobState.WORKING if forward else JobState.QUEUED,
                only_from={JobState.QUEUED} if forward else {JobState.WORKING},
            )

        figures: dict[str, object] = {
            "rows": rows,
            "pollable": store.pending_count(),
            "build_s": round(build_s, 2),
            "due_jobs_ms": timings_ms(due, repeat),
            "update_ms": timings_ms(update, repeat),
            "set_state_ms": timings_ms(set_state, repeat),
            "cpu_s_per_1000_polls": round(cpu_per_1000_polls(store, polls, rng), 4),
            "backend": "postgresql" if database_url else "sqlite",
        }
        figures["file_mib"] = round(size_mib(), 1)
    return figures


def print_table(results: list[dict[str, object]]) -> None:
    print(f"{'rows':>8} {'operation':<22} {'median ms':>10} {'p95 ms':>10} {'max ms':>10}")
    for result in results:
        for operation in ("due_jobs_ms", "update_ms", "set_state_ms"):
            figures = result[operation]
            assert isinstance(figures, dict)
            print(
                f"{result['rows']:>8} {operation.removesuffix('_ms'):<22}"
                f" {figures['median']:>10.3f} {figures['p95']:>10.3f} {figures['max']:>10.3f}"
            )
        cpu = result["cpu_s_per_1000_polls"]
        print(
            f"{result['rows']:>8} {'CPU s / 1000 polls':<22} {cpu:>10.4f}"
            f"   ({result['pollable']} pollable, built in {result['build_s']} s,"
            f" {result['file_mib']} MiB)"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=2000, help="samples per operation")
    parser.add_argument("--polls", type=int, default=5000, help="simulated polls for CPU time")
    parser.add_argument("--database-url", help="measure a PostgreSQL store on this server")
    args = parser.parse_args(argv)

    results = []
    with tempfile.TemporaryDirectory(prefix="miraflow-store-bench-") as folder:
        for rows in args.rows:
            print(f"building and measuring {rows} rows...", file=sys.stderr, flush=True)
            results.append(measure(rows, args.repeat, args.polls, Path(folder), args.database_url))
    print_table(results)

    at_10k = [r for r in results if r["rows"] == 10_000]
    summary: dict[str, object] = {"target_ms": TARGET_MS, "results": results}
    if at_10k:
        summary["target_met_at_10000"] = all(
            at_10k[0][op]["p95"] <= TARGET_MS  # type: ignore[index]
            for op in ("due_jobs_ms", "update_ms", "set_state_ms")
        )
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
