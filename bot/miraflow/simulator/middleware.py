"""The request pipeline: record, hang, injected faults, auth; errors shaped as configured.

Order (outermost first): every request is recorded; a hang rule may hold it; a ``fail_next``
rule may answer it; then, on /api paths only: latency, outage, rate limit, random errors and
the API key check, before the handler.
"""

from __future__ import annotations

import asyncio
import hmac
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.typedefs import Handler

from .responses import (
    ApiError,
    custom_response,
    default_message,
    error_response,
    retry_after_header,
)
from .state import Headers, RecordedRequest

if TYPE_CHECKING:
    from .simulator import MiraflowSimulator

API_PREFIX = "/api"
SIMULATOR_KEY: web.AppKey[MiraflowSimulator] = web.AppKey("miraflow_simulator")
ACCOUNT: web.RequestKey[str] = web.RequestKey("miraflow_account")  # the key it came with


def _simulator(request: web.Request) -> MiraflowSimulator:
    return request.app[SIMULATOR_KEY]


@web.middleware
async def record_and_shape_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    sim = _simulator(request)
    recorded = RecordedRequest(
        method=request.method,
        path=request.path,
        headers=Headers(request.headers.items()),
        time=sim.now(),
        query=dict(request.query),
    )
    await sim.record(recorded)
    style = sim.config.error_body_style
    try:
        response = await handler(request)
    except ApiError as error:
        response = error_response(style, error.status, error.message, error.headers)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        headers = {"Allow": error.headers["Allow"]} if "Allow" in error.headers else None
        response = error_response(style, error.status, default_message(error.status), headers)
    transport = request.transport
    if transport is not None and not transport.is_closing():
        recorded.status = response.status
    return response


@web.middleware
async def hold_hung_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    sim = _simulator(request)
    rule = sim.hang_rule_for(request.path)
    if rule is None:
        return await handler(request)
    response = await handler(request) if rule.after_processing else None
    gate = sim.gate
    await gate.wait()
    if gate.closing:
        # Shutting down: drop the connection, as a server that died would.
        if request.transport is not None:
            request.transport.close()
        raise ApiError(503, "The simulator is shutting down.")
    return response if response is not None else await handler(request)


@web.middleware
async def inject_faults(request: web.Request, handler: Handler) -> web.StreamResponse:
    sim = _simulator(request)
    config = sim.config
    rule = sim.take_fail_rule(request.method, request.path)
    if rule is not None:
        if rule.drop:
            if request.transport is not None:
                request.transport.close()
            raise ApiError(503, "Connection dropped.")  # never sent: the connection is closed
        headers = retry_after_header(rule.retry_after)
        if rule.body is not None:
            return custom_response(rule.status, rule.body, headers)
        raise ApiError(rule.status, f"Injected failure ({default_message(rule.status)}).", headers)
    if not request.path.startswith(API_PREFIX):
        return await handler(request)
    if config.latency > 0:
        await asyncio.sleep(config.latency)
    outage = sim.current_outage
    if outage is not None:
        headers = retry_after_header(outage.retry_after)
        raise ApiError(
            outage.status, f"Service outage ({default_message(outage.status)}).", headers
        )
    if sim.over_rate_limit():
        raise ApiError(429, "Too many requests.", retry_after_header(config.retry_after))
    injected = sim.injected_error()
    if injected is not None:
        raise ApiError(injected, f"Injected random error ({default_message(injected)}).")
    return await handler(request)


@web.middleware
async def require_api_key(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith(API_PREFIX):
        given = request.headers.get("x-api-key", "").encode()
        config = _simulator(request).config
        accepted = (config.api_key, *config.other_api_keys)
        matched = [key for key in accepted if hmac.compare_digest(given, key.encode())]
        if not matched:
            raise ApiError(401, "Missing or invalid API key.")
        request[ACCOUNT] = config.api_key if config.shared_account else matched[0]
    return await handler(request)


def account_of(request: web.Request) -> str:
    """The account an /api request acts on: its key's (see ``SimulatorConfig.other_api_keys``)."""
    return request[ACCOUNT]


HUGE_JSON_BLOCK = b"x" * (64 * 1024)


@web.middleware
async def answer_hugely(request: web.Request, handler: Handler) -> web.StreamResponse:
    """With ``huge_json_bytes`` set, every GET /api answer is a JSON object that large,
    streamed (with a Content-Length unless ``huge_json_chunked``)."""
    config = _simulator(request).config
    size = config.huge_json_bytes
    if size is None or request.method != "GET" or not request.path.startswith(API_PREFIX):
        return await handler(request)
    head, tail = b'{"result": "success", "pad": "', b'"}'
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    if not config.huge_json_chunked:
        response.content_length = max(size, len(head) + len(tail))
    await response.prepare(request)
    try:
        await response.write(head)
        remaining = size - len(head) - len(tail)
        while remaining > 0:
            block = HUGE_JSON_BLOCK[: min(remaining, len(HUGE_JSON_BLOCK))]
            await response.write(block)
            remaining -= len(block)
        await response.write(tail)
        await response.write_eof()
    except ConnectionResetError:
        pass  # the client gave up reading, as it should
    return response


MIDDLEWARES = (
    record_and_shape_errors,
    hold_hung_requests,
    inject_faults,
    require_api_key,
    answer_hugely,
)
