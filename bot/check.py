"""`miraflow-bot check`: is this set-up ready to run? One line per check, never a secret.

Checks the Discord token (a login: `GET /users/@me`), the Miraflow key (`GET /api/avatars`),
the job store (it opens and takes a write) and the command sync (the command-set hash stored
at the last sync is the current one). Exits non-zero when any check fails.
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import time
from dataclasses import dataclass
from typing import TextIO

import aiohttp
import discord
import psycopg

from bot.discord_endpoints import point_discord_at
from bot.jobs.store import Store, StoreOpenError, open_store
from bot.jobs.store.factory import describe_store
from bot.miraflow.key_check import KeyVerdict, check_key
from bot.settings import Settings

EXIT_CHECK_FAILED = 1
DISCORD_TIMEOUT = 30.0
CHECKED_AT_KEY = "last_check_at"


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'}  {self.name}: {self.detail}"


async def check_discord_token(settings: Settings) -> CheckResult:
    name = "Discord token"
    point_discord_at(settings.discord_api_base_url or None, settings.discord_gateway_url or None)
    client = discord.Client(intents=discord.Intents.none())
    try:
        async with asyncio.timeout(DISCORD_TIMEOUT):
            await client.login(settings.discord_token)
    except discord.LoginFailure:
        return CheckResult(name, False, "Discord refused DISCORD_TOKEN; check it in .env")
    except discord.HTTPException as exc:
        return CheckResult(name, False, f"Discord answered HTTP {exc.status}; try again later")
    except (aiohttp.ClientError, OSError, TimeoutError):
        return CheckResult(name, False, "could not reach Discord; check the network")
    finally:
        await client.close()
    return CheckResult(name, True, f"logged in as {client.user}")


async def check_miraflow_key(settings: Settings) -> CheckResult:
    name = "Miraflow key"
    result = await check_key(
        settings.miraflow_api_key,
        base_url=settings.miraflow_base_url,
        timeout=settings.miraflow_timeout,
    )
    if result.verdict is KeyVerdict.WRONG_KEY:
        detail = f"Miraflow refused MIRAFLOW_API_KEY at {settings.miraflow_base_url}; check it"
        return CheckResult(name, False, detail)
    return CheckResult(name, result.ok, result.detail)


def check_store(settings: Settings) -> tuple[CheckResult, Store | None]:
    name = "store"
    where = describe_store(settings.database_url, settings.database_path)
    try:
        store = open_store(settings.database_url, settings.database_path)
    except StoreOpenError as exc:
        return CheckResult(name, False, str(exc)), None
    try:
        store.set_meta(CHECKED_AT_KEY, str(time.time()))
    except (sqlite3.Error, psycopg.Error) as exc:
        store.close()
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return CheckResult(name, False, f"cannot write to {where}: {first_line}"), None
    return CheckResult(name, True, f"{where} opens and takes writes"), store


async def check_commands_synced(settings: Settings, store: Store | None) -> CheckResult:
    name = "commands synced"
    if store is None:
        return CheckResult(name, False, "cannot tell without a working store")
    from bot.discord_bot import SYNC_HASH_KEY, MiraflowBot, cog_modules
    from bot.miraflow import MiraflowClient

    # The bot is built only to load its commands: it neither logs in nor connects.
    async with MiraflowClient(settings.miraflow_api_key, settings.miraflow_base_url) as miraflow:
        bot = MiraflowBot(settings, store, miraflow)
        try:
            for module in cog_modules():
                await bot.load_extension(module)
            current = bot.command_hash()
        finally:
            await bot.close()
    stored = store.get_meta(SYNC_HASH_KEY)
    if stored is None:
        return CheckResult(name, False, "never synced; run `miraflow-bot sync` or start the bot")
    if stored != current:
        detail = "the commands changed since the last sync; run `miraflow-bot sync`"
        return CheckResult(name, False, detail)
    return CheckResult(name, True, "the commands are the ones last synced")


async def run_checks(settings: Settings, out: TextIO = sys.stdout) -> int:
    """Run every check, print one line each, and return the exit status."""
    results = [await check_discord_token(settings), await check_miraflow_key(settings)]
    store_result, store = check_store(settings)
    results.append(store_result)
    try:
        results.append(await check_commands_synced(settings, store))
    finally:
        if store is not None:
            store.close()
    for result in results:
        print(result.line(), file=out)
    return 0 if all(result.ok for result in results) else EXIT_CHECK_FAILED
