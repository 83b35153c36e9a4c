"""Reading and checking request fields; every failure is a 400 with a message naming the field."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from .responses import bad_request

ASPECT_RATIOS: tuple[str, ...] = ("1:1", "16:9", "9:16", "4:3", "3:4")


async def json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.read())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise bad_request("The request body must be a JSON object.") from None
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    return body


def required_text(body: dict[str, Any], field: str) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not value.strip():
        raise bad_request(f"'{field}' is required and must be a non-empty string.")
    return value


def optional_text(body: dict[str, Any], field: str) -> str | None:
    value = body.get(field)
    if value is not None and not isinstance(value, str):
        raise bad_request(f"'{field}' must be a string.")
    return value


def optional_integer(body: dict[str, Any], field: str) -> int | None:
    value = body.get(field)
    if value is None:
        return None
    # bool is a subclass of int in Python, but true is not a seed.
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request(f"'{field}' must be an integer.")
    return value


def optional_boolean(body: dict[str, Any], field: str) -> bool | None:
    value = body.get(field)
    if value is not None and not isinstance(value, bool):
        raise bad_request(f"'{field}' must be a boolean.")
    return value


def optional_aspect_ratio(body: dict[str, Any]) -> str | None:
    value = body.get("aspectRatio")
    if value is not None and value not in ASPECT_RATIOS:
        raise bad_request(f"'aspectRatio' must be one of {', '.join(ASPECT_RATIOS)}.")
    return value


def required_size(body: dict[str, Any], field: str) -> int:
    value = body.get(field)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise bad_request(f"'{field}' is required and must be a positive integer.")
    return value


def reference_media_ids(body: dict[str, Any]) -> list[str]:
    """The edit call's one ``referenceImageMediaId`` or list ``referenceImageMediaIds``."""
    single = body.get("referenceImageMediaId")
    several = body.get("referenceImageMediaIds")
    if (single is None) == (several is None):
        raise bad_request(
            "Give exactly one of 'referenceImageMediaId' and 'referenceImageMediaIds'."
        )
    if single is not None:
        return [required_text(body, "referenceImageMediaId")]
    if (
        not isinstance(several, list)
        or not several
        or not all(isinstance(item, str) and item.strip() for item in several)
    ):
        raise bad_request("'referenceImageMediaIds' must be a non-empty list of media ids.")
    return several


def check_prompt_fields(body: dict[str, Any]) -> None:
    """The fields every image call shares."""
    required_text(body, "prompt")
    required_text(body, "name")
    optional_aspect_ratio(body)
    optional_text(body, "negativePrompt")
    optional_integer(body, "seed")
