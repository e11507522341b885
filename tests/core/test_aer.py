"""Alignment error rate: the formula on hand-made links, and per head on hand-made attention."""

from __future__ import annotations

import numpy as np
import pytest

from attnscope.core.inference.alignment import (
    aer_from_counts,
    alignment_error_rate,
    attention_links,
    best_head,
    head_aer_counts,
    inspection_aer,
    piece_links,
    word_rows_cols,
)


def test_aer_formula_by_hand() -> None:
    gold = {(0, 0), (1, 2), (2, 1)}
    # two of three predicted links are gold: 1 - (2 + 2) / (3 + 3) = 1/3
    assert alignment_error_rate({(0, 0), (1, 1), (2, 1)}, gold) == pytest.approx(1 / 3)
    assert alignment_error_rate(gold, gold) == 0.0
    assert alignment_error_rate({(0, 1)}, gold) == 1.0
    # sure ⊂ possible: |A∩S| = 1, |A∩P| = 2, |A| = 3, |S| = 1 → 1 - 3/4
    assert alignment_error_rate({(0, 0), (1, 2), (2, 2)}, {(0, 0)}, {(1, 2)}) == pytest.approx(0.25)


def test_aer_of_heads_on_hand_made_attention() -> None:
    # target pieces: ▁나는 ▁너를 ▁사랑 한다 </s>; source pieces: ▁I ▁love ▁you </s>
    src = ["▁I", "▁love", "▁you", "</s>"]
    tgt = ["▁나는", "▁너를", "▁사랑", "한다", "</s>"]
    gold = piece_links(src, tgt, "I love you", "나는 너를 사랑한다", "0-0 1-2 2-1")
    assert {tuple(x) for x in gold.tolist()} == {(0, 0), (1, 2), (2, 1), (3, 1)}
    rows, cols = word_rows_cols(src, tgt)
    assert rows.tolist() == [0, 1, 2, 3] and cols.tolist() == [0, 1, 2]  # EOS row and column left out
    attn = np.full((1, 3, 5, 4), 0.05, np.float32)
    for t, s in ((0, 0), (1, 2), (2, 1), (3, 1), (4, 3)):  # head 0: the gold links exactly
        attn[0, 0, t, s] = 0.85
    attn[0, 1, :, 3] = 0.7  # head 1: a sink on </s>; its argmax over words is the first word
    attn[0, 1, :, 0] = 0.2
    for t, s in ((0, 0), (1, 1), (2, 2), (3, 2), (4, 3)):  # head 2: monotone, wrong order
        attn[0, 2, t, s] = 0.85
    links = attention_links(attn, rows, cols)
    assert links[0, 1].tolist() == [[0, 0], [1, 0], [2, 0], [3, 0]]
    aer = aer_from_counts(head_aer_counts(attn, gold, rows, cols))
    assert aer[0, 0] == pytest.approx(0.0)
    assert aer[0, 1] == pytest.approx(1 - 2 * 1 / 8)  # one of four links right
    assert aer[0, 2] == pytest.approx(1 - 2 * 1 / 8)
    assert best_head(aer) == (0, 0)
    # summed over sentences, counts give the corpus AER (not the mean of sentence AERs)
    two = head_aer_counts(attn, gold, rows, cols) * 2
    assert aer_from_counts(two)[0, 1] == pytest.approx(aer[0, 1])


def test_inspection_gold_and_aer_in_the_grammar_only() -> None:
    from attnscope.app.testing import FakeEngine
    from attnscope.core.config import DecodeConfig

    eng, cfg = FakeEngine(), DecodeConfig(beam_size=4)
    ins = eng.inspect("I love you.", cfg)
    got = inspection_aer(ins)
    assert got is not None and got["reference"] == "나는 너를 사랑한다." and got["note"] == ""
    m = eng.model_config
    assert np.asarray(got["aer"]["per_head"]).shape == (m.n_decoder_layers, m.n_heads)
    assert inspection_aer(eng.inspect("Colorless green ideas sleep.", cfg)) is None
