"""Fitting the reranker on made-up feature rows: no model, no KB."""

import numpy as np

from eval.link_train import is_coreference
from linking.candidates import Candidate
from linking.fit import Prepared, evaluate, fit, inkb_f1
from linking.rerank import CALIBRATION, FEATURES, LogisticReranker, Scored, best_first


def synthetic(n: int = 200, seed: int = 0) -> Prepared:
    """Mentions of five candidates whose right one has the highest first feature; every fifth mention is NIL."""
    rng = np.random.default_rng(seed)
    gold, cands, rows = [], [], []
    for i in range(n):
        x = rng.normal(size=(5, len(FEATURES)))
        for flag in CALIBRATION:  # flags are 0/1, uninformative here
            x[:, FEATURES.index(flag)] = rng.integers(0, 2, size=5) if flag != "string_sim" else 0.5
        x[:, FEATURES.index("place_clash")] = 0.0  # a place for a person removes a candidate: none here
        cs = [Candidate(f"e{i}-{j}", dense=0.5) for j in range(5)]  # found by the dense search
        if i % 5 == 0:
            x[:, 0] -= 3.0  # nothing fits
            gold.append(None)
        else:
            gold.append(cs[int(np.argmax(x[:, 0]))].kb_id)
        cands.append(cs)
        rows.append(x)
    return Prepared(gold, cands, rows)


def test_pairwise_fit_ranks_by_the_informative_feature_and_calibrates():
    reranker = fit([synthetic(400)])  # eight uninformative flags in the calibration: enough rows to learn so
    assert int(np.argmax(np.abs(reranker.weights))) == 0 and reranker.weights[0] > 0
    report = evaluate(reranker, synthetic(seed=1))
    assert report["recall@1"] >= 0.9 and report["candidate_recall"] == 1.0
    assert reranker.calibration[0] > 0  # a higher score means a likelier right answer
    assert 0.05 <= reranker.nil_threshold <= 0.95


def test_a_fitted_reranker_is_named_by_what_it_ended_with_and_thresholds_make_a_new_one():
    from linking.rerank import LogisticReranker

    reranker = fit([synthetic()])
    built = LogisticReranker(reranker.weights, reranker.nil_threshold, reranker.calibration, reranker.exclude_clashes)
    assert reranker.digest == built.digest  # its weights, calibration and threshold, not a state before them
    stricter = reranker.with_thresholds(found=reranker.nil_threshold + 0.1)
    assert stricter.found_threshold == reranker.nil_threshold + 0.1 and stricter.digest != reranker.digest
    assert reranker.found_threshold == reranker.nil_threshold  # the first one is as it was
    assert stricter.nil_threshold == reranker.nil_threshold and list(stricter.weights) == list(reranker.weights)
    assert reranker.with_thresholds().digest == reranker.digest  # the same thresholds: the same reranker


def test_inkb_f1_counts_wrong_links_twice_and_nil_links_once():
    assert inkb_f1([("a", "a"), ("b", "c"), ("d", None), (None, "e")]) == 2 * 1 / (2 * 1 + 2 + 2)


def test_coreference_is_left_out():
    assert is_coreference("he") and is_coreference("the company") and is_coreference("Its")
    assert not is_coreference("The Times") and not is_coreference("Donald Trump")


def test_gold_mentions_take_labels_from_the_extractor_and_leave_coreference_out(tmp_path):
    import json

    from eval.link_train import gold_mentions
    from tests.fakes import FakeExtractor

    text = "Ada Grenville met him in Paris and Rome."
    labels = [
        {"id": 0, "span": [0, 13], "entity_id": "Q1", "name": "", "type": "Q215627"},
        {"id": 1, "span": [18, 21], "entity_id": "Q1", "name": "", "type": "Q215627"},  # "him": coreference
        {"id": 2, "span": [25, 30], "entity_id": "<NIL>", "name": "", "type": "Q27096213"},
    ]
    path = tmp_path / "tiny.benchmark.jsonl"
    path.write_text(json.dumps({"id": 0, "text": text, "evaluation_span": [0, len(text)], "labels": labels}) + "\n")
    assert gold_mentions([path]) == [(text, 0, 13, None, "Q1"), (text, 25, 30, None, None)]
    ner = FakeExtractor([("Ada Grenville", "ORG", 0.9), ("Rome", "LOC", 0.9)])
    # The extractor's label, wrong as it is, not the gold type; spans it found outside the gold are not added.
    assert gold_mentions([path], ner) == [(text, 0, 13, "ORG", "Q1"), (text, 25, 30, None, None)]


def test_the_type_rule_sends_a_clashing_candidate_last_and_to_nil():
    reranker = fit([synthetic()])
    x = np.zeros((2, len(FEATURES)))
    x[0, 0] = 5.0  # by far the best score...
    x[0, FEATURES.index("place_clash")] = 1.0  # ...but it is a place and the mention a person or organisation
    assert list(reranker.order(x)) == [1, 0] and reranker.probability(x)[0] == 0.0
    lenient = fit([synthetic()], exclude_clashes=False)
    assert int(lenient.order(x)[0]) == 0


def test_candidates_are_ranked_by_the_score_and_report_probabilities_that_read_best_first():
    """The calibration weighs the qualifier's fit against the score: the qualified place ranks first by the score,
    though its probability alone is lower; it keeps its own, the other reports no more than it (a margin of 0)."""
    weights = np.zeros(len(FEATURES))
    weights[0], weights[FEATURES.index("qualifier_fit")] = 1.0, 6.0
    calibration = np.zeros(len(CALIBRATION) + 3)  # the lead over rivals weighs 0 here
    calibration[0], calibration[1 + CALIBRATION.index("qualifier_fit")], calibration[-1] = 1.0, -6.0, -4.0
    reranker = LogisticReranker(weights, 0.1, calibration)
    x = np.zeros((3, len(FEATURES)))
    x[:, 0] = [4.0, 3.0, 9.0]  # the better-known namesake; the one the qualifier fits; a place for a person
    x[1, FEATURES.index("qualifier_fit")] = 1.0
    x[2, FEATURES.index("place_clash")] = 1.0
    probs = reranker.probability(x)
    assert probs[0] > probs[1] > 0 == probs[2]
    assert list(reranker.order(x)) == [1, 0, 2]  # by the score, the ruled-out one last whatever its score
    ranked = best_first([Scored(str(i), float(probs[i])) for i in reranker.order(x)])
    assert [s.kb_id for s in ranked] == ["1", "0", "2"]
    assert ranked[0].score == probs[1] and ranked[1].score == probs[1] and ranked[2].score == 0.0
    in_order = [Scored("a", 0.9), Scored("b", 0.4), Scored("c", 0.1)]
    assert best_first(in_order) == in_order  # already best first: unchanged


def test_ablation_variants_mask_features_and_redirect_only_candidates():
    from eval.link_ablation import VARIANTS, masked, run

    p = synthetic(20)
    p.cands[1][0] = Candidate(p.cands[1][0].kb_id, redirect_hit=True)  # found by a redirect alone
    features, keep, _ = VARIANTS["without redirects (no kb enrich)"]
    m = masked(p, features, keep)
    assert len(m.cands[1]) == 4 and len(m.cands[2]) == 5
    assert not m.rows[2][:, FEATURES.index("redirect_rank")].any()
    p = synthetic(20)
    p.cands[1][0] = Candidate(p.cands[1][0].kb_id, school_hit=True)  # found as a university of the place alone
    p.cands[1][1] = Candidate(p.cands[1][1].kb_id, school_hit=True, alias_hit=True)  # ... and by a name
    p.cands[2][0] = Candidate(p.cands[2][0].kb_id, team_hit=True)
    features, keep, _ = VARIANTS["without universities named after their place"]
    m = masked(p, features, keep)
    assert len(m.cands[1]) == 4 and m.cands[1][0].alias_hit and len(m.cands[2]) == 5  # the team is kept
    assert not m.rows[1][:, FEATURES.index("school")].any()
    _, keep_teams, _ = VARIANTS["without teams named after their place"]
    assert len(masked(p, (), keep_teams).cands[2]) == 4
    results = run({"msnbc": synthetic(60, 1), "news-fair": synthetic(60, 2)}, [])
    assert set(results) == set(VARIANTS)
    assert all(0.0 <= r["gold_span_accuracy"] <= 1.0 for r in results.values())


def test_a_lead_over_rivals_is_clipped_and_a_ruled_out_place_is_no_rival():
    from linking.rerank import LEAD_CAP, leads

    scores = np.array([3.0, 2.5, -4.0])
    assert leads(scores, np.ones(3, bool)).tolist() == [0.5, -0.5, -LEAD_CAP]
    assert leads(np.array([1.0, 1.0]), np.ones(2, bool)).tolist() == [0.0, 0.0]  # a tie: no lead either way
    assert leads(np.array([-7.0]), np.ones(1, bool)).tolist() == [LEAD_CAP]  # alone: nothing to lose to
    # The second is a place offered for a person: it never links, so the first leads as if alone (the second's
    # own lead is still measured against those that can).
    assert leads(scores, np.array([True, False, True])).tolist() == [LEAD_CAP, -0.5, -LEAD_CAP]


def test_the_shipped_calibration_trusts_a_candidate_alone_more_than_the_same_one_among_close_namesakes():
    """A name that one entity fits is a surer link than the same score beside a rival scored almost as high
    ("Varian Medical Systems" against "San Carlos"): the fitted lead weighs for the candidate that stands alone."""
    shipped = LogisticReranker.load()
    assert shipped.calibration[-2] > 0  # the lead's coefficient, fitted by make link-train
    row = np.zeros(len(FEATURES))
    row[FEATURES.index("key_hit")] = row[FEATURES.index("string_sim")] = 1.0
    alone = shipped.probability(row[None, :])[0]
    among = shipped.probability(np.vstack([row, row - 0.01]))[0]
    assert alone > among > 0.0
    assert (
        LogisticReranker(shipped.weights, 0.1, shipped.calibration).digest
        != LogisticReranker(shipped.weights, 0.1, [*shipped.calibration[:-2], 0.0, shipped.calibration[-1]]).digest
    )  # the lead's coefficient is part of what names a fitted reranker


def test_a_weights_file_without_the_lead_is_refused_with_a_message_that_says_to_refit(tmp_path):
    import json

    import pytest

    from linking.rerank import WEIGHTS

    data = json.loads(WEIGHTS.read_text())
    data["calibration"] = data["calibration"][:-2] + data["calibration"][-1:]  # as fitted before the lead
    old = tmp_path / "weights.json"
    old.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="lead over rivals: refit"):
        LogisticReranker.load(old)
    with pytest.raises(ValueError, match="calibration of"):
        LogisticReranker(data["weights"], 0.1, data["calibration"])
