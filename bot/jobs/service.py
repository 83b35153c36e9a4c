"""Starting a job: quotas, the row first, then the single create call."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.errors import UserFacingError
from bot.jobs.models import Job, JobKind, JobState
from bot.jobs.requests import send_create
from bot.jobs.schedule import Schedule
from bot.jobs.store import JobStore
from bot.miraflow import (
    MiraflowClient,
    MiraflowConnectionError,
    MiraflowError,
    MiraflowTimeoutError,
)

log = logging.getLogger(__name__)

DAY = 24 * 60 * 60
CANCELLABLE = frozenset({JobState.QUEUED, JobState.WORKING, JobState.COMPLETE})
OUTCOME_UNKNOWN = (
    "Miraflow did not answer in time, so I can't tell whether it started this job. "
    "To avoid paying twice I won't resend it: check `/jobs list` later, or try again."
)


@dataclass(frozen=True, slots=True)
class Quotas:
    max_active: int = 3
    max_per_day: int = 25
    server_per_day: int = 0  # jobs a day on one server, all members together; 0: no cap


class JobService:
    def __init__(
        self,
        store: JobStore,
        client: MiraflowClient,
        *,
        quotas: Quotas,
        wake_poller: Callable[[], None],
        schedule: Schedule | None = None,
        clock: Callable[[], float] = time.time,
        quotas_for: Callable[[int | None], Quotas] | None = None,
    ) -> None:
        self.store = store
        self._client = client
        self._quotas = quotas
        self._wake_poller = wake_poller
        self._schedule = schedule or Schedule()
        self._clock = clock
        self._quotas_for = quotas_for  # a server's own limits (`/settings limits`)

    def check_quota(self, user_id: int, guild_id: int | None = None) -> None:
        """Raise a UserFacingError when the user may not start one more job now."""
        quotas = self._quotas_for(guild_id) if self._quotas_for else self._quotas
        active = self.store.active_count(user_id)
        if active >= quotas.max_active:
            raise UserFacingError(
                f"You already have {active} jobs running (the limit is "
                f"{quotas.max_active}). Wait for one to finish, or stop one with "
                "`/jobs cancel`."
            )
        since = self._clock() - DAY
        today = self.store.count_since(user_id, since)
        if today >= quotas.max_per_day:
            raise UserFacingError(
                f"You've reached today's limit of {quotas.max_per_day} jobs. "
                "Please try again tomorrow."
            )
        if (
            guild_id is not None
            and quotas.server_per_day
            and self.store.count_guild_since(guild_id, since) >= quotas.server_per_day
        ):
            raise UserFacingError(
                f"This server has reached its limit of {quotas.server_per_day} jobs a day. "
                "Please try again tomorrow."
            )

    async def submit(
        self,
        kind: JobKind,
        params: dict[str, Any],
        *,
        user_id: int,
        channel_id: int,
        guild_id: int | None,
        upload_limit: int,
    ) -> Job:
        """Write the job's row, then send its create call exactly once."""
        job = self.store.create_job(
            kind=kind,
            user_id=user_id,
            channel_id=channel_id,
            guild_id=guild_id,
            params=params,
            upload_limit=upload_limit,
            now=self._clock(),
        )
        try:
            created = await send_create(self._client, kind, params)
        except MiraflowConnectionError as exc:
            if not exc.request_sent:  # no connection was ever opened: nothing was created
                self.store.set_state(job.id, JobState.FAILED, error=exc.user_message)
                raise UserFacingError(exc.user_message) from exc
            self._mark_unknown(job, exc)
            raise UserFacingError(OUTCOME_UNKNOWN) from exc
        except MiraflowTimeoutError as exc:
            # The request may have reached Miraflow: never resend it.
            self._mark_unknown(job, exc)
            raise UserFacingError(OUTCOME_UNKNOWN) from exc
        except MiraflowError as exc:
            self.store.set_state(job.id, JobState.FAILED, error=exc.user_message)
            raise UserFacingError(exc.user_message) from exc
        except BaseException as exc:
            self._mark_unknown(job, exc)
            raise
        now = self._clock()
        self.store.mark_submitted(
            job.id, created.job_id, next_poll_at=now + self._schedule.first(kind), now=now
        )
        log.info("job %s submitted as Miraflow job %s", job.id, created.job_id)
        self._wake_poller()
        submitted = self.store.get(job.id)
        assert submitted is not None
        return submitted

    def _mark_unknown(self, job: Job, exc: BaseException) -> None:
        log.warning("job %s: create call outcome unknown: %r", job.id, exc)
        self.store.set_state(job.id, JobState.UNKNOWN, error=OUTCOME_UNKNOWN)

    def adopt_finished(
        self,
        kind: JobKind,
        miraflow_job_id: str,
        params: dict[str, Any],
        *,
        user_id: int,
        channel_id: int,
        guild_id: int | None,
        upload_limit: int,
    ) -> Job:
        """Track a result Miraflow has already finished (such as a video from `/videos get`):
        no create call; the poller delivers it like any other result."""
        now = self._clock()
        job = self.store.create_job(
            kind=kind,
            user_id=user_id,
            channel_id=channel_id,
            guild_id=guild_id,
            params={**params, "adopted": True},  # no create call: not counted in quotas
            upload_limit=upload_limit,
            now=now,
        )
        self.store.mark_submitted(job.id, miraflow_job_id, next_poll_at=now, now=now)
        self.store.set_state(job.id, JobState.COMPLETE, only_from={JobState.QUEUED})
        self._wake_poller()
        adopted = self.store.get(job.id)
        assert adopted is not None
        return adopted

    def cancel(self, job_id: int, user_id: int) -> Job:
        """Stop tracking one of the user's pending jobs; nothing will be posted for it."""
        job = self.store.get(job_id)
        if job is None or job.user_id != user_id:
            raise UserFacingError("I can't find that job among yours. See `/jobs list`.")
        if not self.store.set_state(
            job_id,
            JobState.CANCELLED,
            error="Cancelled by its requester.",
            only_from=CANCELLABLE,
        ):
            raise UserFacingError(
                f"Job #{job_id} is already {job.state.value}, so there is nothing to cancel."
            )
        cancelled = self.store.get(job_id)
        assert cancelled is not None
        return cancelled
