"""Whole-file writes: the old file or the new one, never a torn one, and no temporary left behind."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from hybrid_ner.files import replacing, write_whole


def test_a_block_that_ends_cleanly_replaces_the_target(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    target.write_text("old\n")
    with replacing(target) as tmp:
        tmp.write_text("new\n")
        assert target.read_text() == "old\n"  # readers see the old file until the rename
    assert target.read_text() == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]


def test_a_block_that_fails_keeps_the_old_file_and_removes_the_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    target.write_text("old\n")
    with pytest.raises(RuntimeError), replacing(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed half-way")
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]


def test_a_failed_first_write_leaves_no_file_at_all(tmp_path: Path) -> None:
    target = tmp_path / "new.json"
    with pytest.raises(OSError), replacing(target) as tmp:
        tmp.write_text("{")
        raise OSError("disk full")
    assert list(tmp_path.iterdir()) == []


def test_write_whole_takes_text_as_utf8_and_bytes_as_they_are(tmp_path: Path) -> None:
    write_whole(tmp_path / "a.txt", "Zürich\n")
    write_whole(tmp_path / "b.bin", b"\x00\xff")
    assert (tmp_path / "a.txt").read_bytes() == "Zürich\n".encode()
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\xff"


def test_concurrent_writers_each_leave_a_whole_file(tmp_path: Path) -> None:
    target = tmp_path / "shared.txt"
    bodies = [str(i) * 200_000 for i in range(8)]
    threads = [threading.Thread(target=write_whole, args=(target, body)) for body in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert target.read_text() in bodies  # one writer's whole text, never a mix
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shared.txt"]
