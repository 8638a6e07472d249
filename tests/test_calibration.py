import numpy as np
import pytest

from hybrid_ner.ner.calibration import (
    Decoder,
    expected_calibration_error,
    fit_platt,
    fit_temperature,
    platt,
    retemper,
)
from hybrid_ner.ner.tags import bio_labels


def test_ece_perfect_and_worst():
    conf = np.array([0.0, 1.0, 1.0])
    assert expected_calibration_error(conf, np.array([0.0, 1.0, 1.0])) == 0.0
    assert expected_calibration_error(np.array([1.0, 1.0]), np.array([0.0, 0.0])) == pytest.approx(1.0)
    assert expected_calibration_error(np.array([]), np.array([])) == 0.0


def test_platt_fixes_overconfidence():
    rng = np.random.default_rng(1)
    raw = rng.uniform(0.5, 1.0, 20_000)
    true_p = 1 / (1 + np.exp(-(0.5 * np.log(raw / (1 - raw)) - 0.3)))  # the raw score overstates correctness
    correct = (rng.uniform(size=raw.size) < true_p).astype(float)
    before = expected_calibration_error(raw, correct)
    a, b = fit_platt(raw, correct)
    after = expected_calibration_error(platt(raw, a, b), correct)
    assert a == pytest.approx(0.5, abs=0.1) and b == pytest.approx(-0.3, abs=0.1)
    assert after < 0.02 < before


def test_temperature_recovers_scale():
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(5000, 5)) * 3
    true_t = 2.0
    probs = np.exp(retemper(logits, true_t))
    gold = np.array([rng.choice(5, p=p) for p in probs])
    t = fit_temperature([retemper(logits, 1.0)], [gold])
    assert t == pytest.approx(true_t, abs=0.25)


def test_decoder_spans_and_raw_scores():
    labels = bio_labels(["PER", "LOC"])
    d = Decoder(labels)
    p = np.full((4, len(labels)), 0.01)
    p[0, labels.index("B-PER")] = 0.9
    p[1, labels.index("I-PER")] = 0.8
    p[2, labels.index("O")] = 0.95
    p[3, labels.index("B-LOC")] = 0.6
    p /= p.sum(axis=1, keepdims=True)
    spans = d.decode(np.log(p))
    assert [(s.first, s.last, s.label) for s in spans] == [(0, 2, "PER"), (3, 4, "LOC")]
    assert 0.0 < spans[1].raw < spans[0].raw < 1.0


def test_an_intercept_per_label_keeps_calibration_when_the_label_mix_shifts():
    from hybrid_ner.ner.calibration import fit_label_platt

    rng = np.random.default_rng(3)

    def sample(n_org: int, n_per: int):  # ORG is right one time in six, PER four in five, at the same raw scores
        raw = rng.uniform(0.6, 0.99, n_org + n_per)
        labels = ["ORG"] * n_org + ["PER"] * n_per
        p = np.array([0.15 if lab == "ORG" else 0.8 for lab in labels])
        return raw, labels, (rng.uniform(size=raw.size) < p).astype(float)

    raw, labels, ok = sample(1000, 3000)  # the sample: mostly PER
    a, b, offsets = fit_label_platt(raw, labels, ok)
    assert offsets["PER"] - offsets["ORG"] > 2.0
    blind_a, blind_b = fit_platt(raw, ok)
    raw2, labels2, ok2 = sample(3000, 1000)  # new text: mostly ORG
    by_label = [platt(r, a, b + offsets[lab]) for r, lab in zip(raw2, labels2, strict=True)]
    assert expected_calibration_error(np.array(by_label), ok2) < 0.03
    assert expected_calibration_error(platt(raw2, blind_a, blind_b), ok2) > 0.2
    assert fit_label_platt(raw[:5], labels[:5], np.ones(5)) == (*fit_platt(raw[:5], np.ones(5)), {})


def test_a_seen_name_term_keeps_calibration_when_the_share_of_new_names_shifts():
    from hybrid_ner.ner.calibration import fit_seen_platt

    rng = np.random.default_rng(4)

    def sample(n_seen: int, n_new: int):  # a seen name is right 97 times in 100, a new one 75, at the same raw scores
        raw = rng.uniform(0.8, 0.999, n_seen + n_new)
        seen = np.array([1.0] * n_seen + [0.0] * n_new)
        return raw, seen, (rng.uniform(size=raw.size) < np.where(seen == 1.0, 0.97, 0.75)).astype(float)

    raw, seen, ok = sample(3000, 1000)  # the calibration sample: mostly names the model was trained on
    labels = ["PER"] * len(raw)
    a, b, offsets, (offset, slope) = fit_seen_platt(raw, labels, ok, seen)
    assert offsets == {} and offset > 1.0
    blind_a, blind_b = fit_platt(raw, ok)
    raw2, seen2, ok2 = sample(1000, 3000)  # new text: mostly new names
    knows = platt(raw2, a + slope * seen2, b + offset * seen2)
    assert expected_calibration_error(knows, ok2) < 0.03
    assert expected_calibration_error(platt(raw2, blind_a, blind_b), ok2) > 0.08
    _, _, by_label, _ = fit_seen_platt(raw, ["PER", "ORG"] * (len(raw) // 2), ok, seen, by_label=True)
    assert set(by_label) == {"PER", "ORG"}
    assert fit_seen_platt(raw[:5], labels[:5], np.ones(5), seen[:5]) == (*fit_platt(raw[:5], np.ones(5)), {}, (0, 0))
