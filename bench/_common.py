"""What the bench scripts share: the fake world, the bot in a child process, figures.

Bench scripts run as `python bench/<name>.py` from the repo root; importing this module puts
the repo root on `sys.path`, so `tests.fakediscord` (not an installed package) imports too.

The bot always runs in a process of its own, configured only through its environment as a
server owner runs it, so that the fake Discord and the Miraflow simulator (in the bench
process) share neither its event loop nor its CPU time nor its memory.

Run as a script, this module is that child process with one addition: a task that measures
the event loop's lag beside the unchanged bot (`run_bot` of `bot/__main__.py`)::

    python bench/_common.py --lag-file lag.json [--profile bot.prof]

It writes the lag samples, and per interaction when discord.py parsed it and when its
`defer` was called and returned (discord.py's classes are wrapped in that process; the bot's
code is not touched), and the cProfile stats if asked, when the bot stops on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

MIB = 2**20
TICK_SECONDS = 0.010  # the lag ticker's sleep
RSS_SAMPLE_SECONDS = 0.020


# --- figures ------------------------------------------------------------------------


def percentile(values: Sequence[float], share: float) -> float:
    """The `share` (0-100) percentile, linearly interpolated between the closest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * share / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_figures_ms(seconds: Sequence[float]) -> dict[str, float | int]:
    """count, p50, p99, max and mean of durations given in seconds, in milliseconds."""
    ms = [s * 1000 for s in seconds]
    if not ms:
        return {"count": 0}
    return {
        "count": len(ms),
        "min": round(min(ms), 2),
        "p50": round(percentile(ms, 50), 2),
        "p99": round(percentile(ms, 99), 2),
        "max": round(max(ms), 2),
        "mean": round(sum(ms) / len(ms), 2),
    }


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def print_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """A plain left-aligned table: first column text, the others right-aligned."""
    table = [[str(cell) for cell in headers], *([str(cell) for cell in row] for row in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
    for n, row in enumerate(table):
        cells = [
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        print("  ".join(cells))
        if n == 0:
            print("  ".join("-" * width for width in widths))


def print_json_line(figures: dict[str, Any]) -> None:
    """The figures as one JSON object: always a bench script's last line of output."""
    print(json.dumps(figures), flush=True)


def note(text: str) -> None:
    """Progress for the person waiting, on stderr so stdout stays figures only."""
    print(f"[bench] {text}", file=sys.stderr, flush=True)


# --- the event loop's lag -----------------------------------------------------------


class LagTicker:
    """Sleeps `TICK_SECONDS` over and over; each wake-up's lateness is one sample.

    Samples are (time.monotonic() at wake-up, lateness in seconds). CLOCK_MONOTONIC is one
    clock for every process of the machine, so samples taken in the bot's process can be
    matched against times taken in the bench process.
    """

    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="lag-ticker")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(TICK_SECONDS)
            after = time.monotonic()
            self.samples.append((after, max(after - before - TICK_SECONDS, 0.0)))


def lag_figures_ms(
    samples: Iterable[Sequence[float]], start: float = -math.inf, end: float = math.inf
) -> dict[str, float | int]:
    """Worst and typical lag of the samples that woke up between `start` and `end`.

    A tick that woke after `end` but slept through part of the window counts too: its
    lateness is what a callback due in the window suffered.
    """
    lags = [lag for at, lag in samples if at >= start and at - lag - TICK_SECONDS <= end]
    if not lags:
        return {"samples": 0}
    ms = [lag * 1000 for lag in lags]
    return {
        "samples": len(ms),
        "p50": round(percentile(ms, 50), 2),
        "p99": round(percentile(ms, 99), 2),
        "max": round(max(ms), 2),
    }


# --- memory of another process ------------------------------------------------------


def proc_status_kib(pid: int, key: str) -> int | None:
    """A `kB` field of /proc/<pid>/status (VmRSS, VmHWM...), None when unreadable."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time the process has used so far (/proc/<pid>/stat)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # After the ")" closing the command name, utime and stime are the 12th and 13th fields.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def reset_peak_rss(pid: int) -> bool:
    """Reset the process's VmHWM to its current RSS (Linux 4.0+: write 5 to clear_refs)."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


class RssSampler:
    """Reads another process's VmRSS every 20 ms on a thread of its own.

    A thread, not a task: the bench process's event loop is itself busy (the fake Discord
    receiving a 200 MB upload), and samples must not wait for it.
    """

    def __init__(self, pid: int, interval: float = RSS_SAMPLE_SECONDS) -> None:
        self.pid = pid
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            rss = proc_status_kib(self.pid, "VmRSS")
            if rss is not None:
                self.samples.append((time.monotonic(), rss))
            self._stop.wait(self.interval)

    def values_kib(self, since: float = -math.inf) -> list[int]:
        return [rss for at, rss in self.samples if at >= since]

    def value_at(self, moment: float) -> int | None:
        """The last sample taken at or before `moment`."""
        earlier = [rss for at, rss in self.samples if at <= moment]
        return earlier[-1] if earlier else None

    def peak_kib(self) -> int | None:
        return max(self.values_kib(), default=None)


async def settled_rss_kib(pid: int, *, window: float = 1.0, tolerance_kib: int = 512) -> int:
    """The process's RSS once it has stopped changing: two reads `window` apart that differ
    by at most `tolerance_kib` (or the last read after 15 s)."""
    deadline = time.monotonic() + 15
    previous = proc_status_kib(pid, "VmRSS") or 0
    while True:
        await asyncio.sleep(window)
        current = proc_status_kib(pid, "VmRSS") or 0
        if abs(current - previous) <= tolerance_kib or time.monotonic() > deadline:
            return current
        previous = current


def mib(kib: float | None) -> float | None:
    return None if kib is None else round(kib / 1024, 1)


# --- the world: the Miraflow simulator and the fake Discord ---------------------------


@contextlib.asynccontextmanager
async def fake_world(**sim_config: Any) -> AsyncIterator[tuple[Any, Any]]:
    """The Miraflow simulator and the fake Discord, on 127.0.0.1, in this process."""
    from bot.miraflow.simulator import SimulatorConfig, run_simulator
    from tests.fakediscord import FakeDiscord

    config = SimulatorConfig(api_key="bench-miraflow-key", **sim_config)
    async with run_simulator(config) as sim, FakeDiscord() as fd:
        yield sim, fd


def bot_environment(fd: Any, sim: Any, db_path: Path, **overrides: str) -> dict[str, str]:
    """The environment a server owner would give the bot, pointed at the fakes."""
    env = {
        "DISCORD_TOKEN": fd.token,
        "MIRAFLOW_API_KEY": sim.api_key,
        "MIRAFLOW_BASE_URL": sim.base_url,
        "DATABASE_PATH": str(db_path),
        "DISCORD_API_BASE_URL": fd.api_base,
        "DISCORD_GATEWAY_URL": fd.gateway_url,
        "LOG_LEVEL": "INFO",
    }
    env.update(overrides)
    return env


class BotProcess:
    """The bot in a child process: `python -m bot run`, or this module's lag-measuring runner."""

    def __init__(self, env: dict[str, str], log_path: Path, argv: Sequence[str]) -> None:
        self._env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
        self._argv = list(argv)
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @classmethod
    def plain(cls, env: dict[str, str], log_path: Path) -> BotProcess:
        """Exactly what a server owner runs."""
        return cls(env, log_path, [sys.executable, "-m", "bot", "run"])

    @classmethod
    def with_lag_ticker(
        cls, env: dict[str, str], log_path: Path, lag_file: Path, profile: Path | None = None
    ) -> BotProcess:
        argv = [sys.executable, str(Path(__file__).resolve()), "--lag-file", str(lag_file)]
        if profile is not None:
            argv += ["--profile", str(profile)]
        return cls(env, log_path, argv)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self._argv,
                env=self._env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.log_path.parent,
            )

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    async def terminate(self, timeout: float = 30.0) -> int | None:
        """SIGTERM (the bot stops cleanly), waiting without blocking this event loop."""
        if not self.is_running():
            return None if self.process is None else self.process.returncode
        assert self.process is not None
        self.process.terminate()
        try:
            await wait_until(lambda: self.process.poll() is not None, timeout=timeout)
        except TimeoutError:
            self.process.kill()
            self.process.wait(timeout=10)
        return self.process.returncode

    def kill(self) -> None:
        if self.is_running():
            assert self.process is not None
            self.process.kill()
            self.process.wait(timeout=10)

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


async def wait_until(
    condition: Callable[[], bool], *, timeout: float = 10.0, interval: float = 0.02
) -> None:
    """Poll a condition (state outside asyncio: another process, counters) until true."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(interval)


# --- where another process spends its CPU: py-spy -------------------------------------

FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


def _short_path(path: str) -> str:
    for marker in ("site-packages/", "lib/python3.11/", str(REPO_ROOT) + "/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def _frame_name(frame: str) -> str:
    match = FRAME.match(frame)
    if match is None:
        return frame
    return f"{_short_path(match['file'])}:{match['function']}"


# Frames on nearly every stack (the event loop, the runner): left out of the inclusive list.
GENERIC_FRAMES = ("asyncio/", "runpy.py", "<string>", "bench/", "_common.py", "threading.py")


class PySpy:
    """py-spy sampling the Python stacks of another process while it runs on a CPU.

    Install it with `pip install py-spy`; it needs to be allowed to ptrace the process
    (a child of ours: allowed by default).
    """

    def __init__(self, pid: int, output: Path, rate: int = 500) -> None:
        self.pid = pid
        self.output = output
        self.rate = rate
        self._process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def executable() -> str | None:
        beside_python = Path(sys.executable).parent / "py-spy"
        return str(beside_python) if beside_python.exists() else shutil.which("py-spy")

    async def start(self) -> None:
        exe = self.executable()
        if exe is None:
            raise RuntimeError("py-spy is not installed: pip install py-spy")
        log = self.output.with_suffix(".log")
        command = [exe, "record", "--pid", str(self.pid), "--rate", str(self.rate)]
        command += ["--format", "raw", "--output", str(self.output), "--nonblocking"]
        with log.open("wb") as err:
            self._process = subprocess.Popen(
                command,
                stdout=err,
                stderr=subprocess.STDOUT,
            )
        await wait_until(lambda: "Sampling" in log.read_text(errors="replace"), timeout=10)

    async def stop(self) -> None:
        if self._process is None:
            return
        self._process.send_signal(signal.SIGINT)
        await wait_until(lambda: self._process.poll() is not None, timeout=30)

    def summary(self, top: int = 15) -> dict[str, Any]:
        """Samples in all; the functions with the most samples of their own (self) and those
        on the stack most often (inclusive), each as a share of all samples in percent."""
        own: Counter[str] = Counter()
        inclusive: Counter[str] = Counter()
        total = 0
        for line in self.output.read_text(errors="replace").splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count = int(count_text)
            frames = [_frame_name(frame) for frame in stack.split(";")]
            total += count
            own[frames[-1]] += count
            for name in set(frames):
                if not name.startswith(GENERIC_FRAMES):
                    inclusive[name] += count

        def shares(counter: Counter[str]) -> list[tuple[str, float]]:
            return [(name, round(100 * n / total, 1)) for name, n in counter.most_common(top)]

        return {
            "samples": total,
            "rate_hz": self.rate,
            "self_percent": shares(own),
            "inclusive_percent": shares(inclusive),
        }


# --- the child process: the unchanged bot plus a lag ticker ----------------------------


def _trace_interactions(trace: dict[str, dict[str, float]]) -> None:
    """Stamp, per interaction id, when discord.py parsed its INTERACTION_CREATE and when its
    `defer` was called and returned. Patches discord.py classes in this process only, before
    the bot exists (ConnectionState binds its parsers when it is made)."""
    import discord
    from discord.state import ConnectionState

    parse = ConnectionState.parse_interaction_create
    defer = discord.InteractionResponse.defer

    def traced_parse(self: Any, data: Any) -> None:
        trace.setdefault(str(data["id"]), {})["parsed"] = time.monotonic()
        parse(self, data)

    async def traced_defer(self: Any, **kwargs: Any) -> Any:
        stamps = trace.setdefault(str(self._parent.id), {})
        stamps["defer_called"] = time.monotonic()
        try:
            return await defer(self, **kwargs)
        finally:
            stamps["defer_returned"] = time.monotonic()

    ConnectionState.parse_interaction_create = traced_parse  # type: ignore[method-assign]
    discord.InteractionResponse.defer = traced_defer  # type: ignore[method-assign]


def _run_bot_with_lag_ticker(lag_file: Path, profile: Path | None) -> int:
    from bot.__main__ import run_bot
    from bot.log import setup_logging
    from bot.settings import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"bench bot runner: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.log_level, settings.secrets)
    ticker = LagTicker()
    trace: dict[str, dict[str, float]] = {}
    _trace_interactions(trace)

    async def main() -> None:
        ticker.start()
        try:
            await run_bot(settings)
        finally:
            await ticker.stop()

    profiler = None
    if profile is not None:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    try:
        asyncio.run(main())
    finally:
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(profile)
        lag_file.write_text(
            json.dumps(
                {"tick_seconds": TICK_SECONDS, "samples": ticker.samples, "interactions": trace}
            )
        )
    return 0


def _runner_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The bot, with an event-loop lag ticker.")
    parser.add_argument("--lag-file", type=Path, required=True)
    parser.add_argument("--profile", type=Path, help="write cProfile stats of the run here")
    args = parser.parse_args(argv)
    return _run_bot_with_lag_ticker(args.lag_file, args.profile)


if __name__ == "__main__":
    sys.exit(_runner_main())
