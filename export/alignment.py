"""Gold word alignments of the generated grammar, mapped onto sentencepiece pieces.

The mapping lives in ``core.inference.alignment`` (the CLI and the app use it too); this
module keeps the names the figure code imports.
"""

from __future__ import annotations

from attnscope.core.inference.alignment import SPECIALS, GoldAlignment, gold_alignment, piece_words

__all__ = ["SPECIALS", "GoldAlignment", "gold_alignment", "piece_words"]
