"""A small real run of the NER benchmark: report files exist and hold what they claim."""

import json

import pytest

from eval.ner_bench import ONTONOTES_TO_CONLL, gold_keys, main, request_texts
from hybrid_ner.ner.data import read_conll

pytestmark = pytest.mark.integration


def test_gold_keys_are_character_offsets(conll_file):
    data = read_conll(conll_file)[:2]
    assert gold_keys(data) == {(0, 0, 15, "PER"), (0, 24, 30, "LOC"), (1, 4, 23, "ORG"), (1, 31, 37, "MISC")}


def test_request_texts_are_about_25_words(conll_file):
    texts = request_texts(read_conll(conll_file), words=25, count=3)
    assert len(texts) == 3 and all(len(t.split()) == 25 for t in texts)


def test_spacy_label_map_targets_conll_labels():
    assert set(ONTONOTES_TO_CONLL.values()) == {"PER", "ORG", "LOC", "MISC"}


def test_bench_writes_reports(conll_file, tmp_path, capsys):
    main(["--test", str(conll_file), "--out", str(tmp_path), "--limit", "30"])
    report = json.loads((tmp_path / "ner.json").read_text())
    assert report["sentences"] == 30
    served = report["systems"]["hybrid-ner int8 (served)"]
    assert set(served["per_label"]) <= {"PER", "ORG", "LOC", "MISC"}
    assert 0.0 <= served["ece"] <= 1.0
    assert set(report["systems"]) == {"hybrid-ner int8 (served)", "hybrid-ner fp32", "spaCy sm"}
    speed = report["speed_1_thread"]
    assert speed["hybrid-ner fp32"]["words_per_s"] > 0 and speed["spaCy sm"]["p95_ms"] > 0
    assert speed["ratio served/spaCy"]["p95_ms"] > 0
    assert report["peak_rss_mb"] > 0
    md = (tmp_path / "ner.md").read_text()
    assert "ratio served/spaCy" in md and "ECE" in md
    assert "hybrid-ner" in capsys.readouterr().out
