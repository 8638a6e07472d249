"""Models changed in a running two-worker service over real HTTP while requests flow: shadow, a canary that
advances to 100% and is promoted through the evaluation gate, a bad candidate rolled back by its guards, a
candidate no worker can load, and the drift alarm. No request fails at any transition."""

import json
import os
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.rollout_models import foreign, mislabelling, recalibrated, variant
from tests.test_service_http import CLI, http_get, http_post, serving

pytestmark = pytest.mark.integration

ADMIN = "rollout-admin"
H = {"X-API-Key": ADMIN}
NEWS = [
    "Angela Merkel met Emmanuel Macron in Paris on Tuesday .",
    "Siemens shares rose in Frankfurt after the results .",
    "Tim Cook said Apple would open a store in Cupertino .",
    "The United Nations met in New York to discuss Syria .",
]
EVAL_SET = "\n\n".join(
    "\n".join(f"{w} {t}" for w, t in sent)
    for sent in [
        [("Angela", "B-PER"), ("Merkel", "I-PER"), ("met", "O"), ("Emmanuel", "B-PER"), ("Macron", "I-PER"),
         ("in", "O"), ("Paris", "B-LOC"), (".", "O")],
        [("Siemens", "B-ORG"), ("shares", "O"), ("rose", "O"), ("in", "O"), ("Frankfurt", "B-LOC"), (".", "O")],
    ]
)  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    state = tmp_path_factory.mktemp("rollout-server")
    env = {**os.environ, "HNER_DATA_DIR": str(state), "HNER_ADMIN_KEYS": ADMIN, "HF_HUB_OFFLINE": "1",
           "OMP_NUM_THREADS": "1", "HNER_ROLLOUT_TICK_S": "0.3", "HNER_DRIFT_WINDOW": "60", "HNER_DRIFT_MIN": "20",
           "HNER_CACHE_SIZE": "0"}  # fmt: skip
    models = tmp_path_factory.mktemp("variants")
    broken = variant(models, "broken", lambda c: c.update(platt_b=c["platt_b"] - 0.05))
    for name, path in [("recal", recalibrated(models)), ("swapped", mislabelling(models)), ("foreign", foreign(models)),
                       ("broken", broken)]:  # fmt: skip
        added = subprocess.run([CLI, "models", "add", name, str(path)], env=env, capture_output=True, text=True)
        assert added.returncode == 0, added.stderr
    (state / "eval.conll").write_text(EVAL_SET + "\n")
    with serving(env, state) as base:
        yield base, env, state


class Traffic:
    """Clients posting texts until stopped; every status and the models that answered are kept."""

    def __init__(self, base: str, texts: list[str], clients: int = 3) -> None:
        self.base, self.texts, self.stop = base, texts, threading.Event()
        self.statuses: list[int] = []
        self.models: list[tuple[float, str]] = []
        self.threads = [threading.Thread(target=self._run, args=(i,)) for i in range(clients)]

    def _run(self, k: int) -> None:
        n = k
        with httpx.Client(base_url=self.base, timeout=120) as client:
            while not self.stop.is_set():
                r = client.post("/v1/extract", json={"text": f"{self.texts[n % len(self.texts)]} ( {n} )"})
                self.statuses.append(r.status_code)
                if r.status_code == 200:
                    self.models += [(time.monotonic(), e["decision"]["model"]) for e in r.json()["entities"][:1]]
                n += len(self.threads)

    def __enter__(self) -> "Traffic":
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=180)


def until(check, seconds: float = 240, every: float = 0.5):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(every)
    raise AssertionError(f"not reached in {seconds} s: {check()!r}")


def deployment(base: str, name: str) -> dict:
    found = http_get(f"{base}/v1/admin/models/{name}/report", headers=H).json()["deployments"]
    return found[0] if found else {}


def audit_reasons(base: str) -> list[tuple[str, str]]:
    rows = http_get(f"{base}/v1/admin/audit?limit=50", headers=H).json()
    return [(r["action"], (r["after"] or {}).get("reason", "")) for r in rows if r["object_type"] == "deployment"]


def test_bad_rollout_requests_are_refused_and_change_nothing(server):
    base, env, _ = server
    cases = [
        ("/v1/admin/models/nope/canary", {}, 404, "no model named 'nope'"),
        ("/v1/admin/models/foreign/canary", {}, 422, "needs a local label"),
        ("/v1/admin/models/recal/canary", {"steps": [1, 150]}, 422, ""),
        ("/v1/admin/models/recal/canary", {"guards": {"max_p95_ms": -5}}, 422, ""),
        ("/v1/admin/models/recal/canary", {"min_requests": "10"}, 422, ""),  # no coercion of a string
        ("/v1/admin/models/recal/shadow", {"sample": 1.5}, 422, ""),
        ("/v1/admin/models/recal/promote", {"force": 0}, 422, ""),
        ("/v1/admin/models/recal/canary", {"schema": "nope"}, 404, "unknown schema"),
    ]
    for path, body, code, says in cases:
        r = http_post(base + path, json=body, headers=H)
        assert r.status_code == code and says in r.text, (path, body, r.text)
    assert http_post(base + "/v1/admin/models/recal/canary", json={}).status_code == 401
    assert http_post(base + "/v1/admin/models/rollback", headers=H).status_code == 409  # nothing to roll back
    status = subprocess.run([CLI, "models", "status"], env=env, capture_output=True, text=True)
    assert status.returncode == 0 and json.loads(status.stdout) == {"deployments": []}


def test_shadow_compares_off_the_request_path_and_serves_nobody(server):
    base, _, _ = server
    assert http_post(base + "/v1/admin/models/recal/shadow", json={"sample": 0.5}, headers=H).status_code == 200
    with Traffic(base, NEWS) as traffic:
        until(lambda: deployment(base, "recal").get("counts", {}).get("candidate", {}).get("compared", 0) >= 20)
    assert set(traffic.statuses) == {200}
    assert {m for _, m in traffic.models} == {m for _, m in traffic.models if m.startswith("ner-conll-minilm-l4-v2@")}
    shadow = deployment(base, "recal")["counts"]["candidate"]
    assert shadow["agreement"] > 0.95 and shadow["p95_ms"] > 0
    listed = {m["name"]: m for m in http_get(base + "/v1/admin/models", headers=H).json()["models"]}
    assert listed["recal"]["state"] == "shadow" and listed["recal"]["share"] == 0.0
    metrics = http_get(base + "/metrics").text
    assert 'hner_rollout_share{model="recal",schema="default"} 0.0' in metrics
    assert 'hner_rollout_agreement{model="recal",schema="default"}' in metrics
    assert http_post(base + "/v1/admin/models/rollback", headers=H).json()["mode"] == "steady"


def test_a_canary_advances_to_everything_and_is_promoted_through_the_gate(server):
    base, env, state = server
    steps = {"steps": [10, 50, 100], "min_requests": 15, "guards": {"max_error_rate": 0.0, "min_agreement": 0.9}}
    with Traffic(base, NEWS) as traffic:
        started = http_post(base + "/v1/admin/models/recal/canary", json=steps, headers=H)
        assert started.status_code == 200 and started.json()["share"] == 0.1
        until(lambda: deployment(base, "recal").get("mode") == "ready")
        refused = http_post(base + "/v1/admin/models/recal/promote", json={}, headers=H)
        assert refused.status_code == 409 and "no evaluation set is registered" in refused.text
        added = http_post(base + "/v1/admin/evalsets", json={"name": "news", "path": str(state / "eval.conll")},
                          headers=H)  # fmt: skip
        assert added.status_code == 201 and added.json()["sentences"] == 2
        promoted = http_post(base + "/v1/admin/models/recal/promote", json={}, headers=H)
        assert promoted.status_code == 200, promoted.text
        assert promoted.json()["gate"]["passed"] and promoted.json()["served"] == "recal"
        at = time.monotonic()
        time.sleep(3)
    assert set(traffic.statuses) == {200}  # no request failed at any step
    seen = {m.split("@")[0] for _, m in traffic.models}
    assert seen == {"ner-conll-minilm-l4-v2", "recal"}
    assert {m.split("@")[0] for t, m in traffic.models if t > at + 1} == {"recal"}  # every worker follows
    reasons = audit_reasons(base)
    assert [a for a, _ in reasons[:4]] == ["promote", "complete", "advance", "advance"]
    assert "guards held" in reasons[1][1]
    back = subprocess.run([CLI, "models", "rollback"], env=env, capture_output=True, text=True)
    assert back.returncode == 0 and json.loads(back.stdout)["served"] is None


def test_a_bad_candidate_is_rolled_back_by_its_guards(server):
    base, _, _ = server
    refused = http_post(base + "/v1/admin/models/swapped/promote", json={}, headers=H)
    assert refused.status_code == 409 and "regression on news" in refused.text  # the gate sees it too
    plan = {"steps": [20, 100], "min_requests": 15, "guards": {"min_agreement": 0.8}}
    with Traffic(base, NEWS) as traffic:
        assert http_post(base + "/v1/admin/models/swapped/canary", json=plan, headers=H).status_code == 200
        until(lambda: audit_reasons(base)[0][0] == "rollback")
    assert set(traffic.statuses) == {200}
    _action, reason = audit_reasons(base)[0]
    assert reason.startswith("automatic rollback: agreement") and "< 0.8" in reason
    listed = {m["name"]: m["state"] for m in http_get(base + "/v1/admin/models", headers=H).json()["models"]}
    assert listed["swapped"] == "registered" and listed["ner-conll-minilm-l4-v2"] == "default"


def test_a_candidate_no_worker_can_load_is_rolled_back_and_nobody_notices(server):
    base, env, state = server
    warm = subprocess.run([CLI, "extract", "--model", "broken", "Paris"], env=env, capture_output=True)
    assert warm.returncode == 0  # its files are on this machine now; break them behind the registry's back
    (onnx,) = Path(state / "models").glob("broken@*/ner.int8.onnx")
    onnx.write_bytes(onnx.read_bytes()[:-64] + bytes(64))
    with Traffic(base, NEWS) as traffic:
        plan = {"steps": [50, 100], "min_requests": 15}
        assert http_post(base + "/v1/admin/models/broken/canary", json=plan, headers=H).status_code == 200
        until(lambda: audit_reasons(base)[0][0] == "rollback")
    assert set(traffic.statuses) == {200}
    assert all(m.startswith("ner-conll-minilm-l4-v2@") for _, m in traffic.models)  # the served model answered
    assert "candidate failed on a worker: ModelArtifactError" in audit_reasons(base)[0][1]


def test_the_cli_drives_the_running_service(server, tmp_path):
    base, env, state = server

    def models(*args: str) -> dict:
        done = subprocess.run([CLI, "models", *args], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    assert models("shadow", "recal", "--sample", "0.3")["mode"] == "shadow"
    assert [d["candidate"] for d in models("status")["deployments"]] == ["recal"]
    with Traffic(base, NEWS) as traffic:
        started = models("canary", "recal", "--steps", "50,100", "--min-requests", "10", "--min-agreement", "0.9")
        assert started["share"] == 0.5
        until(lambda: deployment(base, "recal").get("mode") == "ready")  # the service took the steps
    assert set(traffic.statuses) == {200}
    assert models("evalset", "cli-news", str(state / "eval.conll"))["sentences"] == 2
    promoted = models("promote", "recal", "--tolerance", "0.01")
    assert promoted["served"] == "recal" and promoted["gate"]["passed"]
    assert models("rollback")["served"] is None
    guarded = models("canary", "swapped", "--schema", "default", "--steps", "100", "--max-error-rate", "0.5",
                     "--max-p95-ms", "60000", "--min-requests", "1000")  # fmt: skip
    assert guarded["guards"] == {"max_error_rate": 0.5, "max_p95_ms": 60000.0, "min_agreement": 0.8}
    forced = models("promote", "swapped", "--force", "--schema", "default")  # past a gate that would refuse it
    assert forced["served"] == "swapped" and forced["gate"] is None and "force" in forced["reason"]
    assert models("rollback", "--schema", "default")["served"] is None
    unknown = subprocess.run([CLI, "models", "canary", "nope"], env=env, capture_output=True, text=True)
    assert unknown.returncode == 2 and "no model named 'nope'" in unknown.stderr
    model = recalibrated(tmp_path)
    profile = models("profile", str(model), "--data", str(state / "eval.conll"), "--limit", "1")
    assert profile["texts"] == 1 and (model / "profile.json").is_file()


def test_drift_alarms_when_the_traffic_turns_to_tweets(server):
    base, _, _ = server
    for i in range(60):
        assert http_post(base + "/v1/extract", json={"text": f"{NEWS[i % 4]} ( {i} )"}).status_code == 200
    calm = http_get(base + "/v1/admin/drift", headers=H).json()
    assert calm["window"] >= 20 and {f["name"] for f in calm["figures"]} >= {"tokens", "oov_share", "entity_types"}
    tweets = ["lol @mike_99 ur so funny 😂 #fail", "omg cant believe its monday again smh", "rt @nba: lakers win!!"]
    for i in range(160):
        assert http_post(base + "/v1/extract", json={"text": f"{tweets[i % 3]} {i}"}).status_code == 200
    reports = [http_get(base + "/v1/admin/drift", headers=H).json() for _ in range(6)]
    assert all(r["alarm"] for r in reports), reports  # on every worker
    assert http_get(base + "/v1/admin/drift").status_code == 401
    metrics = http_get(base + "/metrics").text
    assert "hner_drift_alarm 1.0" in metrics and 'hner_drift_psi{figure="oov_share"}' in metrics
