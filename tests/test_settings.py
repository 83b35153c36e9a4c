from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import SettingsError, load_settings

REQUIRED = {"DISCORD_TOKEN": "discord-token-value", "MIRAFLOW_API_KEY": "miraflow-key-value"}


def test_defaults_match_the_spec():
    settings = load_settings(REQUIRED)
    assert settings.miraflow_base_url == "https://miraflow.ai"
    assert settings.database_path == Path("data/miraflow-bot.sqlite3")
    assert settings.dev_guild_id is None
    assert settings.log_level == "INFO"
    assert settings.max_active_jobs == 3
    assert settings.max_jobs_per_day == 25
    assert settings.max_attachment_bytes == 20 * 1024 * 1024
    assert settings.polls_per_second == 10


@pytest.mark.parametrize("missing", ["DISCORD_TOKEN", "MIRAFLOW_API_KEY"])
def test_a_missing_secret_is_named(missing):
    env = {k: v for k, v in REQUIRED.items() if k != missing}
    with pytest.raises(SettingsError, match=missing):
        load_settings(env)


def test_a_blank_secret_counts_as_missing():
    with pytest.raises(SettingsError, match="DISCORD_TOKEN"):
        load_settings({**REQUIRED, "DISCORD_TOKEN": "   "})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DEV_GUILD_ID", "my-server"),
        ("LOG_LEVEL", "LOUD"),
        ("MAX_ACTIVE_JOBS_PER_USER", "0"),
        ("MAX_JOBS_PER_USER_PER_DAY", "many"),
        ("MIRAFLOW_BASE_URL", "miraflow.ai"),
        ("MIRAFLOW_POLLS_PER_SECOND", "-1"),
    ],
)
def test_an_invalid_value_is_named(name, value):
    with pytest.raises(SettingsError, match=name):
        load_settings({**REQUIRED, name: value})


def test_values_are_parsed_and_secrets_listed():
    settings = load_settings(
        {
            **REQUIRED,
            "DEV_GUILD_ID": "1234",
            "LOG_LEVEL": "debug",
            "MIRAFLOW_BASE_URL": "http://127.0.0.1:8765/",
        }
    )
    assert settings.dev_guild_id == 1234
    assert settings.log_level == "DEBUG"
    assert settings.miraflow_base_url == "http://127.0.0.1:8765"
    assert set(settings.secrets) == set(REQUIRED.values())


def test_env_example_lists_every_setting():
    from dataclasses import fields

    from bot.settings import Settings

    example = (Path(__file__).parents[1] / ".env.example").read_text()
    for setting in fields(Settings):
        assert setting.metadata["env"] in example
