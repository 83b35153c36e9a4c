"""The sentences members read about their jobs and about failures, in one place (ready for
translation): the engine reports what happened, typed; this module says it."""

from __future__ import annotations

from bot.jobs.clients import KeyUnreadableError
from bot.jobs.errors import (
    CreateRefused,
    DailyLimitReached,
    JobError,
    NotCancellable,
    NothingToRepeat,
    NotYourJob,
    OutcomeUnknown,
    ServerDailyLimitReached,
    TooManyActive,
)
from bot.jobs.frontend import Notice, Outcome
from bot.jobs.models import Job, JobKind, JobState
from bot.miraflow.errors import (
    AuthenticationError,
    BadRequestError,
    DownloadTimeoutError,
    FileTooLargeError,
    MiraflowConnectionError,
    MiraflowError,
    MiraflowTimeoutError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    UnexpectedResponseError,
    UntrustedUrlError,
)
from bot.ui.inert import inert

GENERIC_FAILURE = "Something went wrong on my side. Please try again in a moment."
STORE_UNWRITABLE = "I can't save jobs right now; the bot's owner has been told — try again later."
RESTARTING = "I'm restarting right now. Please try again in a minute."

KIND_LABELS = {
    JobKind.IMAGE: "image",
    JobKind.EDIT: "image edit",
    JobKind.INPAINT: "inpainting",
    JobKind.VIDEO: "video",
}

STATE_LABELS = {
    JobState.SUBMITTING: "sending to Miraflow",
    JobState.QUEUED: "queued",
    JobState.WORKING: "working",
    JobState.COMPLETE: "finished, posting the result",
    JobState.DELIVERED: "done",
    JobState.FAILED: "failed",
    JobState.EXPIRED: "timed out",
    JobState.CANCELLED: "cancelled",
    JobState.UNKNOWN: "lost track of it",
}

OUTCOME_UNKNOWN = (
    "Miraflow did not answer clearly, so I can't tell whether it started this job. "
    "To avoid paying twice I won't resend it: check `/jobs list` later, or try again."
)
NOTHING_STARTED = "Nothing was started, so nothing was charged."
LOST_IN_RESTART = (
    "I restarted while sending this job to Miraflow, so I can't tell whether it started. "
    "To avoid paying twice I won't resend it: please ask again if no result arrives."
)


# Miraflow's own words, shown in public: short enough for any message, and inert.
REASON_MAX_CHARS = 300


def _reason(notice: Notice) -> str:
    if not notice.reason:
        return "Miraflow could not finish it"
    return inert(notice.reason, REASON_MAX_CHARS, links=False)


def error_text(notice: Notice) -> str:
    """The sentence stored as a job's error and shown under its status."""
    match notice.outcome:
        case Outcome.EXPIRED:
            return "Miraflow took too long, so I stopped waiting for it. Please try again."
        case Outcome.MIRAFLOW_FAILED:
            return f"Miraflow failed: {_reason(notice)}. Try again, perhaps with other words."
        case Outcome.LOST_BY_MIRAFLOW:
            return "Miraflow no longer knows this job."
        case Outcome.DELIVERY_FAILED if isinstance(notice.error, UntrustedUrlError):
            return miraflow_error_text(notice.error)
        case Outcome.DELIVERY_FAILED:
            return "The result could not be fetched or posted; please ask again."
        case Outcome.POSTED_NOWHERE:
            return "The result could not be posted in its channel nor sent by DM."
        case Outcome.OUTCOME_UNKNOWN:
            return OUTCOME_UNKNOWN
        case Outcome.INTERRUPTED:
            return LOST_IN_RESTART
        case Outcome.CANCELLED:
            return "Cancelled by its requester."
        case Outcome.REFUSED:
            if isinstance(notice.error, MiraflowError):
                return refused_create_text(notice.error)
    return GENERIC_FAILURE


def notice_text(job: Job, notice: Notice) -> str:
    """What the requester is told (after a mention) when their job ends without a result."""
    what = KIND_LABELS[job.kind]
    match notice.outcome:
        case Outcome.EXPIRED:
            return f"your {what} (job #{job.id}) timed out. Please try again."
        case Outcome.MIRAFLOW_FAILED:
            return (
                f"sorry, Miraflow could not make your {what} (job #{job.id}): "
                f"{_reason(notice)}. Please try again."
            )
        case Outcome.LOST_BY_MIRAFLOW:
            return f"sorry, Miraflow lost job #{job.id}. Please try again."
    return f"about job #{job.id}: {error_text(notice)}"


def result_ready(job: Job, link: str | None) -> str:
    text = f"<@{job.user_id}> your {KIND_LABELS[job.kind]} is ready."
    if link:
        text += (
            f"\nIt is too large to upload here, so here is a download link "
            f"(valid for about 24 hours): {link}"
        )
    return text


def job_error_text(error: JobError) -> str:
    match error:
        case TooManyActive():
            return (
                f"You already have {error.active} jobs running (the limit is {error.limit}). "
                "Wait for one to finish, or stop one with `/jobs cancel`."
            )
        case DailyLimitReached():
            return f"You've reached today's limit of {error.limit} jobs. Please try again tomorrow."
        case ServerDailyLimitReached():
            return (
                f"This server has reached its limit of {error.limit} jobs a day. "
                "Please try again tomorrow."
            )
        case CreateRefused():
            return refused_create_text(error.error)
        case OutcomeUnknown():
            return OUTCOME_UNKNOWN
        case NotYourJob():
            return "I can't find that job among yours. See `/jobs list`."
        case NotCancellable():
            return (
                f"Job #{error.job_id} is already {error.state.value}, so there is nothing "
                "to cancel."
            )
        case NothingToRepeat():
            return "I no longer know that request, so I can't re-roll it."
    return GENERIC_FAILURE


def refused_create_text(error: MiraflowError) -> str:
    """Miraflow refused a create call (or was never reached): it made nothing."""
    return f"{miraflow_error_text(error)} {NOTHING_STARTED}"


_DETAIL_MAX_CHARS = 150


def _detail(message: str) -> str:
    if not message:
        return ""
    return f" ({inert(message, _DETAIL_MAX_CHARS, links=False)})"


def miraflow_error_text(error: MiraflowError) -> str:
    """A short, kind sentence about a Miraflow error that says what to do next."""
    match error:
        case KeyUnreadableError():
            return (
                "This server's own Miraflow key can't be read right now, so I can't use it: "
                "tell a server admin (the bot's owner may have changed its secret)."
            )
        case BadRequestError() if error.out_of_credits:
            return (
                "The Miraflow account is out of credits: ask a server admin to top it up, "
                "then try again."
            )
        case BadRequestError():
            return (
                f"Miraflow turned the request down{_detail(error.message)}. "
                "Check your options and try again."
            )
        case AuthenticationError():
            return "The bot's Miraflow key is wrong: tell a server admin."
        case NotFoundError():
            return (
                "Miraflow does not know that avatar, voice, video or job"
                f"{_detail(error.message)}. Check it and try again."
            )
        case RateLimitedError():
            # Words, not the server's number: a hostile Retry-After must not reach a user.
            wait = "in a few seconds" if (error.retry_after or 60) < 10 else "in a minute"
            return f"Miraflow is getting too many requests right now: please try again {wait}."
        case ServerError():
            return "Miraflow is having trouble right now: please try again in a few minutes."
        case MiraflowConnectionError():
            return "The bot could not reach Miraflow: please try again in a few minutes."
        case MiraflowTimeoutError():
            return "Miraflow took too long to answer: please try again in a few minutes."
        case FileTooLargeError():
            return (
                "That file is too large for the bot to fetch: ask a server admin about the limit."
            )
        case UntrustedUrlError():
            return (
                "Miraflow gave me a link I don't trust, so I didn't open it. "
                "Please tell a server admin."
            )
        case DownloadTimeoutError():
            return "Downloading the result from Miraflow took too long: please try again later."
        case UnexpectedResponseError():
            return (
                "Miraflow sent an answer the bot did not understand: please try again later, "
                "or tell a server admin if it keeps happening."
            )
    # No server number: it tells a member nothing, and what to do is the same.
    return (
        "Miraflow could not handle that request. Please try again later, "
        "or tell a server admin if it keeps happening."
    )
