"""``python -m bot.miraflow.simulator``: serve the simulator from the command line."""

from __future__ import annotations

from .serve import main

main()
