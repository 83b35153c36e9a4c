"""The other routes: who am I, where is the gateway, the application, its commands, the guild."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from tests.fakediscord import payloads
from tests.fakediscord.guild import FakeGuild
from tests.fakediscord.rest_common import (
    DiscordError,
    RestContext,
    body_of,
    invalid_form,
    json_response,
    snowflake_param,
)
from tests.fakediscord.validation import commands_errors

UNKNOWN_GUILD = DiscordError(404, 10004, "Unknown Guild")


class MiscRoutes:
    def __init__(
        self,
        context: RestContext,
        gateway_url: Callable[[], str],
        recommended_shards: Callable[[], int],
    ) -> None:
        self.context = context
        self.state = context.state
        self.gateway_url = gateway_url
        self.recommended_shards = recommended_shards

    def register(self, router: web.UrlDispatcher) -> None:
        router.add_get("/users/@me", self.me)
        router.add_get("/users/{user_id}", self.get_user)
        router.add_get("/gateway", self.gateway)
        router.add_get("/gateway/bot", self.gateway_bot)
        router.add_get("/applications/@me", self.application)
        router.add_get("/oauth2/applications/@me", self.application)
        router.add_get("/applications/{application_id}/commands", self.get_commands)
        router.add_put("/applications/{application_id}/commands", self.put_commands)
        guild_commands = "/applications/{application_id}/guilds/{guild_id}/commands"
        router.add_get(guild_commands, self.get_commands)
        router.add_put(guild_commands, self.put_commands)
        router.add_get("/guilds/{guild_id}", self.get_guild)
        router.add_get("/guilds/{guild_id}/channels", self.get_guild_channels)
        router.add_get("/guilds/{guild_id}/members/{user_id}", self.get_member)

    async def me(self, request: web.Request) -> web.Response:
        return json_response(payloads.user(self.state.bot_user))

    async def get_user(self, request: web.Request) -> web.Response:
        user = self.state.users_by_id().get(snowflake_param(request, "user_id"))
        if user is None:
            raise DiscordError(404, 10013, "Unknown User")
        return json_response(payloads.user(user))

    async def gateway(self, request: web.Request) -> web.Response:
        return json_response({"url": self.gateway_url()})

    async def gateway_bot(self, request: web.Request) -> web.Response:
        limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        return json_response(
            {
                "url": self.gateway_url(),
                "shards": self.recommended_shards(),
                "session_start_limit": limit,
            }
        )

    async def application(self, request: web.Request) -> web.Response:
        owner = self.state.guild.users.owner
        return json_response(
            payloads.application(self.state.application_id, owner, self.state.bot_user)
        )

    def _scope(self, request: web.Request) -> int | None:
        if snowflake_param(request, "application_id") != self.state.application_id:
            raise DiscordError(403, 50001, "Missing Access")
        if "guild_id" not in request.match_info:
            return None
        guild_id = snowflake_param(request, "guild_id")
        if self.state.guild_by_id(guild_id) is None:
            raise DiscordError(403, 50001, "Missing Access")
        return guild_id

    async def get_commands(self, request: web.Request) -> web.Response:
        return json_response(self.state.registered_commands.get(self._scope(request), []))

    async def put_commands(self, request: web.Request) -> web.Response:
        scope = self._scope(request)
        commands = body_of(request).json
        if not isinstance(commands, list):
            raise DiscordError(400, 50035, "Invalid Form Body")
        errors = commands_errors(commands)
        if errors:
            raise invalid_form(errors)
        return json_response(self.state.overwrite_commands(scope, commands))

    def _guild(self, request: web.Request) -> FakeGuild:
        guild = self.state.guild_by_id(snowflake_param(request, "guild_id"))
        if guild is None:
            raise UNKNOWN_GUILD
        return guild

    async def get_guild(self, request: web.Request) -> web.Response:
        return json_response(payloads.guild_object(self._guild(request)))

    async def get_guild_channels(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        channels = guild.channels.values()
        return json_response([payloads.text_channel(guild, channel) for channel in channels])

    async def get_member(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        user = guild.user(snowflake_param(request, "user_id"))
        if user is None:
            raise DiscordError(404, 10007, "Unknown Member")
        return json_response(payloads.member(guild, user))
