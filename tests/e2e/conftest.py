from __future__ import annotations

import pytest

from bot.miraflow.simulator import SimulatorConfig, run_simulator
from tests.e2e.harness import SPEED, running_bot
from tests.fakediscord import FakeDiscord


@pytest.fixture
async def sim():
    config = SimulatorConfig(speed=SPEED, seed=7)
    async with run_simulator(config) as simulator:
        yield simulator


@pytest.fixture
async def fd():
    async with FakeDiscord() as fake:
        yield fake


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "jobs.sqlite3"


@pytest.fixture
async def bot(fd, sim, db_path):
    async with running_bot(fd, sim, db_path) as running:
        yield running
