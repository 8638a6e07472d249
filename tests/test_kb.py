"""KB storage, loaders and overrides on a real SQLite database (files written by the tests)."""

import bz2
import gzip
import json
import time

import pytest
from pydantic import ValidationError

from hybrid_ner.datamodel import Decision, Entity, Link, Source, Span
from kb.db import open_db
from kb.loaders import load_file
from kb.store import EntityIn, KBStore, normalize
from linking.overrides import Override, OverrideIn, apply_overrides

ENTITIES = [
    {
        "id": "Q90",
        "name": "Paris",
        "aliases": ["City of Light"],
        "types": ["city"],
        "description": "capital of France",
        "prior": 2e6,
    },
    {"id": "Q830149", "name": "Paris", "types": ["city"], "description": "city in Texas", "prior": 25000},
    {"id": "Q142", "name": "France", "aliases": ["French Republic"], "types": ["country"], "prior": 6e7},
]


@pytest.fixture()
def store(tmp_path):
    engine, sessions = open_db(f"sqlite:///{tmp_path / 'kb.sqlite3'}")
    yield KBStore(sessions)
    engine.dispose()


def write_jsonl(path, rows, extra=""):
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n" + extra)
    return path


def test_normalize():
    assert normalize("  São  Paulo!! ") == "sao paulo"
    assert normalize("ÉCOLE") == "ecole"


def test_jsonl_load_is_idempotent_and_skips_bad_lines(store, tmp_path):
    path = write_jsonl(tmp_path / "kb.jsonl", ENTITIES, '{"id": ""}\nnot json\n' + json.dumps(ENTITIES[0]) + "\n")
    report = load_file(store, path)
    assert (report.loaded, report.skipped) == (3, 2)  # Q90 twice: upserted once, not duplicated
    assert any("kb.jsonl:4" in e for e in report.errors) and any("kb.jsonl:5" in e for e in report.errors)
    again = load_file(store, path)
    assert again.loaded == 3 and store.count() == 3
    assert sorted(store.by_alias(["paris"])["paris"]) == ["Q830149", "Q90"]
    assert store.by_alias(["city of light"]) == {"city of light": ["Q90"]}
    assert store.get(["Q90"])["Q90"].description == "capital of France"


def test_csv_and_wikidata_dumps(store, tmp_path):
    csv_path = tmp_path / "kb.csv"
    csv_path.write_text(
        "id,name,aliases,types,description,prior\nX1,Acme Corp,Acme|ACME Inc,company,maker of anvils,10\n,,,,,\n"
    )
    report = load_file(store, csv_path)
    assert report.loaded == 1 and report.skipped == 1
    assert store.by_alias(["acme inc"]) == {"acme inc": ["X1"]}
    item = {
        "id": "Q64", "type": "item",
        "labels": {"en": {"value": "Berlin"}, "de": {"value": "Berlin"}},
        "aliases": {"en": [{"value": "Berlin, Germany"}]},
        "descriptions": {"en": {"value": "capital of Germany"}},
        "claims": {"P31": [{"mainsnak": {"datavalue": {"value": {"id": "Q515"}}}}]},
        "sitelinks": {"enwiki": {}, "dewiki": {}},
    }  # fmt: skip
    dump = (
        "[\n"
        + json.dumps(item)
        + ",\n{broken\n"
        + json.dumps({**item, "id": "Q1055", "labels": {"en": {"value": "Hamburg"}}, "aliases": {}})
        + "\n]\n"
    )
    for name, opener in (("dump.json.gz", gzip.open), ("dump.json.bz2", bz2.open)):
        with opener(tmp_path / name, "wt", encoding="utf-8") as fh:
            fh.write(dump)
        report = load_file(store, tmp_path / name)
        assert (report.loaded, report.skipped) == (2, 1)
    berlin = store.get(["Q64"])["Q64"]
    assert (berlin.name, berlin.types, berlin.prior) == ("Berlin", ["Q515"], 2.0)
    assert store.by_alias(["Berlin, Germany"]) == {"berlin, germany": ["Q64"]}
    assert store.count() == 3


def test_versions_track_changes(store):
    v0 = store.version()
    store.upsert([EntityIn(**ENTITIES[0])])
    v1 = store.version()
    store.upsert([EntityIn(**ENTITIES[1])])
    assert v0 < v1 < store.version()
    assert [e.id for batch in store.changed_since(v1) for e in batch] == ["Q830149"]


def entity(text, start, end, label="LOC"):
    return Entity(span=Span.from_text(text, start, end, label), score=0.9, source=Source.LOCAL,
                  decision=Decision(routed="local"), link=Link(kb_id="Q830149", score=0.6, nil=False))  # fmt: skip


def test_override_validation_and_audit(store):
    store.upsert([EntityIn(**e) for e in ENTITIES])
    with pytest.raises(ValidationError, match="invalid regex"):
        OverrideIn(pattern="(unclosed", match="regex", action="review")
    with pytest.raises(ValidationError, match="force_link needs a kb_id"):
        OverrideIn(pattern="Paris", action="force_link")
    with pytest.raises(LookupError, match="unknown KB id 'Q999'"):
        store.save_override(OverrideIn(pattern="Paris", action="force_link", kb_id="Q999"), actor="alice")
    assert store.overrides() == [] and store.audit_log() == []
    rule = store.save_override(OverrideIn(pattern="Paris", action="force_link", kb_id="Q90"), actor="alice")
    store.save_override(OverrideIn(pattern="Paris", action="review", priority=5), actor="bob", rule_id=rule.id)
    store.delete_override(rule.id, actor="carol")
    log = store.audit_log()
    assert [(r["actor"], r["action"]) for r in log] == [("carol", "delete"), ("bob", "update"), ("alice", "create")]
    assert log[1]["before"]["action"] == "force_link" and log[1]["after"]["action"] == "review"


def test_override_actions_and_priority():
    text = "Paris, said Jane Doe, is lovely. Secret Project X is not."
    paris, jane, secret = entity(text, 0, 5), entity(text, 12, 20, "PER"), entity(text, 33, 49, "MISC")
    rules = [
        Override(id=1, pattern="paris", match="normalized", action="force_link", kb_id="Q90"),
        Override(id=2, pattern="Paris", action="block", priority=-1),  # lower priority: loses
        Override(id=3, pattern=r"Jane\s+\w+", match="regex", label="PER", action="redact"),
        Override(id=4, pattern="Secret Project X", action="block", drop_entity=True, context=r"is not"),
    ]
    out = apply_overrides(rules, text, [paris, jane, secret])
    assert len(out) == 2
    assert out[0].link.kb_id == "Q90" and out[0].source == "override"
    assert out[0].decision.override == {"id": 1, "action": "force_link"}
    assert out[1].span.text == "█" * 8 and out[1].link is None and out[1].decision.redacted is True
    review = apply_overrides([Override(id=9, pattern="Paris", action="review")], text, [paris])[0]
    assert review.decision.review is True and review.link.kb_id == "Q830149"
    blocked = apply_overrides([Override(id=5, pattern="Paris", action="block", label="PER")], text, [paris])[0]
    assert blocked.link.kb_id == "Q830149"  # the label filter did not match
    assert apply_overrides([Override(id=6, pattern="Paris", action="block")], text, [paris])[0].link.nil


def test_catastrophic_regex_cannot_hang():
    text = "a" * 40 + "!"
    rule = Override(id=1, pattern="(a+)+$", match="regex", action="review")
    started = time.perf_counter()
    out = apply_overrides([rule], text, [entity(text, 0, len(text))])
    assert time.perf_counter() - started < 2.0
    assert getattr(out[0].decision, "review", None) is None  # timed out: treated as no match
