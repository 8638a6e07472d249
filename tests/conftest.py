"""Shared fixtures. One thread per process (see ENVIRONMENT.md), and the model hub is off."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest


def _scratch(variable: str, prefix: str, per_worker: bool = False) -> None:
    """Point ``variable`` at a fresh folder that is removed when the run ends, unless the caller set it.

    Under pytest-xdist the workers inherit the main process's folder; with ``per_worker`` each takes a folder of
    its own inside it, so that no two workers' tests share a database."""
    mark, worker = f"HNER_TEST_SCRATCH_{variable}", os.environ.get("PYTEST_XDIST_WORKER")
    if variable not in os.environ:
        os.environ[variable] = os.environ[mark] = folder = tempfile.mkdtemp(prefix=prefix)
        atexit.register(shutil.rmtree, folder, True)
    elif per_worker and worker and os.environ.get(mark) == os.environ[variable]:
        os.environ[variable] = os.path.join(os.environ[mark], worker)
        os.makedirs(os.environ[variable], exist_ok=True)


os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ["HF_HUB_OFFLINE"] = "1"
# Anything that falls back to the default data dir (the CLI in a subprocess, say) writes to a scratch folder.
_scratch("HNER_DATA_DIR", "hner-test-", per_worker=True)
# The linker's ONNX graph depends on the installed package alone: built once per run (and shared by its workers,
# which write it whole), not once per test's data dir.
_scratch("HNER_ENCODER_CACHE", "hner-encoders-")

from hybrid_ner.config import DEFAULT_NER_MODEL_DIR  # noqa: E402 (after the environment it reads)

ROOT = Path(__file__).resolve().parents[1]
CONLL_SAMPLE = """Maria NNP B-PER
Fernandes NNP I-PER
visited VBD O
Berlin NNP B-LOC
. . O

The DT O
Atlantic NNP B-ORG
Federation NNP I-ORG
backed VBD O
Danish JJ B-MISC
farmers NNS O
. . O

"""


@pytest.fixture(scope="session")
def local_ner():  # type: ignore[no-untyped-def]
    """The shipped default model, loaded once (real weights, real base package)."""
    from hybrid_ner.ner.extractor import LocalNER

    return LocalNER(DEFAULT_NER_MODEL_DIR, threads=1)


@pytest.fixture(scope="session")
def tokenizer():  # type: ignore[no-untyped-def]
    from transformers import AutoTokenizer

    from hybrid_ner.packages import base_encoder_path

    return AutoTokenizer.from_pretrained(str(base_encoder_path()))


@pytest.fixture()
def conll_file(tmp_path: Path) -> Path:
    """A tiny CoNLL file written by the test (the shared benchmark data is never copied here)."""
    path = tmp_path / "sample.conll"
    path.write_text(CONLL_SAMPLE * 20)
    return path


@pytest.fixture(scope="session")
def postgres():  # type: ignore[no-untyped-def]
    """One throwaway PostgreSQL server for the whole run (Debian's postgresql, installed by .ci/run)."""
    from tests.pg import PostgresServer, pg_bin

    bindir = pg_bin()
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed; .ci/run installs Debian's postgresql")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    server = PostgresServer(bindir).start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):  # type: ignore[no-untyped-def]
    """A fresh database of each kind: the same tests run on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'kb.sqlite3'}"
    return request.getfixturevalue("postgres").new_database()


# ---------------------------------------------------------------- the learning loop: a small domain of our own

PEOPLE = [
    "Maria Fernandes",
    "John Okafor",
    "Lena Berg",
    "Ravi Menon",
    "Chen Wei",
    "Ana Souza",
    "Tom Hardy",
    "Ivan Petrov",
]
CITIES = ["Lisbon", "Nairobi", "Oslo", "Chennai", "Shanghai", "Recife", "Leeds", "Kazan"]
COMPANIES = ["Acme Robotics", "Blue Harbor Foods", "Nordlys Energy", "Tata Steel", "Zhonghua Motors", "Vale Mining"]
TEMPLATES = [
    "{person} visited {city} to meet engineers from {company} .",
    "{company} opened a new office in {city} last week .",
    "In {city} , {person} said {company} would hire more staff .",
    "{person} left {company} and moved to {city} .",
]
# Held-out sentences are built on templates of their own: a dev set must share no sentence with its training set
# (``adapt`` refuses one that does), and the slots of a few templates repeat within a few dozen sentences.
HELD_OUT_TEMPLATES = [
    "{person} told reporters in {city} that {company} was growing .",
    "Analysts in {city} expect {company} to name {person} as chair .",
]
TOY_SCHEMA = {
    "name": "toy",
    "types": [
        {"name": "person", "description": "Names of people."},
        {"name": "city", "description": "Cities and towns."},
        {"name": "company", "description": "Companies and businesses."},
    ],
}


def toy_sentences(n: int, offset: int = 0, templates: list[str] = TEMPLATES) -> list[list[tuple[str, str]]]:
    """``n`` tagged sentences from templates (person, city, company): test data the tests write themselves."""
    out = []
    for i in range(offset, offset + n):
        slots = {
            "person": PEOPLE[i % len(PEOPLE)],
            "city": CITIES[(i * 3) % len(CITIES)],
            "company": COMPANIES[(i * 5) % len(COMPANIES)],
        }
        tokens: list[tuple[str, str]] = []
        for part in templates[i % len(templates)].split():
            if part.startswith("{"):
                kind = part[1:-1]
                words = slots[kind].split()
                tokens += [(w, ("B-" if j == 0 else "I-") + kind) for j, w in enumerate(words)]
            else:
                tokens.append((part, "O"))
        out.append(tokens)
    return out


def write_toy_conll(path: Path, n: int, offset: int = 0, sep: str = "\t", templates: list[str] = TEMPLATES) -> Path:
    sentences = toy_sentences(n, offset, templates)
    path.write_text("".join("".join(f"{w}{sep}{t}\n" for w, t in s) + "\n" for s in sentences))
    return path


@pytest.fixture(scope="session")
def toy_domain(tmp_path_factory) -> dict[str, Path]:  # type: ignore[no-untyped-def]
    import json

    d = tmp_path_factory.mktemp("toy")
    (d / "schema.json").write_text(json.dumps(TOY_SCHEMA))
    return {
        "dir": d,
        "schema": d / "schema.json",
        "train": write_toy_conll(d / "train.conll", 32),
        "dev": write_toy_conll(d / "dev.conll", 12, offset=100, sep=" ", templates=HELD_OUT_TEMPLATES),
    }


@pytest.fixture(scope="session")
def adapted_model(toy_domain, tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    """A real, small ``hybrid-ner adapt`` run (6 epochs on 32 sentences), once per test session."""
    import shutil
    import subprocess
    import sys

    out = tmp_path_factory.mktemp("adapted") / "toy-model"
    cli = shutil.which("hybrid-ner", path=str(Path(sys.executable).parent)) or "hybrid-ner"
    env = {**os.environ, "HNER_DATA_DIR": str(tmp_path_factory.mktemp("adapt-data"))}
    args = ["adapt", "--schema", str(toy_domain["schema"]), "--train", str(toy_domain["train"])]
    args += ["--dev", str(toy_domain["dev"]), "--out", str(out), "--epochs", "6", "--threads", "1"]
    proc = subprocess.run([cli, *args], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (out.parent / "summary.json").write_text(proc.stdout)  # what adapt printed, for the tests to read
    return out
