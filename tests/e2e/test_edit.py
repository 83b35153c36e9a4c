"""/edit end to end: the real bot, the fake Discord (serving the attachments), the simulator."""

from __future__ import annotations

import asyncio
import io
import os

import pytest
from PIL import Image

from bot.jobs.models import JobKind, JobState
from tests.e2e.harness import running_bot, wait_until

MEDIA = ("POST", "/api/media")
CREATE = ("POST", "/api/image")
MESSAGE_RESPONSE = 4  # a callback that answers at once (not a defer)


def png(size=(64, 48), colour=(30, 120, 200), mode="RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, colour).save(out, format="PNG")
    return out.getvalue()


def jpeg(size=(64, 48), colour=(200, 80, 10)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="JPEG")
    return out.getvalue()


def painted_mask(size=(64, 48)) -> bytes:
    """Left half transparent, right half light grey paint with a dark grey stripe at the top."""
    width, height = size
    mask = Image.new("RGBA", size, (0, 0, 0, 0))
    mask.paste((200, 200, 200, 255), (width // 2, 0, width, height))
    mask.paste((60, 60, 60, 255), (width // 2, 0, width, 8))
    out = io.BytesIO()
    mask.save(out, format="PNG")
    return out.getvalue()


def noise_png(size=(700, 700)) -> bytes:
    """A PNG that does not compress: about 1.4 MiB."""
    out = io.BytesIO()
    Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)).save(out, format="PNG")
    return out.getvalue()


def edit_jobs(sim):
    return sim.created_jobs("edit")


def assert_no_miraflow_call(sim):
    assert sim.count(*MEDIA) == 0
    assert sim.count(*CREATE) == 0


async def refusal(fd, inter):
    answer = await fd.wait_for_response(inter, timeout=5)
    assert answer.ephemeral
    return answer.content


async def assert_still_serving(fd, sim):
    """The next, valid, /edit is answered and started."""
    inter = await fd.invoke(
        "edit",
        {"prompt": "now make it red"},
        user=fd.users.bob,
        attachments={"image": ("ok.png", png(), "image/png")},
    )
    answer = await fd.wait_for_response(inter, timeout=10)
    assert "Started job" in answer.content
    assert len(sim.created_jobs()) == 1


async def test_edit_with_one_image_posts_the_result(fd, sim, bot):
    alice = fd.users.alice
    picture = png()
    inter = await fd.invoke(
        "edit",
        {"prompt": "make the sky purple", "seed": 7, "aspect_ratio": "16:9"},
        user=alice,
        attachments={"image": ("cat.png", picture, "image/png")},
    )
    ack = await fd.wait_for_ack(inter, timeout=3)
    assert ack.at - inter.sent_at < 3.0

    result = await fd.wait_for_message(lambda m: bool(m.files), timeout=15)
    assert result.files[0].data.startswith(b"\x89PNG")
    assert result.pinged_users == {alice.id}
    assert "make the sky purple" in result.embeds[0]["description"]
    assert "Started job #1" in (await fd.wait_for_response(inter, timeout=5)).content

    [job] = edit_jobs(sim)
    media_id = job.params["referenceImageMediaId"]
    assert "referenceImageMediaIds" not in job.params
    assert job.params["prompt"] == "make the sky purple"
    assert job.params["seed"] == 7
    assert job.params["aspectRatio"] == "16:9"
    uploaded = sim.media[media_id]
    assert uploaded.data == picture and uploaded.content_type == "image/png"
    assert uploaded.finalized
    stored = bot.store.get(1)
    assert stored.kind is JobKind.EDIT and stored.request.media_ids == (media_id,)
    assert stored.state is JobState.DELIVERED


async def test_edit_with_three_references(fd, sim, bot):
    pictures = [png(colour=(255, 0, 0)), jpeg(), png(size=(32, 32), colour=(0, 255, 0))]
    attachments = {
        "image": ("one.png", pictures[0], "image/png"),
        "image2": ("two.jpg", pictures[1], "image/jpeg"),
        "image3": ("three.png", pictures[2], "image/png"),
    }
    inter = await fd.invoke(
        "edit", {"prompt": "blend these three"}, user=fd.users.alice, attachments=attachments
    )
    await fd.wait_for_ack(inter, timeout=3)
    await fd.wait_for_message(lambda m: bool(m.files), timeout=15)

    [job] = edit_jobs(sim)
    ids = job.params["referenceImageMediaIds"]
    assert "referenceImageMediaId" not in job.params
    assert len(ids) == 3
    assert [sim.media[i].data for i in ids] == pictures
    assert [sim.media[i].content_type for i in ids] == ["image/png", "image/jpeg", "image/png"]
    assert isinstance(job.params["seed"], int)  # a random one when none is given


async def test_inpaint_with_a_grey_transparent_mask(fd, sim, bot):
    picture = png()
    inter = await fd.invoke(
        "edit",
        {"prompt": "a red door on the right"},
        user=fd.users.alice,
        attachments={
            "image": ("house.png", picture, "image/png"),
            "mask": ("mask.png", painted_mask(), "image/png"),
        },
    )
    await fd.wait_for_ack(inter, timeout=3)
    await fd.wait_for_message(lambda m: bool(m.files), timeout=15)

    [job] = sim.created_jobs("inpaint")
    assert edit_jobs(sim) == []
    assert sim.media[job.params["originalImageMediaId"]].data == picture
    sent_mask = sim.media[job.params["maskImageMediaId"]]
    assert sent_mask.content_type == "image/png"
    with Image.open(io.BytesIO(sent_mask.data)) as mask:
        assert mask.size == (64, 48)
        grey = mask.convert("L")
        used_values = [value for value, count in enumerate(grey.histogram()) if count]
        assert used_values == [0, 255]
        assert grey.getpixel((5, 20)) == 0  # transparent: kept
        assert grey.getpixel((50, 2)) == 0  # dark paint: kept
        assert grey.getpixel((50, 30)) == 255  # light paint: replaced
    assert bot.store.get(1).kind is JobKind.INPAINT


async def test_text_file_named_png_is_refused(fd, sim, bot):
    not_a_picture = b"I am a shopping list, not a cat.\n" * 20
    inter = await fd.invoke(
        "edit",
        {"prompt": "make it blue"},
        user=fd.users.alice,
        attachments={"image": ("cat.png", not_a_picture, "image/png")},
    )
    message = await refusal(fd, inter)
    assert "not a PNG, JPEG, WEBP or GIF" in message
    assert_no_miraflow_call(sim)
    assert bot.store.recent_jobs(fd.users.alice.id) == []
    await assert_still_serving(fd, sim)


async def test_file_over_the_limit_is_refused_before_download(fd, sim, db_path):
    async with running_bot(fd, sim, db_path, MAX_ATTACHMENT_MB="1") as bot:
        inter = await fd.invoke(
            "edit",
            {"prompt": "make it blue"},
            user=fd.users.alice,
            attachments={"image": ("big.png", noise_png(), "image/png")},
        )
        message = await refusal(fd, inter)
        assert "too large" in message and "limit is 1 MB" in message
        assert fd.callbacks(inter)[0].type == MESSAGE_RESPONSE  # answered before any defer
        assert_no_miraflow_call(sim)
        assert bot.store.recent_jobs(fd.users.alice.id) == []
        await assert_still_serving(fd, sim)


async def test_mask_of_another_size_is_refused(fd, sim, bot):
    inter = await fd.invoke(
        "edit",
        {"prompt": "a red door"},
        user=fd.users.alice,
        attachments={
            "image": ("house.png", png(size=(64, 48)), "image/png"),
            "mask": ("mask.png", png(size=(32, 32), colour=255, mode="L"), "image/png"),
        },
    )
    message = await refusal(fd, inter)
    assert "mask is 32x32 pixels but the image is 64x48" in message
    assert_no_miraflow_call(sim)
    await assert_still_serving(fd, sim)


async def test_mask_with_more_references_is_refused(fd, sim, bot):
    inter = await fd.invoke(
        "edit",
        {"prompt": "a red door"},
        user=fd.users.alice,
        attachments={
            "image": ("house.png", png(), "image/png"),
            "image2": ("other.png", png(), "image/png"),
            "mask": ("mask.png", png(colour=255, mode="L"), "image/png"),
        },
    )
    message = await refusal(fd, inter)
    assert "mask works with one image only" in message
    assert fd.callbacks(inter)[0].type == MESSAGE_RESPONSE
    assert_no_miraflow_call(sim)
    await assert_still_serving(fd, sim)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"prompt": "   "}, "prompt is empty"),
        ({"prompt": "x" * 1001}, "prompt is too long"),
        ({"prompt": "fine", "seed": -1}, "seed must be a whole number"),
    ],
)
async def test_bad_options_are_refused_at_once(fd, sim, bot, options, expected):
    inter = await fd.invoke(
        "edit",
        options,
        user=fd.users.alice,
        attachments={"image": ("cat.png", png(), "image/png")},
    )
    message = await refusal(fd, inter)
    assert expected in message
    assert fd.callbacks(inter)[0].type == MESSAGE_RESPONSE
    assert_no_miraflow_call(sim)
    await assert_still_serving(fd, sim)


async def test_all_black_mask_is_refused(fd, sim, bot):
    inter = await fd.invoke(
        "edit",
        {"prompt": "a red door"},
        user=fd.users.alice,
        attachments={
            "image": ("house.png", png(), "image/png"),
            "mask": ("mask.png", png(colour=(0, 0, 0, 0), mode="RGBA"), "image/png"),
        },
    )
    assert "mask is all black" in await refusal(fd, inter)
    assert_no_miraflow_call(sim)


async def test_user_over_quota_costs_no_upload(fd, sim, db_path):
    sim.config.image_seconds = (400.0, 400.0)  # 10 s of real time: still running below
    async with running_bot(fd, sim, db_path, MAX_ACTIVE_JOBS_PER_USER="1") as bot:
        alice = fd.users.alice
        first = await fd.invoke("imagine", {"prompt": "a slow lighthouse"}, user=alice)
        assert "Started job #1" in (await fd.wait_for_response(first, timeout=5)).content

        inter = await fd.invoke(
            "edit",
            {"prompt": "make it blue"},
            user=alice,
            attachments={"image": ("cat.png", png(), "image/png")},
        )
        assert "already have 1 jobs running" in await refusal(fd, inter)
        assert sim.count(*MEDIA) == 0
        assert sim.count("POST", "/api/image/edit") == 0
        assert len(bot.store.recent_jobs(alice.id)) == 1


async def test_six_edits_at_once_under_a_limit_of_three_start_three(fd, sim, db_path):
    sim.config.image_seconds = (400.0, 400.0)  # 10 s of real time: all still running below
    async with running_bot(fd, sim, db_path, MAX_ACTIVE_JOBS_PER_USER="3") as bot:
        alice = fd.users.alice
        invocations = await asyncio.gather(
            *(
                fd.invoke(
                    "edit",
                    {"prompt": f"variant {n}"},
                    user=alice,
                    attachments={"image": (f"cat{n}.png", png(), "image/png")},
                )
                for n in range(6)
            )
        )
        answers = [(await fd.wait_for_response(i, timeout=15)).content for i in invocations]
        assert sorted("Started job" in answer for answer in answers) == [False] * 3 + [True] * 3
        refusals = [answer for answer in answers if "Started job" not in answer]
        assert all("already have 3 jobs running" in answer for answer in refusals)
        assert sim.count("POST", "/api/image/edit") == 3
        assert len(bot.store.recent_jobs(alice.id)) == 3


async def test_reroll_starts_a_new_edit_job_with_the_same_media(fd, sim, bot):
    alice = fd.users.alice
    inter = await fd.invoke(
        "edit",
        {"prompt": "make the sky purple", "seed": 7},
        user=alice,
        attachments={"image": ("cat.png", png(), "image/png")},
    )
    await fd.wait_for_ack(inter, timeout=3)
    result = await fd.wait_for_message(lambda m: bool(m.files), timeout=15)
    uploads = sim.count("POST", "/api/media/initialize")

    click = await fd.click(result, "mf:reroll:1", user=alice)
    assert "Started job #2" in (await fd.wait_for_response(click, timeout=5)).content
    await fd.wait_for_message(lambda m: bool(m.files) and m.id != result.id, timeout=15)

    first, second = edit_jobs(sim)  # in creation order
    assert second.params["referenceImageMediaId"] == first.params["referenceImageMediaId"]
    assert second.params["prompt"] == "make the sky purple"
    assert second.params["seed"] != 7
    assert sim.count("POST", "/api/media/initialize") == uploads  # nothing uploaded again
    assert bot.store.get(2).kind is JobKind.EDIT
    await wait_until(lambda: bot.store.get(2).state is JobState.DELIVERED, timeout=10)
