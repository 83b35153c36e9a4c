"""The message context menus: Edit image (with its modal) and Speak message."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import random
import re
import threading

from PIL import Image

from bot import pictures
from bot.jobs.job_requests import EditRequest, TextVideoRequest
from bot.miraflow.simulator.catalogue import STOCK_AVATARS, STOCK_VOICES
from bot.ui.forms import EXPIRED
from tests.e2e.harness import running_bot
from tests.fakediscord.members import image_embed, image_link_embed

EDIT = ("POST", "/api/image/edit")
VIDEO = ("POST", "/api/video/create")
PROMPT = "mf:edit-image:prompt"


def png(colour=(30, 120, 200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(out, format="PNG")
    return out.getvalue()


async def test_edit_image_on_an_attached_picture_asks_the_prompt_then_edits(fd, sim, bot):
    bot.guild_settings.put_style(fd.guild_id, "ink", "ink wash", None)
    bot.guild_settings.set_log_channel(fd.guild_id, fd.other_channel_id)
    picture = png()
    posted = await fd.post_message(
        "my cat", author=fd.users.bob, attachments=[("cat.png", picture, "image/png")]
    )
    inter = await fd.invoke_message_command("Edit image", posted, user=fd.users.alice)
    modal = await fd.wait_for_modal(inter)
    assert modal.title == "Edit image"
    assert sim.count("POST", "/api") == 0  # nothing happens before the prompt

    submit = await fd.submit_modal(
        modal, {PROMPT: "give it a hat", "mf:edit-image:style": "ink"}, user=fd.users.alice
    )
    confirmation = await fd.wait_for_response(submit, timeout=10)
    assert confirmation.ephemeral and "Started job #1" in confirmation.content
    result = await fd.wait_for_message(lambda m: bool(m.files) and m.author_id is None, 15)
    assert result.pinged_users == {fd.users.alice.id}
    assert "mf:vary:1" in result.custom_ids()

    job = bot.store.get(1)
    assert isinstance(job.request, EditRequest)
    assert job.request.prompt == "give it a hat, ink wash" and job.request.style == "ink"
    (media_id,) = job.request.media_ids
    assert sim.media[media_id].data == picture
    assert sim.count(*EDIT) == 1
    logged = await fd.wait_for_message(
        lambda m: m.channel_id == fd.other_channel_id and "(job #1)" in m.content, 5
    )
    assert "started Edit image" in logged.content


async def test_edit_image_uses_a_picture_discord_embeds(fd, sim, bot):
    picture = png_of_size(200_000)  # several chunks of the download
    hosted = fd.host_file("noise.png", picture, "image/png")
    posted = await fd.post_message(f"look {hosted.url}", embeds=[image_link_embed(hosted)])
    inter = await fd.invoke_message_command("Edit image", posted, user=fd.users.alice)
    submit = await fd.submit_modal(await fd.wait_for_modal(inter), {PROMPT: "make it green"})
    assert "Started job" in (await fd.wait_for_response(submit, timeout=10)).content
    (media_id,) = bot.store.get(1).request.media_ids
    assert sim.media[media_id].data == picture


async def test_edit_image_never_fetches_a_picture_hosted_elsewhere(fd, sim, bot):
    outside = {"type": "rich", "image": {"url": "http://127.0.0.1:9/secret.png"}}
    posted = await fd.post_message("see", embeds=[outside])
    inter = await fd.invoke_message_command("Edit image", posted, user=fd.users.alice)
    answer = await fd.wait_for_response(inter, timeout=10)
    assert answer.ephemeral and "outside Discord" in answer.content
    assert sim.count("POST", "/api") == 0


async def test_speak_message_voices_the_text_in_the_members_defaults(fd, sim, bot):
    avatar, voice = STOCK_AVATARS[0], STOCK_VOICES[0]
    bot.store.set_user_defaults(fd.users.alice.id, avatar_id=avatar.id, voice_id=voice.id)
    posted = await fd.post_message("Good morning, everyone!", author=fd.users.bob)
    inter = await fd.invoke_message_command("Speak message", posted, user=fd.users.alice)
    confirmation = await fd.wait_for_response(inter, timeout=10)
    assert confirmation.ephemeral and "Started job #1" in confirmation.content

    job = bot.store.get(1)
    assert re.fullmatch(r"Good morning, everyone! #[0-9a-f]{8}", job.request.name)  # unique
    assert job.request == TextVideoRequest(
        avatar_id=avatar.id,
        voice_id=voice.id,
        text="Good morning, everyone!",
        name=job.request.name,
        avatar_name=avatar.name,
        voice_name=voice.name,
    )
    assert sim.count(*VIDEO) == 1


async def test_speak_message_acknowledges_before_it_reads_the_store(fd, sim, bot):
    bot.store.set_user_defaults(
        fd.users.alice.id, avatar_id=STOCK_AVATARS[0].id, voice_id=STOCK_VOICES[0].id
    )
    posted = await fd.post_message("Hello there", author=fd.users.bob)
    acked_at_read: list[bool] = []
    read_defaults = bot.store.get_user_defaults

    def spying(user_id: int):
        acked_at_read.append(any(r.callbacks for r in fd.state.interactions.values()))
        return read_defaults(user_id)

    bot.store.get_user_defaults = spying
    inter = await fd.invoke_message_command("Speak message", posted, user=fd.users.alice)
    assert "Started job" in (await fd.wait_for_response(inter, timeout=10)).content
    assert acked_at_read == [True]


async def test_speak_message_falls_back_to_an_embeds_description(fd, sim, bot):
    avatar, voice = STOCK_AVATARS[0], STOCK_VOICES[0]
    bot.store.set_user_defaults(fd.users.alice.id, avatar_id=avatar.id, voice_id=voice.id)
    embed = {**image_embed(fd.host_file("a.png", png())), "description": "Read me aloud."}
    posted = await fd.post_message("", author=fd.users.bob, embeds=[embed])
    inter = await fd.invoke_message_command("Speak message", posted, user=fd.users.alice)
    assert "Started job" in (await fd.wait_for_response(inter, timeout=10)).content
    assert bot.store.get(1).request.text == "Read me aloud."


async def test_an_embedded_picture_over_the_size_limit_is_refused(fd, sim, db_path):
    big = png_of_size(300_000)
    async with running_bot(fd, sim, db_path, MAX_ATTACHMENT_MB="0.2"):  # about 200 KB
        hosted = fd.host_file("big.png", big, "image/png")
        posted = await fd.post_message("", embeds=[image_link_embed(hosted)])
        inter = await fd.invoke_message_command("Edit image", posted, user=fd.users.alice)
        submit = await fd.submit_modal(await fd.wait_for_modal(inter), {PROMPT: "smaller"})
        answer = await fd.wait_for_response(submit, timeout=10)
        assert answer.ephemeral and "too large" in answer.content
        assert sim.count("POST", "/api") == 0


def png_of_size(at_least: int) -> bytes:
    """A PNG of noise (so it does not compress) of at least `at_least` bytes."""
    side = 64
    while True:
        image = Image.frombytes("RGB", (side, side), random.randbytes(side * side * 3))
        out = io.BytesIO()
        image.save(out, format="PNG")
        if len(out.getvalue()) >= at_least:
            return out.getvalue()
        side *= 2


async def test_the_menus_refuse_a_servers_banned_words(fd, sim, bot):
    bot.guild_settings.add_word(fd.guild_id, "moon")
    bot.store.set_user_defaults(
        fd.users.alice.id, avatar_id=STOCK_AVATARS[0].id, voice_id=STOCK_VOICES[0].id
    )
    spoken = await fd.post_message("Fly me to the moon", author=fd.users.bob)
    inter = await fd.invoke_message_command("Speak message", spoken, user=fd.users.alice)
    assert "doesn't allow" in (await fd.wait_for_response(inter, timeout=10)).content

    pictured = await fd.post_message("", attachments=[("a.png", png(), "image/png")])
    inter = await fd.invoke_message_command("Edit image", pictured, user=fd.users.alice)
    submit = await fd.submit_modal(await fd.wait_for_modal(inter), {PROMPT: "add the Moon"})
    assert "doesn't allow" in (await fd.wait_for_response(submit, timeout=10)).content
    assert sim.count("POST", "/api") == 0


async def test_an_edit_image_form_submitted_after_a_restart_still_edits(fd, sim, db_path):
    posted = await fd.post_message("", attachments=[("a.png", png(), "image/png")])
    async with running_bot(fd, sim, db_path):
        inter = await fd.invoke_message_command("Edit image", posted, user=fd.users.alice)
        modal = await fd.wait_for_modal(inter)
    assert modal.custom_id == f"mf:edit-image:{posted.channel_id}:{posted.id}"
    assert len(modal.custom_id) <= 100
    async with running_bot(fd, sim, db_path) as bot:
        submit = await fd.submit_modal(modal, {PROMPT: "after the restart"})
        answer = await fd.wait_for_response(submit, timeout=10)
        assert answer.ephemeral and "Started job #1" in answer.content
        assert bot.store.get(1).request.prompt == "after the restart"
        assert sim.count(*EDIT) == 1


async def test_a_form_of_an_unknown_kind_is_told_it_expired(fd, sim, db_path):
    posted = await fd.post_message("", attachments=[("a.png", png(), "image/png")])
    async with running_bot(fd, sim, db_path):
        inter = await fd.invoke_message_command("Edit image", posted, user=fd.users.alice)
        modal = await fd.wait_for_modal(inter)
    modal = dataclasses.replace(modal, custom_id="mf:edit-image")  # an earlier version's name
    async with running_bot(fd, sim, db_path):
        submit = await fd.submit_modal(modal, {PROMPT: "too late"})
        answer = await fd.wait_for_response(submit, timeout=10)
        assert answer.ephemeral and answer.content == EXPIRED
        assert sim.count("POST", "/api") == 0


class OverlapProbe:
    """Wraps a function the bot runs in threads and notes the most calls running at once.
    Each call stays inside until another one enters or WINDOW passes (a slow decode), so
    that calls which may overlap do."""

    WINDOW = 0.3

    def __init__(self, function) -> None:
        self._function = function
        self._lock = threading.Lock()
        self._overlap = threading.Event()
        self.inside = 0
        self.most = 0
        self.calls = 0

    def __call__(self, *args, **kwargs):
        with self._lock:
            self.inside += 1
            self.calls += 1
            self.most = max(self.most, self.inside)
            if self.inside > 1:
                self._overlap.set()
        try:
            self._overlap.wait(self.WINDOW)
            return self._function(*args, **kwargs)
        finally:
            with self._lock:
                self.inside -= 1


async def test_six_edit_image_submits_at_once_decode_one_picture_at_a_time(
    fd, sim, db_path, monkeypatch
):
    decoding = OverlapProbe(pictures.checked_upload)
    monkeypatch.setattr(pictures, "checked_upload", decoding)
    async with running_bot(fd, sim, db_path, MAX_ACTIVE_JOBS_PER_USER="6"):
        posted = await fd.post_message(
            "", author=fd.users.bob, attachments=[("cat.png", png(), "image/png")]
        )
        modals = []
        for _ in range(6):
            inter = await fd.invoke_message_command("Edit image", posted, user=fd.users.alice)
            modals.append(await fd.wait_for_modal(inter))
        submits = await asyncio.gather(
            *(fd.submit_modal(modal, {PROMPT: f"variant {n}"}) for n, modal in enumerate(modals))
        )
        answers = [await fd.wait_for_response(submit, timeout=15) for submit in submits]

    assert all("Started job" in answer.content for answer in answers)
    assert sim.count(*EDIT) == 6
    assert (decoding.calls, decoding.most) == (6, 1)
