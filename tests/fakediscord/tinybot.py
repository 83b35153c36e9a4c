"""A tiny discord.py bot for the fake's own tests, and an example for e2e tests.

One app command per thing the project's bot does: answer at once, defer then post a file
with an embed and a button, autocomplete, read an attachment, a subcommand and a group, a
counter button edited on click; a message context menu that reads the target's pictures, one
that opens a modal, a user context menu, and a button that opens a modal editing its message.
"""

from __future__ import annotations

import hashlib
import io

import discord
from discord import app_commands
from discord.ext import commands

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
AVATARS = ["anna", "annabel", "bob", "zed"]


class CounterView(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=60)
        self.count = 0

    @discord.ui.button(label="+1", custom_id="counter:add")
    async def add(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        self.count += 1
        await interaction.response.edit_message(
            content=f"count: {self.count} by {interaction.user.name}"
        )


class SetCountModal(discord.ui.Modal, title="Set the count"):
    count = discord.ui.TextInput(label="Count", custom_id="count:value", max_length=6)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.edit_message(content=f"count: {self.count.value} (set)")


class SetterView(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=60)

    @discord.ui.button(label="Set", custom_id="counter:set")
    async def set(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await interaction.response.send_modal(SetCountModal())


class EditModal(discord.ui.Modal, title="Edit image"):
    """A label-wrapped input (discord.py 2.6+) and a bare one (sent in an action row)."""

    prompt: discord.ui.Label[EditModal] = discord.ui.Label(
        text="Prompt",
        component=discord.ui.TextInput(custom_id="edit:prompt", min_length=3, max_length=100),
    )
    note = discord.ui.TextInput(
        label="Note", custom_id="edit:note", required=False, style=discord.TextStyle.paragraph
    )

    def __init__(self, target: discord.Message) -> None:
        super().__init__(custom_id=f"edit:{target.id}")
        self.target = target

    async def on_submit(self, interaction: discord.Interaction) -> None:
        assert isinstance(self.prompt.component, discord.ui.TextInput)
        await interaction.response.send_message(
            f"edit {self.target.id} by {interaction.user.name}: "
            f"{self.prompt.component.value!r} note {self.note.value!r}",
            ephemeral=True,
        )


class UploadModal(discord.ui.Modal, title="Upload"):
    """The newer modal fields: a file upload, a select and a checkbox, each in a label."""

    files: discord.ui.Label[UploadModal] = discord.ui.Label(
        text="Pictures", component=discord.ui.FileUpload(custom_id="up:files", max_values=2)
    )
    size: discord.ui.Label[UploadModal] = discord.ui.Label(
        text="Size",
        component=discord.ui.Select(
            custom_id="up:size",
            options=[discord.SelectOption(label=s) for s in ("small", "large")],
        ),
    )
    public: discord.ui.Label[UploadModal] = discord.ui.Label(
        text="Public", component=discord.ui.Checkbox(custom_id="up:public")
    )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        assert isinstance(self.files.component, discord.ui.FileUpload)
        assert isinstance(self.size.component, discord.ui.Select)
        assert isinstance(self.public.component, discord.ui.Checkbox)
        sizes = [len(await a.read()) for a in self.files.component.values]
        await interaction.response.send_message(
            f"{sizes} {self.size.component.values} {self.public.component.value}"
        )


class TinyBot(commands.Bot):
    def __init__(self) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.default(),
            allowed_mentions=discord.AllowedMentions.none(),
            guild_ready_timeout=0.1,  # on_ready this long after the last GUILD_CREATE
        )
        add_commands(self.tree)


class ShardedTinyBot(commands.AutoShardedBot):
    """TinyBot's commands on every shard Discord recommends (or `shard_ids` of `shard_count`)."""

    def __init__(self, **shards: object) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.default(),
            allowed_mentions=discord.AllowedMentions.none(),
            guild_ready_timeout=0.1,
            **shards,
        )
        add_commands(self.tree)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """discord.py waits 5 s between shards' IDENTIFYs for Discord's rate limit; the fake
        has none."""


def add_commands(tree: app_commands.CommandTree) -> None:
    @tree.command()
    async def hello(interaction: discord.Interaction, name: str) -> None:
        """Answer at once."""
        await interaction.response.send_message(f"Hello {name}")

    @tree.command()
    async def render(interaction: discord.Interaction, prompt: str) -> None:
        """Defer, followup, then a channel message with a file, an embed and a button."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        await interaction.followup.send("queued", ephemeral=False)
        channel = interaction.client.get_partial_messageable(interaction.channel_id)
        everyone_role = interaction.guild.default_role.id
        await channel.send(
            f"{interaction.user.mention} here is {prompt!r} <@&{everyone_role}>",
            file=discord.File(io.BytesIO(PNG), "result.png"),
            embed=discord.Embed(title="Result", description=prompt),
            view=CounterView(),
            allowed_mentions=discord.AllowedMentions(users=[interaction.user]),
            nonce=f"job-{interaction.id}"[:25],
        )

    @tree.command()
    async def speak(interaction: discord.Interaction, text: str, avatar: str) -> None:
        """Autocomplete."""
        await interaction.response.send_message(f"{avatar} says {text}")

    @speak.autocomplete("avatar")
    async def avatar_choices(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=a, value=a) for a in AVATARS if a.startswith(current)]

    @tree.command()
    async def inspect(interaction: discord.Interaction, image: discord.Attachment) -> None:
        """Read an attachment's bytes."""
        data = await image.read()
        digest = hashlib.sha256(data).hexdigest()
        await interaction.response.send_message(
            f"{image.filename} {len(data)} {image.content_type} {digest}",
            file=discord.File(io.BytesIO(data), "copy.png"),
        )

    @tree.command()
    async def limits(interaction: discord.Interaction) -> None:
        """Tell the upload limit the interaction carries."""
        await interaction.response.send_message(str(interaction.filesize_limit))

    @tree.command()
    async def counter(interaction: discord.Interaction) -> None:
        """A message with a button."""
        await interaction.response.send_message("count: 0", view=CounterView())

    @tree.command()
    async def setter(interaction: discord.Interaction) -> None:
        """A message with a button that opens a modal."""
        await interaction.response.send_message("count: 0", view=SetterView())

    @tree.command()
    async def upload(interaction: discord.Interaction) -> None:
        """A modal with a file upload, a select and a checkbox."""
        await interaction.response.send_modal(UploadModal())

    @tree.command()
    async def progress(interaction: discord.Interaction) -> None:
        """Answer, then edit the original response."""
        await interaction.response.send_message("0%")
        await interaction.edit_original_response(content="100%")

    @tree.context_menu(name="Describe")
    async def describe(interaction: discord.Interaction, message: discord.Message) -> None:
        """Read the target message: author, text, attachments' bytes, embeds' picture URLs."""
        parts = [message.author.name, repr(message.content)]
        for attachment in message.attachments:
            data = await attachment.read()
            parts.append(f"{attachment.filename} {len(data)} {attachment.content_type}")
        for embed in message.embeds:
            parts.append(f"{embed.type} {embed.image.url or embed.thumbnail.url}")
        await interaction.response.send_message(" | ".join(parts), ephemeral=True)

    @tree.context_menu(name="Edit image")
    async def edit_image(interaction: discord.Interaction, message: discord.Message) -> None:
        await interaction.response.send_modal(EditModal(message))

    @tree.context_menu(name="Wave")
    async def wave(interaction: discord.Interaction, member: discord.Member) -> None:
        await interaction.response.send_message(f"{interaction.user.name} waves at {member.name}")

    avatar = app_commands.Group(name="avatar", description="Avatars")

    @avatar.command(name="list")
    async def avatar_list(interaction: discord.Interaction, search: str, page: int = 1) -> None:
        """A subcommand."""
        await interaction.response.send_message(f"list {search!r} page {page}", ephemeral=True)

    admin = app_commands.Group(name="admin", description="Admin", parent=avatar)

    @admin.command(name="reset")
    async def avatar_admin_reset(interaction: discord.Interaction, confirm: bool) -> None:
        """A subcommand in a group."""
        await interaction.response.send_message(f"reset {confirm}")

    tree.add_command(avatar)
