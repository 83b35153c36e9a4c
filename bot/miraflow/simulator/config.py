"""The simulator's knobs: one mutable dataclass, read at request time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ErrorBodyStyle = Literal["json_message", "json_error", "text"]
ERROR_BODY_STYLES: tuple[ErrorBodyStyle, ...] = ("json_message", "json_error", "text")


@dataclass
class SimulatorConfig:
    """Every knob of the simulator. Change them at runtime through ``sim.config``.

    Times are in simulated seconds unless said otherwise; ``speed`` is how many simulated
    seconds pass per real second. A job's schedule is fixed when it is created, so a change
    of ``speed`` or of a duration range applies to jobs created afterwards.
    """

    api_key: str = "sim-key"
    speed: float = 1.0
    image_seconds: tuple[float, float] = (8.0, 40.0)
    video_seconds: tuple[float, float] = (60.0, 600.0)
    # Durations and progress curves of new jobs: one of progress.PROGRESS_MODELS.
    progress_model: str = "default"
    # The share of a job's duration spent queued (``inference_started``) before it works.
    queue_fraction: float = 0.1
    # Chance that a job ends in inference_failed or inference_error (half each).
    failure_rate: float = 0.0
    # Chance that an /api request is answered with a random 500, 502 or 503.
    error_rate: float = 0.0
    # Accepted /api requests per rolling (simulated) second; over it the answer is 429.
    # None: no limit.
    rate_limit_per_second: float | None = None
    # Value of the Retry-After header of a 429 (seconds; a fraction is written as such).
    retry_after: float = 1.0
    # Real seconds added before every /api answer.
    latency: float = 0.0
    # GET /api/voices answers {"avatars": [...]} (the vendor's sample) instead of {"voices": ...}.
    voices_under_avatars: bool = False
    # Size in bytes of every downloaded video (the asset padded with an MP4 ``free`` box).
    # None: the asset's own size.
    video_size: int | None = None
    # Size in bytes of every downloaded image (the PNG padded with an ancillary chunk).
    # None: the picture's own size.
    image_size_bytes: int | None = None
    error_body_style: ErrorBodyStyle = "json_message"
    # Real seconds a signed download URL stays valid (negative: already expired).
    url_ttl: float = 24 * 3600.0
    # Paid creation calls left before a 400 "insufficient credits". None: unlimited.
    credits: int | None = None
    # Seeds job ids, durations, outcomes and injected errors; read when the simulator starts.
    seed: int | None = 0
