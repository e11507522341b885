"""Tokenizers a bundle carries, and the special ids it names.

Ours: one sentencepiece vocabulary shared by source and target (section 5.1), byte
fallback on, ids 0-3 PAD, UNK, BOS, EOS. Imported models: Marian's separate source and
target sentencepiece models with its ``vocab.json`` id map, or a Hugging Face
``tokenizer.json`` run by the ``tokenizers`` library. The special ids (pad, unk, eos, the
decoder start, the source framing, the language codes) are data in config.json's
"tokenizer" section, read by ``SpecialIds.from_config``; the constants below are only what
our own trainer writes. Imports no torch: the inference engine uses these classes.
"""

from __future__ import annotations

import dataclasses
import io
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import sentencepiece as spm

PAD, UNK, BOS, EOS = 0, 1, 2, 3  # what Tokenizer.train assigns; everything else reads SpecialIds
LANG = -1  # in a framing: the source-language code chosen at run time


@dataclass(frozen=True)
class SpecialIds:
    """The special pieces of a bundle's vocabulary and how a source sentence is framed."""

    pad: int = PAD
    unk: int = UNK
    bos: int = BOS
    eos: int = EOS
    decoder_start: int = BOS  # the first decoder input (Marian: pad; BART/mBART/M2M100/NLLB: eos)
    source_prefix: tuple[int, ...] = ()  # ids before the source pieces (NLLB: the language code)
    source_suffix: tuple[int, ...] = (EOS,)  # ids after them (mBART: eos + language code)
    banned: tuple[int, ...] = (BOS,)  # never generated (generate()'s bad words: pad, unk)
    languages: dict[str, int] = dataclasses.field(default_factory=dict)  # language code -> piece id
    source_lang: int = -1  # the source-language code that replaces LANG in the framing (-1 = none)

    @classmethod
    def from_config(cls, tok: dict[str, Any]) -> SpecialIds:
        """Read config.json's "tokenizer" section (our older bundles: pad/bos/eos ids only)."""
        bos = int(tok.get("bos_id", BOS))
        eos = int(tok.get("eos_id", EOS))
        start = int(tok.get("decoder_start_id", bos))
        return cls(
            pad=int(tok.get("pad_id", PAD)), unk=int(tok.get("unk_id", UNK)), bos=bos, eos=eos,
            decoder_start=start,
            source_prefix=tuple(int(i) for i in tok.get("source_prefix", ())),
            source_suffix=tuple(int(i) for i in tok.get("source_suffix", (eos,))),
            banned=tuple(int(i) for i in tok.get("banned_ids", (start,))),
            languages={str(k): int(v) for k, v in tok.get("languages", {}).items()},
            source_lang=int(tok.get("source_lang_id", -1)),
        )

    def to_config(self) -> dict[str, Any]:
        return {"pad_id": self.pad, "unk_id": self.unk, "bos_id": self.bos, "eos_id": self.eos,
                "decoder_start_id": self.decoder_start, "source_prefix": list(self.source_prefix),
                "source_suffix": list(self.source_suffix), "banned_ids": list(self.banned),
                "languages": dict(self.languages), "source_lang_id": self.source_lang}

    def frame(self, ids: list[int]) -> list[int]:
        """The encoder input: prefix, pieces, suffix, with LANG replaced by the source language."""
        def fill(part: tuple[int, ...]) -> list[int]:
            return [self.source_lang if i == LANG else i for i in part if i != LANG or self.source_lang >= 0]

        return fill(self.source_prefix) + ids + fill(self.source_suffix)

    def hidden(self) -> frozenset[int]:
        """Ids a decoded string leaves out."""
        return frozenset({self.pad, self.unk, self.bos, self.eos, self.decoder_start, *self.languages.values()})


class PieceTokenizer(Protocol):
    """Text to piece ids and back (``Tokenizer`` is one); what the views need."""

    def __len__(self) -> int: ...
    def encode(self, text: str) -> list[int]: ...
    def decode(self, ids: Iterable[int]) -> str: ...
    def piece(self, i: int) -> str: ...
    def pieces(self, ids: Iterable[int]) -> list[str]: ...
    def piece_id(self, piece: str) -> int: ...


class TextTokenizer(PieceTokenizer, Protocol):
    """What the engine needs of a tokenizer: the pieces and the bundle's special ids."""

    special: SpecialIds


class Tokenizer:
    """Encode text to piece ids and back; ids 0-3 are PAD, UNK, BOS, EOS unless ``special`` says."""

    def __init__(self, model_proto: bytes, special: SpecialIds | None = None) -> None:
        self.proto = model_proto
        self.sp = spm.SentencePieceProcessor(model_proto=model_proto)
        self.special = special or SpecialIds()
        self._hidden = self.special.hidden()

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
        return str(self.sp.decode([int(i) for i in ids if int(i) not in self._hidden]))

    def piece(self, i: int) -> str:
        sp = self.special
        if i == sp.bos:
            return "<s>"
        if i == sp.eos:
            return "</s>"
        if i == sp.pad:
            return "<pad>"
        return str(self.sp.id_to_piece(int(i)))

    def pieces(self, ids: Iterable[int]) -> list[str]:
        return [self.piece(i) for i in ids]

    def piece_id(self, piece: str) -> int:
        return int(self.sp.piece_to_id(piece))


class MarianTokenizer:
    """Marian (OPUS-MT): source.spm cuts the source, target.spm joins the output, and
    vocab.json maps pieces to the model's ids (a piece missing from it is unk). The source
    is cut as typed: transformers' MarianTokenizer builds a Moses punctuation normaliser
    (sacremoses) but never applies it when it tokenises."""

    def __init__(self, source: bytes, target: bytes, vocab: dict[str, int], special: SpecialIds) -> None:
        self.src = spm.SentencePieceProcessor(model_proto=source)
        self.tgt = spm.SentencePieceProcessor(model_proto=target)
        self.vocab = vocab
        self.inverse = {i: p for p, i in vocab.items()}
        self.special = special
        self._hidden = special.hidden()

    @classmethod
    def load(cls, folder: Path, special: SpecialIds) -> MarianTokenizer:
        vocab = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
        return cls((folder / "source.spm").read_bytes(), (folder / "target.spm").read_bytes(), vocab, special)

    def __len__(self) -> int:
        return max(self.inverse) + 1

    def encode(self, text: str) -> list[int]:
        code: list[str] = []
        if text.startswith(">>") and (end := text.find("<<")) != -1:  # a target-language tag, as MarianTokenizer
            code, text = [text[: end + 2]], text[end + 2:]
        unk = self.special.unk
        return [self.vocab.get(p, unk) for p in code + list(self.src.encode(text, out_type=str))]

    def decode(self, ids: Iterable[int]) -> str:
        pieces = [self.inverse.get(int(i), "") for i in ids if int(i) not in self._hidden]
        # As MarianTokenizer: a piece target.spm lacks keeps its "▁", read as a space.
        return str(self.tgt.decode_pieces([p for p in pieces if p])).replace("▁", " ").strip()

    def piece(self, i: int) -> str:
        return self.inverse.get(int(i), "<unk>")

    def pieces(self, ids: Iterable[int]) -> list[str]:
        return [self.piece(i) for i in ids]

    def piece_id(self, piece: str) -> int:
        return self.vocab.get(piece, self.special.unk)


class JsonTokenizer:
    """A Hugging Face ``tokenizer.json`` (BART's byte-level BPE, mBART's and NLLB's
    sentencepiece-derived fast tokenizers) run by the ``tokenizers`` library, without its
    own special-token template: the bundle's framing adds those."""

    def __init__(self, path: Path, special: SpecialIds) -> None:
        from tokenizers import Tokenizer as HFTokenizer

        self.tok = HFTokenizer.from_file(str(path))
        self.special = special
        self._hidden = special.hidden()
        self.byte_level = "ByteLevel" in path.read_text(encoding="utf-8")[:200_000]

    def __len__(self) -> int:
        return int(self.tok.get_vocab_size(with_added_tokens=True))

    def encode(self, text: str) -> list[int]:
        return list(self.tok.encode(text, add_special_tokens=False).ids)

    def decode(self, ids: Iterable[int]) -> str:
        return str(self.tok.decode([int(i) for i in ids if int(i) not in self._hidden], skip_special_tokens=True))

    def piece(self, i: int) -> str:
        p = self.tok.id_to_token(int(i)) or "<unk>"
        # Byte-level BPE marks a word start with "Ġ"; show it as sentencepiece's "▁".
        return "▁" + p[1:] if self.byte_level and p.startswith("Ġ") else p

    def pieces(self, ids: Iterable[int]) -> list[str]:
        return [self.piece(i) for i in ids]

    def piece_id(self, piece: str) -> int:
        if self.byte_level and piece.startswith("▁"):
            piece = "Ġ" + piece[1:]
        i = self.tok.token_to_id(piece)
        return self.special.unk if i is None else int(i)


def load_tokenizer(folder: Path, section: dict[str, Any]) -> TextTokenizer:
    """The tokenizer named by config.json's "tokenizer" section, files read from ``folder``.

    Raises OSError/RuntimeError/ValueError naming nothing; ``core.bundle`` adds the file."""
    special = SpecialIds.from_config(section)
    kind = section.get("type", "sentencepiece")
    if kind == "marian":
        return MarianTokenizer.load(folder, special)
    if kind == "tokenizer.json":
        return JsonTokenizer(folder / "tokenizer.json", special)
    return Tokenizer((folder / section.get("file", "spm.model")).read_bytes(), special)


def tokenizer_files(section: dict[str, Any]) -> tuple[str, ...]:
    """The files a bundle's tokenizer needs."""
    kind = section.get("type", "sentencepiece")
    if kind == "marian":
        return ("source.spm", "target.spm", "vocab.json")
    if kind == "tokenizer.json":
        return ("tokenizer.json",)
    return (str(section.get("file", "spm.model")),)
