"""Prometheus metrics of the bot, in a registry of its own (not prometheus-client's global).

The rest of the code records events through the module's `metrics` instance:
`metrics.miraflow_call("/api/image/abc123", 200)`, `metrics.delivery_lag(1.4)`,
`metrics.discord_error(429)`. Label values are bounded: Miraflow paths are reduced to their
endpoint template (ids become `{id}`), statuses to a number or one of a few words. Jobs by
state are read when Prometheus scrapes, through a callable the store provides.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.jobs.models import JobState

log = logging.getLogger(__name__)

PREFIX = "miraflow_bot"
# Seconds from Miraflow finishing a job to its result being posted in Discord.
LAG_BUCKETS = (0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
OTHER = "other"

_ID = r"[^/]+"
_ENDPOINTS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), template)
    for pattern, template in (
        (r"/api/(avatars|voices|videos)", r"/api/\1"),
        (r"/api/video/create", "/api/video/create"),
        (r"/api/image/(generate|edit|inpaint)", r"/api/image/\1"),
        (r"/api/media/(initialize|finalize)", r"/api/media/\1"),
        (rf"/api/video/{_ID}/(status|download)", r"/api/video/{id}/\1"),
        (rf"/api/video/{_ID}", "/api/video/{id}"),
        (rf"/api/image/{_ID}", "/api/image/{id}"),
    )
)

JobCounts = Callable[[], Mapping[str, int]]


def endpoint_label(path_or_url: str) -> str:
    """The endpoint template of a Miraflow path or URL: `/api/image/{id}`, or "other"."""
    path = urlsplit(path_or_url).path.rstrip("/") or "/"
    for pattern, template in _ENDPOINTS:
        match = pattern.fullmatch(path)
        if match:
            return match.expand(template)
    return OTHER


def status_label(status: int | str) -> str:
    """An HTTP status as its number, or "timeout" / "connection" / "error" when none came."""
    text = str(status).strip().lower()
    if text.isdigit() and 100 <= int(text) <= 599:
        return text
    if text.startswith("connection"):
        return "connection"
    return "timeout" if text == "timeout" else "error"


class _JobsByState(Collector):
    """Reads the job counts at scrape time; a failing read leaves the metric out."""

    def __init__(self) -> None:
        self.counts: JobCounts | None = None

    def collect(self) -> Iterator[Metric]:
        if self.counts is None:
            return
        try:
            counts = self.counts()
        except Exception:
            log.warning("could not count jobs by state for /metrics", exc_info=True)
            return
        family = GaugeMetricFamily(f"{PREFIX}_jobs", "Jobs in the store by state", labels=["state"])
        for state in JobState:
            family.add_metric([state.value], counts.get(state.value, 0))
        yield family


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._jobs = _JobsByState()
        self.registry.register(self._jobs)
        self._lag = Histogram(
            f"{PREFIX}_delivery_lag_seconds",
            "Seconds from Miraflow finishing a job to its result being posted",
            buckets=LAG_BUCKETS,
            registry=self.registry,
        )
        self._miraflow_calls = Counter(
            f"{PREFIX}_miraflow_calls",
            "Miraflow API calls by endpoint and HTTP status",
            ["endpoint", "status"],
            registry=self.registry,
        )
        self._discord_errors = Counter(
            f"{PREFIX}_discord_errors",
            "Discord API errors by HTTP status",
            ["status"],
            registry=self.registry,
        )

    def watch_jobs(self, counts: JobCounts) -> None:
        """`counts()` maps each state to its number of jobs; it is called at each scrape."""
        self._jobs.counts = counts

    def miraflow_call(self, endpoint: str, status: int | str) -> None:
        self._miraflow_calls.labels(endpoint_label(endpoint), status_label(status)).inc()

    def delivery_lag(self, seconds: float) -> None:
        self._lag.observe(max(0.0, seconds))

    def discord_error(self, status: int | str) -> None:
        self._discord_errors.labels(status_label(status)).inc()

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes."""
        return generate_latest(self.registry)


metrics = Metrics()
