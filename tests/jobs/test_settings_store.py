"""Per-server settings: the store's tables (both backends) and the in-memory settings
written through them."""

from __future__ import annotations

import pytest

from bot.errors import UserFacingError
from bot.guild_settings import GuildSettings
from bot.jobs.job_requests import PictureRequest
from bot.jobs.models import JobKind, JobSource
from bot.jobs.service import Quotas
from bot.jobs.store import Store
from bot.jobs.store.guild_settings import StoredGuild, StoredStyle
from bot.words import MAX_ENTRIES

GUILD, OTHER = 1001, 2002
DEFAULTS = Quotas(max_active=3, max_per_day=25)


def settings_of(store: Store) -> GuildSettings:
    return GuildSettings(store.guild_settings, DEFAULTS)


def test_values_survive_a_reopen_and_servers_are_apart(open_store):
    with open_store() as store:
        settings = settings_of(store)
        settings.set_limits(GUILD, active=5, server_daily=100)
        settings.add_word(GUILD, "Dragon")
        settings.set_log_channel(GUILD, 42)
        settings.set_delivery(GUILD, "dm")
        settings.put_style(GUILD, "Ink", "ink drawing", None)
    with open_store() as store:
        settings = settings_of(store)
        assert settings.stored(GUILD) == StoredGuild(
            GUILD,
            max_active=5,
            server_daily=100,
            log_channel_id=42,
            delivery="dm",
            words=["Dragon"],
            styles={"ink": StoredStyle("ink", "ink drawing", "")},
        )
        assert settings.quotas(GUILD) == Quotas(5, 25, 100)
        assert settings.quotas(OTHER) == DEFAULTS
        assert settings.quotas(None) == DEFAULTS
        assert settings.banned_word(GUILD, ["a DRAGON"]) == "Dragon"
        assert settings.banned_word(OTHER, ["a DRAGON"]) is None


def test_a_value_set_back_to_none_follows_the_default_again(store):
    settings = settings_of(store)
    settings.set_limits(GUILD, daily=7)
    assert settings.limits(GUILD)["daily"].from_server
    store.guild_settings.update(GUILD, max_daily=None)
    assert settings_of(store).limits(GUILD)["daily"].value == 25
    assert not settings_of(store).limits(GUILD)["daily"].from_server


@pytest.mark.parametrize(
    ("limits", "words"),
    [
        ({}, "at least one"),
        ({"active": 0}, "`active` must be a whole number from 1 to 20"),
        ({"active": 21}, "from 1 to 20"),
        ({"daily": 0}, "from 1 to 1000"),
        ({"daily": 1001}, "from 1 to 1000"),
        ({"server_daily": -1}, "from 0 to 100000"),
        ({"server_daily": 100_001}, "from 0 to 100000"),
        ({"active": 2, "daily": 5000}, "from 1 to 1000"),
    ],
)
def test_limits_out_of_range_change_nothing(store, limits, words):
    settings = settings_of(store)
    with pytest.raises(UserFacingError, match=words):
        settings.set_limits(GUILD, **limits)
    assert settings_of(store).stored(GUILD) == StoredGuild(GUILD)


def test_the_word_list_refuses_duplicates_and_stops_at_its_limit(store):
    settings = settings_of(store)
    settings_store = store.guild_settings
    for n in range(MAX_ENTRIES - 1):
        assert settings_store.add_word(GUILD, f"word{n}", f"word{n}", limit=MAX_ENTRIES)
    settings.add_word(GUILD, "Red Door")
    with pytest.raises(UserFacingError, match="already on the list"):
        settings.add_word(GUILD, "red   DOOR")
    with pytest.raises(UserFacingError, match=f"full \\({MAX_ENTRIES} words"):
        settings.add_word(GUILD, "one more")
    assert len(settings_of(store).words(GUILD)) == MAX_ENTRIES
    assert settings.remove_word(GUILD, "RED door") == "Red Door"
    with pytest.raises(UserFacingError, match="not on the list"):
        settings.remove_word(GUILD, "red door")


@pytest.mark.parametrize(
    ("name", "text", "words"),
    [
        ("two words", "x", "one short word"),
        ("", "x", "one short word"),
        ("x" * 21, "x", "one short word"),
        ("-dash", "x", "one short word"),
        ("a/b", "x", "one short word"),
        ("ink", None, "Give the style a `text`"),
        ("ink", "y" * 301, "too long"),
    ],
)
def test_bad_styles_change_nothing(store, name, text, words):
    settings = settings_of(store)
    with pytest.raises(UserFacingError, match=words):
        settings.put_style(GUILD, name, text, None)
    assert settings.styles(GUILD) == []


def test_reset_forgets_everything_of_one_server_only(store):
    settings = settings_of(store)
    for guild in (GUILD, OTHER):
        settings.set_limits(guild, active=1)
        settings.add_word(guild, "moon")
        settings.put_style(guild, "ink", "ink", "colour")
    settings.reset(GUILD)
    assert settings.stored(GUILD) == StoredGuild(GUILD)
    assert settings_of(store).stored(GUILD) == StoredGuild(GUILD)
    assert settings_of(store).words(OTHER) == ["moon"]


def test_the_server_count_leaves_out_other_servers_and_adopted_results(store):
    picked = JobSource.VIDEOS_GET
    for guild, source in ((GUILD, JobSource.COMMAND), (GUILD, picked), (OTHER, JobSource.COMMAND)):
        store.create_job(
            kind=JobKind.IMAGE,
            user_id=7,
            channel_id=8,
            guild_id=guild,
            request=PictureRequest("a cat"),
            source=source,
            upload_limit=1,
            now=100.0,
        )
    store.create_job(
        kind=JobKind.IMAGE,
        user_id=7,
        channel_id=8,
        guild_id=None,
        request=PictureRequest("a cat"),
        upload_limit=1,
        now=100.0,
    )
    assert store.count_guild_since(GUILD, 50.0) == 1
    assert store.count_guild_since(GUILD, 150.0) == 0
