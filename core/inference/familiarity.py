"""How familiar a sentence is to the model: pieces and words it saw rarely or never.

A model answers a sentence far outside its training data just as confidently as one it
knows. The export writes ``piece_counts.json`` (how often each piece id occurs on each
side of the training pairs, and how often each source word does), so the window can mark
what the model barely or never saw and say so. Byte-fallback pieces (``<0x2C>``) are
marked even without counts: the tokenizer only falls back to bytes for characters that
were too rare to get a piece of their own. No torch, no Qt.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

COUNTS_FILE = "piece_counts.json"
RARE = 5  # a piece or word seen fewer times than this in training counts as rare
_BYTE = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")
_PUNCT = ".,!?;:\"'()"
_SPECIALS = frozenset(("</s>", "<s>", "<pad>"))


def _listing(items: Iterable[str], most: int = 6) -> str:
    """Distinct items, comma-separated, the first ``most`` of them."""
    seen = list(dict.fromkeys(items))
    return ", ".join(seen[:most]) + (f", … ({len(seen) - most} more)" if len(seen) > most else "")


@dataclass(frozen=True)
class PieceCounts:
    source: np.ndarray  # (V,) occurrences of each piece id in the training sources
    target: np.ndarray  # (V,) occurrences of each piece id in the training targets
    words: dict[str, int]  # source words (lower case, outer punctuation stripped) -> count
    pairs: int  # training pairs counted


def word_key(word: str) -> str:
    """The form a source word is counted under: lower case, outer punctuation stripped."""
    return word.strip(_PUNCT).lower()


def count_pieces(encode: Callable[[str], list[int]], vocab_size: int,
                 pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """The JSON of ``piece_counts.json`` for training ``pairs`` (source, target)."""
    src, tgt = np.zeros(vocab_size, np.int64), np.zeros(vocab_size, np.int64)
    words: Counter[str] = Counter()
    n = 0
    for en, ko in pairs:
        np.add.at(src, np.asarray(encode(en), np.int64), 1)
        np.add.at(tgt, np.asarray(encode(ko), np.int64), 1)
        words.update(k for w in en.split() if (k := word_key(w)))
        n += 1
    return {"pairs": n, "source": src.tolist(), "target": tgt.tolist(),
            "words": dict(sorted(words.items()))}


def write_piece_counts(run: Path, out: Path, tokenizer: Any) -> Path | None:
    """Count the run's training pairs (``run/data/train.tsv``) into ``out/piece_counts.json``;
    None when the run kept no copy of its training data."""
    train = Path(run) / "data" / "train.tsv"
    if not train.exists():
        return None
    with open(train, encoding="utf-8") as f:
        pairs = [(c[0], c[1]) for line in f if len(c := line.rstrip("\n").split("\t")) >= 2]
    path = Path(out) / COUNTS_FILE
    data = count_pieces(tokenizer.encode, len(tokenizer), pairs)
    path.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    return path


def load_piece_counts(bundle: str | Path | None) -> PieceCounts | None:
    """The bundle's piece counts, or None (no file, or one that cannot be read)."""
    if bundle is None:
        return None
    path = Path(str(bundle)) / COUNTS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return PieceCounts(np.asarray(data["source"], np.int64), np.asarray(data["target"], np.int64),
                           {str(k): int(v) for k, v in data.get("words", {}).items()}, int(data["pairs"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def byte_value(piece: str) -> int | None:
    """The byte a byte-fallback piece stands for (``<0x2C>`` -> 44), else None."""
    m = _BYTE.match(piece)
    return int(m.group(1), 16) if m else None


def merge_bytes(pieces: Sequence[str]) -> list[tuple[str, list[int]]]:
    """Display units: each run of byte pieces becomes the characters its bytes spell
    (invalid UTF-8 as U+FFFD), every other piece stays itself. Each unit lists the
    indices of the pieces it covers."""
    units: list[tuple[str, list[int]]] = []
    run: list[int] = []

    def flush() -> None:
        if run:
            data = bytes(byte_value(pieces[i]) or 0 for i in run)
            units.append((data.decode("utf-8", errors="replace"), list(run)))
            run.clear()

    for i, p in enumerate(pieces):
        if byte_value(p) is not None:
            run.append(i)
        else:
            flush()
            units.append((p, [i]))
    flush()
    return units


def detokenize(pieces: Sequence[str]) -> str:
    """The text pieces spell, byte pieces merged, framing specials dropped."""
    text = "".join(u for u, _ in merge_bytes([p for p in pieces if p not in _SPECIALS]))
    return text.replace("▁", " ").strip()


def source_words(pieces: Sequence[str]) -> list[tuple[str, list[int]]]:
    """(word, piece indices) for each source word: a piece starting with ▁ starts a word."""
    words: list[tuple[str, list[int]]] = []
    for text, idx in merge_bytes(pieces):
        if text in _SPECIALS:
            continue
        if text.startswith("▁") or not words:
            words.append((text.lstrip("▁"), list(idx)))
        else:
            words[-1] = (words[-1][0] + text, words[-1][1] + idx)
    return words


@dataclass(frozen=True)
class Familiarity:
    """Which source pieces the model barely or never saw, and why, in words."""

    marked: tuple[bool, ...]  # per source piece
    reasons: tuple[str, ...]  # one line each; empty when nothing looks unfamiliar
    target_bytes: int = 0  # byte pieces in the translation

    @property
    def familiar(self) -> bool:
        return not self.reasons


def assess(pieces: Sequence[str], ids: Sequence[int] | np.ndarray, counts: PieceCounts | None,
           unk_id: int = 1, target_pieces: Sequence[str] = ()) -> Familiarity:
    """Mark the source pieces that are byte fallbacks, unknown, or rare in training, and
    the words the model never saw whole; count byte pieces in the translation."""
    marked = [False] * len(pieces)
    bytes_, unknown, rare, new_words = [], [], [], []
    for i, (p, pid) in enumerate(zip(pieces, ids, strict=True)):
        if p in _SPECIALS:  # framing (</s>) is added to every sentence, never counted
            continue
        if byte_value(p) is not None:
            marked[i] = True
            bytes_.append(i)
        elif int(pid) == unk_id:
            marked[i] = True
            unknown.append(p)
        elif counts is not None and 0 <= int(pid) < len(counts.source) and counts.source[int(pid)] < RARE:
            marked[i] = True
            rare.append(f"{p} ({int(counts.source[int(pid)])}×)")
    if counts is not None and counts.words:
        for word, idx in source_words(pieces):
            key = word_key(word)
            if key and counts.words.get(key, 0) < RARE:
                new_words.append(word.strip(_PUNCT) or word)
                for i in idx:
                    marked[i] = True
    reasons = []
    if new_words:
        reasons.append(f"words it never (or hardly ever) saw in training: {_listing(new_words)}")
    if bytes_:
        chars = [u for u, idx in merge_bytes(pieces) if byte_value(pieces[idx[0]]) is not None]
        reasons.append(f"characters with no piece of their own (spelt as {len(bytes_)} byte pieces): "
                       f"{_listing(chars)}")
    if unknown:
        reasons.append(f"unknown pieces: {_listing(unknown)}")
    if rare:
        reasons.append(f"pieces rare in training: {_listing(rare)}")
    n_out = sum(byte_value(p) is not None for p in target_pieces)
    if n_out:
        reasons.append(f"the translation contains {n_out} raw byte piece{'s' * (n_out > 1)}")
    return Familiarity(tuple(marked), tuple(reasons), n_out)
