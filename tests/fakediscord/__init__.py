"""A wire-level fake Discord for end-to-end tests: gateway websocket + REST API on 127.0.0.1.

The real discord.py client connects to it (HELLO, IDENTIFY -> READY + a full GUILD_CREATE,
heartbeats, RESUME) and calls its REST API; nothing is mocked inside discord.py or the bot.

Starting it and pointing a client at it::

    from tests.fakediscord import FakeDiscord

    async with FakeDiscord() as fd:            # one aiohttp server on 127.0.0.1:<free port>
        fd.point_discord_py()                  # this process's discord.py -> fake, till exit
        # a bot in a subprocess: DISCORD_API_BASE_URL=fd.api_base DISCORD_GATEWAY_URL=fd.gateway_url
        # (bot.discord_endpoints.point_discord_at does the same there)
        bot = MyBot(..., guild_ready_timeout=0.1)   # on_ready fires this long after GUILD_CREATE
        await bot.login(fd.token)              # login first: wait_until_ready needs it
        task = asyncio.create_task(bot.connect())
        await bot.wait_until_ready()           # or: await fd.wait_for_ready_client()
        ...
        await bot.close(); await task          # close the client before the fake

The world: `fd.token` (the only token accepted: REST needs "Bot <token>", else 401; a wrong
IDENTIFY is closed with 4004), `fd.application_id`, `fd.bot_user` (same id), `fd.guild_id`,
`fd.channel_id` and `fd.other_channel_id` (text channels), `fd.users.owner` (server owner,
admin), `fd.users.alice` and `fd.users.bob` (plain members; `.id`, `.mention`), `fd.roles`
(everyone, admin, artists (mentionable), bot). GUILD_CREATE carries channels, roles and the bot's
member (every member with the GUILD_MEMBERS intent); REQUEST_GUILD_MEMBERS is answered.

Several guilds and shards::

    async with FakeDiscord(guilds=4, shards=2) as fd:  # shards: what GET /gateway/bot recommends
        fd.guilds                  # [FakeGuild]: .id .name .channel_id .other_channel_id .users
                                   # .roles; fd.guilds[0] is fd.guild_id's (the default world)
        fd.shard_of(guild_id, 2)   # (guild_id >> 22) % 2: guild k is on shard k % n for n <= 10
        bot = discord.AutoShardedClient(...)  # or shard_ids=[1], shard_count=2, in any process
        sessions = await fd.wait_for_shards(2, timeout=10)  # one ready session per shard
        inter = await fd.invoke("hello", channel_id=fd.guilds[1].channel_id)  # to shard 1

A session IDENTIFYed with `shard: [id, n]` gets a READY with that shard and only its guilds
(in READY and as GUILD_CREATE), those guilds' events, and the interactions in them (the
newest connected session of the owning shard gets each); DMs belong to shard 0. An
impossible shard is closed with 4010. Each guild has its own owner, alice and bob (acting in
a guild's channel defaults to its alice), two channels and DMs; REST serves every guild.
discord.py waits 5 s between shards' IDENTIFYs: override `before_identify_hook` in tests
(tinybot.ShardedTinyBot does). `fd.sessions` keeps every session, `.shard` = (id, n).

Changing the world (each is immediate; clients get the gateway event from the returned task)::

    fd.set_upload_limit(bytes, guild_id=None)  # default 10 MiB; more -> 413 40005; interactions
                                               # carry it (guild_id: another guild's)
    fd.delete_channel(channel_id)   # any request there -> 404 10003
    fd.forbid_channel(channel_id)   # posting -> 403 50013; missing_access=True: all 403 50001
    fd.block_dms(user_id)           # posting in that user's DM -> 403 50007
    fd.expire_interaction(inter)    # its token is dead, as after 15 minutes (401 50027)
    fd.ack_deadline = 3.0; fd.nonce_window = 300.0
    await fd.disconnect_all()       # drop connections; clients RESUME, missed events replayed

Driving the bot (each waits up to `timeout` for a connected client)::

    inter = await fd.invoke("imagine", {"prompt": "a cat"}, user=fd.users.alice,
                            channel_id=None, subcommand=None, group=None,
                            attachments={"image": ("cat.png", png_bytes, "image/png")})
    ack = await fd.wait_for_ack(inter, timeout=5)  # CallbackRecord(type, data, at, files, ...)
    latency = ack.at - inter.sent_at               # both time.monotonic()
    choices = await fd.autocomplete("speak", {"text": "hi", "avatar": "ann"}, focused="avatar")
    inter = await fd.click(message, "custom-id", user=fd.users.bob)  # must exist, be enabled

Options are typed from the command the bot synced (else from the Python value: str, int,
bool, float, FakeUser); attachments are served by the fake, so Attachment.read() gets the
bytes. `data.guild_id` is set when the command was synced to the guild (guild_command=True
forces it, False leaves it out). `channel_id=fd.dm_channel_id(user.id)` invokes from a DM.

Members' messages and context menus (a right click > Apps)::

    pic = fd.host_file("dog.jpg", jpeg_bytes)        # a FakeFile served at pic.url
    msg = await fd.post_message("see this", author=fd.users.bob, channel_id=None,
                                attachments=[("cat.png", png_bytes, "image/png")],
                                embeds=[image_link_embed(pic), image_embed(pic, title="x")])
    inter = await fd.invoke_message_command("Edit image", msg, user=fd.users.alice)
    inter = await fd.invoke_user_command("Wave", fd.users.bob, user=fd.users.alice)

(`image_link_embed`, `image_embed` from tests.fakediscord.members: the embed Discord unfurls
for a posted picture link, type "image" with a thumbnail; a rich embed with an image.) A menu
is INTERACTION_CREATE type 2 with `data.type` 3 (message) or 2 (user), `data.target_id`, no
options, and the target in full under `data.resolved` (messages; users + members), so the
callback gets a real discord.Message whose attachments read() the bytes. A member's message
reaches clients as MESSAGE_CREATE (author, member); a client without the privileged
MESSAGE_CONTENT intent gets its content, embeds and attachments blank unless it mentions the
bot, as on Discord (REST fetches and interactions carry them in full).

Modals::

    modal = await fd.wait_for_modal(inter)   # FakeModal: title, custom_id, components, inputs()
    submit = await fd.submit_modal(modal_or_inter, {"edit:prompt": "make it blue"}, user=None)
    response = await fd.wait_for_response(submit)

A modal callback (type 9) is checked (title 45, custom_id 100, 1-5 rows or labels, text
inputs' limits; else 400 50035) and recorded. The submission (type 5, by the member who
opened it unless `user`) mirrors the modal: a text input in an action row comes back in a
row, one in a label (type 18, discord.py 2.6+) in a label, with `value`; selects and
checkbox groups get `values` (a str or a list), a radio group a str, a checkbox a bool, a
file upload [(filename, bytes, content_type)] (served, under data.resolved.attachments; see
modals.py). Inputs left out keep their default; a value a member could not type (under
min_length, over max_length, a required one blank, an unknown custom_id) raises ValueError.
A submit may be answered with a message or a defer; with an update (6, 7) only when the
modal was opened from a click (it then carries and edits that `message`).

Looking at what the bot did::

    fd.messages(channel_id=None, include_ephemeral=False)  # oldest first, deleted left out
    fd.all_messages(); fd.dm_messages(user_id); fd.dm_channel_id(user_id)
    await fd.wait_for_message(lambda m: ..., timeout=10)   # re-checked on every create/edit/delete
    fd.interaction_responses(inter)    # original response + followups (for a click answered
                                       # with an update, the original is the clicked message)
    await fd.wait_for_response(inter, predicate=None, timeout=10)  # first non-"thinking" response
    fd.callbacks(inter); fd.rest_calls; fd.unhandled_calls; fd.command_syncs
    fd.connected (asyncio.Event); fd.sessions (each with .ready)
    await fd.wait_for_ready_client(timeout)
    fd.gateway.identify_count, fd.gateway.resume_count
    async with fd.client_session(auth=True) as http: ...   # raw REST calls, base_url=fd.api_base

A FakeMessage has id, channel_id, guild_id, content, embeds, components, files (FakeFile:
name, data, content_type, url), allowed_mentions, nonce, flags (.ephemeral, .loading),
pinged_users, pinged_roles, pinged_everyone (.pinged_nobody), source ("channel", "response",
"followup"), interaction_id, edits, author_id (None: the bot; else the member who posted it),
raw (the JSON Discord would return).

tests/fakediscord/tinybot.py and conftest.py show a complete bot and its fixtures.

Discord behaviour it keeps: `enforce_nonce` (the same nonce in the same channel within the
window returns the message already created); after a defer, the first followup replaces the
"thinking" message and keeps its visibility; a callback later than 3 s or for an unknown
interaction -> 404 10062, a second one -> 400 40060; followups before the ack -> 404 10015;
Discord's limits (content 2000, embeds, custom_id 100, 25 choices, command names) -> 400 50035.
Pings are computed from the content and allowed_mentions (absent = everything allowed), as if
the bot could ping everyone. Routes it does not know are recorded, logged and answered 404.
"""

from __future__ import annotations

from tests.fakediscord.models import (
    CallbackRecord,
    CommandSync,
    FakeFile,
    FakeInteraction,
    FakeMessage,
    FakeModal,
    FakeRoles,
    FakeUser,
    FakeUsers,
    RestCall,
)
from tests.fakediscord.server import FakeDiscord

__all__ = [
    "CallbackRecord",
    "CommandSync",
    "FakeDiscord",
    "FakeFile",
    "FakeInteraction",
    "FakeMessage",
    "FakeModal",
    "FakeRoles",
    "FakeUser",
    "FakeUsers",
    "RestCall",
]
