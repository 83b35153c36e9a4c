"""Context menus on members' messages and users, and modals, through the real discord.py client."""

from __future__ import annotations

import asyncio

import aiohttp
import discord
import pytest

from tests.fakediscord import FakeDiscord, FakeModal
from tests.fakediscord.members import image_embed, image_link_embed
from tests.fakediscord.tinybot import PNG, TinyBot

JPEG = b"\xff\xd8\xff\xe0" + bytes(300)


async def test_a_members_message_reaches_the_bot_without_content_unless_intended(
    fd: FakeDiscord, bot: TinyBot
) -> None:
    seen = asyncio.create_task(bot.wait_for("message"))
    posted = await fd.post_message(
        "look", author=fd.users.bob, attachments=[("cat.png", PNG, "image/png")]
    )
    message = await asyncio.wait_for(seen, 5)
    assert message.id == posted.id and message.author.id == fd.users.bob.id
    assert isinstance(message.author, discord.Member) and not message.author.bot
    # TinyBot lacks the privileged MESSAGE_CONTENT intent: Discord blanks what the member wrote.
    assert message.content == "" and message.attachments == []
    assert posted.raw["author"]["id"] == str(fd.users.bob.id) and posted.raw["type"] == 0
    fetched = await bot.get_partial_messageable(fd.channel_id).fetch_message(posted.id)
    assert fetched.content == "look" and fetched.attachments[0].filename == "cat.png"
    mentioning = asyncio.create_task(bot.wait_for("message"))
    await fd.post_message(f"{fd.bot_user.mention} hi")
    assert (await asyncio.wait_for(mentioning, 5)).content == f"<@{fd.bot_user.id}> hi"
    in_dm = asyncio.create_task(bot.wait_for("message"))
    await fd.post_message("psst", author=fd.users.bob, channel_id=fd.dm_channel_id(fd.users.bob.id))
    assert (await asyncio.wait_for(in_dm, 5)).content == "psst"  # DMs are not blanked
    with pytest.raises(ValueError, match="cannot post"):
        await fd.post_message(
            "x", author=fd.users.alice, channel_id=fd.dm_channel_id(fd.users.bob.id)
        )


async def test_a_message_menu_gets_the_full_message_with_readable_pictures(
    fd: FakeDiscord, bot: TinyBot
) -> None:
    linked = fd.host_file("dog.jpg", JPEG)
    embedded = fd.host_file("result.png", PNG)
    posted = await fd.post_message(
        f"see {linked.url}",
        author=fd.users.bob,
        attachments=[("cat.png", PNG, "image/png")],
        embeds=[image_link_embed(linked), image_embed(embedded, title="Result")],
    )
    inter = await fd.invoke_message_command("Describe", posted, user=fd.users.owner)
    data = inter.payload["data"]
    assert data["type"] == 3 and data["target_id"] == str(posted.id) and "options" not in data
    assert data["resolved"]["messages"][str(posted.id)]["content"] == f"see {linked.url}"
    response = await fd.wait_for_response(inter)
    assert response.ephemeral
    assert response.content == " | ".join(
        [
            "bob",
            repr(f"see {linked.url}"),
            f"cat.png {len(PNG)} image/png",
            f"image {linked.url}",
            f"rich {embedded.url}",
        ]
    )
    async with aiohttp.ClientSession() as http, http.get(linked.url) as served:
        assert await served.read() == JPEG and served.content_type == "image/jpeg"


async def test_menus_synced_to_the_guild_carry_its_id_and_a_user_menu_resolves_the_member(
    fd: FakeDiscord, bot: TinyBot
) -> None:
    guild = discord.Object(fd.guild_id)
    bot.tree.copy_global_to(guild=guild)
    synced = await bot.tree.sync(guild=guild)
    assert {c.name: c.type.value for c in synced}["Describe"] == 3
    posted = await fd.post_message("plain")
    inter = await fd.invoke_message_command("Describe", posted)
    assert inter.payload["data"]["guild_id"] == str(fd.guild_id)
    assert inter.payload["data"]["id"] == str(next(c.id for c in synced if c.name == "Describe"))
    assert (await fd.wait_for_response(inter)).content == "alice | 'plain'"
    waved = await fd.invoke_user_command("Wave", fd.users.bob, user=fd.users.owner)
    assert waved.payload["data"]["type"] == 2
    assert (await fd.wait_for_response(waved)).content == "owner waves at bob"


async def test_a_modal_from_a_menu_is_recorded_and_submitted(fd: FakeDiscord, bot: TinyBot) -> None:
    posted = await fd.post_message(attachments=[("cat.png", PNG, "image/png")])
    inter = await fd.invoke_message_command("Edit image", posted, user=fd.users.bob)
    modal = await fd.wait_for_modal(inter)
    assert fd.callbacks(inter)[0].type == 9
    assert modal.title == "Edit image" and modal.custom_id == f"edit:{posted.id}"
    assert [c["type"] for c in modal.components] == [18, 1]
    assert [i["custom_id"] for i in modal.inputs()] == ["edit:prompt", "edit:note"]
    with pytest.raises(ValueError, match=r"3\.\.100"):
        await fd.submit_modal(modal, {"edit:prompt": "no"})
    with pytest.raises(ValueError, match="no input"):
        await fd.submit_modal(modal, {"edit:promt": "typo"})
    submit = await fd.submit_modal(inter, {"edit:prompt": "make it blue"})
    components = submit.payload["data"]["components"]
    assert submit.type == 5 and submit.payload["member"]["user"]["id"] == str(fd.users.bob.id)
    assert components[0]["component"]["value"] == "make it blue"
    assert components[1]["components"][0] == {
        "type": 4,
        "id": components[1]["components"][0]["id"],
        "custom_id": "edit:note",
        "value": "",
    }
    response = await fd.wait_for_response(submit)
    assert response.content == f"edit {posted.id} by bob: 'make it blue' note ''"
    assert response.ephemeral


async def test_a_modal_from_a_button_updates_the_clicked_message(
    fd: FakeDiscord, bot: TinyBot
) -> None:
    message = await fd.wait_for_response(await fd.invoke("setter"))
    click = await fd.click(message, "counter:set", user=fd.users.bob)
    submit = await fd.submit_modal(click, {"count:value": "42"})
    assert submit.payload["message"]["id"] == str(message.id)
    assert (await fd.wait_for_ack(submit)).type == 7
    edited = await fd.wait_for_response(submit, lambda m: m.content == "count: 42 (set)")
    assert edited.id == message.id


async def test_a_modal_with_a_file_upload_a_select_and_a_checkbox(
    fd: FakeDiscord, bot: TinyBot
) -> None:
    inter = await fd.invoke("upload", user=fd.users.bob)
    modal = await fd.wait_for_modal(inter)
    assert [i["type"] for i in modal.inputs()] == [19, 3, 23]
    files = [("a.png", PNG, "image/png"), ("b.jpg", JPEG, "image/jpeg")]
    submit = await fd.submit_modal(
        modal, {"up:files": files, "up:size": "large", "up:public": True}
    )
    data = submit.payload["data"]
    uploaded = data["components"][0]["component"]["values"]
    assert sorted(data["resolved"]["attachments"]) == sorted(uploaded) and len(uploaded) == 2
    response = await fd.wait_for_response(submit)
    assert response.content == f"{[len(PNG), len(JPEG)]} ['large'] True"


async def test_a_modal_cannot_answer_a_modal_nor_break_discords_limits(
    fd: FakeDiscord, bot: TinyBot
) -> None:
    # Interactions the bot leaves unanswered (no such command, no such modal), answered here.
    inter = await fd.invoke("not-a-command")
    row = {"type": 1, "components": [{"type": 4, "custom_id": "x", "style": 1, "label": "X"}]}
    ghost = FakeModal(inter, "ghost", "Ghost", [row])
    submit = await fd.submit_modal(ghost, {"x": "hello"})
    too_long = {"custom_id": "m", "title": "t" * 46, "components": [row]}
    async with fd.client_session(auth=False) as http:
        for answered, data in ((inter, too_long), (submit, {**too_long, "title": "ok"})):
            url = f"interactions/{answered.id}/{answered.token}/callback"
            async with http.post(url, json={"type": 9, "data": data}) as response:
                assert response.status == 400 and (await response.json())["code"] == 50035
    assert [c.error_code for c in fd.callbacks(inter) + fd.callbacks(submit)] == [50035, 50035]
