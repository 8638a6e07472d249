"""The API contract under a fuzzer: schemathesis 4 against the live service (``hybrid-ner serve``, one worker, a
fresh data directory, an admin key), every phase (examples, coverage, fuzzing, stateful) and every check except
``positive_data_acceptance`` (a body can be valid JSON Schema and still wrong for the service: a span outside
its text, a model path that is not a model). The LLM points at a closed port, so LLM strategies fail fast and
degrade as they would in production. Exits non-zero on any failure or error.

Run: ``python -m eval.fuzz [--max-examples 10] [--max-time 400] [--out eval/reports]`` (``make fuzz``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from eval.load_bench import start_server, stop

ADMIN = "fuzz-admin"
HOOKS = "eval.fuzz_hooks"  # the JSON-lines body of the bulk import, which schemathesis cannot serialise itself


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--max-examples", type=int, default=10)
    ap.add_argument("--max-time", type=int, default=400, help="Seconds for the whole run.")
    ap.add_argument("--out", type=Path, default=Path("eval/reports"))
    args = ap.parse_args(argv)
    env = {"HNER_ADMIN_KEYS": ADMIN, "HNER_LLM_MODEL": "openai/none", "HNER_LLM_API_BASE": "http://127.0.0.1:9",
           "HNER_LLM_RETRIES": "0", "HNER_LLM_TIMEOUT_S": "2"}  # fmt: skip
    st = shutil.which("st", path=str(Path(sys.executable).parent)) or "st"
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as state:
        proc, base = start_server(Path(state), 1, env)
        try:
            run = subprocess.run(
                [st, "run", f"{base}/openapi.json", "-H", f"X-API-Key: {ADMIN}",
                 "--exclude-checks", "positive_data_acceptance", "-n", str(args.max_examples),
                 "--max-time", str(args.max_time), "--generation-deterministic",
                 "--report-json-path", str(args.out / "fuzz.json")],
                env={**os.environ, "SCHEMATHESIS_HOOKS": HOOKS, "PYTHONPATH": os.getcwd()},
                capture_output=True, text=True,
            )  # fmt: skip
        finally:
            stop(proc)
    (args.out / "fuzz.txt").write_text(run.stdout + run.stderr)
    print(run.stdout[-6000:])
    return run.returncode


if __name__ == "__main__":
    sys.exit(main())
