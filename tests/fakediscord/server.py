"""FakeDiscord: one aiohttp server on 127.0.0.1 with the REST API, the gateway and attachments."""

from __future__ import annotations

import asyncio
import logging
from types import TracebackType
from typing import Any, Self

import aiohttp
from aiohttp import web

from tests.fakediscord import payloads
from tests.fakediscord.gateway import GatewayHub, GatewaySession
from tests.fakediscord.guild import FakeGuild
from tests.fakediscord.ids import shard_of, snowflake
from tests.fakediscord.interactions import InteractionBuilder
from tests.fakediscord.members import MemberActions
from tests.fakediscord.modals import ModalActions
from tests.fakediscord.models import (
    CommandSync,
    FakeMessage,
    FakeRoles,
    FakeUser,
    FakeUsers,
    RestCall,
)
from tests.fakediscord.rest_common import (
    API_PREFIX,
    RestContext,
    recording_middleware,
    unknown_route,
)
from tests.fakediscord.rest_interactions import InteractionRoutes
from tests.fakediscord.rest_messages import ChannelRoutes
from tests.fakediscord.rest_misc import MiscRoutes
from tests.fakediscord.state import FakeState

log = logging.getLogger("tests.fakediscord")

MAX_REQUEST_BYTES = 512 * 1024 * 1024
BOT_TOKEN = "fake-bot-token.for-tests-only.c2VjcmV0"


class FakeDiscord(MemberActions, ModalActions):
    """See the package docstring for the test-facing API."""

    def __init__(self, *, token: str = BOT_TOKEN, guilds: int = 1, shards: int = 1) -> None:
        """`guilds` fake guilds (guild k on shard k % n for shard counts n dividing 2520);
        `shards`: the shard count GET /gateway/bot recommends (AutoShardedClient uses it)."""
        self.token = token
        self.recommended_shards = shards
        self.application_id = snowflake()
        # Like every application made since 2020, the bot user shares the application's id.
        self.bot_user = FakeUser(self.application_id, "Miraflow Test Bot", None, bot=True)
        self.state = FakeState(
            bot_user=self.bot_user, application_id=self.application_id, guilds=guilds
        )
        self.gateway = GatewayHub(self.state, token)
        self.context = RestContext(self.state, self.gateway, token)
        self.builder = InteractionBuilder(self.state)
        self.api_base = ""
        self.gateway_url = ""
        self.origin = ""
        self._runner: web.AppRunner | None = None
        self._saved_endpoints: tuple[Any, ...] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # lifecycle

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        api = web.Application(middlewares=[recording_middleware(self.context)])
        ChannelRoutes(self.context).register(api.router)
        InteractionRoutes(self.context).register(api.router)
        MiscRoutes(
            self.context, lambda: self.gateway_url, lambda: self.recommended_shards
        ).register(api.router)
        api.router.add_route("*", "/{tail:.*}", unknown_route)
        app = web.Application(client_max_size=MAX_REQUEST_BYTES)
        app.router.add_get("/", self.gateway.handle)
        app.router.add_get(
            "/attachments/{channel_id}/{attachment_id}/{filename}", self._serve_attachment
        )
        app.add_subapp(API_PREFIX, api)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.origin = f"http://127.0.0.1:{port}"
        self.api_base = f"{self.origin}{API_PREFIX}"
        self.gateway_url = f"ws://127.0.0.1:{port}/"
        self.state.origin = self.origin
        self.gateway.url = self.gateway_url

    async def close(self) -> None:
        self.restore_discord_py()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.gateway.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def point_discord_py(self) -> None:
        """Point this process's discord.py at the fake (undone by close())."""
        import discord.asset
        import discord.gateway
        import discord.http

        from bot.discord_endpoints import point_discord_at

        if self._saved_endpoints is None:
            self._saved_endpoints = (
                discord.http.Route.BASE,
                discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY,
                discord.asset.Asset.BASE,
            )
        point_discord_at(self.api_base, self.gateway_url)

    def restore_discord_py(self) -> None:
        if self._saved_endpoints is None:
            return
        import discord.asset
        import discord.gateway
        import discord.http

        (
            discord.http.Route.BASE,
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY,
            discord.asset.Asset.BASE,
        ) = self._saved_endpoints
        self._saved_endpoints = None

    def client_session(self, *, auth: bool = True) -> aiohttp.ClientSession:
        """A plain HTTP client for the REST API (paths relative to it), with the bot token."""
        headers = {"Authorization": f"Bot {self.token}"} if auth else {}
        return aiohttp.ClientSession(base_url=self.api_base + "/", headers=headers)

    async def _serve_attachment(self, request: web.Request) -> web.Response:
        attachment_id = request.match_info["attachment_id"]
        fake = self.state.blobs.get(int(attachment_id)) if attachment_id.isdigit() else None
        if fake is None:
            return web.Response(status=404, text="404: Not Found")
        return web.Response(body=fake.data, content_type=fake.content_type)

    # the world

    @property
    def guilds(self) -> list[FakeGuild]:
        """Every guild (the first is `fd.guild_id`'s); each has id, name, channel_id,
        other_channel_id, users, roles, like the attributes here."""
        return self.state.guilds

    @staticmethod
    def shard_of(guild_id: int, shard_count: int) -> int:
        return shard_of(guild_id, shard_count)

    @property
    def guild_id(self) -> int:
        return self.state.guild.id

    @property
    def channel_id(self) -> int:
        return self.state.guild.channel_id

    @property
    def other_channel_id(self) -> int:
        return self.state.guild.other_channel_id

    @property
    def users(self) -> FakeUsers:
        return self.state.guild.users

    @property
    def roles(self) -> FakeRoles:
        return self.state.guild.roles

    @property
    def nonce_window(self) -> float:
        return self.state.nonce_window

    @nonce_window.setter
    def nonce_window(self, seconds: float) -> None:
        self.state.nonce_window = seconds

    @property
    def ack_deadline(self) -> float:
        return self.context.ack_deadline

    @ack_deadline.setter
    def ack_deadline(self, seconds: float) -> None:
        self.context.ack_deadline = seconds

    def set_upload_limit(self, limit: int, *, guild_id: int | None = None) -> asyncio.Task[None]:
        """Per-request upload limit for the guild (413 beyond it; interactions carry it).

        The change is immediate; connected clients get GUILD_UPDATE (with the matching boost
        tier when the limit is 10, 50 or 100 MiB) from the returned task, which may be awaited.
        """
        guild = self.state.guild_by_id(guild_id or self.guild_id)
        assert guild is not None, f"no fake guild {guild_id}"
        guild.set_upload_limit(limit)
        return self._broadcast("GUILD_UPDATE", payloads.guild_object(guild), guild)

    def delete_channel(self, channel_id: int) -> asyncio.Task[None]:
        """Later requests for that channel answer 404 10003; clients get CHANNEL_DELETE."""
        guild = self._guild_with_channel(channel_id)
        channel = guild.delete_channel(channel_id)
        return self._broadcast("CHANNEL_DELETE", payloads.text_channel(guild, channel), guild)

    def forbid_channel(
        self, channel_id: int, *, missing_access: bool = False
    ) -> asyncio.Task[None]:
        """The bot loses Send Messages there (403 50013), or View Channel too (403 50001)."""
        guild = self._guild_with_channel(channel_id)
        channel = guild.forbid_channel(channel_id, missing_access=missing_access)
        return self._broadcast("CHANNEL_UPDATE", payloads.text_channel(guild, channel), guild)

    def _guild_with_channel(self, channel_id: int) -> FakeGuild:
        guild = self.state.home_of(channel_id)
        if guild is None or not guild.is_text_channel(channel_id):
            raise KeyError(f"no fake guild has a text channel {channel_id}")
        return guild

    def _broadcast(
        self, event: str, data: dict[str, Any], guild: FakeGuild | None = None
    ) -> asyncio.Task[None]:
        """Send a guild event (default: the first guild's) to the clients of its shard."""
        guild_id = (guild or self.state.guild).id
        task = asyncio.get_running_loop().create_task(
            self.gateway.broadcast(event, data, intent=payloads.GUILDS_INTENT, guild_id=guild_id)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def block_dms(self, user_id: int) -> None:
        """Posting in that user's DM channel answers 403 50007."""
        self.state.guild_with_user(user_id).blocked_dms.add(user_id)

    def dm_channel_id(self, user_id: int) -> int:
        return self.state.guild_with_user(user_id).dm_channel_for(user_id)

    # messages

    def messages(
        self, channel_id: int | None = None, *, include_ephemeral: bool = False
    ) -> list[FakeMessage]:
        """Messages visible in a channel (default: the main one), oldest first, deleted left out."""
        return self.state.visible_messages(
            channel_id or self.channel_id, include_ephemeral=include_ephemeral
        )

    def all_messages(self) -> list[FakeMessage]:
        """Every message not deleted, in every channel and DM, ephemeral ones included."""
        return [message for message in self.state.messages.values() if not message.deleted]

    def dm_messages(self, user_id: int) -> list[FakeMessage]:
        channel_id = self.state.guild_with_user(user_id).dm_channels.get(user_id)
        return (
            []
            if channel_id is None
            else self.state.visible_messages(channel_id, include_ephemeral=False)
        )

    async def wait_for_message(self, predicate: Any, timeout: float = 10.0) -> FakeMessage:
        """The first live message (any channel, DMs and responses too) for which predicate is true.

        Re-checked on every create, edit and delete, so a predicate on content also sees edits.
        """
        return await self.state.wait_for(
            lambda: next((m for m in self.all_messages() if predicate(m)), None),
            timeout,
            lambda: (
                f"no message matched; messages: {[(m.id, m.content) for m in self.all_messages()]}"
            ),
        )

    # records

    @property
    def rest_calls(self) -> list[RestCall]:
        return self.state.rest_calls

    @property
    def unhandled_calls(self) -> list[RestCall]:
        return self.state.unhandled_calls

    @property
    def command_syncs(self) -> list[CommandSync]:
        return self.state.command_syncs

    # the gateway

    @property
    def connected(self) -> Any:
        """An asyncio.Event set while some client is IDENTIFYed (or RESUMEd) and connected."""
        return self.gateway.connected

    @property
    def sessions(self) -> list[GatewaySession]:
        return self.gateway.sessions

    async def wait_for_ready_client(self, timeout: float = 10.0) -> GatewaySession:
        """Wait until a client has IDENTIFYed and got READY + GUILD_CREATE."""
        return await self.gateway.wait_for_session(timeout)

    async def wait_for_shards(
        self, shard_count: int, timeout: float = 10.0
    ) -> list[GatewaySession]:
        """Wait until shards 0..shard_count-1 each have a ready, connected session (from one
        client or several); returns them by shard id."""
        return await self.gateway.wait_for_shards(shard_count, timeout)

    async def disconnect_all(self) -> None:
        """Close every gateway connection (Discord restarting); clients RESUME their sessions."""
        await self.gateway.disconnect_all()
