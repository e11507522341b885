"""Gold word alignments of the generated grammar, mapped onto sentencepiece pieces.

``core.data.translate`` gives the Korean reference and a Pharaoh alignment between
*words* (white-space split, a final ``.``/``?`` detached). A figure needs it between
*pieces*: each piece is matched, character by character, to the word it came from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.data import parse_alignment, translate, words
from core.inference.inspection import Inspection, PathView

SPECIALS = ("<s>", "</s>", "<pad>", "<unk>")


def piece_words(pieces: tuple[str, ...] | list[str], word_list: list[str]) -> list[int | None] | None:
    """Word index of every piece (None for specials), or None when they do not match.

    Matching is on the characters with ``▁`` removed, case-insensitively, so both the
    real tokenizer's pieces and lower-cased ones line up with the words.
    """
    stream: list[int] = []
    chars: list[str] = []
    for w_i, w in enumerate(word_list):
        for c in w.lower():
            chars.append(c)
            stream.append(w_i)
    text = "".join(chars)
    pos = 0
    out: list[int | None] = []
    for p in pieces:
        if p in SPECIALS:
            out.append(None)
            continue
        body = p.replace("▁", "").lower()
        if not body:  # a lone word-boundary piece
            out.append(stream[pos] if pos < len(stream) else None)
            continue
        if text[pos:pos + len(body)] != body:
            return None
        out.append(stream[pos])
        pos += len(body)
    return out if pos == len(text) else None


@dataclass(frozen=True)
class GoldAlignment:
    """Piece-level gold links (target row, source column), or why there are none."""

    links: np.ndarray | None  # int [n, 2]: (target piece t, source piece s)
    reference: str | None  # the gold Korean sentence
    pharaoh: str | None  # the gold word alignment, ``i-j`` = English word i, Korean word j
    note: str  # "" when links is set, else the reason it is not


def gold_alignment(ins: Inspection, path: PathView | None = None) -> GoldAlignment:
    """Gold links for the hypothesis ``path`` (default: the best one) of ``ins``.

    Only defined when the sentence belongs to the generated grammar and the hypothesis is
    the gold translation word for word; otherwise ``links`` is None and ``note`` says why.
    """
    path = path or ins.best
    try:
        ko, pharaoh = translate(ins.text)
    except ValueError:
        return GoldAlignment(None, None, None, "the sentence is outside the generated grammar")
    hyp = "".join(p for p in path.target_pieces if p not in SPECIALS).replace("▁", " ").strip()
    if words(hyp) != words(ko):
        return GoldAlignment(None, ko, pharaoh, f"the translation differs from the gold {ko!r}")
    src = piece_words(ins.source_pieces, words(ins.text))
    tgt = piece_words(path.target_pieces, words(ko))
    if src is None or tgt is None:
        return GoldAlignment(None, ko, pharaoh, "the pieces do not spell the sentence's words")
    links = sorted({(t, s) for i, j in parse_alignment(pharaoh)
                    for t, wt in enumerate(tgt) if wt == j
                    for s, ws in enumerate(src) if ws == i})
    return GoldAlignment(np.array(links, np.int64).reshape(-1, 2), ko, pharaoh, "")
