"""Prometheus metrics, one registry per app so several apps (tests) never collide."""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

from hybrid_ner.datamodel import Result

disable_created_metrics()  # type: ignore[no-untyped-call]  # the *_created series double the output and nobody graphs them


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("hner_requests_total", "HTTP requests.", ["endpoint", "status"], registry=r)
        self.latency = Histogram(
            "hner_request_seconds",
            "Request latency.",
            ["endpoint"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        self.entities = Counter("hner_entities_total", "Entities returned.", ["label", "source"], registry=r)
        self.local_spans = Counter("hner_local_spans_total", "Local-model spans considered by routers.", registry=r)
        self.escalated = Counter("hner_escalated_spans_total", "Local spans escalated to the LLM.", registry=r)
        self.llm_calls = Counter("hner_llm_calls_total", "LLM calls made (cache hits excluded).", registry=r)
        self.llm_tokens = Counter("hner_llm_tokens_total", "LLM tokens.", ["kind"], registry=r)
        self.llm_cost = Counter("hner_llm_cost_usd_total", "LLM cost where litellm knows the price.", registry=r)
        self.llm_failures = Counter("hner_llm_failures_total", "Failed LLM regions.", ["reason"], registry=r)
        self.llm_dropped = Counter("hner_llm_dropped_spans_total", "LLM spans dropped.", ["reason"], registry=r)
        self.degraded = Counter("hner_degraded_responses_total", "Results marked degraded.", registry=r)
        self.cache = Counter("hner_result_cache_total", "Result cache lookups.", ["outcome"], registry=r)
        self.llm_cache_hits = Counter("hner_llm_cache_hits_total", "LLM answers served from disk.", registry=r)
        self.info = Gauge("hner_info", "Model and schema versions.", ["model", "schema", "schema_version"], registry=r)
        self.batch_size = Histogram(
            "hner_microbatch_texts", "Texts per local-model micro-batch.", buckets=(1, 2, 4, 8, 16, 32, 64), registry=r
        )

        self.shadow_dropped = Counter(
            "hner_shadow_dropped_texts_total",
            "Shadow or agreement runs dropped: the queue was full.",
            ["schema"],
            registry=r,
        )

        def live(name: str, doc: str, labels: tuple[str, ...] = ()) -> Gauge:
            return Gauge(name, doc, labels, registry=r, multiprocess_mode="livemax")

        self.rollout_share = live("hner_rollout_share", "Candidate's share of requests.", ("schema", "model"))
        self.rollout_agreement = live(
            "hner_rollout_agreement", "Candidate's span-and-label agreement with the served model.", ("schema", "model")
        )
        self.drift_psi = live("hner_drift_psi", "Population stability index of live input per figure.", ("figure",))
        self.drift_alarm = live("hner_drift_alarm", "1 when a drift figure is over its threshold.")
        self.escalation_ratio = Gauge(
            "hner_escalation_ratio", "Escalated / local spans since start (LLM strategies).", registry=r
        )
        self._local_total = 0
        self._escalated_total = 0

    def exposed(self) -> CollectorRegistry:
        """What /metrics shows: this process's registry, or every worker's series when ``hybrid-ner serve`` runs
        several (``PROMETHEUS_MULTIPROC_DIR`` set)."""
        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            return self.registry
        from prometheus_client import multiprocess

        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
        return merged

    def observe(self, result: Result) -> None:
        for e in result.entities:
            self.entities.labels(e.span.label, e.source.value).inc()
        local = sum(1 for e in result.entities if e.source.value == "local")
        if result.degraded:
            self.degraded.inc()
        llm = result.llm
        escalated = llm["escalated_spans"] if llm else 0
        self.local_spans.inc(local + escalated)
        self._local_total += local + escalated
        self._escalated_total += escalated
        if self._local_total:
            self.escalation_ratio.set(self._escalated_total / self._local_total)
        if not llm:
            return
        self.llm_calls.inc(llm["calls"])
        self.llm_cache_hits.inc(llm["cache_hits"])
        self.escalated.inc(escalated)
        self.llm_tokens.labels("prompt").inc(llm["prompt_tokens"])
        self.llm_tokens.labels("completion").inc(llm["completion_tokens"])
        if llm["cost_usd"]:
            self.llm_cost.inc(llm["cost_usd"])
        for reason in llm["errors"]:
            self.llm_failures.labels(reason).inc()
        for reason, n in llm["dropped"].items():
            if n:
                self.llm_dropped.labels(reason).inc(n)
