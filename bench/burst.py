"""How fast does the bot acknowledge /imagine when 200 people use it at once?

    python bench/burst.py [--commands 200] [--baseline 20] [--py-spy] [--profile]

The Miraflow simulator and the fake Discord run in this process; the bot runs in a process
of its own: `run_bot` of `bot/__main__.py`, unchanged, configured by its environment, plus a
task measuring its event loop's lag and stamps of when discord.py parsed each interaction and
called `defer` (see bench/_common.py). Per-user quotas are raised through the environment so
that no command is refused; the commands come in turn from the fake guild's three members.

1. Baseline: `--baseline` commands one at a time (each waits for the previous one's
   acknowledgement and its "Started job" confirmation).
2. Burst: `--commands` INTERACTION_CREATE events sent at once.

Measured: the time from the event's sending to its acknowledgement reaching the fake Discord
(p50, p99, max) and where that time went; the worst lag of the bot's event loop during the
burst; how many commands were acknowledged within Discord's 3 s, confirmed, sent to Miraflow
(create calls counted by the simulator) and delivered within `--deliver-timeout`; the CPU
time the bot and the bench process (fake Discord + simulator) used. `--py-spy` samples the
bot's stacks from the burst's start to its last acknowledgement (`pip install py-spy`).

Target: burst p99 <= 500 ms. The acknowledgement times include the fake Discord's own work
(one Python process, on the same 2 cores), which real Discord does not add.

Prints tables, then the figures as JSON on the last line. Exit status 1 if the target is
missed or a command went unanswered.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import (
    BotProcess,
    LagTicker,
    PySpy,
    bot_environment,
    cpu_seconds,
    fake_world,
    lag_figures_ms,
    latency_figures_ms,
    note,
    print_json_line,
    print_table,
    verdict,
    wait_until,
)

TARGET_P99_MS = 500.0
DISCORD_DEADLINE_S = 3.0
CREATE = ("POST", "/api/image/generate")
WARM_UP = 2
IDLE_SECONDS = 3.0
# The simulator runs jobs this many times faster than real time and the bot polls on the
# same scaled clock: a picture takes 0.2-1 s, so results are delivered soon after the burst.
SPEED = 40.0
STAGES = (
    ("gateway: sent -> parsed by discord.py", "sent", "parsed"),
    ("parsed -> the command calls defer()", "parsed", "defer_called"),
    ("defer() called -> callback at the fake", "defer_called", "acked"),
    ("callback at the fake -> defer() returns", "acked", "defer_returned"),
)


# --- what the fake Discord saw ----------------------------------------------------------


def acknowledged(fd: Any, interaction: Any) -> bool:
    return bool(fd.callbacks(interaction))


def ack_latency(fd: Any, interaction: Any) -> float:
    return fd.callbacks(interaction)[0].at - interaction.sent_at


def acknowledged_in_time(fd: Any, interaction: Any) -> bool:
    callbacks = fd.callbacks(interaction)
    return (
        bool(callbacks)
        and callbacks[0].accepted
        and (callbacks[0].at - interaction.sent_at <= DISCORD_DEADLINE_S)
    )


def confirmed(fd: Any, interaction: Any) -> bool:
    return any(
        not message.loading and "Started job" in message.content
        for message in fd.interaction_responses(interaction)
    )


def result_count(fd: Any, prefix: str) -> int:
    return sum(
        1
        for message in fd.messages()
        if message.files and message.embeds and prefix in message.embeds[0].get("description", "")
    )


def stage_figures(fd: Any, interactions: list[Any], trace: dict[str, Any]) -> dict[str, Any]:
    """Where each acknowledgement's time went, from the stamps taken in the bot's process."""
    stages: dict[str, list[float]] = {name: [] for name, _, _ in STAGES}
    for interaction in interactions:
        callbacks = fd.callbacks(interaction)
        if not callbacks:
            continue
        stamps = {
            **trace.get(str(interaction.id), {}),
            "sent": interaction.sent_at,
            "acked": callbacks[0].at,
        }
        for name, start, end in STAGES:
            if start in stamps and end in stamps:
                stages[name].append(stamps[end] - stamps[start])
    return {name: latency_figures_ms(values) for name, values in stages.items()}


# --- driving --------------------------------------------------------------------------


async def one_at_a_time(fd: Any, count: int, label: str) -> list[float]:
    """`count` commands, each sent when the previous one is confirmed; their ack latencies."""
    users = list(fd.users)
    latencies = []
    for n in range(count):
        interaction = await fd.invoke(
            "imagine", {"prompt": f"{label} {n}: a lighthouse at dusk"}, user=users[n % 3]
        )
        await wait_until(lambda i=interaction: confirmed(fd, i), timeout=15, interval=0.005)
        latencies.append(ack_latency(fd, interaction))
    return latencies


@dataclass(frozen=True)
class Moment:
    """A point of the burst: wall time, and CPU seconds used so far by each process."""

    at: float
    bot_cpu: float
    bench_cpu: float

    @classmethod
    def now(cls, bot_pid: int) -> Moment:
        return cls(time.monotonic(), cpu_seconds(bot_pid) or 0.0, time.process_time())

    def cpu_since(self, start: Moment) -> dict[str, float]:
        return {
            "bot": round(self.bot_cpu - start.bot_cpu, 2),
            "fake_discord_and_simulator": round(self.bench_cpu - start.bench_cpu, 2),
        }


@dataclass
class Burst:
    interactions: list[Any]
    started: Moment
    last_ack: Moment
    last_confirmation: Moment
    create_calls: int
    seconds_to_last_delivery: float


async def run_burst(
    fd: Any, sim: Any, bot_pid: int, count: int, deliver_timeout: float, spy: PySpy | None
) -> Burst:
    users = list(fd.users)
    creates_before = sim.count(*CREATE)
    if spy is not None:
        await spy.start()
    started = Moment.now(bot_pid)
    interactions = await asyncio.gather(
        *(
            fd.invoke("imagine", {"prompt": f"burst {n}: a parade of kites"}, user=users[n % 3])
            for n in range(count)
        )
    )
    try:
        await wait_until(
            lambda: all(acknowledged(fd, i) for i in interactions), timeout=30, interval=0.01
        )
    except TimeoutError:
        note("not every burst command was acknowledged within 30 s")
    last_ack = Moment.now(bot_pid)
    if spy is not None:
        await spy.stop()
    try:
        await wait_until(
            lambda: all(confirmed(fd, i) for i in interactions), timeout=60, interval=0.02
        )
    except TimeoutError:
        note("not every burst command was confirmed within 60 s")
    last_confirmation = Moment.now(bot_pid)
    create_calls = sim.count(*CREATE) - creates_before
    note(f"burst confirmed; waiting up to {deliver_timeout:.0f} s for the {count} pictures")
    try:
        await wait_until(lambda: result_count(fd, "burst ") >= count, timeout=deliver_timeout)
    except TimeoutError:
        note("not every picture was delivered in time")
    return Burst(
        interactions=list(interactions),
        started=started,
        last_ack=last_ack,
        last_confirmation=last_confirmation,
        create_calls=create_calls,
        seconds_to_last_delivery=round(time.monotonic() - started.at, 1),
    )


def burst_figures(
    fd: Any, burst: Burst, lag: dict[str, Any], bench_lag: LagTicker
) -> dict[str, Any]:
    interactions = burst.interactions
    sent_times = [i.sent_at for i in interactions]
    window = (burst.started.at, burst.last_confirmation.at)
    return {
        "sent": len(interactions),
        "send_spread_ms": round((max(sent_times) - min(sent_times)) * 1000, 1),
        "acknowledged": sum(1 for i in interactions if acknowledged(fd, i)),
        "acknowledged_within_3s": sum(1 for i in interactions if acknowledged_in_time(fd, i)),
        "confirmed": sum(1 for i in interactions if confirmed(fd, i)),
        "create_calls": burst.create_calls,
        "delivered": result_count(fd, "burst "),
        "ack_ms": latency_figures_ms(
            [ack_latency(fd, i) for i in interactions if acknowledged(fd, i)]
        ),
        "ack_stages_ms": stage_figures(fd, interactions, lag["interactions"]),
        "bot_loop_lag_ms": lag_figures_ms(lag["samples"], *window),
        "bench_loop_lag_ms": lag_figures_ms(bench_lag.samples, *window),
        "seconds_to_last_ack": round(burst.last_ack.at - burst.started.at, 3),
        "seconds_to_last_confirmation": round(burst.last_confirmation.at - burst.started.at, 3),
        "seconds_to_last_delivery": burst.seconds_to_last_delivery,
        "cpu_seconds_to_last_ack": burst.last_ack.cpu_since(burst.started),
        "cpu_seconds_to_last_confirmation": burst.last_confirmation.cpu_since(burst.started),
    }


async def measure(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    lag_file = folder / "lag.json"
    profile = folder / "bot.prof" if args.profile else None
    quota = str(args.commands + args.baseline + WARM_UP + 10)
    load_before = os.getloadavg()[0]
    async with fake_world(speed=SPEED, seed=7) as (sim, fd):
        env = bot_environment(
            fd,
            sim,
            folder / "jobs.sqlite3",
            MAX_ACTIVE_JOBS_PER_USER=quota,
            MAX_JOBS_PER_USER_PER_DAY=quota,
            MIRAFLOW_TIME_SCALE=str(SPEED),
        )
        bot = BotProcess.with_lag_ticker(env, folder / "bot.log", lag_file, profile)
        spy: PySpy | None = None
        bench_lag = LagTicker()
        bench_lag.start()
        bot.start()
        try:
            await fd.wait_for_ready_client(timeout=30)
            idle_window = (time.monotonic() + 1.0, time.monotonic() + IDLE_SECONDS)
            await asyncio.sleep(IDLE_SECONDS)  # the bot idles: nothing to do yet
            note("bot connected; warming up")
            await one_at_a_time(fd, WARM_UP, "warm-up")
            note(f"baseline: {args.baseline} commands one at a time")
            baseline = await one_at_a_time(fd, args.baseline, "baseline")
            await wait_until(lambda: result_count(fd, "baseline ") >= args.baseline, timeout=60)
            note(f"burst: {args.commands} commands at once")
            spy = PySpy(bot.pid, folder / "py-spy.txt") if args.py_spy else None
            burst = await run_burst(fd, sim, bot.pid, args.commands, args.deliver_timeout, spy)
        except BaseException:
            note("the bot's last log lines:\n" + bot.log_tail())
            raise
        finally:
            code = await bot.terminate()
            await bench_lag.stop()
        if code != 0:
            note(f"the bot exited with {code}:\n{bot.log_tail()}")
        lag = json.loads(lag_file.read_text())
        result = burst_figures(fd, burst, lag, bench_lag)

    base = latency_figures_ms(baseline)
    burst_p99 = result["ack_ms"].get("p99", float("inf"))
    figures: dict[str, Any] = {
        "baseline": {"commands": args.baseline, "ack_ms": base},
        "burst": result,
        "bot_loop_lag_idle_ms": lag_figures_ms(lag["samples"], *idle_window),
        "p99_ratio_burst_to_baseline": round(burst_p99 / base["p99"], 1) if base["p99"] else None,
        "target_p99_ms": TARGET_P99_MS,
        "target_met": burst_p99 <= TARGET_P99_MS
        and result["acknowledged_within_3s"] == args.commands,
        "all_answered": result["confirmed"] == args.commands
        and result["create_calls"] == args.commands,
        "load_average_1min_before": round(load_before, 2),
    }
    if profile is not None and profile.exists():
        figures["cprofile_top"] = top_functions(profile)
    if spy is not None:
        figures["py_spy_burst_to_last_ack"] = spy.summary()
    return figures


def top_functions(path: Path, count: int = 25) -> list[str]:
    """The bot's functions that took the most time of their own, as `pstats` lines."""
    import io
    import pstats

    out = io.StringIO()
    pstats.Stats(str(path), stream=out).sort_stats("tottime").print_stats(count)
    return [line for line in out.getvalue().splitlines() if line.strip()][-count - 1 :]


# --- reporting ------------------------------------------------------------------------


def report(figures: dict[str, Any]) -> None:
    base = figures["baseline"]["ack_ms"]
    burst = figures["burst"]
    ack = burst["ack_ms"]
    lag = burst["bot_loop_lag_ms"]
    print("Acknowledgement latency: INTERACTION_CREATE sent -> callback at Discord (ms)")
    print_table(
        ["run", "n", "p50", "p99", "max"],
        [
            ["baseline (one at a time)", base["count"], base["p50"], base["p99"], base["max"]],
            [
                "burst (all at once)",
                ack.get("count"),
                ack.get("p50"),
                ack.get("p99"),
                ack.get("max"),
            ],
        ],
    )
    print(
        f"burst p99 / baseline p99: {figures['p99_ratio_burst_to_baseline']}x; "
        f"target burst p99 <= {TARGET_P99_MS:.0f} ms: {verdict(figures['target_met'])}"
    )
    print()
    print("Where the burst's acknowledgement time went (ms)")
    print_table(
        ["stage", "p50", "p99", "max"],
        [
            [name, stage.get("p50"), stage.get("p99"), stage.get("max")]
            for name, stage in burst["ack_stages_ms"].items()
        ],
    )
    print()
    print(
        f"bot event loop lag during the burst: p50 {lag.get('p50')} ms, p99 {lag.get('p99')} ms,"
        f" worst {lag.get('max')} ms ({lag.get('samples')} ticks); idle: worst "
        f"{figures['bot_loop_lag_idle_ms'].get('max')} ms; bench process (fake Discord) worst "
        f"{burst['bench_loop_lag_ms'].get('max')} ms"
    )
    print(
        f"burst: {burst['sent']} sent (spread {burst['send_spread_ms']} ms), "
        f"{burst['acknowledged_within_3s']} acknowledged within 3 s, {burst['confirmed']} "
        f"confirmed, {burst['create_calls']} create calls, {burst['delivered']} pictures "
        f"delivered; last ack {burst['seconds_to_last_ack']} s, last confirmation "
        f"{burst['seconds_to_last_confirmation']} s, last picture "
        f"{burst['seconds_to_last_delivery']} s after the burst began"
    )
    to_ack, to_confirmation = (
        burst["cpu_seconds_to_last_ack"],
        burst["cpu_seconds_to_last_confirmation"],
    )
    print(
        f"CPU seconds to the last ack: bot {to_ack['bot']}, fake Discord + simulator "
        f"{to_ack['fake_discord_and_simulator']}; to the last confirmation: bot "
        f"{to_confirmation['bot']}, fake Discord + simulator "
        f"{to_confirmation['fake_discord_and_simulator']} "
        f"(1-min load average before: {figures['load_average_1min_before']})"
    )
    for line in figures.get("cprofile_top", []):
        print(line)
    spied = figures.get("py_spy_burst_to_last_ack")
    if spied:
        print()
        print(
            f"py-spy, burst start to last acknowledgement: {spied['samples']} samples of the "
            f"bot on a CPU at {spied['rate_hz']} Hz"
        )
        print_table(["function (self time)", "%"], spied["self_percent"])
        print()
        print_table(["function (on the stack)", "%"], spied["inclusive_percent"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=200, help="commands in the burst")
    parser.add_argument("--baseline", type=int, default=20, help="commands one at a time")
    parser.add_argument(
        "--deliver-timeout", type=float, default=90.0, help="seconds to wait for the pictures"
    )
    parser.add_argument(
        "--py-spy", action="store_true", help="sample the bot's stacks during the burst"
    )
    parser.add_argument(
        "--profile", action="store_true", help="run the whole bot under cProfile (slower)"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="miraflow-burst-") as folder:
        figures = asyncio.run(measure(args, Path(folder)))
    report(figures)
    print_json_line(figures)
    return 0 if figures["target_met"] and figures["all_answered"] else 1


if __name__ == "__main__":
    sys.exit(main())
