"""One LLM call with structured output: litellm + instructor, with a cache, retries, timeouts and a breaker.

The narrow seam for tests is ``transport``: an ``httpx.AsyncBaseTransport``
that replaces the network under an OpenAI-compatible provider, so a fake LLM
runs the real litellm → instructor → pydantic path.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel

from hybrid_ner.files import write_whole

log = logging.getLogger(__name__)
GRACE_S = 1.0
# Failures that the same call will not get past by trying again soon: reported at once, no retries.
FINAL = frozenset({"connection_refused", "dns_error", "tls_error", "unreachable", "auth_error"})
# Third-party loggers that can echo prompts, documents or model answers at some level. Request text must never
# reach a log, so they are held to CRITICAL; this module logs reason codes and exception type names instead.
TEXT_LOGGERS = ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "litellm", "openai", "instructor", "httpcore")


def silence_text_loggers() -> None:
    for name in TEXT_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)


class LLMError(Exception):
    """The LLM could not give a valid answer; ``reason`` is a short machine-readable code."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None


@dataclass
class CallResult:
    parsed: BaseModel
    usage: Usage
    cached: bool


class CircuitBreaker:
    """Opens after ``threshold`` consecutive failures, or at once on a failure that names the endpoint as down
    (``opened_by``, e.g. a refused connection); after ``cooldown_s`` one trial call may pass."""

    def __init__(self, threshold: int = 5, cooldown_s: float = 30.0) -> None:
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self.failures = 0
        self.opened_at: float | None = None
        self.opened_by: str | None = None

    def allow(self) -> bool:
        if self.opened_at is None:
            return True
        return time.monotonic() - self.opened_at >= self.cooldown_s

    def record(self, ok: bool, opened_by: str | None = None) -> None:
        if ok:
            self.failures, self.opened_at, self.opened_by = 0, None, None
            return
        self.failures += 1
        if self.failures >= self.threshold or opened_by is not None:
            self.opened_at, self.opened_by = time.monotonic(), opened_by


class ResponseCache:
    """Answers on disk, keyed by model, prompt version, schema and text, so nothing is paid for twice."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @staticmethod
    def key(*parts: str) -> str:
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads(self._path(key).read_text())
            return data
        except (OSError, ValueError):
            return None

    def put(self, key: str, value: dict[str, Any]) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_whole(path, json.dumps(value))  # concurrent writers never leave a torn file


class LLMClient:
    """Structured extraction calls through litellm with instructor's JSON-schema mode."""

    def __init__(
        self,
        model: str,
        *,
        api_base: str | None = None,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        retries: int = 2,
        concurrency: int = 4,
        max_tokens: int = 512,
        extra_body: dict[str, Any] | None = None,
        cache: ResponseCache | None = None,
        breaker: CircuitBreaker | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        endpoint: Callable[[], str] | None = None,
    ) -> None:
        self.model = model
        self.api_base = api_base
        self.endpoint = endpoint  # resolves api_base on first use (e.g. starts the local LLM)
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.retries = retries
        self.max_tokens = max_tokens
        self.extra_body = extra_body or {}
        self.cache = cache
        self.breaker = breaker or CircuitBreaker()
        self.transport = transport
        self.concurrency = concurrency
        self._limits: dict[int, asyncio.Semaphore] = {}
        self._clients: dict[int, Any] = {}
        silence_text_loggers()

    @cached_property
    def _instructor(self) -> Any:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network at import
        import instructor
        import litellm

        litellm.suppress_debug_info = True
        silence_text_loggers()  # again after import: litellm sets its loggers' levels when it loads
        return instructor.from_litellm(litellm.acompletion, mode=instructor.Mode.JSON_SCHEMA)

    def _call_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "model": self.model,
            "temperature": 0.0,
            "max_tokens": self.max_tokens,
            "timeout": self.timeout_s,
            "num_retries": 0,  # retries are ours, with backoff and the breaker
        }
        if self.api_base:
            kwargs["api_base"] = self.api_base
        if self.api_key:
            kwargs["api_key"] = self.api_key
        if self.extra_body:
            kwargs["extra_body"] = self.extra_body
        if self.api_base or self.transport is not None:
            kwargs["client"] = self._openai_client()
        return kwargs

    def _openai_client(self) -> Any:
        """For OpenAI-compatible endpoints, our own SDK client: no SDK-level retries (the SDK retries a refused
        connection twice with backoff by default, behind our own retries), the call timeout enforced at the HTTP
        level, and the transport seam for tests. One per event loop, as its connection pool belongs to one."""
        from openai import AsyncOpenAI

        loop = id(asyncio.get_running_loop())
        if loop not in self._clients:
            http = httpx.AsyncClient(transport=self.transport) if self.transport is not None else None
            self._clients = {
                loop: AsyncOpenAI(
                    api_key=self.api_key or "unused",
                    base_url=self.api_base,
                    http_client=http,
                    max_retries=0,
                    timeout=self.timeout_s,
                )
            }
        return self._clients[loop]

    async def complete(
        self, messages: list[dict[str, str]], response_model: type[BaseModel], cache_key: str | None = None
    ) -> CallResult:
        """Parsed answer for ``messages``; raises :class:`LLMError` after retries or when the breaker is open."""
        if cache_key and self.cache and (hit := self.cache.get(cache_key)) is not None:
            try:
                return CallResult(response_model.model_validate(hit["answer"]), Usage(), cached=True)
            except ValueError:
                log.warning("ignoring an unreadable LLM cache entry")
        if not self.breaker.allow():
            # A breaker opened by a refused connection says so; one opened by repeated failures says that.
            raise LLMError(
                self.breaker.opened_by or "circuit_open", "recent LLM calls failed; waiting before trying again"
            )
        if self.api_base is None and self.endpoint is not None:
            try:
                self.api_base = await asyncio.to_thread(self.endpoint)
            except Exception as exc:  # a missing package or a server that will not start
                self.breaker.record(False)
                raise LLMError("unavailable", str(exc)) from exc
        # Load litellm and instructor before any deadline starts: their first import takes seconds on a busy
        # machine, and counted against the call's timeout it reads as an LLM that did not answer.
        await asyncio.to_thread(getattr, self, "_instructor")
        last: LLMError | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                await asyncio.sleep(min(8.0, 0.5 * 2 ** (attempt - 1)) * (0.5 + random.random()))
            try:
                async with self._limit():
                    # The HTTP client enforces timeout_s; this outer deadline only catches what it cannot see.
                    result = await asyncio.wait_for(self._once(messages, response_model), self.timeout_s + GRACE_S)
            except LLMError as exc:
                last = exc
            except TimeoutError:
                last = LLMError("timeout", f"no answer within {self.timeout_s:.0f}s")
            except Exception as exc:  # provider errors come in many types: classify, then retry or stop
                reason = classify(exc)
                if reason == "unreachable" and self.api_base:  # the provider's wrapping can lose the cause
                    reason = await asyncio.to_thread(diagnose, self.api_base)
                last = LLMError(reason, type(exc).__name__)
            else:
                self.breaker.record(True)
                if cache_key and self.cache:
                    self.cache.put(cache_key, {"answer": result.parsed.model_dump(mode="json")})
                return result
            log.warning("LLM call failed (attempt %d): %s", attempt + 1, last)  # codes and type names, never text
            if last.reason in FINAL:
                break  # the endpoint cannot be reached or refuses us: retrying only makes the caller wait
        assert last is not None
        self.breaker.record(False, opened_by=last.reason if last.reason in FINAL else None)
        raise last

    def _limit(self) -> asyncio.Semaphore:
        """The concurrency bound for the running event loop (the CLI and the eval harness run several loops)."""
        loop = id(asyncio.get_running_loop())
        if loop not in self._limits:
            self._limits = {loop: asyncio.Semaphore(self.concurrency)}
        return self._limits[loop]

    async def _once(self, messages: list[dict[str, str]], response_model: type[BaseModel]) -> CallResult:
        parsed, raw = await self._instructor.chat.completions.create_with_completion(
            messages=messages, response_model=response_model, max_retries=1, **self._call_kwargs()
        )
        return CallResult(parsed, _usage(raw), cached=False)


def _causes(exc: BaseException, limit: int = 16) -> list[BaseException]:
    """The exception and everything it was raised from or during (providers wrap errors several deep, and
    litellm sometimes loses the cause but keeps the context)."""
    seen: list[BaseException] = []
    todo = [exc]
    while todo and len(seen) < limit:
        e = todo.pop(0)
        if any(e is s for s in seen):
            continue
        seen.append(e)
        todo += [c for c in (e.__cause__, e.__context__) if c is not None]
    return seen


def classify(exc: BaseException) -> str:
    """A short reason code from an exception, its causes and their messages."""
    chain = _causes(exc)
    names = " ".join(type(e).__name__ for e in chain)
    text = " ".join(f"{type(e).__name__} {e}" for e in chain).lower()
    if isinstance(exc, LLMError):
        return exc.reason
    if "gaierror" in names or "dnserror" in names.lower() or "name or service not known" in text:
        return "dns_error"
    if "SSL" in names or "certificate verify failed" in text or ("ssl:" in text and "handshake" in text):
        return "tls_error"
    if "ConnectionRefused" in names or "connection refused" in text or "connect call failed" in text:
        return "connection_refused"
    if "Timeout" in names or "timed out" in text:
        return "timeout"
    if "Connection" in names or "connection error" in text:
        return "unreachable"
    if "AuthenticationError" in names or "PermissionDenied" in names:
        return "auth_error"
    if "RateLimit" in names:
        return "rate_limited"
    if any(k in names for k in ("Validation", "JSON", "Incomplete", "Retry")):
        return "invalid_output"
    return "provider_error"


def diagnose(api_base: str, timeout_s: float = 3.0) -> str:
    """Why an endpoint cannot be reached, found by trying it: ``dns_error``, ``connection_refused``,
    ``tls_error``, ``timeout``, or ``unreachable`` when the socket opens after all."""
    import socket
    import ssl
    from urllib.parse import urlsplit

    url = urlsplit(api_base)
    host, secure = url.hostname or "", url.scheme == "https"
    port = url.port or (443 if secure else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            if secure:
                with ssl.create_default_context().wrap_socket(sock, server_hostname=host):
                    pass
    except socket.gaierror:
        return "dns_error"
    except ConnectionRefusedError:
        return "connection_refused"
    except ssl.SSLError:
        return "tls_error"
    except TimeoutError:
        return "timeout"
    except OSError:
        return "unreachable"
    return "unreachable"


def _usage(raw: Any) -> Usage:
    usage = getattr(raw, "usage", None)
    out = Usage(
        prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
        completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
    )
    try:
        import litellm

        out.cost_usd = float(litellm.completion_cost(completion_response=raw))
    except Exception:  # unknown models have no price in litellm's map; tokens are still recorded
        out.cost_usd = None
    return out
