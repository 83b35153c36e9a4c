"""Bad input across every command: a short ephemeral answer naming the problem, no Miraflow
create call (nor upload), and the bot goes on serving the next command."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bot.jobs.store.guild_settings import StoredGuild
from bot.miraflow.simulator.catalogue import STOCK_AVATARS, STOCK_VOICES

AVA = STOCK_AVATARS[0].id
ARIA = STOCK_VOICES[0].id


def png(size=(64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (30, 120, 200)).save(out, format="PNG")
    return out.getvalue()


PICTURE = ("picture.png", png(), "image/png")
NOT_A_PICTURE = ("cat.png", b"this is a text file, not a picture", "image/png")
SMALL_MASK = ("mask.png", png((32, 32)), "image/png")
WAV_HEADER = b"RIFF\x24\x00\x00\x00WAVEfmt "

CASES = [
    # (command, group/subcommand, options, attachments, words in the answer)
    ("imagine", None, {"prompt": "   "}, {}, "prompt is empty"),
    ("imagine", None, {"prompt": "\u200b\u200d\u2060\ufeff"}, {}, "prompt is empty"),
    ("imagine", None, {"prompt": "\u3164\u115f\u1160\uffa0"}, {}, "prompt is empty"),
    ("imagine", None, {"prompt": "\u2800 \u2800\u00ad\u202e"}, {}, "prompt is empty"),
    ("imagine", None, {"prompt": "x" * 1001}, {}, "too long"),
    ("imagine", None, {"prompt": "a cat", "seed": -1}, {}, "seed"),
    ("imagine", None, {"prompt": "a cat", "negative_prompt": "n" * 1001}, {}, "too long"),
    ("imagine", None, {"prompt": "a cat", "style": "nosuch"}, {}, "no style called"),
    ("edit", None, {"prompt": "a cat", "style": "nosuch"}, {"image": PICTURE}, "no style called"),
    ("edit", None, {"prompt": "   "}, {"image": PICTURE}, "prompt is empty"),
    ("edit", None, {"prompt": "\u200c\u3164"}, {"image": PICTURE}, "prompt is empty"),
    ("edit", None, {"prompt": "make it blue"}, {"image": NOT_A_PICTURE}, "not"),
    (
        "edit",
        None,
        {"prompt": "a red door"},
        {"image": PICTURE, "mask": SMALL_MASK},
        "32x32",
    ),
    (
        "edit",
        None,
        {"prompt": "a red door"},
        {"image": PICTURE, "mask": PICTURE, "image2": PICTURE},
        "mask",
    ),
    (
        "speak",
        None,
        {"text": "hi", "avatar": AVA, "voice": ARIA},
        {"audio": ("hi.wav", WAV_HEADER, "audio/wav")},
        "not both",
    ),
    ("speak", None, {"avatar": AVA, "voice": ARIA}, {}, "`text`"),
    ("speak", None, {"text": "\u3000\u200b\u2800", "avatar": AVA, "voice": ARIA}, {}, "empty"),
    ("speak", None, {"avatar": AVA}, {"audio": PICTURE}, "audio"),
    ("speak", None, {"text": "hello", "avatar": "Nobody", "voice": ARIA}, {}, "Nobody"),
    ("speak", None, {"text": "hello", "avatar": AVA, "voice": "Mute"}, {}, "Mute"),
    ("speak", None, {"text": "hello"}, {}, "/avatar default"),
    ("speak", None, {"text": "y" * 3001, "avatar": AVA, "voice": ARIA}, {}, "too long"),
    ("avatar", "default", {}, {}, "avatar"),
    ("avatar", "default", {"avatar": "Nobody"}, {}, "Nobody"),
    ("jobs", "cancel", {"job": 999}, {}, "can't find"),
    ("videos", "get", {"video": "cnotavideo000000000000000"}, {}, "can't find"),
    ("settings", "limits", {}, {}, "at least one"),
    ("settings", "limits", {"active": 0}, {}, "from 1 to 20"),
    ("settings", "limits", {"active": 21}, {}, "from 1 to 20"),
    ("settings", "limits", {"daily": 1001}, {}, "from 1 to 1000"),
    ("settings", "limits", {"server_daily": 100_001}, {}, "from 0 to 100000"),
    ("settings", "words", {"add": "   "}, {}, "empty"),
    ("settings", "words", {"add": "w" * 101}, {}, "too long"),
    ("settings", "words", {"add": "?!"}, {}, "letter or digit"),
    ("settings", "words", {"add": "moon", "remove": "sun"}, {}, "either `add` or `remove`"),
    ("settings", "words", {"remove": "never banned"}, {}, "not on the list"),
    ("settings", "style", {"name": "two words", "text": "ink"}, {}, "one short word"),
    ("settings", "style", {"name": "ink"}, {}, "Give the style a `text`"),
    ("settings", "style", {"name": "ink", "text": "s" * 301}, {}, "too long"),
    ("settings", "style", {"name": "ink", "remove": True}, {}, "no style named `ink`"),
]
# Bad settings that need a prepared server (a log channel the bot can't post in, a full word
# list) are in test_settings.py.
MANAGERS_ONLY = frozenset({"videos", "settings"})


@pytest.mark.parametrize(
    ("command", "subcommand", "options", "attachments", "words"),
    CASES,
    ids=[f"{c[0]}{'-' + c[1] if c[1] else ''}-{n}" for n, c in enumerate(CASES)],
)
async def test_bad_input_is_refused_kindly_and_costs_nothing(
    fd, sim, bot, command, subcommand, options, attachments, words
):
    user = fd.users.owner if command in MANAGERS_ONLY else fd.users.alice
    inter = await fd.invoke(
        command, options, user=user, subcommand=subcommand, attachments=attachments
    )
    answer = await fd.wait_for_response(inter, timeout=10)
    assert answer.ephemeral
    assert words in answer.content, answer.content
    assert "Traceback" not in answer.content
    assert len(answer.content) < 400
    assert sim.count("POST", "/api/image") == 0
    assert sim.count("POST", "/api/video/create") == 0
    assert sim.count("POST", "/api/media") == 0
    assert bot.store.recent_jobs(user.id) == []
    assert bot.guild_settings.stored(fd.guild_id) == StoredGuild(fd.guild_id)
    # The bot goes on serving.
    ok = await fd.invoke("imagine", {"prompt": "a calm lake"}, user=fd.users.bob)
    assert "Started job" in (await fd.wait_for_response(ok, timeout=10)).content


HUGE = ("huge.png", b"\x89PNG" + bytes(21 * 1024 * 1024), "image/png")  # over the 20 MB limit
OUTSIDE = {"type": "rich", "image": {"url": "http://127.0.0.1:9/private.png"}}
EDIT_PROMPT = "mf:edit-image:prompt"
DEFAULTS = {"avatar_id": AVA, "voice_id": ARIA}

MENU_CASES = [
    # (menu, message content, attachments, embeds, modal inputs, member's defaults, words)
    ("Edit image", "just words", [], [], None, None, "no picture"),
    ("Edit image", "", [HUGE], [], None, None, "too large"),
    ("Edit image", "", [], [OUTSIDE], None, None, "outside Discord"),
    ("Edit image", "", [NOT_A_PICTURE], [], {EDIT_PROMPT: "make it blue"}, None, "not a PNG"),
    ("Edit image", "", [PICTURE], [], {EDIT_PROMPT: "   "}, None, "prompt is empty"),
    (
        "Edit image",
        "",
        [PICTURE],
        [],
        {EDIT_PROMPT: "blue", "mf:edit-image:style": "nosuch"},
        None,
        "no style called",
    ),
    ("Speak message", "", [PICTURE], [], None, DEFAULTS, "no text"),
    ("Speak message", "   ", [], [{"description": "y" * 3001}], None, DEFAULTS, "too long"),
    ("Speak message", "Hello there", [], [], None, None, "/avatar default"),
    ("Speak message", "Hello there", [], [], None, {"avatar_id": AVA}, "/avatar default"),
]


@pytest.mark.parametrize(
    ("menu", "content", "attachments", "embeds", "inputs", "defaults", "words"),
    MENU_CASES,
    ids=[f"{c[0].replace(' ', '-')}-{n}" for n, c in enumerate(MENU_CASES)],
)
async def test_bad_input_through_a_menu_is_refused_kindly_and_costs_nothing(
    fd, sim, bot, menu, content, attachments, embeds, inputs, defaults, words
):
    alice = fd.users.alice
    if defaults is not None:
        bot.store.set_user_defaults(alice.id, **defaults)
    posted = await fd.post_message(
        content, author=fd.users.bob, attachments=attachments, embeds=embeds
    )
    inter = await fd.invoke_message_command(menu, posted, user=alice)
    if inputs is not None:
        inter = await fd.submit_modal(await fd.wait_for_modal(inter), inputs)
    answer = await fd.wait_for_response(inter, timeout=10)
    assert answer.ephemeral
    assert words in answer.content, answer.content
    assert "Traceback" not in answer.content
    assert len(answer.content) < 400
    assert sim.count("POST", "/api") == 0
    assert bot.store.recent_jobs(alice.id) == []


def test_the_table_covers_every_command_and_enough_cases():
    assert len(CASES) >= 15
    assert {case[0] for case in CASES} == {
        "imagine",
        "edit",
        "speak",
        "avatar",
        "jobs",
        "videos",
        "settings",
    }
    assert {case[0] for case in MENU_CASES} == {"Edit image", "Speak message"}
