"""INTERACTION_CREATE payloads: slash commands, context menus, autocomplete, component clicks.

Option types come from the synced command when the bot has synced it (as Discord knows
them), else from the Python value: str 3, int 4, bool 5, float 10, FakeUser 6, and 11 for
names given in `attachments`.
"""

from __future__ import annotations

from typing import Any

from tests.fakediscord import payloads
from tests.fakediscord.guild import FakeGuild
from tests.fakediscord.ids import interaction_token, snowflake
from tests.fakediscord.models import FakeMessage, FakeUser, JsonDict
from tests.fakediscord.state import FakeState

SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2
STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = (
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    10,
    11,
)
GUILD_CONTEXT, BOT_DM_CONTEXT = 0, 1
USER_MENU, MESSAGE_MENU = 2, 3

AttachmentSpec = tuple[str, bytes, str]


def _schema_options(
    command: JsonDict | None, group: str | None, subcommand: str | None
) -> list[JsonDict] | None:
    if command is None:
        return None
    options = command.get("options") or []
    for name in (group, subcommand):
        if name is None:
            continue
        parent = next((option for option in options if option["name"] == name), None)
        if parent is None:
            raise ValueError(f"/{command['name']} has no subcommand or group {name!r}")
        options = parent.get("options") or []
    return options


def _infer_type(value: Any) -> int:
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int):
        return INTEGER
    if isinstance(value, float):
        return NUMBER
    if isinstance(value, FakeUser):
        return USER
    return STRING


class InteractionBuilder:
    def __init__(self, state: FakeState) -> None:
        self.state = state

    def guild_of(self, channel_id: int) -> FakeGuild:
        guild = self.state.home_of(channel_id)
        if guild is None:
            raise ValueError(f"channel {channel_id} is neither a guild channel nor a DM")
        return guild

    def base(self, interaction_type: int, user: FakeUser, channel_id: int) -> JsonDict:
        guild = self.guild_of(channel_id)
        payload: JsonDict = {
            "id": str(snowflake()),
            "application_id": str(self.state.application_id),
            "type": interaction_type,
            "token": interaction_token(),
            "version": 1,
            "locale": "en-US",
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": guild.upload_limit,
            "app_permissions": str(guild.permissions(self.state.bot_user.id, channel_id)),
        }
        if guild.is_text_channel(channel_id):
            payload.update(
                guild_id=str(guild.id),
                guild={"id": str(guild.id), "locale": "en-US", "features": []},
                guild_locale="en-US",
                channel_id=str(channel_id),
                channel=payloads.text_channel(guild, guild.channels[channel_id]),
                member=payloads.member(guild, user, channel_id=channel_id),
                context=GUILD_CONTEXT,
                authorizing_integration_owners={"0": str(guild.id)},
            )
        else:
            recipient = guild.user(guild.dm_recipient(channel_id) or 0)
            assert recipient is not None
            payload.update(
                channel_id=str(channel_id),
                channel=payloads.dm_channel(guild, channel_id, recipient),
                user=payloads.user(user),
                context=BOT_DM_CONTEXT,
                authorizing_integration_owners={"1": str(user.id)},
            )
        return payload

    def command(
        self,
        name: str,
        values: dict[str, Any],
        *,
        user: FakeUser,
        channel_id: int,
        group: str | None,
        subcommand: str | None,
        attachments: dict[str, AttachmentSpec],
        guild_command: bool | None,
        focused: str | None = None,
    ) -> JsonDict:
        """Type 2 (or type 4 autocomplete when `focused` names the option being typed)."""
        guild = self.guild_of(channel_id)
        command = self.state.find_command(name, guild_command=guild_command, guild_id=guild.id)
        schema = _schema_options(command, group, subcommand)
        types = {option["name"]: option["type"] for option in schema or []}
        resolved: dict[str, dict[str, JsonDict]] = {}
        options: list[JsonDict] = []
        for option_name, value in values.items():
            if value is None:  # an option left empty is absent from Discord's payload
                continue
            if schema is not None and option_name not in types:
                raise ValueError(f"/{name} has no option {option_name!r}; it has {sorted(types)}")
            option_type = types.get(option_name) or _infer_type(value)
            option: JsonDict = {"name": option_name, "type": option_type}
            option["value"] = self._option_value(option_type, value, resolved, guild)
            if option_name == focused:
                option["focused"] = True
            options.append(option)
        for option_name, (filename, data, content_type) in attachments.items():
            if schema is not None and types.get(option_name) != ATTACHMENT:
                raise ValueError(f"/{name} has no attachment option {option_name!r}")
            upload = self.state.store_upload(channel_id, filename, data, content_type, None)
            resolved.setdefault("attachments", {})[str(upload.id)] = payloads.attachment(upload)
            options.append({"name": option_name, "type": ATTACHMENT, "value": str(upload.id)})
        for parent_name, parent_type in ((subcommand, SUB_COMMAND), (group, SUB_COMMAND_GROUP)):
            if parent_name is not None:
                options = [{"name": parent_name, "type": parent_type, "options": options}]
        data: JsonDict = {
            "id": command["id"] if command else str(snowflake()),
            "name": name,
            "type": 1,
            "options": options,
        }
        if resolved:
            data["resolved"] = resolved
        data.update(self._command_scope(command, guild_command, guild))
        payload = self.base(4 if focused else 2, user, channel_id)
        payload["data"] = data
        return payload

    def context_menu(
        self,
        name: str,
        target: FakeMessage | FakeUser,
        *,
        user: FakeUser,
        channel_id: int,
        guild_command: bool | None,
    ) -> JsonDict:
        """Type 2 for a right click: a message menu (data.type 3) or a user menu (data.type 2).

        Discord sends no options, only the target, in full, under `resolved`.
        """
        menu_type = MESSAGE_MENU if isinstance(target, FakeMessage) else USER_MENU
        guild = self.guild_of(channel_id)
        command = self.state.find_command(
            name, guild_command=guild_command, command_type=menu_type, guild_id=guild.id
        )
        resolved: dict[str, dict[str, JsonDict]] = {}
        if isinstance(target, FakeMessage):
            resolved["messages"] = {str(target.id): target.raw}
        else:
            self._option_value(USER, target, resolved, guild)
        data: JsonDict = {
            "id": command["id"] if command else str(snowflake()),
            "name": name,
            "type": menu_type,
            "target_id": str(target.id),
            "resolved": resolved,
        }
        data.update(self._command_scope(command, guild_command, guild))
        payload = self.base(2, user, channel_id)
        payload["data"] = data
        return payload

    @staticmethod
    def _command_scope(
        command: JsonDict | None, guild_command: bool | None, guild: FakeGuild
    ) -> JsonDict:
        """`data.guild_id` is there when the command was synced to the guild (or forced)."""
        if command is not None and "guild_id" in command:
            return {"guild_id": command["guild_id"]}
        if command is None and guild_command:
            return {"guild_id": str(guild.id)}
        return {}

    def _option_value(
        self,
        option_type: int,
        value: Any,
        resolved: dict[str, dict[str, JsonDict]],
        guild: FakeGuild,
    ) -> Any:
        if option_type in (USER, MENTIONABLE) and isinstance(value, FakeUser):
            resolved.setdefault("users", {})[str(value.id)] = payloads.user(value)
            member = payloads.member(guild, value, channel_id=guild.channel_id)
            del member["user"]
            resolved.setdefault("members", {})[str(value.id)] = member
            return str(value.id)
        if option_type == CHANNEL:
            channel = guild.channels[int(value)]
            resolved.setdefault("channels", {})[str(channel.id)] = {
                **payloads.text_channel(guild, channel),
                "permissions": str(guild.permissions(self.state.bot_user.id, channel.id)),
            }
            return str(channel.id)
        if option_type == ROLE:
            role = next(r for r in payloads.roles(guild) if r["id"] == str(value))
            resolved.setdefault("roles", {})[role["id"]] = role
            return role["id"]
        return value

    def component(
        self,
        message: FakeMessage,
        custom_id: str,
        *,
        user: FakeUser,
        values: list[str] | None,
    ) -> JsonDict:
        component = _find_component(message.components, custom_id)
        if component is None:
            raise ValueError(
                f"message {message.id} has no component {custom_id!r}: {message.custom_ids()}"
            )
        if component.get("disabled"):
            raise ValueError(f"component {custom_id!r} is disabled and cannot be used")
        data: JsonDict = {"custom_id": custom_id, "component_type": component["type"]}
        if values is not None:
            data["values"] = values
        payload = self.base(3, user, message.channel_id)
        payload["data"] = data
        payload["message"] = message.raw
        return payload


def _find_component(components: list[JsonDict], custom_id: str) -> JsonDict | None:
    for component in components:
        if component.get("custom_id") == custom_id:
            return component
        nested = [
            *component.get("components", []),
            *([component["accessory"]] if component.get("accessory") else []),
        ]
        found = _find_component(nested, custom_id)
        if found is not None:
            return found
    return None
