"""From an adapted model to served types over real HTTP: registered with the CLI, bound to a schema through the
admin API of a two-worker service, then every worker serves the schema's types from the local path; feedback
with its key, and its export as training data."""

import json
import os
import subprocess

import httpx
import pytest

from hybrid_ner.learn.data import read_labelled
from tests.conftest import TOY_SCHEMA
from tests.test_service_http import CLI, http_get, http_post, http_put, serving

pytestmark = pytest.mark.integration

ADMIN, FEEDBACK = "http-learn-admin", "http-learn-feedback"
TEXTS = [
    "Lena Berg visited Oslo to meet engineers from Nordlys Energy .",
    "Tata Steel opened a new office in Chennai last week .",
    "In Recife , Ana Souza said Vale Mining would hire more staff .",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory, adapted_model):
    state = tmp_path_factory.mktemp("learn-server")
    env = {**os.environ, "HNER_DATA_DIR": str(state), "HNER_ADMIN_KEYS": ADMIN, "HNER_FEEDBACK_KEYS": FEEDBACK,
           "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}  # fmt: skip
    added = subprocess.run([CLI, "models", "add", "toy", str(adapted_model)], env=env, capture_output=True, text=True)
    assert added.returncode == 0, added.stderr
    with serving(env, state) as base:
        yield base, json.loads(added.stdout)


def test_every_worker_serves_the_schemas_adapted_model(server):
    base, registered = server
    admin = {"X-API-Key": ADMIN}
    bound = http_put(base + "/v1/admin/schemas/toy", json={"schema": {**TOY_SCHEMA, "model": "toy"}}, headers=admin)
    assert bound.status_code == 200, bound.text
    workers, models = set(), set()
    for i in range(24):  # a new connection each time, so both workers answer
        with httpx.Client(base_url=base, timeout=60) as client:
            workers.add(client.get("/readyz").json()["worker"])
            body = client.post("/v1/extract", json={"text": TEXTS[i % 3], "schema": "toy", "strategy": "local"})
            assert body.status_code == 200, body.text
            entities = body.json()["entities"]
            assert entities and {e["label"] for e in entities} <= {"person", "city", "company"}
            assert all(e["source"] == "local" for e in entities)
            models |= {e["decision"]["model"] for e in entities}
    assert len(workers) == 2
    assert models == {f"toy@{registered['digest'][:12]}+onnx-int8"}  # the decision names the model that decided
    listed = http_get(base + "/v1/admin/models", headers=admin).json()["models"]
    assert {m["name"]: m["state"] for m in listed} == {"ner-conll-minilm-l4-v2": "default", "toy": "serving"}


def test_models_are_added_over_http_by_their_content(server, adapted_model):
    base, registered = server
    admin = {"X-API-Key": ADMIN}
    same = http_post(base + "/v1/admin/models", json={"name": "toy-copy", "path": str(adapted_model)}, headers=admin)
    assert same.status_code == 201 and same.json()["digest"] == registered["digest"]
    assert http_post(base + "/v1/admin/models", json={"name": "x", "path": "/"}, headers=admin).status_code == 422


def test_feedback_over_http_becomes_training_data(server, tmp_path):
    base, _ = server
    fix = {"text": TEXTS[0], "schema": "toy", "entities": [{"start": 0, "end": 9, "label": "person"}]}
    assert http_post(base + "/v1/feedback", json=fix).status_code == 401
    assert http_post(base + "/v1/feedback", json=fix, headers={"X-API-Key": FEEDBACK}).status_code == 201
    bad = {**fix, "entities": [{"start": 0, "end": 999, "label": "person"}]}
    assert http_post(base + "/v1/feedback", json=bad, headers={"X-API-Key": FEEDBACK}).status_code == 422
    export = http_get(base + "/v1/admin/feedback/export?format=conll", headers={"X-API-Key": ADMIN})
    (tmp_path / "fb.conll").write_text(export.text)
    assert read_labelled(tmp_path / "fb.conll", ["person", "city", "company"]).entities == 1
