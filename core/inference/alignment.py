"""Gold word alignments on pieces, and the alignment error rate of attention heads.

``core.data.translate`` gives the Korean reference and a Pharaoh alignment between
*words* (white-space split, a final ``.``/``?`` detached). Attention is between *pieces*:
each piece is matched, character by character, to the word it came from.

AER (Och & Ney 2003) with sure links S and possible links P ⊇ S, predicted links A:
``AER = 1 - (|A∩S| + |A∩P|) / (|A| + |S|)``. The generated corpus has one gold set, so
S = P = gold. A head predicts, for every real target piece, the source piece (EOS
excluded) it attends to most. Pure numpy: no torch, no Qt.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from attnscope.core.data import parse_alignment, translate, words
from attnscope.core.inference.inspection import Inspection, PathView

SPECIALS = ("<s>", "</s>", "<pad>", "<unk>")
Link = tuple[int, int]  # (target piece t, source piece s)


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


def piece_links(src_pieces: list[str] | tuple[str, ...], tgt_pieces: list[str] | tuple[str, ...],
                english: str, korean: str, pharaoh: str) -> np.ndarray | None:
    """Word links ``i-j`` (English word i, Korean word j) as piece links [n, 2] of
    (target piece, source piece); None when the pieces do not spell the sentences."""
    src = piece_words(src_pieces, words(english))
    tgt = piece_words(tgt_pieces, words(korean))
    if src is None or tgt is None:
        return None
    links = sorted({(t, s) for i, j in parse_alignment(pharaoh)
                    for t, wt in enumerate(tgt) if wt == j
                    for s, ws in enumerate(src) if ws == i})
    return np.array(links, np.int64).reshape(-1, 2)


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
    links = piece_links(ins.source_pieces, path.target_pieces, ins.text, ko, pharaoh)
    if links is None:
        return GoldAlignment(None, ko, pharaoh, "the pieces do not spell the sentence's words")
    return GoldAlignment(links, ko, pharaoh, "")


# -- alignment error rate ---------------------------------------------------------------

def alignment_error_rate(predicted: Iterable[Link], sure: Iterable[Link],
                         possible: Iterable[Link] | None = None) -> float:
    """AER = 1 - (|A∩S| + |A∩P|) / (|A| + |S|); ``possible`` defaults to ``sure``."""
    a, s = set(predicted), set(sure)
    p = set(possible) if possible is not None else s
    p |= s
    if not a and not s:
        return 0.0
    return 1.0 - (len(a & s) + len(a & p)) / (len(a) + len(s))


def attention_links(attn: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """[L, H, n, 2] links of each head: every row of ``rows`` → its argmax among ``cols``.

    ``attn`` is cross-attention [L, H, T, S]; ``rows`` the target pieces that are words,
    ``cols`` the source pieces that are words (EOS excluded, so a sink is never a link).
    """
    sub = attn[:, :, rows][:, :, :, cols]  # (L, H, n, m)
    best = cols[sub.argmax(axis=-1)]  # (L, H, n)
    t = np.broadcast_to(rows, best.shape)
    return np.stack([t, best], axis=-1)


def head_aer_counts(attn: np.ndarray, gold: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """[L, H, 3] counts (|A∩G|, |A|, |G|) of every head on one sentence (S = P = G)."""
    n_layers, n_heads = attn.shape[:2]
    out = np.zeros((n_layers, n_heads, 3), np.int64)
    if len(rows) == 0 or len(cols) == 0:
        out[..., 2] = len(gold)
        return out
    g = {(int(t), int(s)) for t, s in gold}
    links = attention_links(attn, rows, cols)
    for layer in range(n_layers):
        for head in range(n_heads):
            a = {(int(t), int(s)) for t, s in links[layer, head]}
            out[layer, head] = (len(a & g), len(a), len(g))
    return out


def aer_from_counts(counts: np.ndarray) -> np.ndarray:
    """[L, H] corpus AER from summed counts [L, H, 3]: 1 - 2|A∩G| / (|A| + |G|)."""
    hit, n_a, n_g = counts[..., 0], counts[..., 1], counts[..., 2]
    denom = n_a + n_g
    return np.where(denom > 0, 1.0 - 2.0 * hit / np.maximum(denom, 1), 0.0)


def word_rows_cols(src_pieces: list[str] | tuple[str, ...],
                   tgt_pieces: list[str] | tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the pieces that are not special (the rows and columns AER looks at)."""
    rows = np.array([i for i, p in enumerate(tgt_pieces) if p not in SPECIALS], np.int64)
    cols = np.array([i for i, p in enumerate(src_pieces) if p not in SPECIALS], np.int64)
    return rows, cols


def best_head(aer: np.ndarray) -> tuple[int, int]:
    """(layer, head) with the lowest AER (the first one on a tie)."""
    flat = int(np.argmin(aer))
    return divmod(flat, aer.shape[1])


def inspection_aer(ins: Inspection, path: PathView | None = None) -> dict | None:
    """Gold alignment and per-head AER of one decode, JSON-ready; None outside the grammar."""
    path = path or ins.best
    gold = gold_alignment(ins, path)
    if gold.reference is None:
        return None
    out: dict = {"reference": gold.reference, "pharaoh": gold.pharaoh, "note": gold.note,
                 "links": None if gold.links is None else gold.links.tolist(), "aer": None}
    if gold.links is not None and path.cross_attention.size:
        rows, cols = word_rows_cols(ins.source_pieces, path.target_pieces)
        aer = aer_from_counts(head_aer_counts(path.cross_attention, gold.links, rows, cols))
        layer, head = best_head(aer)
        out["aer"] = {"per_head": np.round(aer, 4).tolist(), "best": [layer, head],
                      "best_aer": round(float(aer[layer, head]), 4)}
    return out
