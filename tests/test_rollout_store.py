"""Rollout commands over real SQLite and PostgreSQL: each checks before it writes, every change is audited and
compare-and-set, refused commands change nothing, and counts from several workers add up."""

import pytest

from hybrid_ner.config import Settings
from hybrid_ner.pipeline import Pipeline
from hybrid_ner.rollout.control import CanaryPlan
from hybrid_ner.rollout.deployments import Guards, Mode, Problem, RolloutError
from hybrid_ner.rollout.gate import GateReport
from hybrid_ner.rollout.stats import Counts
from hybrid_ner.schemas import default_schema
from kb import audit
from tests.rollout_models import foreign, mislabelling, recalibrated

pytestmark = pytest.mark.integration
PLAN = CanaryPlan([5, 50, 100], 10, Guards())


@pytest.fixture(scope="module")
def variants(tmp_path_factory):
    root = tmp_path_factory.mktemp("variants")
    return {"recal": recalibrated(root), "swapped": mislabelling(root), "foreign": foreign(root)}


@pytest.fixture()
def components(db_url, tmp_path, variants, request):
    """A fresh database with the variants a test names in its ``models`` marker registered (each is loaded by
    the served runtime when it is added, so only those a test needs)."""
    c = Pipeline(settings=Settings(data_dir=tmp_path, db_url=db_url)).components
    marker = request.node.get_closest_marker("models")
    for name in marker.args if marker else ():
        c.models.add(name, variants[name], "test")
    return c


def refused(problem, call, *args):
    with pytest.raises(RolloutError) as err:
        call(*args)
    assert err.value.problem == problem
    return str(err.value)


@pytest.mark.models("recal", "swapped", "foreign")
def test_a_canary_is_checked_before_it_is_written(components):
    r, schema = components.rollouts, default_schema()
    assert "no model named 'nope'" in refused(Problem.NOT_FOUND, r.canary, "nope", schema, PLAN, "t")
    says = refused(Problem.INVALID, r.canary, "foreign", schema, PLAN, "t")
    assert "needs a local label for PER, ORG, LOC, MISC" in says
    assert components.deployments.all() == {}  # nothing was written
    d = r.canary("recal", schema, PLAN, "t")
    assert (d.mode, d.share, d.candidate, d.version) == (Mode.CANARY, 0.05, "recal", 1)
    assert "already has a canary" in refused(Problem.CONFLICT, r.canary, "swapped", schema, PLAN, "t")
    assert "already has a canary" in refused(Problem.CONFLICT, r.shadow, "swapped", schema, 0.2, "t")
    assert components.deployments.get("default") == d  # refused commands changed nothing
    entry = audit.read(components.sessions, kind="deployment")[0]
    assert entry["action"] == "canary" and entry["after"]["candidate"] == "recal" and entry["actor"] == "t"


@pytest.mark.models("recal", "swapped")
def test_moves_are_compare_and_set_and_rollback_returns_to_the_model_before(components):
    r, schema = components.rollouts, default_schema()
    d = r.canary("recal", schema, PLAN, "t")
    from hybrid_ner.rollout.stats import Verdict

    moved = r.apply(d, Verdict("advance", "held"))
    assert moved is not None and moved.share == 0.5
    assert r.apply(d, Verdict("advance", "held")) is None  # a second worker judging the old version loses
    refused(Problem.CONFLICT, r.promote, "recal", schema, GateReport(False, "regression on dev", {}), "t")
    promoted = r.promote("recal", schema, GateReport(True, "ok", {}), "t")
    assert (promoted.served, promoted.mode, promoted.history) == ("recal", Mode.STEADY, (None,))
    back = r.rollback("default", "t")
    assert back.served is None and back.history == ()
    assert "no rollout and no earlier model" in refused(Problem.CONFLICT, r.rollback, "default", "t")
    shadow = r.shadow("swapped", schema, 0.2, "t")
    stopped = r.rollback("default", "t", "enough")
    assert shadow.mode == Mode.SHADOW and (stopped.mode, stopped.candidate, stopped.reason) == (
        Mode.STEADY,
        None,
        "enough",
    )
    actions = [e["action"] for e in audit.read(components.sessions, kind="deployment")]
    assert actions == ["rollback", "shadow", "rollback", "promote", "advance", "canary"]


def test_counts_of_every_worker_add_up_per_deployment_version(components):
    r = components.rollouts
    one, two = Counts(), Counts()
    one.served(3, 0.01, 1, [0.9])
    two.served(5, 0.02, 0, [0.8, 0.7])
    r.flush("default", 4, "host:1", {"candidate": one})
    r.flush("default", 4, "host:2", {"candidate": two})
    r.flush("default", 4, "host:2", {"candidate": two})  # a worker's flush replaces what it wrote before
    r.flush("default", 3, "host:1", {"candidate": two})
    total = r.totals("default", 4)["candidate"]
    assert (total.requests, total.errors, total.entities) == (8, 1, 3)
    r.forget("default", 4)
    assert r.totals("default", 3) == {} and r.totals("default", 4)["candidate"].requests == 8
