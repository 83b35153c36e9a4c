"""Why the engine refuses a request: typed, with the facts a front end needs for its words."""

from __future__ import annotations

from bot.jobs.models import JobState
from bot.miraflow import MiraflowError


class JobError(Exception):
    """Base of the engine's refusals; none of them is a bug."""


class TooManyActive(JobError):
    def __init__(self, active: int, limit: int) -> None:
        super().__init__(f"{active} jobs running, the limit is {limit}")
        self.active = active
        self.limit = limit


class DailyLimitReached(JobError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"today's limit of {limit} jobs reached")
        self.limit = limit


class ServerDailyLimitReached(JobError):
    """A server's own cap on jobs a day, all its members together (`/settings limits`)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the server's limit of {limit} jobs a day reached")
        self.limit = limit


class OutcomeUnknown(JobError):
    """The create call may have reached Miraflow: the job is marked unknown, never resent."""

    def __init__(self, job_id: int) -> None:
        super().__init__(f"job {job_id}: create call outcome unknown")
        self.job_id = job_id


class CreateRefused(JobError):
    """Miraflow refused the create call (a 4xx, a 429) or was never reached: nothing was
    made and nothing charged. The job is marked failed; `error` is Miraflow's answer."""

    def __init__(self, job_id: int, error: MiraflowError) -> None:
        super().__init__(f"job {job_id}: create call refused: {error}")
        self.job_id = job_id
        self.error = error


class NotYourJob(JobError):
    def __init__(self, job_id: int) -> None:
        super().__init__(f"job {job_id} is not among the user's")
        self.job_id = job_id


class NotCancellable(JobError):
    def __init__(self, job_id: int, state: JobState) -> None:
        super().__init__(f"job {job_id} is already {state.value}")
        self.job_id = job_id
        self.state = state


class NothingToRepeat(JobError):
    """A Re-roll of a job whose request is gone or was never made (`/videos get`)."""

    def __init__(self, job_id: int) -> None:
        super().__init__(f"job {job_id} has no request to repeat")
        self.job_id = job_id
