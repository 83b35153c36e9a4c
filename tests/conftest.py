"""Fixtures shared by every test directory."""

import gc
from collections.abc import Iterator

import pytest

pytest_plugins = ["tests.pg"]


@pytest.fixture
def short_gc_pauses() -> Iterator[None]:
    """For tests that count the calls a simulator in this process saw in a (short) second:
    it records a request when its handler runs. After a thousand tests a full collection
    of this process's heap took 190 ms (measured in one run of the suite), and requests
    that left over that pause were recorded together, more in one second than were sent.
    Frozen, the older objects are not scanned again: in `test_running_big`, at the same
    place in the suite, no collection took over a millisecond."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
