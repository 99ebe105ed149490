"""Greedy decoding and beam search, on a hand-made "model" whose best translation is known."""

from __future__ import annotations

import numpy as np

from dlbook.translation import search

A, B, C = 4, 5, 6
END, START = search.END, search.START

# P(next word | last word): greedy takes A (0.6), whose continuations are all weak (best A C </s>,
# 0.6 · 0.5 · 1 = 0.30); the best sentence is B </s> (0.4 · 0.9 = 0.36).
TABLE = {START: {A: 0.6, B: 0.4}, A: {C: 0.5, END: 0.45}, B: {END: 0.9, C: 0.1}, C: {END: 1.0}}
VOCAB = 7


class HandMadeTranslator(search.Translator):
    """The decoder's "features" at position t are the word at t, one-hot; ``next_word`` is TABLE."""

    def __init__(self):
        super().__init__(encoder=None, decoder=None, next_word=None)
        self.calls = 0

    def encode(self, source):
        return [source.astype(np.float32)]

    def decode(self, encoded, source, prefix):
        self.calls += 1
        assert len(encoded[0]) == len(source) == len(prefix)  # hypotheses stay aligned with their sources
        return [np.eye(VOCAB, dtype=np.float32)[prefix]]

    def log_probabilities(self, features):
        probabilities = np.full((len(features), VOCAB), 1e-9)
        for row, word in enumerate(features.argmax(axis=1)):
            for nxt, p in TABLE.get(word, {END: 1.0}).items():
                probabilities[row, nxt] = p
        return np.log(probabilities)


def test_greedy_takes_the_locally_best_word_and_beam_search_finds_the_best_sentence():
    sources = [np.array([7, 8]), np.array([9])]
    assert search.greedy_decode(HandMadeTranslator(), sources) == [[A, C], [A, C]]
    assert search.beam_search(HandMadeTranslator(), sources, beam=2, alpha=0.0) == [[B], [B]]


def test_the_length_penalty_can_prefer_the_longer_sentence():
    # log 0.30 = −1.20 over 3 words vs log 0.36 = −1.02 over 2: with alpha = 2 the longer one wins.
    assert search.length_penalty(3, 2.0) > search.length_penalty(2, 2.0) > 1.0
    assert search.beam_search(HandMadeTranslator(), [np.array([7])], beam=3, alpha=0.0) == [[B]]
    assert search.beam_search(HandMadeTranslator(), [np.array([7])], beam=3, alpha=2.0) == [[A, C]]


def test_beam_search_stops_when_every_hypothesis_has_ended_and_respects_max_len():
    translator = HandMadeTranslator()
    search.beam_search(translator, [np.array([7])], beam=2, max_len=50)
    assert translator.calls <= 4
    # Room for one word and </s>: a prefix at the limit must end, paying for its </s> (as in fairseq):
    # A </s> (0.6 · 0.45 = 0.27) loses to B </s> (0.36); with room for three, B </s> still wins.
    assert search.beam_search(HandMadeTranslator(), [np.array([7])], beam=2, alpha=0.0, max_len=2) == [[B]]
    assert search.beam_search(HandMadeTranslator(), [np.array([7])], beam=2, max_len=1) == [[]]


def test_a_sentence_is_translated_alike_alone_and_beside_longer_ones():
    alone = search.beam_search(HandMadeTranslator(), [np.array([7])], beam=2)
    beside = search.beam_search(HandMadeTranslator(), [np.array([7]), np.arange(1, 60)], beam=2)
    assert beside[0] == alone[0]


def test_sources_of_different_lengths_in_chunks_come_back_in_order():
    sources = [np.arange(1, n + 1) for n in (5, 1, 3, 9, 2)]
    out = search.beam_search(HandMadeTranslator(), sources, beam=2, chunk=2, alpha=0.0)
    assert out == [[B]] * 5


class Recording(HandMadeTranslator):
    """Records the shape of every array decoding gives the encoder and the decoder."""

    def __init__(self):
        super().__init__()
        self.shapes = set()

    def encode(self, source):
        self.shapes.add(("encoder", source.shape))
        return super().encode(source)

    def decode(self, encoded, source, prefix):
        self.shapes.add(("decoder", source.shape, prefix.shape))
        return super().decode(encoded, source, prefix)


def test_an_evaluation_gives_the_models_a_bounded_number_of_shapes():
    rng = np.random.default_rng(0)
    sources = [rng.integers(4, 9, size=rng.integers(1, 60)) for _ in range(700)]
    translator = Recording()
    out = search.beam_search(translator, sources, beam=3, chunk=64)
    assert len(out) == 700 and all(ids == [B] for ids in out)
    rows = {(shape[0], shape[1][0]) for shape in translator.shapes}
    widths = {w for shape in translator.shapes for s in shape[1:] for w in s[1:]}
    assert rows == {("encoder", 64), ("decoder", 64 * 3)}  # 700 = 10 full chunks and one of 60, padded to 64
    assert widths <= set(search.WIDTHS)
    assert len(translator.shapes) <= 12  # per source width (8 to 64) one encoder and one decoder shape
    few = Recording()
    search.beam_search(few, sources[:3], beam=2, chunk=64)
    assert {shape[1][0] for shape in few.shapes} == {4, 4 * 2}  # three sentences padded to four


def test_fixed_widths_and_rows():
    assert [search.fixed_width(n) for n in (1, 8, 9, 17, 25, 100, 128, 129)] == [8, 8, 16, 24, 32, 128, 128, 256]
    assert [search.fixed_rows(n, 128) for n in (1, 2, 3, 5, 64, 65, 128)] == [1, 2, 4, 8, 64, 128, 128]


def test_never_writes_unknown_padding_or_start():
    class LovesUnknown(HandMadeTranslator):
        def log_probabilities(self, features):
            log_p = super().log_probabilities(features)
            log_p[:, [search.UNKNOWN, search.PAD, START]] = 0.0  # certain, and never chosen
            return log_p

    for beam in (1, 3):
        assert search.beam_search(LovesUnknown(), [np.array([7])], beam=beam, alpha=0.0) == [[A, C] if beam == 1 else [B]]


def test_the_pool_keeps_finished_translations_out_of_the_beam():
    # At the second step B </s> is finished and leaves the beam to A C and B C, so the search goes on
    # one more step, until A C </s> (0.30) has had its chance against B </s> (0.36).
    translator = HandMadeTranslator()
    assert search.beam_search(translator, [np.array([7])], beam=2, alpha=0.0) == [[B]]
    assert translator.calls == 3
