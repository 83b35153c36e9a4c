"""The simulator's knobs: one mutable dataclass, read at request time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ErrorBodyStyle = Literal["json_message", "json_error", "text"]
ERROR_BODY_STYLES: tuple[ErrorBodyStyle, ...] = ("json_message", "json_error", "text")
UrlStyle = Literal["signed", "foreign", "file", "missing"]
URL_STYLES: tuple[UrlStyle, ...] = ("signed", "foreign", "file", "missing")
DownloadMode = Literal["normal", "trickle", "stall"]
DOWNLOAD_MODES: tuple[DownloadMode, ...] = ("normal", "trickle", "stall")


@dataclass
class SimulatorConfig:
    """Every knob of the simulator. Change them at runtime through ``sim.config``.

    Times are in simulated seconds unless said otherwise; ``speed`` is how many simulated
    seconds pass per real second. A job's schedule is fixed when it is created, so a change
    of ``speed`` or of a duration range applies to jobs created afterwards.
    """

    api_key: str = "sim-key"
    # Other keys accepted too, each its own account: the jobs, media and videos a key makes
    # are seen by that key alone (404 to any other), as per-server keys are in tests.
    other_api_keys: tuple[str, ...] = ()
    # True: every accepted key sees one account (several keys of one account).
    shared_account: bool = False
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
    # Misbehaviours (the fault table's). Where a result's downloadUrl points: "signed" (this
    # server), "foreign" (under foreign_base_url: plain http on another host), "file" (a file:
    # URL) or "missing" (complete without a downloadUrl).
    result_url: UrlStyle = "signed"
    # The same for the uploadUrl of /api/media/initialize ("missing" leaves it out).
    upload_url: UrlStyle = "signed"
    foreign_base_url: str = "http://127.0.0.1:9"
    # How files are sent: "normal", "trickle" (a small chunk every trickle_interval real
    # seconds) or "stall" (a first chunk, then nothing until shutdown).
    download_mode: DownloadMode = "normal"
    trickle_interval: float = 0.5
    # Every GET /api answer becomes a JSON object of this many bytes (streamed, so the
    # simulator itself stays small); without a Content-Length when huge_json_chunked.
    huge_json_bytes: int | None = None
    huge_json_chunked: bool = False
    # A create call makes its job (the credit is spent), then is answered with this status:
    # a gateway that lost the answer (502, 504). None: answered as usual.
    create_answer_status: int | None = None
    # A create call makes its job (the credit is spent), then its connection is closed
    # without an answer: the request was sent, the answer lost on its way back.
    create_drops_connection: bool = False
    # The reason (the "message" field) in the status body of a failed job. None: none given.
    failure_reason: str | None = None
    # Seeds job ids, durations, outcomes and injected errors; read when the simulator starts.
    seed: int | None = 0
