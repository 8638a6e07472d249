"""The learning loop's routes through the real app (TestClient): feedback with its keys and 422s, the admin's
list, export and purge, the model registry, and a schema that names the model serving its types."""

import json

import pytest
from fastapi.testclient import TestClient

from hybrid_ner.config import Settings
from hybrid_ner.learn.data import read_labelled
from hybrid_ner.pipeline import Pipeline
from hybrid_ner.service.app import create_app
from tests.conftest import TOY_SCHEMA

pytestmark = pytest.mark.integration

ADMIN, FEEDBACK, READER = "learn-admin", "learn-feedback", "learn-reader"
TEXT = "Maria Fernandes visited Lisbon to meet engineers from Acme Robotics ."
GOOD = {"text": "Ana Souza joined ACMR in Lisbon.", "schema": "toy", "entities": [
    {"start": 0, "end": 9, "label": "person"}, {"start": 17, "end": 21, "label": "company"}]}  # fmt: skip


def key(k):
    return {"X-API-Key": k}


@pytest.fixture()
def client(tmp_path, local_ner):
    settings = Settings(data_dir=tmp_path, admin_keys=ADMIN, feedback_keys=FEEDBACK, read_keys=READER, max_chars=500)
    with TestClient(create_app(settings, Pipeline(settings=settings, extractor=local_ner))) as c:
        assert c.put("/v1/admin/schemas/toy", json={"schema": TOY_SCHEMA}, headers=key(ADMIN)).status_code == 200
        c.put("/v1/admin/kb/entities", json=[{"id": "org:acme", "name": "Acme Robotics"}], headers=key(ADMIN))
        yield c


def test_feedback_needs_a_feedback_or_admin_key(client):
    assert client.post("/v1/feedback", json=GOOD).status_code == 401
    assert client.post("/v1/feedback", json=GOOD, headers=key("wrong")).status_code == 401
    assert client.post("/v1/feedback", json=GOOD, headers=key(READER)).status_code == 403
    made = client.post("/v1/feedback", json=GOOD, headers=key(FEEDBACK))
    assert made.status_code == 201 and made.json()["entities"] == 2
    assert client.post("/v1/feedback", json=GOOD, headers=key(ADMIN)).status_code == 201
    assert client.get("/v1/admin/feedback", headers=key(FEEDBACK)).status_code == 403  # reading it back is admin's


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"entities": [{"start": 25, "end": 99, "label": "city"}]}, ["body", "entities", "0"]),
        ({"entities": [{"start": 0, "end": 9, "label": "planet"}]}, ["body", "entities", "0", "label"]),
        ({"entities": [{"start": "0", "end": 9, "label": "person"}]}, ["body", "entities", 0, "start"]),
        ({"entities": [{"start": 0, "end": 8.5, "label": "person"}]}, ["body", "entities", 0, "end"]),
        ({"schema": "nope"}, ["body", "schema"]),
        ({"links": [{"start": 17, "end": 21, "kb_id": "org:nope"}]}, ["body", "links", "0", "kb_id"]),
        ({"text": "x" * 501}, ["body", "text"]),
        ({"text": ""}, ["body", "text"]),
        ({"surprise": 1}, ["body", "surprise"]),
    ],
)
def test_bad_feedback_is_a_422_and_stores_nothing(client, change, loc):
    r = client.post("/v1/feedback", json={**GOOD, **change}, headers=key(FEEDBACK))
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == loc
    assert client.get("/v1/admin/feedback", headers=key(ADMIN)).json() == []


def test_an_offset_written_as_a_whole_float_is_that_integer(client):
    """JSON Schema counts 9.0 as an integer, so clients that write numbers as floats are not refused."""
    fix = {**GOOD, "entities": [{"start": 0.0, "end": 9.0, "label": "person"}]}
    assert client.post("/v1/feedback", json=fix, headers=key(FEEDBACK)).status_code == 201
    (stored,) = client.get("/v1/admin/feedback", headers=key(ADMIN)).json()
    assert stored["entities"] == [{"start": 0, "end": 9, "label": "person"}]
    documented = client.get("/openapi.json").json()["components"]["schemas"]["CorrectedEntity"]["properties"]
    assert documented["start"]["type"] == "integer" and documented["start"]["minimum"] == 0  # bounds stay public


def test_admin_lists_exports_and_purges_feedback(client, tmp_path):
    ids = [client.post("/v1/feedback", json=GOOD, headers=key(FEEDBACK)).json()["id"] for _ in range(3)]
    listed = client.get("/v1/admin/feedback?limit=2", headers=key(ADMIN)).json()
    assert [r["id"] for r in listed] == ids[:0:-1] and listed[0]["text"] == GOOD["text"]
    conll = client.get("/v1/admin/feedback/export?format=conll&schema=toy", headers=key(ADMIN))
    assert conll.status_code == 200 and conll.headers["content-type"].startswith("text/plain")
    (tmp_path / "fb.conll").write_text(conll.text)
    assert read_labelled(tmp_path / "fb.conll", ["person", "city", "company"]).entities == 6
    jsonl = client.get("/v1/admin/feedback/export", headers=key(ADMIN))
    assert [json.loads(line)["text"] for line in jsonl.text.splitlines()] == [GOOD["text"]] * 3
    assert client.get("/v1/admin/feedback/export?format=xml", headers=key(ADMIN)).status_code == 422
    assert client.delete(f"/v1/admin/feedback/{ids[0]}", headers=key(ADMIN)).status_code == 204
    assert client.delete(f"/v1/admin/feedback/{ids[0]}", headers=key(ADMIN)).status_code == 404
    assert client.delete("/v1/admin/feedback?older_than_days=0", headers=key(ADMIN)).json() == {"deleted": 2}
    assert client.delete("/v1/admin/feedback", headers=key(ADMIN)).status_code == 422  # the age is required


def test_a_corrected_link_applies_on_the_next_request(client):
    span = {"text": "ACMR builds robots.", "spans": [{"start": 0, "end": 4, "label": "ORG"}]}
    before = client.post("/v1/link", json=span).json()["links"][0]
    assert before["decision"]["stage"] == "dense"  # no name of the KB: found by meaning alone, if at all
    fixed = {"text": "ACMR builds robots.", "links": [{"start": 0, "end": 4, "kb_id": "org:acme"}]}
    assert client.post("/v1/feedback", json=fixed, headers=key(FEEDBACK)).json()["aliases_added"] == 1
    after = client.post("/v1/link", json=span).json()["links"][0]
    assert after["kb_id"] == "org:acme" and after["decision"]["stage"] == "alias"  # now a name the KB knows
    assert after["score"] > before["score"]


def test_models_are_registered_and_a_schema_names_the_one_serving_its_types(client, adapted_model):
    listed = client.get("/v1/admin/models", headers=key(ADMIN)).json()["models"]
    assert [(m["name"], m["state"], m["schemas"]) for m in listed] == [
        ("ner-conll-minilm-l4-v2", "default", ["default", "toy"])
    ]
    bad = client.post("/v1/admin/models", json={"name": "toy", "path": "/nowhere"}, headers=key(ADMIN))
    assert bad.status_code == 422 and "not a model directory" in bad.text
    shipped = client.post("/v1/admin/models", json={"name": "ner-conll-minilm", "path": str(adapted_model)},
                          headers=key(ADMIN))  # fmt: skip
    assert shipped.status_code == 422
    assert client.post("/v1/admin/models", json={"name": "toy", "path": str(adapted_model)}).status_code == 401
    added = client.post("/v1/admin/models", json={"name": "toy", "path": str(adapted_model)}, headers=key(ADMIN))
    assert added.status_code == 201 and added.json()["labels"] == ["city", "company", "person"]
    unknown = client.put("/v1/admin/schemas/toy", json={"schema": {**TOY_SCHEMA, "model": "nope"}, "base_version": 1},
                         headers=key(ADMIN))  # fmt: skip
    assert unknown.status_code == 422 and "nope" in unknown.text
    before = client.post("/v1/extract", json={"text": TEXT, "schema": "toy", "strategy": "local"}).json()["entities"]
    assert before == []  # the default model has no toy types and the schema maps none of its labels
    bound = client.put("/v1/admin/schemas/toy", json={"schema": {**TOY_SCHEMA, "model": "toy"}, "base_version": 1},
                       headers=key(ADMIN))  # fmt: skip
    assert bound.status_code == 200 and bound.json()["model"] == "toy"
    after = client.post("/v1/extract", json={"text": TEXT, "schema": "toy", "strategy": "local"}).json()
    assert {e["label"] for e in after["entities"]} == {"person", "city", "company"}
    assert all(e["source"] == "local" for e in after["entities"]) and "llm" not in after  # no LLM involved
    default = client.post("/v1/extract", json={"text": TEXT}).json()["entities"]
    assert {e["label"] for e in default} <= {"PER", "LOC", "ORG", "MISC"}  # other schemas keep the default model
    models = {m["name"]: m for m in client.get("/v1/admin/models", headers=key(ADMIN)).json()["models"]}
    assert models["toy"]["state"] == "serving" and models["toy"]["schemas"] == ["toy"] and models["toy"]["share"] == 1
    audit = client.get("/v1/admin/audit?kind=model", headers=key(ADMIN)).json()
    assert audit[0]["object_id"] == "toy" and audit[0]["after"]["digest"] == models["toy"]["digest"]


def test_feedback_never_changes_a_served_model(client):
    before = client.post("/v1/extract", json={"text": TEXT}).json()
    models = client.get("/v1/admin/models", headers=key(ADMIN)).json()
    wrong = {"text": TEXT, "entities": [{"start": 0, "end": 15, "label": "LOC"}]}
    assert client.post("/v1/feedback", json=wrong, headers=key(FEEDBACK)).status_code == 201
    assert client.post("/v1/extract", json={"text": TEXT}).json() == before
    assert client.get("/v1/admin/models", headers=key(ADMIN)).json() == models


def test_one_model_loads_once_per_process_whatever_it_is_called(tmp_path, local_ner, adapted_model):
    from hybrid_ner.cache import ResultCache

    settings = Settings(data_dir=tmp_path)
    pipeline = Pipeline(settings=settings, extractor=local_ner, cache=ResultCache(16, 60))
    pipeline.components.models.add("toy", adapted_model, actor="test")
    by_name, by_dir = pipeline.resolve_model("toy"), pipeline.resolve_model(str(adapted_model))
    assert by_name is by_dir and by_name is not local_ner  # one load, keyed by content digest
    assert pipeline.resolve_model() is local_ner
    from hybrid_ner.schemas import Schema

    toy = Schema.model_validate(TOY_SCHEMA)
    default_result = pipeline.extract(TEXT, schema=toy)[0]
    adapted_result = pipeline.extract(TEXT, schema=toy, model="toy")[0]  # the same text, schema: not a cache hit
    assert default_result.entities == [] and {e.span.label for e in adapted_result.entities} <= {
        "person",
        "city",
        "company",
    }
    assert adapted_result.entities and all(by_name.version == e.decision.model for e in adapted_result.entities)
