"""Whole-file writes: the old file or the new one, never a torn one, and no temporary left behind."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from hybrid_ner.files import remove_unfinished, replacing, scratch_dir, write_whole


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


def test_remove_unfinished_deletes_the_open_blocks_temporaries_and_nothing_finished(tmp_path: Path) -> None:
    (tmp_path / "done.txt").write_text("kept")
    with replacing(tmp_path / "file.txt") as tmp, scratch_dir(tmp_path / "dir") as scratch:
        tmp.write_text("half")
        (scratch / "part").write_text("half")
        remove_unfinished()
        assert sorted(p.name for p in tmp_path.iterdir()) == ["done.txt"]
        tmp.write_text("whole")  # the block goes on and finishes: its file lands
    assert (tmp_path / "file.txt").read_text() == "whole"
    remove_unfinished()  # nothing is registered once the blocks ended
    assert sorted(p.name for p in tmp_path.iterdir()) == ["done.txt", "file.txt"]


def test_a_scratch_dir_starts_empty_and_is_removed_when_its_block_fails(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "stale").write_text("a killed run's")
    with pytest.raises(RuntimeError), scratch_dir(tmp_path / "dir") as scratch:
        assert list(scratch.iterdir()) == []
        (scratch / "part").write_text("half")
        raise RuntimeError("failed half-way")
    assert list(tmp_path.iterdir()) == []


# A command whose every moment is spent in a weakref callback, where Python prints and drops any exception, so
# the SystemExit of a SIGTERM cannot end it: only the deadline thread can.
DROPPED_SIGTERM = """
import sys, time, weakref
from pathlib import Path
from hybrid_ner.cli import _io
from hybrid_ner.files import replacing
from hybrid_ner.ner.artifacts import atomic_dir

_io.TERM_GRACE_S = 1.0
class Thing: ...
with _io.cli_errors(), atomic_dir(Path(sys.argv[1]) / "model") as tmp, replacing(Path(sys.argv[1]) / "out.jsonl") as f:
    (tmp / "weights").write_text("half")
    f.write_text("half")
    print("writing", flush=True)
    while True:
        thing = Thing()
        ref = weakref.ref(thing, lambda r: time.sleep(0.2))
        del thing
"""


def test_a_sigterm_whose_exception_python_drops_still_ends_the_command_and_its_partial_output(
    tmp_path: Path,
) -> None:
    script = tmp_path / "job.py"
    script.write_text(DROPPED_SIGTERM)
    work = tmp_path / "work"
    work.mkdir()
    proc = subprocess.Popen([sys.executable, str(script), str(work)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline() == b"writing\n"
    assert len(list(work.iterdir())) == 2  # the model's scratch directory and the file's temporary
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert b"Exception ignored" in err and b"SystemExit: 143" in err  # the exception was dropped...
    assert proc.returncode == 143  # ...and the process ended anyway
    assert list(work.iterdir()) == []  # with nothing half-written left
