"""Regression tests for the contracts the contracts issue found broken, each through the real app (TestClient),
the real embedder, FAISS index and SQLite: caches that know their source, overrides on every path, entities a
rule names, audited imports, indexes tied to their database, fast LLM failures, offline docs assets."""

import json
import time

import pytest
from fastapi.testclient import TestClient

from hybrid_ner.config import Settings
from hybrid_ner.pipeline import Pipeline
from hybrid_ner.schemas import Schema
from hybrid_ner.service.app import create_app
from kb.db import open_db
from kb.overrides import OverrideIn
from kb.records import EntityIn
from kb.store import SQLKBStore
from tests.fakes import FakeExtractor
from tests.test_linking import KB

pytestmark = pytest.mark.integration

ADMIN = {"X-API-Key": "contracts-admin"}
TEXT = "Angela Merkel met the mayor of Quuxville in Paris."
QUUX = {"id": "x:quux", "name": "Quuxville", "types": ["city"], "description": "town in Westeros", "prior": 500}


@pytest.fixture()
def client(tmp_path, local_ner):
    settings = Settings(data_dir=tmp_path, admin_keys="contracts-admin", llm_cache=False)
    with TestClient(create_app(settings, Pipeline(settings=settings, extractor=local_ner))) as c:
        assert c.put("/v1/admin/kb/entities", json=KB[:2], headers=ADMIN).status_code == 200
        yield c


def entities_of(response):
    body = response.json()
    assert response.status_code == 200, body
    assert body["entities"], "expected entities"
    return {e["text"]: e for e in body["entities"]}


def test_a_kb_write_is_seen_by_the_next_request_despite_the_cache(client):
    first = entities_of(client.post("/v1/annotate", json={"text": TEXT}))
    assert first["Quuxville"]["link"]["nil"]
    bad = {**QUUX, "attributes": {"name_only": "yes"}}  # a flag that is no boolean: refused, nothing written
    refused = client.put("/v1/admin/kb/entities", json=[QUUX, bad], headers=ADMIN)
    assert refused.status_code == 422 and "name_only" in refused.text
    bad = {**QUUX, "attributes": {"index_text": 7}}  # encoder text that is no string: refused as well
    refused = client.put("/v1/admin/kb/entities", json=[QUUX, bad], headers=ADMIN)
    assert refused.status_code == 422 and "index_text" in refused.text
    bad = {**QUUX, "attributes": {"region": ["Ontario"]}}  # a region that is no string: refused as well
    refused = client.put("/v1/admin/kb/entities", json=[QUUX, bad], headers=ADMIN)
    assert refused.status_code == 422 and "region" in refused.text
    assert entities_of(client.post("/v1/annotate", json={"text": TEXT}))["Quuxville"]["link"]["nil"]
    assert client.put("/v1/admin/kb/entities", json=[QUUX], headers=ADMIN).status_code == 200
    again = entities_of(client.post("/v1/annotate", json={"text": TEXT}))
    assert again["Quuxville"]["link"]["kb_id"] == "x:quux" and again["Quuxville"]["link"]["name"] == "Quuxville"


def test_an_override_write_is_seen_by_the_next_request_despite_the_cache(client):
    assert entities_of(client.post("/v1/annotate", json={"text": TEXT}))["Angela Merkel"]["text"] == "Angela Merkel"
    rule = {"pattern": "Angela Merkel", "action": "redact"}
    assert client.post("/v1/admin/overrides", json=rule, headers=ADMIN).status_code == 201
    body = client.post("/v1/annotate", json={"text": TEXT}).json()
    assert body["entities"], "expected entities"
    redacted = [e for e in body["entities"] if e["start"] == 0]
    assert redacted and redacted[0]["text"] == "█" * 13 and redacted[0]["redacted"] is True
    assert "Angela Merkel" not in json.dumps(body)


def test_extract_then_annotate_on_the_same_text_do_not_share_cache_entries(tmp_path, local_ner):
    settings = Settings(data_dir=tmp_path, llm_cache=False)  # no KB: extract adds no links
    with TestClient(create_app(settings, Pipeline(settings=settings, extractor=local_ner))) as c:
        plain = c.post("/v1/extract", json={"text": TEXT}).json()["entities"]
        assert plain and all("link" not in e for e in plain)
        linked = c.post("/v1/annotate", json={"text": TEXT}).json()["entities"]
        assert linked and all(e["link"]["nil"] and e["link"]["kb_id"] is None for e in linked)


def test_overrides_apply_on_v1_link(client):
    client.post("/v1/admin/overrides", json={"pattern": "Paris", "action": "redact"}, headers=ADMIN)
    spans = [{"start": 44, "end": 49, "label": "LOC"}, {"start": 0, "end": 13, "label": "PER"}]
    body = client.post("/v1/link", json={"text": TEXT, "spans": spans}).json()
    assert body["links"], "expected links"
    paris, merkel = body["links"]
    assert paris["redacted"] is True and paris["text"] == "█████" and paris["kb_id"] is None
    assert paris["override"]["action"] == "redact" and not paris["candidates"]
    assert merkel["text"] == "Angela Merkel" and "redacted" not in merkel


def test_candidates_are_in_score_order_and_named(client):
    body = client.post("/v1/link", json={"text": TEXT, "spans": [{"start": 44, "end": 49, "label": "LOC"}]}).json()
    (paris,) = body["links"]
    scores = [c["score"] for c in paris["candidates"]]
    assert len(scores) >= 2 and scores == sorted(scores, reverse=True)
    assert all(c["name"] == "Paris" for c in paris["candidates"])
    assert paris["kb_id"] == paris["candidates"][0]["kb_id"] and paris["name"] == "Paris"
    assert paris["url"] == "https://www.geonames.org/2988507" and "France" in paris["description"]
    assert paris["types"] == ["city"]


def test_redaction_holds_when_the_local_model_fails(tmp_path):
    settings = Settings(data_dir=tmp_path, admin_keys="contracts-admin", llm_cache=False)
    shop = Schema.model_validate(
        {"name": "shop", "types": [{"name": "PRODUCT", "patterns": ["Pixel 8"], "sensitive": True}]}
    )
    broken = FakeExtractor([], fail=OSError("model files are gone"))
    pipeline = Pipeline(shop, "cascade", settings=settings, extractor=broken)
    pipeline.components.overrides.save(OverrideIn(pattern="Pixel 8", action="redact"), actor="test")
    (result,) = pipeline.extract("Jane bought a Pixel 8 in Paris.", link=True)
    assert result.degraded and "local_model_unavailable" in (result.degraded_reason or "")
    assert result.entities, "the rules fallback should find the product"
    (product,) = result.entities
    assert product.redacted and product.span.text == "███████" and product.link is None


def test_deleting_an_entity_a_rule_names_is_refused(client):
    rule = {"pattern": "Paris", "action": "force_link", "kb_id": "geonames:4717560"}
    rid = client.post("/v1/admin/overrides", json=rule, headers=ADMIN).json()["id"]
    refused = client.delete("/v1/admin/kb/entities/geonames:4717560", headers=ADMIN)
    assert refused.status_code == 409 and f"rule(s) {rid}" in refused.json()["detail"]
    assert client.get("/v1/admin/kb/entities/geonames:4717560", headers=ADMIN).status_code == 200
    assert client.delete(f"/v1/admin/overrides/{rid}", headers=ADMIN).status_code == 204
    assert client.delete("/v1/admin/kb/entities/geonames:4717560", headers=ADMIN).status_code == 204


def test_import_jobs_write_the_audit_log(client):
    body = json.dumps(QUUX) + "\n" + json.dumps({**KB[0], "description": "capital of France"}) + "\n"
    job = client.post("/v1/admin/kb/import", content=body, headers={**ADMIN, "content-type": "application/x-ndjson"})
    assert job.status_code == 202
    for _ in range(200):
        state = client.get(f"/v1/admin/kb/jobs/{job.json()['id']}", headers=ADMIN).json()
        if state["status"] != "running":
            break
        time.sleep(0.05)
    assert state["status"] == "done" and state["loaded"] == 2
    log = client.get("/v1/admin/audit", params={"kind": "entity", "limit": 2}, headers=ADMIN).json()
    assert {(r["object_id"], r["action"]) for r in log} == {("x:quux", "create"), ("geonames:2988507", "update")}
    assert all(r["actor"].startswith("key:") for r in log)


def test_an_index_belongs_to_its_database(tmp_path, caplog):
    """Two databases, one data directory: each gets its own index, and an index copied under another
    database's identity is rebuilt, with a warning that says why."""
    from hybrid_ner.components import build_resolver

    texts = [("Flights to Paris resumed.", [(11, 16, "LOC")])]
    links = {}
    for name, rows in (("france", KB[:1]), ("texas", KB[1:2])):
        settings = Settings(data_dir=tmp_path, db_url=f"sqlite:///{tmp_path / name}.sqlite3")
        _, sessions = open_db(settings.database_url)
        store = SQLKBStore(sessions)
        store.upsert([EntityIn(**r) for r in rows])
        resolver = build_resolver(settings, store)
        links[name] = resolver.link(texts)[0][0].kb_id
        links[name + "_dir"] = resolver.index.path
    assert links["france"] == "geonames:2988507" and links["texas"] == "geonames:4717560"
    assert links["france_dir"] != links["texas_dir"] and links["france_dir"].parent.parent == tmp_path / "index"
    # an index copied in by hand under the wrong database: refused and rebuilt
    meta = links["texas_dir"] / "base.json"
    data = json.loads((links["france_dir"] / "base.json").read_text())
    meta.write_text(json.dumps(data))
    settings = Settings(data_dir=tmp_path, db_url=f"sqlite:///{tmp_path / 'texas'}.sqlite3")
    _, sessions = open_db(settings.database_url)
    resolver = build_resolver(settings, SQLKBStore(sessions))
    assert resolver.link(texts)[0][0].kb_id == "geonames:4717560"
    assert any("built from database" in r.getMessage() for r in caplog.records)


def test_a_refused_llm_connection_degrades_with_its_own_reason(tmp_path):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = Settings(
        data_dir=tmp_path,
        llm_model="openai/any-model",
        llm_api_base=f"http://127.0.0.1:{port}/v1",
        llm_api_key="unused",
        llm_timeout_s=5,
        llm_cache=False,
    )
    pipeline = Pipeline(strategy="llm", settings=settings)
    (result,) = pipeline.extract("Angela Merkel met Emmanuel Macron in Paris. Later, Siemens shares rose in Munich.")
    assert result.degraded and result.degraded_reason == "llm_connection_refused"
    assert result.llm is not None and result.llm["errors"] == ["connection_refused"]
