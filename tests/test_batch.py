"""``hybrid-ner batch`` with a real local Ray (one head for the whole run, started here and reached through
``--address``), the real model, SQLite and PostgreSQL: same rows as ``extract --file``, resume after a kill,
bad input."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.test_cli import CLI, run_cli

pytestmark = pytest.mark.integration

SENTENCES = [
    "Angela Merkel met Emmanuel Macron in Paris on Tuesday.",
    "Siemens shares rose in Frankfurt after the results.",
    "Tim Cook said Apple would open a store in Cupertino.",
    "The United Nations met in New York to discuss Syria.",
]
RAY = str(Path(sys.executable).parent / "ray")


@contextmanager
def ray_temp() -> Iterator[Path]:
    """A short temporary folder for a Ray the tests start (Ray keeps its sockets under it, and a socket's path has
    a length limit), removed when the block ends, so that no run leaves a Ray session in /tmp."""
    temp = Path(tempfile.mkdtemp(prefix="hr-"))
    try:
        yield temp
    finally:
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="session")
def ray_head():
    """A local Ray head with 2 CPUs and token authentication, started once; the tests connect to it with
    --address and the token, as a client of any protected cluster would."""
    import secrets

    from tests.test_service_http import free_port

    with ray_temp() as temp:
        token = temp / "token"
        token.write_text(secrets.token_hex(32))
        auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token), "RAY_USAGE_STATS_ENABLED": "0"}
        before = {k: os.environ.get(k) for k in auth}
        os.environ.update(auth)  # the batch drivers these tests start inherit it
        port = free_port()
        head = [RAY, "start", "--head", f"--port={port}", "--node-ip-address=127.0.0.1", "--num-cpus=2",
                "--include-dashboard=false", f"--temp-dir={temp}"]  # fmt: skip
        subprocess.run(head, check=True, capture_output=True, timeout=180)
        yield f"127.0.0.1:{port}"
        subprocess.run([RAY, "stop", "--force"], capture_output=True, timeout=120)
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def corpus(path: Path, n: int, extra: list[str] = ()) -> Path:
    lines = [json.dumps({"id": f"d{i}", "text": f"{SENTENCES[i % 4]} Item {i}."}) for i in range(n)]
    path.write_text("\n".join([*lines, *extra]) + "\n")
    return path


def batch(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_cli("batch", *args, env={"HNER_DATA_DIR": str(tmp_path / "data"), **(env or {})})


def rows(out: Path) -> list[dict]:
    from hybrid_ner.batch.shards import read_output

    return [r for p in sorted(out.glob("*.0*")) for r in read_output(p)]


def test_ray_batch_gives_the_rows_of_extract_file(tmp_path, ray_head):
    src = corpus(tmp_path / "docs.jsonl", 120, ['{"id": "no-text"}', "{broken"])
    proc = batch(tmp_path, "--input", str(src), "--output", str(tmp_path / "out"), "--engine", "ray",
                 "--address", ray_head, "--workers", "2", "--shard-size", "30")  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout.splitlines()[-1])
    assert summary["records"] == 122 and summary["errors"] == 2 and summary["shards"] == 5
    # Ray decides which of the two workers takes each shard: on an idle machine one may take all five first.
    assert summary["labels"]["PER"] > 0 and 1 <= len(summary["peak_rss_mb_per_worker"]) <= 2
    extracted = run_cli("extract", "--file", str(src), env={"HNER_DATA_DIR": str(tmp_path / "data")})
    expected = [json.loads(line) for line in extracted.stdout.splitlines()]
    got = rows(tmp_path / "out")
    assert [r["id"] for r in got] == [r["id"] for r in expected]
    assert [r.get("entities") for r in got] == [r.get("entities") for r in expected]
    assert "line 121" in got[120]["error"] and "line 122" in got[121]["error"]


def test_a_killed_run_resumes_to_the_output_of_an_uninterrupted_one(tmp_path, ray_head):
    src = corpus(tmp_path / "docs.jsonl", 400)
    shard = ["--shard-size", "25"]
    reference = batch(tmp_path, "--input", str(src), "--output", str(tmp_path / "ref"), *shard)  # local engine
    assert reference.returncode == 0, reference.stderr[-3000:]
    out = tmp_path / "out"
    args = [CLI, "batch", "--input", str(src), "--output", str(out), "--engine", "ray", "--address", ray_head, *shard]
    env = {**os.environ, "HNER_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.Popen(args, env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while len(list(out.glob("*.jsonl"))) < 8 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # half way: the driver and its children die at once
    proc.wait()
    done = len(list(out.glob("*.jsonl")))
    assert 8 <= done < 16, f"killed too late ({done} of 16 shards written)"
    resumed = batch(
        tmp_path, "--input", str(src), "--output", str(out), "--engine", "ray", "--address", ray_head, *shard
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    summary = json.loads(resumed.stdout.splitlines()[-1])
    # The shards whole on disk are skipped. A task already running on one of the head's 2 CPUs when the driver died
    # may still finish its shard before the resume looks, so up to 2 more can be skipped; never one fewer.
    assert 16 - done - 2 <= summary["shards_run"] <= 16 - done and summary["records"] == 400
    for ref in sorted((tmp_path / "ref").glob("*.jsonl")):  # the same bytes, shard by shard: no gaps, no duplicates
        assert (out / ref.name).read_bytes() == ref.read_bytes(), ref.name
    assert not list(out.glob(".*.tmp"))


def test_ray_workers_link_against_a_kb_in_postgresql(tmp_path, ray_head, postgres):
    from tests.test_linking import KB

    env = {"HNER_DB_URL": postgres.new_database()}
    kb = tmp_path / "kb.jsonl"
    kb.write_text("".join(json.dumps(e) + "\n" for e in KB))
    loaded = run_cli("kb", "load", str(kb), env={"HNER_DATA_DIR": str(tmp_path / "data"), **env})
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    src = corpus(tmp_path / "docs.jsonl", 40)
    proc = batch(tmp_path, "--input", str(src), "--output", str(tmp_path / "out"), "--engine", "ray",
                 "--address", ray_head, "--link", "--shard-size", "10", env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = rows(tmp_path / "out")
    assert len(got) == 40
    paris = [e for r in got for e in r["entities"] if e["text"] == "Paris"]
    assert paris and all(e["link"]["kb_id"] == "geonames:2988507" for e in paris)
    assert json.loads((tmp_path / "out" / "_batch.json").read_text())["kb"][0]  # the run names the database


def test_parquet_in_and_out_and_a_local_ray_of_its_own(tmp_path):
    """Parquet both ways, and --engine ray without --address, which starts (and stops) a local Ray itself: its
    session is in the temporary folder this test gives it, not the head the other tests share."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    records = [{"id": f"p{i}", "text": SENTENCES[i % 4]} for i in range(12)]
    pq.write_table(pa.Table.from_pylist(records), tmp_path / "docs.parquet")
    args = ["--input", str(tmp_path / "docs.parquet"), "--format", "parquet", "--shard-size", "6"]
    with ray_temp() as ray_tmp:
        out = ["--output", str(tmp_path / "out"), "--engine", "ray", "--workers", "1"]
        proc = batch(tmp_path, *args, *out, env={"RAY_TMPDIR": str(ray_tmp)})
        sessions = list((ray_tmp / "ray").glob("session_*"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sessions, "the local Ray kept its session elsewhere"
    local = batch(tmp_path, *args, "--output", str(tmp_path / "local"))
    assert local.returncode == 0, local.stderr[-3000:]
    got = rows(tmp_path / "out")
    assert [r["id"] for r in got] == [f"p{i}" for i in range(12)] and got[0]["entities"]
    assert got == rows(tmp_path / "local")


def test_bad_input_is_named(tmp_path):
    missing = batch(tmp_path, "--input", str(tmp_path / "nope.jsonl"), "--output", str(tmp_path / "o1"))
    assert missing.returncode == 1 and "nope.jsonl does not exist" in missing.stderr
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    corpus(mixed / "a.jsonl", 2)
    (mixed / "b.parquet").write_bytes(b"not parquet")
    proc = batch(tmp_path, "--input", str(mixed), "--output", str(tmp_path / "o2"))
    assert proc.returncode == 1 and "mixes JSONL and Parquet" in proc.stderr
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "x.parquet").write_bytes(b"not parquet at all")
    proc = batch(tmp_path, "--input", str(broken), "--output", str(tmp_path / "o3"))
    assert proc.returncode == 1 and "x.parquet" in proc.stderr and "cannot read" in proc.stderr
    src = corpus(tmp_path / "docs.jsonl", 4)
    assert batch(tmp_path, "--input", str(src), "--output", str(tmp_path / "o4")).returncode == 0
    src.write_text(src.read_text())  # the same content written again: the same input, so the run is resumed
    again = batch(tmp_path, "--input", str(src), "--output", str(tmp_path / "o4"))
    assert again.returncode == 0 and json.loads(again.stdout.splitlines()[-1])["shards_run"] == 0
    other = batch(tmp_path, "--input", str(src), "--output", str(tmp_path / "o4"), "--no-link")
    assert other.returncode == 1 and "other kb, link" in other.stderr  # a resume must not mix two runs' options


def test_engine_ray_without_ray_names_the_package(tmp_path):
    fake = tmp_path / "no-ray"  # a fake import path on which `import ray` fails, as when ray is not installed
    (fake / "ray").mkdir(parents=True)
    (fake / "ray" / "__init__.py").write_text("raise ImportError('No module named ray')\n")
    src = corpus(tmp_path / "docs.jsonl", 2)
    proc = batch(tmp_path, "--input", str(src), "--output", str(tmp_path / "out"), "--engine", "ray",
                 env={"PYTHONPATH": str(fake)})  # fmt: skip
    assert proc.returncode == 1 and "pip install 'ray[data]" in proc.stderr
    shutil.rmtree(fake)


def test_a_model_changed_in_place_at_the_same_size_never_resumes_onto_the_old_output(tmp_path):
    """A retrained model of the same shape has files of the same sizes: the run is tied to the model's content
    digest, so the resumed run stops and says the model changed, whether the new model was written properly
    (a new digest beside it) or its weights were overwritten behind its back."""
    from hybrid_ner.config import DEFAULT_NER_MODEL_DIR
    from hybrid_ner.ner.artifacts import ONNX_FILE, content_digest

    model = tmp_path / "model"
    shutil.copytree(DEFAULT_NER_MODEL_DIR, model)
    env = {"HNER_NER_MODEL": str(model)}
    src = corpus(tmp_path / "docs.jsonl", 4)
    args = ["--input", str(src), "--output", str(tmp_path / "out"), "--no-link"]
    assert batch(tmp_path, *args, env=env).returncode == 0
    onnx = model / ONNX_FILE
    size = onnx.stat().st_size
    data = bytearray(onnx.read_bytes())
    data[-64:] = bytes(64)  # the same size, other content
    onnx.write_bytes(bytes(data))
    assert onnx.stat().st_size == size
    behind = batch(tmp_path, *args, env=env)
    assert behind.returncode != 0 and "changed after it was written" in behind.stderr
    (model / "digest.txt").write_text(content_digest(model) + "\n")  # as a retrain would write it
    retrained = batch(tmp_path, *args, env=env)
    assert retrained.returncode == 1 and "other model" in retrained.stderr
    assert len(rows(tmp_path / "out")) == 4  # the old output is left as it was, not mixed with the new model's


def test_a_resume_under_other_code_is_refused_and_leaves_the_output(tmp_path):
    """The manifest holds the installed code's digest; an output written by another release (its digest put in
    the manifest, as an older install would have written it) is not resumed onto."""
    from hybrid_ner.packages import code_digest

    src = corpus(tmp_path / "docs.jsonl", 4)
    out = tmp_path / "out"
    args = ["--input", str(src), "--output", str(out), "--no-link"]
    assert batch(tmp_path, *args).returncode == 0
    manifest = json.loads((out / "_batch.json").read_text())
    assert manifest["code"] == code_digest()
    before = rows(out)
    (out / "_batch.json").write_text(json.dumps({**manifest, "code": "0" * 64}))
    upgraded = batch(tmp_path, *args)
    assert upgraded.returncode == 1 and "other code" in upgraded.stderr
    assert rows(out) == before


def test_the_code_digest_follows_content_and_names_never_the_place_or_caches(tmp_path):
    from hybrid_ner.packages import tree_digest

    def tree(root: Path, rule: str) -> Path:
        (root / "ner").mkdir(parents=True)
        (root / "ner" / "rules.py").write_text(rule)
        (root / "__pycache__").mkdir()
        (root / "__pycache__" / "rules.cpython-313.pyc").write_bytes(os.urandom(16))
        (root / "resources").mkdir()
        (root / "resources" / "model.onnx").write_bytes(os.urandom(16))  # models have their own digest
        return root

    first = tree_digest({"pkg": tree(tmp_path / "a", "KEEP_HASH = True\n")})
    assert tree_digest({"pkg": tree(tmp_path / "b", "KEEP_HASH = True\n")}) == first  # elsewhere, other caches
    assert tree_digest({"pkg": tree(tmp_path / "c", "KEEP_HASH = False\n")}) != first  # one rule changed
    assert tree_digest({"other": tmp_path / "a"}) != first  # the package's name counts
    (tmp_path / "a" / "ner" / "rules.py").rename(tmp_path / "a" / "ner" / "moved.py")
    assert tree_digest({"pkg": tmp_path / "a"}) != first  # so does a file's name
