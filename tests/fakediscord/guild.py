"""The one fake guild: its members, roles, channels, DMs and what the bot may do where."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from tests.fakediscord.ids import snowflake
from tests.fakediscord.models import FakeRoles, FakeUser, FakeUsers

DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024
UPLOAD_LIMIT_BY_TIER = {0: DEFAULT_UPLOAD_LIMIT, 2: 50 * 1024 * 1024, 3: 100 * 1024 * 1024}

ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17
USE_EXTERNAL_EMOJIS = 1 << 18
USE_APPLICATION_COMMANDS = 1 << 31
SEND_MESSAGES_IN_THREADS = 1 << 38
ALL_PERMISSIONS = (1 << 51) - 1

EVERYONE_PERMISSIONS = (
    VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | USE_EXTERNAL_EMOJIS
    | USE_APPLICATION_COMMANDS
    | SEND_MESSAGES_IN_THREADS
)
BOT_ROLE_PERMISSIONS = EVERYONE_PERMISSIONS | MANAGE_MESSAGES

MISSING_ACCESS = 50001
MISSING_PERMISSIONS = 50013


def iso_now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class FakeChannel:
    id: int
    name: str
    position: int
    overwrites: list[dict[str, object]] = field(default_factory=list)


class FakeGuild:
    """Owner (admin), alice and bob (plain members), the bot, two text channels."""

    def __init__(
        self, bot_user: FakeUser, *, guild_id: int | None = None, name: str = "Fake Guild"
    ) -> None:
        self.id = guild_id or snowflake()
        self.name = name
        self.created = iso_now()
        self.bot_user = bot_user
        self.users = FakeUsers(
            owner=FakeUser(snowflake(), "owner", "Server Owner"),
            alice=FakeUser(snowflake(), "alice", "Alice"),
            bob=FakeUser(snowflake(), "bob", "Bob"),
        )
        self.roles = FakeRoles(
            everyone=self.id, admin=snowflake(), artists=snowflake(), bot=snowflake()
        )
        self.member_roles: dict[int, list[int]] = {
            self.users.owner.id: [self.roles.admin],
            self.users.alice.id: [self.roles.artists],
            self.users.bob.id: [],
            bot_user.id: [self.roles.bot],
        }
        self.channels: dict[int, FakeChannel] = {}
        for position, name in enumerate(("general", "other")):
            channel = FakeChannel(snowflake(), name, position)
            self.channels[channel.id] = channel
        self.channel_id, self.other_channel_id = list(self.channels)
        self.deleted_channels: set[int] = set()
        self.forbidden_channels: dict[int, int] = {}
        self.upload_limit = DEFAULT_UPLOAD_LIMIT
        self.premium_tier = 0
        self.dm_channels: dict[int, int] = {}
        self.blocked_dms: set[int] = set()

    # members and roles

    def all_users(self) -> list[FakeUser]:
        return [*self.users, self.bot_user]

    def user(self, user_id: int) -> FakeUser | None:
        return next((user for user in self.all_users() if user.id == user_id), None)

    def role_permissions(self) -> dict[int, int]:
        return {
            self.roles.everyone: EVERYONE_PERMISSIONS,
            self.roles.admin: ADMINISTRATOR | MANAGE_GUILD | EVERYONE_PERMISSIONS,
            self.roles.artists: 0,
            self.roles.bot: BOT_ROLE_PERMISSIONS,
        }

    def permissions(self, user_id: int, channel_id: int | None = None) -> int:
        """Discord's algorithm: roles, then channel overwrites (everyone, roles, member)."""
        if user_id == self.users.owner.id:
            return ALL_PERMISSIONS
        role_permissions = self.role_permissions()
        roles = self.member_roles.get(user_id, [])
        value = role_permissions[self.roles.everyone]
        for role in roles:
            value |= role_permissions.get(role, 0)
        if value & ADMINISTRATOR:
            return ALL_PERMISSIONS
        channel = self.channels.get(channel_id) if channel_id is not None else None
        if channel is None:
            return value
        ordered = sorted(channel.overwrites, key=lambda o: (o["id"] != self.id, o["type"] == 1))
        for overwrite in ordered:
            applies = overwrite["id"] == self.id or (
                overwrite["type"] == 0 and overwrite["id"] in roles
            )
            applies = applies or (overwrite["type"] == 1 and overwrite["id"] == user_id)
            if applies:
                value = (value & ~int(str(overwrite["deny"]))) | int(str(overwrite["allow"]))
        return value

    # channels

    def is_text_channel(self, channel_id: int) -> bool:
        return channel_id in self.channels

    def dm_channel_for(self, user_id: int) -> int:
        if user_id not in self.dm_channels:
            self.dm_channels[user_id] = snowflake()
        return self.dm_channels[user_id]

    def dm_recipient(self, channel_id: int) -> int | None:
        return next((user for user, dm in self.dm_channels.items() if dm == channel_id), None)

    def delete_channel(self, channel_id: int) -> FakeChannel:
        channel = self.channels.pop(channel_id)
        self.deleted_channels.add(channel_id)
        return channel

    def forbid_channel(self, channel_id: int, *, missing_access: bool) -> FakeChannel:
        """Deny the bot Send Messages (and View Channel for missing access) by an overwrite."""
        channel = self.channels[channel_id]
        deny = SEND_MESSAGES | (VIEW_CHANNEL if missing_access else 0)
        channel.overwrites = [o for o in channel.overwrites if o["id"] != self.bot_user.id]
        channel.overwrites.append(
            {"id": self.bot_user.id, "type": 1, "allow": "0", "deny": str(deny)}
        )
        self.forbidden_channels[channel_id] = (
            MISSING_ACCESS if missing_access else MISSING_PERMISSIONS
        )
        return channel

    def set_upload_limit(self, limit: int) -> None:
        self.upload_limit = limit
        tier = next((t for t, size in UPLOAD_LIMIT_BY_TIER.items() if size == limit), None)
        if tier is not None:
            self.premium_tier = tier
