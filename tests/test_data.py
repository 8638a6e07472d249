import json

import pytest

from hybrid_ner.ner.data import read_conll, read_jsonl_spans, read_tagged


def test_read_conll(conll_file):
    data = read_conll(conll_file)
    assert len(data) == 40
    assert data[0].words == ["Maria", "Fernandes", "visited", "Berlin", "."]
    assert data[0].tags == ["B-PER", "I-PER", "O", "B-LOC", "O"]


def test_read_conll_reports_bad_line(tmp_path):
    p = tmp_path / "bad.conll"
    p.write_text("Token NNP B-PER\nlonely\n")
    with pytest.raises(ValueError, match=r"bad\.conll:2"):
        read_conll(p)


def test_read_jsonl_spans_tags_words_and_skips_bad_lines(tmp_path, caplog):
    p = tmp_path / "spans.jsonl"
    good = {
        "text": "Ada Lovelace lived in London. She wrote notes.",
        "entities": [{"start": 0, "end": 12, "label": "PER"}, {"start": 22, "end": 28, "label": "LOC"}],
    }
    p.write_text(json.dumps(good) + "\n{not json\n" + json.dumps({"no_text": 1}) + "\n")
    data = read_tagged(p)
    assert len(data) == 2
    assert data[0].words == ["Ada", "Lovelace", "lived", "in", "London", "."]
    assert data[0].tags == ["B-PER", "I-PER", "O", "O", "B-LOC", "O"]
    assert data[1].tags == ["O"] * 4
    assert "spans.jsonl:2 skipped" in caplog.text and "spans.jsonl:3 skipped" in caplog.text
    assert read_jsonl_spans(p) == data
