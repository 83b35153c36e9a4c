"""The gateway websocket: HELLO, IDENTIFY -> READY + GUILD_CREATE, heartbeats, RESUME, dispatches.

Frames are plain-text JSON (discord.py only inflates binary frames). A session survives a
dropped connection and replays what the client missed when it RESUMEs, as Discord does; a
client that closes with 1000/1001 ends its session. A session IDENTIFYed with `shard: [id, n]`
gets only the guilds with `(guild_id >> 22) % n == id`, their events and interactions; DMs go
to shard 0.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakediscord import payloads
from tests.fakediscord.guild import FakeGuild
from tests.fakediscord.ids import session_id, shard_of
from tests.fakediscord.models import EPHEMERAL_FLAG, FakeMessage, JsonDict
from tests.fakediscord.state import FakeState

log = logging.getLogger("tests.fakediscord")

DISPATCH, HEARTBEAT, IDENTIFY, PRESENCE, RESUME, RECONNECT = 0, 1, 2, 3, 6, 7
REQUEST_MEMBERS, INVALID_SESSION, HELLO, HEARTBEAT_ACK = 8, 9, 10, 11
HEARTBEAT_INTERVAL_MS = 41_250
AUTHENTICATION_FAILED, INVALID_SHARD = 4004, 4010
SESSION_ENDING_CLOSES = (1000, 1001)


@dataclass(eq=False)
class Connection:
    ws: web.WebSocketResponse
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    session: GatewaySession | None = None
    closed_by_fake: bool = False

    async def send(self, payload: JsonDict) -> None:
        """Send if still open; a frame lost to a dropping connection is replayed on RESUME."""
        if self.ws.closed:
            return
        try:
            await self.ws.send_str(json.dumps(payload))
        except (ConnectionError, RuntimeError) as error:
            log.debug("fake gateway could not send %s: %s", payload.get("t"), error)


@dataclass(eq=False)
class GatewaySession:
    """One IDENTIFYed session; `ready` is set once READY and GUILD_CREATE were sent."""

    id: str
    intents: int
    seq: int = 0
    history: list[JsonDict] = field(default_factory=list)
    connection: Connection | None = None
    ended: bool = False
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    identified_at: float = field(default_factory=time.monotonic)
    shard: tuple[int, int] = (0, 1)

    def owns(self, guild_id: int | None) -> bool:
        """Whether Discord sends this guild's events here (None: a DM, shard 0's)."""
        shard_id, shard_count = self.shard
        return shard_id == (0 if guild_id is None else shard_of(guild_id, shard_count))

    @property
    def connected(self) -> bool:
        return self.connection is not None and not self.connection.ws.closed


class GatewayHub:
    def __init__(self, state: FakeState, token: str) -> None:
        self.state = state
        self.token = token
        self.url = ""
        self.sessions: list[GatewaySession] = []
        self.connections: set[Connection] = set()
        self.connected = asyncio.Event()
        self.identify_count = 0
        self.resume_count = 0
        self.received: list[JsonDict] = []
        state.message_listeners.append(self._on_message_event)

    # the websocket

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        connection = Connection(ws)
        self.connections.add(connection)
        try:
            await connection.send(
                {
                    "op": HELLO,
                    "d": {"heartbeat_interval": HEARTBEAT_INTERVAL_MS},
                    "s": None,
                    "t": None,
                }
            )
            async for frame in ws:
                if frame.type is WSMsgType.TEXT:
                    await self._on_frame(connection, json.loads(frame.data))
        finally:
            self.connections.discard(connection)
            session = connection.session
            if session is not None and session.connection is connection:
                session.connection = None
                if not connection.closed_by_fake and ws.close_code in SESSION_ENDING_CLOSES:
                    session.ended = True
            self._update_connected()
            await self.state.notify()
        return ws

    async def _on_frame(self, connection: Connection, frame: JsonDict) -> None:
        self.received.append(frame)
        op, data = frame.get("op"), frame.get("d")
        if op == HEARTBEAT:
            await connection.send({"op": HEARTBEAT_ACK, "d": None, "s": None, "t": None})
        elif op == IDENTIFY:
            await self._identify(connection, data or {})
        elif op == RESUME:
            await self._resume(connection, data or {})
        elif op == REQUEST_MEMBERS and connection.session is not None:
            await self._send_member_chunk(connection.session, data or {})
        elif op != PRESENCE:
            log.warning("fake gateway ignores op %s: %s", op, frame)

    async def _identify(self, connection: Connection, data: JsonDict) -> None:
        if data.get("token") != self.token:
            await connection.ws.close(code=AUTHENTICATION_FAILED, message=b"Authentication failed.")
            return
        shard = data.get("shard") or [0, 1]
        if not (isinstance(shard, list) and len(shard) == 2 and 0 <= shard[0] < shard[1]):
            await connection.ws.close(code=INVALID_SHARD, message=b"Invalid shard.")
            return
        self.identify_count += 1
        session = GatewaySession(
            id=session_id(), intents=int(data.get("intents") or 0), shard=(shard[0], shard[1])
        )
        session.connection = connection
        connection.session = session
        self.sessions.append(session)
        await self.dispatch(session, "READY", self._ready_payload(session))
        if session.intents & payloads.GUILDS_INTENT:
            for guild in self.guilds_of(session):
                await self.dispatch(
                    session, "GUILD_CREATE", payloads.guild_create(guild, intents=session.intents)
                )
        session.ready.set()
        self._update_connected()
        await self.state.notify()

    def _ready_payload(self, session: GatewaySession) -> JsonDict:
        return {
            "v": 10,
            "user": payloads.user(self.state.bot_user),
            "guilds": [
                {"id": str(guild.id), "unavailable": True} for guild in self.guilds_of(session)
            ],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.url,
            "shard": list(session.shard),
            "application": {"id": str(self.state.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "user_settings": {},
            "_trace": ["fakediscord"],
        }

    async def _resume(self, connection: Connection, data: JsonDict) -> None:
        session = next((s for s in self.sessions if s.id == data.get("session_id")), None)
        if session is None or session.ended or data.get("token") != self.token:
            await connection.send({"op": INVALID_SESSION, "d": False, "s": None, "t": None})
            return
        self.resume_count += 1
        if session.connected and session.connection is not connection:
            assert session.connection is not None
            session.connection.closed_by_fake = True
            await session.connection.ws.close(code=4000)
        connection.session = session
        async with connection.lock:
            session.connection = connection
            last_seen = int(data.get("seq") or 0)
            for missed in session.history:
                if missed["s"] > last_seen:
                    await connection.send(missed)
        await self.dispatch(session, "RESUMED", {"_trace": ["fakediscord"]})
        self._update_connected()
        await self.state.notify()

    async def _send_member_chunk(self, session: GatewaySession, data: JsonDict) -> None:
        guild = self.state.guild_by_id(int(data.get("guild_id") or 0))
        if guild is None or not session.owns(guild.id):
            return
        users = guild.all_users()
        if data.get("user_ids"):
            wanted = {int(user_id) for user_id in data["user_ids"]}
            users = [user for user in users if user.id in wanted]
        chunk = {
            "guild_id": str(guild.id),
            "members": [payloads.member(guild, user) for user in users],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce"):
            chunk["nonce"] = data["nonce"]
        await self.dispatch(session, "GUILD_MEMBERS_CHUNK", chunk)

    # dispatching

    async def dispatch(self, session: GatewaySession, event: str, data: Any) -> None:
        """Number the event in the session, keep it for a RESUME, send it if connected."""
        connection = session.connection
        lock = connection.lock if connection is not None else asyncio.Lock()
        async with lock:
            session.seq += 1
            frame = {"op": DISPATCH, "t": event, "s": session.seq, "d": data}
            session.history.append(frame)
            if session.connected and session.connection is not None:
                await session.connection.send(frame)

    def live_sessions(self) -> list[GatewaySession]:
        return [
            session for session in self.sessions if not session.ended and session.ready.is_set()
        ]

    def guilds_of(self, session: GatewaySession) -> list[FakeGuild]:
        return [guild for guild in self.state.guilds if session.owns(guild.id)]

    async def broadcast(
        self, event: str, data: Any, *, intent: int, guild_id: int | None = None
    ) -> None:
        """Dispatch a guild's event to every session with the intent of the shard owning the
        guild (default: the first guild)."""
        owner = guild_id or self.state.guild.id
        for session in self.live_sessions():
            if session.intents & intent and session.owns(owner):
                await self.dispatch(session, event, data)

    def interaction_target(self, guild_id: int | None) -> GatewaySession | None:
        """Discord sends an interaction to one session of the shard owning its guild (a DM's to
        shard 0): here the newest connected one."""
        return self._newest(lambda session: session.owns(guild_id))

    def _newest(self, accept: Callable[[GatewaySession], bool]) -> GatewaySession | None:
        connected = [s for s in self.live_sessions() if s.connected and accept(s)]
        return connected[-1] if connected else None

    async def wait_for_session(self, timeout: float) -> GatewaySession:
        """The newest ready, connected session, of any shard."""
        return await self.state.wait_for(
            lambda: self._newest(lambda session: True),
            timeout,
            lambda: "no bot is connected to the fake gateway",
        )

    async def wait_for_target(self, guild_id: int | None, timeout: float) -> GatewaySession:
        return await self.state.wait_for(
            lambda: self.interaction_target(guild_id),
            timeout,
            lambda: f"no bot is connected to the fake gateway with the shard of guild {guild_id}",
        )

    async def wait_for_shards(self, shard_count: int, timeout: float) -> list[GatewaySession]:
        """One ready, connected session per shard 0..shard_count-1, whichever clients run them."""

        def find() -> list[GatewaySession] | None:
            by_shard = {
                session.shard[0]: session
                for session in self.live_sessions()
                if session.connected and session.shard[1] == shard_count
            }
            return (
                [by_shard[k] for k in range(shard_count)] if len(by_shard) == shard_count else None
            )

        return await self.state.wait_for(
            find,
            timeout,
            lambda: f"shards ready: {[s.shard for s in self.live_sessions() if s.connected]}",
        )

    def _update_connected(self) -> None:
        if any(session.connected for session in self.live_sessions()):
            self.connected.set()
        else:
            self.connected.clear()

    async def _on_message_event(self, event: str, message: FakeMessage) -> None:
        if message.flags & EPHEMERAL_FLAG:
            return
        is_guild = message.guild_id is not None
        intent = payloads.GUILD_MESSAGES_INTENT if is_guild else payloads.DIRECT_MESSAGES_INTENT
        if event == "MESSAGE_DELETE":
            data: JsonDict = {"id": str(message.id), "channel_id": str(message.channel_id)}
            if is_guild:
                data["guild_id"] = str(message.guild_id)
        else:
            data = dict(message.raw)
            guild = self.state.home_of(message.channel_id)
            if is_guild and guild is not None:
                author = self.state.users_by_id()[message.author_id or self.state.bot_user.id]
                data["member"] = payloads.member(guild, author)
                del data["member"]["user"]
        for session in self.live_sessions():
            if session.intents & intent and session.owns(message.guild_id):
                await self.dispatch(session, event, self._as_seen_by(session, message, data))

    def _as_seen_by(
        self, session: GatewaySession, message: FakeMessage, data: JsonDict
    ) -> JsonDict:
        """Without the privileged MESSAGE_CONTENT intent, a member's guild message arrives with
        its content, embeds, attachments and components empty, unless it mentions the bot."""
        hidden = (
            message.author_id is not None
            and message.guild_id is not None
            and not session.intents & payloads.MESSAGE_CONTENT_INTENT
            and self.state.bot_user.id not in message.pinged_users
            and "content" in data
        )
        if not hidden:
            return data
        return {**data, "content": "", "embeds": [], "attachments": [], "components": []}

    async def disconnect_all(self, code: int = 4000) -> None:
        """Drop every connection without ending sessions; discord.py RESUMEs."""
        for connection in list(self.connections):
            connection.closed_by_fake = True
            await connection.ws.close(code=code, message=b"fakediscord disconnect")

    async def close(self) -> None:
        for connection in list(self.connections):
            await connection.ws.close(code=1001, message=b"fakediscord shutting down")
