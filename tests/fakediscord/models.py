"""The records the fake keeps and hands to tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

EPHEMERAL_FLAG = 1 << 6
LOADING_FLAG = 1 << 7

JsonDict = dict[str, Any]


@dataclass(frozen=True)
class FakeUser:
    id: int
    username: str
    global_name: str | None = None
    bot: bool = False

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"


@dataclass(frozen=True)
class FakeUsers:
    """The human members of the fake guild."""

    owner: FakeUser
    alice: FakeUser
    bob: FakeUser

    def __iter__(self) -> Iterator[FakeUser]:
        return iter((self.owner, self.alice, self.bob))


@dataclass(frozen=True)
class FakeRoles:
    everyone: int
    admin: int
    artists: int
    bot: int


@dataclass(frozen=True)
class FakeFile:
    """An uploaded attachment as the fake stored it."""

    id: int
    name: str
    data: bytes = field(repr=False)
    content_type: str
    url: str
    description: str | None = None

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass
class FakeMessage:
    """A message the bot created (or a member posted), with what Discord would have pinged.

    `source` is "channel" (POST /channels/{id}/messages), "response" (an interaction's
    original response) or "followup"; `interaction_id` is set for the last two.
    `author_id` is None for the bot's own messages, else the member who posted it.
    """

    id: int
    channel_id: int
    guild_id: int | None
    content: str
    embeds: list[JsonDict]
    components: list[JsonDict]
    files: list[FakeFile]
    allowed_mentions: JsonDict | None
    nonce: str | None
    flags: int
    pinged_users: frozenset[int]
    pinged_roles: frozenset[int]
    pinged_everyone: bool
    source: str = "channel"
    interaction_id: int | None = None
    edits: int = 0
    deleted: bool = False
    created_at: float = 0.0
    edited_at: float | None = None
    edited_timestamp: str | None = None
    author_id: int | None = None
    raw: JsonDict = field(default_factory=dict, repr=False)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL_FLAG)

    @property
    def loading(self) -> bool:
        """A deferred response still showing "thinking"."""
        return bool(self.flags & LOADING_FLAG)

    @property
    def pinged_nobody(self) -> bool:
        return not (self.pinged_users or self.pinged_roles or self.pinged_everyone)

    def custom_ids(self) -> list[str]:
        """Every custom_id in the message's components, in order."""
        found: list[str] = []

        def walk(components: list[JsonDict]) -> None:
            for component in components:
                if "custom_id" in component:
                    found.append(component["custom_id"])
                walk(component.get("components", []))
                accessory = component.get("accessory")
                if accessory:
                    walk([accessory])

        walk(self.components)
        return found


@dataclass(frozen=True)
class FakeInteraction:
    """An interaction the fake sent over the gateway."""

    id: int
    token: str
    type: int
    name: str | None
    custom_id: str | None
    user_id: int
    channel_id: int
    guild_id: int | None
    sent_at: float
    payload: JsonDict = field(repr=False)


@dataclass(frozen=True)
class FakeModal:
    """A modal the bot opened (callback type 9) in answer to `interaction`."""

    interaction: FakeInteraction
    custom_id: str
    title: str
    components: list[JsonDict] = field(repr=False)

    def inputs(self) -> list[JsonDict]:
        """The fields a member fills in (text inputs, selects), in order, inside rows or labels."""
        found: list[JsonDict] = []

        def walk(components: list[JsonDict]) -> None:
            for component in components:
                if "custom_id" in component:
                    found.append(component)
                walk(component.get("components", []))
                if component.get("component"):
                    walk([component["component"]])

        walk(self.components)
        return found


@dataclass(frozen=True)
class CallbackRecord:
    """One POST /interactions/{id}/{token}/callback.

    `error_code` is None when the fake accepted it, else the Discord error it answered
    (10062 too late or unknown, 40060 already acknowledged).
    """

    type: int
    data: JsonDict | None
    at: float
    files: tuple[FakeFile, ...] = ()
    error_code: int | None = None

    @property
    def accepted(self) -> bool:
        return self.error_code is None


@dataclass(frozen=True)
class RestCall:
    """One request to the fake REST API; `path` is relative to /api/v10."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    files: tuple[FakeFile, ...]
    headers: dict[str, str]
    at: float
    status: int = 0


@dataclass(frozen=True)
class CommandSync:
    """One bulk overwrite of application commands; guild_id None means global."""

    guild_id: int | None
    payload: list[JsonDict]
    at: float

    @property
    def names(self) -> list[str]:
        return [command["name"] for command in self.payload]
