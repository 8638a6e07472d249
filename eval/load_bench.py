"""Load benchmark for the REST service: concurrent clients on loopback, bounded in time and count.

Run: ``python -m eval.load_bench --data PATH/dev.txt [--clients 32] [--seconds 60] [--out eval/reports]``.
It starts ``hybrid-ner serve --workers N`` on a free loopback port with a fresh data directory, then runs
(1) cold: unique ~25-word texts on the local path, (2) warm: 80% of requests repeat a small pool,
(3) the cold run again, to see whether the workers' RSS grows between identical runs. The baseline, measured in
the same run, is the cold phase against one worker.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from hybrid_ner.ner.data import read_tagged

MAX_REQUESTS = 200_000  # a hard bound on any phase, whatever the duration


def texts_from(path: Path, words: int = 25) -> list[str]:
    stream = [w for s in read_tagged(path) for w in s.words]
    return [" ".join(stream[i : i + words]) for i in range(0, len(stream) - words, words)]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def worker_rss_mb(pid: int) -> list[float]:
    """RSS of each worker process of a server (the server itself when it has no children)."""
    children = [int(c) for t in Path(f"/proc/{pid}/task").iterdir() for c in (t / "children").read_text().split()]
    workers = [c for c in children if "resource_tracker" not in Path(f"/proc/{c}/cmdline").read_text()] or [pid]
    return [round(rss_mb(w), 1) for w in workers]


class Connection:
    """One keep-alive HTTP/1.1 connection that posts JSON: the load generator shares the server's two cores, and
    httpx spends several times the CPU per request that this does, which the workers would lose."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
        self.reader, self.writer, self.host = reader, writer, host

    @classmethod
    async def open(cls, base: str) -> Connection:
        host, port = base.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        return cls(reader, writer, f"{host}:{port}")

    async def post(self, path: str, payload: dict[str, Any]) -> tuple[int, bytes]:
        body = json.dumps(payload).encode()
        head = f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
        self.writer.write(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
        status_line, *headers = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        length = next(int(h.split(":", 1)[1]) for h in headers if h.lower().startswith("content-length:"))
        return int(status_line.split()[1]), await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


async def phase(
    base: str,
    clients: int,
    seconds: float,
    pick: Callable[[int], str],
    record: Callable[[float, str, bytes], None] | None = None,
) -> dict[str, Any]:
    """``clients`` keep-alive connections posting ``pick(n)`` for ``seconds``; ``record(started, text, body)``
    sees every answered request (``started``: wall-clock time it was sent)."""
    latencies: list[float] = []
    errors: dict[str, int] = {}
    counter = iter(range(MAX_REQUESTS))
    deadline = time.monotonic() + seconds

    async def client() -> None:
        conn = await Connection.open(base)
        try:
            while time.monotonic() < deadline:
                n = next(counter, None)
                if n is None:
                    return
                started, sent, text = time.perf_counter(), time.time(), pick(n)
                status, body = await conn.post("/v1/extract", {"text": text})
                if status != 200 or b'"entities"' not in body:
                    errors[str(status)] = errors.get(str(status), 0) + 1
                    continue
                latencies.append((time.perf_counter() - started) * 1000)
                if record is not None:
                    record(sent, text, body)
        except (OSError, asyncio.IncompleteReadError) as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
        finally:
            conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    wall = time.perf_counter() - started
    q = np.percentile(latencies, [50, 95, 99]) if latencies else [0, 0, 0]
    return {
        "requests": len(latencies),
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "rps": len(latencies) / wall,
        "p50_ms": float(q[0]),
        "p95_ms": float(q[1]),
        "p99_ms": float(q[2]),
    }


def start_server(state: Path, workers: int, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cli = shutil.which("hybrid-ner", path=str(Path(sys.executable).parent)) or "hybrid-ner"
    extra = env or {}
    env = {**os.environ, "HNER_DATA_DIR": str(state), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", **extra}
    proc = subprocess.Popen(
        [cli, "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    ready: set[int] = set()
    while time.monotonic() < deadline:  # every worker ready (a new connection per probe reaches any of them)
        try:
            r = httpx.get(base + "/readyz", timeout=2)
            if r.status_code == 200:
                ready.add(r.json()["worker"])
                if len(ready) == workers:
                    return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise RuntimeError(f"{len(ready)} of {workers} workers became ready")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    proc.wait(timeout=30)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, required=True, help="CoNLL file to cut ~25-word texts from.")
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="Service workers (default: CPU count).")
    ap.add_argument("--out", type=Path, default=Path("eval/reports"))
    args = ap.parse_args(argv)
    texts = texts_from(args.data)
    rng = random.Random(7)
    pool = texts[:50]

    def cold(n: int) -> str:
        return f"{texts[n % len(texts)]} ({n})"  # unique per request: every one misses the cache

    def warm(n: int) -> str:
        return rng.choice(pool) if rng.random() < 0.8 else cold(n)

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as state:
        proc, base = start_server(Path(state), 1)
        try:
            results["cold_1_worker"] = asyncio.run(phase(base, args.clients, args.seconds, cold))
        finally:
            stop(proc)
    with tempfile.TemporaryDirectory() as state:
        proc, base = start_server(Path(state), args.workers)
        try:
            results["cold"] = asyncio.run(phase(base, args.clients, args.seconds, cold))
            results["rss_after_cold_mb"] = worker_rss_mb(proc.pid)
            results["warm_80pct_repeats"] = asyncio.run(phase(base, args.clients, args.seconds, warm))
            results["cold_again"] = asyncio.run(phase(base, args.clients, args.seconds, cold))
            results["rss_after_second_cold_mb"] = worker_rss_mb(proc.pid)
        finally:
            stop(proc)
    results.update({"clients": args.clients, "seconds": args.seconds, "words_per_text": 25, "workers": args.workers})
    write_report(results, args.out)


def write_report(results: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "load.json").write_text(json.dumps(results, indent=2) + "\n")
    workers = results["workers"]
    rows = [
        f"# Load benchmark: {results['clients']} clients x {results['seconds']:.0f} s per phase, loopback, "
        f"~25-word texts, {workers} workers",
        "",
        "| phase | requests | errors | req/s | p50 ms | p95 ms | p99 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in ("cold_1_worker", "cold", "warm_80pct_repeats", "cold_again"):
        r = results[name]
        rows.append(
            f"| {name} | {r['requests']} | {r['errors']} | {r['rps']:.1f} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} "
            f"| {r['p99_ms']:.1f} |"
        )
    rows += [
        "",
        f"Cold req/s with {workers} workers over 1 worker, same run: "
        f"{results['cold']['rps'] / results['cold_1_worker']['rps']:.2f}x.",
        "",
        f"Worker RSS (MB) after the first cold run: {results['rss_after_cold_mb']}; "
        f"after the second: {results['rss_after_second_cold_mb']}.",
        "",
    ]
    (out / "load.md").write_text("\n".join(rows))
    print("\n".join(rows))


if __name__ == "__main__":
    main()
