"""/videos list and /videos get end to end: the real bot, the fake Discord, the simulator."""

from __future__ import annotations

import asyncio
import time

import discord

from bot.jobs.models import JobKind, JobState
from bot.miraflow.simulator.catalogue import STOCK_AVATARS, STOCK_VOICES
from tests.e2e.harness import wait_until

AVATAR = STOCK_AVATARS[0]
VOICE = STOCK_VOICES[0]
MIB = 1024 * 1024


async def finished_videos(bot, sim, names: list[str]) -> list[str]:
    """Videos made straight through the Miraflow client (no bot job), finished at once."""
    ids = []
    for name in names:
        created = await bot.miraflow.create_video(
            AVATAR.id, name, voice_id=VOICE.id, text=f"Hello from {name}"
        )
        sim.complete_now(created.job_id)
        ids.append(created.job_id)
    return ids


def gets_of(sim, path: str) -> int:
    return sum(1 for seen in sim.requests if seen.method == "GET" and seen.path == path)


def titles(message) -> list[str]:
    return [embed["title"] for embed in message.embeds]


async def videos_list(fd, user):
    inter = await fd.invoke("videos", {}, subcommand="list", user=user)
    answer = await fd.wait_for_response(inter, timeout=5)
    assert answer.ephemeral
    return answer


async def videos_get(fd, user, video: str):
    inter = await fd.invoke("videos", {"video": video}, subcommand="get", user=user)
    ack = await fd.wait_for_ack(inter, timeout=3)
    assert ack.accepted and ack.at - inter.sent_at < 3.0
    answer = await fd.wait_for_response(inter, timeout=5)
    assert answer.ephemeral
    return answer


async def test_list_pages_the_videos_newest_first(fd, sim, bot):
    names = [f"Video {n:02d}" for n in range(12)]
    ids = await finished_videos(bot, sim, names)
    owner, bob = fd.users.owner, fd.users.bob

    first = await videos_list(fd, owner)

    assert titles(first) == names[::-1][:10]
    newest = first.embeds[0]
    fields = {field["name"]: field["value"] for field in newest["fields"]}
    assert fields["ID"] == f"`{ids[-1]}`"
    assert fields["Created"].startswith("<t:")
    assert fields["Avatar"] == f"{AVATAR.name} (`{AVATAR.id}`)"
    assert first.embeds[-1]["footer"]["text"].startswith("Page 1 of 2")
    previous_id, next_id = first.custom_ids()

    refused = await fd.click(first, next_id, user=bob)
    refusal = await fd.wait_for_response(refused, timeout=5)
    assert refusal.ephemeral and "belong to whoever ran the command" in refusal.content

    turned = await fd.click(first, next_id, user=owner)
    await fd.wait_for_ack(turned, timeout=3)
    second = await fd.wait_for_message(lambda m: m.id == first.id and m.edits >= 1, timeout=5)
    assert titles(second) == [names[1], names[0]]
    assert second.embeds[-1]["footer"]["text"].startswith("Page 2 of 2")

    back = await fd.click(second, previous_id, user=owner)
    await fd.wait_for_ack(back, timeout=3)
    again = await fd.wait_for_message(lambda m: m.id == first.id and m.edits >= 2, timeout=5)
    assert titles(again) == names[::-1][:10]


async def test_list_with_no_videos_says_so(fd, sim, bot):
    answer = await videos_list(fd, fd.users.owner)
    assert "no finished videos" in answer.content and "/speak" in answer.content


async def test_get_posts_the_mp4_in_the_channel(fd, sim, bot):
    owner = fd.users.owner
    [video_id] = await finished_videos(bot, sim, ["Team intro"])

    answer = await videos_get(fd, owner, video_id)

    assert "Team intro" in answer.content
    result = await fd.wait_for_message(lambda m: bool(m.files), timeout=10)
    [file] = result.files
    assert file.name.endswith(".mp4") and file.data[4:8] == b"ftyp"
    assert result.pinged_users == {owner.id}
    fields = {field["name"]: field["value"] for field in result.embeds[0]["fields"]}
    assert fields["Avatar"] == AVATAR.name
    assert gets_of(sim, f"/api/video/{video_id}/download") == 1
    [job] = bot.store.recent_jobs(owner.id, 10)
    assert job.kind is JobKind.VIDEO and job.miraflow_job_id == video_id
    await wait_until(lambda: bot.store.get(job.id).state is JobState.DELIVERED)
    assert bot.store.get(job.id).result_message_id == result.id
    assert len([m for m in fd.messages() if m.files]) == 1
    # Nothing was asked of Miraflow here, so there is nothing to re-roll: Delete only.
    assert result.custom_ids() == [f"mf:delete:{job.id}:{owner.id}"]


async def test_get_posts_a_fresh_link_when_the_video_is_too_large(fd, sim, bot):
    owner = fd.users.owner
    [video_id] = await finished_videos(bot, sim, ["Long keynote"])
    await fd.set_upload_limit(1 * MIB)
    sim.config.video_size = 3 * MIB

    await videos_get(fd, owner, video_id)

    result = await fd.wait_for_message(lambda m: "download link" in m.content, timeout=10)
    assert not result.files
    assert f"{sim.base_url}/files/videos/{video_id}.mp4?" in result.content
    # One GET to check the id, one for the fresh link.
    assert gets_of(sim, f"/api/video/{video_id}") == 2
    [job] = bot.store.recent_jobs(owner.id, 10)
    assert job.upload_limit == 1 * MIB
    await wait_until(lambda: bot.store.get(job.id).state is JobState.DELIVERED)


async def test_get_finds_a_video_by_its_exact_name(fd, sim, bot):
    await finished_videos(bot, sim, ["Product demo", "Team outro"])
    await videos_get(fd, fd.users.owner, "product DEMO")
    result = await fd.wait_for_message(lambda m: bool(m.files), timeout=10)
    assert result.embeds and bot.store.recent_jobs(fd.users.owner.id, 1)[0].request.name == (
        "Product demo"
    )


async def test_get_an_unknown_video_is_a_kind_message_and_no_job(fd, sim, bot):
    answer = await videos_get(fd, fd.users.owner, "cnotavideo000000000000000")
    assert "I can't find that video" in answer.content
    assert bot.store.recent_jobs(fd.users.owner.id, 10) == []
    assert not [m for m in fd.messages() if m.files or m.embeds]


async def test_get_autocomplete_matches_names_and_ids(fd, sim, bot):
    ids = await finished_videos(bot, sim, ["Team intro", "Product demo", "Team outro"])
    owner = fd.users.owner

    def ask(current: str):
        return fd.autocomplete(
            "videos", {"video": current}, focused="video", subcommand="get", user=owner
        )

    every = await ask("")
    assert [c["value"] for c in every] == ids[::-1]
    team = await ask("team")
    assert [c["value"] for c in team] == [ids[2], ids[0]]
    assert team[0]["name"].startswith("Team outro · 20")
    assert [c["value"] for c in await ask(ids[1][-8:])] == [ids[1]]
    assert await ask("nothing like it") == []


async def test_autocomplete_answers_within_a_second_when_miraflow_hangs(fd, sim, bot):
    [video_id] = await finished_videos(bot, sim, ["Slow list"])
    sim.hang("/api/videos")
    started = time.monotonic()

    choices = await fd.autocomplete(
        "videos", {}, focused="video", subcommand="get", user=fd.users.owner
    )

    assert choices == []
    assert time.monotonic() - started < 1.5
    await sim.wait_for_requests("GET", "/api/videos", 1)
    sim.unhang()  # the fetch started in the background fills the cache for the next call
    deadline = time.monotonic() + 5
    while not choices and time.monotonic() < deadline:
        choices = await fd.autocomplete(
            "videos", {}, focused="video", subcommand="get", user=fd.users.owner
        )
        await asyncio.sleep(0.05)
    assert [c["value"] for c in choices] == [video_id]


async def test_videos_need_manage_server_by_default_and_jobs_do_not(fd, bot):
    synced = {command["name"]: command for command in fd.command_syncs[-1].payload}
    videos = synced["videos"]
    assert videos["default_member_permissions"] is not None
    needed = discord.Permissions(int(videos["default_member_permissions"]))
    assert needed == discord.Permissions(manage_guild=True)
    assert synced["jobs"]["default_member_permissions"] is None
    assert {o["name"] for o in videos["options"]} == {"list", "get"}
    assert {o["name"] for o in synced["jobs"]["options"]} == {"list", "cancel"}
