"""Acting as Discord users: slash commands, autocomplete, clicks, and the bot's answers."""

from __future__ import annotations

import time
from typing import Any

from tests.fakediscord.gateway import GatewayHub
from tests.fakediscord.interactions import AttachmentSpec, InteractionBuilder
from tests.fakediscord.models import (
    CallbackRecord,
    FakeInteraction,
    FakeMessage,
    FakeUser,
)
from tests.fakediscord.state import FakeState, InteractionRecord


class InteractionDriving:
    """FakeDiscord's interaction methods (a mixin: it uses the server's state and gateway)."""

    state: FakeState
    gateway: GatewayHub
    builder: InteractionBuilder
    channel_id: int

    async def invoke(
        self,
        name: str,
        options: dict[str, Any] | None = None,
        *,
        user: FakeUser | None = None,
        channel_id: int | None = None,
        subcommand: str | None = None,
        group: str | None = None,
        attachments: dict[str, AttachmentSpec] | None = None,
        guild_command: bool | None = None,
        timeout: float = 10.0,
    ) -> FakeInteraction:
        """Send a slash command (INTERACTION_CREATE type 2) to the newest connected client
        of the shard owning the channel's guild."""
        channel = channel_id or self.channel_id
        payload = self.builder.command(
            name,
            dict(options or {}),
            user=user or self.alice_of(channel),
            channel_id=channel,
            group=group,
            subcommand=subcommand,
            attachments=dict(attachments or {}),
            guild_command=guild_command,
        )
        return await self._send_interaction(payload, name=name, timeout=timeout)

    async def autocomplete(
        self,
        name: str,
        options: dict[str, Any],
        *,
        focused: str,
        user: FakeUser | None = None,
        channel_id: int | None = None,
        subcommand: str | None = None,
        group: str | None = None,
        timeout: float = 5.0,
    ) -> list[dict[str, Any]]:
        """Send an autocomplete interaction and return the choices the bot answered."""
        values = dict(options)
        values.setdefault(focused, "")
        channel = channel_id or self.channel_id
        payload = self.builder.command(
            name,
            values,
            user=user or self.alice_of(channel),
            channel_id=channel,
            group=group,
            subcommand=subcommand,
            attachments={},
            guild_command=None,
            focused=focused,
        )
        interaction = await self._send_interaction(payload, name=name, timeout=timeout)
        ack = await self.wait_for_ack(interaction, timeout=timeout)
        if ack.type != 8 or not ack.accepted:
            raise AssertionError(f"autocomplete answered with {ack}")
        return list((ack.data or {}).get("choices", []))

    async def click(
        self,
        message: FakeMessage | int,
        custom_id: str,
        *,
        user: FakeUser | None = None,
        values: list[str] | None = None,
        timeout: float = 10.0,
    ) -> FakeInteraction:
        """Press a component of a message the bot sent (INTERACTION_CREATE type 3)."""
        message_id = message if isinstance(message, int) else message.id
        current = self.state.messages[message_id]
        payload = self.builder.component(
            current, custom_id, user=user or self.alice_of(current.channel_id), values=values
        )
        return await self._send_interaction(payload, name=None, timeout=timeout)

    async def _send_interaction(
        self, payload: dict[str, Any], *, name: str | None, timeout: float
    ) -> FakeInteraction:
        guild_id = int(payload["guild_id"]) if "guild_id" in payload else None
        session = await self.gateway.wait_for_target(guild_id, timeout)
        user_data = payload.get("member", {}).get("user") or payload["user"]
        interaction = FakeInteraction(
            id=int(payload["id"]),
            token=payload["token"],
            type=payload["type"],
            name=name,
            custom_id=payload["data"].get("custom_id"),
            user_id=int(user_data["id"]),
            channel_id=int(payload["channel_id"]),
            guild_id=guild_id,
            sent_at=time.monotonic(),
            payload=payload,
        )
        record = InteractionRecord(interaction)
        if "message" in payload:  # a click, or a modal opened from one
            record.clicked_message_id = int(payload["message"]["id"])
        self.state.interactions[interaction.id] = record
        await self.gateway.dispatch(session, "INTERACTION_CREATE", payload)
        return interaction

    def alice_of(self, channel_id: int) -> FakeUser:
        """The default member acting in a channel: alice of the guild it belongs to."""
        return self.builder.guild_of(channel_id).users.alice

    def expire_interaction(self, interaction: FakeInteraction) -> None:
        """As if 15 minutes had passed: its token no longer works (401 50027)."""
        self.state.interactions[interaction.id].expired = True

    def callbacks(self, interaction: FakeInteraction) -> list[CallbackRecord]:
        return list(self.state.interactions[interaction.id].callbacks)

    async def wait_for_ack(
        self, interaction: FakeInteraction, timeout: float = 5.0
    ) -> CallbackRecord:
        """The first callback the bot POSTed for this interaction (accepted or not)."""
        record = self.state.interactions[interaction.id]
        return await self.state.wait_for(
            lambda: record.callbacks[0] if record.callbacks else None,
            timeout,
            lambda: (
                f"interaction {interaction.name or interaction.custom_id!r} was never acknowledged"
            ),
        )

    def interaction_responses(self, interaction: FakeInteraction) -> list[FakeMessage]:
        """The original response (if any) then the followups, deleted ones left out.

        For a click answered with an update (callback 6 or 7), the original response is the
        clicked message itself, as for Discord's @original.
        """
        record = self.state.interactions[interaction.id]
        ids = [record.original_message_id, *record.followup_ids]
        messages = [self.state.messages.get(message_id or 0) for message_id in ids]
        return [message for message in messages if message is not None and not message.deleted]

    async def wait_for_response(
        self, interaction: FakeInteraction, predicate: Any = None, timeout: float = 10.0
    ) -> FakeMessage:
        """The first response message of the interaction that is not "thinking" and matches."""

        def find() -> FakeMessage | None:
            for message in self.interaction_responses(interaction):
                if not message.loading and (predicate is None or predicate(message)):
                    return message
            return None

        return await self.state.wait_for(
            find,
            timeout,
            lambda: f"no matching response; responses: {self.interaction_responses(interaction)}",
        )
