"""How fast processes sharing one PostgreSQL store claim jobs, and that none is claimed twice.

    python bench/claims.py [--jobs 5000] [--processes 1 2] [--batch 8]
                           [--database-url postgresql://postgres@127.0.0.1:5432/test]

For each process count it fills a fresh schema (dropped afterwards) with `--jobs` due jobs,
then starts that many worker processes at once. Each one, as the poller does, claims up to
`--batch` due jobs (`SharedStore.due_jobs`: `FOR UPDATE SKIP LOCKED` + a `job_claims` row)
and finishes each (a guarded `set_state` to delivered), until none is left. It prints a table,
then the figures as JSON on the last line: claims per second for all the processes together,
and how many jobs were claimed twice (must be 0).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
import uuid
from collections import Counter

import psycopg
from psycopg import sql

from bot.jobs.claims import STALE_AFTER, SharedStore
from bot.jobs.job_requests import PictureRequest
from bot.jobs.models import WAITING_STATES, JobKind, JobState
from bot.jobs.store.postgres import PgStore

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"


def fill(conninfo: str, jobs: int) -> None:
    with PgStore(conninfo) as store:
        for n in range(jobs):
            job = store.create_job(
                kind=JobKind.IMAGE,
                user_id=n % 97,
                channel_id=1,
                guild_id=1,
                request=PictureRequest("a lighthouse"),
                upload_limit=1024,
                now=0.0,
            )
            store.mark_submitted(job.id, f"mf-{n}", next_poll_at=0.0, now=0.0)


def work(conninfo: str, batch: int, start: float, out: multiprocessing.Queue) -> None:
    """One worker: claim and finish jobs until none is due; reports the ids it claimed."""
    with PgStore(conninfo) as store:
        source = SharedStore(store.claim_rows(STALE_AFTER))
        while time.time() < start:
            time.sleep(0.001)
        claimed: list[int] = []
        while True:
            jobs = source.due_jobs(time.time(), batch)
            if not jobs and store.pending_count() == 0:
                break
            for job in jobs:
                claimed.append(job.id)
                store.set_state(job.id, JobState.DELIVERED, only_from=WAITING_STATES)
        out.put((claimed, time.time()))


def measure(url: str, jobs: int, processes: int, batch: int) -> dict[str, object]:
    name = f"bench_{uuid.uuid4().hex[:12]}"
    conninfo = psycopg.conninfo.make_conninfo(url, options=f"-c search_path={name}")
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
        try:
            fill(conninfo, jobs)
            out: multiprocessing.Queue = multiprocessing.Queue()
            start = time.time() + 1.0  # every worker has opened its pool by then
            workers = [
                multiprocessing.Process(target=work, args=(conninfo, batch, start, out))
                for _ in range(processes)
            ]
            for process in workers:
                process.start()
            reports = [out.get(timeout=600) for _ in workers]
            for process in workers:
                process.join()
        finally:
            admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))
    counts = Counter(job_id for claimed, _ in reports for job_id in claimed)
    elapsed = max(end for _, end in reports) - start
    return {
        "processes": processes,
        "jobs": jobs,
        "batch": batch,
        "claimed": sum(counts.values()),
        "claimed_twice": sum(1 for n in counts.values() if n > 1),
        "per_process": [len(claimed) for claimed, _ in reports],
        "seconds": round(elapsed, 2),
        "claims_per_s": round(sum(counts.values()) / elapsed),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch", type=int, default=8, help="jobs claimed at a time")
    parser.add_argument("--database-url", default=DEFAULT_URL)
    args = parser.parse_args(argv)

    results = []
    for processes in args.processes:
        print(f"{processes} processes, {args.jobs} jobs...", file=sys.stderr, flush=True)
        results.append(measure(args.database_url, args.jobs, processes, args.batch))
    print(f"{'processes':>9} {'claims/s':>9} {'seconds':>8} {'twice':>6}  per process")
    for r in results:
        print(
            f"{r['processes']:>9} {r['claims_per_s']:>9} {r['seconds']:>8} "
            f"{r['claimed_twice']:>6}  {r['per_process']}"
        )
    print(json.dumps({"results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
