"""The job store: the behaviour on both backends (the `store` fixture, see conftest.py),
then what is SQLite's own (files, WAL, query plans, its migrations)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlite_utils import Database

import bot.jobs.store.tuning as store_module
from bot.jobs.job_requests import (
    AudioVideoRequest,
    EditRequest,
    FoundVideo,
    InpaintRequest,
    PictureRequest,
    TextVideoRequest,
    UnreadableRequest,
)
from bot.jobs.models import ACTIVE_STATES, POLLABLE_STATES, Job, JobKind, JobSource, JobState
from bot.jobs.store import JobStore, Store, UserDefaults
from bot.jobs.store.migrations import MIGRATIONS, SCHEMA_VERSION, SchemaTooNewError, migrate

T0 = 1_700_000_000.0


@pytest.fixture
def sqlite_store() -> Iterator[JobStore]:
    with JobStore(":memory:") as job_store:
        yield job_store


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "nested" / "folder" / "jobs.sqlite3"


def new_job(store: Store, **overrides: Any) -> Job:
    arguments: dict[str, Any] = {
        "kind": JobKind.IMAGE,
        "user_id": 111,
        "channel_id": 222,
        "guild_id": 333,
        "request": PictureRequest(prompt="a lighthouse at dusk", seed=7),
        "upload_limit": 10 * 1024 * 1024,
        "now": T0,
    }
    arguments.update(overrides)
    return store.create_job(**arguments)


def pollable_job(store: Store, next_poll_at: float, state: JobState = JobState.QUEUED) -> Job:
    job = new_job(store)
    store.mark_submitted(job.id, f"mf-{job.id}", next_poll_at, now=T0)
    if state is not JobState.QUEUED:
        store.set_state(job.id, state, now=T0)
    return store.get(job.id)


def query_plans(store: JobStore, call: Callable[[], object]) -> list[str]:
    """The query plan of every SELECT a store call runs (they all go through sqlite-utils)."""
    seen: list[tuple[str, Any]] = []
    with store._db.tracer(lambda sql, params: seen.append((sql, params))):
        call()
    plans = []
    for sql, params in seen:
        if sql.lstrip().upper().startswith("SELECT"):
            rows = store._db.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
            plans.append(" | ".join(row[-1] for row in rows))
    assert plans, "the call ran no SELECT"
    return plans


# --- Jobs: create, get, update ---


def test_create_job_writes_a_submitting_row(store: Store) -> None:
    job = new_job(
        store,
        kind=JobKind.VIDEO,
        guild_id=None,
        request=TextVideoRequest(avatar_id="a", voice_id="v", text="héllo"),
    )

    assert job.id > 0
    assert job.state is JobState.SUBMITTING
    assert job.kind is JobKind.VIDEO
    assert (job.created_at, job.updated_at) == (T0, T0)
    assert job.miraflow_job_id is None and job.next_poll_at is None and job.submitted_at is None
    assert store.get(job.id) == job
    assert new_job(store).id > job.id


def test_every_job_field_survives_the_round_trip(store: Store) -> None:
    job = new_job(store)
    values: dict[str, Any] = {
        "kind": JobKind.INPAINT,
        "state": JobState.WORKING,
        "user_id": 2**62 + 1,  # Discord snowflakes need all 64 bits
        "channel_id": 2**62 + 2,
        "guild_id": 2**62 + 3,
        "miraflow_job_id": "job_abc",
        "status_message_id": 2**62 + 4,
        "result_message_id": 2**62 + 5,
        "result_channel_id": 2**62 + 6,
        "request": InpaintRequest(
            prompt="ünïcode ✓", original_media_id="m1", mask_media_id="m2", seed=2**31 - 1
        ),
        "source": JobSource.REROLL,
        "progress": 42,
        "next_poll_at": T0 + 10.5,
        "attempts": 3,
        "polls": 17,
        "upload_limit": 50 * 1024 * 1024,
        "error": "boom",
        "created_at": T0 - 1.25,
        "updated_at": T0 + 2.5,
        "submitted_at": T0 + 0.5,
        "completed_at": T0 + 3.5,
        "ended_at": T0 + 3.25,
        "delivered_at": T0 + 4.5,
        "status_edited_at": T0 + 5.5,
        "asked_channel_id": 2**62 + 7,
    }
    assert set(values) == {f.name for f in dataclasses.fields(Job)} - {"id"}

    store.update(job.id, **values)

    assert store.get(job.id) == Job(id=job.id, **values)


def test_durations_run_to_when_jobs_probably_ended_else_to_when_they_were_found_done(
    store: Store,
) -> None:
    estimated, found_only = new_job(store), new_job(store)
    for job in (estimated, found_only):
        store.mark_submitted(job.id, f"mf-{job.id}", T0, now=T0)
    # Found done 12 s in, having last been seen working 8 s in: it ended about 10 s in.
    store.set_state(estimated.id, JobState.COMPLETE, now=T0 + 12.0, ended_at=T0 + 10.0)
    store.set_state(found_only.id, JobState.COMPLETE, now=T0 + 20.0)  # as before schema v6

    assert sorted(store.recent_durations(JobKind.IMAGE, 10)) == [10.0, 20.0]
    assert store.get(estimated.id).completed_at == T0 + 12.0


def test_get_of_a_missing_job_is_none(store: Store) -> None:
    assert store.get(12345) is None


def test_update_converts_values_and_stamps_updated_at(store: Store) -> None:
    job = new_job(store)

    request = EditRequest(prompt="a", media_ids=("m1",))
    written = store.update(
        job.id, state="working", kind="edit", request=request, source="reroll", progress=5
    )

    updated = store.get(job.id)
    assert written == updated
    assert updated.state is JobState.WORKING
    assert updated.kind is JobKind.EDIT
    assert updated.request == request
    assert updated.source is JobSource.REROLL
    assert updated.progress == 5
    assert updated.updated_at > T0  # stamped with the real clock


@pytest.mark.parametrize("field", ["id", "nonce", "no_such_field"])
def test_update_refuses_unknown_fields(store: Store, field: str) -> None:
    job = new_job(store)

    with pytest.raises(ValueError, match=field):
        store.update(job.id, **{field: 1})

    assert store.get(job.id) == job


def test_update_refuses_an_invalid_state_and_leaves_no_transaction_open(
    sqlite_store: JobStore,
) -> None:
    job = new_job(sqlite_store)

    with pytest.raises(ValueError):
        sqlite_store.update(job.id, state="exploded")

    assert sqlite_store.get(job.id) == job
    assert not sqlite_store._db.conn.in_transaction


def test_params_that_are_not_a_json_object_read_as_empty(store: Store) -> None:
    broken = new_job(store)
    not_object = new_job(store)
    store._write("UPDATE jobs SET params = '{not json' WHERE id = ?", [broken.id])
    store._write("UPDATE jobs SET params = '[1, 2]' WHERE id = ?", [not_object.id])

    assert store.get(broken.id).request == UnreadableRequest({})
    assert store.get(not_object.id).request == UnreadableRequest({})


def test_params_keep_keys_this_version_does_not_know(store: Store) -> None:
    params = {"v": 99, "type": "picture", "added_by_a_future_version": {"deep": [1, "two", None]}}
    job = new_job(store, request=UnreadableRequest(params))

    assert store.get(job.id).request == UnreadableRequest(params)
    rewritten = store.update(job.id, progress=1)
    assert rewritten is not None and rewritten.request == UnreadableRequest(params)


@pytest.mark.parametrize(
    ("kind", "params", "expected"),
    [
        (
            "image",
            {"prompt": "p", "name": "n", "aspect_ratio": "1:1", "negative_prompt": None, "seed": 3},
            PictureRequest(prompt="p", name="n", aspect_ratio="1:1", seed=3),
        ),
        (
            "edit",
            {"prompt": "p", "name": "n", "seed": 4, "media_ids": ["m1", "m2"]},
            EditRequest(prompt="p", name="n", seed=4, media_ids=("m1", "m2")),
        ),
        (
            "inpaint",
            {"prompt": "p", "name": "n", "original_media_id": "o", "mask_media_id": "k"},
            InpaintRequest(prompt="p", name="n", original_media_id="o", mask_media_id="k"),
        ),
        (
            "video",
            {
                "avatar_id": "a",
                "avatar_name": "Ava",
                "name": "n",
                "voice_id": "v",
                "voice_name": "Aria",
                "text": "hi",
                "full_body": True,
            },
            TextVideoRequest(
                avatar_id="a",
                avatar_name="Ava",
                name="n",
                voice_id="v",
                voice_name="Aria",
                text="hi",
                full_body=True,
            ),
        ),
        (
            "video",
            {"avatar_id": "a", "name": "n", "audio_media_id": "m"},
            AudioVideoRequest(avatar_id="a", name="n", audio_media_id="m"),
        ),
        (
            "video",
            {"name": "old", "video_id": "vid", "avatar_id": "a", "adopted": True},
            FoundVideo(name="old", video_id="vid", avatar_id="a"),
        ),
    ],
)
def test_a_request_stored_before_typed_records_still_loads(
    store: Store, kind: str, params: dict[str, Any], expected: object
) -> None:
    job = new_job(store)
    store._write(
        "UPDATE jobs SET kind = ?, params = ? WHERE id = ?", [kind, json.dumps(params), job.id]
    )

    assert store.get(job.id).request == expected


def test_a_stored_request_carries_its_format_version(store: Store) -> None:
    job = new_job(store)
    ((text,),) = store._read("SELECT params FROM jobs WHERE id = ?", [job.id])

    assert json.loads(text) == {
        "v": 2,
        "type": "picture",
        "prompt": "a lighthouse at dusk",
        "name": "",
        "aspect_ratio": None,
        "negative_prompt": None,
        "seed": 7,
        "style": None,
    }


# --- Jobs: state changes ---


def test_mark_submitted_moves_a_submitting_job_to_queued(store: Store) -> None:
    job = new_job(store)

    moved = store.mark_submitted(job.id, "mf-1", next_poll_at=T0 + 4, now=T0 + 1)
    assert moved is not None and moved.state is JobState.QUEUED
    assert moved == store.get(job.id)

    submitted = store.get(job.id)
    assert submitted.state is JobState.QUEUED
    assert submitted.miraflow_job_id == "mf-1"
    assert submitted.next_poll_at == T0 + 4
    assert submitted.submitted_at == T0 + 1
    assert submitted.updated_at == T0 + 1


def test_mark_submitted_records_the_id_but_keeps_a_cancelled_job_cancelled(
    store: Store,
) -> None:
    job = new_job(store)
    store.set_state(job.id, JobState.CANCELLED, now=T0)

    kept = store.mark_submitted(job.id, "mf-2", next_poll_at=T0 + 4, now=T0 + 1)
    assert kept is not None and kept.state is JobState.CANCELLED

    cancelled = store.get(job.id)
    assert cancelled.state is JobState.CANCELLED
    assert cancelled.miraflow_job_id == "mf-2"  # what was paid for stays known
    assert cancelled.next_poll_at is None
    assert store.mark_submitted(999, "mf-3", next_poll_at=T0) is None


def test_guarded_set_state_changes_nothing_from_another_state(store: Store) -> None:
    job = new_job(store)
    before = store.get(job.id)

    changed = store.set_state(
        job.id, JobState.FAILED, error="x", now=T0 + 9, only_from={JobState.WORKING}
    )

    assert changed is None
    assert store.get(job.id) == before
    assert store.set_state(job.id, JobState.FAILED, only_from=()) is None
    assert store.set_state(999, JobState.FAILED) is None


def test_guarded_set_state_moves_from_an_allowed_state(store: Store) -> None:
    job = new_job(store)

    changed = store.set_state(
        job.id,
        JobState.FAILED,
        error="out of credits",
        now=T0 + 9,
        only_from={JobState.SUBMITTING, JobState.QUEUED},
    )

    failed = store.get(job.id)
    assert changed == failed
    assert failed.state is JobState.FAILED
    assert failed.error == "out of credits"
    assert failed.updated_at == T0 + 9


def test_set_state_stamps_completion_and_delivery_once(store: Store) -> None:
    job = pollable_job(store, T0 + 1, JobState.WORKING)

    assert store.set_state(job.id, JobState.COMPLETE, now=T0 + 10)
    assert store.set_state(job.id, JobState.COMPLETE, now=T0 + 11)  # a repeat keeps the first
    assert store.set_state(job.id, JobState.DELIVERED, now=T0 + 20)
    assert store.set_state(job.id, JobState.DELIVERED, now=T0 + 21)

    done = store.get(job.id)
    assert done.completed_at == T0 + 10
    assert done.delivered_at == T0 + 20
    assert done.updated_at == T0 + 21


def test_set_state_keeps_the_error_unless_given(store: Store) -> None:
    job = new_job(store)
    store.set_state(job.id, JobState.UNKNOWN, error="the create call timed out", now=T0)

    store.set_state(job.id, JobState.UNKNOWN, now=T0 + 1)
    assert store.get(job.id).error == "the create call timed out"

    store.set_state(job.id, JobState.FAILED, error="later", now=T0 + 2)
    assert store.get(job.id).error == "later"


def test_a_job_entering_a_pollable_state_without_a_poll_time_is_due_at_once(
    store: Store,
) -> None:
    job = new_job(store)

    store.set_state(job.id, JobState.COMPLETE, now=T0 + 5)

    assert store.get(job.id).next_poll_at == T0 + 5
    assert [j.id for j in store.due_jobs(T0 + 5, limit=10)] == [job.id]


# --- Jobs: the poller's queries ---


def test_due_jobs_are_pollable_due_jobs_soonest_first(store: Store) -> None:
    later = pollable_job(store, T0 + 30, JobState.WORKING)
    soonest = pollable_job(store, T0 + 10)
    undelivered = pollable_job(store, T0 + 20, JobState.COMPLETE)
    pollable_job(store, T0 + 99)  # not due yet
    finished = pollable_job(store, T0 + 1, JobState.WORKING)
    store.set_state(finished.id, JobState.DELIVERED, now=T0)
    new_job(store)  # submitting: not the poller's business
    store.update(new_job(store).id, next_poll_at=T0)  # still submitting

    due = store.due_jobs(T0 + 30, limit=50)

    assert [j.id for j in due] == [soonest.id, undelivered.id, later.id]
    assert [j.id for j in store.due_jobs(T0 + 30, limit=2)] == [soonest.id, undelivered.id]
    assert store.due_jobs(T0, limit=50) == []


def test_due_jobs_break_ties_by_id(store: Store) -> None:
    ids = [pollable_job(store, T0 + 5).id for _ in range(4)]

    assert [j.id for j in store.due_jobs(T0 + 5, limit=10)] == ids


def test_next_due_at_and_pending_count_look_at_pollable_jobs_only(store: Store) -> None:
    assert store.next_due_at() is None
    assert store.pending_count() == 0

    new_job(store)  # submitting
    cancelled = pollable_job(store, T0 + 1)
    store.set_state(cancelled.id, JobState.CANCELLED)
    pollable_job(store, T0 + 50, JobState.COMPLETE)
    pollable_job(store, T0 + 20, JobState.WORKING)

    assert store.next_due_at() == T0 + 20
    assert store.pending_count() == 2


def test_jobs_in_states(store: Store) -> None:
    submitting = [new_job(store), new_job(store)]
    working = pollable_job(store, T0, JobState.WORKING)

    assert store.jobs_in_states({JobState.SUBMITTING}) == submitting
    found = store.jobs_in_states([JobState.WORKING, JobState.SUBMITTING])
    assert [j.id for j in found] == [submitting[0].id, submitting[1].id, working.id]
    assert store.jobs_in_states([]) == []


# --- Jobs: per-user queries ---


def test_active_count_counts_the_users_unfinished_jobs(store: Store) -> None:
    mine = [new_job(store, user_id=1) for _ in range(len(JobState))]
    for job, state in zip(mine, JobState, strict=True):
        store.update(job.id, state=state)
    new_job(store, user_id=2)

    assert store.active_count(1) == len(ACTIVE_STATES)
    assert store.active_count(2) == 1
    assert store.active_count(3) == 0


def test_on_key_in_guild_counts_the_jobs_that_still_need_the_servers_key(store: Store) -> None:
    ours = [new_job(store, guild_id=5) for _ in range(len(JobState))]
    for job, state in zip(ours, JobState, strict=True):
        store.update(job.id, state=state)
    new_job(store, guild_id=6)
    video = {"kind": JobKind.VIDEO, "guild_id": 5}
    video["request"] = TextVideoRequest(avatar_id="a", voice_id="v", text="hi", name="clip #1")
    looked_for = new_job(store, **video, now=T0 + 10)  # unclear: found by name later
    too_old = new_job(store, **video, now=T0 - 10)
    found = new_job(store, **video, now=T0 + 10)
    for job in (looked_for, too_old, found):
        store.set_state(job.id, JobState.UNKNOWN)
    store.update(found.id, miraflow_job_id="cfound")

    assert store.on_key_in_guild(5, unclear_since=T0) == len(ACTIVE_STATES) + 1
    assert store.on_key_in_guild(6, unclear_since=T0) == 1
    assert store.on_key_in_guild(7, unclear_since=T0) == 0


def test_count_since_counts_jobs_created_from_then_on_in_any_state(store: Store) -> None:
    new_job(store, user_id=1, now=T0 - 1)
    at_start = new_job(store, user_id=1, now=T0)
    store.set_state(at_start.id, JobState.FAILED)
    new_job(store, user_id=1, now=T0 + 100)
    new_job(store, user_id=2, now=T0 + 100)

    assert store.count_since(1, T0) == 2
    assert store.count_since(1, T0 + 101) == 0
    assert store.count_since(2, 0) == 1


def test_recent_jobs_newest_first(store: Store) -> None:
    old = new_job(store, user_id=1, now=T0)
    newest = new_job(store, user_id=1, now=T0 + 20)
    same_time_a = new_job(store, user_id=1, now=T0 + 10)
    same_time_b = new_job(store, user_id=1, now=T0 + 10)
    new_job(store, user_id=2, now=T0 + 30)

    recent = store.recent_jobs(1)
    assert [j.id for j in recent] == [newest.id, same_time_b.id, same_time_a.id, old.id]
    assert [j.id for j in store.recent_jobs(1, limit=2)] == [newest.id, same_time_b.id]


def test_pending_jobs_of_lists_the_users_active_jobs_newest_first(store: Store) -> None:
    older = new_job(store, user_id=1, now=T0)
    delivered = new_job(store, user_id=1, now=T0 + 1)
    store.set_state(delivered.id, JobState.DELIVERED)
    newer = new_job(store, user_id=1, now=T0 + 2)
    store.mark_submitted(newer.id, "mf", T0 + 5)
    new_job(store, user_id=2, now=T0 + 3)

    assert [j.id for j in store.pending_jobs_of(1)] == [newer.id, older.id]
    assert store.pending_jobs_of(3) == []


# --- Per-user defaults and meta ---


def test_user_defaults_update_only_what_is_given(store: Store) -> None:
    assert store.get_user_defaults(1) is None

    first = store.set_user_defaults(1, avatar_id="av1", avatar_name="Ada", now=T0)
    assert first == UserDefaults(1, avatar_id="av1", avatar_name="Ada", updated_at=T0)

    store.set_user_defaults(1, voice_id="vo1", voice_name="Nova", now=T0 + 1)
    store.set_user_defaults(2, voice_id="vo9", now=T0 + 2)

    assert store.get_user_defaults(1) == UserDefaults(
        user_id=1,
        avatar_id="av1",
        voice_id="vo1",
        avatar_name="Ada",
        voice_name="Nova",
        updated_at=T0 + 1,
    )
    assert store.get_user_defaults(2) == UserDefaults(2, voice_id="vo9", updated_at=T0 + 2)

    store.set_user_defaults(1, avatar_id="av2", now=T0 + 3)
    assert store.get_user_defaults(1).avatar_id == "av2"
    assert store.get_user_defaults(1).voice_id == "vo1"


def test_meta_get_and_set(store: Store) -> None:
    assert store.get_meta("command_hash") is None

    store.set_meta("command_hash", "abc")
    store.set_meta("other", "1")
    store.set_meta("command_hash", "def")

    assert store.get_meta("command_hash") == "def"
    assert store.get_meta("other") == "1"


def test_meta_delete(store: Store) -> None:
    store.set_meta("gone", "1")
    store.set_meta("kept", "2")

    assert store.delete_meta("gone") is True
    assert store.delete_meta("gone") is False
    assert store.get_meta("gone") is None
    assert store.get_meta("kept") == "2"


# --- Transactions, files, connections ---


def test_no_call_leaves_a_transaction_open(sqlite_store: JobStore) -> None:
    job = new_job(sqlite_store)
    calls = [
        lambda: sqlite_store.get(job.id),
        lambda: sqlite_store.mark_submitted(job.id, "mf", T0),
        lambda: sqlite_store.update(job.id, progress=1),
        lambda: sqlite_store.set_state(job.id, JobState.WORKING, only_from={JobState.QUEUED}),
        lambda: sqlite_store.due_jobs(T0, 5),
        sqlite_store.next_due_at,
        sqlite_store.pending_count,
        lambda: sqlite_store.jobs_in_states(JobState),
        lambda: sqlite_store.active_count(111),
        lambda: sqlite_store.count_since(111, 0),
        lambda: sqlite_store.recent_jobs(111),
        lambda: sqlite_store.pending_jobs_of(111),
        lambda: sqlite_store.set_meta("k", "v"),
        lambda: sqlite_store.get_meta("k"),
        lambda: sqlite_store.set_user_defaults(111, avatar_id="a"),
        lambda: sqlite_store.get_user_defaults(111),
    ]
    for call in calls:
        call()
        assert not sqlite_store._db.conn.in_transaction, call


def test_each_write_is_visible_at_once_to_another_connection(db_path: Path) -> None:
    with JobStore(db_path) as writer, JobStore(db_path) as reader:
        job = new_job(writer)
        assert reader.get(job.id) == job

        writer.mark_submitted(job.id, "mf", T0 + 3)
        writer.set_meta("k", "v")

        assert reader.get(job.id).state is JobState.QUEUED
        assert [j.id for j in reader.due_jobs(T0 + 3, 10)] == [job.id]
        assert reader.get_meta("k") == "v"


def test_a_file_database_uses_wal_and_a_busy_timeout(db_path: Path) -> None:
    with JobStore(db_path) as store:
        assert db_path.parent.is_dir()  # created with its parents
        assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store._db.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
        assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL

    # WAL is a property of the file: a plain connection sees it too.
    plain = sqlite3.connect(db_path)
    try:
        assert plain.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        plain.close()


def test_reopening_a_file_database_keeps_everything(db_path: Path) -> None:
    with JobStore(db_path) as store:
        job = new_job(store)
        store.mark_submitted(job.id, "mf", T0 + 5, now=T0 + 1)
        store.set_meta("command_hash", "abc")
        store.set_user_defaults(111, avatar_id="av")
        saved = store.get(job.id)

    with JobStore(db_path) as reopened:
        assert reopened.get(job.id) == saved
        assert reopened.get_meta("command_hash") == "abc"
        assert reopened.get_user_defaults(111).avatar_id == "av"
        assert new_job(reopened).id == job.id + 1


def test_close_closes_the_connection_and_can_be_repeated(db_path: Path) -> None:
    store = JobStore(db_path)
    new_job(store)
    connection = store._db.conn
    checkpointer = store._checkpointer
    assert checkpointer is not None

    store.close()
    store.close()

    with pytest.raises(sqlite3.ProgrammingError):
        connection.execute("SELECT 1")
    assert not checkpointer._thread.is_alive()
    # The last connection out folds the WAL into the database file and removes it.
    assert not db_path.with_name(db_path.name + "-wal").exists()


def test_wal_checkpoints_run_in_the_background(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "CHECKPOINT_AFTER_WRITES", 5)
    with JobStore(db_path) as store:
        # Commits checkpoint by themselves only as a fallback, far behind the thread.
        autocheckpoint = store._db.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
        assert autocheckpoint == store_module.FALLBACK_AUTOCHECKPOINT_PAGES
        checkpointer = store._checkpointer
        assert checkpointer is not None

        job = new_job(store)
        for polls in range(10):
            store.update(job.id, polls=polls)

        deadline = time.monotonic() + 10
        while checkpointer.frames_checkpointed == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert checkpointer.frames_checkpointed > 0
        assert store.get(job.id).polls == 9


def test_an_in_memory_store_has_no_checkpointer(sqlite_store: JobStore) -> None:
    assert sqlite_store._checkpointer is None


async def test_the_store_can_be_used_from_another_thread(store: Store) -> None:
    job = new_job(store)

    assert await asyncio.to_thread(store.get, job.id) == job


# --- Schema migrations ---


def test_a_new_database_is_at_the_latest_schema_version(sqlite_store: JobStore) -> None:
    assert sqlite_store._db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert {"jobs", "user_defaults", "meta"} <= set(sqlite_store._db.table_names())


def test_a_v1_database_is_upgraded_and_keeps_its_jobs(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    old = Database(sqlite3.connect(db_path, isolation_level=None))
    assert migrate(old, MIGRATIONS[:1]) == 1
    old["jobs"].insert(
        {
            "kind": "image",
            "state": "queued",
            "user_id": 5,
            "channel_id": 6,
            "params": '{"prompt": "from v1"}',
            "next_poll_at": T0,
            "upload_limit": 1024,
            "created_at": T0,
            "updated_at": T0,
        }
    )
    assert "meta" not in old.table_names()
    old.close()

    with JobStore(db_path) as store:
        assert store._db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        job = store.due_jobs(T0, limit=10)[0]
        assert (job.user_id, job.request) == (5, PictureRequest(prompt="from v1"))
        assert job.source is JobSource.COMMAND
        store.set_meta("k", "v")
        store.set_user_defaults(5, voice_id="vo")
        assert store.get_meta("k") == "v"
        assert store.get_user_defaults(5).voice_id == "vo"


def test_migrating_an_up_to_date_database_only_reads_its_version(db_path: Path) -> None:
    JobStore(db_path).close()
    connection = sqlite3.connect(db_path, isolation_level=None)
    statements: list[str] = []
    connection.set_trace_callback(statements.append)
    try:
        assert migrate(Database(connection, execute_plugins=False)) == SCHEMA_VERSION
    finally:
        connection.close()

    migration_statements = [s for s in statements if "recursive_triggers" not in s]
    assert migration_statements == ["PRAGMA user_version", "PRAGMA user_version"]


def test_a_failing_migration_leaves_the_previous_version_intact(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    db = Database(sqlite3.connect(db_path, isolation_level=None))
    broken = (MIGRATIONS[0], "CREATE TABLE half_done (x INTEGER); SELECT no_such_function();")

    with pytest.raises(sqlite3.OperationalError):
        migrate(db, broken)

    assert db.execute("PRAGMA user_version").fetchone()[0] == 1
    assert "half_done" not in db.table_names()
    assert "jobs" in db.table_names()
    assert not db.conn.in_transaction
    db.close()


def test_a_database_from_a_newer_bot_is_refused(db_path: Path) -> None:
    JobStore(db_path).close()
    connection = sqlite3.connect(db_path)
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    connection.close()

    with pytest.raises(SchemaTooNewError, match="upgrade the bot"):
        JobStore(db_path)


# --- Query plans: the hot queries use their indexes ---


def fill_realistic_rows(store: Store, count: int) -> None:
    """Mostly finished jobs, about one in ten still pollable, over a few users."""
    terminal = [JobState.DELIVERED, JobState.FAILED, JobState.EXPIRED, JobState.CANCELLED]
    for n in range(count):
        job = new_job(store, user_id=n % 7, now=T0 + n)
        store.mark_submitted(job.id, f"mf{n}", T0 + n, now=T0 + n)
        if n % 10:
            store.set_state(job.id, terminal[n % len(terminal)], now=T0 + n)


@pytest.mark.parametrize("analyzed", [False, True], ids=["fresh", "after-analyze"])
def test_the_poller_queries_use_the_partial_due_index(
    sqlite_store: JobStore, analyzed: bool
) -> None:
    fill_realistic_rows(sqlite_store, 300)
    if analyzed:  # statistics must not lure the planner away from the index
        sqlite_store._db.execute("ANALYZE")

    (due_plan,) = query_plans(sqlite_store, lambda: sqlite_store.due_jobs(T0 + 100, 50))
    assert "USING INDEX jobs_due (next_poll_at<?)" in due_plan, due_plan
    assert "TEMP B-TREE" not in due_plan, due_plan  # the index gives the order

    for call in (sqlite_store.next_due_at, sqlite_store.pending_count):
        (plan,) = query_plans(sqlite_store, call)
        assert "INDEX jobs_due" in plan, plan


def test_the_due_index_covers_exactly_the_pollable_states(sqlite_store: JobStore) -> None:
    (sql,) = sqlite_store._db.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'jobs_due'"
    ).fetchone()
    for state in JobState:
        assert (f"'{state.value}'" in sql) == (state in POLLABLE_STATES), state


def test_the_per_user_queries_use_the_user_index(sqlite_store: JobStore) -> None:
    fill_realistic_rows(sqlite_store, 100)
    calls: list[Callable[[], object]] = [
        lambda: sqlite_store.recent_jobs(3),
        lambda: sqlite_store.pending_jobs_of(3),
        lambda: sqlite_store.active_count(3),
        lambda: sqlite_store.count_since(3, T0),
    ]
    for call in calls:
        (plan,) = query_plans(sqlite_store, call)
        assert "INDEX jobs_user_created (user_id=?" in plan, plan
        assert "TEMP B-TREE" not in plan, plan


def test_adopted_results_do_not_count_towards_the_daily_quota(store: Store) -> None:
    new_job(store, user_id=7)
    new_job(
        store,
        user_id=7,
        request=FoundVideo(name="an old video", video_id="v"),
        source=JobSource.VIDEOS_GET,
    )
    assert store.count_since(7, T0 - 1) == 1


def test_a_v3_database_moves_adopted_jobs_to_the_source_column(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    old = Database(sqlite3.connect(db_path, isolation_level=None))
    assert migrate(old, MIGRATIONS[:3]) == 3
    row = {"state": "delivered", "user_id": 7, "channel_id": 1, "upload_limit": 1}
    row.update(created_at=T0, updated_at=T0)
    old["jobs"].insert({**row, "kind": "video", "params": '{"video_id": "v", "adopted": true}'})
    old["jobs"].insert({**row, "kind": "image", "params": '{"prompt": "p", "seed": 1}'})
    old["jobs"].insert({**row, "kind": "image", "params": "{not json"})
    old.close()

    with JobStore(db_path) as store:
        adopted, asked, broken = (store.get(n) for n in (1, 2, 3))
        assert adopted.source is JobSource.VIDEOS_GET
        assert adopted.request == FoundVideo(video_id="v")
        assert asked.source is JobSource.COMMAND
        assert asked.request == PictureRequest(prompt="p", seed=1)
        assert broken.source is JobSource.COMMAND
        assert store.count_since(7, T0 - 1) == 2
