"""The service over real HTTP: uvicorn on 127.0.0.1 in a subprocess, headless Chromium, and schemathesis."""

import asyncio
import contextlib
import functools
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.test_linking import KB

pytestmark = pytest.mark.integration

ADMIN = "http-admin-key"
SECRET = "Qwertyuiop Zanzibarian visited Berlin."
CLI = shutil.which("hybrid-ner", path=str(Path(sys.executable).parent)) or "hybrid-ner"
CHROMIUM = "/usr/bin/chromium"
# A request's timeout here guards against a hang, nothing more: a busy machine may take seconds for the first one.
HANG_S = 120
http_get = functools.partial(httpx.get, timeout=HANG_S)
http_post = functools.partial(httpx.post, timeout=HANG_S)
http_put = functools.partial(httpx.put, timeout=HANG_S)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_ready(base: str, proc: subprocess.Popen, log_path: Path, seconds: float = 120) -> None:
    """Poll ``/readyz`` until the server answers 200; fail with its log if it exits or never gets there."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            pytest.fail("server exited:\n" + log_path.read_text())
        time.sleep(0.5)
    proc.terminate()
    pytest.fail("server did not become ready:\n" + log_path.read_text())


@contextlib.contextmanager
def serving(env: dict[str, str], state: Path, workers: int = 2) -> Iterator[str]:
    """``hybrid-ner serve --workers N`` on a free port until the block ends; yields its base URL. The server gets
    its own temp dir (``state/tmp``), where it must leave nothing of its own once it has stopped."""
    port, log_path, scratch = free_port(), state / "server.log", state / "tmp"
    scratch.mkdir(exist_ok=True)
    with open(log_path, "w") as log_file:
        command = [CLI, "serve", "--port", str(port), "--workers", str(workers)]
        env = {**env, "TMPDIR": str(scratch)}
        proc = subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(base, proc, log_path)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    # (ONNX Runtime keeps one small ``.ses`` file in the temp dir, reused by every process.)
    assert not list(scratch.glob("hner-*")), "the stopped server left its folders in the temp dir"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    state = tmp_path_factory.mktemp("server")
    env = {
        **os.environ,
        "HNER_DATA_DIR": str(state),
        "HNER_ADMIN_KEYS": ADMIN,
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
    }
    kb_file = state / "kb.jsonl"
    kb_file.write_text("".join(json.dumps(e) + "\n" for e in KB))
    subprocess.run([CLI, "kb", "load", str(kb_file)], env=env, check=True, capture_output=True, timeout=300)
    with serving(env, state) as base:
        yield base, state / "server.log"


def test_extract_and_admin_over_http(server):
    base, _ = server
    r = http_post(base + "/v1/extract", json={"text": "Angela Merkel visited Paris."})
    assert r.status_code == 200 and r.headers["x-request-id"]
    assert {e["label"] for e in r.json()["entities"]} >= {"PER", "LOC"}
    assert http_get(base + "/v1/admin/schemas/default").status_code == 401
    assert http_get(base + "/v1/admin/schemas/default", headers={"X-API-Key": ADMIN}).status_code == 200
    assert http_get(base + "/docs").status_code == 200


def test_two_workers_share_the_load_and_report_metrics_together(server):
    base, log_path = server
    assert "2 worker(s)" in log_path.read_text()
    assert len(list((log_path.parent / "tmp").glob("hner-metrics-*"))) == 1  # removed when it stops
    workers = set()
    for _ in range(40):  # a new connection each time, so the kernel spreads them over the workers' accept loops
        with httpx.Client(base_url=base, timeout=30) as client:
            workers.add(client.get("/readyz").json()["worker"])
    assert len(workers) == 2, workers

    def served() -> float:
        lines = http_get(base + "/metrics").text.splitlines()
        return sum(float(x.split()[-1]) for x in lines if x.startswith('hner_requests_total{endpoint="/v1/extract"'))

    before = served()
    for i in range(6):
        with httpx.Client(base_url=base, timeout=30) as client:
            assert client.post("/v1/extract", json={"text": f"Worker test {i} in Berlin."}).status_code == 200
    assert served() - before == 6  # counted once each, whichever worker answered


def test_concurrent_requests_are_micro_batched(server):
    base, _ = server

    async def burst():
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            texts = [f"Company {i} hired Angela Merkel in Berlin on day {i}." for i in range(24)]
            return await asyncio.gather(*(client.post("/v1/extract", json={"text": t}) for t in texts))

    responses = asyncio.run(burst())
    assert all(r.status_code == 200 for r in responses)
    metrics = http_get(base + "/metrics").text
    count = next(
        float(line.split()[-1]) for line in metrics.splitlines() if line.startswith("hner_microbatch_texts_count")
    )
    total = next(
        float(line.split()[-1]) for line in metrics.splitlines() if line.startswith("hner_microbatch_texts_sum")
    )
    assert total >= 24
    assert count < total  # at least one batch held more than one request


def test_logs_are_structured_and_never_hold_request_text(server):
    base, log_path = server
    http_post(base + "/v1/extract", json={"text": SECRET})
    http_post(base + "/v1/extract", json={"texts": [SECRET, 5]})
    http_post(base + "/v1/extract", content=SECRET.encode(), headers={"content-type": "text/plain"})
    time.sleep(0.3)
    lines = [line for line in log_path.read_text().splitlines() if line.startswith("{")]
    assert lines and all(json.loads(line)["level"] for line in lines)
    assert "Zanzibarian" not in log_path.read_text()


chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not os.environ.get("CI"), reason="Debian chromium (installed by .ci/run)"
)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]


@pytest.fixture()
def offline_page(server):
    """A headless Chromium page that may reach the service on loopback and nothing else; every other request
    is aborted and recorded."""
    from playwright.sync_api import sync_playwright

    base, _ = server
    blocked: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context()

        def only_loopback(route):  # type: ignore[no-untyped-def]
            if route.request.url.startswith(base):
                route.continue_()
            else:
                blocked.append(route.request.url)
                route.abort()

        context.route("**/*", only_loopback)
        yield context.new_page(), base, blocked
        browser.close()


@chromium
def test_playground_in_headless_chromium(server, offline_page, tmp_path):
    page, base, blocked = offline_page
    http_post(
        base + "/v1/admin/overrides",
        json={"pattern": "Angela Merkel", "action": "redact"},
        headers={"X-API-Key": ADMIN},
    ).raise_for_status()
    page.goto(base + "/")
    page.wait_for_function("document.getElementById('legend').innerText.includes('MISC')", timeout=30_000)
    legend = page.inner_text("#legend")
    assert all(label in legend for label in ("PER", "ORG", "LOC", "MISC")) and "found by the LLM" in legend
    page.fill("#text", "Angela Merkel met Emmanuel Macron in Paris. <b>not markup</b>")
    page.click("#run")
    page.wait_for_selector("mark.ent", timeout=30_000)
    marks = page.eval_on_selector_all(
        "mark.ent", "els => els.map(e => [e.dataset.label, e.firstChild.textContent, e.className])"
    )
    assert marks, "expected highlighted entities"
    by_text = {text: (label, classes) for label, text, classes in marks}
    assert "Paris" in by_text and "nil" not in by_text["Paris"][1]  # linked to the KB
    assert "Emmanuel Macron" in by_text and "nil" in by_text["Emmanuel Macron"][1]  # not in the KB: NIL
    assert "█" * 13 in by_text and "redacted" in by_text["█" * 13][1]  # masked in the page too
    assert "Angela Merkel" not in page.inner_text("#output")
    assert page.locator("#output b").count() == 0  # the input's markup stays text
    page.click("mark.ent:has-text('Paris')")
    detail = page.inner_text("#detail")
    assert "geonames:2988507" in detail and "candidates" in detail and "{" not in detail  # fields, not raw JSON
    assert "city" in detail and "France" in detail and "geonames.org/2988507" in detail  # types, description, page
    assert "decided by" in detail and ("alias" in detail or "dense" in detail)  # which linking stage decided it
    page.wait_for_function("document.getElementById('linking').innerText.includes('dense')", timeout=30_000)
    assert page.inner_text("#linking").startswith("linking: alias, dense")  # what /readyz says is running
    page.click("#run")  # a new run clears the detail pane
    assert page.locator("#detail").is_hidden()
    page.wait_for_selector("mark.ent", timeout=30_000)
    page.screenshot(path=str(tmp_path / "playground.png"))
    assert blocked == []


@chromium
def test_playground_shows_the_dense_index_graph_phase(offline_page):
    """The page renders what /readyz says while the HNSW graph is linked after the last vector (a phase the real
    service reaches on a large KB only): here /readyz answers from a canned body, a fake named as such."""
    page, base, _ = offline_page
    fake_readyz = {
        "status": "ready",
        "linking": {
            "stages": {"alias": True, "dense": False, "cross_encoder": False, "llm": False},
            "index": {"state": "building", "phase": "graph", "done": 135448, "total": 135448},
        },
    }
    page.route(base + "/readyz", lambda route: route.fulfill(json=fake_readyz))
    page.goto(base + "/")
    page.wait_for_function("document.getElementById('linking').innerText.includes('graph')", timeout=30_000)
    assert page.inner_text("#linking") == "linking: alias · dense index building 100% embedded, linking its graph"


@chromium
def test_api_docs_render_offline(offline_page):
    page, base, blocked = offline_page
    page.goto(base + "/docs")
    page.wait_for_selector(".opblock", timeout=30_000)  # Swagger UI rendered the operations
    assert "/v1/annotate" in page.inner_text("body")
    page.goto(base + "/redoc")
    page.wait_for_selector("[data-section-id]", timeout=30_000)  # ReDoc rendered its sections
    assert "/v1/link" in page.content()
    assert blocked == [], f"the docs tried to reach the network: {blocked[:3]}"
