"""Training data that holds an evaluation set is refused, naming both and the line; a genre's shared boilerplate
is not overlap. Unit tests on sentences the tests write themselves."""

import json

import pytest

from hybrid_ner.ner.data import TaggedSentence, read_tagged
from hybrid_ner.ner.holdout import EvaluationOverlapError, Holdout, check_disjoint, locate
from tests.conftest import toy_sentences, write_toy_conll


def _sentences(n: int, offset: int = 0) -> list[TaggedSentence]:
    return [TaggedSentence([w for w, _ in s], [t for _, t in s]) for s in toy_sentences(n, offset)]


def _distinct(n: int, offset: int = 0) -> list[TaggedSentence]:
    """Sentences that differ from each other and from any other call's (a number in each)."""
    return [TaggedSentence(f"Report {i} says Ada Lovelace visited Paris today .".split(), ["O"] * 9) for i in
            range(offset, offset + n)]  # fmt: skip


def test_a_copied_evaluation_set_is_refused_with_the_file_and_line(tmp_path):
    train = tmp_path / "train.conll"
    own, copied = _distinct(60), _distinct(10, offset=1000)
    train.write_text("".join("".join(f"{w}\tO\n" for w in s.words) + "\n" for s in own + copied))
    with pytest.raises(EvaluationOverlapError) as err:
        check_disjoint(train, read_tagged(train), [Holdout("test.conll", copied)])
    message = str(err.value)
    first_line = 60 * 10 + 1  # 60 sentences of 9 tokens and a blank line before the first copied one
    assert message.startswith(f"{train}:{first_line}: ") and "10 of the 10 sentences" in message
    assert "test.conll" in message and "'Report 1000 says" in message


def test_shared_boilerplate_and_short_lines_are_not_overlap(tmp_path):
    evaluation = _distinct(100, offset=500)
    boilerplate = TaggedSentence(["Goals", "for", ",", "goals", "against", ",", "points", ")", ":"], ["O"] * 9)
    short = TaggedSentence(["SOCCER", "-", "RESULTS", "."], ["O"] * 4)
    held = [*evaluation, boilerplate, boilerplate, short]  # boilerplate repeats within its set too
    train = [*_distinct(50), boilerplate, short, *evaluation[:2]]  # 2 of 100: what a corpus may share by chance
    check_disjoint(tmp_path / "train.conll", train, [Holdout("dev.conll", held)])  # no error
    with pytest.raises(EvaluationOverlapError, match="3 of the 100 sentences"):
        check_disjoint(tmp_path / "train.conll", [*train, evaluation[2]], [Holdout("dev.conll", held)])


def test_a_copy_counts_however_often_it_is_repeated(tmp_path):
    evaluation = _distinct(10, offset=500)
    with pytest.raises(EvaluationOverlapError, match="10 of the 10 sentences"):
        check_disjoint(tmp_path / "train.conll", [*_distinct(50), *evaluation * 8], [Holdout("dev.conll", evaluation)])


def test_locate_finds_a_sentence_in_jsonl_and_conll(tmp_path):
    rows = [{"text": "Nothing here.", "entities": []}, {"text": "Ada Lovelace visited Paris.", "entities": []}]
    jsonl = tmp_path / "train.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert locate(jsonl, ["Ada", "Lovelace", "visited", "Paris", "."]) == 2
    conll = write_toy_conll(tmp_path / "toy.conll", 3)
    third = _sentences(3)[2]
    assert locate(conll, third.words) == sum(len(s.words) + 1 for s in _sentences(2)) + 1
    assert locate(conll, ["not", "there"]) is None
