"""Every cog loads, and every command it adds is one Discord will accept.

No network is used: the bot is built but never logs in, and its Miraflow client points
at a closed port it never calls.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import discord
import pytest
from discord import app_commands

from bot.discord_bot import MiraflowBot, cog_modules
from bot.jobs.store import JobStore
from bot.miraflow import MiraflowClient
from bot.settings import load_settings

NAME = re.compile(r"^[-_a-z0-9]{1,32}$")
DEFAULT_DESCRIPTION = "…"  # what discord.py writes when a command or option has none
MAX_OPTIONS = 25
MAX_CHOICES = 25
MAX_PAYLOAD = 8000
EXPECTED_COMMANDS = [
    "imagine",
    "edit",
    "speak",
    "avatar list",
    "avatar voices",
    "avatar default",
    "jobs list",
    "jobs cancel",
    "videos list",
    "videos get",
    "settings show",
    "settings limits",
    "settings words",
    "settings log",
    "settings delivery",
    "settings style",
    "settings reset",
]
EXPECTED_MENUS = ["Edit image", "Speak message"]
DUMMY_ENV = {
    "DISCORD_TOKEN": "dummy-discord-token",
    "MIRAFLOW_API_KEY": "dummy-miraflow-key",
    "MIRAFLOW_BASE_URL": "http://127.0.0.1:9",
    "DATABASE_PATH": ":memory:",
}

AnyCommand = app_commands.Command[Any, ..., Any] | app_commands.Group


@pytest.fixture
async def bot() -> AsyncIterator[MiraflowBot]:
    settings = load_settings(DUMMY_ENV)
    store = JobStore(":memory:")
    client = MiraflowClient(settings.miraflow_api_key, base_url=settings.miraflow_base_url)
    bot = MiraflowBot(settings, store, client)
    try:
        for name in cog_modules():
            await bot.load_extension(name)
        yield bot
    finally:
        await bot.close()
        await client.close()
        store.close()


def every_command(bot: MiraflowBot) -> list[AnyCommand]:
    return list(bot.tree.walk_commands())


def leaf_commands(bot: MiraflowBot) -> list[app_commands.Command[Any, ..., Any]]:
    return [c for c in every_command(bot) if isinstance(c, app_commands.Command)]


async def test_there_are_cogs_and_each_adds_commands(bot: MiraflowBot) -> None:
    assert "cogs.imagine" in cog_modules()
    assert set(bot.extensions) == set(cog_modules())
    menus_by_cog = {type(cog).__module__: getattr(cog, "menus", []) for cog in bot.cogs.values()}
    for cog in bot.cogs.values():
        added = [*cog.walk_app_commands(), *menus_by_cog[type(cog).__module__]]
        assert added, f"cog {cog.qualified_name} adds no slash command or menu"


async def test_command_names_are_unique(bot: MiraflowBot) -> None:
    names = [command.qualified_name for command in every_command(bot)]
    assert len(names) == len(set(names)), names
    top_level = [command.name for command in bot.tree.get_commands()]
    assert len(top_level) == len(set(top_level)), top_level


async def test_names_are_what_discord_accepts(bot: MiraflowBot) -> None:
    for command in every_command(bot):
        assert NAME.match(command.name), f"/{command.qualified_name}: bad name"
    for command in leaf_commands(bot):
        for parameter in command.parameters:
            assert NAME.match(parameter.display_name), (
                f"/{command.qualified_name}: bad option name {parameter.display_name!r}"
            )


async def test_every_command_and_option_is_described(bot: MiraflowBot) -> None:
    for command in every_command(bot):
        description = str(command.description)
        assert 1 <= len(description) <= 100, f"/{command.qualified_name}: description length"
        assert description != DEFAULT_DESCRIPTION, f"/{command.qualified_name} has no description"
    for command in leaf_commands(bot):
        for parameter in command.parameters:
            where = f"/{command.qualified_name} {parameter.display_name}"
            description = str(parameter.description)
            assert 1 <= len(description) <= 100, f"{where}: description length"
            assert description != DEFAULT_DESCRIPTION, f"{where} has no description"


async def test_options_and_choices_fit_discords_limits(bot: MiraflowBot) -> None:
    for command in every_command(bot):
        options = (
            command.parameters if isinstance(command, app_commands.Command) else command.commands
        )
        assert len(options) <= MAX_OPTIONS, f"/{command.qualified_name}: too many options"
    for command in leaf_commands(bot):
        for parameter in command.parameters:
            where = f"/{command.qualified_name} {parameter.display_name}"
            assert len(parameter.choices) <= MAX_CHOICES, f"{where}: too many choices"
            assert not (parameter.choices and parameter.autocomplete), f"{where}: both"
            for choice in parameter.choices:
                assert 1 <= len(choice.name) <= 100, f"{where}: choice {choice.name!r}"


async def test_each_payload_is_small_enough(bot: MiraflowBot) -> None:
    for command in bot.tree.get_commands():
        payload = json.dumps(command.to_dict(bot.tree))
        assert len(payload) < MAX_PAYLOAD, f"/{command.name}: payload of {len(payload)} chars"


def context_menus(bot: MiraflowBot) -> list[app_commands.ContextMenu]:
    return [c for c in bot.tree.get_commands() if isinstance(c, app_commands.ContextMenu)]


async def test_the_message_menus_are_what_discord_accepts(bot: MiraflowBot) -> None:
    menus = context_menus(bot)
    assert {(m.name, m.type) for m in menus} == {
        (name, discord.AppCommandType.message) for name in EXPECTED_MENUS
    }
    for menu in menus:
        payload = menu.to_dict(bot.tree)
        # A menu's name may have capitals and spaces, 1-32 characters; it has no
        # description or options.
        assert 1 <= len(payload["name"]) <= 32, menu.name
        assert payload["name"] == payload["name"].strip()
        assert "description" not in payload or not payload["description"]
        assert "options" not in payload or not payload["options"]
        assert payload["contexts"] == [0], f"{menu.name} must work in servers only"
    # Discord allows 5 message menus per application.
    assert len(menus) <= 5


@pytest.mark.parametrize("name", EXPECTED_COMMANDS)
async def test_the_documented_command_exists(bot: MiraflowBot, name: str) -> None:
    found = {command.qualified_name for command in leaf_commands(bot)}
    assert name in found, f"/{name} is missing; loaded cogs: {sorted(bot.extensions)}"


async def test_shared_account_commands_need_manage_server(bot: MiraflowBot) -> None:
    videos = bot.tree.get_command("videos")
    assert videos is not None
    permissions = videos.to_dict(bot.tree)["default_member_permissions"]
    assert permissions is not None
    assert discord.Permissions(int(permissions)) == discord.Permissions(manage_guild=True)
    jobs = bot.tree.get_command("jobs")
    assert jobs is not None
    assert jobs.to_dict(bot.tree)["default_member_permissions"] is None
