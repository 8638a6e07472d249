"""PostgreSQL as the shared store: concurrent writers, and the service end to end on it (the store-level tests in
test_kb.py and test_schemas.py run on both SQLite and PostgreSQL through the ``db_url`` fixture)."""

import multiprocessing
import threading

import pytest
from sqlalchemy import func, select

from hybrid_ner.schemas import Schema, SchemaConflictError, SchemaStore
from kb.db import open_db
from kb.meta import read_state
from kb.models import AliasRow
from kb.records import EntityIn
from kb.store import SQLKBStore


def shop(description: str) -> Schema:
    return Schema.model_validate({"name": "shop", "types": [{"name": "PRODUCT", "description": description}]})


def test_two_writers_editing_one_schema_at_once(postgres):
    url = postgres.new_database()
    SchemaStore(open_db(url)[1]).put(shop("first"), base_version=None)
    stores = [SchemaStore(open_db(url)[1]) for _ in range(2)]
    start = threading.Barrier(2)
    outcomes: list[object] = [None, None]

    def write(i: int) -> None:
        start.wait()
        try:
            outcomes[i] = stores[i].put(shop(f"writer {i}"), base_version=1)
        except SchemaConflictError as exc:
            outcomes[i] = exc

    threads = [threading.Thread(target=write, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    won = [o for o in outcomes if isinstance(o, Schema)]
    lost = [o for o in outcomes if isinstance(o, SchemaConflictError)]
    assert len(won) == 1 and len(lost) == 1  # one gets the conflict
    assert [v["version"] for v in stores[0].versions("shop")] == [1, 2]
    stored = stores[1].get("shop")
    assert stored.get_type("PRODUCT").description == won[0].get_type("PRODUCT").description  # nothing is lost
    assert stores[1].get("shop", 1).get_type("PRODUCT").description == "first"


def _upsert_range(url: str, first: int, last: int, batch: int) -> None:
    store = SQLKBStore(open_db(url)[1])
    for lo in range(first, last, batch):
        store.upsert(
            [EntityIn(id=f"e{i}", name=f"Entity {i}", aliases=[f"alias {i}"]) for i in range(lo, min(last, lo + batch))]
        )


def test_kb_upserts_from_two_processes_at_once(postgres):
    url = postgres.new_database()
    engine, sessions = open_db(url)
    context = multiprocessing.get_context("spawn")
    procs = [
        context.Process(target=_upsert_range, args=(url, 0, 1200, 100)),
        context.Process(target=_upsert_range, args=(url, 600, 1800, 100)),  # half of it overlaps the other
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
    assert [p.exitcode for p in procs] == [0, 0]
    store = SQLKBStore(sessions)
    assert store.count() == 1800
    assert read_state(sessions).kb_version == 24  # every batch of both writers counted once
    with sessions() as s:  # each entity has exactly its own aliases: no duplicates from the race
        assert s.scalar(select(func.count()).select_from(AliasRow).where(AliasRow.source == "")) == 3600
    assert store.by_alias(["alias 700"]) == {"alias 700": ["e700"]}
    engine.dispose()


@pytest.mark.integration
def test_the_service_runs_on_postgresql(postgres, tmp_path, local_ner):
    """Extract, link, overrides, deletion rules, import jobs and the audit log with HNER_DB_URL on PostgreSQL."""
    import json
    import time

    from fastapi.testclient import TestClient

    from hybrid_ner.config import Settings
    from hybrid_ner.pipeline import Pipeline
    from hybrid_ner.service.app import create_app
    from tests.test_linking import KB

    settings = Settings(data_dir=tmp_path, db_url=postgres.new_database(), admin_keys="pg-admin", llm_cache=False)
    admin = {"X-API-Key": "pg-admin"}
    with TestClient(create_app(settings, Pipeline(settings=settings, extractor=local_ner))) as c:
        assert c.get("/readyz").status_code == 200
        job = c.post(
            "/v1/admin/kb/import",
            content="".join(json.dumps(e) + "\n" for e in KB),
            headers={**admin, "content-type": "application/x-ndjson"},
        ).json()
        for _ in range(200):
            job = c.get(f"/v1/admin/kb/jobs/{job['id']}", headers=admin).json()
            if job["status"] != "running":
                break
            time.sleep(0.05)
        assert job["status"] == "done" and job["loaded"] == len(KB)
        text = "Angela Merkel visited Siemens in Paris."
        entities = {e["text"]: e for e in c.post("/v1/annotate", json={"text": text}).json()["entities"]}
        assert entities["Paris"]["link"]["kb_id"] == "geonames:2988507"
        rule = {"pattern": "Paris", "action": "force_link", "kb_id": "geonames:4717560"}
        assert c.post("/v1/admin/overrides", json=rule, headers=admin).status_code == 201
        entities = {e["text"]: e for e in c.post("/v1/annotate", json={"text": text}).json()["entities"]}
        assert entities["Paris"]["link"]["kb_id"] == "geonames:4717560"
        assert c.delete("/v1/admin/kb/entities/geonames:4717560", headers=admin).status_code == 409
        kinds = {(r["object_type"], r["action"]) for r in c.get("/v1/admin/audit", headers=admin).json()}
        assert {("entity", "create"), ("override", "create")} <= kinds
