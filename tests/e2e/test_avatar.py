"""/avatar list, /avatar voices, /avatar default end to end, and autocomplete over a big
catalogue."""

from __future__ import annotations

import pytest

from bot.miraflow.simulator.catalogue import (
    STOCK_AVATARS,
    STOCK_VOICES,
    VOICES_BY_ID,
    StockAvatar,
)
from tests.e2e.harness import running_bot

EXTRA_AVATARS = 30
AVA = next(a.id for a in STOCK_AVATARS if a.name == "Ava")
ARIA = next(v.id for v in STOCK_VOICES if v.name == "Aria")


def extra_avatar(number: int) -> StockAvatar:
    return StockAvatar(f"c{number:024d}", f"Extra {number:02d}", "female", "en-US", "photo")


@pytest.fixture
def crowded_catalogue(sim):
    """36 avatars on the simulated account: enough for 4 pages and the 25-choice cap."""
    for number in range(1, EXTRA_AVATARS + 1):
        avatar = extra_avatar(number)
        sim.avatars[avatar.id] = avatar
    return list(sim.avatars.values())


@pytest.fixture
async def crowded_bot(fd, sim, db_path, crowded_catalogue):
    async with running_bot(fd, sim, db_path) as running:
        yield running


def button_id(message, label: str) -> str:
    for row in message.components:
        for component in row.get("components", []):
            if component.get("label") == label:
                return component["custom_id"]
    raise AssertionError(f"no {label!r} button in {message.components}")


def button_disabled(message, label: str) -> bool:
    for row in message.components:
        for component in row.get("components", []):
            if component.get("label") == label:
                return bool(component.get("disabled"))
    raise AssertionError(f"no {label!r} button")


def titles(message) -> list[str]:
    return [embed["title"] for embed in message.embeds]


async def test_avatar_list_shows_one_embed_per_avatar(fd, sim, bot):
    inter = await fd.invoke("avatar", {}, subcommand="list", user=fd.users.alice)
    ack = await fd.wait_for_ack(inter, timeout=3)
    assert ack.type == 5 and ack.data["flags"] & 64  # deferred, ephemeral
    page = await fd.wait_for_response(inter, timeout=5)
    assert page.ephemeral and not page.components  # one page: no buttons
    assert sorted(titles(page)) == sorted(a.name for a in STOCK_AVATARS)
    ava = next(embed for embed in page.embeds if embed["title"] == "Ava")
    fields = {f["name"]: f["value"] for f in ava["fields"]}
    assert fields["ID"] == f"`{AVA}`"
    assert fields["Gender"] == "female" and fields["Language"] == "en-US"
    assert fields["Type"] == "video" and fields["Stock"] == "yes"
    assert ava["thumbnail"]["url"].startswith(f"{sim.base_url}/files/avatars/{AVA}.png")
    assert "Page 1 of 1" in page.embeds[-1]["footer"]["text"]


async def test_avatar_voices_lists_voices_with_their_details(fd, sim, bot):
    inter = await fd.invoke("avatar", {}, subcommand="voices", user=fd.users.alice)
    page = await fd.wait_for_response(inter, timeout=5)
    assert page.ephemeral
    assert sorted(titles(page)) == sorted(v.name for v in STOCK_VOICES)
    aria = next(embed for embed in page.embeds if embed["title"] == "Aria")
    fields = {f["name"]: f["value"] for f in aria["fields"]}
    assert fields["ID"] == f"`{ARIA}`" and fields["Accent"] == "American"
    assert "thumbnail" not in aria  # the simulator's voices have no preview


async def test_search_filters_by_name_in_any_case(fd, sim, bot):
    inter = await fd.invoke("avatar", {"search": "AR"}, subcommand="list", user=fd.users.alice)
    page = await fd.wait_for_response(inter, timeout=5)
    assert titles(page) == ["Marcus"]
    inter = await fd.invoke("avatar", {"search": "aR"}, subcommand="voices", user=fd.users.alice)
    page = await fd.wait_for_response(inter, timeout=5)
    assert titles(page) == ["Aria", "Charlotte"]


@pytest.mark.parametrize("subcommand", ["list", "voices"])
async def test_a_search_with_no_match_says_so(fd, sim, bot, subcommand):
    inter = await fd.invoke(
        "avatar", {"search": "zebra"}, subcommand=subcommand, user=fd.users.alice
    )
    answer = await fd.wait_for_response(inter, timeout=5)
    assert answer.ephemeral and not answer.embeds
    assert "zebra" in answer.content and "No " in answer.content


async def test_pages_turn_with_the_buttons(fd, sim, crowded_bot, crowded_catalogue):
    alice = fd.users.alice
    names = sorted((a.name for a in crowded_catalogue), key=str.casefold)
    inter = await fd.invoke("avatar", {}, subcommand="list", user=alice)
    first = await fd.wait_for_response(inter, timeout=5)
    assert first.ephemeral and titles(first) == names[:10]
    assert "Page 1 of 4" in first.embeds[-1]["footer"]["text"]
    assert button_disabled(first, "Previous") and not button_disabled(first, "Next")

    click = await fd.click(first, button_id(first, "Next"), user=alice)
    ack = await fd.wait_for_ack(click, timeout=3)
    assert ack.type == 7  # the message itself is updated
    second = await fd.wait_for_message(
        lambda m: m.id == first.id and titles(m) == names[10:20], timeout=5
    )
    assert "Page 2 of 4" in second.embeds[-1]["footer"]["text"]
    assert not button_disabled(second, "Previous")

    for _ in range(2):
        click = await fd.click(second, button_id(second, "Next"), user=alice)
        await fd.wait_for_ack(click, timeout=3)
    last = await fd.wait_for_message(
        lambda m: m.id == first.id and titles(m) == names[30:], timeout=5
    )
    assert button_disabled(last, "Next")
    click = await fd.click(last, button_id(last, "Previous"), user=alice)
    await fd.wait_for_message(lambda m: m.id == first.id and titles(m) == names[20:30], timeout=5)


async def test_someone_else_cannot_turn_the_pages(fd, sim, crowded_bot, crowded_catalogue):
    names = sorted((a.name for a in crowded_catalogue), key=str.casefold)
    inter = await fd.invoke("avatar", {}, subcommand="list", user=fd.users.alice)
    page = await fd.wait_for_response(inter, timeout=5)
    edits_before = page.edits
    click = await fd.click(page, button_id(page, "Next"), user=fd.users.bob)
    refusal = await fd.wait_for_response(click, timeout=5)
    assert refusal.ephemeral and refusal.id != page.id
    assert "belong to whoever ran the command" in refusal.content
    now = next(m for m in fd.messages(include_ephemeral=True) if m.id == page.id)
    assert titles(now) == names[:10] and now.edits == edits_before


async def test_autocomplete_offers_at_most_25_choices_by_name_with_ids(
    fd, sim, crowded_bot, crowded_catalogue
):
    for command, subcommand in (("speak", None), ("avatar", "default")):
        choices = await fd.autocomplete(
            command, {"avatar": ""}, focused="avatar", subcommand=subcommand
        )
        assert len(choices) == 25
        assert all(c["value"] in sim.avatars for c in choices)
    choices = await fd.autocomplete("speak", {"avatar": "extra 1"}, focused="avatar")
    by_name = {a.name: a.id for a in crowded_catalogue}
    expected = [f"Extra {n}" for n in range(10, 20)]
    assert choices == [{"name": name, "value": by_name[name]} for name in expected]


async def test_default_validates_and_stores_both_by_name(fd, sim, bot):
    alice = fd.users.alice
    voices = await fd.autocomplete(
        "avatar", {"voice": "char"}, focused="voice", subcommand="default"
    )
    charlotte = voices[0]["value"]
    assert voices == [{"name": "Charlotte", "value": VOICES_BY_ID[charlotte].id}]

    inter = await fd.invoke(
        "avatar", {"avatar": "sofia", "voice": charlotte}, subcommand="default", user=alice
    )
    answer = await fd.wait_for_response(inter, timeout=5)
    assert answer.ephemeral and "**Sofia**" in answer.content and "**Charlotte**" in answer.content
    saved = bot.store.get_user_defaults(alice.id)
    sofia = next(a.id for a in STOCK_AVATARS if a.name == "Sofia")
    assert (saved.avatar_id, saved.voice_id) == (sofia, charlotte)
    assert (saved.avatar_name, saved.voice_name) == ("Sofia", "Charlotte")

    # Changing one keeps the other.
    inter = await fd.invoke("avatar", {"avatar": AVA}, subcommand="default", user=alice)
    answer = await fd.wait_for_response(inter, timeout=5)
    assert "**Ava**" in answer.content and "**Charlotte**" in answer.content
    saved = bot.store.get_user_defaults(alice.id)
    assert (saved.avatar_id, saved.voice_id) == (AVA, charlotte)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, "pick an `avatar`, a `voice`, or both"),
        ({"avatar": "Gandalf"}, "don't know an avatar called “Gandalf”"),
        ({"avatar": AVA, "voice": "Nobody"}, "don't know a voice called “Nobody”"),
    ],
)
async def test_default_refuses_nothing_or_unknown_names(fd, sim, bot, options, expected):
    bob = fd.users.bob
    inter = await fd.invoke("avatar", options, subcommand="default", user=bob)
    answer = await fd.wait_for_response(inter, timeout=5)
    assert answer.ephemeral and expected in answer.content
    assert bot.store.get_user_defaults(bob.id) is None
