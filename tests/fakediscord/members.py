"""Acting as members: posting messages (with attachments or image embeds) and right-clicking.

Members' messages are what a context menu targets; their attachments and hosted files are
served by the fake, so `Attachment.read()` and a download of an embed's image URL get the bytes.
"""

from __future__ import annotations

from tests.fakediscord.driving import InteractionDriving
from tests.fakediscord.interactions import AttachmentSpec
from tests.fakediscord.models import FakeFile, FakeInteraction, FakeMessage, FakeUser, JsonDict

HOSTED_CHANNEL = 0  # files hosted for embeds belong to no channel


def image_link_embed(fake: FakeFile, *, width: int = 512, height: int = 512) -> JsonDict:
    """The embed Discord unfurls when a member posts a link to a picture: type "image",
    the picture as its thumbnail."""
    thumbnail = {"url": fake.url, "proxy_url": fake.url, "width": width, "height": height}
    return {"type": "image", "url": fake.url, "thumbnail": thumbnail}


def image_embed(fake: FakeFile, *, title: str | None = None) -> JsonDict:
    """A rich embed whose image is a hosted file (what another bot's result looks like)."""
    image = {"url": fake.url, "proxy_url": fake.url, "width": 512, "height": 512}
    return {"type": "rich", **({"title": title} if title else {}), "image": image}


class MemberActions(InteractionDriving):
    """FakeDiscord's member-side methods (a mixin: it uses the server's state and builder)."""

    def host_file(self, filename: str, data: bytes, content_type: str = "") -> FakeFile:
        """Serve bytes at a URL of the fake (an image linked or embedded in a message)."""
        return self.state.store_upload(HOSTED_CHANNEL, filename, data, content_type, None)

    async def post_message(
        self,
        content: str = "",
        *,
        author: FakeUser | None = None,
        channel_id: int | None = None,
        attachments: list[AttachmentSpec] | None = None,
        embeds: list[JsonDict] | None = None,
    ) -> FakeMessage:
        """A member posts in a channel (default alice, main channel); clients get MESSAGE_CREATE."""
        channel = channel_id or self.channel_id
        poster = author or self.alice_of(channel)
        guild = self.builder.guild_of(channel)
        may_post = (
            guild.user(poster.id) is not None
            if guild.is_text_channel(channel)
            else guild.dm_recipient(channel) == poster.id
        )
        if poster.bot or not may_post:
            raise ValueError(f"{poster.username} cannot post in channel {channel}")
        files = [
            self.state.store_upload(channel, name, data, content_type, None)
            for name, data, content_type in attachments or []
        ]
        payload = {"content": content, "embeds": list(embeds or [])}
        return await self.state.create_message(
            channel_id=channel, payload=payload, files=files, author_id=poster.id
        )

    async def invoke_message_command(
        self,
        name: str,
        message: FakeMessage | int,
        *,
        user: FakeUser | None = None,
        guild_command: bool | None = None,
        timeout: float = 10.0,
    ) -> FakeInteraction:
        """Right-click a message > Apps > `name`: a message context menu (data.type 3)."""
        message_id = message if isinstance(message, int) else message.id
        target = self.state.messages[message_id]
        if target.deleted or target.ephemeral:
            raise ValueError(f"message {message_id} is deleted or ephemeral: no menu on it")
        payload = self.builder.context_menu(
            name,
            target,
            user=user or self.alice_of(target.channel_id),
            channel_id=target.channel_id,
            guild_command=guild_command,
        )
        return await self._send_interaction(payload, name=name, timeout=timeout)

    async def invoke_user_command(
        self,
        name: str,
        target: FakeUser,
        *,
        user: FakeUser | None = None,
        channel_id: int | None = None,
        guild_command: bool | None = None,
        timeout: float = 10.0,
    ) -> FakeInteraction:
        """Right-click a member > Apps > `name`: a user context menu (data.type 2)."""
        channel = channel_id or self.channel_id
        payload = self.builder.context_menu(
            name,
            target,
            user=user or self.alice_of(channel),
            channel_id=channel,
            guild_command=guild_command,
        )
        return await self._send_interaction(payload, name=name, timeout=timeout)
