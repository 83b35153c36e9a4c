"""/speak: a talking-avatar video from a script (with a voice) or from an audio file."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import PurePath
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.app_commands import Range
from discord.ext import commands

from bot.catalogue import ItemT
from bot.choices import (
    CHOICE_LIMIT,
    avatar_autocomplete,
    require_avatar,
    require_voice,
    shown,
    voice_autocomplete,
)
from bot.errors import UserFacingError
from bot.jobs.job_requests import AudioVideoRequest, JobRequest, TextVideoRequest
from bot.jobs.store import UserDefaults
from bot.launch import bot_of, confirm_started, job_name, origin_for
from bot.media import AudioInfo, MediaProblem, check_attachment_size, check_audio_attachment
from bot.miraflow.models import Avatar, Voice
from bot.screening import screen
from bot.validation import MAX_NAME_LENGTH, MAX_SCRIPT_LENGTH, clean_text

if TYPE_CHECKING:
    from bot.discord_bot import MiraflowBot

AUDIO_LABEL = "audio"
BOTH_SOURCES = (
    "Give either a script in `text` or an audio file in `audio`, not both. "
    "Run `/speak` again with just one of them."
)
NO_SOURCE = (
    "Tell me what the avatar should say: write a script in `text`, "
    "or attach a recording in `audio`."
)
VOICE_WITH_AUDIO = (
    "A voice is only used to read a script; an audio file already speaks with its own. "
    "Leave out `voice`, or write a script in `text` instead of attaching audio."
)
FULL_BODY_WITH_AUDIO = (
    "Full-body animation works with a written script only. "
    "Leave out `full_body`, or write a script in `text` instead of attaching audio."
)


@dataclass(frozen=True, slots=True)
class SpeakRequest:
    """The options of one /speak, checked without any I/O."""

    script: str | None  # exactly one of script and audio is set
    audio: discord.Attachment | None
    avatar: str | None
    voice: str | None
    full_body: bool
    name: str


def check_request(
    *,
    text: str | None,
    audio: discord.Attachment | None,
    avatar: str | None,
    voice: str | None,
    full_body: bool | None,
    name: str | None,
    max_attachment_bytes: int,
) -> SpeakRequest:
    """Every check that needs no I/O, run before the interaction is answered."""
    if text is not None and audio is not None:
        raise UserFacingError(BOTH_SOURCES)
    if text is None and audio is None:
        raise UserFacingError(NO_SOURCE)
    chosen_name = clean_text(name, label="video name", max_length=MAX_NAME_LENGTH, required=False)
    avatar = (avatar or "").strip() or None
    voice = (voice or "").strip() or None
    if audio is not None:
        if voice is not None:
            raise UserFacingError(VOICE_WITH_AUDIO)
        if full_body:
            raise UserFacingError(FULL_BODY_WITH_AUDIO)
        try:
            check_attachment_size(audio.size, max_bytes=max_attachment_bytes, label=AUDIO_LABEL)
        except MediaProblem as problem:
            raise UserFacingError(str(problem)) from problem
        spoken = PurePath(audio.filename).stem.replace("_", " ")
        return SpeakRequest(None, audio, avatar, None, False, chosen_name or job_name(spoken))
    script = clean_text(text, label="script", max_length=MAX_SCRIPT_LENGTH)
    return SpeakRequest(
        script, None, avatar, voice, bool(full_body), chosen_name or job_name(script)
    )


@dataclass(frozen=True, slots=True)
class AudioUpload:
    """A checked recording, ready for Miraflow's media workflow."""

    data: bytes
    file_name: str
    content_type: str


def missing_defaults_message(need_avatar: bool, need_voice: bool) -> str:
    if need_avatar and need_voice:
        return (
            "You didn't pick an avatar or a voice, and you have no defaults yet. Choose them "
            "with the `avatar` and `voice` options, or save your favourites once with "
            "`/avatar default`."
        )
    what = "an avatar" if need_avatar else "a voice"
    option = "avatar" if need_avatar else "voice"
    return (
        f"You didn't pick {what}, and you have no default one yet. Choose one with the "
        f"`{option}` option, or save your favourite once with `/avatar default`."
    )


async def read_audio(attachment: discord.Attachment, max_bytes: int) -> tuple[bytes, AudioInfo]:
    try:
        data = await attachment.read()
    except discord.HTTPException as exc:
        raise UserFacingError(
            "I couldn't download the audio file from Discord. Please attach it again."
        ) from exc
    try:
        return data, check_audio_attachment(data, max_bytes=max_bytes, label=AUDIO_LABEL)
    except MediaProblem as problem:
        raise UserFacingError(str(problem)) from problem


def upload_file_name(attachment: discord.Attachment, info: AudioInfo) -> str:
    stem = PurePath(attachment.filename).stem.strip() or "audio"
    return f"{stem[:80]}.{info.extension}"


async def default_item(
    find: Callable[[str], Awaitable[ItemT | None]],
    value: str,
    defaults: UserDefaults | None,
    what: str,
) -> ItemT:
    """A stored default, which may have been deleted from the account since."""
    item = await find(value)
    if item is None:
        stored_name = getattr(defaults, f"{what}_name", None) or value
        raise UserFacingError(
            f"Your default {what} “{shown(stored_name)}” is no longer available on "
            f"Miraflow. Pick a {what} in the command, or choose a new default with "
            "`/avatar default`."
        )
    return item


class Speak(commands.Cog):
    def __init__(self, bot: MiraflowBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        # So the first autocomplete finds the catalogue already cached.
        self.bot.catalogue.warm()

    @app_commands.command(name="speak")
    @app_commands.guild_only()
    @app_commands.describe(
        text="The script the avatar reads aloud (or attach audio instead)",
        audio="A recording the avatar lip-syncs to (instead of a script)",
        avatar="Who speaks (your default if left out)",
        voice="The voice that reads the script (your default if left out)",
        full_body="Animate the whole body of a photo avatar, not just the head",
        name="A name for the video (taken from the script or file name if left out)",
    )
    @app_commands.autocomplete(avatar=avatar_autocomplete, voice=voice_autocomplete)
    async def speak(
        self,
        interaction: discord.Interaction,
        text: Range[str, 1, MAX_SCRIPT_LENGTH] | None = None,
        audio: discord.Attachment | None = None,
        avatar: Range[str, 1, CHOICE_LIMIT] | None = None,
        voice: Range[str, 1, CHOICE_LIMIT] | None = None,
        full_body: bool | None = None,
        name: Range[str, 1, MAX_NAME_LENGTH] | None = None,
    ) -> None:
        """Make a talking-avatar video from a script or an audio file."""
        max_bytes = self.bot.settings.max_attachment_bytes
        request = check_request(
            text=text,
            audio=audio,
            avatar=avatar,
            voice=voice,
            full_body=full_body,
            name=name,
            max_attachment_bytes=max_bytes,
        )
        screen(interaction, {"text": request.script, "name": request.name})
        await interaction.response.defer(ephemeral=True, thinking=True)

        chosen_avatar, chosen_voice = await self._resolve_speakers(
            interaction.user.id, interaction.guild_id, request
        )
        service = bot_of(interaction).jobs
        origin = await origin_for(interaction)
        audio = request.audio
        if audio is None:
            assert chosen_voice is not None and request.script is not None
            job = await service.start(
                origin,
                TextVideoRequest(
                    avatar_id=chosen_avatar.id,
                    voice_id=chosen_voice.id,
                    text=request.script,
                    name=request.name,
                    avatar_name=chosen_avatar.name,
                    voice_name=chosen_voice.name,
                    full_body=request.full_body,
                ),
            )
        else:

            async def read_files() -> list[AudioUpload]:
                data, info = await read_audio(audio, max_bytes)
                return [AudioUpload(data, upload_file_name(audio, info), info.mime_type)]

            def with_media(media_ids: list[str]) -> JobRequest:
                (audio_media_id,) = media_ids
                return AudioVideoRequest(
                    avatar_id=chosen_avatar.id,
                    audio_media_id=audio_media_id,
                    name=request.name,
                    avatar_name=chosen_avatar.name,
                )

            # The service checks the quotas before the download and upload.
            job = await service.start_with_files(origin, read_files, with_media)
        await confirm_started(interaction, job)

    async def _resolve_speakers(
        self, user_id: int, guild_id: int | None, request: SpeakRequest
    ) -> tuple[Avatar, Voice | None]:
        """The avatar and (for a script) the voice: as given, else the user's defaults."""
        needs_voice = request.audio is None
        defaults: UserDefaults | None = None
        if request.avatar is None or (needs_voice and request.voice is None):
            defaults = self.bot.store.get_user_defaults(user_id)
        avatar_value = request.avatar or (defaults.avatar_id if defaults else None)
        voice_value = request.voice or (defaults.voice_id if defaults else None)
        if avatar_value is None or (needs_voice and voice_value is None):
            raise UserFacingError(
                missing_defaults_message(avatar_value is None, needs_voice and voice_value is None)
            )

        catalogue = self.bot.catalogue_for(guild_id)
        if request.avatar is not None:
            avatar = await require_avatar(self.bot, request.avatar, guild_id)
        else:
            avatar = await default_item(catalogue.find_avatar, avatar_value, defaults, "avatar")
        if not needs_voice:
            return avatar, None
        assert voice_value is not None
        if request.voice is not None:
            voice = await require_voice(self.bot, request.voice, guild_id)
        else:
            voice = await default_item(catalogue.find_voice, voice_value, defaults, "voice")
        return avatar, voice


async def setup(bot: MiraflowBot) -> None:
    await bot.add_cog(Speak(bot))
