"""Corpus throughput of ``hybrid-ner batch``: ``--engine local`` against Ray with 1 and 2 workers on the same
corpus in the same run, then a Ray run killed half way and resumed, compared shard by shard with an
uninterrupted one.

``python -m eval.batch_bench --conll ../shared/data/conll2003/train.txt --el-dir ../shared/data/el --docs 20000``

The corpus is CoNLL sentences and ELEVANT articles, repeated with distinct ids. Every number comes from the
command as a user runs it (a fresh process, model loading and Ray start-up included); the summary's docs/s is
records over wall time. Writes ``batch.md`` and ``batch.json`` to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from itertools import cycle, islice
from pathlib import Path
from typing import Any

from eval.datasets import read_dataset

CLI = str(Path(sys.executable).parent / "hybrid-ner")


def build_corpus(conll: Path, el_dir: Path, n: int, path: Path) -> int:
    """``n`` documents: CoNLL sentences and ELEVANT articles in turn, repeated, each with its own id."""
    texts = [d.text for d in read_dataset(conll, "conll").documents]
    for bench in sorted(el_dir.glob("*.benchmark.jsonl")):
        texts += [d.text for d in read_dataset(bench, "elevant").documents]
    with open(path, "w", encoding="utf-8") as fh:
        for i, text in enumerate(islice(cycle(texts), n)):
            fh.write(json.dumps({"id": f"doc-{i:06d}", "text": text}, ensure_ascii=False) + "\n")
    return sum(len(t.split()) for t in islice(cycle(texts), n))


def run(corpus: Path, out: Path, args: list[str], env: dict[str, str]) -> dict[str, Any]:
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    proc = subprocess.run(
        [CLI, "batch", "--input", str(corpus), "--output", str(out), *args], env=env, capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise SystemExit(f"batch {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    summary: dict[str, Any] = json.loads(proc.stdout.splitlines()[-1])
    summary["command_s"] = time.perf_counter() - started
    return summary


def kill_and_resume(corpus: Path, out: Path, args: list[str], env: dict[str, str], shards: int) -> dict[str, Any]:
    """Start a run, SIGKILL it (driver and workers) once about half of its shards are written, then resume it."""
    shutil.rmtree(out, ignore_errors=True)
    cmd = [CLI, "batch", "--input", str(corpus), "--output", str(out), *args]
    proc = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while len(list(out.glob("*.jsonl"))) < shards // 2 and proc.poll() is None:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    written = len(list(out.glob("*.jsonl")))
    resumed = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if resumed.returncode != 0:
        raise SystemExit(f"resume failed:\n{resumed.stderr[-3000:]}")
    return {"killed_after_shards": written, "resumed": json.loads(resumed.stdout.splitlines()[-1])}


def differing_shards(a: Path, b: Path) -> list[str]:
    names = sorted({p.name for p in a.glob("*.jsonl")} | {p.name for p in b.glob("*.jsonl")})
    return [
        n
        for n in names
        if not (a / n).is_file() or not (b / n).is_file() or (a / n).read_bytes() != (b / n).read_bytes()
    ]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--conll", type=Path, required=True)
    ap.add_argument("--el-dir", type=Path, required=True)
    ap.add_argument("--docs", type=int, default=20000)
    ap.add_argument("--shard-size", type=int, default=500)
    ap.add_argument("--workdir", type=Path, default=Path("runs/batch-bench"))
    ap.add_argument("--out", type=Path, default=Path("eval/reports"))
    a = ap.parse_args(argv)
    a.workdir.mkdir(parents=True, exist_ok=True)
    corpus = a.workdir / "corpus.jsonl"
    words = build_corpus(a.conll, a.el_dir, a.docs, corpus)
    env = {**os.environ, "HNER_DATA_DIR": str(a.workdir / "data"), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    shard = ["--shard-size", str(a.shard_size), "--no-link"]
    runs = {
        "local": run(corpus, a.workdir / "local", shard, env),
        "ray-1": run(corpus, a.workdir / "ray-1", [*shard, "--engine", "ray", "--workers", "1"], env),
        "ray-2": run(corpus, a.workdir / "ray-2", [*shard, "--engine", "ray", "--workers", "2"], env),
    }
    shards = -(-a.docs // a.shard_size)
    resume = kill_and_resume(corpus, a.workdir / "resumed", [*shard, "--engine", "ray", "--workers", "2"], env, shards)
    report = {
        "docs": a.docs,
        "words": words,
        "shard_size": a.shard_size,
        "cpus": os.cpu_count(),
        "runs": runs,
        "ray2_over_ray1": runs["ray-2"]["docs_per_s"] / runs["ray-1"]["docs_per_s"],
        "ray1_overhead_vs_local": 1 - runs["ray-1"]["docs_per_s"] / runs["local"]["docs_per_s"],
        "resume": {
            **resume,
            "shards_differing_from_uninterrupted": differing_shards(a.workdir / "ray-2", a.workdir / "resumed"),
        },
        "engines_differing_shards": differing_shards(a.workdir / "local", a.workdir / "ray-2"),
    }
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "batch.json").write_text(json.dumps(report, indent=2))
    (a.out / "batch.md").write_text(markdown(report))
    print(markdown(report))


def markdown(r: dict[str, Any]) -> str:
    lines = [
        "# Corpus annotation: local engine against Ray",
        "",
        f"{r['docs']:,} documents ({r['words']:,} words) in shards of {r['shard_size']}, on {r['cpus']} cores, "
        "no linking. Each run is `hybrid-ner batch` in a fresh process: loading and Ray start-up included.",
        "",
        "| engine | docs/s | wall s | peak RSS per worker (MB) |",
        "|---|---|---|---|",
    ]
    for name, run_ in r["runs"].items():
        rss = ", ".join(f"{v:.0f}" for v in run_["peak_rss_mb_per_worker"].values())
        lines.append(f"| {name} | {run_['docs_per_s']:.1f} | {run_['wall_s']:.1f} | {rss} |")
    res = r["resume"]
    lines += [
        "",
        f"- Ray, 2 workers over 1 worker: **{r['ray2_over_ray1']:.2f}x** (target >= 1.7).",
        f"- Ray overhead at 1 worker against `--engine local`: **{100 * r['ray1_overhead_vs_local']:.1f}%** "
        "(target <= 15%).",
        f"- Killed (SIGKILL to the driver's process group) after {res['killed_after_shards']} shards, then resumed: "
        f"{res['resumed']['shards_run']} shards run on resume; shards differing from the uninterrupted run: "
        f"**{len(res['shards_differing_from_uninterrupted'])}**.",
        f"- Shards differing between `--engine local` and Ray: {len(r['engines_differing_shards'])}.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
