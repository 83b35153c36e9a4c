"""The bot: safe mentions, every cog, one error handler, sync only when commands change."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import importlib
import json
import logging
import pkgutil
from collections.abc import Callable
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

import cogs
from bot.catalogue import Catalogue
from bot.discord_side.frontend import DiscordFrontend
from bot.discord_side.status import StatusBoard
from bot.discord_side.words import RESTARTING
from bot.errors import report_error
from bot.guild_clients import MiraflowClients
from bot.guild_keys import GuildKeys
from bot.guild_settings import GuildSettings
from bot.jobs.claims import job_source_for
from bot.jobs.clients import PacedClients
from bot.jobs.delivery import Delivery
from bot.jobs.estimate import Estimates
from bot.jobs.pacing import Pacers
from bot.jobs.poller import Poller, PollerConfig
from bot.jobs.schedule import Schedule
from bot.jobs.service import JobService, Quotas
from bot.jobs.store import Store
from bot.jobs.unclear import UnclearVideos
from bot.metrics import metrics
from bot.miraflow import MiraflowClient
from bot.modlog import ModLog
from bot.settings import Settings
from bot.ui.buttons import DYNAMIC_ITEMS
from bot.ui.forms import Forms

log = logging.getLogger(__name__)

SYNC_HASH_KEY = "command_sync_hash"
SHUTDOWN_GRACE = 10.0  # seconds given to commands under way when the bot is stopped


def cog_modules() -> list[str]:
    """Every module in the `cogs` package that defines `setup`."""
    names = []
    for info in pkgutil.iter_modules(cogs.__path__, prefix=f"{cogs.__name__}."):
        if hasattr(importlib.import_module(info.name), "setup"):
            names.append(info.name)
    return sorted(names)


def miraflow_client(settings: Settings, key: str) -> MiraflowClient:
    """A Miraflow client with the bot's settings: the bot's own (its key) or a server's."""
    return MiraflowClient(
        key,
        base_url=settings.miraflow_base_url,
        timeout=settings.miraflow_timeout,
        read_timeout=settings.download_stall_timeout,
        stall_timeout=settings.download_stall_timeout,
        download_deadline=settings.download_deadline,
        on_call=metrics.miraflow_call,
    )


def own_key_client(settings: Settings) -> Callable[[str], MiraflowClient]:
    """Makes a server's own client: the bot client's settings with the server's key."""
    return functools.partial(miraflow_client, settings)


class MiraflowTree(app_commands.CommandTree):
    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        bot: MiraflowBot = self.client  # type: ignore[assignment]
        return await bot.admit(interaction)

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        await report_error(interaction, error, log)


class MiraflowBot(commands.AutoShardedBot):
    """Runs the shards SHARD_IDS of SHARD_COUNT, or every shard Discord recommends."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        miraflow: MiraflowClient,
        **options: Any,
    ) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        options.setdefault("shard_count", settings.shard_count)
        options.setdefault("shard_ids", list(settings.shard_ids) if settings.shard_ids else None)
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            help_command=None,
            allowed_mentions=discord.AllowedMentions.none(),
            tree_cls=MiraflowTree,
            **options,
        )
        self.settings = settings
        self.store = store
        self.miraflow = miraflow
        self.catalogue = Catalogue(miraflow)
        self.guild_keys = GuildKeys(
            store,
            settings.settings_secret,
            unclear_for=settings.video_timeout / settings.time_scale,
        )
        # The bot's client, and one per server that set its own key (`/settings apikey`).
        self.miraflow_clients = MiraflowClients(miraflow, self.guild_keys, own_key_client(settings))
        self._own_catalogues: dict[MiraflowClient, Catalogue] = {}
        schedule = Schedule(settings.time_scale)
        self.status_board = StatusBoard(self, store, estimates=Estimates(store))
        self.frontend = DiscordFrontend(self, self.status_board)
        # One pacer per Miraflow key, that every call of the engine passes (bot.jobs.pacing).
        pacers = Pacers(settings.polls_per_second, settings.time_scale)
        paced = PacedClients(self.miraflow_clients, pacers)
        pacers.pace(miraflow)
        self.delivery = Delivery(store, miraflow, self.frontend, paced)
        # All the jobs on SQLite; on a shared PostgreSQL store, those this process claims.
        self.job_source = job_source_for(
            store, shard_count=settings.shard_count, shard_ids=settings.shard_ids
        )
        # Until the heartbeat counts the processes, the shard settings say how many share it.
        pacers.share(self.job_source.expected_workers)
        self.poller = Poller(
            store,
            miraflow,
            self.delivery,
            self.frontend,
            PollerConfig(
                calls_per_second=settings.polls_per_second,
                max_in_flight=settings.polls_in_flight,
                image_timeout=settings.image_timeout,
                video_timeout=settings.video_timeout,
                schedule=schedule,
            ),
            jobs=self.job_source,
            clients=self.miraflow_clients,
            pacers=pacers,
        )
        self.unclear_videos = UnclearVideos(
            store,
            self.miraflow_clients,
            self.poller.wake,
            video_timeout=settings.video_timeout,
            speed=settings.time_scale,
        )
        quotas = Quotas(settings.max_active_jobs, settings.max_jobs_per_day)
        self.guild_settings = GuildSettings(store.guild_settings, quotas)
        self.modlog = ModLog(self, self.guild_settings)
        self.jobs = JobService(
            store,
            miraflow,
            self.frontend,
            quotas=quotas,
            wake_poller=self.poller.wake,
            schedule=schedule,
            quotas_for=self.guild_settings.quotas,
            image_timeout=settings.image_timeout,
            video_timeout=settings.video_timeout,
            look_for_unclear=self.unclear_videos.wake,
            clients=paced,
            first_poll=self.poller.first_poll_delay,
        )
        self.forms = Forms()  # our modals' submits that no live modal awaits
        self.force_sync = False
        self.sync_only = False  # `miraflow-bot sync`: load commands, sync, start nothing
        self._closing = False
        self._busy: set[asyncio.Task[object]] = set()

    async def setup_hook(self) -> None:
        for name in cog_modules():
            await self.load_extension(name)
        for item in DYNAMIC_ITEMS:
            self.add_dynamic_items(item)
        await self.sync_commands(force=self.force_sync)
        if self.sync_only:
            return
        await self.jobs.recover_interrupted(self.job_source.interrupted_before())
        await self.job_source.start(self.poller, self.jobs.recover_interrupted)
        self.guild_settings.start()
        self.poller.start()
        self.unclear_videos.start()

    async def close(self) -> None:
        """Stop cleanly: refuse new interactions, let those under way (a create call, a
        status message) finish, stop the poller, then disconnect."""
        self._closing = True
        busy = [task for task in self._busy if task is not asyncio.current_task()]
        if busy:
            log.info("waiting for %d commands under way", len(busy))
            await asyncio.wait(busy, timeout=SHUTDOWN_GRACE)
        await self.unclear_videos.stop()
        await self.poller.stop()
        await self.job_source.stop()
        await self.guild_settings.stop()
        await self.modlog.close()
        await self.catalogue.close()
        for catalogue in self._own_catalogues.values():
            await catalogue.close()
        await self.miraflow_clients.close()
        if self._ready is discord.utils.MISSING:
            # Never logged in (`miraflow-bot check` only loads the commands): the sharded
            # client's close needs the queue its asyncio set-up makes.
            await self._async_setup_hook()
        await super().close()

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        await self.forms.answer_unmatched(interaction)

    def client_for(self, guild_id: int | None) -> MiraflowClient:
        """The Miraflow client of a server: its own key's, or the bot's."""
        return self.miraflow_clients.for_guild(guild_id)

    def catalogue_for(self, guild_id: int | None) -> Catalogue:
        """The avatars, voices and videos a server sees: its own key's account, or the bot's."""
        client = self.client_for(guild_id)
        if client is self.miraflow:
            return self.catalogue
        if client not in self._own_catalogues:
            self._own_catalogues[client] = Catalogue(client)
        return self._own_catalogues[client]

    async def admit(self, interaction: discord.Interaction) -> bool:
        """Every interaction passes here first: refused while stopping, else tracked so
        that `close` can wait for it."""
        if self._closing:
            if interaction.type is not discord.InteractionType.autocomplete:
                await interaction.response.send_message(RESTARTING, ephemeral=True)
            return False
        task = asyncio.current_task()
        if task is not None:
            self._busy.add(task)
            task.add_done_callback(self._busy.discard)
        return True

    # -- command sync ------------------------------------------------------------------

    def command_payload(self) -> list[dict[str, Any]]:
        return [command.to_dict(self.tree) for command in self.tree.get_commands()]

    def command_hash(self) -> str:
        payload = {"commands": self.command_payload(), "dev_guild": self.settings.dev_guild_id}
        encoded = json.dumps(payload, sort_keys=True, default=str).encode()
        return hashlib.sha256(encoded).hexdigest()

    async def sync_commands(self, *, force: bool = False) -> bool:
        """Sync with Discord only when the commands changed (Discord allows 200 creates a
        day per guild). Returns whether a sync happened."""
        digest = self.command_hash()
        if not force and self.store.get_meta(SYNC_HASH_KEY) == digest:
            log.info("commands unchanged since the last sync; not syncing")
            return False
        synced = await self.tree.sync()
        if self.settings.dev_guild_id:
            guild = discord.Object(self.settings.dev_guild_id)
            self.tree.copy_global_to(guild=guild)
            await self.tree.sync(guild=guild)
        self.store.set_meta(SYNC_HASH_KEY, digest)
        log.info("synced %d commands", len(synced))
        return True
