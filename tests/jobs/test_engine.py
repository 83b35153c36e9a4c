"""The job engine with no Discord at all: the simulator over real HTTP, and a recording
stand-in for the front end (`tests/jobs/fakes.py`)."""

from __future__ import annotations

import asyncio
import io
import re
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from PIL import Image

from bot.jobs.delivery import Delivery
from bot.jobs.errors import (
    CreateRefused,
    DailyLimitReached,
    NotCancellable,
    NothingToRepeat,
    NotYourJob,
    TooManyActive,
)
from bot.jobs.frontend import Outcome
from bot.jobs.job_requests import EditRequest, FoundVideo, PictureRequest, TextVideoRequest
from bot.jobs.models import JobKind, JobSource, JobState
from bot.jobs.poller import Poller, PollerConfig
from bot.jobs.schedule import Schedule
from bot.jobs.service import JobService, Origin, Quotas
from bot.jobs.store import JobStore
from bot.miraflow import BadRequestError, MiraflowClient
from bot.miraflow.simulator import SimulatorConfig, run_simulator
from bot.miraflow.simulator.catalogue import STOCK_AVATARS, STOCK_VOICES
from tests.jobs.fakes import RecordingFrontend

SPEED = 200.0
ALICE = Origin(user_id=1, channel_id=10, guild_id=100, upload_limit=10**7)
BOB = Origin(user_id=2, channel_id=10, guild_id=100, upload_limit=10**7)


@pytest.fixture
async def engine(tmp_path):
    async with run_simulator(SimulatorConfig(speed=SPEED, seed=5)) as sim:
        store = JobStore(tmp_path / "jobs.sqlite3")
        async with MiraflowClient(sim.api_key, base_url=sim.base_url) as client:
            schedule = Schedule(SPEED)
            frontend = RecordingFrontend()
            delivery = Delivery(store, client, frontend)
            poller = Poller(store, client, delivery, frontend, PollerConfig(schedule=schedule))

            def service_with(**options) -> JobService:
                return JobService(
                    store,
                    client,
                    frontend,
                    quotas=Quotas(max_active=2, max_per_day=3),
                    wake_poller=poller.wake,
                    schedule=schedule,
                    **options,
                )

            poller.start()
            yield SimpleNamespace(
                sim=sim,
                store=store,
                service=service_with(),
                service_with=service_with,
                frontend=frontend,
            )
            await poller.stop()
        store.close()


async def wait_for(condition, timeout=10.0):
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def picture(n: int) -> PictureRequest:
    return PictureRequest(prompt=f"a kite {n}", name=f"kite {n}", seed=n)


async def test_a_picture_is_fetched_posted_once_and_recorded(engine):
    job = await engine.service.start(ALICE, picture(1))
    assert job.state is JobState.QUEUED and job.source is JobSource.COMMAND

    # The last step of a delivery: the row says DELIVERED a little earlier (while the
    # download's folder is being removed).
    await wait_for(lambda: (job.id, "delivered", True) in engine.frontend.shown)
    delivered = engine.store.get(job.id)
    assert delivered.state is JobState.DELIVERED
    assert delivered.result_message_id == 1000 + job.id
    assert delivered.result_channel_id == ALICE.channel_id
    ((posted_id, result),) = engine.frontend.posted
    assert posted_id == job.id and result.size and result.filename.endswith(".png")
    assert (job.id, "delivered", True) in engine.frontend.shown
    assert engine.frontend.notices == []


async def test_a_result_no_place_takes_fails_with_the_front_ends_words(engine):
    engine.frontend.refuse_posts = True
    job = await engine.service.start(ALICE, picture(2))

    await wait_for(lambda: engine.store.get(job.id).state is JobState.FAILED)
    assert engine.store.get(job.id).error == "words for posted_nowhere"


async def test_a_failure_at_miraflow_is_a_notice_for_the_requester(engine):
    engine.sim.config.image_seconds = (2000.0, 2000.0)
    job = await engine.service.start(ALICE, picture(3))
    engine.sim.fail_now(job.miraflow_job_id)

    await wait_for(lambda: engine.frontend.notices)
    ((job_id, notice),) = engine.frontend.notices
    assert job_id == job.id and notice.outcome is Outcome.MIRAFLOW_FAILED
    failed = engine.store.get(job.id)
    assert failed.state is JobState.FAILED and failed.error == "words for miraflow_failed"


async def test_quotas_are_typed_refusals(engine):
    engine.sim.config.image_seconds = (2000.0, 2000.0)
    await engine.service.start(ALICE, picture(4))
    await engine.service.start(ALICE, picture(5))
    with pytest.raises(TooManyActive) as caught:
        await engine.service.start(ALICE, picture(6))
    assert (caught.value.active, caught.value.limit) == (2, 2)

    # Cancelled, but Miraflow goes on with it until its timeout: it still counts.
    first = engine.store.recent_jobs(ALICE.user_id)[0]
    engine.service.cancel(first.id, ALICE.user_id)
    with pytest.raises(TooManyActive):
        await engine.service.start(ALICE, picture(7))

    for n in range(3):  # each one ends before the next starts
        started = await engine.service.start(BOB, picture(20 + n))
        engine.store.update(started.id, state=JobState.FAILED)
    with pytest.raises(DailyLimitReached):
        await engine.service.start(BOB, picture(23))


async def test_a_refused_create_call_fails_the_row_and_raises_it_with_the_miraflow_error(
    engine,
):
    engine.sim.fail_next(1, path_prefix="/api/image/generate", status=400)
    with pytest.raises(CreateRefused) as caught:
        await engine.service.start(ALICE, picture(9))
    assert isinstance(caught.value.error, BadRequestError)
    (job,) = engine.store.recent_jobs(ALICE.user_id)
    assert caught.value.job_id == job.id
    assert job.state is JobState.FAILED and job.error == "words for refused"


@dataclass(frozen=True)
class PngFile:
    data: bytes
    file_name: str = "picture.png"
    content_type: str = "image/png"


def png_file() -> PngFile:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), "red").save(out, format="PNG")
    return PngFile(out.getvalue())


class RecordingSlot:
    """A file slot that notes, on entry and exit, how far the uploads and create calls got."""

    def __init__(self, sim) -> None:
        self.sim = sim
        self.events: list[tuple[str, int, int]] = []

    def note(self, event: str) -> None:
        uploads = self.sim.count("POST", "/api/media/finalize")
        creates = self.sim.count("POST", "/api/image/edit")
        self.events.append((event, uploads, creates))

    async def __aenter__(self) -> None:
        self.note("enter")

    async def __aexit__(self, *_exc: object) -> None:
        self.note("exit")


async def test_the_file_slot_spans_the_read_and_the_uploads_not_the_create_call(engine):
    slot = RecordingSlot(engine.sim)

    async def read_files() -> list[PngFile]:
        slot.note("read")
        return [png_file(), png_file()]

    job = await engine.service_with(file_slot=slot).start_with_files(
        ALICE,
        read_files,
        lambda media_ids: EditRequest.of(picture(13), media_ids),
    )

    assert slot.events == [("enter", 0, 0), ("read", 0, 0), ("exit", 2, 0)]
    assert engine.sim.count("POST", "/api/image/edit") == 1
    assert job.kind is JobKind.EDIT and len(job.request.media_ids) == 2


async def test_a_user_over_the_quota_never_takes_a_file_slot(engine):
    engine.sim.config.image_seconds = (2000.0, 2000.0)
    await engine.service.start(ALICE, picture(14))
    await engine.service.start(ALICE, picture(15))
    slot = RecordingSlot(engine.sim)

    async def read_files() -> list[PngFile]:
        slot.note("read")
        return [png_file()]

    with pytest.raises(TooManyActive):
        await engine.service_with(file_slot=slot).start_with_files(
            ALICE,
            read_files,
            lambda media_ids: EditRequest.of(picture(16), media_ids),
        )
    assert slot.events == []
    assert engine.sim.count("POST", "/api/media") == 0


async def test_cancel_is_for_the_requester_and_pending_jobs_only(engine):
    engine.sim.config.image_seconds = (2000.0, 2000.0)
    job = await engine.service.start(ALICE, picture(10))
    with pytest.raises(NotYourJob):
        engine.service.cancel(job.id, BOB.user_id)

    cancelled = engine.service.cancel(job.id, ALICE.user_id)
    assert cancelled.state is JobState.CANCELLED and cancelled.error == "words for cancelled"
    with pytest.raises(NotCancellable) as caught:
        engine.service.cancel(job.id, ALICE.user_id)
    assert caught.value.state is JobState.CANCELLED


async def test_a_reroll_repeats_the_request_with_a_new_seed_for_whoever_asks(engine):
    original = await engine.service.start(ALICE, picture(11))
    again = await engine.service.reroll(BOB, original.id)

    assert again.user_id == BOB.user_id and again.source is JobSource.REROLL
    assert again.request.prompt == "a kite 11" and again.request.seed is not None


async def test_a_rerolled_video_carries_one_tag_of_its_own_not_one_more(engine):
    avatar, voice = STOCK_AVATARS[0], STOCK_VOICES[0]
    speech = TextVideoRequest(avatar_id=avatar.id, voice_id=voice.id, text="hi", name="hello")
    original = await engine.service.start(ALICE, speech)
    again = await engine.service.reroll(BOB, original.id)

    names = [job.params["name"] for job in engine.sim.created_jobs("video")]
    assert [job.request.name for job in (original, again)] == names
    assert all(re.fullmatch(r"hello #[0-9a-f]{8}", name) for name in names), names
    assert names[0] != names[1]


async def test_a_found_video_costs_nothing_and_cannot_be_rerolled(engine):
    video = engine.sim.create_job("video", {"avatarId": "a", "name": "old"})
    engine.sim.complete_now(video.id)
    found = engine.service.adopt_finished(ALICE, video.id, FoundVideo(video_id=video.id))
    assert found.state is JobState.COMPLETE and found.source is JobSource.VIDEOS_GET
    assert engine.store.count_since(ALICE.user_id, 0) == 0

    with pytest.raises(NothingToRepeat):
        await engine.service.reroll(ALICE, found.id)
    with pytest.raises(NothingToRepeat):
        await engine.service.reroll(ALICE, 12345)


async def test_jobs_a_stop_interrupted_are_marked_unknown_and_their_requester_told(engine):
    store = engine.store
    job = store.create_job(
        kind=JobKind.IMAGE,
        user_id=ALICE.user_id,
        channel_id=ALICE.channel_id,
        guild_id=ALICE.guild_id,
        request=picture(12),
        upload_limit=ALICE.upload_limit,
    )

    await engine.service.recover_interrupted()

    assert store.get(job.id).state is JobState.UNKNOWN
    assert store.get(job.id).error == "words for interrupted"
    assert [(n, notice.outcome) for n, notice in engine.frontend.notices] == [
        (job.id, Outcome.INTERRUPTED)
    ]
