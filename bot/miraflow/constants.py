"""Defaults of the Miraflow client and the fixed words of the Miraflow API."""

from __future__ import annotations

DEFAULT_BASE_URL = "https://miraflow.ai"
API_KEY_HEADER = "x-api-key"
USER_AGENT = "miraflow-discord-bot/0.1 (+aiohttp)"

# Seconds. A plain call must be answered in full within DEFAULT_TIMEOUT; a download or an
# upload may take as long as it needs but must not stall for more than its read timeout.
DEFAULT_TIMEOUT = 30.0

# Reads (GET) are retried with exponential backoff and full jitter; create calls never are.
DEFAULT_MAX_RETRIES = 3
DEFAULT_BACKOFF_BASE = 0.5
DEFAULT_BACKOFF_CAP = 8.0
# A Retry-After larger than this (seconds) counts as this: a server cannot pause the bot for
# ever. The one cap, applied where the header is parsed (`parse_retry_after`).
MAX_RETRY_AFTER = 60.0

# Downloads: abandoned after DEFAULT_STALL_TIMEOUT seconds without a byte, or after
# DEFAULT_DOWNLOAD_DEADLINE seconds in all (retries included).
DEFAULT_STALL_TIMEOUT = 30.0
DEFAULT_DOWNLOAD_DEADLINE = 600.0
# A JSON answer larger than this is a server error, never read into memory.
MAX_JSON_BYTES = 16 * 1024 * 1024

DOWNLOAD_CHUNK_SIZE = 64 * 1024
MAX_REDIRECTS = 5

# An error body is read up to this many bytes, and its message cut to this many characters.
ERROR_BODY_READ_LIMIT = 64 * 1024
ERROR_MESSAGE_MAX_CHARS = 300

STATUS_QUEUED = "inference_started"
STATUS_COMPLETE = "inference_complete"
STATUS_FAILED = "inference_failed"
STATUS_ERROR = "inference_error"
FAILED_STATUSES = frozenset({STATUS_FAILED, STATUS_ERROR})
