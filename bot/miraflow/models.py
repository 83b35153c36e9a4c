"""What Miraflow answers, as dataclasses.

The API's bodies are loosely documented, so every `from_api` tolerates missing fields and keeps
the fields it does not know in `extra`, never failing on them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Self

from bot.miraflow.constants import FAILED_STATUSES, STATUS_COMPLETE, STATUS_QUEUED

# Keys under which an avatar or voice may carry a preview picture, most specific first.
PREVIEW_KEYS = (
    "previewUrl",
    "preview_url",
    "previewImageUrl",
    "thumbnailUrl",
    "thumbnail_url",
    "imageUrl",
    "image_url",
    "image",
    "thumbnail",
)


def parse_progress(value: object) -> int | None:
    """A job's progress as a whole percentage 0..100, or None when it cannot be read.

    Accepts "45%", "45", " 45 % ", 45 and 45.0. Fractions are rounded down ("45.5%" -> 45), so
    a job never looks further along than it is. A value below 1 such as 0.45 is read as a
    percentage like any other (0.45 % -> 0), not as a fraction of one: the API speaks in
    percentages, and guessing would turn "1" into 100 %. Out-of-range values are clamped;
    None, booleans, NaN, infinities and text that is not a number give None.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip().removesuffix("%").strip()
        try:
            number = float(text)
        except ValueError:
            return None
    elif isinstance(value, int | float):
        number = float(value)
    else:
        return None
    if not math.isfinite(number):
        return None
    return max(0, min(100, math.floor(number)))


def _text(value: object) -> str | None:
    """A non-empty string form of a scalar field, else None."""
    if value is None or isinstance(value, dict | list | bool):
        return None
    text = str(value).strip()
    return text or None


def _pick(data: dict[str, Any], *keys: str) -> tuple[str | None, str | None]:
    """The first key among `keys` with a usable text value, and that value."""
    for key in keys:
        value = _text(data.get(key))
        if value is not None:
            return key, value
    return None, None


def _preview_url(data: dict[str, Any]) -> tuple[str | None, str | None]:
    for key in PREVIEW_KEYS:
        value = data.get(key)
        if isinstance(value, dict):  # e.g. {"image": {"url": "..."}}
            value = value.get("url")
        url = _text(value)
        if url is not None:
            return key, url
    return None, None


def _rest(data: dict[str, Any], *used: str | None) -> dict[str, Any]:
    return {key: value for key, value in data.items() if key not in used}


@dataclass(slots=True)
class _CatalogueItem:
    """An avatar or a voice: the API documents no more than `id` and `name` for either."""

    id: str
    name: str
    preview_url: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Self:
        id_key, id_ = _pick(data, "id", "_id", "avatarId", "voiceId")
        name_key, name = _pick(data, "name", "displayName", "title")
        preview_key, preview = _preview_url(data)
        return cls(
            id=id_ or "",
            name=name or id_ or "",
            preview_url=preview,
            extra=_rest(data, id_key, name_key, preview_key),
        )


@dataclass(slots=True)
class Avatar(_CatalogueItem):
    pass


@dataclass(slots=True)
class Voice(_CatalogueItem):
    pass


@dataclass(slots=True)
class Video:
    id: str
    name: str | None = None
    source_avatar_id: str | None = None
    created_at: str | None = None
    download_url: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def created(self) -> datetime | None:
        """When the video was made, from Miraflow's ISO date (UTC if it names no zone)."""
        if not self.created_at:
            return None
        try:
            when = datetime.fromisoformat(self.created_at.replace("Z", "+00:00"))
        except ValueError:
            return None
        return when if when.tzinfo else when.replace(tzinfo=UTC)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Self:
        id_key, id_ = _pick(data, "id", "videoId", "_id")
        name_key, name = _pick(data, "name")
        avatar_key, avatar_id = _pick(data, "sourceAvatarId", "avatarId", "source_avatar_id")
        created_key, created_at = _pick(data, "createdAt", "created_at")
        url_key, url = _pick(data, "downloadUrl", "download_url", "url")
        return cls(
            id=id_ or "",
            name=name,
            source_avatar_id=avatar_id,
            created_at=created_at,
            download_url=url,
            extra=_rest(data, id_key, name_key, avatar_key, created_key, url_key),
        )


@dataclass(slots=True)
class ImageResult:
    id: str | None = None
    name: str | None = None
    prompt: str | None = None
    created_at: str | None = None
    download_url: str | None = None
    media_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Self:
        id_key, id_ = _pick(data, "id")
        name_key, name = _pick(data, "name")
        prompt_key, prompt = _pick(data, "prompt")
        created_key, created_at = _pick(data, "createdAt", "created_at")
        url_key, url = _pick(data, "downloadUrl", "download_url")
        media_key, media_id = _pick(data, "mediaId", "media_id")
        return cls(
            id=id_,
            name=name,
            prompt=prompt,
            created_at=created_at,
            download_url=url,
            media_id=media_id,
            extra=_rest(data, id_key, name_key, prompt_key, created_key, url_key, media_key),
        )


@dataclass(slots=True)
class JobStatus:
    """Where a video or image job stands.

    `status` is the server's raw string. An image job's finished body may carry no status at
    all: a body with a `downloadUrl` is complete, and `image` then holds the result.
    """

    status: str | None = None
    progress: int | None = None
    complete: bool = False
    failed: bool = False
    image: ImageResult | None = None
    message: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def terminal(self) -> bool:
        return self.complete or self.failed

    @property
    def queued(self) -> bool:
        """Accepted, but not started yet."""
        return self.status == STATUS_QUEUED

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Self:
        status_key, status = _pick(data, "status")
        _, download_url = _pick(data, "downloadUrl", "download_url")
        message_key, message = _pick(data, "message", "error")
        failed = status in FAILED_STATUSES
        image = ImageResult.from_api(data) if download_url and not failed else None
        # When there is an image, it owns the fields it knows; the rest stays here too.
        extra = _rest(image.extra if image else data, status_key, "progress", message_key)
        return cls(
            status=status,
            progress=parse_progress(data.get("progress")),
            complete=not failed and (status == STATUS_COMPLETE or image is not None),
            failed=failed,
            image=image,
            message=message,
            extra=extra,
        )


@dataclass(slots=True)
class CreatedJob:
    job_id: str
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Self:
        """Reads the job id; an empty `job_id` means the answer carried none."""
        key, job_id = _pick(data, "jobId", "job_id", "id")
        return cls(job_id=job_id or "", extra=_rest(data, key))
