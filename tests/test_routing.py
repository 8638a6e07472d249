import pytest

from hybrid_ner.routing import STRATEGIES, get_router
from hybrid_ner.schemas import Schema
from tests.fakes import FakeExtractor

TEXT = "Tim Cook runs Apple. Jane Roe joined Acme in Paris."
SENTENCES = [(0, 20), (21, 51)]
LOCAL = FakeExtractor(
    [
        ("Tim Cook", "PER", 0.99),
        ("Apple", "ORG", 0.95),
        ("Jane Roe", "PER", 0.55),
        ("Acme", "ORG", 0.4),
        ("Paris", "LOC", 0.9),
    ]
).extract([TEXT])[0]


def schema(**product):
    return Schema.model_validate(
        {
            "name": "s",
            "types": [
                {"name": "PERSON", "local_labels": ["PER"]},
                {"name": "COMPANY", "local_labels": ["ORG"], "threshold": 0.3},
                {"name": "PRODUCT", "description": "Products.", **product},
            ],
        }
    )


def test_local_keeps_mapped_labels_only():
    plan = get_router("local").route(SENTENCES, LOCAL, schema(), 0.8)
    assert [(e.span.text, e.span.label) for e in plan.keep] == [
        ("Tim Cook", "PERSON"),
        ("Apple", "COMPANY"),
        ("Jane Roe", "PERSON"),
        ("Acme", "COMPANY"),
    ]
    assert not plan.ask and not plan.escalated
    assert all(e.decision.strategy == "local" for e in plan.keep)


def test_cascade_escalates_below_type_threshold():
    plan = get_router("cascade").route(SENTENCES, LOCAL, schema(), 0.8)
    assert [e.span.text for e in plan.keep] == ["Tim Cook", "Apple", "Acme"]  # Acme: COMPANY threshold is 0.3
    assert [e.span.text for e in plan.escalated] == ["Jane Roe"]
    esc = plan.escalated[0].decision
    assert (esc.routed, esc.threshold, esc.confidence) == ("llm", 0.8, 0.55)
    assert plan.ask == {(21, 51): {"PERSON", "COMPANY"}}  # only the escalated sentence; PRODUCT has no mapping
    kept = plan.keep[0].decision
    assert kept.reason == "confidence >= 0.8" and kept.strategy == "cascade"


def test_schema_sends_unmapped_types_everywhere():
    plan = get_router("schema").route(SENTENCES, LOCAL, schema(), 0.8)
    assert plan.llm_only == {"PRODUCT"}
    assert plan.ask == {(0, 20): {"PRODUCT"}, (21, 51): {"PERSON", "COMPANY", "PRODUCT"}}


def test_modes_pin_types():
    s = Schema.model_validate(
        {
            "name": "s",
            "types": [
                {"name": "PERSON", "local_labels": ["PER"], "mode": "local"},
                {"name": "COMPANY", "local_labels": ["ORG"], "mode": "llm"},
            ],
        }
    )
    plan = get_router("cascade").route(SENTENCES, LOCAL, s, 0.8)
    assert [e.span.text for e in plan.keep] == ["Tim Cook", "Jane Roe"]  # pinned local, despite 0.55
    assert plan.llm_only == {"COMPANY"}
    llm_plan = get_router("llm").route(SENTENCES, LOCAL, s, 0.8)
    assert [e.span.text for e in llm_plan.keep] == ["Tim Cook", "Jane Roe"]
    assert llm_plan.llm_only == {"COMPANY"}
    assert get_router("llm").needs_local(s) is True
    assert get_router("llm").needs_local(schema()) is False


def test_rules_router_uses_rules_only():
    plan = get_router("rules").route(SENTENCES, LOCAL, schema(), 0.8)
    assert plan.use_rules and not plan.keep


def test_registered_names_and_aliases():
    assert STRATEGIES == ("local", "llm", "cascade", "schema", "rules")
    assert get_router("router.cascade.v1").name == "router.cascade.v1"
    with pytest.raises(ValueError, match="valid: local, llm, cascade, schema, rules"):
        get_router("magic")
