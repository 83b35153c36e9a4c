"""The spacing of the bot's own key's image polls, kept in the store across restarts (both
backends, fake clock)."""

from __future__ import annotations

import json
import logging
import sqlite3

import pytest

from bot.jobs.kept_spacing import META_KEY, KeptSpacing
from bot.jobs.spacing import RELEASE_HALF_LIFE
from bot.jobs.store import Store
from tests.jobs.conftest import OpenStore
from tests.jobs.fakes import Clock


def test_nothing_kept_is_no_spacing(store: Store) -> None:
    assert KeptSpacing(store, Clock()).restore() == 0.0


def test_a_restart_finds_the_spacing_let_go_of_by_the_time_passed(open_store: OpenStore) -> None:
    clock = Clock()
    KeptSpacing(open_store(), clock).note(2.0)
    assert KeptSpacing(open_store(), clock).restore() == pytest.approx(2.0)
    clock.now += RELEASE_HALF_LIFE
    assert KeptSpacing(open_store(), clock).restore() == pytest.approx(1.0)


def test_it_is_written_only_when_clearly_wider(store: Store) -> None:
    clock = Clock()
    kept = KeptSpacing(store, clock)
    kept.note(2.0)
    kept.note(2.05)  # within 5 %: not a write per poll
    assert json.loads(store.get_meta(META_KEY))["spacing"] == 2.0
    kept.note(2.2)
    assert json.loads(store.get_meta(META_KEY))["spacing"] == 2.2
    clock.now += RELEASE_HALF_LIFE  # let go of to 1.1: a spacing of 1.5 is wider now
    kept.note(1.5)
    assert json.loads(store.get_meta(META_KEY))["spacing"] == 1.5
    kept.note(0.0)  # a load that fits: nothing to keep
    assert json.loads(store.get_meta(META_KEY))["spacing"] == 1.5


def test_it_is_kept_on_the_schedules_clock(store: Store) -> None:
    clock = Clock()
    KeptSpacing(store, clock, speed=10.0).note(0.2)  # 2 s of a clock ten times faster
    assert KeptSpacing(store, clock, speed=10.0).restore() == pytest.approx(0.2)
    assert KeptSpacing(store, clock).restore() == pytest.approx(2.0)


def test_an_unreadable_value_is_no_spacing(store: Store, caplog) -> None:
    store.set_meta(META_KEY, "not json")
    with caplog.at_level(logging.WARNING):
        assert KeptSpacing(store, Clock()).restore() == 0.0
    assert "could not be read" in caplog.text


class RefusingStore:
    """A store whose disk is full: every write fails."""

    def __init__(self) -> None:
        self.writes = 0

    def get_meta(self, key: str) -> str | None:
        return None

    def set_meta(self, key: str, value: str) -> None:
        self.writes += 1
        raise sqlite3.OperationalError("database or disk is full")


def test_a_store_that_refuses_the_write_is_logged_once_and_polling_goes_on(caplog) -> None:
    store = RefusingStore()
    kept = KeptSpacing(store, Clock())  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING):
        kept.note(2.0)
        kept.note(2.0)  # not tried again at every poll
        kept.note(3.0)
    assert store.writes == 2
    assert caplog.text.count("could not be kept") == 1
