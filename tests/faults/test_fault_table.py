"""The fault table: every fault the bot survives, what it must do, what it must not do.

Each row breaks one promise of "Faults and a misbehaving Miraflow" on purpose through a real
path (the simulator or a small misbehaving server, the fake Discord, a second process, a
real `kill -9`) and checks the bot keeps it. Part of the rows (the job engine's) are still
to come; see the closing test for the ones this table must hold.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.faults import miraflow_faults as mf


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
]


@pytest.mark.parametrize("row", FAULTS, ids=[row.fault for row in FAULTS])
async def test_the_bot_survives(row: Fault, tmp_path: Path) -> None:
    await row.check(tmp_path)
