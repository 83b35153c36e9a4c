"""Typed settings, read from the environment (and `.env`).

Secrets have no default: a missing one stops the bot at start with one clear line.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from bot.secret_box import InvalidSecretError, fernet_key

MIB = 1024 * 1024
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class SettingsError(Exception):
    """A setting is missing or invalid; the message names it and says what to do."""


def _positive_int(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{name} must be greater than 0, got {value}")
    return value


def _positive_float(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{name} must be greater than 0, got {value}")
    return value


def _optional_id(name: str, raw: str) -> int | None:
    if not raw:
        return None
    if not raw.isdigit():
        raise SettingsError(f"{name} must be a Discord ID (digits only), got {raw!r}")
    return int(raw)


def _log_level(name: str, raw: str) -> str:
    level = raw.upper()
    if level not in LOG_LEVELS:
        raise SettingsError(f"{name} must be one of {', '.join(LOG_LEVELS)}, got {raw!r}")
    return level


def _text(_name: str, raw: str) -> str:
    return raw


def _database_url(name: str, raw: str) -> str | None:
    if not raw:
        return None
    if not raw.startswith(("postgresql://", "postgres://")):
        raise SettingsError(
            f"{name} must start with postgresql:// (or be unset to use SQLite at DATABASE_PATH)"
        )
    return raw


def _optional_positive_int(name: str, raw: str) -> int | None:
    return _positive_int(name, raw) if raw else None


def _shard_ids(name: str, raw: str) -> tuple[int, ...] | None:
    if not raw:
        return None
    parts = [part.strip() for part in raw.split(",")]
    if not all(part.isdigit() for part in parts):
        raise SettingsError(f"{name} must be shard numbers separated by commas, got {raw!r}")
    ids = tuple(int(part) for part in parts)
    if len(set(ids)) != len(ids):
        raise SettingsError(f"{name} lists a shard twice: {raw!r}")
    return ids


def _port(name: str, raw: str) -> int | None:
    if not raw:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise SettingsError(f"{name} must be a port number from 1 to 65535, got {raw!r}")
    return int(raw)


def _settings_secret(name: str, raw: str) -> str:
    if raw:
        try:
            fernet_key(raw)
        except InvalidSecretError as exc:
            raise SettingsError(f"{name} {exc}") from None
    return raw


def _check_shards(shard_count: int | None, shard_ids: tuple[int, ...] | None) -> None:
    if shard_ids is None:
        return
    if shard_count is None:
        raise SettingsError("SHARD_IDS needs SHARD_COUNT: set the total number of shards too")
    outside = [shard for shard in shard_ids if shard >= shard_count]
    if outside:
        raise SettingsError(
            f"SHARD_IDS must be below SHARD_COUNT ({shard_count}): shards are numbered "
            f"0 to {shard_count - 1}, got {', '.join(map(str, outside))}"
        )


def _setting(env: str, parse: Callable[[str, str], Any] = _text, *, secret: bool = False) -> Any:
    return field(metadata={"env": env, "parse": parse, "secret": secret})


@dataclass(frozen=True, slots=True)
class Settings:
    discord_token: str = _setting("DISCORD_TOKEN", secret=True)
    miraflow_api_key: str = _setting("MIRAFLOW_API_KEY", secret=True)
    miraflow_base_url: str = _setting("MIRAFLOW_BASE_URL")
    database_path: Path = _setting("DATABASE_PATH", lambda _n, raw: Path(raw))
    dev_guild_id: int | None = _setting("DEV_GUILD_ID", _optional_id)
    log_level: str = _setting("LOG_LEVEL", _log_level)
    max_active_jobs: int = _setting("MAX_ACTIVE_JOBS_PER_USER", _positive_int)
    max_jobs_per_day: int = _setting("MAX_JOBS_PER_USER_PER_DAY", _positive_int)
    image_timeout: float = _setting("IMAGE_JOB_TIMEOUT_SECONDS", _positive_float)
    video_timeout: float = _setting("VIDEO_JOB_TIMEOUT_SECONDS", _positive_float)
    max_attachment_mb: float = _setting("MAX_ATTACHMENT_MB", _positive_float)
    polls_per_second: float = _setting("MIRAFLOW_POLLS_PER_SECOND", _positive_float)
    polls_in_flight: int = _setting("MIRAFLOW_POLLS_IN_FLIGHT", _positive_int)
    miraflow_timeout: float = _setting("MIRAFLOW_TIMEOUT_SECONDS", _positive_float)
    download_stall_timeout: float = _setting("DOWNLOAD_STALL_SECONDS", _positive_float)
    download_deadline: float = _setting("DOWNLOAD_DEADLINE_SECONDS", _positive_float)
    # For the simulator only: poll as if time ran this many times faster.
    time_scale: float = _setting("MIRAFLOW_TIME_SCALE", _positive_float)
    # Test-only: point discord.py at a fake Discord instead of discord.com.
    discord_api_base_url: str = _setting("DISCORD_API_BASE_URL")
    discord_gateway_url: str = _setting("DISCORD_GATEWAY_URL")
    # Running big: a shared PostgreSQL store, shards, monitoring, per-server keys.
    database_url: str | None = _setting("DATABASE_URL", _database_url, secret=True)
    shard_count: int | None = _setting("SHARD_COUNT", _optional_positive_int)
    shard_ids: tuple[int, ...] | None = _setting("SHARD_IDS", _shard_ids)
    metrics_host: str = _setting("METRICS_HOST")
    metrics_port: int | None = _setting("METRICS_PORT", _port)
    settings_secret: str = _setting("SETTINGS_SECRET", _settings_secret, secret=True)

    @property
    def max_attachment_bytes(self) -> int:
        return int(self.max_attachment_mb * MIB)

    @property
    def secrets(self) -> list[str]:
        values = (getattr(self, f.name) for f in fields(self) if f.metadata["secret"])
        return [value for value in values if value]  # optional secrets may be unset


# A job not finished after this long has expired (the engine's defaults are these too).
IMAGE_TIMEOUT_DEFAULT = 1800.0  # seconds
VIDEO_TIMEOUT_DEFAULT = 7200.0

DEFAULTS: dict[str, str] = {
    "MIRAFLOW_BASE_URL": "https://miraflow.ai",
    "DATABASE_PATH": "data/miraflow-bot.sqlite3",
    "DEV_GUILD_ID": "",
    "LOG_LEVEL": "INFO",
    "MAX_ACTIVE_JOBS_PER_USER": "3",
    "MAX_JOBS_PER_USER_PER_DAY": "25",
    "IMAGE_JOB_TIMEOUT_SECONDS": f"{IMAGE_TIMEOUT_DEFAULT:g}",
    "VIDEO_JOB_TIMEOUT_SECONDS": f"{VIDEO_TIMEOUT_DEFAULT:g}",
    "MAX_ATTACHMENT_MB": "20",
    "MIRAFLOW_POLLS_PER_SECOND": "10",
    "MIRAFLOW_POLLS_IN_FLIGHT": "8",
    "MIRAFLOW_TIMEOUT_SECONDS": "30",
    "DOWNLOAD_STALL_SECONDS": "30",
    "DOWNLOAD_DEADLINE_SECONDS": "600",
    "MIRAFLOW_TIME_SCALE": "1",
    "DISCORD_API_BASE_URL": "",
    "DISCORD_GATEWAY_URL": "",
    "DATABASE_URL": "",
    "SHARD_COUNT": "",
    "SHARD_IDS": "",
    "METRICS_HOST": "127.0.0.1",
    "METRICS_PORT": "",
    "SETTINGS_SECRET": "",
}

REQUIRED_HINTS = {
    "DISCORD_TOKEN": "the bot token from the Discord Developer Portal",
    "MIRAFLOW_API_KEY": "your Miraflow API key",
}


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build settings from `environ` (default: os.environ), or raise SettingsError."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for setting in fields(Settings):
        name = setting.metadata["env"]
        raw = env.get(name, "").strip()
        if not raw:
            if name in REQUIRED_HINTS:
                raise SettingsError(
                    f"{name} is not set: put {REQUIRED_HINTS[name]} in .env (see .env.example)"
                )
            raw = DEFAULTS[name]
        values[setting.name] = setting.metadata["parse"](name, raw)
    if not values["miraflow_base_url"].startswith(("http://", "https://")):
        raise SettingsError("MIRAFLOW_BASE_URL must start with http:// or https://")
    values["miraflow_base_url"] = values["miraflow_base_url"].rstrip("/")
    _check_shards(values["shard_count"], values["shard_ids"])
    return Settings(**values)
