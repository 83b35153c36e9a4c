"""Fixtures for the fake's tests: a running fake, and a TinyBot connected to it (under 1 s)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.fakediscord import FakeDiscord
from tests.fakediscord.tinybot import TinyBot


@pytest.fixture
async def fd() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as fake:
        fake.point_discord_py()
        yield fake


@pytest.fixture
async def bot(fd: FakeDiscord) -> AsyncIterator[TinyBot]:
    client = TinyBot()
    await client.login(fd.token)
    task = asyncio.create_task(client.connect())
    await asyncio.wait_for(client.wait_until_ready(), 5)
    yield client
    await client.close()
    await task
