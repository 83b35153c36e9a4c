"""Discord JSON objects built from the fake's state, as full as discord.py needs them."""

from __future__ import annotations

from typing import Any

from tests.fakediscord.guild import FakeChannel, FakeGuild
from tests.fakediscord.ids import snowflake_time
from tests.fakediscord.models import FakeFile, FakeMessage, FakeUser, JsonDict

GUILDS_INTENT = 1 << 0
GUILD_MEMBERS_INTENT = 1 << 1
GUILD_MESSAGES_INTENT = 1 << 9
DIRECT_MESSAGES_INTENT = 1 << 12
MESSAGE_CONTENT_INTENT = 1 << 15


def user(fake: FakeUser) -> JsonDict:
    return {
        "id": str(fake.id),
        "username": fake.username,
        "global_name": fake.global_name,
        "discriminator": "0" if not fake.bot else "0001",
        "avatar": None,
        "bot": fake.bot,
        "system": False,
        "public_flags": 0,
        "flags": 0,
        "banner": None,
        "accent_color": None,
        "avatar_decoration_data": None,
    }


def member(guild: FakeGuild, fake: FakeUser, *, channel_id: int | None = None) -> JsonDict:
    payload: JsonDict = {
        "user": user(fake),
        "roles": [str(role) for role in guild.member_roles.get(fake.id, [])],
        "joined_at": guild.created,
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "flags": 0,
        "pending": False,
        "nick": None,
        "avatar": None,
        "banner": None,
        "communication_disabled_until": None,
    }
    if channel_id is not None:
        payload["permissions"] = str(guild.permissions(fake.id, channel_id))
    return payload


def roles(guild: FakeGuild) -> list[JsonDict]:
    names = {
        guild.roles.everyone: "@everyone",
        guild.roles.admin: "Admin",
        guild.roles.artists: "Artists",
        guild.roles.bot: "Miraflow",
    }
    permissions = guild.role_permissions()
    return [
        {
            "id": str(role_id),
            "name": name,
            "permissions": str(permissions[role_id]),
            "position": position,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "managed": role_id == guild.roles.bot,
            "mentionable": role_id == guild.roles.artists,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
            **({"tags": {"bot_id": str(guild.bot_user.id)}} if role_id == guild.roles.bot else {}),
        }
        for position, (role_id, name) in enumerate(names.items())
    ]


def text_channel(guild: FakeGuild, channel: FakeChannel) -> JsonDict:
    return {
        "id": str(channel.id),
        "type": 0,
        "guild_id": str(guild.id),
        "name": channel.name,
        "position": channel.position,
        "permission_overwrites": [
            {**overwrite, "id": str(overwrite["id"])} for overwrite in channel.overwrites
        ],
        "parent_id": None,
        "topic": None,
        "nsfw": False,
        "rate_limit_per_user": 0,
        "last_message_id": None,
        "flags": 0,
    }


def dm_channel(guild: FakeGuild, channel_id: int, recipient: FakeUser) -> JsonDict:
    return {
        "id": str(channel_id),
        "type": 1,
        "last_message_id": None,
        "flags": 0,
        "recipients": [user(recipient)],
    }


def guild_create(guild: FakeGuild, *, intents: int) -> JsonDict:
    """A full GUILD_CREATE; members beyond the bot only with the GUILD_MEMBERS intent."""
    with_members = bool(intents & GUILD_MEMBERS_INTENT)
    members = guild.all_users() if with_members else [guild.bot_user]
    return {
        **guild_object(guild),
        "joined_at": guild.created,
        "large": False,
        "unavailable": False,
        "member_count": len(guild.all_users()),
        "members": [member(guild, fake) for fake in members],
        "channels": [text_channel(guild, channel) for channel in guild.channels.values()],
        "threads": [],
        "presences": [],
        "voice_states": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
    }


def guild_object(guild: FakeGuild) -> JsonDict:
    return {
        "id": str(guild.id),
        "name": guild.name,
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "banner": None,
        "description": None,
        "owner_id": str(guild.users.owner.id),
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 1,
        "explicit_content_filter": 0,
        "roles": roles(guild),
        "emojis": [],
        "stickers": [],
        "features": [],
        "mfa_level": 0,
        "application_id": None,
        "system_channel_id": str(guild.channel_id) if guild.channel_id in guild.channels else None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "vanity_url_code": None,
        "premium_tier": guild.premium_tier,
        "premium_subscription_count": 0,
        "preferred_locale": "en-US",
        "public_updates_channel_id": None,
        "nsfw_level": 0,
        "premium_progress_bar_enabled": False,
    }


def application(app_id: int, owner: FakeUser, bot: FakeUser) -> JsonDict:
    return {
        "id": str(app_id),
        "name": bot.username,
        "icon": None,
        "description": "A fake application for tests",
        "bot_public": False,
        "bot_require_code_grant": False,
        "verify_key": "0" * 64,
        "owner": user(owner),
        "team": None,
        "flags": 0,
        "bot": user(bot),
        "interactions_endpoint_url": None,
        "redirect_uris": [],
        "tags": [],
    }


def attachment(fake: FakeFile) -> JsonDict:
    payload: JsonDict = {
        "id": str(fake.id),
        "filename": fake.name,
        "size": fake.size,
        "url": fake.url,
        "proxy_url": fake.url,
        "content_type": fake.content_type,
    }
    if fake.description is not None:
        payload["description"] = fake.description
    return payload


def message(
    fake: FakeMessage,
    *,
    author: FakeUser,
    users_by_id: dict[int, FakeUser],
    extra: dict[str, Any] | None = None,
) -> JsonDict:
    """The message object Discord returns from REST (gateway adds `member`)."""
    payload: JsonDict = {
        "id": str(fake.id),
        "channel_id": str(fake.channel_id),
        "type": 0 if fake.source == "channel" else 20,
        "author": user(author),
        "content": fake.content,
        "timestamp": snowflake_time(fake.id),
        "edited_timestamp": fake.edited_timestamp,
        "tts": False,
        "mention_everyone": fake.pinged_everyone,
        "mentions": [user(users_by_id[u]) for u in sorted(fake.pinged_users) if u in users_by_id],
        "mention_roles": [str(role) for role in sorted(fake.pinged_roles)],
        "attachments": [attachment(f) for f in fake.files],
        "embeds": fake.embeds,
        "components": fake.components,
        "reactions": [],
        "pinned": False,
        "flags": fake.flags,
    }
    if fake.guild_id is not None:
        payload["guild_id"] = str(fake.guild_id)
    if fake.nonce is not None:
        payload["nonce"] = fake.nonce
    if extra:
        payload.update(extra)
    return payload
