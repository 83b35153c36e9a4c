"""The status line of a job: what it is doing, as words, a percentage and a bar."""

from __future__ import annotations

from bot.discord_side.words import KIND_LABELS, STATE_LABELS
from bot.jobs.job_requests import subject
from bot.jobs.models import Job, JobState
from bot.ui.inert import inert

__all__ = ["KIND_LABELS", "STATE_LABELS", "job_subject", "short", "status_line"]

BAR_WIDTH = 12
SUBJECT_CHARS = 80


def progress_bar(percent: int | None, width: int = BAR_WIDTH) -> str:
    """`▰▰▰▱▱▱ 50%`; an unknown percentage shows an empty bar and `…`."""
    if percent is None:
        return "▱" * width + " …"
    percent = max(0, min(100, percent))
    filled = round(width * percent / 100)
    return "▰" * filled + "▱" * (width - filled) + f" {percent}%"


def shown_progress(job: Job) -> int | None:
    if job.state in (JobState.COMPLETE, JobState.DELIVERED):
        return 100
    if job.state is JobState.QUEUED and job.progress is None:
        return 0
    return job.progress


def short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def job_subject(job: Job) -> str:
    """The prompt or script of a job, shortened for one line (raw: for plain-text places
    such as autocomplete choices)."""
    return short(subject(job.request), SUBJECT_CHARS)


def time_left_words(seconds: float) -> str:
    """`about 40 s left`, `about 3 min left`: rounded, as an estimate should be."""
    if seconds < 5:
        return "a few seconds left"
    if seconds < 90:
        return f"about {max(5, round(seconds / 5) * 5)} s left"
    return f"about {round(seconds / 60)} min left"


def status_line(job: Job, left: float | None = None) -> str:
    """One message's worth: `Job #12 · image · working ▰▰▱▱ 40%` and the subject;
    `left` is the estimated seconds to go, when there is an estimate."""
    label = KIND_LABELS[job.kind]
    state = STATE_LABELS[job.state]
    line = f"**Job #{job.id}** · {label} · {state}"
    if not job.state.is_terminal or job.state is JobState.DELIVERED:
        line += f"\n`{progress_bar(shown_progress(job))}`"
        if left is not None and not job.state.is_terminal:
            line += f" · {time_left_words(left)}"
    words = inert(subject(job.request), SUBJECT_CHARS)  # a public message: shown as typed
    if words:
        line += f"\n> {words}"
    if job.error and job.state in (JobState.FAILED, JobState.EXPIRED, JobState.UNKNOWN):
        line += f"\n{job.error}"
    return line
