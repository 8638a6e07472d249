"""Rollout benchmark: models changed under load in a two-worker service, and the drift alarm.

Run: ``python -m eval.rollout_bench --conll ../shared/data/conll2003 --tweets ../shared/data/wnut17/test.conll
[--part load|drift|all] [--clients 32] [--seconds 60] [--out eval/reports]``.

load: ``hybrid-ner serve --workers 2`` on a fresh data directory, 32 clients of unique ~25-word CoNLL dev texts:
(1) steady state, the baseline of the same run; (2) a candidate in shadow at a 20% sample; (3) a canary of a
recalibrated copy of the default model (same spans, other scores: another digest) from 1% to 100%, then its
promotion through the evaluation gate; (4) a canary of a bad candidate (PER, LOC and ORG swapped), which its
agreement guard must roll back. Each phase reports failed requests, p99 against steady state, and how long after
each transition a request was still served by the old state (from every answer's ``decision.model``).

drift: the packaged model's reference profile (built on CoNLL dev) against two simulated workers' windows (requests
alternate between them, as the kernel spreads connections): an hour of CoNLL test text, news the profile never saw,
at 150 req/s in random order, counting alarms; then tweets, counting requests until the alarm. The same for test
in document order, which no real traffic looks like.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from eval.load_bench import phase, start_server, stop, texts_from

CLI = shutil.which("hybrid-ner", path=str(Path(sys.executable).parent)) or "hybrid-ner"
ADMIN = "bench-admin"
H = {"X-API-Key": ADMIN}
DEFAULT = "ner-conll-minilm-l4-v2"


def variant(root: Path, name: str, edit: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of the shipped default model with its config edited, and its new content digest written beside it."""
    from hybrid_ner.config import DEFAULT_NER_MODEL_DIR
    from hybrid_ner.ner.artifacts import PROFILE_FILE, content_digest

    out = root / name
    shutil.copytree(DEFAULT_NER_MODEL_DIR, out)
    (out / PROFILE_FILE).unlink(missing_ok=True)
    config = json.loads((out / "ner_config.json").read_text())
    edit(config)
    (out / "ner_config.json").write_text(json.dumps(config, indent=2))
    (out / "digest.txt").write_text(content_digest(out) + "\n")
    return out


SWAPPED = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-MISC", "I-MISC"]


def recalibrated(root: Path) -> Path:
    return variant(root, "recal", lambda c: c.update(platt_b=c["platt_b"] + 0.05))


def mislabelling(root: Path) -> Path:
    return variant(root, "swapped", lambda c: c.update(labels=SWAPPED))


# ---------------------------------------------------------------- load


class Recorder:
    """(sent, text, model) of every answer with an entity: which model served which text, when."""

    def __init__(self) -> None:
        self.rows: list[tuple[float, str, str]] = []

    def __call__(self, sent: float, text: str, body: bytes) -> None:
        entities = json.loads(body).get("entities", [])
        if entities:
            self.rows.append((sent, text, entities[0]["decision"]["model"].split("@")[0]))


def _at(value: str) -> float:
    moment = datetime.fromisoformat(value)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def follow_lag(rows: list[tuple[float, str, str]], audit: list[dict[str, Any]]) -> dict[str, Any]:
    """Answers given as the state before a transition would have, though sent after it (by send time): how many,
    and the latest of them after its transition."""
    import bisect

    from hybrid_ner.rollout.deployments import sticky_point

    def expected(state: dict[str, Any], text: str) -> str:
        served = state.get("served") or DEFAULT
        takes = state.get("candidate") and sticky_point(text) < state.get("share", 0.0)
        return str(state["candidate"]) if takes else served

    changes = sorted((_at(e["at"]), e["before"], e["after"]) for e in audit if e["object_type"] == "deployment")
    times = [c[0] for c in changes]
    worst, stale = 0.0, 0
    for sent, text, model in rows:
        i = bisect.bisect_right(times, sent) - 1
        if i < 0:
            continue
        at, before, after = changes[i]
        if model != expected(after, text) and model == expected(before, text):
            stale += 1
            worst = max(worst, sent - at)
    return {"transitions": len(changes), "stale_answers": stale, "max_lag_s": round(worst, 3)}


async def _admin(base: str, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base, timeout=300, headers=H) as client:
        r = await client.request(method, path, json=body)
        data = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
        return {"status": r.status_code, **(data if isinstance(data, dict) else {"body": data})}


async def _until(base: str, name: str, done: Callable[[dict[str, Any]], bool], seconds: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        report = await _admin(base, "GET", f"/v1/admin/models/{name}/report")
        if done(report):
            return time.monotonic() - started
        await asyncio.sleep(0.5)
    return -1.0


def _mode(report: dict[str, Any]) -> str:
    found = report.get("deployments") or [{}]
    return str(found[0].get("mode", "gone"))


async def _canary_then_promote(base: str, steps: list[float], min_requests: int) -> dict[str, Any]:
    await asyncio.sleep(5)
    plan = {"steps": steps, "min_requests": min_requests, "guards": {"min_agreement": 0.9}}
    started = await _admin(base, "POST", "/v1/admin/models/recal/canary", plan)
    to_ready = await _until(base, "recal", lambda r: _mode(r) == "ready", 120)
    t0 = time.monotonic()
    promoted = await _admin(base, "POST", "/v1/admin/models/recal/promote", {})
    return {"canary_status": started["status"], "seconds_to_100pct": round(to_ready, 1),
            "promote_status": promoted["status"], "promote_s": round(time.monotonic() - t0, 1),
            "gate": promoted.get("gate")}  # fmt: skip


async def _bad_canary(base: str, steps: list[float], min_requests: int) -> dict[str, Any]:
    await asyncio.sleep(5)
    plan = {"steps": steps, "min_requests": min_requests, "guards": {"min_agreement": 0.8}}
    started = await _admin(base, "POST", "/v1/admin/models/swapped/canary", plan)
    took = await _until(base, "swapped", lambda r: not r.get("deployments"), 120)
    return {"canary_status": started["status"], "seconds_to_rollback": round(took, 1)}


async def _with(base: str, clients: int, seconds: float, pick: Callable[[int], str], act: Any) -> dict[str, Any]:
    recorder = Recorder()
    load, acted = await asyncio.gather(phase(base, clients, seconds, pick, recorder), act)
    audit = await _admin_list(base)
    return {**load, **acted, "follow": follow_lag(recorder.rows, audit)}


async def _admin_list(base: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=base, timeout=60, headers=H) as client:
        rows: list[dict[str, Any]] = (await client.get("/v1/admin/audit?limit=100")).json()
        return rows


def load_part(args: argparse.Namespace) -> dict[str, Any]:
    from hybrid_ner.ner.data import read_tagged

    texts = texts_from(args.conll / "dev.txt")
    counter = iter(range(10**9))

    def unique(n: int) -> str:
        return f"{texts[n % len(texts)]} ({next(counter)})"

    out: dict[str, Any] = {"clients": args.clients, "seconds": args.seconds, "workers": 2}
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        env = {"HNER_ADMIN_KEYS": ADMIN, "HNER_CACHE_SIZE": "0", "HNER_ROLLOUT_TICK_S": "0.5"}
        full = {**os.environ, "HNER_DATA_DIR": str(state / "data"), **env}
        for name, path in (("recal", recalibrated(state)), ("swapped", mislabelling(state))):
            subprocess.run([CLI, "models", "add", name, str(path)], env=full, check=True, capture_output=True)
        sentences = read_tagged(args.conll / "dev.txt")[: args.eval_sentences]
        evalset = state / "news.conll"
        evalset.write_text("\n\n".join("\n".join(f"{w} {t}" for w, t in zip(s.words, s.tags, strict=True))
                                       for s in sentences) + "\n")  # fmt: skip
        subprocess.run([CLI, "models", "evalset", "news", str(evalset)], env=full, check=True,
                       capture_output=True)  # fmt: skip
        proc, base = start_server(state / "data", 2, env)
        try:
            out["steady"] = asyncio.run(phase(base, args.clients, args.seconds, unique))
            asyncio.run(_admin(base, "POST", "/v1/admin/models/recal/shadow", {"sample": 0.2}))
            out["shadow_20pct"] = asyncio.run(phase(base, args.clients, args.seconds, unique))
            out["shadow_20pct"]["report"] = asyncio.run(_admin(base, "GET", "/v1/admin/models/recal/report"))
            asyncio.run(_admin(base, "POST", "/v1/admin/models/rollback"))
            steps, n = [1.0, 5.0, 25.0, 100.0], args.min_requests
            out["canary_promote"] = asyncio.run(
                _with(base, args.clients, args.seconds, unique, _canary_then_promote(base, steps, n))
            )
            asyncio.run(_admin(base, "POST", "/v1/admin/models/rollback"))  # back to the default model
            out["bad_canary"] = asyncio.run(
                _with(base, args.clients, args.seconds, unique, _bad_canary(base, steps, n))
            )
        finally:
            stop(proc)
    return out


# ---------------------------------------------------------------- drift


def drift_part(args: argparse.Namespace) -> dict[str, Any]:
    from hybrid_ner.config import DEFAULT_NER_MODEL_DIR, get_settings
    from hybrid_ner.pipeline import Pipeline
    from hybrid_ner.rollout import drift
    from hybrid_ner.rollout.profile import reference_texts

    settings = get_settings()
    reference = drift.read_profile(DEFAULT_NER_MODEL_DIR)
    assert reference is not None, "the packaged model has no profile.json"
    pipeline = Pipeline(strategy="local")
    news = reference_texts(args.conll / "test.txt", 100_000)  # only its text: the profile is dev's
    tweets = reference_texts(args.tweets, 100_000)
    threshold = settings.ner_threshold
    news_samples = [
        drift.sample(t, r, threshold) for t, r in zip(news, pipeline.extract(news, link=False), strict=True)
    ]
    tweet_samples = [
        drift.sample(t, r, threshold) for t, r in zip(tweets, pipeline.extract(tweets, link=False), strict=True)
    ]
    rng = random.Random(13)
    hour = args.hour_rps * 3600

    def windows() -> list[drift.Window]:
        s = settings
        return [drift.Window(reference, s.drift_window, s.drift_min, s.drift_threshold) for _ in range(2)]

    def run(stream: list[drift.Sample], ws: list[drift.Window], stop_at_alarm: bool) -> tuple[int, int | None]:
        alarms, first = 0, None
        for i, s in enumerate(stream):
            w = ws[i % 2]
            w.add(s)
            if w.live.texts >= w.minimum and w.report()["alarm"]:
                alarms += 1
                first = i + 1 if first is None else first
                if stop_at_alarm:
                    break
        return alarms, first

    out: dict[str, Any] = {"window": settings.drift_window, "minimum": settings.drift_min,
                           "threshold": settings.drift_threshold, "hour_requests": hour}  # fmt: skip
    ws = windows()
    shuffled = [rng.choice(news_samples) for _ in range(hour)]
    alarms, _ = run(shuffled, ws, stop_at_alarm=False)
    out["news_random_order"] = {"requests": hour, "alarmed_requests": alarms, "false_alarm_rate": alarms / hour}
    _, first = run(rng.sample(tweet_samples, len(tweet_samples)), ws, stop_at_alarm=True)
    out["tweets_after_news"] = {"requests_until_alarm": first}
    ordered = (news_samples * (hour // len(news_samples) + 1))[: len(news_samples) * 3]
    alarms, _ = run(ordered, windows(), stop_at_alarm=False)
    out["news_document_order"] = {"requests": len(ordered), "alarmed_requests": alarms}
    return out


def write_report(results: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "rollout.json").write_text(json.dumps(results, indent=2) + "\n")
    rows = ["# Rollout benchmark", ""]
    load = results.get("load")
    if load:
        base = load["steady"]
        rows += [f"Under load: {load['clients']} clients x {load['seconds']:.0f} s per phase, unique ~25-word texts, "
                 "2 workers, loopback.", "",
                 "| phase | requests | failed | req/s | p95 ms | p99 ms | p95 / steady | p99 / steady | stale answers "
                 "| max lag s |", "|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
        for name in ("steady", "shadow_20pct", "canary_promote", "bad_canary"):
            r = load[name]
            follow = r.get("follow", {})
            rows.append(
                f"| {name} | {r['requests']} | {r['errors']} | {r['rps']:.1f} | {r['p95_ms']:.1f} | {r['p99_ms']:.1f} "
                f"| {r['p95_ms'] / base['p95_ms']:.2f} | {r['p99_ms'] / base['p99_ms']:.2f} "
                f"| {follow.get('stale_answers', '-')} | {follow.get('max_lag_s', '-')} |"
            )
        shadow = load["shadow_20pct"]["report"].get("deployments", [{}])
        cand = shadow[0].get("counts", {}).get("candidate", {}) if shadow else {}
        cp, bad = load["canary_promote"], load["bad_canary"]
        rows += ["",
                 f"Shadow: {cand.get('requests')} texts run off the path, {cand.get('dropped')} dropped, agreement "
                 f"{cand.get('agreement')}.",
                 f"Canary 1% to 100%: {cp['seconds_to_100pct']} s; promotion through the gate: status "
                 f"{cp['promote_status']} in {cp['promote_s']} s, gate {json.dumps(cp.get('gate'))}.",
                 f"Bad candidate: rolled back {bad['seconds_to_rollback']} s after its canary began.", ""]  # fmt: skip
    d = results.get("drift")
    if d:
        rows += [f"Drift (window {d['window']} texts per worker, alarm after {d['minimum']}, PSI > {d['threshold']}, "
                 "two workers; the model's profile is built on CoNLL dev, the news traffic is CoNLL test's text):", "",
                 f"- an hour of news at {d['hour_requests'] // 3600} req/s in random order "
                 f"({d['hour_requests']} requests): {d['news_random_order']['alarmed_requests']} alarmed requests "
                 f"(false-alarm rate {d['news_random_order']['false_alarm_rate']:.5f});",
                 f"- then WNUT-17 test tweets: alarm after {d['tweets_after_news']['requests_until_alarm']} requests;",
                 f"- the news in document order ({d['news_document_order']['requests']} requests): "
                 f"{d['news_document_order']['alarmed_requests']} alarmed requests (one corpus streamed in order "
                 "is itself a shift of mix: sports tables, then news).", ""]  # fmt: skip
    (out / "rollout.md").write_text("\n".join(rows))
    print("\n".join(rows))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument(
        "--conll", type=Path, required=True, help="The CoNLL-2003 directory (dev.txt, and test.txt's text for drift)."
    )
    ap.add_argument("--tweets", type=Path, required=True, help="WNUT-17 test.conll.")
    ap.add_argument("--part", choices=["load", "drift", "all"], default="all")
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--min-requests", type=int, default=20, help="Texts per canary step.")
    ap.add_argument("--eval-sentences", type=int, default=300, help="CoNLL dev sentences in the gate's set.")
    ap.add_argument("--hour-rps", type=int, default=150, help="Requests per second an hour of traffic stands for.")
    ap.add_argument("--out", type=Path, default=Path("eval/reports"))
    args = ap.parse_args(argv)
    previous = args.out / "rollout.json"
    results: dict[str, Any] = json.loads(previous.read_text()) if previous.is_file() else {}
    if args.part in ("drift", "all"):
        results["drift"] = drift_part(args)
    if args.part in ("load", "all"):
        results["load"] = load_part(args)
    write_report(results, args.out)


if __name__ == "__main__":
    main()
