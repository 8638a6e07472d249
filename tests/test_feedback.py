"""Corrections in SQL, on SQLite and on PostgreSQL: checked before anything is stored, audited, exported as
training data, purged; a corrected link is a versioned KB write that the next lookup sees."""

import pytest

from hybrid_ner.components import Components
from hybrid_ner.config import Settings
from hybrid_ner.feedback import Correction, FeedbackError
from hybrid_ner.learn.data import read_labelled
from hybrid_ner.learn.formats import Format, lines
from hybrid_ner.schemas import Schema
from kb import audit
from kb.records import EntityIn

SCHEMA = Schema.model_validate(
    {"name": "toy", "version": 3, "types": [{"name": "person"}, {"name": "company"}, {"name": "city"}]}
)
TEXT = "Ana Souza joined ACMR in Lisbon."


@pytest.fixture()
def parts(db_url, tmp_path):
    components = Components(Settings(data_dir=tmp_path, db_url=db_url))
    components.kb.upsert([EntityIn(id="org:acme", name="Acme Robotics", types=["organization"])], source="test")
    return components


def correction(**overrides):
    body = {
        "text": TEXT,
        "entities": [{"start": 0, "end": 9, "label": "Person"}, {"start": 17, "end": 21, "label": "company"}],
        "links": [{"start": 17, "end": 21, "kb_id": "org:acme"}],
        **overrides,
    }
    return Correction.model_validate(body)


def test_a_correction_is_stored_audited_and_its_link_becomes_an_alias(parts):
    kb_before = parts.kb.version()
    assert parts.kb.by_alias(["ACMR"]) == {}
    added = parts.feedback.add(correction(), SCHEMA, actor="key:abc")
    assert added == {"id": added["id"], "entities": 2, "links": 1, "aliases_added": 1}
    assert parts.kb.version() > kb_before and parts.kb.by_alias(["ACMR"]) == {"acmr": ["org:acme"]}
    (row,) = parts.feedback.recent()
    assert row["text"] == TEXT and row["schema"] == "toy" and row["schema_version"] == 3 and row["actor"] == "key:abc"
    assert row["entities"][0] == {"start": 0, "end": 9, "label": "person"}  # the schema's spelling
    kinds = {(e["object_type"], e["action"]) for e in audit.read(parts.sessions, 20)}
    assert {("feedback", "create"), ("entity", "update")} <= kinds
    assert TEXT not in str(audit.read(parts.sessions, 20, "feedback"))  # the audit log keeps a digest, not the text
    again = parts.feedback.add(correction(), SCHEMA, actor="key:abc")
    assert again["aliases_added"] == 0  # the alias is there already: no second KB write


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"entities": [{"start": 20, "end": 99, "label": "city"}]}, ("entities", 0), "is not inside the text"),
        ({"entities": [{"start": 0, "end": 3, "label": "planet"}]}, ("entities", 0, "label"), "not a type of schema"),
        (
            {"entities": [{"start": 0, "end": 9, "label": "person"}, {"start": 4, "end": 9, "label": "city"}]},
            ("entities",),
            "overlap",
        ),
        ({"entities": [{"start": 9, "end": 10, "label": "city"}]}, ("entities", 0), "only whitespace"),
        ({"links": [{"start": 17, "end": 21, "kb_id": "org:nope"}]}, ("links", 0, "kb_id"), "no KB entity"),
        ({"links": [{"start": 17, "end": 99, "kb_id": "org:acme"}]}, ("links", 0), "is not inside the text"),
    ],
)
def test_a_bad_correction_is_refused_and_nothing_changes(parts, overrides, field, message):
    kb_before = parts.kb.version()
    with pytest.raises(FeedbackError) as err:
        parts.feedback.add(correction(**overrides), SCHEMA, actor="x")
    assert err.value.field == field and message in str(err.value)
    assert parts.feedback.recent() == [] and parts.kb.version() == kb_before


def test_export_is_what_adapt_reads(parts, tmp_path):
    parts.feedback.add(correction(), SCHEMA, actor="a")
    parts.feedback.add(correction(text="Lisbon hosts ACMR.", entities=[{"start": 0, "end": 6, "label": "city"}],
                                  links=[]), SCHEMA, actor="a")  # fmt: skip
    other = Schema.model_validate({"name": "other", "types": [{"name": "city"}]})
    parts.feedback.add(correction(entities=[{"start": 24, "end": 30, "label": "city"}], links=[]), other, actor="a")
    for fmt in (Format.CONLL, Format.JSONL):
        path = tmp_path / f"export.{fmt.value}"
        path.write_text("".join(lines(parts.feedback.rows("toy"), fmt)))
        data = read_labelled(path, SCHEMA.labels)
        assert len(data.sentences) == 2 and data.entities == 3, fmt
    assert len(list(parts.feedback.rows())) == 3 and [r["id"] for r in parts.feedback.rows()] == sorted(
        r["id"] for r in parts.feedback.rows()
    )


def test_purge_by_id_and_by_age_is_audited(parts):
    first = parts.feedback.add(correction(links=[]), SCHEMA, actor="a")["id"]
    parts.feedback.add(correction(links=[]), SCHEMA, actor="a")
    assert parts.feedback.delete([first], actor="admin") == 1 and parts.feedback.delete([first], actor="admin") == 0
    assert parts.feedback.purge_older_than(1, actor="admin") == 0  # the other one is newer than a day
    assert parts.feedback.purge_older_than(0, actor="admin") == 1 and parts.feedback.recent() == []
    deletes = [e for e in audit.read(parts.sessions, 20, "feedback") if e["action"] == "delete"]
    assert len(deletes) == 2 and deletes[0]["actor"] == "admin"
