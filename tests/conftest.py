"""Shared fixtures. One thread per process (see ENVIRONMENT.md), and the model hub is off."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ["HF_HUB_OFFLINE"] = "1"
# Anything that falls back to the default data dir (the CLI in a subprocess, say) writes to a scratch folder.
os.environ.setdefault("HNER_DATA_DIR", tempfile.mkdtemp(prefix="hner-test-"))

from pathlib import Path

import pytest

from hybrid_ner.config import DEFAULT_NER_MODEL_DIR

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
