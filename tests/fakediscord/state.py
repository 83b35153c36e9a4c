"""Everything the fake remembers: messages, uploads, nonces, interactions, command syncs.

Every change notifies one asyncio.Condition, so tests wait on events instead of sleeping.
"""

from __future__ import annotations

import asyncio
import mimetypes
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote

from tests.fakediscord import payloads
from tests.fakediscord.guild import FakeGuild, iso_now
from tests.fakediscord.ids import guild_snowflakes, snowflake
from tests.fakediscord.mentions import compute_pings
from tests.fakediscord.models import (
    EPHEMERAL_FLAG,
    CallbackRecord,
    CommandSync,
    FakeFile,
    FakeInteraction,
    FakeMessage,
    FakeModal,
    FakeUser,
    JsonDict,
    RestCall,
)

T = TypeVar("T")
MessageListener = Callable[[str, FakeMessage], Awaitable[None]]

MAGIC_NUMBERS = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
    (b"ID3", "audio/mpeg"),
    (b"OggS", "audio/ogg"),
    (b"fLaC", "audio/flac"),
)


@dataclass(frozen=True)
class Upload:
    """One `files[n]` part of a multipart request."""

    index: int
    filename: str
    data: bytes
    content_type: str


@dataclass
class InteractionRecord:
    interaction: FakeInteraction
    callbacks: list[CallbackRecord] = field(default_factory=list)
    response_type: int | None = None
    original_message_id: int | None = None
    followup_ids: list[int] = field(default_factory=list)
    clicked_message_id: int | None = None
    expired: bool = False
    modal: FakeModal | None = None

    @property
    def acknowledged(self) -> bool:
        return self.response_type is not None


def sniff_content_type(filename: str, data: bytes, declared: str) -> str:
    """What Discord reports as an attachment's content_type: by name, else by bytes."""
    guessed, _ = mimetypes.guess_type(filename)
    if guessed:
        return guessed
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:8] == b"ftyp":
        return "video/mp4"
    for magic, content_type in MAGIC_NUMBERS:
        if data.startswith(magic):
            return content_type
    return declared or "application/octet-stream"


class FakeState:
    def __init__(self, *, bot_user: FakeUser, application_id: int, guilds: int = 1) -> None:
        self.bot_user = bot_user
        self.application_id = application_id
        self.guilds = [
            FakeGuild(bot_user, guild_id=guild_id, name=f"Fake Guild{f' {k + 1}' if k else ''}")
            for k, guild_id in enumerate(guild_snowflakes(guilds))
        ]
        self.guild = self.guilds[0]
        self.origin = ""
        self.messages: dict[int, FakeMessage] = {}
        self.blobs: dict[int, FakeFile] = {}
        self.nonce_window = 300.0
        self._nonces: dict[tuple[int, str], tuple[int, float]] = {}
        self.interactions: dict[int, InteractionRecord] = {}
        self.rest_calls: list[RestCall] = []
        self.unhandled_calls: list[RestCall] = []
        self.command_syncs: list[CommandSync] = []
        self.registered_commands: dict[int | None, list[JsonDict]] = {}
        self._command_ids: dict[tuple[int | None, str, int], int] = {}
        self.message_listeners: list[MessageListener] = []
        self.changed = asyncio.Condition()

    # waiting

    async def notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    async def wait_for(
        self, find: Callable[[], T | None], timeout: float, describe: Callable[[], str]
    ) -> T:
        """find()'s first truthy result, re-checked on every change; TimeoutError after timeout."""
        async with self.changed:
            try:
                return await asyncio.wait_for(self.changed.wait_for(find), timeout)  # type: ignore[arg-type]
            except TimeoutError:
                raise TimeoutError(f"after {timeout}s: {describe()}") from None

    # the guilds, their members and channels

    def users_by_id(self) -> dict[int, FakeUser]:
        return {user.id: user for guild in self.guilds for user in guild.all_users()}

    def guild_by_id(self, guild_id: int) -> FakeGuild | None:
        return next((guild for guild in self.guilds if guild.id == guild_id), None)

    def guild_with_user(self, user_id: int) -> FakeGuild:
        """The guild a member belongs to (the bot: the first); KeyError for a stranger."""
        for guild in self.guilds:
            if guild.user(user_id) is not None:
                return guild
        raise KeyError(f"no fake guild has a member {user_id}")

    def home_of(self, channel_id: int) -> FakeGuild | None:
        """The guild holding a text channel, or a DM with one of its members; None if unknown."""
        for guild in self.guilds:
            if guild.is_text_channel(channel_id) or guild.dm_recipient(channel_id) is not None:
                return guild
        return None

    def guild_id_of(self, channel_id: int) -> int | None:
        """The guild a text channel belongs to; None for a DM."""
        guild = self.home_of(channel_id)
        return guild.id if guild is not None and guild.is_text_channel(channel_id) else None

    # uploads

    def store_upload(
        self, channel_id: int, filename: str, data: bytes, declared: str, description: str | None
    ) -> FakeFile:
        attachment_id = snowflake()
        url = f"{self.origin}/attachments/{channel_id}/{attachment_id}/{quote(filename)}"
        fake = FakeFile(
            id=attachment_id,
            name=filename,
            data=data,
            content_type=sniff_content_type(filename, data, declared),
            url=url,
            description=description,
        )
        self.blobs[attachment_id] = fake
        return fake

    def files_from(
        self, channel_id: int, payload: JsonDict, uploads: list[Upload], keep: list[FakeFile]
    ) -> list[FakeFile]:
        """The attachments a create or edit ends with: kept ones named in payload, then uploads."""
        entries = payload.get("attachments")
        by_index = {str(entry.get("id")): entry for entry in entries or []}
        kept = list(keep) if entries is None else [old for old in keep if str(old.id) in by_index]
        new = []
        for upload in uploads:
            entry = by_index.get(str(upload.index), {})
            filename = entry.get("filename") or upload.filename
            new.append(
                self.store_upload(
                    channel_id, filename, upload.data, upload.content_type, entry.get("description")
                )
            )
        return kept + new

    # messages

    def find_by_nonce(self, channel_id: int, nonce: str) -> FakeMessage | None:
        found = self._nonces.get((channel_id, nonce))
        if found is None or time.monotonic() - found[1] > self.nonce_window:
            return None
        return self.messages[found[0]]

    async def create_message(
        self,
        *,
        channel_id: int,
        payload: JsonDict,
        files: list[FakeFile],
        source: str = "channel",
        interaction_id: int | None = None,
        flags: int | None = None,
        author_id: int | None = None,
    ) -> FakeMessage:
        guild_id = self.guild_id_of(channel_id)
        allowed = payload.get("allowed_mentions")
        pings = compute_pings(payload.get("content"), allowed)
        nonce = payload.get("nonce")
        message = FakeMessage(
            id=snowflake(),
            channel_id=channel_id,
            guild_id=guild_id,
            content=payload.get("content") or "",
            embeds=list(payload.get("embeds") or []),
            components=list(payload.get("components") or []),
            files=files,
            allowed_mentions=allowed,
            nonce=None if nonce is None else str(nonce),
            flags=int(payload.get("flags") or 0) if flags is None else flags,
            pinged_users=pings.users,
            pinged_roles=pings.roles,
            pinged_everyone=pings.everyone,
            source=source,
            interaction_id=interaction_id,
            created_at=time.monotonic(),
            author_id=author_id,
        )
        self.refresh_raw(message)
        self.messages[message.id] = message
        if message.nonce is not None and payload.get("enforce_nonce"):
            self._nonces[(channel_id, message.nonce)] = (message.id, time.monotonic())
        await self._publish("MESSAGE_CREATE", message)
        return message

    async def edit_message(
        self, message: FakeMessage, payload: JsonDict, files: list[FakeFile] | None
    ) -> FakeMessage:
        if "content" in payload:
            message.content = payload["content"] or ""
        if "embeds" in payload:
            message.embeds = list(payload["embeds"] or [])
        if "components" in payload:
            message.components = list(payload["components"] or [])
        if files is not None:
            message.files = files
        if "allowed_mentions" in payload:
            message.allowed_mentions = payload["allowed_mentions"]
        else:
            # Discord re-parses an edit's content with the default (everything) when absent.
            message.allowed_mentions = None
        pings = compute_pings(message.content, message.allowed_mentions)
        message.pinged_users, message.pinged_roles = pings.users, pings.roles
        message.pinged_everyone = pings.everyone
        message.edits += 1
        message.edited_at = time.monotonic()
        message.edited_timestamp = iso_now()
        self.refresh_raw(message)
        await self._publish("MESSAGE_UPDATE", message)
        return message

    async def delete_message(self, message: FakeMessage) -> None:
        message.deleted = True
        await self._publish("MESSAGE_DELETE", message)

    def refresh_raw(self, message: FakeMessage, extra: JsonDict | None = None) -> None:
        extra = dict(extra or {})
        record = self.interactions.get(message.interaction_id or 0)
        if record is not None and message.source != "channel":
            interaction = record.interaction
            extra.setdefault("webhook_id", str(self.application_id))
            extra.setdefault("application_id", str(self.application_id))
            extra.setdefault(
                "interaction_metadata",
                {
                    "id": str(interaction.id),
                    "type": interaction.type,
                    "user": payloads.user(self.users_by_id()[interaction.user_id]),
                    "authorizing_integration_owners": interaction.payload.get(
                        "authorizing_integration_owners", {}
                    ),
                    **({"name": interaction.name} if interaction.name else {}),
                },
            )
        users = self.users_by_id()
        author = users[message.author_id] if message.author_id else self.bot_user
        message.raw = payloads.message(message, author=author, users_by_id=users, extra=extra)

    async def _publish(self, event: str, message: FakeMessage) -> None:
        for listener in self.message_listeners:
            await listener(event, message)
        await self.notify()

    def visible_messages(self, channel_id: int, *, include_ephemeral: bool) -> list[FakeMessage]:
        return [
            message
            for message in self.messages.values()
            if message.channel_id == channel_id
            and not message.deleted
            and (include_ephemeral or not message.flags & EPHEMERAL_FLAG)
        ]

    # application commands

    def overwrite_commands(self, guild_id: int | None, commands: list[JsonDict]) -> list[JsonDict]:
        """Bulk overwrite, as Discord does it: ids are kept for commands of the same name."""
        self.command_syncs.append(CommandSync(guild_id, commands, time.monotonic()))
        registered = []
        for command in commands:
            key = (guild_id, command["name"], command.get("type", 1))
            command_id = self._command_ids.setdefault(key, snowflake())
            registered.append(self.command_object(command, command_id, guild_id))
        self.registered_commands[guild_id] = registered
        return registered

    def command_object(self, command: JsonDict, command_id: int, guild_id: int | None) -> JsonDict:
        result: dict[str, Any] = {
            "type": 1,
            "description": "",
            "options": [],
            "default_member_permissions": None,
            "nsfw": False,
            **command,
            "id": str(command_id),
            "application_id": str(self.application_id),
            "version": str(snowflake()),
        }
        if guild_id is not None:
            result["guild_id"] = str(guild_id)
        else:
            result.setdefault("contexts", None)
            result.setdefault("integration_types", [0])
        return result

    def find_command(
        self,
        name: str,
        *,
        guild_command: bool | None,
        command_type: int = 1,
        guild_id: int | None = None,
    ) -> JsonDict | None:
        """The registered command of that name and type (1 slash, 2 user menu, 3 message menu),
        guild scope first (that guild, default the first), as Discord shows it."""
        scopes: list[int | None] = []
        if guild_command is not False:
            scopes.append(guild_id or self.guild.id)
        if guild_command is not True:
            scopes.append(None)
        for scope in scopes:
            for command in self.registered_commands.get(scope, []):
                if command["name"] == name and command.get("type", 1) == command_type:
                    return command
        return None
