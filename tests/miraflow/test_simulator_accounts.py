"""Each key the simulator accepts is an account of its own: the jobs, media and videos a key
makes are seen by that key alone (404 to any other), unless the keys share one account."""

from __future__ import annotations

import pytest

from bot.miraflow import MiraflowClient, NotFoundError
from bot.miraflow.simulator import SimulatorConfig, run_simulator
from bot.miraflow.simulator.catalogue import STOCK_AVATARS, STOCK_VOICES
from tests.miraflow.test_client import PNG_BYTES

OTHER = "mf_other_account_key"
AVATAR, VOICE = STOCK_AVATARS[0].id, STOCK_VOICES[0].id


def config(*, shared: bool = False) -> SimulatorConfig:
    made = SimulatorConfig(speed=1000.0, seed=2, other_api_keys=(OTHER,), shared_account=shared)
    made.video_seconds = (1.0, 1.0)
    return made


async def test_another_keys_jobs_media_and_videos_are_not_found() -> None:
    async with (
        run_simulator(config()) as sim,
        MiraflowClient(sim.api_key, base_url=sim.base_url, max_retries=0) as mine,
        MiraflowClient(OTHER, base_url=sim.base_url, max_retries=0) as theirs,
    ):
        picture = await mine.generate_image("a cat", "cat")
        video = await mine.create_video(AVATAR, "clip", voice_id=VOICE, text="Hi.")
        media_id = await mine.upload_media(PNG_BYTES, "cat.png", "image/png")
        sim.complete_now(video.job_id)

        assert (await mine.image_job(picture.job_id)).status
        assert [v.id for v in await mine.list_videos()] == [video.job_id]
        with pytest.raises(NotFoundError):
            await theirs.image_job(picture.job_id)
        with pytest.raises(NotFoundError):
            await theirs.video_status(video.job_id)
        with pytest.raises(NotFoundError):
            await theirs.get_video(video.job_id)
        with pytest.raises(NotFoundError):
            await theirs.edit_image(media_id, "a dog", "dog")
        assert await theirs.list_videos() == []
        assert len(sim.created_jobs()) == 2, "the refused edit made nothing"


async def test_keys_may_share_one_account() -> None:
    async with (
        run_simulator(config(shared=True)) as sim,
        MiraflowClient(sim.api_key, base_url=sim.base_url, max_retries=0) as mine,
        MiraflowClient(OTHER, base_url=sim.base_url, max_retries=0) as theirs,
    ):
        video = await mine.create_video(AVATAR, "clip", voice_id=VOICE, text="Hi.")
        sim.complete_now(video.job_id)
        assert [v.id for v in await theirs.list_videos()] == [video.job_id]
        assert (await theirs.video_status(video.job_id)).complete
