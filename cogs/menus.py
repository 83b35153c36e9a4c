"""Right-click actions on a member's message: Edit image (its picture) and Speak message
(its text, in the member's default avatar and voice)."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import UserFacingError, report_error
from bot.jobs.job_requests import TextVideoRequest
from bot.launch import (
    bot_of,
    confirm_started,
    job_name,
    origin_for,
    picture_request,
    start_edit_job,
)
from bot.modlog import request_fields
from bot.pictures import (
    NO_PICTURE,
    FoundPicture,
    check_found,
    first_picture,
    read_found,
    upload_reader,
)
from bot.screening import screen
from bot.styles import require_style
from bot.ui.forms import form_values
from bot.validation import MAX_PROMPT_LENGTH, MAX_SCRIPT_LENGTH, clean_text
from cogs.speak import default_item

if TYPE_CHECKING:
    from bot.discord_bot import MiraflowBot

log = logging.getLogger(__name__)

EDIT_IMAGE = "Edit image"
SPEAK_MESSAGE = "Speak message"
MODAL_ID = "mf:edit-image"
MODAL_TIMEOUT = 15 * 60.0
NO_DEFAULTS = (
    "Speak message reads the text in your default avatar and voice, and you have not "
    "chosen them yet. Pick them once with `/avatar default`, then try again."
)
NO_TEXT = (
    "That message has no text to speak. Pick a message with words in it, or write a "
    "script with `/speak`."
)


def message_text(message: discord.Message) -> str:
    """The words of a message: its content, else the description of its first embed."""
    if message.content.strip():
        return message.content
    for embed in message.embeds:
        if embed.description and embed.description.strip():
            return embed.description
    return ""


class EditImageModal(discord.ui.Modal):
    """Asks for the prompt (and optionally a style and a negative prompt) of an edit."""

    prompt: discord.ui.TextInput[EditImageModal] = discord.ui.TextInput(
        label="What to change",
        style=discord.TextStyle.paragraph,
        placeholder="e.g. make it a watercolor at night",
        custom_id=f"{MODAL_ID}:prompt",
        max_length=MAX_PROMPT_LENGTH,
    )
    style: discord.ui.TextInput[EditImageModal] = discord.ui.TextInput(
        label="Style (optional)",
        placeholder="one of this server's styles",
        custom_id=f"{MODAL_ID}:style",
        required=False,
        max_length=100,
    )
    negative: discord.ui.TextInput[EditImageModal] = discord.ui.TextInput(
        label="What it should not contain (optional)",
        style=discord.TextStyle.paragraph,
        custom_id=f"{MODAL_ID}:negative",
        required=False,
        max_length=MAX_PROMPT_LENGTH,
    )

    def __init__(self, found: FoundPicture, message: discord.Message) -> None:
        # The message is in the custom_id too: a submit after a restart or after the
        # time-out finds the picture again (`Menus.submitted_late`).
        custom_id = f"{MODAL_ID}:{message.channel.id}:{message.id}"
        super().__init__(title=EDIT_IMAGE, custom_id=custom_id, timeout=MODAL_TIMEOUT)
        self.found = found

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await submit_edit(
            interaction, self.found, self.prompt.value, self.style.value, self.negative.value
        )

    async def on_error(  # type: ignore[override]  # discord.py's Modal narrows it the same way
        self, interaction: discord.Interaction, error: Exception, /
    ) -> None:
        await report_error(interaction, error, log)


async def submit_edit(
    interaction: discord.Interaction, found: FoundPicture, prompt: str, style: str, negative: str
) -> None:
    """An Edit image form submitted: check it, acknowledge, then start the edit job."""
    bot = bot_of(interaction)
    if not await bot.admit(interaction):
        return
    picture = picture_request(
        prompt, negative or None, None, None, require_style(interaction, style)
    )
    screen(interaction, request_fields(picture))
    await interaction.response.defer(ephemeral=True, thinking=True)
    max_bytes = bot.settings.max_attachment_bytes
    api_base = bot.settings.discord_api_base_url

    async def read() -> bytes:
        return await read_found(found, max_bytes=max_bytes, api_base=api_base)

    await start_edit_job(interaction, picture, upload_reader(read, max_bytes))


class Menus(commands.Cog):
    def __init__(self, bot: MiraflowBot) -> None:
        self.bot = bot
        self.menus = [
            app_commands.guild_only(
                app_commands.ContextMenu(name=EDIT_IMAGE, callback=self.edit_image)
            ),
            app_commands.guild_only(
                app_commands.ContextMenu(name=SPEAK_MESSAGE, callback=self.speak_message)
            ),
        ]

    async def cog_load(self) -> None:
        for menu in self.menus:
            self.bot.tree.add_command(menu)
        self.bot.forms.add(rf"{MODAL_ID}:(?P<channel>\d+):(?P<message>\d+)", self.submitted_late)

    async def cog_unload(self) -> None:
        for menu in self.menus:
            self.bot.tree.remove_command(menu.name, type=menu.type)

    def _checked_picture(self, message: discord.Message) -> FoundPicture:
        """The message's first picture, if it is one the bot may fetch and edit."""
        found = first_picture(message)
        if found is None:
            raise UserFacingError(NO_PICTURE)
        check_found(
            found,
            max_bytes=self.bot.settings.max_attachment_bytes,
            api_base=self.bot.settings.discord_api_base_url,
        )
        return found

    async def edit_image(self, interaction: discord.Interaction, message: discord.Message) -> None:
        """The message's first picture is the reference of an edit; a modal asks the prompt."""
        found = self._checked_picture(message)
        await interaction.response.send_modal(EditImageModal(found, message))

    async def submitted_late(self, interaction: discord.Interaction, ids: re.Match[str]) -> None:
        """An Edit image form whose modal this process no longer holds: the picture is read
        from the message again, checked as when the form was opened."""
        try:
            channel = await self.bot.fetch_channel(int(ids["channel"]))
            if not isinstance(channel, discord.abc.Messageable):
                raise UserFacingError(NO_PICTURE)
            message = await channel.fetch_message(int(ids["message"]))
        except (discord.NotFound, discord.Forbidden) as exc:
            raise UserFacingError(NO_PICTURE) from exc
        found = self._checked_picture(message)
        values = form_values(interaction)
        await submit_edit(
            interaction,
            found,
            values.get(f"{MODAL_ID}:prompt", ""),
            values.get(f"{MODAL_ID}:style", ""),
            values.get(f"{MODAL_ID}:negative", ""),
        )

    async def speak_message(
        self, interaction: discord.Interaction, message: discord.Message
    ) -> None:
        """The message's text becomes the script of a video in the member's defaults."""
        text = message_text(message)
        if not text.strip():
            raise UserFacingError(NO_TEXT)
        script = clean_text(text, label="script", max_length=MAX_SCRIPT_LENGTH)
        name = job_name(script)
        screen(interaction, {"text": script, "name": name})
        # Acknowledged before the first read of the store, which may be slow (or far).
        await interaction.response.defer(ephemeral=True, thinking=True)
        defaults = self.bot.store.get_user_defaults(interaction.user.id)
        if defaults is None or defaults.avatar_id is None or defaults.voice_id is None:
            raise UserFacingError(NO_DEFAULTS)
        catalogue = self.bot.catalogue_for(interaction.guild_id)
        avatar = await default_item(catalogue.find_avatar, defaults.avatar_id, defaults, "avatar")
        voice = await default_item(catalogue.find_voice, defaults.voice_id, defaults, "voice")
        request = TextVideoRequest(
            avatar_id=avatar.id,
            voice_id=voice.id,
            text=script,
            name=name,
            avatar_name=avatar.name,
            voice_name=voice.name,
        )
        job = await self.bot.jobs.start(await origin_for(interaction), request)
        await confirm_started(interaction, job)


async def setup(bot: MiraflowBot) -> None:
    await bot.add_cog(Menus(bot))
