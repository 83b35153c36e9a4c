"""Submits of our forms (modals, custom_id `mf:…`) that no live modal of this process awaits:
the bot restarted since the form was opened, or the form's time-out passed.

discord.py drops such a submit silently, and the member would read "This interaction
failed". A form whose custom_id carries what it needs (Edit image: the channel and message)
is handled by the handler registered for it; any other is answered with a short line.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import discord

from bot.errors import report_error

log = logging.getLogger(__name__)

EXPIRED = "This form expired — please open it again."
PREFIX = "mf:"

FormHandler = Callable[[discord.Interaction, re.Match[str]], Awaitable[None]]


def form_values(interaction: discord.Interaction) -> dict[str, str]:
    """The text a member typed in a submitted form, by input custom_id."""
    found: dict[str, str] = {}

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for child in node:
                walk(child)
        elif isinstance(node, dict):
            if isinstance(node.get("custom_id"), str) and isinstance(node.get("value"), str):
                found[node["custom_id"]] = node["value"]
            walk(node.get("components"))
            walk(node.get("component"))

    walk(dict(interaction.data or {}).get("components"))
    return found


def _is_live(client: discord.Client, custom_id: str) -> bool:
    # discord.py keeps the modals it awaits by custom_id; it has no public way to ask.
    return custom_id in client._connection._view_store._modals


class Forms:
    def __init__(self) -> None:
        self._handlers: list[tuple[re.Pattern[str], FormHandler]] = []

    def add(self, template: str, handler: FormHandler) -> None:
        """Handle submits whose custom_id matches `template` when no live modal does."""
        self._handlers.append((re.compile(template), handler))

    async def answer_unmatched(self, interaction: discord.Interaction) -> None:
        """Called for every interaction; acts only on our forms that nothing else awaits.
        Runs after discord.py handed a live modal its submit, before that modal stops."""
        if interaction.type is not discord.InteractionType.modal_submit:
            return
        custom_id = str(dict(interaction.data or {}).get("custom_id", ""))
        if not custom_id.startswith(PREFIX) or _is_live(interaction.client, custom_id):
            return
        for pattern, handler in self._handlers:
            match = pattern.fullmatch(custom_id)
            if match is not None:
                try:
                    await handler(interaction, match)
                except Exception as exc:
                    await report_error(interaction, exc, log)
                return
        await interaction.response.send_message(EXPIRED, ephemeral=True)
