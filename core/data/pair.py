"""Sentence pairs, word splitting and Pharaoh alignments shared by the corpus code."""

from __future__ import annotations

import re
from dataclasses import dataclass

_FINAL_PUNCT = (".", "?")
_PHARAOH = re.compile(r"\d+-\d+(?: \d+-\d+)*")


@dataclass(frozen=True)
class Pair:
    """One parallel sentence pair; ``alignment`` is Pharaoh ``i-j`` text or None."""

    en: str
    ko: str
    alignment: str | None = None


def words(text: str) -> list[str]:
    """Split on white space and detach a final ``.`` or ``?`` as a word of its own.

    This is the word count the gold alignments use on both sides.
    """
    parts = text.split()
    if parts and len(parts[-1]) > 1 and parts[-1][-1] in _FINAL_PUNCT:
        last = parts.pop()
        parts += [last[:-1], last[-1]]
    return parts


def looks_like_alignment(text: str) -> bool:
    """True when ``text`` is a non-empty Pharaoh alignment (``0-0 1-2 2-1``)."""
    return _PHARAOH.fullmatch(text) is not None


def parse_alignment(text: str) -> list[tuple[int, int]]:
    """Parse Pharaoh text into ``(source, target)`` index pairs."""
    if not text:
        return []
    if not looks_like_alignment(text):
        raise ValueError(f"not a Pharaoh alignment: {text!r}")
    return [(int(a), int(b)) for a, b in (link.split("-") for link in text.split())]


def format_alignment(links: list[tuple[int, int]]) -> str:
    """Format index pairs as Pharaoh text, sorted by source then target index."""
    return " ".join(f"{i}-{j}" for i, j in sorted(set(links)))


def alignment_in_range(alignment: str, en: str, ko: str) -> bool:
    """True when every link of ``alignment`` indexes a word of ``en`` and of ``ko``."""
    n_en, n_ko = len(words(en)), len(words(ko))
    return all(0 <= i < n_en and 0 <= j < n_ko for i, j in parse_alignment(alignment))
