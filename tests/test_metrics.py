"""Prometheus metrics: bounded labels, jobs read at scrape time, a registry of their own."""

from __future__ import annotations

import prometheus_client
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.jobs.models import JobState
from bot.metrics import Metrics, endpoint_label, status_label


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = metrics.exposition().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.mark.parametrize(
    ("path", "label"),
    [
        ("/api/avatars", "/api/avatars"),
        ("/api/videos/", "/api/videos"),
        ("/api/video/create", "/api/video/create"),
        ("/api/video/vid_8f3a2c/status", "/api/video/{id}/status"),
        ("/api/video/vid_8f3a2c/download", "/api/video/{id}/download"),
        ("/api/video/vid_8f3a2c", "/api/video/{id}"),
        ("/api/image/generate", "/api/image/generate"),
        ("/api/image/inpaint", "/api/image/inpaint"),
        ("/api/image/5b1d-44e0", "/api/image/{id}"),
        ("https://miraflow.ai/api/image/5b1d?x=1", "/api/image/{id}"),
        ("/api/media/finalize", "/api/media/finalize"),
        ("https://uploads.example/bucket/abc123?sig=xyz", "other"),
        ("/api/image/5b1d/extra", "other"),
    ],
)
def test_endpoint_labels_carry_no_ids(path, label):
    assert endpoint_label(path) == label


@pytest.mark.parametrize(
    ("status", "label"),
    [
        (200, "200"),
        (429, "429"),
        (503, "503"),
        ("timeout", "timeout"),
        ("connection", "connection"),
        ("Timeout", "timeout"),
        ("boom", "error"),
        (42, "error"),
    ],
)
def test_status_labels_are_bounded(status, label):
    assert status_label(status) == label


def test_events_are_counted_under_their_labels():
    metrics = Metrics()
    metrics.miraflow_call("/api/image/abc", 200)
    metrics.miraflow_call("/api/image/def", 200)
    metrics.miraflow_call("/api/video/create", "timeout")
    metrics.discord_error(429)
    metrics.delivery_lag(1.5)
    metrics.delivery_lag(40.0)
    got = samples(metrics)
    calls = "miraflow_bot_miraflow_calls_total"
    assert got[(calls, (("endpoint", "/api/image/{id}"), ("status", "200")))] == 2
    assert got[(calls, (("endpoint", "/api/video/create"), ("status", "timeout")))] == 1
    assert got[("miraflow_bot_discord_errors_total", (("status", "429"),))] == 1
    assert got[("miraflow_bot_delivery_lag_seconds_count", ())] == 2
    assert got[("miraflow_bot_delivery_lag_seconds_bucket", (("le", "2.0"),))] == 1
    assert got[("miraflow_bot_delivery_lag_seconds_sum", ())] == 41.5


def test_jobs_by_state_are_read_through_the_callable_at_each_scrape():
    metrics = Metrics()
    assert not any(name == "miraflow_bot_jobs" for name, _ in samples(metrics))
    counts = {"queued": 3, "working": 1}
    metrics.watch_jobs(lambda: counts)
    got = samples(metrics)
    assert got[("miraflow_bot_jobs", (("state", "queued"),))] == 3
    assert got[("miraflow_bot_jobs", (("state", "delivered"),))] == 0
    assert {labels for name, labels in got if name == "miraflow_bot_jobs"} == {
        (("state", state.value),) for state in JobState
    }
    counts["queued"] = 0
    assert samples(metrics)[("miraflow_bot_jobs", (("state", "queued"),))] == 0


def test_a_failing_count_leaves_the_jobs_out_but_the_rest_is_served(caplog):
    def broken() -> dict[str, int]:
        raise RuntimeError("database is locked")

    metrics = Metrics()
    metrics.watch_jobs(broken)
    metrics.discord_error(500)
    got = samples(metrics)
    assert not any(name == "miraflow_bot_jobs" for name, _ in got)
    assert got[("miraflow_bot_discord_errors_total", (("status", "500"),))] == 1
    assert "could not count jobs" in caplog.text


def test_each_instance_has_its_own_registry_and_the_global_one_is_untouched():
    first, second = Metrics(), Metrics()
    first.discord_error(403)
    assert ("miraflow_bot_discord_errors_total", (("status", "403"),)) not in samples(second)
    assert b"miraflow_bot" not in prometheus_client.generate_latest(prometheus_client.REGISTRY)
