"""The simulator's state and its test controls, and ``run_simulator`` to serve it on loopback."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

from .app import build_app
from .catalogue import STOCK_AVATARS, STOCK_VOICES, StockAvatar, StockVoice
from .config import SimulatorConfig
from .ids import new_cuid
from .jobs import JobKind, Outcome, SimJob, new_job
from .responses import ApiError, bad_request, not_found
from .signing import UrlSigner
from .state import FailRule, Gate, HangRule, Outage, RateWindow, RecordedRequest, SimMedia

INJECTED_ERROR_STATUSES = (500, 502, 503)
# Real seconds the server waits for answers in flight (a long download) when it stops.
SHUTDOWN_TIMEOUT = 2.0


class MiraflowSimulator:
    """Holds the simulated accounts (jobs, media: each its key's), the faults to inject and
    the requests seen.

    ``app`` is the aiohttp application serving it; ``run_simulator`` serves it on loopback.
    ``clock`` gives wall-clock time (``time.time`` by default): job states are computed from
    it at each request.
    """

    def __init__(
        self, config: SimulatorConfig | None = None, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.config = config if config is not None else SimulatorConfig()
        self.clock = clock
        self.jobs: dict[str, SimJob] = {}
        # The account's catalogue, by id: the stock entries; tests may add their own.
        self.avatars: dict[str, StockAvatar] = {a.id: a for a in STOCK_AVATARS}
        self.voices: dict[str, StockVoice] = {v.id: v for v in STOCK_VOICES}
        self.media: dict[str, SimMedia] = {}
        self.requests: list[RecordedRequest] = []
        self.signer = UrlSigner()
        self.base_url = ""
        self._job_rng = random.Random(self.config.seed)
        self._fault_rng = random.Random(f"faults-{self.config.seed}")
        self._fail_rules: list[FailRule] = []
        self._hang_rules: list[HangRule] = []
        self._outage: Outage | None = None
        self._rate_window = RateWindow()
        self._gate = Gate()
        self._arrivals = asyncio.Condition()
        self._listener: _Listener | None = None
        self.app: web.Application = build_app(self)

    @property
    def api_key(self) -> str:
        return self.config.api_key

    def now(self) -> float:
        return self.clock()

    # ---- test controls -------------------------------------------------------------------

    def count(self, method: str | None = None, path_prefix: str = "/") -> int:
        """Requests seen with this method (None: any) whose path starts with ``path_prefix``."""
        return sum(1 for seen in self.requests if _matches(seen, method, path_prefix))

    async def wait_for_requests(
        self,
        method: str | None = None,
        path_prefix: str = "/",
        count: int = 1,
        timeout: float = 5.0,
    ) -> None:
        """Wait until ``count`` matching requests have arrived (TimeoutError after ``timeout``)."""
        async with asyncio.timeout(timeout), self._arrivals:
            await self._arrivals.wait_for(lambda: self.count(method, path_prefix) >= count)

    def fail_next(
        self,
        n: int = 1,
        status: int = 503,
        path_prefix: str = "/api",
        retry_after: float | None = None,
        body: dict[str, Any] | str | bytes | None = None,
        *,
        method: str | None = None,
    ) -> None:
        """Answer the next ``n`` requests matching ``path_prefix`` (and ``method``) with
        ``status``, before any other check (a gateway's answer)."""
        self._fail_rules.append(FailRule(n, status, path_prefix, method, retry_after, body))

    def drop_next(self, n: int = 1, path_prefix: str = "/api") -> None:
        """Close the connection of the next ``n`` requests matching ``path_prefix`` without
        an answer, as a server or proxy that closed a kept-alive connection."""
        self._fail_rules.append(FailRule(n, 0, path_prefix, drop=True))

    def hang(self, path_prefix: str = "/api", *, after_processing: bool = False) -> None:
        """Hold matching requests open without an answer until ``unhang`` or shutdown.

        ``after_processing``: the request takes effect first (a job is created) and only its
        answer is held, like a response lost on its way back.
        """
        self._hang_rules.append(HangRule(path_prefix, after_processing))

    def unhang(self) -> None:
        """Stop holding new requests; those held go on and are answered."""
        self._hang_rules.clear()
        self._gate.open()

    @property
    def held_requests(self) -> int:
        return self._gate.held

    def outage(self, status: int | None, retry_after: float | None = None) -> None:
        """While set, every /api request is answered with ``status``; None ends it."""
        self._outage = None if status is None else Outage(status, retry_after)

    async def refuse_connections(self, refuse: bool = True) -> None:
        """Stop listening (new connections are refused, open ones are closed), as a server
        that is down; ``False`` listens again on the same port. Needs ``run_simulator``."""
        if self._listener is None:
            raise RuntimeError("the simulator is not served by run_simulator")
        await (self._listener.stop() if refuse else self._listener.start())

    def complete_now(self, job_id: str) -> SimJob:
        job = self.jobs[job_id]
        job.finish_now(self.now(), "complete")
        return job

    def fail_now(self, job_id: str, outcome: Outcome = "failed") -> SimJob:
        job = self.jobs[job_id]
        job.finish_now(self.now(), outcome)
        return job

    def created_jobs(self, kind: JobKind | None = None) -> list[SimJob]:
        return [job for job in self.jobs.values() if kind is None or job.kind == kind]

    def shutdown(self) -> None:
        """Release held requests so the server can stop; they are dropped unanswered."""
        self._gate.close_for_shutdown()

    # ---- used by the handlers and middleware ---------------------------------------------

    async def record(self, recorded: RecordedRequest) -> None:
        self.requests.append(recorded)
        async with self._arrivals:
            self._arrivals.notify_all()

    def take_fail_rule(self, method: str, path: str) -> FailRule | None:
        for rule in self._fail_rules:
            if rule.matches(method, path):
                rule.remaining -= 1
                if rule.remaining <= 0:
                    self._fail_rules.remove(rule)
                return rule
        return None

    def hang_rule_for(self, path: str) -> HangRule | None:
        return next((rule for rule in self._hang_rules if path.startswith(rule.path_prefix)), None)

    @property
    def gate(self) -> Gate:
        return self._gate

    @property
    def current_outage(self) -> Outage | None:
        return self._outage

    def over_rate_limit(self) -> bool:
        limit = self.config.rate_limit_per_second
        if limit is None:
            return False
        speed = self.config.speed if self.config.speed > 0 else 1.0
        return not self._rate_window.try_accept(time.monotonic(), limit, 1.0 / speed)

    def injected_error(self) -> int | None:
        if self.config.error_rate > 0 and self._fault_rng.random() < self.config.error_rate:
            return self._fault_rng.choice(INJECTED_ERROR_STATUSES)
        return None

    def new_media_id(self) -> str:
        return new_cuid(self._job_rng)

    def create_job(
        self, kind: JobKind, params: dict[str, Any], account: str | None = None
    ) -> SimJob:
        """A paid creation call of ``account`` (None: the main key's): spends a credit (400
        when none is left), starts a job."""
        if self.config.credits is not None:
            if self.config.credits <= 0:
                raise bad_request("Insufficient credits.")
            self.config.credits -= 1
        owner = self.config.api_key if account is None else account
        job = new_job(self._job_rng, kind, params, self.config, self.now(), owner)
        self.jobs[job.id] = job
        return job

    def job_of(self, account: str, job_id: str) -> SimJob | None:
        """A job as ``account`` sees it: None when unknown or another account's."""
        job = self.jobs.get(job_id)
        return job if job is not None and job.account == account else None

    def media_of(self, account: str, media_id: str) -> SimMedia | None:
        """A media as ``account`` sees it: None when unknown or another account's."""
        media = self.media.get(media_id)
        return media if media is not None and media.account == account else None

    def usable_media(self, account: str, media_id: str, field: str) -> SimMedia:
        """Media of ``account`` that a job may use: 404 if unknown (or another account's),
        400 if not uploaded and finalized."""
        media = self.media_of(account, media_id)
        if media is None:
            raise not_found(f"Media '{media_id}' ({field}) not found.")
        if not media.finalized:
            raise ApiError(400, f"Media '{media_id}' ({field}) has not been finalized.")
        return media


def _matches(recorded: RecordedRequest, method: str | None, path_prefix: str) -> bool:
    if method is not None and recorded.method.upper() != method.upper():
        return False
    return recorded.path.startswith(path_prefix)


class _Listener:
    """The listening socket of a served simulator, which can be closed and opened again."""

    def __init__(self, runner: web.AppRunner, host: str, port: int) -> None:
        self._runner = runner
        self._host = host
        self.port = port
        self._site: web.TCPSite | None = None

    async def start(self) -> None:
        if self._site is None:
            self._site = web.TCPSite(self._runner, self._host, self.port, reuse_address=True)
            await self._site.start()
            self.port = self._runner.addresses[-1][1]

    async def stop(self) -> None:
        if self._site is not None:
            await self._site.stop()
            self._site = None
        server = self._runner.server
        for connection in list(server.connections if server is not None else []):
            connection.force_close()


@asynccontextmanager
async def run_simulator(
    config: SimulatorConfig | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    simulator: MiraflowSimulator | None = None,
) -> AsyncIterator[MiraflowSimulator]:
    """Serve a simulator on ``host:port`` (0: a free port) for the duration of the block."""
    sim = simulator if simulator is not None else MiraflowSimulator(config)
    runner = web.AppRunner(sim.app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)
    await runner.setup()
    try:
        sim._listener = _Listener(runner, host, port)
        await sim._listener.start()
        url_host = f"[{host}]" if ":" in host else host
        sim.base_url = f"http://{url_host}:{sim._listener.port}"
        yield sim
    finally:
        sim.shutdown()
        await runner.cleanup()
