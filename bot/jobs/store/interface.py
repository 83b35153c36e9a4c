"""What the engine and the commands need of a store. `JobStore` (SQLite) is one; another
backend (PostgreSQL) implements the same methods and nothing else has to change.

Writes return the row they wrote (`UPDATE … RETURNING`), or None when no row matched.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Protocol

from bot.jobs.job_requests import JobRequest
from bot.jobs.models import Job, JobKind, JobSource, JobState
from bot.jobs.store.guild_settings import GuildSettingsStore
from bot.jobs.store.user_defaults import UserDefaults


class Store(Protocol):
    guild_settings: GuildSettingsStore  # per-server settings (`/settings`)

    def close(self) -> None: ...

    # --- jobs: writes ---
    def create_job(
        self,
        *,
        kind: JobKind,
        user_id: int,
        channel_id: int,
        guild_id: int | None,
        request: JobRequest,
        upload_limit: int,
        source: JobSource = ...,
        now: float | None = None,
        asked_channel_id: int | None = None,
    ) -> Job: ...

    def mark_submitted(
        self, job_id: int, miraflow_job_id: str, next_poll_at: float, now: float | None = None
    ) -> Job | None: ...

    def update(self, job_id: int, **fields: Any) -> Job | None: ...

    def set_state(
        self,
        job_id: int,
        state: JobState,
        *,
        error: str | None = None,
        now: float | None = None,
        only_from: Collection[JobState] | None = None,
        **fields: Any,
    ) -> Job | None: ...

    # --- jobs: reads ---
    def get(self, job_id: int) -> Job | None: ...
    def due_jobs(self, now: float, limit: int) -> list[Job]: ...
    def next_due_at(self, excluding: Collection[int] = ()) -> float | None: ...
    def pending_count(self) -> int: ...
    def waiting_jobs(self, kind: JobKind) -> list[Job]: ...
    def jobs_in_states(self, states: Collection[JobState]) -> list[Job]: ...
    def count_by_state(self) -> dict[str, int]: ...
    def active_count(self, user_id: int, now: float | None = None) -> int: ...
    def count_since(self, user_id: int, since: float) -> int: ...
    def count_guild_since(self, guild_id: int, since: float) -> int: ...
    def recent_jobs(self, user_id: int, limit: int = 10) -> list[Job]: ...
    def pending_jobs_of(self, user_id: int) -> list[Job]: ...
    def recent_durations(self, kind: JobKind, limit: int) -> list[float]: ...

    # --- small settings and per-user defaults ---
    def get_meta(self, key: str) -> str | None: ...
    def set_meta(self, key: str, value: str) -> None: ...
    def get_user_defaults(self, user_id: int) -> UserDefaults | None: ...

    def set_user_defaults(
        self,
        user_id: int,
        *,
        avatar_id: str | None = None,
        voice_id: str | None = None,
        avatar_name: str | None = None,
        voice_name: str | None = None,
        now: float | None = None,
    ) -> UserDefaults: ...
