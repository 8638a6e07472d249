"""What wraps every request: the body-size limit, request ids, metrics and JSON logs that never hold text."""

from __future__ import annotations

import json
import logging
import time
import uuid

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hybrid_ner.service.metrics import Metrics

log = logging.getLogger("hybrid_ner.service")


class BodyLimit:
    """Reject bodies over ``limit`` bytes with 413, by Content-Length or while streaming."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        too_big = JSONResponse({"detail": f"request body is larger than {self.limit} bytes"}, status_code=413)
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await too_big(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except _BodyTooLarge:
            await too_big(scope, receive, send)


class _BodyTooLarge(Exception):
    pass


def observe(app: FastAPI, metrics: Metrics) -> None:
    """Request id, latency and status per route into metrics and one JSON log line; never a stack trace out."""
    app.add_middleware(Observe, metrics=metrics)


class Observe:
    """Plain ASGI (no per-request task or stream wrapping, which ``@app.middleware`` costs): the request id header,
    the route's latency and status, one log line of fields only."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"")
        request_id = given.decode("latin-1")[:64] or uuid.uuid4().hex[:16]
        status = 500
        responded = False

        async def tagged(message: Message) -> None:
            nonlocal status, responded
            if message["type"] == "http.response.start":
                status, responded = message["status"], True
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode("latin-1"))]
            await send(message)

        try:
            await self.app(scope, receive, tagged)
        except Exception as exc:  # never a stack trace to the client
            log.error("unhandled_error", extra={"fields": {"error": type(exc).__name__, "request_id": request_id}})
            if not responded:
                await JSONResponse({"detail": "internal error"}, status_code=500)(scope, receive, tagged)
            status = 500
        endpoint = getattr(scope.get("route"), "path", "unmatched")
        elapsed = time.perf_counter() - started
        self.metrics.requests.labels(endpoint, str(status)).inc()
        self.metrics.latency.labels(endpoint).observe(elapsed)
        fields = {"request_id": request_id, "method": scope.get("method"), "endpoint": endpoint, "status": status,
                  "ms": round(elapsed * 1000, 2)}  # fmt: skip
        log.info("request", extra={"fields": fields})


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line. Only fields put there on purpose: never request text."""

    def format(self, record: logging.LogRecord) -> str:
        out = {"ts": round(record.created, 3), "level": record.levelname, "logger": record.name, "event": record.msg}
        out.update(getattr(record, "fields", {}))
        return json.dumps(out, default=str)


def configure_logging() -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLogFormatter())
    root = logging.getLogger("hybrid_ner")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    root.propagate = False
