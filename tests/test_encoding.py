import pytest

from hybrid_ner.ner.encoding import make_windows


@pytest.mark.parametrize("max_tokens", [16, 32, 128])
def test_every_word_is_predicted_exactly_once(tokenizer, max_tokens):
    sentences = [
        ["Short", "one", "."],
        ["w" + str(i) for i in range(150)],
        ["Supercalifragilisticexpialidocious-ly"] * 7 + ["end"],
        [],
    ]
    windows = make_windows(tokenizer, sentences, max_tokens)
    for s_idx, words in enumerate(sentences):
        covered = [w for win in windows if win.sentence == s_idx for w in win.words]
        assert covered == list(range(len(words)))
    for win in windows:
        assert len(win.input_ids) <= max_tokens
        assert win.input_ids[0] == tokenizer.cls_token_id and win.input_ids[-1] == tokenizer.sep_token_id
        assert len(win.shape_ids) == len(win.input_ids)


def test_long_sentences_get_context_on_both_sides(tokenizer):
    words = ["token"] * 100
    windows = make_windows(tokenizer, [words], 32)
    middle = windows[len(windows) // 2]
    # context words are in the input but not among the predicted positions
    assert middle.positions[0] > 1
    assert middle.positions[-1] < len(middle.input_ids) - 2


def test_words_the_tokenizer_drops_are_skipped(tokenizer):
    windows = make_windows(tokenizer, [["Paris", "\u200b", "France"]], 32)
    assert windows[0].words == [0, 2]
