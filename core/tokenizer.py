"""Sentencepiece: one vocabulary shared by source and target (section 5.1), byte fallback on.

Imports no torch: the inference engine uses the same class.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterable
from pathlib import Path

import sentencepiece as spm

PAD, UNK, BOS, EOS = 0, 1, 2, 3


class Tokenizer:
    """Encode text to piece ids and back; ids 0-3 are PAD, UNK, BOS, EOS."""

    def __init__(self, model_proto: bytes) -> None:
        self.proto = model_proto
        self.sp = spm.SentencePieceProcessor(model_proto=model_proto)

    @classmethod
    def load(cls, path: str | Path) -> Tokenizer:
        return cls(Path(path).read_bytes())

    def save(self, path: str | Path) -> None:
        Path(path).write_bytes(self.proto)

    @classmethod
    def train(cls, sentences: Iterable[str], vocab_size: int, seed: int = 0) -> Tokenizer:
        """Train on both sides of the training data; byte fallback so no character is lost."""
        text = [s for s in sentences if s]
        chars = {c for s in text for c in s if not c.isspace()}
        # Keep every character of a small alphabet (Hangul syllables included); with a huge
        # one, leave the rarest 0.05 % to byte fallback as sentencepiece recommends.
        coverage = 1.0 if len(chars) < 3000 else 0.9995
        needed = (len(chars) + 256 + 4 + 32) if coverage == 1.0 else 0  # chars + bytes + specials
        if needed > vocab_size:
            print(f"tokenizer: {len(chars)} distinct characters need a vocabulary of {needed}; "
                  f"using {needed} instead of {vocab_size}", file=sys.stderr)
            vocab_size = needed
        out = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(text),
            model_writer=out,
            vocab_size=vocab_size,
            model_type="bpe",  # whole words where the vocabulary allows: readable attention labels
            character_coverage=coverage,
            byte_fallback=True,
            pad_id=PAD, unk_id=UNK, bos_id=BOS, eos_id=EOS,
            hard_vocab_limit=False,  # a small corpus may not fill the vocabulary
            num_threads=2,
            input_sentence_size=200_000,
            shuffle_input_sentence=False,  # deterministic: the first N sentences
            minloglevel=2,
        )
        return cls(out.getvalue())

    def __len__(self) -> int:
        return int(self.sp.get_piece_size())

    def encode(self, text: str) -> list[int]:
        return list(self.sp.encode(text))

    def decode(self, ids: Iterable[int]) -> str:
        return str(self.sp.decode([i for i in ids if i > EOS]))

    def piece(self, i: int) -> str:
        if i == BOS:
            return "<s>"
        if i == EOS:
            return "</s>"
        if i == PAD:
            return "<pad>"
        return str(self.sp.id_to_piece(int(i)))

    def pieces(self, ids: Iterable[int]) -> list[str]:
        return [self.piece(i) for i in ids]

    def piece_id(self, piece: str) -> int:
        return int(self.sp.piece_to_id(piece))
