"""What a new user waits for after ``make install``: ``python -m eval.first_run`` (``make first-run``).

In an empty data directory it runs what ``make run`` runs (``kb build-default --no-index``, then ``serve``) and
measures, from the start: the first linked answer to ``/v1/annotate`` (an entity with a KB link), and the moment
``/readyz`` says dense retrieval is ready. Nothing else should run on the machine meanwhile.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

TEXT = "Angela Merkel met Emmanuel Macron in Paris to discuss the European Union budget with Siemens."


def _cli() -> str:
    return shutil.which("hybrid-ner", path=str(Path(sys.executable).parent)) or "hybrid-ner"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _poll(base: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any] | None:
    try:
        r = httpx.post(base + path, json=body, timeout=60) if body else httpx.get(base + path, timeout=10)
    except httpx.HTTPError:
        return None
    return r.json() if r.status_code == 200 else None


def measure(data: Path, limit_s: float, kb: Path | None = None, workers: int | None = None) -> dict[str, Any]:
    """The timings, from an empty ``data`` directory; ``kb``: load this file instead of the bundled KB."""
    env = {**os.environ, "HNER_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    if workers:
        env["HNER_WORKERS"] = str(workers)
    started = time.monotonic()
    load = ["kb", "load", str(kb)] if kb else ["kb", "build-default"]
    subprocess.run([_cli(), *load, "--no-index"], env=env, check=True, capture_output=True)
    out: dict[str, Any] = {"kb_loaded_s": round(time.monotonic() - started, 1)}
    port = _port()
    base = f"http://127.0.0.1:{port}"
    with (data / "serve.log").open("w") as log:
        server = subprocess.Popen([_cli(), "serve", "--port", str(port)], env=env, stdout=log, stderr=log)
    try:
        while time.monotonic() - started < limit_s:
            if "first_linked_answer_s" not in out:
                answer = _poll(base, "/v1/annotate", {"text": TEXT})
                if answer and any(e.get("link") and not e["link"]["nil"] for e in answer["entities"]):
                    out["first_linked_answer_s"] = round(time.monotonic() - started, 1)
                    out["first_answer_stages"] = sorted({e["link"]["decision"]["stage"] for e in answer["entities"]})
            ready = _poll(base, "/readyz")
            if ready and ready["linking"]["stages"]["dense"]:
                out["dense_ready_s"] = round(time.monotonic() - started, 1)
                out["index"] = ready["linking"]["index"]
                break
            time.sleep(2)
    finally:
        server.terminate()
        server.wait(timeout=60)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=Path("eval/reports/first_run.json"))
    ap.add_argument("--limit-s", type=float, default=1800)
    ap.add_argument("--kb", type=Path, help="load this KB file instead of the bundled KB (a quick check)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="hner-first-run-") as tmp:
        result = measure(Path(tmp), args.limit_s, args.kb)
    result["cpus"] = os.cpu_count()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
