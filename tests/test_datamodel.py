import pytest
from pydantic import ValidationError

from hybrid_ner.datamodel import Decision, Entity, Link, Result, Source, Span


def test_span_from_text_cuts_exact_text():
    text = "Zoë  met\nBjörk"
    span = Span.from_text(text, 9, 14, "PER")
    assert span.text == "Björk" == text[span.start : span.end]


@pytest.mark.parametrize(("start", "end"), [(3, 3), (5, 2), (0, 99), (-1, 2)])
def test_span_rejects_bad_offsets(start, end):
    with pytest.raises(ValueError):
        Span.from_text("short text", start, end, "X")


def test_span_text_must_match_length():
    with pytest.raises(ValidationError):
        Span(start=0, end=4, text="abc", label="X")


def test_link_nil_consistency():
    assert Link().nil is True
    assert Link(kb_id="Q1", nil=False, score=0.9).kb_id == "Q1"
    with pytest.raises(ValidationError):
        Link(kb_id="Q1")  # nil defaults to true, which contradicts a kb_id


def test_entity_output_is_flat_and_carries_decision():
    ent = Entity(
        span=Span.from_text("Paris is big", 0, 5, "LOC"),
        score=0.93,
        source=Source.LOCAL,
        decision=Decision(routed="local", confidence=0.93, threshold=0.8, extra_reason="kept"),
    )
    out = Result(entities=[ent]).to_output()
    assert out["degraded"] is False
    e = out["entities"][0]
    assert {k: e[k] for k in ("start", "end", "text", "label", "source")} == {
        "start": 0,
        "end": 5,
        "text": "Paris",
        "label": "LOC",
        "source": "local",
    }
    assert e["decision"] == {"routed": "local", "confidence": 0.93, "threshold": 0.8, "extra_reason": "kept"}
    assert "link" not in e


def test_score_must_be_probability():
    with pytest.raises(ValidationError):
        Entity(span=Span.from_text("a b", 0, 1, "X"), score=1.5, source=Source.LOCAL, decision=Decision(routed="local"))
