"""/speak end to end: the real bot, the fake Discord, the Miraflow simulator."""

from __future__ import annotations

import io
import re
import time
import wave

import aiohttp
import pytest
from PIL import Image

from bot.miraflow.simulator.catalogue import AVATARS_BY_ID, VOICES_BY_ID
from tests.e2e.harness import ARIA, AVA, job_states, running_bot, wait_until

CREATE = ("POST", "/api/video/create")
MEDIA_INIT = ("POST", "/api/media/initialize")
MARCUS = next(a.id for a in AVATARS_BY_ID.values() if a.name == "Marcus")
KENJI = next(a.id for a in AVATARS_BY_ID.values() if a.name == "Kenji")  # a photo avatar
BRIAN = next(v.id for v in VOICES_BY_ID.values() if v.name == "Brian")


@pytest.fixture(autouse=True)
def short_videos(sim):
    # 40-80 simulated seconds: 1-2 real seconds at the e2e speed.
    sim.config.video_seconds = (40.0, 80.0)


def wav_bytes(seconds: float = 0.2, rate: int = 8000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(b"\x00\x00" * int(seconds * rate))
    return out.getvalue()


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(out, format="PNG")
    return out.getvalue()


def is_video_post(message) -> bool:
    return any(f.name.endswith(".mp4") for f in message.files)


def create_requests(sim):
    return [r for r in sim.requests if (r.method, r.path) == CREATE]


def only_video_job(sim):
    jobs = sim.created_jobs("video")
    assert len(jobs) == 1
    return jobs[0]


async def test_speak_with_a_script_posts_the_video(fd, sim, bot):
    alice = fd.users.alice
    script = "Welcome to the lighthouse, where the light never sleeps."
    inter = await fd.invoke("speak", {"text": script, "avatar": AVA, "voice": ARIA}, user=alice)
    ack = await fd.wait_for_ack(inter, timeout=3)
    assert ack.at - inter.sent_at < 3.0

    result = await fd.wait_for_message(is_video_post, timeout=15)
    video = result.files[0]
    assert video.data[4:8] == b"ftyp"
    assert result.pinged_users == {alice.id}
    embed = result.embeds[0]
    assert script in embed["description"]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Avatar"] == "Ava" and fields["Voice"] == "Aria"

    confirmation = await fd.wait_for_response(inter, timeout=5)
    assert confirmation.ephemeral and "Started job #1" in confirmation.content
    [create] = create_requests(sim)
    assert create.headers["content-type"].startswith("application/json")
    job = only_video_job(sim)
    assert job.params["avatarId"] == AVA and job.params["voiceId"] == ARIA
    assert job.params["text"] == script
    name, tag = job.params["name"].rsplit(" #", 1)  # a tag makes each video's name unique
    assert name == script[:60].rstrip() and len(tag) == 8
    assert "im2vid_full" not in job.params
    assert sim.count(*MEDIA_INIT) == 0
    stored = bot.store.get(1)
    assert stored.request.avatar_name == "Ava" and stored.request.voice_name == "Aria"
    assert len([m for m in fd.messages() if is_video_post(m)]) == 1


async def test_speak_with_audio_uploads_it_and_posts_the_video(fd, sim, bot):
    audio = wav_bytes()
    inter = await fd.invoke(
        "speak",
        {"avatar": "marcus"},  # a typed name works as well as a picked id
        attachments={"audio": ("hello_world.wav", audio, "audio/wav")},
        user=fd.users.alice,
    )
    result = await fd.wait_for_message(is_video_post, timeout=15)
    assert result.files[0].data[4:8] == b"ftyp"
    fields = {f["name"]: f["value"] for f in result.embeds[0]["fields"]}
    assert fields["Avatar"] == "Marcus" and "Voice" not in fields
    await fd.wait_for_response(inter, timeout=5)

    assert sim.count(*MEDIA_INIT) == 1
    [media] = sim.media.values()
    assert media.finalized and media.data == audio and media.content_type == "audio/wav"
    [create] = create_requests(sim)
    assert create.headers["content-type"].startswith("multipart/form-data")
    job = only_video_job(sim)
    assert job.params == {"avatarId": MARCUS, "name": job.name, "mediaId": media.id}
    assert re.fullmatch(r"hello world #[0-9a-f]{8}", job.name)  # unique to the job


async def test_full_body_asks_for_full_body_animation(fd, sim, bot):
    inter = await fd.invoke(
        "speak",
        {"text": "Look at me move.", "avatar": KENJI, "voice": BRIAN, "full_body": True},
        user=fd.users.alice,
    )
    confirmation = await fd.wait_for_response(inter, timeout=5)
    assert "Started job" in confirmation.content
    assert only_video_job(sim).params["im2vid_full"] is True
    assert bot.store.get(1).request.full_body is True


async def test_defaults_fill_in_a_missing_avatar_and_voice(fd, sim, bot):
    alice = fd.users.alice
    setting = await fd.invoke(
        "avatar", {"avatar": "Marcus", "voice": BRIAN}, subcommand="default", user=alice
    )
    saved = await fd.wait_for_response(setting, timeout=5)
    assert saved.ephemeral and "Marcus" in saved.content and "Brian" in saved.content

    inter = await fd.invoke("speak", {"text": "Good morning, everyone."}, user=alice)
    await fd.wait_for_response(inter, timeout=5)
    job = only_video_job(sim)
    assert job.params["avatarId"] == MARCUS and job.params["voiceId"] == BRIAN
    # An explicit choice still wins over the default.
    inter = await fd.invoke("speak", {"text": "Hi.", "voice": ARIA}, user=alice)
    await fd.wait_for_response(inter, timeout=5)
    newest = max(sim.created_jobs("video"), key=lambda j: j.created_at)
    assert newest.params["avatarId"] == MARCUS and newest.params["voiceId"] == ARIA


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"text": "Hello there."}, "avatar or a voice"),
        ({"text": "Hello there.", "avatar": AVA}, "pick a voice"),
    ],
)
async def test_without_defaults_the_message_says_how_to_set_them(fd, sim, bot, options, expected):
    inter = await fd.invoke("speak", options, user=fd.users.bob)
    answer = await fd.wait_for_response(inter, timeout=5)
    assert answer.ephemeral
    assert "/avatar default" in answer.content and expected in answer.content
    assert sim.count(*CREATE) == 0
    assert job_states(bot.store, fd.users.bob.id) == []


REFUSALS = [
    pytest.param(
        {"text": "Hi.", "avatar": AVA, "voice": ARIA},
        {"audio": ("hi.wav", wav_bytes(), "audio/wav")},
        "not both",
        id="text-and-audio",
    ),
    pytest.param({"avatar": AVA, "voice": ARIA}, {}, "write a script", id="neither"),
    pytest.param(
        {"avatar": AVA},
        {"audio": ("voice.wav", png_bytes(), "audio/wav")},
        "not audio I can use",
        id="png-as-audio",
    ),
    pytest.param(
        {"text": "Hi.", "avatar": "Gandalf", "voice": ARIA},
        {},
        "don't know an avatar called “Gandalf”",
        id="unknown-avatar",
    ),
    pytest.param(
        {"text": "Hi.", "avatar": AVA, "voice": "cm0000000000000000000none"},
        {},
        "don't know a voice called",
        id="unknown-voice",
    ),
    pytest.param(
        {"avatar": AVA, "voice": ARIA},
        {"audio": ("hi.wav", wav_bytes(), "audio/wav")},
        "Leave out `voice`",
        id="voice-with-audio",
    ),
]


@pytest.mark.parametrize(("options", "attachments", "expected"), REFUSALS)
async def test_bad_requests_are_refused_before_any_create_call(
    fd, sim, bot, options, attachments, expected
):
    alice = fd.users.alice
    inter = await fd.invoke("speak", options, attachments=attachments, user=alice)
    answer = await fd.wait_for_response(inter, timeout=5)
    assert answer.ephemeral and expected in answer.content
    assert sim.count(*CREATE) == 0 and sim.count(*MEDIA_INIT) == 0
    assert job_states(bot.store, alice.id) == []
    assert fd.messages() == []  # no public status message either


async def test_an_audio_file_over_the_limit_is_refused_before_deferring(fd, sim, db_path):
    async with running_bot(fd, sim, db_path, MAX_ATTACHMENT_MB="1"):
        big = wav_bytes(seconds=70.0)  # about 1.1 MB
        inter = await fd.invoke(
            "speak",
            {"avatar": AVA},
            attachments={"audio": ("long.wav", big, "audio/wav")},
            user=fd.users.alice,
        )
        ack = await fd.wait_for_ack(inter, timeout=3)
        assert ack.type == 4  # answered at once: the declared size was enough to refuse
        answer = await fd.wait_for_response(inter, timeout=5)
        assert answer.ephemeral and "too large" in answer.content
        assert sim.count("POST", "/api/media") == 0 and sim.count(*CREATE) == 0


async def test_autocomplete_answers_at_once_while_miraflow_is_slow_and_the_cache_is_cold(
    fd, sim, db_path
):
    sim.config.latency = 5.0
    async with running_bot(fd, sim, db_path):
        started = time.monotonic()
        choices = await fd.autocomplete("speak", {"avatar": "a"}, focused="avatar")
        assert time.monotonic() - started < 1.0
        assert choices == []  # nothing cached yet; the fetch goes on in the background


async def test_autocomplete_serves_the_warm_cache_while_miraflow_is_slow(fd, sim, bot):
    await bot.catalogue.avatars()
    await bot.catalogue.voices()
    sim.config.latency = 5.0
    started = time.monotonic()
    avatars = await fd.autocomplete("speak", {"avatar": "MAR"}, focused="avatar")
    voices = await fd.autocomplete("speak", {"voice": "ari"}, focused="voice")
    assert time.monotonic() - started < 1.0
    assert avatars == [{"name": "Marcus", "value": MARCUS}]
    assert voices == [{"name": "Aria", "value": ARIA}]


async def test_autocomplete_matches_names_in_any_case_and_returns_ids(fd, sim, bot):
    choices = await fd.autocomplete("speak", {"text": "hi", "avatar": "LÉ"}, focused="avatar")
    assert choices == [
        {"name": "Léa", "value": next(a.id for a in AVATARS_BY_ID.values() if a.name == "Léa")}
    ]
    everyone = await fd.autocomplete("speak", {"avatar": ""}, focused="avatar")
    assert sorted(c["name"] for c in everyone) == sorted(a.name for a in AVATARS_BY_ID.values())
    assert {c["value"] for c in everyone} == set(AVATARS_BY_ID)
    # Name prefixes first, then names containing the text, each group in name order.
    voices = await fd.autocomplete("speak", {"voice": "o"}, focused="voice")
    assert [c["name"] for c in voices] == ["Oliver", "Charlotte", "Mateo"]


async def test_a_video_over_the_upload_limit_is_posted_as_a_fresh_link(fd, sim, bot):
    await fd.set_upload_limit(256 * 1024)
    sim.config.video_size = 1024 * 1024
    inter = await fd.invoke(
        "speak", {"text": "A long speech.", "avatar": AVA, "voice": ARIA}, user=fd.users.alice
    )
    await fd.wait_for_response(inter, timeout=5)
    result = await fd.wait_for_message(lambda m: "download link" in m.content, timeout=15)
    job = only_video_job(sim)
    assert not result.files
    assert f"/files/videos/{job.id}.mp4" in result.content
    assert "24 hours" in result.content
    assert result.pinged_users == {fd.users.alice.id}
    # The link comes from a metadata call made for it, and it works.
    assert any(r.method == "GET" and r.path == f"/api/video/{job.id}" for r in sim.requests)
    link = re.search(r"https?://\S+", result.content).group(0)
    async with aiohttp.ClientSession() as http, http.get(link) as response:
        assert response.status == 200
        assert (await response.content.readexactly(8))[4:8] == b"ftyp"
    await wait_until(lambda: bot.store.get(1).result_message_id == result.id)
