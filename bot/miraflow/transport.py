"""The HTTP plumbing under MiraflowClient: send, follow redirects, map errors, retry, stream.

Only `MiraflowClient` uses it; together they are the only code that speaks HTTP to Miraflow.
Reads (GET) are retried with exponential backoff and full jitter on connection failures,
timeouts, 429 and 5xx; everything else is sent exactly once. The API key goes only to
`base_url`'s origin and is redacted from every log line and error.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

import aiohttp
from yarl import URL

from bot.miraflow.constants import (
    API_KEY_HEADER,
    ERROR_BODY_READ_LIMIT,
    MAX_JSON_BYTES,
    MAX_REDIRECTS,
    USER_AGENT,
)
from bot.miraflow.errors import (
    DownloadTimeoutError,
    FileTooLargeError,
    MiraflowConnectionError,
    MiraflowError,
    MiraflowTimeoutError,
    RateLimitedError,
    ServerError,
    UnexpectedResponseError,
    error_for_status,
    message_from_body,
    parse_retry_after,
)
from bot.miraflow.limits import chunks_until_stalled, read_capped
from bot.miraflow.trust import check_trusted

log = logging.getLogger(__name__)

T = TypeVar("T")
# Told of every exchange: the URL's path and its outcome (a status, "timeout", ...).
CallObserver = Callable[[str, str], None]
_RETRYABLE = (MiraflowConnectionError, MiraflowTimeoutError, RateLimitedError, ServerError)
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_REDACTED = "[redacted]"


class PacedAttempt(Protocol):
    """An attempt a pacer let through."""

    @property
    def probe(self) -> bool: ...

    def started(self) -> None:
        """Its request is leaving now."""


class AttemptPacer(Protocol):
    """Told of every HTTP attempt to Miraflow's origin, retries included: `acquire` before
    it leaves, `report` once its status (None: no answer) is known."""

    async def acquire(self) -> PacedAttempt: ...

    def report(self, probe: bool, status: int | None, retry_after: float | None) -> None: ...


def _departures() -> aiohttp.TraceConfig:
    """Tells a paced attempt the instant aiohttp starts its request."""

    async def on_start(_session: Any, context: Any, _params: Any) -> None:
        attempt = context.trace_request_ctx
        if attempt is not None:
            attempt.started()

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    return trace


class MiraflowTransport:
    """Requests to Miraflow (and to the storage hosts it links to) over one aiohttp session.

    It owns the session (created on first use, closed by `close()`) unless it is given one,
    which it then never closes.
    """

    def __init__(
        self,
        api_key: str,
        base_url: str,
        session: aiohttp.ClientSession | None,
        *,
        timeout: float,
        read_timeout: float | None,
        max_retries: int,
        backoff_base: float,
        backoff_cap: float,
        retry_after_cap: float,
        chunk_size: int,
        stall_timeout: float,
        download_deadline: float,
        on_call: CallObserver | None = None,
        trace_configs: Sequence[aiohttp.TraceConfig] = (),
    ) -> None:
        self._api_key = api_key
        self._trace_configs = list(trace_configs)
        self._base = base_url.rstrip("/")
        self._origin = URL(self._base).origin()
        self._session = session
        self._owns_session = session is None
        self._closed = False
        self._call_timeout = aiohttp.ClientTimeout(total=timeout)
        self._stream_timeout = aiohttp.ClientTimeout(
            total=None,
            sock_connect=timeout,
            sock_read=timeout if read_timeout is None else read_timeout,
        )
        self._max_retries = max_retries
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._retry_after_cap = retry_after_cap
        self._chunk_size = chunk_size
        self._stall_timeout = stall_timeout
        self._download_deadline = download_deadline
        self._on_call = on_call
        self.pacer: AttemptPacer | None = None

    @property
    def base_url(self) -> str:
        return self._base

    @property
    def closed(self) -> bool:
        return self._closed

    def __repr__(self) -> str:
        return f"<MiraflowTransport base_url={self._base!r}>"

    def ensure_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("this MiraflowClient is closed")
        if self._session is None:
            session = aiohttp.ClientSession(trace_configs=[_departures(), *self._trace_configs])
            # aiohttp resends an idempotent request by itself when a kept-alive connection
            # turns out closed: a call that would reach Miraflow without a pacer slot. This
            # transport's own retry goes through the pacer instead.
            if hasattr(session, "_retry_connection"):
                session._retry_connection = False
            self._session = session
        return self._session

    async def close(self) -> None:
        """Closes the session if this transport created it; a borrowed one is left open."""
        self._closed = True
        if self._owns_session and self._session is not None:
            await self._session.close()

    # URLs and words

    def url(self, path: str) -> URL:
        """`path` (already quoted) under `base_url`."""
        return URL(self._base + path, encoded=True)

    def resolve(self, url: str) -> URL:
        """An absolute URL as it is, or a relative one against `base_url`."""
        return URL(self._base + "/", encoded=True).join(URL(url, encoded=True))

    def redact(self, text: str) -> str:
        return text.replace(self._api_key, _REDACTED)

    def _where(self, url: URL) -> str:
        """A URL fit for a log line: its path, plus its origin when foreign; never a query."""
        return url.path if url.origin() == self._origin else f"{url.origin()}{url.path}"

    # Calls

    async def get_json(self, path: str) -> Any:
        """GET `path` under `base_url` and decode its JSON answer, retrying on failure."""
        url = self.url(path)
        return await self._retrying(f"GET {path}", lambda: self.exchange_json("GET", url))

    async def exchange_json(self, method: str, url: URL, **kwargs: Any) -> Any:
        """One request, sent once, and its JSON answer; `kwargs` go to aiohttp (json=, data=)."""
        async with self._exchange(method, url, timeout=self._call_timeout, **kwargs) as response:
            raw = await read_capped(response, MAX_JSON_BYTES)
            status = response.status
        try:
            return json.loads(raw)
        except ValueError:
            shown = message_from_body(raw, status)
            raise UnexpectedResponseError(
                self.redact(f"Miraflow's answer is not JSON: {shown}"), status
            ) from None

    async def put_upload(self, url: URL, data: bytes, content_type: str) -> None:
        """PUT `data` to a pre-signed storage URL, once and without the API key."""
        check_trusted(url, self._origin)
        async with self._exchange(
            "PUT",
            url,
            timeout=self._stream_timeout,
            send_key=False,
            data=data,
            headers={"Content-Type": content_type},
        ) as response:
            await response.read()

    async def download(self, url: URL, dest: str | os.PathLike[str], max_bytes: int | None) -> int:
        """Streams `url` to `dest` (retried like any GET) and returns the bytes written.

        The file appears at `dest` only once complete; over `max_bytes`, FileTooLargeError is
        raised and nothing is left behind. No bytes for the stall time-out, or the download
        deadline passed (retries included), raise DownloadTimeoutError.
        """
        check_trusted(url, self._origin)
        target = Path(dest)
        partial = target.with_name(target.name + ".part")
        try:
            try:
                async with asyncio.timeout(self._download_deadline):
                    written = await self._retrying(
                        f"GET {self._where(url)}", lambda: self._stream_to(url, partial, max_bytes)
                    )
            except TimeoutError:
                raise DownloadTimeoutError(
                    f"the download took longer than {self._download_deadline:g} s"
                ) from None
            await asyncio.to_thread(partial.replace, target)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return written

    # Plumbing

    async def _retrying(self, what: str, attempt: Callable[[], Awaitable[T]]) -> T:
        retries = 0
        while True:
            try:
                return await attempt()
            except _RETRYABLE as error:
                if retries >= self._max_retries:
                    raise
                delay = self._delay_before_retry(retries, error)
                retries += 1
                if self.pacer is not None and not isinstance(error, RateLimitedError):
                    delay = 0.0  # the pacer spaces attempts, and probes a Miraflow that is down
                log.debug(
                    "%s failed (%s); retry %d/%d in %.2f s",
                    what,
                    error,
                    retries,
                    self._max_retries,
                    delay,
                )
                await asyncio.sleep(delay)

    def _delay_before_retry(self, retries: int, error: MiraflowError) -> float:
        if isinstance(error, RateLimitedError) and error.retry_after is not None:
            return min(error.retry_after, self._retry_after_cap)
        return random.uniform(0, min(self._backoff_cap, self._backoff_base * 2**retries))

    @asynccontextmanager
    async def _exchange(
        self,
        method: str,
        url: URL,
        *,
        timeout: aiohttp.ClientTimeout,
        send_key: bool = True,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """One request and its answer (body read inside the `async with`).

        An error status raises the matching MiraflowError; aiohttp's failures become
        MiraflowConnectionError or MiraflowTimeoutError, with the key redacted. Each exchange
        is logged at DEBUG as method, path, status and duration, never headers or queries.
        """
        session = self.ensure_session()
        pacer = self.pacer if url.origin() == self._origin else None
        attempt = await pacer.acquire() if pacer is not None else None
        probe = attempt is not None and attempt.probe
        started = time.monotonic()
        outcome = "no answer"
        response: aiohttp.ClientResponse | None = None
        try:
            response = await self._send(
                session, method, url, timeout, send_key, headers, kwargs, attempt
            )
            outcome = str(response.status)
            try:
                if response.status >= 300:
                    raise await self._error_from(response)
                yield response
            finally:
                response.release()
        except TimeoutError:
            outcome = "timeout"
            raise MiraflowTimeoutError(
                f"no answer from Miraflow in time ({method} {self._where(url)})"
            ) from None
        except aiohttp.ClientConnectorError as error:
            outcome = "connection refused"
            message = self.redact(f"could not connect to Miraflow: {error}")
            raise MiraflowConnectionError(message, request_sent=False) from None
        except aiohttp.ClientError as error:
            outcome = type(error).__name__
            message = self.redact(f"connection to Miraflow failed: {type(error).__name__}: {error}")
            raise MiraflowConnectionError(message) from None
        finally:
            elapsed_ms = (time.monotonic() - started) * 1000
            log.debug("%s %s -> %s in %.0f ms", method, self._where(url), outcome, elapsed_ms)
            if self._on_call is not None:
                self._on_call(url.path, outcome)
            # (An attempt cancelled before any outcome is neither a success nor a failure.)
            if pacer is not None and (outcome != "no answer" or probe):
                status = response.status if response is not None else None
                wait = parse_retry_after(response.headers.get("Retry-After")) if response else None
                pacer.report(probe, status, wait)

    async def _send(
        self,
        session: aiohttp.ClientSession,
        method: str,
        url: URL,
        timeout: aiohttp.ClientTimeout,
        send_key: bool,
        headers: dict[str, str] | None,
        kwargs: dict[str, Any],
        attempt: PacedAttempt | None = None,
    ) -> aiohttp.ClientResponse:
        """Sends the request, following a GET's redirects here rather than in aiohttp, which
        would carry the x-api-key header along to another host (it strips only Authorization).
        The pacer's `attempt` hears when the request starts (in aiohttp's own trace, if this
        transport made the session)."""
        for _ in range(MAX_REDIRECTS + 1):
            check_trusted(url, self._origin)
            request_headers = {"User-Agent": USER_AGENT, **(headers or {})}
            if send_key and url.origin() == self._origin:
                request_headers[API_KEY_HEADER] = self._api_key
            if attempt is not None:
                attempt.started()
            response = await session.request(
                method,
                url,
                headers=request_headers,
                timeout=timeout,
                allow_redirects=False,
                raise_for_status=False,
                trace_request_ctx=attempt,
                **kwargs,
            )
            location = response.headers.get("Location")
            if method != "GET" or response.status not in _REDIRECT_STATUSES or not location:
                return response
            response.release()
            url = url.join(URL(location, encoded=True))
        raise UnexpectedResponseError("Miraflow redirected too many times", response.status)

    async def _error_from(self, response: aiohttp.ClientResponse) -> MiraflowError:
        raw = bytearray()
        try:
            async for chunk in response.content.iter_chunked(8192):
                raw += chunk
                if len(raw) >= ERROR_BODY_READ_LIMIT:
                    break
        except (aiohttp.ClientError, TimeoutError):
            pass  # the status alone still says what happened
        message = self.redact(message_from_body(bytes(raw), response.status))
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return error_for_status(response.status, message, retry_after=retry_after)

    async def _stream_to(self, url: URL, partial: Path, max_bytes: int | None) -> int:
        async with self._exchange("GET", url, timeout=self._stream_timeout) as response:
            declared = response.content_length
            if max_bytes is not None and declared is not None and declared > max_bytes:
                raise FileTooLargeError(max_bytes, declared)
            written = 0
            sink = await asyncio.to_thread(partial.open, "wb")
            try:
                async for chunk in chunks_until_stalled(
                    response.content, self._chunk_size, self._stall_timeout
                ):
                    written += len(chunk)
                    if max_bytes is not None and written > max_bytes:
                        raise FileTooLargeError(max_bytes)
                    await asyncio.to_thread(sink.write, chunk)
            finally:
                await asyncio.to_thread(sink.close)
        return written
