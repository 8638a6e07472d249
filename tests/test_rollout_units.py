"""Rollout arithmetic without a model or a server: sticky assignment, guards, the canary's judgement from
mergeable counts, and drift's population stability index."""

from collections import Counter

import pytest

from hybrid_ner.datamodel import Decision, Entity, Result, Source, Span
from hybrid_ner.rollout import drift
from hybrid_ner.rollout.deployments import Deployment, Guards, Mode, Problem, RolloutError, check_steps, sticky_point
from hybrid_ner.rollout.observation import agreement
from hybrid_ner.rollout.stats import Counts, judge

TEXTS = [f"Text number {i} about Paris." for i in range(4000)]


def canary(step: int = 0, **kw) -> Deployment:
    return Deployment(schema="default", candidate="new", mode=Mode.CANARY, steps=(1.0, 25.0, 100.0), step=step,
                      min_requests=50, sample=1.0, **kw)  # fmt: skip


def test_assignment_is_sticky_and_takes_about_its_share():
    d = canary(step=1)
    taken = [t for t in TEXTS if d.takes(t)]
    assert 0.22 < len(taken) / len(TEXTS) < 0.28
    assert taken == [t for t in TEXTS if d.takes(t)]  # the same text, the same model, every time
    assert set(taken) >= {t for t in TEXTS if canary(step=0).takes(t)}  # a larger share keeps the smaller one's texts
    assert all(canary(step=2).takes(t) for t in TEXTS)
    assert not any(Deployment(schema="default").takes(t) for t in TEXTS)
    assert sticky_point("same") == sticky_point("same") and 0 <= sticky_point("x") < 1


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda: Guards(max_error_rate=1.5), "max_error_rate"),
        (lambda: Guards(max_p95_ms=-1), "max_p95_ms"),
        (lambda: Guards(min_agreement=-0.1), "min_agreement"),
        (lambda: check_steps([1, 5, 150]), "within (0, 100]"),
        (lambda: check_steps([5, 1, 100]), "rise"),
        (lambda: check_steps([1, 50]), "last step must be 100"),
        (lambda: check_steps([]), "at least one"),
    ],
)
def test_guards_and_steps_that_make_no_sense_are_refused(make, says):
    with pytest.raises(RolloutError, match=says.replace("(", r"\(").replace(")", r"\)")) as err:
        make()
    assert err.value.problem == Problem.INVALID


def counts(requests=100, errors=0, ms=5.0, agree=1.0, compared=50) -> Counts:
    c = Counts()
    for i in range(requests):
        c.served(1, ms / 1000, 1 if i < errors else 0, [0.9])
    c.agree_sum, c.agree_n = agree * compared, compared
    return c


def test_counts_from_several_workers_add_up_to_one_judgement():
    a, b = counts(60, errors=1, ms=4), counts(40, errors=0, ms=40)
    total = a.add(b)
    assert (total.requests, total.errors, total.agree_n) == (100, 1, 100)
    assert total.quantile_ms(0.5) == pytest.approx(4, rel=0.13) and total.quantile_ms(0.95) == pytest.approx(
        40, rel=0.13
    )
    assert Counts.from_json(total.to_json()) == total


def test_the_canary_waits_advances_completes_and_rolls_back_by_its_guards():
    assert judge(canary(), counts(requests=10)).action == "wait"
    assert judge(canary(), counts()).action == "advance"
    assert judge(canary(step=2), counts()).action == "complete"
    errors = judge(canary(), counts(errors=10))
    assert errors.action == "rollback" and "error rate" in errors.reason
    disagree = judge(canary(), counts(agree=0.3))
    assert disagree.action == "rollback" and "agreement 0.300 < 0.8" in disagree.reason
    slow = judge(canary(guards=Guards(max_p95_ms=20)), counts(ms=100))
    assert slow.action == "rollback" and "p95" in slow.reason
    assert judge(canary(), counts(compared=3)).action == "wait"  # not enough agreement measured yet
    broken = counts()
    broken.failed("ModelArtifactError: files changed")
    assert judge(canary(), broken).action == "rollback"


def entity(start: int, end: int, label: str, text: str = "Angela Merkel visited Paris") -> Entity:
    return Entity(span=Span.from_text(text, start, end, label), score=0.9, source=Source.LOCAL,
                  decision=Decision(routed="local"))  # fmt: skip


def test_agreement_is_span_and_label_f1():
    a = [entity(0, 13, "PER"), entity(22, 27, "LOC")]
    assert agreement(a, a) == 1.0 and agreement([], []) == 1.0
    assert agreement(a, [entity(0, 13, "PER")]) == pytest.approx(2 / 3)
    assert agreement(a, [entity(0, 13, "ORG"), entity(22, 27, "LOC")]) == 0.5


def test_psi_is_zero_for_the_same_mix_and_large_for_a_new_one():
    ref = Counter({"a": 500, "b": 300, "c": 200})
    assert drift.psi(ref, Counter({"a": 50, "b": 30, "c": 20})) == pytest.approx(0, abs=1e-9)
    assert drift.psi(ref, Counter({"a": 10, "b": 10, "c": 80})) > 0.5
    assert drift.psi(ref, Counter({"new": 10})) > 1  # a bin the reference never saw


def test_a_window_alarms_only_after_its_minimum_and_forgets_what_slid_out():
    def result(label: str) -> Result:
        return Result(entities=[entity(0, 13, label)])

    news = [("Angela Merkel visited Paris on Monday .", result("PER"))] * 300
    tweets = [("lol @bob ur so funny #fail rt", Result())] * 300
    reference = drift.build_profile(*zip(*news, strict=True), threshold=0.8)
    window = drift.Window(reference, size=100, minimum=50, threshold=0.25)
    for text, r in tweets[:40]:
        window.add(drift.sample(text, r, 0.8))
    early = window.report()
    assert early["window"] == 40 and not early["alarm"]  # below the minimum, however far off
    for text, r in tweets[40:]:
        window.add(drift.sample(text, r, 0.8))
    shifted = window.report()
    assert shifted["alarm"] and shifted["window"] == 100
    assert {f["name"] for f in shifted["figures"] if f["alarm"]} >= {"capitalised_share", "entity_types"}
    for text, r in news[:100]:
        window.add(drift.sample(text, r, 0.8))
    assert not window.report()["alarm"]  # the tweets slid out
