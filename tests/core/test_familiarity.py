"""Pieces and words the model barely or never saw: byte pieces merged, counts, reasons."""

from __future__ import annotations

import numpy as np

from attnscope.core.bundle import DEFAULT_BUNDLE
from attnscope.core.data import required_pairs
from attnscope.core.inference.familiarity import (
    assess,
    byte_value,
    count_pieces,
    detokenize,
    load_piece_counts,
    merge_bytes,
)


def test_byte_pieces_merge_into_the_characters_they_spell():
    # "안" is EC 95 88 in UTF-8; "," is 0x2C; a lone 0xF2 is not valid UTF-8.
    assert byte_value("<0x2C>") == 44 and byte_value("▁a") is None
    units = merge_bytes(["▁a", "<0xEC>", "<0x95>", "<0x88>", "<0x2C>", "b"])
    assert units == [("▁a", [0]), ("안,", [1, 2, 3, 4]), ("b", [5])]
    assert merge_bytes(["<0xF2>", "."]) == [("\ufffd", [0]), (".", [1])]
    assert detokenize(["▁먹는다", "<0x2C>", "</s>"]) == "먹는다,"


def test_counts_of_a_hand_made_corpus():
    vocab = {"▁I": 4, "▁love": 5, "▁you": 6, "▁나는": 7, "▁사랑": 8}
    encode = lambda s: [vocab[w] for w in ("▁" + s).replace(" ", " ▁").split()]  # noqa: E731
    data = count_pieces(encode, 10, [("I love you", "나는 사랑"), ("I love", "나는")])
    assert data["pairs"] == 2
    assert data["source"][4:7] == [2, 2, 1] and data["target"][7:9] == [2, 1]
    assert data["words"] == {"i": 2, "love": 2, "you": 1}


def test_unfamiliar_input_is_marked_with_reasons():
    counts = load_piece_counts(DEFAULT_BUNDLE)
    assert counts is not None and counts.pairs == 58000
    pieces = ["▁The", "▁we", "at", "her", "▁is", "<0x2C>", "</s>"]
    ids = [10, 11, 12, 13, 14, 15, 3]
    fam = assess(pieces, ids, counts)
    assert not fam.familiar
    assert fam.marked[1:3] == (True, True) and fam.marked[-1] is False  # "weather"; </s> never
    text = " ".join(fam.reasons)
    assert "weather" in text and "," in text and "byte" in text


def test_every_required_sentence_is_familiar_to_the_shipped_model():
    from attnscope.core.tokenizer import Tokenizer

    tok = Tokenizer.load(DEFAULT_BUNDLE / "spm.model")
    counts = load_piece_counts(DEFAULT_BUNDLE)
    for pair in required_pairs():
        ids = tok.encode(pair.en)
        fam = assess(tok.pieces(ids), ids, counts)
        assert fam.familiar, (pair.en, fam.reasons)
    # the shipped counts agree with the tokenizer: "▁love" occurs, a byte piece never does
    assert counts.source[tok.piece_id("▁love")] > 100
    assert counts.source[tok.piece_id("<0x2C>")] == 0
    assert np.all(counts.source >= 0)
