"""What every REST route shares: the parsed body, Discord-shaped errors, the recording."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fakediscord.models import FakeFile, RestCall
from tests.fakediscord.state import Upload
from tests.fakediscord.validation import FieldError, nested_errors

if TYPE_CHECKING:
    from tests.fakediscord.gateway import GatewayHub
    from tests.fakediscord.state import FakeState

log = logging.getLogger("tests.fakediscord")

API_PREFIX = "/api/v10"
FILE_FIELD = re.compile(r"^files\[(\d+)\]$")
# Routes Discord serves without the bot token: interaction callbacks and webhooks carry their own.
PUBLIC_PATHS = re.compile(r"^/(gateway$|webhooks/\d+/[^/]+|interactions/\d+/[^/]+/callback$)")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Body:
    json: Any = None
    uploads: list[Upload] = field(default_factory=list)


AT = web.RequestKey("at", float)
BODY = web.RequestKey("body", Body)
UNHANDLED = web.RequestKey("unhandled", bool)


@dataclass
class RestContext:
    state: FakeState
    gateway: GatewayHub
    token: str
    ack_deadline: float = 3.0


class DiscordError(Exception):
    """Raised by a route to answer with Discord's {"message", "code"} error body."""

    def __init__(
        self, status: int, code: int, message: str, errors: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.errors = status, code, message, errors


def invalid_form(errors: list[FieldError]) -> DiscordError:
    return DiscordError(400, 50035, "Invalid Form Body", nested_errors(errors))


def json_response(data: Any, status: int = 200) -> web.Response:
    # discord.py only decodes JSON when Content-Type is exactly "application/json", no charset.
    return web.Response(
        body=json.dumps(data).encode(), status=status, content_type="application/json"
    )


def error_response(error: DiscordError) -> web.Response:
    body: dict[str, Any] = {"message": error.message, "code": error.code}
    if error.errors:
        body["errors"] = error.errors
    return json_response(body, error.status)


def no_content() -> web.Response:
    return web.Response(status=204)


def body_of(request: web.Request) -> Body:
    return request[BODY]


def json_of(request: web.Request) -> dict[str, Any]:
    data = body_of(request).json
    return data if isinstance(data, dict) else {}


def snowflake_param(request: web.Request, name: str) -> int:
    value = request.match_info[name]
    if not value.isdigit():
        raise DiscordError(404, 0, "404: Not Found")
    return int(value)


async def parse_body(request: web.Request) -> Body:
    if request.content_type.startswith("multipart/"):
        body = Body()
        reader = await request.multipart()
        async for part in reader:
            if part is None or not hasattr(part, "read"):
                continue
            data = await part.read(decode=False)  # type: ignore[union-attr]
            match = FILE_FIELD.match(part.name or "")
            if part.name == "payload_json":
                body.json = json.loads(data)
            elif match:
                content_type = part.headers.get("Content-Type", "application/octet-stream")
                body.uploads.append(
                    Upload(int(match.group(1)), part.filename or "file", bytes(data), content_type)
                )
        return body
    raw = await request.read()
    if not raw:
        return Body()
    try:
        return Body(json=json.loads(raw))
    except ValueError:
        return Body(json=raw.decode(errors="replace"))


def recording_middleware(
    context: RestContext,
) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        request[AT] = time.monotonic()
        path = request.path.removeprefix(API_PREFIX)
        body = request[BODY] = await parse_body(request)
        authorised = request.headers.get("Authorization") == f"Bot {context.token}"
        try:
            if not authorised and not PUBLIC_PATHS.match(path):
                raise DiscordError(401, 0, "401: Unauthorized")
            response = await handler(request)
        except DiscordError as error:
            response = error_response(error)
        files = tuple(
            FakeFile(0, upload.filename, upload.data, upload.content_type, "")
            for upload in body.uploads
        )
        call = RestCall(
            method=request.method,
            path=path,
            query=dict(request.query),
            json=body.json,
            files=files,
            headers=dict(request.headers),
            at=request[AT],
            status=response.status,
        )
        context.state.rest_calls.append(call)
        if request.get(UNHANDLED):
            context.state.unhandled_calls.append(call)
        return response

    return middleware


async def unknown_route(request: web.Request) -> web.Response:
    request[UNHANDLED] = True
    log.warning("fake Discord has no route for %s %s", request.method, request.path)
    raise DiscordError(404, 0, "404: Not Found")
