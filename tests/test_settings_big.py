"""Settings for running big: PostgreSQL, shards, monitoring, the settings secret."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from bot.settings import SettingsError, load_settings

REQUIRED = {"DISCORD_TOKEN": "discord-token-value", "MIRAFLOW_API_KEY": "miraflow-key-value"}
PASSPHRASE = "correct horse battery staple, long enough"


def test_unset_means_sqlite_one_process_no_metrics_no_server_keys():
    settings = load_settings(REQUIRED)
    assert settings.database_url is None
    assert settings.shard_count is None
    assert settings.shard_ids is None
    assert settings.metrics_port is None
    assert settings.metrics_host == "127.0.0.1"
    assert settings.settings_secret == ""


def test_good_values_are_parsed():
    fernet = Fernet.generate_key().decode()
    for secret in (fernet, PASSPHRASE):
        settings = load_settings(
            {
                **REQUIRED,
                "DATABASE_URL": "postgresql://bot:pw@db.example:5432/miraflow",
                "SHARD_COUNT": "4",
                "SHARD_IDS": "0, 2,3",
                "METRICS_PORT": "9100",
                "METRICS_HOST": "0.0.0.0",
                "SETTINGS_SECRET": secret,
            }
        )
        assert settings.database_url == "postgresql://bot:pw@db.example:5432/miraflow"
        assert (settings.shard_count, settings.shard_ids) == (4, (0, 2, 3))
        assert (settings.metrics_host, settings.metrics_port) == ("0.0.0.0", 9100)
        assert settings.settings_secret == secret
        # Masked in every log line, like the tokens.
        assert secret in settings.secrets
        assert settings.database_url in settings.secrets


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"DATABASE_URL": "mysql://db/miraflow"}, ["DATABASE_URL", "postgresql://"]),
        ({"DATABASE_URL": "data/jobs.sqlite3"}, ["DATABASE_URL", "DATABASE_PATH"]),
        ({"SHARD_COUNT": "0"}, ["SHARD_COUNT", "greater than 0"]),
        ({"SHARD_COUNT": "two"}, ["SHARD_COUNT", "whole number"]),
        ({"SHARD_COUNT": "2", "SHARD_IDS": "0,2"}, ["SHARD_IDS", "below SHARD_COUNT (2)", "2"]),
        ({"SHARD_COUNT": "2", "SHARD_IDS": "5"}, ["SHARD_IDS", "0 to 1", "5"]),
        ({"SHARD_COUNT": "4", "SHARD_IDS": "1,1"}, ["SHARD_IDS", "twice"]),
        ({"SHARD_COUNT": "4", "SHARD_IDS": "1;2"}, ["SHARD_IDS", "commas"]),
        ({"SHARD_COUNT": "4", "SHARD_IDS": "-1"}, ["SHARD_IDS", "commas"]),
        ({"SHARD_COUNT": "4", "SHARD_IDS": "1,,2"}, ["SHARD_IDS", "commas"]),
        ({"SHARD_IDS": "0"}, ["SHARD_IDS", "SHARD_COUNT"]),
        ({"METRICS_PORT": "0"}, ["METRICS_PORT", "1 to 65535"]),
        ({"METRICS_PORT": "70000"}, ["METRICS_PORT", "1 to 65535"]),
        ({"METRICS_PORT": "http"}, ["METRICS_PORT", "1 to 65535"]),
        ({"SETTINGS_SECRET": "short-secret"}, ["SETTINGS_SECRET", "at least 32", "generate_key"]),
    ],
)
def test_a_bad_value_is_one_clear_line(env, words):
    with pytest.raises(SettingsError) as raised:
        load_settings({**REQUIRED, **env})
    message = str(raised.value)
    assert "\n" not in message
    for word in words:
        assert word in message


def test_a_malformed_secret_is_not_echoed():
    secret = "hunter2-but-longer"
    with pytest.raises(SettingsError) as raised:
        load_settings({**REQUIRED, "SETTINGS_SECRET": secret})
    assert secret not in str(raised.value)
    assert "18" in str(raised.value)


def test_the_command_line_says_it_in_one_line_and_exits_2(tmp_path):
    from tests.test_cli import run_bot

    env = {**REQUIRED, "SHARD_COUNT": "2", "SHARD_IDS": "0,1,2"}
    result = run_bot(["check"], env, tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "miraflow-bot: SHARD_IDS must be below SHARD_COUNT (2): shards are numbered 0 to 1, got 2"
    ]
