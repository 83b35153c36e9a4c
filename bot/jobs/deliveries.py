"""Complete jobs, each delivered in a task of its own, bounded (`max_deliveries`) apart from
the poll slots: stalled downloads (each up to its deadline) never hold up polling."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from bot.jobs.delivery import Delivery, NoUsableResult
from bot.jobs.frontend import Frontend, Notice, Outcome, tell
from bot.jobs.held import Backoff
from bot.jobs.models import Job, JobState
from bot.jobs.store import Store
from bot.miraflow import DownloadTimeoutError, JobStatus, MiraflowError, UntrustedUrlError

log = logging.getLogger(__name__)

MAX_DELIVERY_ATTEMPTS = 8
MAX_DOWNLOAD_ATTEMPTS = 3  # downloads abandoned at their deadline


class Deliveries:
    def __init__(
        self,
        store: Store,
        delivery: Delivery,
        frontend: Frontend,
        backoff: Backoff,
        max_deliveries: int,
        on_done: Callable[[], None],
    ) -> None:
        self._store = store
        self._delivery = delivery
        self._frontend = frontend
        self._backoff = backoff
        self._on_done = on_done
        # Deliveries under way or waiting for one of the slots, by job id.
        self.tasks: dict[int, asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(max_deliveries)

    def start(self, job: Job, status: JobStatus | None) -> None:
        """Hand a complete job to a delivery task of its own; its poll slot is free at once."""
        if job.id not in self.tasks:
            self.tasks[job.id] = asyncio.create_task(
                self._task(job, status), name=f"miraflow-delivery-{job.id}"
            )

    async def _task(self, job: Job, status: JobStatus | None) -> None:
        try:
            async with self._slots:
                await self._deliver(job, status)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._backoff.after_error(job, exc)
        finally:
            self.tasks.pop(job.id, None)
            self._on_done()

    async def _deliver(self, job: Job, status: JobStatus | None) -> None:
        try:
            await self._delivery.deliver(job, status)
        except asyncio.CancelledError:
            raise
        except (NoUsableResult, UntrustedUrlError) as exc:
            await self._fail(job, exc)  # asking again would give the same answer
        except Exception as exc:
            attempts = job.attempts + 1
            # An abandoned download is tried again with a fresh URL, but only a few times.
            most = (
                MAX_DOWNLOAD_ATTEMPTS
                if isinstance(exc, DownloadTimeoutError)
                else MAX_DELIVERY_ATTEMPTS
            )
            if attempts >= most:
                await self._fail(job, exc)
                return
            self._backoff.reschedule(job, None)
            log.warning("job %s: delivery attempt %s failed: %s", job.id, attempts, exc)

    async def _fail(self, job: Job, exc: Exception) -> None:
        error = exc if isinstance(exc, MiraflowError) else None
        notice = Notice(Outcome.DELIVERY_FAILED, error=error)
        failed = self._store.set_state(
            job.id,
            JobState.FAILED,
            error=self._frontend.words(notice),
            only_from={JobState.COMPLETE},
        )
        log.error("job %s: delivery failed for good: %s", job.id, exc)
        if failed is not None:
            await tell(self._frontend, failed, notice)
