"""The CLI as users run it: the installed ``hybrid-ner`` console script in a subprocess."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

CLI = shutil.which("hybrid-ner", path=str(Path(sys.executable).parent)) or "hybrid-ner"


def run_cli(*args, input_text=None, env=None):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run([CLI, *args], capture_output=True, text=True, env=env, input=input_text, timeout=300)


def test_extract_text_prints_one_json_object():
    text = "Angela Merkel  visited Zürich\nyesterday."
    proc = run_cli("extract", text)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert set(out) >= {"entities", "degraded"}
    assert out["entities"], "expected entities"
    for e in out["entities"]:
        assert set(e) >= {"start", "end", "text", "label", "score", "source", "decision"}
        assert text[e["start"] : e["end"]] == e["text"]


def test_extract_stdin_and_empty():
    proc = run_cli("extract", "-", input_text="Tim Cook runs Apple.")
    assert proc.returncode == 0 and json.loads(proc.stdout)["entities"]
    proc = run_cli("extract", "")
    assert proc.returncode == 0 and json.loads(proc.stdout)["entities"] == []


def test_extract_file_streams_in_order_and_reports_bad_lines(tmp_path):
    path = tmp_path / "docs.jsonl"
    lines = [
        json.dumps({"id": "a", "text": "Barack Obama spoke in Chicago."}).encode(),
        b"{broken json",
        json.dumps({"id": 7, "text": 42}).encode(),
        b'{"id": "latin1", "text": "caf\xe9"}',
        b"",
        json.dumps({"id": "b", "text": ""}).encode(),
        json.dumps({"id": "c", "text": "Siemens is based in Munich."}).encode(),
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    proc = run_cli("extract", "--file", str(path))
    assert proc.returncode == 1
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r.get("id") for r in rows] == ["a", None, 7, None, "b", "c"]
    assert "entities" in rows[0] and rows[0]["entities"]
    assert "line 2" in rows[1]["error"] and "invalid JSON" in rows[1]["error"]
    assert "line 3" in rows[2]["error"]
    assert "UTF-8" in rows[3]["error"]
    assert rows[4]["entities"] == []
    assert rows[5]["entities"]
    assert "line 2" in proc.stderr and "3 line(s) failed" in proc.stderr


def test_extract_file_all_good_exits_zero(tmp_path):
    path = tmp_path / "ok.jsonl"
    path.write_text("\n".join(json.dumps({"id": i, "text": f"Text {i} about Germany."}) for i in range(40)) + "\n")
    proc = run_cli("extract", "--file", str(path))
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(line)["id"] for line in proc.stdout.splitlines()] == list(range(40))


def test_extract_needs_exactly_one_input(tmp_path):
    assert run_cli("extract").returncode == 2
    assert run_cli("extract", "x", "--file", str(tmp_path / "missing.jsonl")).returncode == 2


SHOP = {
    "name": "shop",
    "types": [
        {"name": "PERSON", "local_labels": ["PER"]},
        {
            "name": "PRODUCT",
            "description": "Commercial products.",
            "examples": [
                {"text": "Samsung launched the Galaxy S23.", "entities": [{"start": 21, "end": 31, "label": "PRODUCT"}]}
            ],
        },
    ],
}


def test_extract_with_a_schema_file_and_a_strategy(tmp_path):
    """The README's example, with the bundled local LLM: the PRODUCT type exists only in the schema file."""
    shop = tmp_path / "shop.json"
    shop.write_text(json.dumps(SHOP))
    text = "Tim Cook said Sony released the PlayStation 5."
    proc = run_cli("extract", "--strategy", "schema", "--schema", str(shop), text, env={"HNER_DATA_DIR": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["llm"]["calls"] >= 1 and not out["degraded"]  # the LLM was asked: PRODUCT has no local mapping
    for e in out["entities"]:
        assert e["label"] in {"PERSON", "PRODUCT"} and text[e["start"] : e["end"]] == e["text"]
    by_label = {e["label"]: e for e in out["entities"]}
    assert by_label["PERSON"]["text"] == "Tim Cook" and by_label["PERSON"]["source"] == "local"
    product = by_label["PRODUCT"]  # found by the bundled LLM from the type's description and example alone
    assert product["source"] == "llm" and product["decision"]["reason"] == "type PRODUCT is routed to the LLM"
    assert "PlayStation" in product["text"]


def test_extract_with_a_stored_schema_version_and_link_flags(tmp_path):
    from hybrid_ner.config import Settings
    from hybrid_ner.schemas import Schema, SchemaStore
    from kb.db import open_db

    env = {"HNER_DATA_DIR": str(tmp_path)}
    store = SchemaStore(open_db(Settings(data_dir=tmp_path).database_url)[1])
    v1 = store.put(Schema.model_validate({"name": "people", "types": [{"name": "HUMAN", "local_labels": ["PER"]}]}),
                   base_version=None)  # fmt: skip
    place = Schema.model_validate({"name": "people", "types": [{"name": "PLACE", "local_labels": ["LOC"]}]}).types
    store.put(v1.model_copy(update={"types": [*v1.types, *place]}), base_version=1)
    text = "Angela Merkel visited Paris."
    old = json.loads(run_cli("extract", "--schema", "people", "--schema-version", "1", text, env=env).stdout)
    assert old["entities"], "expected entities"
    assert {e["label"] for e in old["entities"]} == {"HUMAN"}
    new = json.loads(run_cli("extract", "--schema", "people", text, env=env).stdout)
    assert {e["label"] for e in new["entities"]} == {"HUMAN", "PLACE"}
    linked = json.loads(run_cli("extract", "--link", text, env=env).stdout)["entities"]
    assert linked and all(e["link"]["nil"] and e["link"]["kb_id"] is None for e in linked)  # no KB loaded: NIL
    plain = json.loads(run_cli("extract", "--no-link", text, env=env).stdout)["entities"]
    assert plain and all("link" not in e for e in plain)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--strategy", "magic"], "unknown strategy 'magic'"),
        (["--schema", "nope"], "unknown schema 'nope'"),
        (["--schema", "missing.json"], "missing.json"),
        (["--schema-version", "2"], "--schema-version needs --schema"),
    ],
)
def test_extract_flags_reject_bad_values_clearly(tmp_path, args, fragment):
    proc = run_cli("extract", *args, "Paris", env={"HNER_DATA_DIR": str(tmp_path)})
    assert proc.returncode == 2 and fragment in proc.stderr


def test_a_refused_llm_connection_is_reported_as_refused_from_the_cli(tmp_path):
    """A refused connection degrades at once with its own reason; it is not retried until the timeout."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        "HNER_DATA_DIR": str(tmp_path),
        "HNER_STRATEGY": "llm",
        "HNER_LLM_MODEL": "openai/any-model",
        "HNER_LLM_API_BASE": f"http://127.0.0.1:{port}/v1",
        "HNER_LLM_API_KEY": "unused",
        "HNER_LLM_TIMEOUT_S": "5",
        "PYTHONWARNINGS": "default",
    }
    proc = run_cli("extract", "Angela Merkel met Emmanuel Macron in Paris. Siemens shares rose.", env=env)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["degraded"] and out["degraded_reason"] == "llm_connection_refused"
    assert "never awaited" not in proc.stderr and "timeout" not in proc.stderr


def test_kb_help_lists_only_commands_that_exist():
    """Every command `kb --help` names (in its summary and its command list) runs, and nothing else is named."""
    proc = run_cli("kb", "--help")
    summary = next(line for line in proc.stdout.splitlines() if "Knowledge base:" in line)
    named = {w.strip(" .,") for w in summary.split(":", 1)[1].split(",")}
    panel = proc.stdout.split("Commands", 1)[1]
    listed = {line.split()[1] for line in panel.splitlines() if line.startswith("│ ") and line[2] != " "}
    assert named == listed == {"build-default", "load", "enrich", "index"}
    for name in listed:
        assert run_cli("kb", name, "--help").returncode == 0


def test_a_broken_titles_file_is_refused_with_its_line_before_the_kb_is_touched(tmp_path):
    titles = tmp_path / "all-titles-in-ns0"
    titles.write_bytes(b"Tim_Cook\nEmmanuel_Macron\n\xff\xfeBroken\n")
    proc = run_cli(
        "kb", "build-default", "--no-index", "--titles-file", str(titles), env={"HNER_DATA_DIR": str(tmp_path)}
    )
    assert proc.returncode == 2 and f"{titles}:3: not UTF-8" in proc.stderr, proc.stderr[-2000:]
    assert not list(tmp_path.glob("*.sqlite3"))  # refused before the KB was opened, let alone written
    wide = {"HNER_DATA_DIR": str(tmp_path), "COLUMNS": "400"}  # the error box keeps a long path on one line
    missing = run_cli("kb", "build-default", "--titles-file", str(tmp_path / "nope"), env=wide)
    assert missing.returncode == 2 and "nope" in missing.stderr and "does not exist" in missing.stderr
