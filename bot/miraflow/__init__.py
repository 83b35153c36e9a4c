"""Client and simulator for the Miraflow HTTP API."""

from bot.miraflow.client import MiraflowClient
from bot.miraflow.errors import (
    AuthenticationError,
    BadRequestError,
    FileTooLargeError,
    MiraflowConnectionError,
    MiraflowError,
    MiraflowTimeoutError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    UnexpectedResponseError,
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
    "AuthenticationError",
    "Avatar",
    "BadRequestError",
    "CreatedJob",
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
    "Video",
    "Voice",
    "parse_progress",
]
