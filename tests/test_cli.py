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
