"""Client and simulator for the Miraflow HTTP API."""

from bot.miraflow.client import MiraflowClient
from bot.miraflow.errors import (
    AnswerTooLargeError,
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
from bot.miraflow.models import (
    Avatar,
    CreatedJob,
    ImageResult,
    JobStatus,
    Video,
    Voice,
    parse_progress,
)

__all__ = [
    "AnswerTooLargeError",
    "AuthenticationError",
    "Avatar",
    "BadRequestError",
    "CreatedJob",
    "DownloadTimeoutError",
    "FileTooLargeError",
    "ImageResult",
    "JobStatus",
    "MiraflowClient",
    "MiraflowConnectionError",
    "MiraflowError",
    "MiraflowTimeoutError",
    "NotFoundError",
    "RateLimitedError",
    "ServerError",
    "UnexpectedResponseError",
    "UntrustedUrlError",
    "Video",
    "Voice",
    "parse_progress",
]
