"""Linking readiness over real HTTP: two workers start on a KB without a dense index, answer with name links at
once, build the index in the background (one of them builds, the other loads) and say so in ``/readyz``; every
link says which stage decided it, the override list included."""

import json
import os
import subprocess
import time

import pytest

from tests.test_linking import KB
from tests.test_service_http import ADMIN, CLI, http_get, http_post, serving

pytestmark = pytest.mark.integration

TEXT = "Siemens AG opened a plant in Paris, the French capital."


def _env(state, **extra):
    return {
        **os.environ,
        "HNER_DATA_DIR": str(state),
        "HNER_ADMIN_KEYS": ADMIN,
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
        **extra,
    }


# Found by its name only: never embedded, so the index holds the other entries (``attributes.name_only``). It has
# no description; its ``index_text`` is for the encoders and never shown as one.
TAIL = {
    "id": "org:siemens-energy",
    "name": "Siemens Energy",
    "types": ["organization"],
    "attributes": {"name_only": True, "index_text": "organization; also called siemens energy ag"},
}


def _load_without_index(env, state):
    kb_file = state / "kb.jsonl"
    kb_file.write_text("".join(json.dumps(e) + "\n" for e in [*KB, TAIL]))
    subprocess.run([CLI, "kb", "load", str(kb_file), "--no-index"], env=env, check=True, capture_output=True)


def _linking(base):
    return http_get(base + "/readyz").json()["linking"]


def _until_dense(base, limit=180):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        linking = _linking(base)
        if linking["stages"]["dense"]:
            return linking
        assert linking["index"]["state"] in ("building", "waiting"), linking
        time.sleep(0.5)
    raise AssertionError(f"the dense index never became ready: {linking}")


def test_the_service_links_at_once_and_adds_the_dense_index_when_built(tmp_path):
    env = _env(tmp_path)
    _load_without_index(env, tmp_path)
    with serving(env, tmp_path, workers=2) as base:
        first = http_post(base + "/v1/annotate", json={"text": TEXT})
        assert first.status_code == 200
        links = {e["text"]: e["link"] for e in first.json()["entities"]}
        assert links["Siemens AG"]["kb_id"] == "org:siemens"
        assert links["Siemens AG"]["decision"]["stage"] in ("alias", "dense")
        assert 0.0 <= links["Siemens AG"]["decision"]["margin"] <= 1.0
        ready = _until_dense(base)
        assert ready["index"] == {"state": "ready", "entries": len(KB)}
        for _ in range(20):  # both workers: each loads (or built) the one index on disk
            assert _linking(base)["index"]["state"] in ("ready", "waiting", "building")
        again = http_post(base + "/v1/annotate", json={"text": TEXT}).json()
        assert {e["text"]: e["link"]["kb_id"] for e in again["entities"]}["Paris"] == "geonames:2988507"
        span = {"text": "Siemens Energy cut jobs.", "spans": [{"start": 0, "end": 14, "label": "ORG"}]}
        (tail,) = http_post(base + "/v1/link", json=span).json()["links"]
        assert tail["kb_id"] == "org:siemens-energy" and tail["decision"]["stage"] == "alias"
        assert tail["name"] == "Siemens Energy" and tail.get("description") is None
        built = list((tmp_path / "index").glob("*/*/base.faiss"))
        assert len(built) == 1  # one build for both workers, keyed by the database and the embedder
        stamp = built[0].stat().st_mtime_ns
    with serving(env, tmp_path, workers=1) as base:  # a restart loads what was built
        assert _until_dense(base)["index"]["state"] == "ready"
        assert built[0].stat().st_mtime_ns == stamp


def test_without_background_building_the_index_is_cold_until_a_request_links(tmp_path):
    env = _env(tmp_path, HNER_INDEX_BACKGROUND="false")
    _load_without_index(env, tmp_path)
    with serving(env, tmp_path, workers=1) as base:
        assert _linking(base) == {
            "stages": {"alias": True, "dense": False, "cross_encoder": False, "llm": False},
            "index": {"state": "cold"},
        }
        body = http_post(base + "/v1/annotate", json={"text": TEXT}).json()  # this request waits for the build
        assert {e["text"]: e["link"]["kb_id"] for e in body["entities"]}["Siemens AG"] == "org:siemens"
        assert _linking(base)["index"] == {"state": "ready", "entries": len(KB)}


def test_no_kb_and_overrides_say_which_stage_decided(tmp_path):
    env = _env(tmp_path)
    with serving(env, tmp_path, workers=1) as base:
        assert _linking(base) == {
            "stages": {"alias": False, "dense": False, "cross_encoder": False, "llm": False},
            "index": {"state": "no_kb"},
        }
        body = http_post(base + "/v1/annotate", json={"text": TEXT}).json()
        assert body["entities"] and all(
            e["link"]["decision"] == {"stage": "none", "reason": "no_kb"} for e in body["entities"]
        )
        _load_without_index(env, tmp_path)
        rule = {"pattern": "Paris", "action": "force_link", "kb_id": "geonames:4717560"}
        http_post(base + "/v1/admin/overrides", json=rule, headers={"X-API-Key": ADMIN}).raise_for_status()
        links = {e["text"]: e["link"] for e in http_post(base + "/v1/annotate", json={"text": TEXT}).json()["entities"]}
        assert links["Paris"]["kb_id"] == "geonames:4717560" and links["Paris"]["decision"] == {"stage": "override"}
        assert links["Siemens AG"]["decision"]["stage"] in ("alias", "dense")
