"""Named fakes for unit tests. Integration tests use the real parts instead."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from hybrid_ner.datamodel import Decision, Entity, Source, Span
from hybrid_ner.llm.client import LLMClient, ResponseCache
from hybrid_ner.llm.extractor import LLMExtractor


class FakeLLMTransport(httpx.AsyncBaseTransport):
    """A fake OpenAI-compatible chat endpoint: ``answer(messages) -> str`` is the assistant's content.

    It sits under the real litellm → instructor → pydantic path, replacing only the network.
    """

    def __init__(self, answer: Callable[[list[dict[str, Any]]], str], delay_s: float = 0.0, status: int = 200) -> None:
        self.answer = answer
        self.delay_s = delay_s
        self.status = status
        self.requests: list[dict[str, Any]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(await request.aread())
        self.requests.append(body)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.status != 200:
            return httpx.Response(self.status, json={"error": {"message": "fake failure", "type": "server_error"}})
        content = self.answer(body["messages"])
        return httpx.Response(
            200,
            json={
                "id": "fake-1",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "choices": [
                    {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}
                ],
                "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
            },
        )


def document_of(messages: list[dict[str, Any]]) -> str:
    """The text of the last document turn, as the prompt template wraps it (re-asks append other turns)."""
    content = next(m["content"] for m in reversed(messages) if "<document>" in str(m.get("content")))
    return content.split("<document>\n", 1)[1].rsplit("\n</document>", 1)[0]


def answer_with(items: Callable[[str], list[tuple[str, str]]]) -> Callable[[list[dict[str, Any]]], str]:
    """An answer function that returns ``items(document)`` as the JSON the prompt asks for."""

    def answer(messages: list[dict[str, Any]]) -> str:
        return json.dumps({"entities": [{"text": t, "label": lab} for t, lab in items(document_of(messages))]})

    return answer


def fake_llm(transport: FakeLLMTransport, cache: ResponseCache | None = None, **kwargs: Any) -> LLMExtractor:
    client = LLMClient(
        "openai/fake-model",
        api_base="http://fake-llm.invalid/v1",
        api_key="fake",
        transport=transport,
        cache=cache,
        retries=kwargs.pop("retries", 0),
        **kwargs,
    )
    return LLMExtractor(client)


class FakeExtractor:
    """A fake local model: returns fixed (substring, label, score) hits for each text."""

    name = "extractor.fake.v1"

    def __init__(self, hits: Sequence[tuple[str, str, float]], fail: Exception | None = None) -> None:
        self.hits = hits
        self.fail = fail

    @property
    def labels(self) -> list[str]:
        return sorted({lab for _, lab, _ in self.hits})

    def extract(self, texts: Sequence[str], sentences: object = None) -> list[list[Entity]]:
        if self.fail is not None:
            raise self.fail
        out = []
        for text in texts:
            ents = []
            for sub, label, score in self.hits:
                start = text.find(sub)
                if start >= 0:
                    ents.append(
                        Entity(
                            span=Span.from_text(text, start, start + len(sub), label),
                            score=score,
                            source=Source.LOCAL,
                            decision=Decision(routed="local", confidence=score),
                        )
                    )
            out.append(ents)
        return out


class FakeGatedEmbedder:
    """A fake embedder for index tests: deterministic unit vectors from a text's hash. After ``free_calls``
    calls, each call waits for ``gate``, so a test can look at an index while its build is under way."""

    name = "fake-gated"
    dim = 8

    def __init__(self, free_calls: int = 0) -> None:
        import threading

        self.gate = threading.Event()
        self.calls = 0
        self.free_calls = free_calls

    def encode(self, texts: Sequence[str]) -> Any:
        self.calls += 1
        if self.calls > self.free_calls:
            self.gate.wait(timeout=60)
        return self.encode_each(texts)

    def encode_each(self, texts: Sequence[str]) -> Any:
        """What a resolver encodes on the request path (mentions, contexts): never held by the gate."""
        import hashlib

        import numpy as np

        rows = [np.frombuffer(hashlib.sha256(t.encode()).digest()[: self.dim], dtype=np.uint8) for t in texts]
        vectors = np.asarray(rows, dtype=np.float32).reshape(len(texts), self.dim) - 127.5
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-6)
