"""A cache of Miraflow's avatar and voice catalogues, for autocomplete and validation.

Autocomplete must answer Discord within 3 seconds whatever Miraflow does, so ``suggest_*``
never waits for the network longer than ``answer_within``: it serves the cache (even a stale
one) at once and refreshes it in the background. Concurrent callers share one in-flight fetch
per catalogue. ``avatars()``, ``voices()`` and ``find_*`` wait for a fresh copy, but fall back
to a stale one when Miraflow fails.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import Any, Generic, Protocol, TypeVar

from bot.miraflow.models import Avatar, Video, Voice

log = logging.getLogger(__name__)

MAX_SUGGESTIONS = 25  # Discord's limit on autocomplete choices
VIDEO_TTL = 60.0
# Shorter text is a name being typed: matching it inside ids would only add noise.
MIN_ID_QUERY = 6

_T = TypeVar("_T")


class CatalogueItem(Protocol):
    """What the cache needs of an avatar or a voice (``bot.miraflow`` dataclasses fit)."""

    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str | None: ...

    @property
    def extra(self) -> Mapping[str, Any]: ...


ItemT = TypeVar("ItemT", bound=CatalogueItem)


class CatalogueSource(Protocol):
    """Where the catalogues come from: the Miraflow client."""

    async def list_avatars(self) -> Sequence[Avatar]: ...

    async def list_voices(self) -> Sequence[Voice]: ...

    async def list_videos(self) -> Sequence[Video]: ...


class CatalogueClosedError(RuntimeError):
    """The catalogue was closed; it fetches nothing any more."""


class Catalogue:
    def __init__(
        self,
        source: CatalogueSource,
        ttl: float = 300.0,
        answer_within: float = 0.8,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl < 0 or answer_within <= 0:
            raise ValueError("ttl must be >= 0 and answer_within > 0")
        self._answer_within = answer_within
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False
        self._avatars: _Shelf[Avatar] = _Shelf(
            "avatar", source.list_avatars, ttl, clock, self._spawn
        )
        self._voices: _Shelf[Voice] = _Shelf("voice", source.list_voices, ttl, clock, self._spawn)
        # The account's finished videos change often: kept briefly, newest first.
        self._videos: _Shelf[Video] = _Shelf(
            "video", source.list_videos, min(ttl, VIDEO_TTL), clock, self._spawn, _newest_first
        )

    async def avatars(self) -> list[Avatar]:
        return list(await self._avatars.get())

    async def voices(self) -> list[Voice]:
        return list(await self._voices.get())

    async def suggest_avatars(self, current: str, limit: int = MAX_SUGGESTIONS) -> list[Avatar]:
        return await self._suggest(self._avatars, current, limit)

    async def suggest_voices(self, current: str, limit: int = MAX_SUGGESTIONS) -> list[Voice]:
        return await self._suggest(self._voices, current, limit)

    async def videos(self, *, fresh: bool = False) -> list[Video]:
        """The account's finished videos; `fresh` asks Miraflow now (errors are raised)."""
        if fresh:
            return list(await self._videos.start_refresh())
        return list(await self._videos.get())

    async def suggest_videos(self, current: str, limit: int = MAX_SUGGESTIONS) -> list[Video]:
        return await self._suggest(self._videos, current, limit)

    async def find_avatar(self, value: str) -> Avatar | None:
        return find(await self._avatars.get(), value)

    async def find_voice(self, value: str) -> Voice | None:
        return find(await self._voices.get(), value)

    def warm(self) -> None:
        """Start fetching both catalogues in the background (e.g. when the cog loads)."""
        for shelf in (self._avatars, self._voices):
            if not shelf.is_fresh():
                shelf.start_refresh()

    async def close(self) -> None:
        """Cancel the background fetches and wait for them to end."""
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _suggest(self, shelf: _Shelf[ItemT], current: str, limit: int) -> list[ItemT]:
        if self._closed:
            return suggest(shelf.items or (), current, limit)
        if shelf.items is None:
            fetch = shelf.start_refresh()
            # asyncio.wait neither cancels the fetch on timeout nor raises its error: the fetch
            # goes on filling the cache, and its failure is logged by the shelf.
            await asyncio.wait({fetch}, timeout=self._answer_within)
        elif not shelf.is_fresh():
            shelf.start_refresh()
        return suggest(shelf.items or (), current, limit)

    def _spawn(self, work: Callable[[], Coroutine[Any, Any, _T]], name: str) -> asyncio.Task[_T]:
        """Run ``work()`` as a tracked background task, so close() can cancel it."""
        if self._closed:
            raise CatalogueClosedError("the catalogue is closed")
        task = asyncio.create_task(work(), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


def suggest(items: Sequence[ItemT], current: str, limit: int) -> list[ItemT]:
    """Autocomplete ranking: name prefix matches, then name substrings, then id matches
    (for text long enough to be part of an id).

    ``items`` are expected in name order (as the cache keeps them); each group keeps it.
    """
    limit = max(0, min(limit, MAX_SUGGESTIONS))
    needle = current.strip().casefold()
    if not needle:
        return list(items[:limit])
    prefix: list[ItemT] = []
    inside: list[ItemT] = []
    by_id: list[ItemT] = []
    for item in items:
        name = (item.name or "").casefold()
        if name.startswith(needle):
            prefix.append(item)
        elif needle in name:
            inside.append(item)
        elif len(needle) >= MIN_ID_QUERY and needle in item.id.casefold():
            by_id.append(item)
    # Among id matches, a pasted exact id comes first.
    by_id.sort(key=lambda item: item.id.casefold() != needle)
    return (prefix + inside + by_id)[:limit]


def find(items: Sequence[ItemT], value: str) -> ItemT | None:
    """The item whose id is ``value``, else the first whose name is ``value`` (any case)."""
    wanted = value.strip()
    if not wanted:
        return None
    for item in items:
        if item.id == wanted:
            return item
    folded = wanted.casefold()
    for item in items:
        if (item.name or "").casefold() == folded:
            return item
    return None


def _by_name(item: CatalogueItem) -> tuple[str, str]:
    return ((item.name or "").casefold(), item.id)


def _newest_first(item: CatalogueItem) -> tuple[bool, float]:
    """Dated items newest first, then the undated ones (the sort is stable)."""
    when = getattr(item, "created", None)
    return (when is None, -when.timestamp() if when is not None else 0.0)


class _Spawn(Protocol):
    def __call__(
        self, work: Callable[[], Coroutine[Any, Any, _T]], name: str
    ) -> asyncio.Task[_T]: ...


class _Shelf(Generic[ItemT]):
    """One cached catalogue (avatars, voices or videos) and its single in-flight refresh."""

    def __init__(
        self,
        kind: str,
        fetch: Callable[[], Awaitable[Sequence[ItemT]]],
        ttl: float,
        clock: Callable[[], float],
        spawn: _Spawn,
        order: Callable[[CatalogueItem], Any] | None = _by_name,
    ) -> None:
        self._kind = kind
        self._order = order
        self._fetch = fetch
        self._ttl = ttl
        self._clock = clock
        self._spawn = spawn
        self.items: list[ItemT] | None = None  # in `order`; None: never fetched
        self._fetched_at = 0.0
        self._refresh: asyncio.Task[list[ItemT]] | None = None
        self._failing = False  # a failure was logged and no fetch has succeeded since

    def is_fresh(self) -> bool:
        return self.items is not None and self._clock() - self._fetched_at < self._ttl

    async def get(self) -> list[ItemT]:
        """A fresh copy; a stale one if the refresh fails; the error if nothing is cached."""
        if self.items is not None and self.is_fresh():
            return self.items
        try:
            # Shielded: a caller that gives up must not cancel a fetch others are waiting on.
            return await asyncio.shield(self.start_refresh())
        except Exception:
            if self.items is None:
                raise
            return self.items

    def start_refresh(self) -> asyncio.Task[list[ItemT]]:
        """The in-flight refresh, started if there is none."""
        if self._refresh is None or self._refresh.done():
            self._refresh = self._spawn(self._fetch_and_store, f"catalogue-{self._kind}s")
            self._refresh.add_done_callback(self._log_failure)
        return self._refresh

    async def _fetch_and_store(self) -> list[ItemT]:
        items = list(await self._fetch())
        if self._order is not None:
            items.sort(key=self._order)
        self.items = items
        self._fetched_at = self._clock()
        if self._failing:
            log.info("The %s catalogue is fetched again (%d items)", self._kind, len(items))
            self._failing = False
        return items

    def _log_failure(self, task: asyncio.Task[list[ItemT]]) -> None:
        # Also retrieves the exception, so a failed fetch nobody awaited is not reported as
        # "exception was never retrieved".
        if task.cancelled() or task.exception() is None or self._failing:
            return
        self._failing = True
        error = task.exception()
        if self.items is None:
            log.warning("Could not fetch the %s catalogue: %r", self._kind, error)
        else:
            age = self._clock() - self._fetched_at
            log.warning(
                "Could not refresh the %s catalogue (%r); serving the copy from %.0f s ago",
                self._kind,
                error,
                age,
            )
