"""The job store's schema, one numbered migration at a time (`PRAGMA user_version`).

Each migration is frozen SQL: never edit one that has shipped, append a new one instead.
`migrate` applies the missing ones in order, each in its own transaction together with its
bump of `user_version`, so a failure leaves the database at the previous version.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sqlite_utils import Database

# v1: the jobs table and its two hot indexes.
_V1_JOBS = """
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: result nonces and buttons name it
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    user_id INTEGER NOT NULL,
    channel_id INTEGER NOT NULL,
    guild_id INTEGER,
    miraflow_job_id TEXT,
    status_message_id INTEGER,
    result_message_id INTEGER,
    params TEXT NOT NULL DEFAULT '{}',
    progress INTEGER,
    next_poll_at REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    polls INTEGER NOT NULL DEFAULT 0,
    upload_limit INTEGER NOT NULL,
    error TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    submitted_at REAL,
    completed_at REAL,
    delivered_at REAL,
    status_edited_at REAL
);
-- The poller's "what is due" query. Only pollable jobs are indexed, so the index stays small
-- however many finished jobs pile up. The store's queries repeat this exact predicate
-- (same states, same order): SQLite only uses a partial index when the query's WHERE
-- contains its WHERE term for term.
CREATE INDEX jobs_due ON jobs (next_poll_at)
    WHERE state IN ('complete', 'queued', 'working');
CREATE INDEX jobs_user_created ON jobs (user_id, created_at);
"""

# v2: per-user /speak defaults, and small key-value settings such as the command-sync hash.
_V2_DEFAULTS_AND_META = """
CREATE TABLE user_defaults (
    user_id INTEGER PRIMARY KEY,
    avatar_id TEXT,
    voice_id TEXT,
    avatar_name TEXT,
    voice_name TEXT,
    updated_at REAL NOT NULL
);
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

_V3_RESULT_CHANNEL = """
ALTER TABLE jobs ADD COLUMN result_channel_id INTEGER;
"""

# v4: where a job came from is a column, not an `adopted` key in its params. Requests
# written from now on carry a format version in their JSON; older ones are read as they are.
_V4_SOURCE = """
ALTER TABLE jobs ADD COLUMN source TEXT NOT NULL DEFAULT 'command';
UPDATE jobs SET source = 'videos_get'
    WHERE CASE WHEN json_valid(params) THEN json_extract(params, '$.adopted') END IS NOT NULL;
"""

# v5: per-server settings (/settings); a row or value absent means "the .env default".
# A job delivered by DM (`/settings delivery`) keeps the server channel it was asked in.
_V5_GUILD_SETTINGS = """
CREATE TABLE guild_settings (
    guild_id INTEGER PRIMARY KEY,
    max_active INTEGER,
    max_daily INTEGER,
    server_daily INTEGER,  -- 0: no cap
    log_channel_id INTEGER,  -- NULL: no moderators' log
    delivery TEXT,  -- 'channel' or 'dm'
    updated_at REAL NOT NULL
);
CREATE TABLE guild_words (
    guild_id INTEGER NOT NULL,
    key TEXT NOT NULL,  -- the normalised words: one entry per meaning
    word TEXT NOT NULL,  -- as the admin wrote it
    added_at REAL NOT NULL,
    PRIMARY KEY (guild_id, key)
);
CREATE TABLE guild_styles (
    guild_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    text TEXT NOT NULL DEFAULT '',
    negative TEXT NOT NULL DEFAULT '',
    updated_at REAL NOT NULL,
    PRIMARY KEY (guild_id, name)
);
-- The server-wide daily cap counts a server's jobs of the last day.
CREATE INDEX jobs_guild_created ON jobs (guild_id, created_at);
ALTER TABLE jobs ADD COLUMN asked_channel_id INTEGER;
"""

# v6: when a finished job probably ended (the bot's estimate), beside when it was found done:
# durations learned from the store at a start are read from it (found-done times run late by
# up to a poll's spacing, and a job found done at its first poll would put the shortest
# durations, and so the first polls, later at each restart).
_V6_ENDED_AT = """
ALTER TABLE jobs ADD COLUMN ended_at REAL;
"""

MIGRATIONS: tuple[str, ...] = (
    _V1_JOBS,
    _V2_DEFAULTS_AND_META,
    _V3_RESULT_CHANNEL,
    _V4_SOURCE,
    _V5_GUILD_SETTINGS,
    _V6_ENDED_AT,
)
SCHEMA_VERSION = len(MIGRATIONS)


class SchemaTooNewError(RuntimeError):
    """The database was written by a newer version of the bot than this one."""


@contextmanager
def write_transaction(db: Database) -> Iterator[None]:
    """One write transaction, taking the write lock at once.

    `BEGIN IMMEDIATE` rather than a plain `BEGIN`: a deferred transaction that reads first
    and writes later can fail with SQLITE_BUSY without waiting when another connection wrote
    in between, whereas waiting for the write lock up front honours the busy timeout.
    """
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        db.conn.execute("COMMIT")
    except BaseException:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        raise


def schema_version(db: Database) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def migrate(db: Database, migrations: Sequence[str] = MIGRATIONS) -> int:
    """Bring the database up to `len(migrations)`; returns the version it is now at.

    An up-to-date database is only read, never written.
    """
    target = len(migrations)
    current = schema_version(db)
    if current > target:
        raise SchemaTooNewError(
            f"the database is at schema version {current}, but this version of the bot "
            f"knows only up to {target}: upgrade the bot"
        )
    for number in range(current + 1, target + 1):
        with write_transaction(db):
            # Another process may have applied it since the read above.
            if schema_version(db) >= number:
                continue
            db.executescript(migrations[number - 1])
            # PRAGMA takes no bound parameters; `number` is an int.
            db.execute(f"PRAGMA user_version = {number}")
    return schema_version(db)
