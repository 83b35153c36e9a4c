"""`miraflow-bot` / `python -m bot`: run the bot, force a command sync, or run the simulator."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

import aiohttp
import discord
from dotenv import find_dotenv, load_dotenv

from bot.discord_endpoints import point_discord_at
from bot.instance import StoreInUseError, StoreUnusableError, claim_store, claim_temp_dir
from bot.log import setup_logging
from bot.settings import Settings, SettingsError, load_settings
from bot.startup import wait_for_discord

log = logging.getLogger("bot")

# Exit statuses: a refused token, or Discord failing once reached; bad settings or an
# unusable DATABASE_PATH or DATABASE_URL; another bot process holds the store.
EXIT_LOGIN_FAILED = 1
EXIT_BAD_SETTINGS = 2
EXIT_STORE_IN_USE = 3


def build_parser(*, simulator_options: bool = True) -> argparse.ArgumentParser:
    """The CLI. The simulator's options (and so its code) are loaded only when asked for,
    so a normal start of the bot never imports the simulator."""
    parser = argparse.ArgumentParser(
        prog="miraflow-bot",
        description="A Discord bot for Miraflow AI images and talking-avatar videos.",
    )
    sub = parser.add_subparsers(dest="command", metavar="{run,sync,simulate,check}")
    sub.add_parser("run", help="run the bot (the default); settings come from .env")
    sub.add_parser("sync", help="push the slash commands to Discord now, then exit")
    sub.add_parser("check", help="check the token, the Miraflow key, the store and the sync")
    simulate = sub.add_parser(
        "simulate", help="serve the Miraflow simulator, to try the bot without an account"
    )
    if simulator_options:
        from bot.miraflow.simulator.serve import add_arguments

        add_arguments(simulate)
    return parser


async def run_bot(settings: Settings, *, sync_only: bool = False) -> None:
    """Create the shared resources, run the bot until it is stopped, close them."""
    from bot.discord_bot import MiraflowBot, miraflow_client
    from bot.jobs.store import StoreOpenError, open_store
    from bot.monitoring import discord_error_trace, serve_monitoring

    point_discord_at(settings.discord_api_base_url or None, settings.discord_gateway_url or None)
    # The bot never joins a voice channel: no warnings about PyNaCl or davey.
    discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
    shared = settings.database_url is not None
    claim = claim_temp_dir() if shared else claim_store(settings.database_path)
    try:
        store = open_store(settings.database_url, settings.database_path)
    except StoreOpenError as error:
        claim.release()
        raise StoreUnusableError(str(error)) from None
    try:
        async with miraflow_client(settings, settings.miraflow_api_key) as miraflow:
            bot = MiraflowBot(settings, store, miraflow, http_trace=discord_error_trace())
            bot.delivery.temp_dir = claim.temp_dir
            bot.force_sync = sync_only
            bot.sync_only = sync_only
            async with bot:
                waiting = asyncio.ensure_future(wait_for_discord())
                closing: list[asyncio.Future[None]] = []

                def stop() -> None:
                    waiting.cancel()
                    closing.append(asyncio.ensure_future(bot.close()))

                loop = asyncio.get_running_loop()
                for signum in (signal.SIGINT, signal.SIGTERM):
                    with contextlib.suppress(NotImplementedError):
                        loop.add_signal_handler(signum, stop)
                await asyncio.wait({waiting})
                if waiting.cancelled():
                    return  # stopped before Discord could be reached
                if sync_only:
                    await bot.login(settings.discord_token)
                    return
                async with serve_monitoring(settings, bot, store):
                    await bot.start(settings.discord_token)
    finally:
        store.close()
        claim.release()
        log.info("stopped")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(simulator_options=argv[:1] == ["simulate"]).parse_args(argv)
    if args.command == "simulate":
        from bot.miraflow.simulator.serve import config_from_args, serve

        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(args.host, args.port, config_from_args(args)))
        return 0

    load_dotenv(find_dotenv(usecwd=True))
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"miraflow-bot: {exc}", file=sys.stderr)
        return EXIT_BAD_SETTINGS
    setup_logging(settings.log_level, settings.secrets)
    if args.command == "check":
        from bot.check import run_checks

        return asyncio.run(run_checks(settings))
    try:
        asyncio.run(run_bot(settings, sync_only=args.command == "sync"))
    except discord.LoginFailure:
        print("miraflow-bot: Discord refused DISCORD_TOKEN; check it in .env", file=sys.stderr)
        return EXIT_LOGIN_FAILED
    except StoreInUseError as exc:
        print(f"miraflow-bot: {exc}", file=sys.stderr)
        return EXIT_STORE_IN_USE
    except StoreUnusableError as exc:
        print(f"miraflow-bot: {exc}", file=sys.stderr)
        return EXIT_BAD_SETTINGS
    except (aiohttp.ClientError, OSError, discord.HTTPException) as exc:
        # Discord was reached, then failed (during the log-in or the command sync, say).
        print(f"miraflow-bot: stopped on a network error: {exc}", file=sys.stderr)
        return EXIT_LOGIN_FAILED
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
