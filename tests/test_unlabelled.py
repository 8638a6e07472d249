"""Reading unlabelled text for distillation (``train-ner --unlabelled``): sentences split as the service splits
text, and a clear error naming the file and line for what is not prose. Unit tests on files the test writes."""

import pytest

from hybrid_ner.ner.data import TaggedSentence
from hybrid_ner.ner.holdout import EvaluationOverlapError, Holdout
from hybrid_ner.ner.unlabelled import MAX_LINE_CHARS, UnlabelledTextError, read_unlabelled


def test_each_line_is_split_into_sentences_and_words_as_the_service_splits_text(tmp_path):
    path = tmp_path / "prose.txt"
    path.write_text("Ada Lovelace met Babbage. They wrote to #Paris!\n\n  \nThe Danube flows east.\n", encoding="utf-8")
    got = read_unlabelled(path)
    assert [s.words for s in got] == [
        ["Ada", "Lovelace", "met", "Babbage", "."],
        ["They", "wrote", "to", "#", "Paris", "!"],
        ["The", "Danube", "flows", "east", "."],
    ]
    assert all(s.tags == ["O"] * len(s.words) for s in got)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"Fine text.\nLatin-1 caf\xe9 here.\n", ":2: not UTF-8 (byte 0xe9 at column 12)"),
        (b"", ": holds no text"),
        (b"\n   \n", ": holds no text"),
        (b"ok.\n" + b"word " * (MAX_LINE_CHARS // 5 + 1) + b"\n", ":2: a line of"),
    ],
)
def test_text_that_is_not_prose_is_refused_naming_the_file_and_line(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(UnlabelledTextError) as caught:
        read_unlabelled(path)
    assert str(caught.value).startswith(f"{path}") and message in str(caught.value)


def test_text_that_holds_an_evaluation_set_is_refused_whatever_its_tokenization(tmp_path):
    held = [TaggedSentence(f"Report {n} says Ada Lovelace visited Paris today .".split(), ["O"] * 9) for n in range(5)]
    path = tmp_path / "prose.txt"
    path.write_text(
        "Nothing to see.\n" + " ".join(f"Report {n} says Ada Lovelace visited Paris today." for n in range(5))
    )
    with pytest.raises(EvaluationOverlapError) as caught:
        read_unlabelled(path, [Holdout("test.conll", held)])
    assert f"{path}:2: " in str(caught.value) and "5 of the 5 sentences of the evaluation set test.conll" in str(
        caught.value
    )
    assert len(read_unlabelled(path)) == 6  # without holdouts it is only read
