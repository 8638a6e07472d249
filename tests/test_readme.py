"""The README is executable: its CLI examples run as written (long jobs through a documented short variant), and
its route table is the app's route table."""

import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT
from tests.test_cli import CLI
from tests.test_service_http import free_port, wait_until_ready

pytestmark = pytest.mark.integration

README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCK = re.compile(r"```bash\n(.*?)```", re.S)
# README commands that take minutes (or never end), each with what runs instead: a short variant that the README
# documents beside it, or the same command on smaller input.
LONG = {
    "hybrid-ner serve": "served below on a free port, probed, stopped",
    "hybrid-ner kb build-default": "kb build-default --no-index (the embedding is the long part)",
    "hybrid-ner kb load ../shared/data/el/kb.jsonl": "kb load of a small JSONL in the quick KB block",
    "hybrid-ner eval run": "eval run --strategies local --limit 20",
    "hybrid-ner eval compare": "eval compare of the short run with itself",
    "hybrid-ner batch --input corpus/": "tests/test_batch.py: --engine ray --address against a Ray head it starts",
}


def blocks() -> list[str]:
    """The README's bash blocks, continuation lines joined."""
    return [b.replace("\\\n", " ") for b in BLOCK.findall(README)]


def commands(block: str) -> list[str]:
    return [line.strip() for line in block.splitlines() if "hybrid-ner " in line and not line.startswith("make")]


def is_long(command: str) -> bool:
    return any(key in command for key in LONG)


def test_every_readme_command_is_run_here():
    found = [c for b in blocks() for c in commands(b)]
    assert len(found) >= 10, "expected the README's CLI examples"
    for b in blocks():
        cmds = commands(b)
        # A block is run whole when none of its commands is long; a long one needs a variant in LONG.
        assert all(is_long(c) for c in cmds) or not any(is_long(c) for c in cmds), b


@pytest.fixture()
def env(tmp_path):
    data = tmp_path / "data"
    return {**os.environ, "HNER_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """Where the blocks' ``/tmp/hner-demo`` goes in the tests: one folder the blocks share, removed with the run's."""
    return tmp_path_factory.mktemp("hner-demo")


@pytest.mark.parametrize("index", range(len([b for b in blocks() if commands(b) and not is_long(commands(b)[0])])))
def test_readme_block_runs(index, env, demo):
    block = [b for b in blocks() if commands(b) and not is_long(commands(b)[0])][index].replace(
        "/tmp/hner-demo", str(demo)
    )
    proc = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert rows and all(isinstance(r, dict) for r in rows)  # every command prints JSON objects
    extracted = [r for r in rows if isinstance(r.get("entities"), list) and "degraded" in r]
    assert extracted or any("records" in r or "out" in r for r in rows), "a block prints results or a summary"
    for row in extracted:
        assert isinstance(row["degraded"], bool)
        for e in row["entities"]:
            assert set(e) >= {"start", "end", "text", "label", "score", "source", "decision"}


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_long_kb_and_eval_commands_through_their_short_variants(env, tmp_path):
    # fewer titles, a quicker build: 100 redirects to join, 50 to join name-only, 45 to join name-only if typed
    fewer = ["--min-redirects", "100", "--name-only-redirects", "50", "--typed-redirects", "45"]
    titles = tmp_path / "all-titles-in-ns0"  # a few lines of a Wikipedia dump's list, for --titles-file
    titles.write_text("Tim_Cook\nEmmanuel_Macron\nParis\nHelp:Contents\n", encoding="utf-8")
    built = run(["kb", "build-default", "--no-index", *fewer, "--titles-file", str(titles)], env)
    assert built.returncode == 0, built.stderr[-2000:]
    summary = json.loads(built.stdout.splitlines()[-1])
    assert summary["entities"] > 75_000 and 10_000 < summary["wikipedia"]["added"] < 20_000
    wikipedia = summary["wikipedia"]  # name-only: titles with 50 to 99 redirects, less places and vital articles
    assert wikipedia["name_only"] > 0 and wikipedia["name_only"] + wikipedia["place_named"] <= 145 + 58
    assert 0 < wikipedia["typed_name_only"] < 58  # of the 58 titles with 45 to 49 redirects, the typed ones
    # the two people join name-only; Paris is a place of the KB already, Help:Contents no article
    expected = {"listed": 4, "held": 1, "place_named": 0, "pages": 1, "added": 2, "unreadable_files": 0}
    assert summary["all_titles"] == expected
    from hybrid_ner.config import Settings
    from kb.db import open_db
    from kb.store import SQLKBStore

    engine, sessions = open_db(Settings(data_dir=Path(env["HNER_DATA_DIR"])).database_url)
    store = SQLKBStore(sessions)
    assert store.by_alias(["tim cook", "emmanuel macron"]) == {
        "tim cook": ["dbpedia:tim_cook"],
        "emmanuel macron": ["dbpedia:emmanuel_macron"],
    }
    assert store.get(["dbpedia:emmanuel_macron"])["dbpedia:emmanuel_macron"].name == "Emmanuel Macron"
    engine.dispose()
    conll = ROOT.parent / "shared" / "data" / "conll2003" / "dev.txt"
    if not conll.is_file():
        pytest.skip("the shared CoNLL data is not beside the repository")
    out = tmp_path / "eval"
    clean = {**env, "HNER_DATA_DIR": str(tmp_path / "eval-data")}  # no KB: the harness scores NER here
    ran = run(["eval", "run", "--data", str(conll), "--strategies", "local", "--limit", "20", "--out", str(out)], clean)
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert (out / "report.json").is_file() and "local" in ran.stdout
    same = run(["eval", "compare", str(out), str(out), "--max-f1-drop", "0.01"], clean)
    assert same.returncode == 0, same.stderr[-2000:]


def test_serve_as_the_readme_shows(env, tmp_path):
    (line,) = [c for b in blocks() for c in commands(b) if "hybrid-ner serve" in c]
    args = shlex.split(line.split("#")[0])[1:]
    port = free_port()
    args[args.index("--port") + 1] = str(port)
    log_path = tmp_path / "serve.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([CLI, *args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_ready(base, proc, log_path)
        body = httpx.post(base + "/v1/extract", json={"text": "Angela Merkel visited Paris."}, timeout=60).json()
        assert body["entities"], "expected entities"
        assert httpx.get(base + "/docs", timeout=10).status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def readme_routes() -> set[tuple[str, str]]:
    section = README.split("### REST", 1)[1].split("\n## ", 1)[0]
    out = set()
    for row in (line for line in section.splitlines() if line.startswith("| `")):
        for methods, path in re.findall(r"`([A-Z/]+) (/[^`]*)`", row.split(" | ")[0]):
            out |= {(m, path) for m in methods.split("/")}
    return out


def test_the_readme_route_table_is_the_apps(tmp_path):
    from fastapi.testclient import TestClient

    from hybrid_ner.config import Settings
    from hybrid_ner.pipeline import Pipeline
    from hybrid_ner.service.app import create_app
    from tests.fakes import FakeExtractor

    settings = Settings(data_dir=tmp_path)
    app = create_app(settings, Pipeline(settings=settings, extractor=FakeExtractor([])))
    documented = {(m.upper(), path) for path, ops in app.openapi()["paths"].items() for m in ops}
    pages = {("GET", "/"), ("GET", "/docs"), ("GET", "/redoc"), ("GET", "/openapi.json")}
    assert readme_routes() == documented | pages
    with TestClient(app) as client:
        for _, path in pages:
            assert client.get(path).status_code == 200, path


def test_readme_flags_exist():
    """Every ``--flag`` the README shows after a ``hybrid-ner`` command is in that command's ``--help``."""
    helps: dict[tuple[str, ...], str] = {}
    for b in blocks():
        for line in commands(b):
            words = shlex.split(line.split("#")[0].split("|")[-1].split(">")[0])
            at = next(i for i, w in enumerate(words) if w.endswith("hybrid-ner"))
            sub = tuple(w for w in words[at + 1 : at + 3] if not w.startswith("-") and re.fullmatch(r"[a-z-]+", w))
            key = sub[:2] if sub[:1] in {("kb",), ("eval",), ("models",), ("feedback",)} else sub[:1]
            if key not in helps:
                helps[key] = subprocess.run([CLI, *key, "--help"], capture_output=True, text=True).stdout
            for flag in (w.split("=")[0] for w in words[at + 1 :] if w.startswith("--")):
                assert flag in helps[key], f"README shows `hybrid-ner {' '.join(key)} {flag}`"


def test_docs_examples_do_not_point_at_missing_paths():
    for path in re.findall(r"\]\(((?:eval|hybrid_ner|linking|kb)/[^)#]+)\)", README):
        assert Path(ROOT / path).exists(), path


def test_every_bound_in_the_api_reaches_the_openapi_schema(tmp_path):
    """Bounds on an optional or union field must appear as JSON Schema's minimum/maximum, never as pydantic's
    ge/le keywords that clients and schemathesis ignore (they would send values the service then rejects)."""
    from hybrid_ner.config import Settings
    from hybrid_ner.pipeline import Pipeline
    from hybrid_ner.service.app import create_app
    from tests.fakes import FakeExtractor

    settings = Settings(data_dir=tmp_path)
    spec = create_app(settings, Pipeline(settings=settings, extractor=FakeExtractor([]))).openapi()
    unknown: list[str] = []

    def walk(node, path):  # type: ignore[no-untyped-def]
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("ge", "le", "gt", "lt") and not isinstance(value, dict):
                    unknown.append(f"{path}/{key}")
                walk(value, f"{path}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{path}[{i}]")

    walk(spec, "")
    assert unknown == []


@pytest.mark.parametrize(("workers", "expected"), [(None, "-n 2 --dist loadfile"), ("3", "-n 3 --dist loadfile"),
                                                   ("1", "-p no:xdist")])  # fmt: skip
def test_make_test_runs_the_suite_in_the_processes_the_readme_names(workers, expected):
    """``make test`` passes TEST_WORKERS to pytest-xdist as the README says (a dry run: nothing is executed)."""
    assert "TEST_WORKERS=N" in README
    args = ["make", "-n", "-o", ".venv/.installed", "test"] + ([f"TEST_WORKERS={workers}"] if workers else [])
    out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    pytest_lines = [line for line in out.splitlines() if "/pytest " in line]
    assert len(pytest_lines) == 1, out
    assert pytest_lines[0].endswith(expected), pytest_lines[0]
    assert ("-n " in pytest_lines[0]) == (workers != "1")
