"""Channel routes: messages posted with the bot token, in guild channels and DMs."""

from __future__ import annotations

from aiohttp import web

from tests.fakediscord import payloads
from tests.fakediscord.guild import DEFAULT_UPLOAD_LIMIT, MISSING_ACCESS
from tests.fakediscord.models import LOADING_FLAG, FakeMessage
from tests.fakediscord.rest_common import (
    DiscordError,
    RestContext,
    body_of,
    invalid_form,
    json_of,
    json_response,
    no_content,
    snowflake_param,
)
from tests.fakediscord.state import FakeState, Upload
from tests.fakediscord.validation import FieldError, message_errors

UNKNOWN_CHANNEL = DiscordError(404, 10003, "Unknown Channel")
UNKNOWN_MESSAGE = DiscordError(404, 10008, "Unknown Message")
MAX_NONCE_LENGTH = 25


def check_upload_size(uploads: list[Upload], limit: int) -> None:
    if sum(len(upload.data) for upload in uploads) > limit:
        raise DiscordError(413, 40005, "Request entity too large")


def check_message(payload: dict[str, object], uploads: list[Upload], *, editing: bool) -> None:
    errors = message_errors(payload, file_count=len(uploads), editing=editing)
    nonce = payload.get("nonce")
    if nonce is not None and len(str(nonce)) > MAX_NONCE_LENGTH:
        errors.append(FieldError("nonce", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."))
    if errors:
        raise invalid_form(errors)


class ChannelRoutes:
    def __init__(self, context: RestContext) -> None:
        self.context = context
        self.state = context.state

    def register(self, router: web.UrlDispatcher) -> None:
        router.add_get("/channels/{channel_id}", self.get_channel)
        router.add_post("/channels/{channel_id}/messages", self.create_message)
        router.add_get("/channels/{channel_id}/messages", self.history)
        router.add_get("/channels/{channel_id}/messages/{message_id}", self.get_message)
        router.add_patch("/channels/{channel_id}/messages/{message_id}", self.edit_message)
        router.add_delete("/channels/{channel_id}/messages/{message_id}", self.delete_message)
        router.add_post("/channels/{channel_id}/typing", self.typing)
        router.add_post("/users/@me/channels", self.create_dm)

    def _channel(self, request: web.Request, *, posting: bool = False) -> int:
        """The channel id, or the error Discord gives for it (404 10003, 403 50001/50013/50007)."""
        channel_id = snowflake_param(request, "channel_id")
        guild = self.state.home_of(channel_id)
        if guild is None:
            raise UNKNOWN_CHANNEL
        if channel_id in guild.channels:
            code = guild.forbidden_channels.get(channel_id)
            if code == MISSING_ACCESS or (code is not None and posting):
                text = "Missing Access" if code == MISSING_ACCESS else "Missing Permissions"
                raise DiscordError(403, code, text)
            return channel_id
        recipient = guild.dm_recipient(channel_id)
        if posting and recipient in guild.blocked_dms:
            raise DiscordError(403, 50007, "Cannot send messages to this user")
        return channel_id

    def _message(self, request: web.Request, channel_id: int) -> FakeMessage:
        message = self.state.messages.get(snowflake_param(request, "message_id"))
        gone = message is None or message.deleted or message.channel_id != channel_id
        # Ephemeral messages exist only for their interaction's webhook, not the channel routes.
        if gone or message.ephemeral:
            raise UNKNOWN_MESSAGE
        return message

    def _upload_limit(self, channel_id: int) -> int:
        guild = self.state.home_of(channel_id)
        if guild is not None and channel_id in guild.channels:
            return guild.upload_limit
        return DEFAULT_UPLOAD_LIMIT

    async def get_channel(self, request: web.Request) -> web.Response:
        channel_id = self._channel(request)
        guild = self.state.home_of(channel_id)
        assert guild is not None
        if channel_id in guild.channels:
            return json_response(payloads.text_channel(guild, guild.channels[channel_id]))
        recipient = guild.user(guild.dm_recipient(channel_id) or 0)
        assert recipient is not None
        return json_response(payloads.dm_channel(guild, channel_id, recipient))

    async def create_message(self, request: web.Request) -> web.Response:
        channel_id = self._channel(request, posting=True)
        body = body_of(request)
        payload = json_of(request)
        check_message(payload, body.uploads, editing=False)
        check_upload_size(body.uploads, self._upload_limit(channel_id))
        nonce = payload.get("nonce")
        if nonce is not None and payload.get("enforce_nonce"):
            existing = self.state.find_by_nonce(channel_id, str(nonce))
            if existing is not None:
                return json_response(existing.raw)
        files = self.state.files_from(channel_id, payload, body.uploads, keep=[])
        message = await self.state.create_message(
            channel_id=channel_id, payload=payload, files=files
        )
        return json_response(message.raw)

    async def history(self, request: web.Request) -> web.Response:
        channel_id = self._channel(request)
        limit = int(request.query.get("limit", "50"))
        visible = self.state.visible_messages(channel_id, include_ephemeral=False)
        return json_response([message.raw for message in reversed(visible)][:limit])

    async def get_message(self, request: web.Request) -> web.Response:
        channel_id = self._channel(request)
        return json_response(self._message(request, channel_id).raw)

    async def edit_message(self, request: web.Request) -> web.Response:
        channel_id = self._channel(request)
        message = self._message(request, channel_id)
        await apply_edit(self.state, message, request, self._upload_limit(channel_id))
        return json_response(message.raw)

    async def delete_message(self, request: web.Request) -> web.Response:
        channel_id = self._channel(request)
        await self.state.delete_message(self._message(request, channel_id))
        return no_content()

    async def typing(self, request: web.Request) -> web.Response:
        self._channel(request, posting=True)
        return no_content()

    async def create_dm(self, request: web.Request) -> web.Response:
        recipient_id = int(json_of(request).get("recipient_id") or 0)
        recipient = self.state.users_by_id().get(recipient_id)
        if recipient is None or recipient.bot:
            raise DiscordError(400, 50033, "Invalid Recipient(s)")
        guild = self.state.guild_with_user(recipient_id)
        channel_id = guild.dm_channel_for(recipient_id)
        return json_response(payloads.dm_channel(guild, channel_id, recipient))


async def apply_edit(
    state: FakeState,
    message: FakeMessage,
    request: web.Request,
    upload_limit: int,
    *,
    ends_loading: bool = False,
) -> None:
    """Edit `message` as the request's body says, checked as Discord checks an edit;
    `ends_loading` turns a deferred "thinking" answer into the real one."""
    body = body_of(request)
    payload = json_of(request)
    check_message(payload, body.uploads, editing=True)
    check_upload_size(body.uploads, upload_limit)
    files = None
    if body.uploads or "attachments" in payload:
        files = state.files_from(message.channel_id, payload, body.uploads, keep=message.files)
    if ends_loading:
        message.flags &= ~LOADING_FLAG
    await state.edit_message(message, payload, files)
