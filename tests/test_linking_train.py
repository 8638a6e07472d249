"""Fitting the reranker on made-up feature rows: no model, no KB."""

import numpy as np

from linking.candidates import Candidate
from linking.rerank import FEATURES
from linking.train import Prepared, evaluate, fit, inkb_f1, is_coreference


def synthetic(n: int = 200, seed: int = 0) -> Prepared:
    """Mentions of five candidates whose right one has the highest first feature; every fifth mention is NIL."""
    rng = np.random.default_rng(seed)
    gold, cands, rows = [], [], []
    for i in range(n):
        x = rng.normal(size=(5, len(FEATURES)))
        cs = [Candidate(f"e{i}-{j}") for j in range(5)]
        if i % 5 == 0:
            x[:, 0] -= 3.0  # nothing fits
            gold.append(None)
        else:
            gold.append(cs[int(np.argmax(x[:, 0]))].kb_id)
        cands.append(cs)
        rows.append(x)
    return Prepared(gold, cands, rows)


def test_pairwise_fit_ranks_by_the_informative_feature_and_calibrates():
    reranker = fit([synthetic()])
    assert int(np.argmax(np.abs(reranker.weights))) == 0 and reranker.weights[0] > 0
    report = evaluate(reranker, synthetic(seed=1))
    assert report["recall@1"] >= 0.9 and report["candidate_recall"] == 1.0
    assert reranker.calibration[0] > 0  # a higher score means a likelier right answer
    assert 0.05 <= reranker.nil_threshold <= 0.95


def test_inkb_f1_counts_wrong_links_twice_and_nil_links_once():
    assert inkb_f1([("a", "a"), ("b", "c"), ("d", None), (None, "e")]) == 2 * 1 / (2 * 1 + 2 + 2)


def test_coreference_is_left_out():
    assert is_coreference("he") and is_coreference("the company") and is_coreference("Its")
    assert not is_coreference("The Times") and not is_coreference("Donald Trump")
