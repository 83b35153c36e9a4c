"""What a member asked for: one frozen record per kind of job, and its stored form.

The `params` column holds `{"v": FORMAT_VERSION, "type": ..., <fields>}`. Version 2 added
`style` to the picture records; version 1 rows simply lack it. Rows written before the records
existed hold a plain dict of the same field names with no `v`: `load_request` reads all three,
and anything it cannot read becomes an `UnreadableRequest` (shown without a subject, never
re-rolled) rather than an error in the poller.
"""

from __future__ import annotations

import functools
import json
import logging
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from bot.jobs.states import JobKind

log = logging.getLogger(__name__)

FORMAT_VERSION = 2
READABLE_VERSIONS = frozenset({1, FORMAT_VERSION})
MAX_SEED = 2**31 - 1  # Miraflow's largest seed


def random_seed() -> int:
    return random.randint(0, MAX_SEED)


@dataclass(frozen=True, slots=True)
class PictureRequest:
    """/imagine: a picture from a prompt."""

    prompt: str
    name: str = ""
    aspect_ratio: str | None = None
    negative_prompt: str | None = None
    seed: int | None = None
    style: str | None = None  # the server style's name; its words are in the prompts already


@dataclass(frozen=True, slots=True)
class EditRequest:
    """/edit with one to three pictures, already uploaded to Miraflow."""

    prompt: str
    media_ids: tuple[str, ...]
    name: str = ""
    aspect_ratio: str | None = None
    negative_prompt: str | None = None
    seed: int | None = None
    style: str | None = None  # the server style's name; its words are in the prompts already

    @classmethod
    def of(cls, picture: PictureRequest, media_ids: Sequence[str]) -> EditRequest:
        return cls(
            picture.prompt,
            tuple(media_ids),
            picture.name,
            picture.aspect_ratio,
            picture.negative_prompt,
            picture.seed,
            picture.style,
        )


@dataclass(frozen=True, slots=True)
class InpaintRequest:
    """/edit with a mask: repaint the white part of one picture."""

    prompt: str
    original_media_id: str
    mask_media_id: str
    name: str = ""
    aspect_ratio: str | None = None
    negative_prompt: str | None = None
    seed: int | None = None
    style: str | None = None  # the server style's name; its words are in the prompts already

    @classmethod
    def of(
        cls, picture: PictureRequest, original_media_id: str, mask_media_id: str
    ) -> InpaintRequest:
        return cls(
            picture.prompt,
            original_media_id,
            mask_media_id,
            picture.name,
            picture.aspect_ratio,
            picture.negative_prompt,
            picture.seed,
            picture.style,
        )


@dataclass(frozen=True, slots=True)
class TextVideoRequest:
    """/speak with a script: an avatar reads it in a voice."""

    avatar_id: str
    voice_id: str
    text: str
    name: str = ""
    avatar_name: str | None = None
    voice_name: str | None = None
    full_body: bool = False


@dataclass(frozen=True, slots=True)
class AudioVideoRequest:
    """/speak with an audio file, already uploaded to Miraflow."""

    avatar_id: str
    audio_media_id: str
    name: str = ""
    avatar_name: str | None = None


@dataclass(frozen=True, slots=True)
class FoundVideo:
    """A video Miraflow had already made, picked with `/videos get`: nothing to create."""

    video_id: str
    name: str = ""
    avatar_id: str | None = None
    avatar_name: str | None = None


@dataclass(frozen=True, slots=True)
class UnreadableRequest:
    """A stored request this version cannot read; kept as it was."""

    data: dict[str, Any]


PictureLike = PictureRequest | EditRequest | InpaintRequest
JobRequest = (
    PictureRequest
    | EditRequest
    | InpaintRequest
    | TextVideoRequest
    | AudioVideoRequest
    | FoundVideo
    | UnreadableRequest
)

_TYPES: dict[str, type[Any]] = {
    "picture": PictureRequest,
    "edit": EditRequest,
    "inpaint": InpaintRequest,
    "text_video": TextVideoRequest,
    "audio_video": AudioVideoRequest,
    "found_video": FoundVideo,
}
_NAMES = {cls: name for name, cls in _TYPES.items()}
# Worked out once: every row the poller reads is loaded through `_build`.
_FIELD_NAMES = {cls: frozenset(f.name for f in fields(cls)) for cls in _TYPES.values()}


def kind_of(request: JobRequest) -> JobKind:
    match request:
        case PictureRequest():
            return JobKind.IMAGE
        case EditRequest():
            return JobKind.EDIT
        case InpaintRequest():
            return JobKind.INPAINT
        case TextVideoRequest() | AudioVideoRequest() | FoundVideo():
            return JobKind.VIDEO
    raise ValueError(f"no kind for {request!r}")


def subject(request: JobRequest) -> str:
    """The words a member gave (prompt or script), else the job's name."""
    match request:
        case PictureRequest() | EditRequest() | InpaintRequest():
            return request.prompt
        case TextVideoRequest():
            return request.text
        case AudioVideoRequest() | FoundVideo():
            return request.name
    data = request.data
    return str(data.get("prompt") or data.get("text") or data.get("name") or "")


def dump_request(request: JobRequest) -> str:
    """The JSON text of the `params` column."""
    if isinstance(request, UnreadableRequest):
        return json.dumps(request.data, ensure_ascii=False)
    data = {"v": FORMAT_VERSION, "type": _NAMES[type(request)], **asdict(request)}
    return json.dumps(data, ensure_ascii=False)


def load_request(kind: JobKind, text: str | None, *, job_id: int = 0) -> JobRequest:
    """The record stored in a `params` column, in the current or the first (untyped) form."""
    request, problem = _parse(kind, text or "{}")
    if problem:
        log.warning("job %s: %s", job_id, problem)
    return request


# The poller reads the same rows again and again: their records are immutable, so one parse
# of each stored text serves every read.
@functools.lru_cache(maxsize=4096)
def _parse(kind: JobKind, text: str) -> tuple[JobRequest, str | None]:
    try:
        data = json.loads(text)
    except (TypeError, ValueError):
        return UnreadableRequest({}), "its request is not valid JSON"
    if not isinstance(data, dict):
        return UnreadableRequest({}), "its request is not a JSON object"
    version = data.get("v")
    type_name: str | None
    if version is None:
        type_name = _legacy_type(kind, data)
    elif version in READABLE_VERSIONS:
        type_name = data.get("type")
    else:
        return UnreadableRequest(data), f"request format {version!r} is newer than this bot"
    cls = _TYPES.get(type_name or "")
    if cls is None:
        return UnreadableRequest(data), f"unknown request type {type_name!r}"
    try:
        return _build(cls, data), None
    except (TypeError, ValueError):
        return UnreadableRequest(data), "its request lacks a field its type needs"


def _legacy_type(kind: JobKind, data: dict[str, Any]) -> str:
    """The record type of a row written before format versions (schema v3 and earlier)."""
    match kind:
        case JobKind.IMAGE:
            return "picture"
        case JobKind.EDIT:
            return "edit"
        case JobKind.INPAINT:
            return "inpaint"
    if data.get("adopted") or "video_id" in data:
        return "found_video"
    return "audio_video" if data.get("audio_media_id") else "text_video"


def _build(cls: type[Any], data: dict[str, Any]) -> JobRequest:
    names = _FIELD_NAMES[cls]
    values = {name: value for name, value in data.items() if name in names}
    if "media_ids" in values:
        values["media_ids"] = tuple(values["media_ids"])
    if "full_body" in values:
        values["full_body"] = bool(values["full_body"])
    request: JobRequest = cls(**values)
    return request


def with_seed(request: JobRequest, seed: int) -> JobRequest:
    """The same request with another seed (kinds without a seed are returned as they are)."""
    if isinstance(request, PictureRequest | EditRequest | InpaintRequest):
        return replace(request, seed=seed)
    return request
