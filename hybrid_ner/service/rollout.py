"""This worker's side of a rollout: counts per deployment state, shadow and agreement runs off the request path,
the periodic flush and canary judgement, and the live drift windows.

``record`` runs in the request path and only counts and enqueues; the model runs it asks for happen in a
background task after the response is sent, from a bounded queue (work past it is dropped and counted).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from hybrid_ner.config import Settings
from hybrid_ner.datamodel import Result
from hybrid_ner.rollout import drift
from hybrid_ner.rollout.control import Rollouts
from hybrid_ner.rollout.deployments import Deployment, Mode
from hybrid_ner.rollout.observation import Observation, agreement
from hybrid_ner.rollout.stats import WORKER, Counts, judge
from hybrid_ner.schemas import Schema
from hybrid_ner.service.metrics import Metrics

log = logging.getLogger("hybrid_ner.service")
LocalRun = Callable[[list[str], Schema, str | None], Awaitable[list[Result]]]


@dataclass(frozen=True)
class Compare:
    """An off-path run of ``target`` on texts another model served, to measure their agreement."""

    deployment: Deployment
    schema: Schema
    target: str | None  # the model to run (None: what serves the schema)
    texts: list[str]
    results: list[Result]
    shadow: bool  # True: the candidate in shadow (its time and scores count); False: the served model in a canary


class RolloutMonitor:
    def __init__(self, settings: Settings, rollouts: Callable[[], Rollouts], run: LocalRun, metrics: Metrics) -> None:
        self._settings, self._rollouts, self._run, self._metrics = settings, rollouts, run, metrics
        self._counts: dict[tuple[str, int], dict[str, Counts]] = {}
        self._dirty: set[tuple[str, int]] = set()
        self._queue: asyncio.Queue[Compare] = asyncio.Queue(settings.shadow_queue)
        self._windows: dict[str, drift.Window | None] = {}  # model digest -> window (None: no reference profile)
        self._latest: dict[str, str] = {}  # schema -> digest of the model that served its latest request
        self._tasks: list[asyncio.Task[None]] = []

    # ---------------------------------------------------------------- the request path: count and enqueue

    def record(self, obs: Observation) -> None:
        d = obs.deployment
        self._watch(obs)
        if d.mode == Mode.STEADY:
            return
        key = (d.schema, d.version)
        roles = self._counts.setdefault(key, {})
        counts = roles.setdefault(obs.role, Counts())
        if obs.failure is not None:
            counts.failed(obs.failure)
        scores = [e.score for r in obs.results for e in r.entities]
        counts.served(len(obs.texts), obs.seconds, obs.errors, scores)
        self._dirty.add(key)
        if d.mode == Mode.SHADOW and obs.role == "served":
            picked = [i for i, t in enumerate(obs.texts) if d.samples(t)]
            self._enqueue(d, obs, picked, d.candidate, shadow=True)
        elif obs.role == "candidate" and obs.failure is None:
            picked = [i for i, t in enumerate(obs.texts) if d.samples(t)]
            self._enqueue(d, obs, picked, d.served, shadow=False)

    def _enqueue(self, d: Deployment, obs: Observation, picked: list[int], target: str | None, *, shadow: bool) -> None:
        if not picked:
            return
        job = Compare(d, obs.schema, target, [obs.texts[i] for i in picked], [obs.results[i] for i in picked], shadow)
        try:
            self._queue.put_nowait(job)
        except asyncio.QueueFull:
            self._counts[(d.schema, d.version)].setdefault("candidate", Counts()).dropped += len(picked)
            self._metrics.shadow_dropped.labels(d.schema).inc(len(picked))

    def _watch(self, obs: Observation) -> None:
        digest = str(getattr(obs.extractor, "digest", None))
        if obs.role == "served":
            self._latest[obs.schema.name] = digest
        if digest not in self._windows:
            directory = getattr(obs.extractor, "model_dir", None)
            reference = drift.read_profile(directory) if directory is not None else None
            s = self._settings
            window = drift.Window(reference, s.drift_window, s.drift_min, s.drift_threshold) if reference else None
            self._windows[digest] = window
        window = self._windows[digest]
        if window is not None:
            for text, result in zip(obs.texts, obs.results, strict=True):
                window.add(drift.sample(text, result, self._settings.ner_threshold))

    # ---------------------------------------------------------------- background: compare, flush, judge

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._compare_loop()), asyncio.create_task(self._tick_loop())]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(SQLAlchemyError):
            await asyncio.to_thread(self._flush)

    async def _compare_loop(self) -> None:
        while True:
            job = await self._queue.get()
            try:
                await self._compare(job)
            except Exception as exc:
                counts = self._counts.setdefault((job.deployment.schema, job.deployment.version), {})
                counts.setdefault("candidate", Counts()).failed(f"{type(exc).__name__}: {exc}"[:300])
                log.error("rollout_compare_failed", extra={"fields": {"error": type(exc).__name__}})

    async def _compare(self, job: Compare) -> None:
        started = time.perf_counter()
        other = await self._run(job.texts, job.schema, job.target)
        seconds = time.perf_counter() - started
        d = job.deployment
        key = (d.schema, d.version)
        counts = self._counts.setdefault(key, {}).setdefault("candidate", Counts())
        if job.shadow:
            errors = sum(1 for r in other if "local" in r.failed)
            counts.served(len(job.texts), seconds, errors, [e.score for r in other for e in r.entities])
        for mine, theirs in zip(job.results, other, strict=True):
            counts.agree_sum += agreement(mine.entities, theirs.entities)
            counts.agree_n += 1
        self._dirty.add(key)

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self._settings.rollout_tick_s)
            try:
                await asyncio.to_thread(self.tick)
            except SQLAlchemyError as exc:
                log.error("rollout_tick_failed", extra={"fields": {"error": type(exc).__name__}})

    def _flush(self) -> None:
        rollouts = self._rollouts()
        for key in list(self._dirty):
            self._dirty.discard(key)
            rollouts.flush(key[0], key[1], WORKER, dict(self._counts.get(key, {})))

    def tick(self) -> None:
        """Write this worker's counts, then judge every canary on every worker's counts (one of the workers that
        judge the same step makes the move; the others find the version changed)."""
        self._flush()
        rollouts = self._rollouts()
        live = rollouts.deployments.all()
        self._counts = {k: v for k, v in self._counts.items() if k[0] not in live or k[1] >= live[k[0]].version}
        for d in live.values():
            self._metrics.rollout_share.labels(d.schema, d.candidate or "").set(d.share)
            if d.mode == Mode.STEADY:
                continue
            candidate = rollouts.totals(d.schema, d.version).get("candidate", Counts())
            if candidate.agreement is not None:
                self._metrics.rollout_agreement.labels(d.schema, d.candidate or "").set(candidate.agreement)
            if d.mode != Mode.CANARY:
                continue
            moved = rollouts.apply(d, judge(d, candidate))
            if moved is not None:
                log.info("rollout_moved", extra={"fields": {"schema": d.schema, "reason": moved.reason}})
                rollouts.forget(d.schema, moved.version)

    # ---------------------------------------------------------------- drift

    def drift(self, schema: str) -> dict[str, Any]:
        """The live window of the model serving ``schema`` against that model's reference profile."""
        digest = self._latest.get(schema)
        window = self._windows.get(digest) if digest is not None else None
        if window is None:
            why = "no traffic yet" if digest is None else "the served model has no reference profile"
            return {"alarm": False, "window": 0, "figures": [], "reason": why}
        report = window.report()
        for f in report["figures"]:
            self._metrics.drift_psi.labels(f["name"]).set(f["psi"])
        self._metrics.drift_alarm.set(1 if report["alarm"] else 0)
        return report
