"""The eval harness on small files the tests write, with named fakes for the model and the LLM."""

import json

import pytest

from eval import report as reports
from eval.datasets import read_dataset
from eval.harness import EvalConfig, holdout_schema, router_quality, run_eval
from hybrid_ner.config import Settings
from tests.fakes import FakeExtractor, FakeLLMTransport, answer_with, fake_llm

CONLL = """Maria NNP B-PER
Fernandes NNP I-PER
visited VBD O
Berlin NNP B-LOC
. . O

Danish JJ B-MISC
farmers NNS O
met VBD O
Siemens NNP B-ORG
. . O

"""


@pytest.fixture()
def data(tmp_path):
    path = tmp_path / "mini.conll"
    path.write_text(CONLL * 5 + "broken-line-without-tag\n\n")
    return path


# The fake local model: right on PER and LOC, wrong label on Siemens (low confidence), misses Danish.
LOCAL = FakeExtractor([("Maria Fernandes", "PER", 0.98), ("Berlin", "LOC", 0.9), ("Siemens", "LOC", 0.4)])


def config(data, out, **kw):
    base = {"fmt": "conll", "strategies": ["local", "cascade"], "thresholds": [0.5, 0.95]}
    return EvalConfig(data=data, out=out, **{**base, **kw})


def test_bad_lines_are_reported_and_skipped(data):
    ds = read_dataset(data)
    assert len(ds.documents) == 10
    assert len(ds.skipped) == 1 and "mini.conll:61" in ds.skipped[0]


def test_other_formats(tmp_path):
    jsonl = tmp_path / "d.jsonl"
    jsonl.write_text(
        json.dumps({"id": "a", "text": "Ada in Paris", "entities": [{"start": 7, "end": 12, "label": "LOC"}]})
        + "\n{oops\n"
        + json.dumps({"id": "b", "text": "x", "entities": [{"start": 0, "end": 9, "label": "LOC"}]})
        + "\n"
    )
    ds = read_dataset(jsonl)
    assert [d.id for d in ds.documents] == ["a"] and len(ds.skipped) == 2
    assert "d.jsonl:2" in ds.skipped[0] and "outside the text" in ds.skipped[1]
    elevant = tmp_path / "x.benchmark.jsonl"
    label = {"id": 0, "span": [0, 5], "entity_id": "Q90", "name": "Paris", "type": "Q27096213"}
    nil = {"id": 1, "span": [10, 14], "entity_id": "<NIL>", "name": "Unknown", "type": "Q215627"}
    elevant.write_text(
        json.dumps({"id": 3, "text": "Paris and Jo B", "evaluation_span": [0, 14], "labels": [label, nil]}) + "\n"
    )
    ds = read_dataset(elevant)
    assert [(e.label, e.kb_id) for e in ds.documents[0].entities] == [("LOC", "Q90"), ("PER", None)]
    assert ds.has_links
    with pytest.raises(ValueError, match="valid formats: conll, jsonl, elevant"):
        read_dataset(elevant, "xml")


def test_run_scores_escalation_and_router_quality(data, tmp_path):
    transport = FakeLLMTransport(answer_with(lambda doc: [("Siemens", "ORG")] if "Siemens" in doc else []))
    settings = Settings(data_dir=tmp_path / "state", llm_cache=False)
    report = run_eval(config(data, tmp_path / "out"), settings, extractor=LOCAL, llm=fake_llm(transport))
    runs = {(r["strategy"], r["threshold"]): r for r in report["runs"]}
    local = runs[("local", None)]
    # gold: 10 PER/LOC/MISC/ORG each 5 times = 20 entities; local gets 10 right, 5 wrong (Siemens as LOC)
    assert local["precision"] == pytest.approx(10 / 15) and local["recall"] == pytest.approx(10 / 20)
    low = runs[("cascade", 0.5)]  # escalates Siemens (0.4); the fake LLM fixes it
    assert low["escalation_rate_spans"] == pytest.approx(5 / 15)
    assert low["precision"] == pytest.approx(1.0) and low["recall"] == pytest.approx(15 / 20)
    assert low["llm_calls"] == 5 and low["llm_doc_rate"] == pytest.approx(0.5)
    high = runs[("cascade", 0.95)]  # also escalates Berlin (0.9), which the fake LLM does not return
    assert high["escalation_rate_spans"] == pytest.approx(10 / 15)
    assert high["recall"] == pytest.approx(10 / 20)
    assert report["skipped_lines"] == 1
    q = {row["threshold"]: row for row in report["router_quality"]}
    assert q[0.5]["router_precision"] == 1.0 and q[0.5]["error_recall"] == 1.0
    assert q[0.95]["router_precision"] == pytest.approx(0.5)
    assert q[0.5]["oracle_f1_span"] == pytest.approx(2 * (15 / 15) * (15 / 20) / (1 + 15 / 20))
    assert q[0.5]["oracle_f1_sentence"] == 1.0  # the escalated sentence also holds the missed "Danish"
    # a second run is served from the cache: no new LLM requests
    n = len(transport.requests)
    again = run_eval(config(data, tmp_path / "out"), settings, extractor=LOCAL, llm=fake_llm(transport))
    assert len(transport.requests) == n and all(r["cached"] for r in again["runs"])


def test_reports_and_plots_are_written(data, tmp_path):
    settings = Settings(data_dir=tmp_path / "state", llm_cache=False)
    transport = FakeLLMTransport(answer_with(lambda doc: []))
    out = tmp_path / "out"
    report = run_eval(config(data, out), settings, extractor=LOCAL, llm=fake_llm(transport))
    reports.write(report, out)
    assert json.loads((out / "report.json").read_text())["documents"] == 10
    md = (out / "report.md").read_text()
    assert "| cascade@0.5 |" in md and "Router quality" in md
    for name in reports.PLOTS:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_compare_gate(data, tmp_path):
    a = {"runs": [{"strategy": "local", "threshold": None, "f1": 0.90, "escalation_rate_spans": 0.0}]}
    b = {"runs": [{"strategy": "local", "threshold": None, "f1": 0.88, "escalation_rate_spans": 0.0}]}
    rows, ok = reports.compare(a, b, 0.01)
    assert not ok and "FAIL" in rows[-1]
    assert reports.compare(a, b, 0.05)[1]
    with pytest.raises(ValueError, match="share no"):
        reports.compare(a, {"runs": []}, 0.01)


def test_unknown_strategy_and_label_list_valid_names(data, tmp_path):
    settings = Settings(data_dir=tmp_path)
    with pytest.raises(ValueError, match="valid strategies: local, llm, cascade, schema, rules"):
        run_eval(config(data, tmp_path, strategies=["best"]), settings, extractor=LOCAL)
    with pytest.raises(ValueError, match=r"labels in mini\.conll: LOC, MISC, ORG, PER"):
        run_eval(config(data, tmp_path, holdout_label="DRUG"), settings, extractor=LOCAL)


def test_holdout_schema_has_no_local_mapping_and_examples_from_unevaluated_docs(data):
    ds = read_dataset(data)
    schema = holdout_schema(ds, "MISC", exclude={"1", "3"}, seed=1)
    misc = schema.get_type("MISC")
    assert misc.local_labels == [] and misc.description
    assert misc.examples and all(ex.text.startswith("Danish") for ex in misc.examples)
    assert schema.get_type("PER").local_labels == ["PER"]
    assert router_quality.__doc__
