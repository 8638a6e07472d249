import pytest

from hybrid_ner.ner.encoding import CALL_COST_TOKENS, make_windows, padded_batches


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


def _padded(lengths, spans):
    return sum((hi - lo) * lengths[hi - 1] for lo, hi in spans)


@pytest.mark.parametrize(
    "lengths",
    [[], [9], [7] * 70, [5, 6, 6, 7, 8, 9, 9, 12, 40, 41, 230], sorted([3, 250] * 20), list(range(3, 103))],
)
@pytest.mark.parametrize("batch_size", [1, 4, 32])
def test_batches_cover_every_window_once_and_pay_no_more_than_fixed_batches(lengths, batch_size):
    spans = padded_batches(lengths, batch_size)
    assert [i for lo, hi in spans for i in range(lo, hi)] == list(range(len(lengths)))  # in order, each once
    assert all(0 < hi - lo <= batch_size for lo, hi in spans)
    fixed = [(lo, min(lo + batch_size, len(lengths))) for lo in range(0, len(lengths), batch_size)]
    cost = _padded(lengths, spans) + CALL_COST_TOKENS * len(spans)
    assert cost <= _padded(lengths, fixed) + CALL_COST_TOKENS * len(fixed)


def test_one_long_sentence_gets_its_own_batch_and_equal_ones_share_full_batches():
    lengths = [10] * 20 + [200]
    spans = padded_batches(lengths, 32)
    assert spans == [(0, 20), (20, 21)]  # fixed batches of 32 would pad the 20 short windows to 200 tokens
    assert len(padded_batches([10] * 70, 32)) == 3
