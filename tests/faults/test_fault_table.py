"""The fault table: every fault the bot survives, what it must do, what it must not do.

Each row breaks one promise of "Faults and a misbehaving Miraflow" on purpose through a real
path (the simulator or a small misbehaving server, the fake Discord, a second process, a
real `kill -9`) and checks the bot keeps it. The job engine's rows (a store that cannot be
written, terminal failures told, unclear creates...) join them with issue 8's part B.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.faults import ending_faults as endings
from tests.faults import engine_faults as ef
from tests.faults import input_faults as inputs
from tests.faults import miraflow_faults as mf
from tests.faults import process_faults as pf


@dataclass(frozen=True)
class Fault:
    fault: str
    must: str
    must_not: str
    check: Callable[[Path], Awaitable[None]]


FAULTS = [
    Fault(
        "a result's downloadUrl on another plain-http host",
        "refuse it with UntrustedUrlError (the job can fail and say so)",
        "contact that host, or leave a file behind",
        mf.result_url_on_another_http_host,
    ),
    Fault(
        "a result's downloadUrl with the file: scheme",
        "refuse it with UntrustedUrlError",
        "read a local file",
        mf.result_url_with_file_scheme,
    ),
    Fault(
        "an upload URL on another plain-http host",
        "refuse it before sending a byte",
        "upload the member's picture there, or finalize the media",
        mf.upload_url_on_another_http_host,
    ),
    Fault(
        "Miraflow redirects a download to a plain-http host",
        "refuse to follow the redirect",
        "contact that host, with or without the API key",
        mf.redirect_to_another_http_host,
    ),
    Fault(
        "a download that stalls (no bytes)",
        "abandon it after the stall time-out with DownloadTimeoutError",
        "wait for ever, or leave its .part file",
        mf.stalled_download,
    ),
    Fault(
        "a download that trickles a byte now and then",
        "abandon it at the overall download deadline",
        "hold on past the deadline",
        mf.trickling_download,
    ),
    Fault(
        "a 400 MiB JSON answer with a Content-Length",
        "treat it as a server error without reading it",
        "hold it in memory",
        mf.huge_json_answer_with_length,
    ),
    Fault(
        "a 400 MiB JSON answer without a Content-Length",
        "stop reading at 16 MiB and treat it as a server error",
        "hold it in memory",
        mf.huge_json_answer_without_length,
    ),
    Fault(
        "Retry-After: 999999999",
        "count it as 60 s",
        "pause for ever, or show the raw number to a member",
        mf.huge_retry_after,
    ),
    Fault(
        "a second bot started on the same DATABASE_PATH",
        "exit at once (status 3) with one line saying another process holds the store",
        "touch the store, connect to Discord, or disturb the first bot",
        pf.second_bot_on_the_same_store,
    ),
    Fault(
        "a second bot started while the first's create call is in flight",
        "exit at once; the first records the answer and delivers the result",
        "mark the first's job unknown, tell its member 'I restarted', or send it twice",
        pf.second_bot_while_a_create_call_is_in_flight,
    ),
    Fault(
        "a store created by the bot in a new folder",
        "make the folder 0700 and the store (and its -wal, -shm) 0600",
        "leave them readable by other users",
        pf.store_files_are_private,
    ),
    Fault(
        "the bot killed (kill -9) in the middle of a download",
        "remove the half-written download at the next start, then deliver the result",
        "leave .part files or temp folders behind for ever",
        pf.killed_bot_leaves_no_temp_files,
    ),
    Fault(
        "a bot on PostgreSQL killed (kill -9) in the middle of a download",
        "remove the dead process's temp folder at the next start, then deliver the result",
        "leave its .part files in a temp folder of its own for ever",
        pf.killed_bot_on_postgresql_leaves_no_temp_files,
    ),
    Fault(
        "Discord refuses connections at start",
        "log one line per attempt and retry, 1 s, 2 s, ... up to 60 s apart",
        "print a traceback, or warn about voice support",
        pf.discord_refuses_connections,
    ),
    Fault(
        "Discord's name does not resolve at start",
        "log one line per attempt and retry with backoff",
        "print a traceback",
        pf.discord_name_does_not_resolve,
    ),
    Fault(
        "Discord accepts connections but never answers at start",
        "time each attempt out, log one line for it, and retry with backoff",
        "hang for ever, or log a traceback",
        pf.discord_does_not_answer,
    ),
    Fault(
        "Discord refuses DISCORD_TOKEN",
        "print one line and exit with status 1",
        "print a traceback",
        pf.discord_refuses_the_token,
    ),
    Fault(
        "DATABASE_PATH is under a file, or is a folder",
        "print one line naming DATABASE_PATH and exit with status 2",
        "print a traceback",
        pf.unusable_database_path,
    ),
    Fault(
        "a command run with LOG_LEVEL=DEBUG",
        "log the Discord calls with their tokens masked",
        "write an interaction token, the bot token or the API key to the log",
        pf.tokens_in_debug_logs,
    ),
    Fault(
        "a prompt of zero-width, Hangul filler or braille blank characters",
        "refuse it like an empty prompt, ephemerally",
        "call Miraflow or write a job",
        inputs.blank_looking_prompt,
    ),
    Fault(
        "a picture with more pixels than the bot accepts (a decompression bomb)",
        "refuse it from its header, before decoding it",
        "decode it, or upload it to Miraflow",
        inputs.too_many_pixels,
    ),
    Fault(
        "six /edit requests at once with the largest picture and a mask",
        "handle their files one request at a time, off the event loop, and start all six",
        "decode several at once (six grew memory by 4.5 GB; see bench/edit_memory.py)",
        inputs.simultaneous_edits_decode_one_at_a_time,
    ),
    Fault(
        "six /edit at once with the largest picture (4096 x 4096, 20 MiB) and a mask, the "
        "bot in a process of its own",
        "start all six and grow the bot's peak memory by at most 300 MB",
        "grow it by more (4.5 GB before; see bench/RESULTS.md)",
        inputs.six_largest_edits_in_a_bot_process_of_its_own,
    ),
    Fault(
        "the store turns read-only just as a result is posted (Discord forgets nonces)",
        "hold the jobs' backoff in memory, log one line, record the post made, and deliver "
        "everything once the store recovers",
        "spin (1065 status calls and 1066 posts in 8 s before), call Miraflow or Discord "
        "for the held jobs, or post a result twice",
        ef.store_turns_read_only_as_results_are_posted,
    ),
    Fault(
        "Miraflow says complete but gives no downloadUrl",
        "fail the job at once, mention its requester, show 'failed' in its status message",
        "retry for ever, tell nobody, or leave the status at 'queued 0 %'",
        ef.complete_without_a_download_url,
    ),
    Fault(
        "a result URL the bot refuses (plain http on another host)",
        "fail the job, tell its requester why, show the end state",
        "contact that host, or tell nobody",
        ef.result_url_refused_as_untrusted,
    ),
    Fault(
        "every download of a result stalls",
        "try again with a fresh URL, three times in all, then fail and tell the requester",
        "wait for ever, retry without end, or tell nobody",
        ef.download_stalls_every_time,
    ),
    Fault(
        "a 5000-character failure reason with the API key, markdown, a link and @everyone",
        "tell the requester and show it in the status, cut to fit, key redacted, as plain text",
        "exceed Discord's 2000 characters, show the key, render the link or markdown, or ping",
        ef.a_long_failure_reason_with_the_key_and_markdown,
    ),
    Fault(
        "a prompt with a heading, a masked link, @everyone, a member's mention and bold",
        "show it escaped in the status message and the result embed",
        "render any of it, or ping anyone but the requester",
        ef.prompt_with_markdown_links_and_mentions,
    ),
    Fault(
        "a create call answered 502 after Miraflow made the job",
        "mark the job unknown and tell the requester it may have started",
        "send it again, or call it failed",
        ef.create_answered_502_after_the_job_was_made,
    ),
    Fault(
        "a video's create call answered 504 after Miraflow made the video",
        "tell the requester it may have started, find the video by its unique name in "
        "GET /api/videos, and deliver it",
        "send it again, or leave a paid video undelivered",
        ef.video_create_answered_504_after_the_video_was_made,
    ),
    Fault(
        "an image's create call whose connection drops after Miraflow made the job",
        "mark the job unknown and tell the requester it may or may not have started",
        "send it again (one create call in all), or call it failed",
        endings.image_create_connection_dropped_after_the_job_was_made,
    ),
    Fault(
        "a video's create call whose connection drops after Miraflow made the video",
        "tell the requester it may have started, find the video by its unique name in "
        "GET /api/videos, and deliver it",
        "send it again, or leave a paid video undelivered",
        endings.video_create_connection_dropped_after_the_video_was_made,
    ),
    Fault(
        "Miraflow never finishes a job within the configured timeout",
        "mark it expired, mention its requester, show 'timed out' in its status message",
        "poll it any more, or tell nobody",
        endings.job_never_finished_expires,
    ),
    Fault(
        "the channel refuses every post and the requester's DMs are closed",
        "fail the job as posted nowhere after a few tries, and say so in /jobs list",
        "try for ever, or post the result twice",
        endings.result_posted_nowhere,
    ),
    Fault(
        "the store cannot be written while members start jobs",
        "answer each with a short line (I can't save jobs right now), log one line a minute",
        "log a traceback per command, or call Miraflow",
        ef.store_unwritable_while_members_start_jobs,
    ),
    Fault(
        "a create call answered 429 with a huge Retry-After",
        "fail it, say that nothing was started (nor charged) and to try again",
        "send it again, or show the raw number",
        ef.create_answered_429,
    ),
    Fault(
        "a crash after a result was posted, restarted after Discord forgot the nonce",
        "find its own post in the channel's history and record it",
        "post the result again, or fetch it again",
        ef.restart_after_discord_forgot_the_nonce,
    ),
    Fault(
        "a member cancels a running job to start another over the limit",
        "count the cancelled job toward the limit until Miraflow would have finished it",
        "let one member run more jobs at once than the limit (12 under 3 before)",
        ef.cancel_to_start_more_than_the_limit,
    ),
    Fault(
        "Miraflow closes a kept-alive connection instead of answering a status read",
        "read it again through the pacer: every request Miraflow sees takes a slot",
        "let aiohttp resend it below the pacer, a call the ceiling never counted",
        mf.kept_alive_connection_closed,
    ),
    Fault(
        "eight result downloads that hang",
        "go on polling and delivering every other job (deliveries have slots of their own)",
        "let stuck downloads hold the poll slots and stop every other job",
        ef.eight_downloads_stuck,
    ),
    Fault(
        "a lone video whose progress bar stays blank until done",
        "poll it at least every 30 s while videos are not known to show progress",
        "await its first value at a spacing of its age (found up to its age late)",
        ef.video_bar_blank_until_done,
    ),
]


@pytest.mark.parametrize("row", FAULTS, ids=[row.fault for row in FAULTS])
async def test_the_bot_survives(row: Fault, tmp_path: Path) -> None:
    await row.check(tmp_path)


def test_every_fault_check_is_in_the_table() -> None:
    checks = {row.check for row in FAULTS}
    for module in (inputs, mf, pf, ef, endings):
        for name, function in inspect.getmembers(module, inspect.iscoroutinefunction):
            if not name.startswith("_") and function.__module__ == module.__name__:
                assert function in checks or name in _HELPERS, f"{module.__name__}.{name}"
    assert len(FAULTS) == len(checks), "each row has a check of its own"


# Coroutines of the fault modules that are helpers, not checks.
_HELPERS = {"run_cli", "imagine"}
