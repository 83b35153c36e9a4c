"""The aiohttp application: middleware and routes around one simulator."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from . import api, files
from .middleware import MIDDLEWARES, SIMULATOR_KEY

if TYPE_CHECKING:
    from .simulator import MiraflowSimulator

# Uploads are read in chunks, so the body limit only guards against mistakes.
MAX_UPLOAD_BYTES = 512 * 1024 * 1024


def build_app(sim: MiraflowSimulator) -> web.Application:
    app = web.Application(middlewares=list(MIDDLEWARES), client_max_size=MAX_UPLOAD_BYTES)
    app[SIMULATOR_KEY] = sim
    app.add_routes(api.routes)
    app.add_routes(files.routes)
    return app
