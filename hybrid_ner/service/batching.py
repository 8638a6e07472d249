"""Dynamic micro-batching for the local model, off the event loop.

Concurrent requests put their texts on a queue; one worker gathers whatever
arrives within a few milliseconds (up to a maximum batch), runs the model once
in a worker thread, and hands each request its slice. Inference never blocks the
event loop, and under load the model sees full batches instead of many tiny ones.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hybrid_ner.datamodel import Entity
from hybrid_ner.protocols import Extractor
from hybrid_ner.text import Sentence, split_sentences


@dataclass
class _Job:
    texts: list[str]
    sentences: list[list[Sentence]]
    future: asyncio.Future[list[list[Entity]]]


class MicroBatcher:
    """Wraps an extractor; ``await aextract(texts)`` from any number of concurrent requests."""

    def __init__(
        self,
        extractor: Extractor,
        window_ms: float = 4.0,
        max_batch: int = 32,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self.extractor = extractor
        self.on_batch = on_batch
        self.name = extractor.name
        self.window_s = window_ms / 1000
        self.max_batch = max_batch
        self._queue: asyncio.Queue[_Job] | None = None
        self._worker: asyncio.Task[None] | None = None

    @property
    def labels(self) -> list[str]:
        return self.extractor.labels

    @property
    def version(self) -> str:
        return str(getattr(self.extractor, "version", self.extractor.name))

    @property
    def model_dir(self) -> Path | None:
        """Where the wrapped model's files are (its reference profile among them)."""
        directory: Path | None = getattr(self.extractor, "model_dir", None)
        return directory

    @property
    def digest(self) -> str | None:
        return getattr(self.extractor, "digest", None)

    @property
    def type_labels(self) -> list[str]:
        return list(getattr(self.extractor, "type_labels", []))

    def extract(self, texts: Sequence[str], sentences: Sequence[list[Sentence]] | None = None) -> list[list[Entity]]:
        return self.extractor.extract(texts, sentences)

    async def aextract(
        self, texts: Sequence[str], sentences: Sequence[list[Sentence]] | None = None
    ) -> list[list[Entity]]:
        if self._queue is None or self._worker is None or self._worker.done():
            self._queue = asyncio.Queue()
            self._worker = asyncio.create_task(self._run(self._queue))
        future: asyncio.Future[list[list[Entity]]] = asyncio.get_running_loop().create_future()
        split = list(sentences) if sentences is not None else [split_sentences(t) for t in texts]
        await self._queue.put(_Job(list(texts), split, future))
        return await future

    async def _run(self, queue: asyncio.Queue[_Job]) -> None:
        while True:
            jobs = [await queue.get()]
            size = len(jobs[0].texts)
            deadline = time.monotonic() + self.window_s
            while size < self.max_batch:
                timeout = deadline - time.monotonic()
                if timeout <= 0:
                    break
                try:
                    job = await asyncio.wait_for(queue.get(), timeout)
                except TimeoutError:
                    break
                jobs.append(job)
                size += len(job.texts)
            await self._serve(jobs)

    async def _serve(self, jobs: list[_Job]) -> None:
        texts = [t for job in jobs for t in job.texts]
        sentences = [s for job in jobs for s in job.sentences]
        if self.on_batch is not None:
            self.on_batch(len(texts))
        try:
            found = await asyncio.to_thread(self.extractor.extract, texts, sentences)
        except Exception as exc:  # each waiting request gets the failure; the worker keeps serving
            for job in jobs:
                if not job.future.done():
                    job.future.set_exception(exc)
            return
        start = 0
        for job in jobs:
            if not job.future.done():
                job.future.set_result(found[start : start + len(job.texts)])
            start += len(job.texts)

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
