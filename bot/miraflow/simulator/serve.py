"""Running the simulator by hand: ``serve`` and the command-line knobs that configure it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Callable, Sequence

from .config import DOWNLOAD_MODES, ERROR_BODY_STYLES, URL_STYLES, SimulatorConfig
from .progress import PROGRESS_MODELS
from .simulator import run_simulator

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def _number_at_least(minimum: float, *, strictly: bool = False) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value = float(text)
        if value < minimum or (strictly and value == minimum):
            relation = "greater than" if strictly else "at least"
            raise argparse.ArgumentTypeError(f"must be {relation} {minimum:g}")
        return value

    return parse


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def _byte_size(text: str) -> int:
    """A size in bytes, with an optional K, M or G suffix (powers of 1024)."""
    units = {"K": 1024, "M": 1024**2, "G": 1024**3}
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    factor = units.get(text[-1:], 1)
    digits = text[:-1] if text[-1:] in units else text
    try:
        return int(float(digits) * factor)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the simulator's options (host, port and every knob of SimulatorConfig)."""
    defaults = SimulatorConfig()
    add = parser.add_argument
    add("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    add("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any)")
    add("--api-key", default=defaults.api_key, help="the x-api-key clients must send")
    add(
        "--speed",
        type=_number_at_least(0, strictly=True),
        default=defaults.speed,
        help="simulated seconds per real second (e.g. 10 makes a 5-minute video in 30 s)",
    )
    add(
        "--image-seconds",
        type=_number_at_least(0),
        nargs=2,
        metavar=("MIN", "MAX"),
        default=defaults.image_seconds,
        help="simulated duration range of an image job",
    )
    add(
        "--video-seconds",
        type=_number_at_least(0),
        nargs=2,
        metavar=("MIN", "MAX"),
        default=defaults.video_seconds,
        help="simulated duration range of a video job",
    )
    add(
        "--progress-model",
        choices=PROGRESS_MODELS,
        default=defaults.progress_model,
        help="durations and progress curves of new jobs (see bot/miraflow/simulator/progress.py)",
    )
    add(
        "--failure-rate",
        type=_fraction,
        default=defaults.failure_rate,
        help="chance that a job fails (0 to 1)",
    )
    add(
        "--error-rate",
        type=_fraction,
        default=defaults.error_rate,
        help="chance that a request gets a random 500/502/503 (0 to 1)",
    )
    add(
        "--rate-limit",
        type=_number_at_least(0, strictly=True),
        default=None,
        help="requests per second accepted before answering 429 (default: no limit)",
    )
    add(
        "--retry-after",
        type=_number_at_least(0),
        default=defaults.retry_after,
        help="Retry-After seconds of a 429",
    )
    add(
        "--latency",
        type=_number_at_least(0),
        default=defaults.latency,
        help="seconds added to every /api answer",
    )
    add(
        "--voices-under-avatars",
        action="store_true",
        help='answer GET /api/voices as {"avatars": [...]} like the vendor sample',
    )
    add(
        "--video-size",
        type=_byte_size,
        default=None,
        help="pad downloaded videos to this size (e.g. 30M)",
    )
    add(
        "--image-size",
        type=_byte_size,
        default=None,
        help="pad downloaded images to this size (e.g. 12M)",
    )
    add(
        "--error-body-style",
        choices=ERROR_BODY_STYLES,
        default=defaults.error_body_style,
        help="shape of error bodies",
    )
    add(
        "--credits",
        type=int,
        default=None,
        help="paid calls allowed before 400 'insufficient credits' (default: unlimited)",
    )
    add("--seed", type=int, default=defaults.seed, help="seed of ids, durations and faults")
    _add_misbehaviours(parser.add_argument_group("misbehaviours"), defaults)


def _add_misbehaviours(group: argparse._ArgumentGroup, defaults: SimulatorConfig) -> None:
    add = group.add_argument
    add(
        "--result-url",
        choices=URL_STYLES,
        default=defaults.result_url,
        help="where results' downloadUrl points (foreign: under --foreign-base-url)",
    )
    add("--upload-url", choices=URL_STYLES, default=defaults.upload_url, help="the same, uploads")
    add("--foreign-base-url", default=defaults.foreign_base_url, help="base of foreign URLs")
    add(
        "--download-mode",
        choices=DOWNLOAD_MODES,
        default=defaults.download_mode,
        help="send files normally, a chunk every --trickle-interval, or stall after one chunk",
    )
    add(
        "--trickle-interval",
        type=_number_at_least(0),
        default=defaults.trickle_interval,
        help="seconds between chunks of a trickled file",
    )
    add("--huge-json", type=_byte_size, default=None, help="every GET /api answer this large")
    add("--huge-json-chunked", action="store_true", help="... and without a Content-Length")
    add(
        "--create-answer-status",
        type=int,
        default=None,
        help="make each created job, then answer the create with this status (502, 504)",
    )
    add(
        "--create-drops-connection",
        action="store_true",
        help="make each created job, then close the create's connection without an answer",
    )
    add("--failure-reason", default=None, help="the message of every failed job")


def config_from_args(args: argparse.Namespace) -> SimulatorConfig:
    return SimulatorConfig(
        api_key=args.api_key,
        speed=args.speed,
        image_seconds=tuple(args.image_seconds),
        video_seconds=tuple(args.video_seconds),
        progress_model=args.progress_model,
        failure_rate=args.failure_rate,
        error_rate=args.error_rate,
        rate_limit_per_second=args.rate_limit,
        retry_after=args.retry_after,
        latency=args.latency,
        voices_under_avatars=args.voices_under_avatars,
        video_size=args.video_size,
        image_size_bytes=args.image_size,
        error_body_style=args.error_body_style,
        credits=args.credits,
        seed=args.seed,
        result_url=args.result_url,
        upload_url=args.upload_url,
        foreign_base_url=args.foreign_base_url,
        download_mode=args.download_mode,
        trickle_interval=args.trickle_interval,
        huge_json_bytes=args.huge_json,
        huge_json_chunked=args.huge_json_chunked,
        create_answer_status=args.create_answer_status,
        create_drops_connection=args.create_drops_connection,
        failure_reason=args.failure_reason,
    )


def banner(base_url: str, api_key: str) -> str:
    return (
        f"Miraflow simulator on {base_url}  "
        f"(MIRAFLOW_BASE_URL={base_url}, MIRAFLOW_API_KEY={api_key})"
    )


async def serve(
    host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, config: SimulatorConfig | None = None
) -> None:
    """Serve until cancelled (Ctrl-C under ``asyncio.run``), after printing where and how."""
    async with run_simulator(config, host=host, port=port) as sim:
        print(banner(sim.base_url, sim.api_key), flush=True)
        await asyncio.Event().wait()


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m bot.miraflow.simulator [options]``."""
    parser = argparse.ArgumentParser(
        prog="python -m bot.miraflow.simulator",
        description="Serve a simulated Miraflow API on loopback.",
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port, config_from_args(args)))
