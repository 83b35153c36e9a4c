"""A Miraflow simulator: the whole Miraflow HTTP API contract, served from memory.

For tests, benchmarks, and trying the bot without a Miraflow account::

    async with run_simulator(SimulatorConfig(speed=100)) as sim:
        ...  # point the client at sim.base_url with sim.api_key
"""

from __future__ import annotations

from .config import SimulatorConfig
from .jobs import SimJob, SimStatus
from .simulator import MiraflowSimulator, run_simulator
from .state import RecordedRequest, SimMedia

__all__ = [
    "MiraflowSimulator",
    "RecordedRequest",
    "SimJob",
    "SimMedia",
    "SimStatus",
    "SimulatorConfig",
    "run_simulator",
]
