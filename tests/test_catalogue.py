from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest

from bot.catalogue import Catalogue, CatalogueClosedError


@dataclass
class Item:
    """Shaped like bot.miraflow's Avatar and Voice dataclasses."""

    id: str
    name: str
    preview_url: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def items(*names: str) -> list[Item]:
    return [Item(id=f"id-{name.lower().replace(' ', '-')}", name=name) for name in names]


def names(found: Iterable[Item | Any]) -> list[str]:
    return [item.name for item in found]


class FakeSource:
    """The Miraflow client's catalogue calls: counts calls, can be held at a gate or fail."""

    def __init__(self, avatars: list[Item], voices: list[Item] | None = None) -> None:
        self.avatars = avatars
        self.voices = voices if voices is not None else items("Voice A", "Voice B")
        self.videos: list[Any] = []
        self.calls = {"avatars": 0, "voices": 0, "videos": 0}
        self.gate: asyncio.Event | None = None  # when set, calls wait until the event is set
        self.error: Exception | None = None
        self.entered = asyncio.Event()
        self.cancelled = 0

    async def list_avatars(self) -> list[Item]:
        return await self._answer("avatars", self.avatars)

    async def list_voices(self) -> list[Item]:
        return await self._answer("voices", self.voices)

    async def list_videos(self) -> list[Any]:
        return await self._answer("videos", self.videos)

    async def _answer(self, kind: str, answer: list[Item]) -> list[Item]:
        self.calls[kind] += 1
        self.entered.set()
        try:
            if self.gate is not None:
                await self.gate.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        if self.error is not None:
            raise self.error
        return list(answer)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def eventually(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


def other_tasks() -> set[asyncio.Task[Any]]:
    return {task for task in asyncio.all_tasks() if task is not asyncio.current_task()}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def test_one_source_call_serves_many_lookups_until_the_ttl(clock: FakeClock) -> None:
    source = FakeSource(items("Alice", "Bob"))
    catalogue = Catalogue(source, ttl=300.0, clock=clock)

    assert names(await catalogue.avatars()) == ["Alice", "Bob"]
    assert (await catalogue.find_avatar("bob")) is not None
    assert names(await catalogue.suggest_avatars("al")) == ["Alice"]
    await catalogue.avatars()
    clock.now += 299.9
    await catalogue.find_avatar("id-alice")
    assert source.calls == {"avatars": 1, "voices": 0, "videos": 0}

    source.avatars = items("Alice", "Bob", "Carol")
    clock.now += 0.1  # the TTL has passed
    assert names(await catalogue.avatars()) == ["Alice", "Bob", "Carol"]
    assert source.calls == {"avatars": 2, "voices": 0, "videos": 0}

    assert names(await catalogue.voices()) == ["Voice A", "Voice B"]
    await catalogue.suggest_voices("voice")
    assert source.calls == {"avatars": 2, "voices": 1, "videos": 0}
    await catalogue.close()


async def test_suggest_answers_empty_within_answer_within_when_the_source_never_answers() -> None:
    source = FakeSource(items("Alice", "Bob"))
    source.gate = asyncio.Event()  # never set until the end
    catalogue = Catalogue(source, answer_within=0.2)
    loop = asyncio.get_running_loop()

    started = loop.time()
    assert await catalogue.suggest_avatars("a") == []
    elapsed = loop.time() - started
    assert 0.15 <= elapsed < 0.6

    # The fetch keeps running in the background: a second keystroke shares it.
    assert await catalogue.suggest_avatars("al") == []
    assert source.calls["avatars"] == 1

    # When the source finally answers, the cache fills without a new call.
    source.gate.set()
    await eventually(lambda: not other_tasks())
    started = loop.time()
    assert names(await catalogue.suggest_avatars("al")) == ["Alice"]
    assert loop.time() - started < 0.1
    assert source.calls["avatars"] == 1
    await catalogue.close()


async def test_suggest_waits_for_a_quick_first_fetch() -> None:
    source = FakeSource(items("Alice", "Bob"))
    catalogue = Catalogue(source, answer_within=5.0)
    assert names(await catalogue.suggest_avatars("")) == ["Alice", "Bob"]
    await catalogue.close()


async def test_stale_copy_is_served_at_once_while_refreshing(clock: FakeClock) -> None:
    source = FakeSource(items("Alice", "Bob"))
    catalogue = Catalogue(source, ttl=60.0, answer_within=5.0, clock=clock)
    await catalogue.avatars()

    clock.now += 61.0
    source.avatars = items("Alice", "Bob", "Carol")
    source.gate = asyncio.Event()
    source.entered.clear()
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert names(await catalogue.suggest_avatars("")) == ["Alice", "Bob"]
    assert loop.time() - started < 0.5  # far under answer_within: no waiting on the source
    await asyncio.wait_for(source.entered.wait(), 5.0)  # the background refresh has begun
    assert source.calls["avatars"] == 2

    # More keystrokes meanwhile: still the stale copy, still the one refresh.
    assert names(await catalogue.suggest_avatars("b")) == ["Bob"]
    assert source.calls["avatars"] == 2

    source.gate.set()
    await eventually(lambda: not other_tasks())
    assert names(await catalogue.suggest_avatars("")) == ["Alice", "Bob", "Carol"]
    assert source.calls["avatars"] == 2
    await catalogue.close()


async def test_twenty_concurrent_suggestions_share_one_fetch(clock: FakeClock) -> None:
    source = FakeSource(items("Alice", "Bob"))
    source.gate = asyncio.Event()
    catalogue = Catalogue(source, ttl=60.0, answer_within=10.0, clock=clock)

    keystrokes = [asyncio.create_task(catalogue.suggest_avatars("a" * (i % 3))) for i in range(20)]
    await asyncio.wait_for(source.entered.wait(), 5.0)
    source.gate.set()
    answers = await asyncio.gather(*keystrokes)
    assert source.calls["avatars"] == 1
    assert all(names(answer) in (["Alice", "Bob"], ["Alice"], []) for answer in answers)
    assert names(answers[1]) == ["Alice"]

    # Stale now: twenty more keystrokes start exactly one refresh.
    clock.now += 61.0
    source.gate = asyncio.Event()
    source.entered.clear()
    answers = await asyncio.gather(*(catalogue.suggest_avatars("b") for _ in range(20)))
    assert all(names(answer) == ["Bob"] for answer in answers)
    await asyncio.wait_for(source.entered.wait(), 5.0)
    assert source.calls["avatars"] == 2
    source.gate.set()
    await eventually(lambda: not other_tasks())
    assert source.calls["avatars"] == 2
    await catalogue.close()


async def test_concurrent_full_reads_share_one_fetch() -> None:
    source = FakeSource(items("Alice"))
    source.gate = asyncio.Event()
    catalogue = Catalogue(source)
    readers = [asyncio.create_task(catalogue.avatars()) for _ in range(20)]
    await asyncio.wait_for(source.entered.wait(), 5.0)
    source.gate.set()
    assert all(names(found) == ["Alice"] for found in await asyncio.gather(*readers))
    assert source.calls["avatars"] == 1
    await catalogue.close()


RANKED = [
    Item("v-9", "Malia"),  # "ali" inside the name
    Item("v-3", "alina"),  # name prefix, lower case
    Item("v-7", "Bob Alison"),  # "ali" inside the name
    Item("ALI-000", "Zed"),  # "ali" in the id only
    Item("v-1", "Alice"),  # name prefix
    Item("v-5", "Carol"),  # no match
    Item("x-alice", "Amy"),  # "ali" in the id only
]


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        pytest.param("ali", ["Alice", "alina", "Bob Alison", "Malia"], id="ranked"),
        pytest.param("ALI", ["Alice", "alina", "Bob Alison", "Malia"], id="any-case"),
        pytest.param("  ali ", ["Alice", "alina", "Bob Alison", "Malia"], id="trim"),
        pytest.param("ali-000", ["Zed"], id="id-only"),
        pytest.param("x-alice", ["Amy"], id="id-of-six-or-more"),
        pytest.param("v-", [], id="short-text-is-not-matched-in-ids"),
        pytest.param(
            "", ["Alice", "alina", "Amy", "Bob Alison", "Carol", "Malia", "Zed"], id="empty"
        ),
        pytest.param("   ", names(sorted(RANKED, key=lambda i: i.name.lower())), id="blank"),
        pytest.param("nobody", [], id="no-match"),
    ],
)
async def test_suggestion_order(current: str, expected: list[str]) -> None:
    catalogue = Catalogue(FakeSource(RANKED))
    assert names(await catalogue.suggest_avatars(current)) == expected
    await catalogue.close()


async def test_an_exact_id_comes_first_among_id_matches() -> None:
    # In name order Amy comes first, but Yan's id is exactly what was typed.
    source = FakeSource([Item("x-alice-1", "Amy"), Item("alice-1", "Yan")])
    catalogue = Catalogue(source)
    assert names(await catalogue.suggest_avatars("ALICE-1")) == ["Yan", "Amy"]
    await catalogue.close()


async def test_at_most_25_suggestions() -> None:
    many = items(*(f"Item {n:02}" for n in range(40)))
    catalogue = Catalogue(FakeSource(many, voices=many))
    first = await catalogue.suggest_avatars("")
    assert names(first) == [f"Item {n:02}" for n in range(25)]
    assert len(await catalogue.suggest_avatars("item")) == 25
    assert len(await catalogue.suggest_voices("item", limit=100)) == 25
    assert names(await catalogue.suggest_voices("item", limit=3)) == [
        "Item 00",
        "Item 01",
        "Item 02",
    ]
    await catalogue.close()


@pytest.mark.parametrize(
    ("value", "expected_id"),
    [
        pytest.param("av-2", "av-2", id="by-id"),
        pytest.param("  av-2 ", "av-2", id="by-id-trimmed"),
        pytest.param("bob", "av-2", id="by-name-any-case"),
        pytest.param("BOB", "av-2", id="by-name-upper"),
        pytest.param("av-1", "av-1", id="an-id-wins-over-a-name"),
        pytest.param("AV-2", None, id="ids-are-exact"),
        pytest.param("bo", None, id="no-partial-names"),
        pytest.param("nobody", None, id="unknown"),
        pytest.param("", None, id="empty"),
    ],
)
async def test_find(value: str, expected_id: str | None) -> None:
    avatars = [Item("av-1", "Alice"), Item("av-2", "Bob"), Item("av-3", "av-1")]
    catalogue = Catalogue(FakeSource(avatars, voices=avatars))
    found = await catalogue.find_avatar(value)
    assert (found.id if found else None) == expected_id
    found = await catalogue.find_voice(value)
    assert (found.id if found else None) == expected_id
    await catalogue.close()


async def test_find_keeps_the_items_extra_fields() -> None:
    avatar = Item("av-1", "Alice", "https://example.test/alice.png", {"gender": "female"})
    catalogue = Catalogue(FakeSource([avatar]))
    assert await catalogue.find_avatar("Alice") is avatar
    await catalogue.close()


async def test_stale_copy_is_served_when_the_source_fails(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.catalogue")
    source = FakeSource(items("Alice", "Bob"))
    catalogue = Catalogue(source, ttl=60.0, clock=clock)
    await catalogue.avatars()

    clock.now += 61.0
    source.error = ConnectionError("Miraflow is down")
    assert names(await catalogue.avatars()) == ["Alice", "Bob"]
    assert (await catalogue.find_avatar("bob")) is not None
    assert names(await catalogue.suggest_avatars("a")) == ["Alice"]
    await eventually(lambda: not other_tasks())
    assert source.calls["avatars"] == 4  # each read tried again, and each got the stale copy
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # logged once, not once per read
    assert "serving the copy from 61 s ago" in warnings[0].getMessage()
    assert "Miraflow is down" in warnings[0].getMessage()

    # Back up: fresh data again, and a later failure is worth a new warning.
    source.error = None
    source.avatars = items("Carol")
    assert names(await catalogue.avatars()) == ["Carol"]
    clock.now += 61.0
    source.error = ConnectionError("down again")
    assert names(await catalogue.avatars()) == ["Carol"]
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 2
    await catalogue.close()


async def test_with_nothing_cached_the_sources_error_is_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    source = FakeSource(items("Alice"))
    source.error = ConnectionError("Miraflow is down")
    catalogue = Catalogue(source, answer_within=5.0)
    with pytest.raises(ConnectionError, match="Miraflow is down"):
        await catalogue.avatars()
    with pytest.raises(ConnectionError):
        await catalogue.find_voice("Voice A")

    # Autocomplete never raises: a failed fetch answers nothing, at once.
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await catalogue.suggest_avatars("a") == []
    assert loop.time() - started < 1.0
    await catalogue.close()

    # The failed fetches nobody awaited are not reported as "never retrieved".
    gc.collect()
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]
    assert [r.getMessage() for r in caplog.records if r.name == "bot.catalogue"] == [
        "Could not fetch the avatar catalogue: ConnectionError('Miraflow is down')",
        "Could not fetch the voice catalogue: ConnectionError('Miraflow is down')",
    ]


async def test_close_cancels_the_background_fetches(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    source = FakeSource(items("Alice"))
    source.gate = asyncio.Event()  # never set: the fetch hangs
    catalogue = Catalogue(source, answer_within=0.05)
    assert await catalogue.suggest_avatars("a") == []
    catalogue.warm()  # the voices fetch hangs too
    await eventually(lambda: source.calls["voices"] == 1)
    assert len(other_tasks()) == 2

    await catalogue.close()
    assert not other_tasks()
    assert source.cancelled == 2

    # Closed: nothing new is started, autocomplete still answers.
    assert await catalogue.suggest_avatars("a") == []
    with pytest.raises(CatalogueClosedError):
        await catalogue.avatars()
    assert not other_tasks()
    assert source.calls == {"avatars": 1, "voices": 1, "videos": 0}
    gc.collect()
    assert not [r for r in caplog.records if r.name == "asyncio"]


async def test_after_close_the_cache_still_answers() -> None:
    source = FakeSource(items("Alice", "Bob"))
    catalogue = Catalogue(source, ttl=0.0)  # always stale
    await catalogue.avatars()
    await catalogue.close()
    assert names(await catalogue.avatars()) == ["Alice", "Bob"]
    assert names(await catalogue.suggest_avatars("b")) == ["Bob"]
    assert source.calls["avatars"] == 1


async def test_a_reader_giving_up_does_not_cancel_the_shared_fetch() -> None:
    source = FakeSource(items("Alice"))
    source.gate = asyncio.Event()
    catalogue = Catalogue(source)
    impatient = asyncio.create_task(catalogue.avatars())
    patient = asyncio.create_task(catalogue.avatars())
    await asyncio.wait_for(source.entered.wait(), 5.0)
    impatient.cancel()
    source.gate.set()
    assert names(await patient) == ["Alice"]
    with pytest.raises(asyncio.CancelledError):
        await impatient
    assert source.cancelled == 0
    assert source.calls["avatars"] == 1
    await catalogue.close()


def test_invalid_settings_are_refused() -> None:
    source = FakeSource([])
    with pytest.raises(ValueError, match="ttl"):
        Catalogue(source, ttl=-1.0)
    with pytest.raises(ValueError, match="answer_within"):
        Catalogue(source, answer_within=0.0)


async def test_with_the_real_miraflow_client_over_loopback_http(clock: FakeClock) -> None:
    from aiohttp import web

    from bot.miraflow.client import MiraflowClient

    gate = asyncio.Event()
    gate.set()
    avatar_calls = 0

    async def list_avatars(request: web.Request) -> web.Response:
        nonlocal avatar_calls
        avatar_calls += 1
        await gate.wait()
        return web.json_response(
            {
                "avatars": [
                    {"id": "av-2", "name": "Bob"},
                    {"id": "av-1", "name": "Alice", "gender": "female"},
                ]
            }
        )

    async def list_voices(request: web.Request) -> web.Response:
        # The vendor's sample body puts voices under "avatars".
        return web.json_response({"avatars": [{"id": "vo-1", "name": "Emma"}]})

    app = web.Application()
    app.router.add_get("/api/avatars", list_avatars)
    app.router.add_get("/api/voices", list_voices)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    client = MiraflowClient("test-key", base_url=f"http://127.0.0.1:{port}", max_retries=0)
    catalogue = Catalogue(client, ttl=60.0, answer_within=2.0, clock=clock)
    cold = Catalogue(client, answer_within=0.2)
    loop = asyncio.get_running_loop()
    try:
        assert names(await catalogue.suggest_avatars("")) == ["Alice", "Bob"]
        alice = await catalogue.find_avatar("alice")
        assert alice is not None
        assert alice.extra.get("gender") == "female"
        emma = await catalogue.find_voice("EMMA")
        assert emma is not None
        assert emma.id == "vo-1"

        # Miraflow hangs: the stale copy is served at once, the refresh waits in the background.
        gate.clear()
        clock.now += 61.0
        started = loop.time()
        assert names(await catalogue.suggest_avatars("b")) == ["Bob"]
        assert loop.time() - started < 1.0  # well under answer_within (2 s)
        # A cold catalogue answers nothing, within answer_within.
        started = loop.time()
        assert await cold.suggest_avatars("b") == []
        assert loop.time() - started < 0.6
        await eventually(lambda: avatar_calls == 3)
        gate.set()
        assert names(await catalogue.avatars()) == ["Alice", "Bob"]
        assert avatar_calls == 3
    finally:
        gate.set()
        await catalogue.close()
        await cold.close()
        await client.close()
        await runner.cleanup()


async def test_videos_are_kept_newest_first_and_suggested_like_the_rest() -> None:
    from bot.miraflow.models import Video

    source = FakeSource(items("Alice"))
    source.videos = [
        Video("cvideo-old", "Team intro", created_at="2025-01-01T10:00:00Z"),
        Video("cvideo-undated", "Team outro"),
        Video("cvideo-new", "Welcome", created_at="2025-03-01T10:00:00Z"),
        Video("cvideo-mid", "Team party", created_at="2025-02-01T10:00:00"),
    ]
    catalogue = Catalogue(source)
    assert [v.id for v in await catalogue.videos()] == [
        "cvideo-new",
        "cvideo-mid",
        "cvideo-old",
        "cvideo-undated",
    ]
    assert [v.id for v in await catalogue.suggest_videos("team")] == [
        "cvideo-mid",
        "cvideo-old",
        "cvideo-undated",
    ]
    assert source.calls["videos"] == 1
    source.videos = source.videos[:1]
    assert [v.id for v in await catalogue.videos(fresh=True)] == ["cvideo-old"]
    assert source.calls["videos"] == 2
    await catalogue.close()
