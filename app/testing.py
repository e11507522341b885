"""Test doubles for demos and tests: the real Engine over a deterministic fake model.

``FakeEngine`` is ``core.inference.engine.Engine`` itself (the same decode loop, search and
Inspection assembly users get) running a fake *Runner* and a word-level tokenizer: a tiny
lexicon drives seeded-random logits towards a plausible Korean translation, and every
attention matrix is a row-softmax of seeded noise plus a per-head pattern. Like a real
model, the runner's step is a function of its inputs only: the source pieces travel in
the cross-attention keys and the fed pieces in the key/value cache, so a cache the engine
forgot to reorder shows. ``FakeSnapshotSet`` stands in for ``SnapshotSet``. Qt-free; used
by ``attnscope gui --fake``, every panel's ``__main__`` preview and the tests.
"""

from __future__ import annotations

import re
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from attnscope.core.bundle import Bundle, SnapshotInfo
from attnscope.core.config import DecodeConfig, ModelConfig
from attnscope.core.inference.engine import EncoderOutput, Engine, StepOutput
from attnscope.core.inference.inspection import Inspection
from attnscope.core.inference.protocols import CancelFn, DueFn, ProgressFn
from attnscope.core.inference.snapshots import SnapshotDecode
from attnscope.core.tokenizer import SpecialIds

_SPECIALS = ("<pad>", "<unk>", "<s>", "</s>")
# english word -> (korean pieces, alternative first piece, role)
_LEXICON: dict[str, tuple[tuple[str, ...], str, str]] = {
    "i": (("▁나는",), "▁내가", "subj"), "you": (("▁너를",), "▁당신을", "obj"),
    "he": (("▁그는",), "▁그가", "subj"), "she": (("▁그녀는",), "▁그녀가", "subj"),
    "we": (("▁우리는",), "▁우리가", "subj"), "they": (("▁그들은",), "▁그들이", "subj"),
    "me": (("▁나를",), "▁저를", "obj"), "him": (("▁그를",), "▁그이를", "obj"),
    "her": (("▁그녀를",), "▁그녀", "obj"), "cat": (("▁고양이", "를"), "▁고양이", "obj"),
    "dog": (("▁개", "를"), "▁강아지", "obj"), "book": (("▁책", "을"), "▁책", "obj"),
    "apple": (("▁사과", "를"), "▁사과", "obj"), "water": (("▁물", "을"), "▁물", "obj"),
    "love": (("▁사랑", "한다"), "▁좋아", "verb"), "loves": (("▁사랑", "한다"), "▁좋아", "verb"),
    "like": (("▁좋아", "한다"), "▁사랑", "verb"), "likes": (("▁좋아", "한다"), "▁사랑", "verb"),
    "see": (("▁본다",), "▁보았다", "verb"), "sees": (("▁본다",), "▁보았다", "verb"),
    "eat": (("▁먹는다",), "▁먹었다", "verb"), "eats": (("▁먹는다",), "▁먹었다", "verb"),
    "read": (("▁읽는다",), "▁읽었다", "verb"), "reads": (("▁읽는다",), "▁읽었다", "verb"),
    "help": (("▁돕는다",), "▁도왔다", "verb"), "helps": (("▁돕는다",), "▁도왔다", "verb"),
    "today": (("▁오늘",), "▁지금", "time"), "yesterday": (("▁어제",), "▁그제", "time"),
    "the": ((), "", "skip"), "a": ((), "", "skip"), "an": ((), "", "skip"),
}
_PUNCT = (".", "?", "!", ",")


def _build_vocab(size: int) -> list[str]:
    words = [w for w in _LEXICON]
    ko = sorted({p for pieces, alt, _ in _LEXICON.values() for p in (*pieces, alt) if p})
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    vocab = list(_SPECIALS) + ["▁" + w for w in words] + ko + list(_PUNCT)
    vocab += ["▁" + c for c in letters] + letters
    syllable = 0xAC00
    while len(vocab) < size:  # filler Korean pieces so the bars have a long tail
        vocab.append(chr(syllable))
        syllable += 37
    return vocab[:size]




def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return np.asarray(e / e.sum(axis=-1, keepdims=True))


def default_model_config() -> ModelConfig:
    return ModelConfig(vocab_size=320, d_model=128, n_heads=4, n_encoder_layers=3, n_decoder_layers=3,
                       d_ff=512, dropout=0.0, max_len=64)


class FakeTokenizer:
    """Words to pieces: a lexicon word is one piece, anything else is spelt letter by letter."""

    def __init__(self, vocab_size: int) -> None:
        self.vocab = _build_vocab(vocab_size)
        self.ids = {p: i for i, p in enumerate(self.vocab)}
        self.special = SpecialIds()  # <pad> <unk> <s> </s> are ids 0-3, as the defaults say

    def __len__(self) -> int:
        return len(self.vocab)

    def _word_pieces(self, word: str) -> list[str]:
        if "▁" + word in self.ids:
            return ["▁" + word]
        chars = [c for c in word if c in self.ids]
        return (["▁" + chars[0]] + chars[1:]) if chars else ["<unk>"]

    def encode(self, text: str) -> list[int]:
        pieces: list[str] = []
        for word in re.findall(r"[A-Za-z]+|[^\sA-Za-z]", text.lower()):
            pieces.extend(self._word_pieces(word) if word.isalpha() else [word])
        return [self.ids.get(p, self.ids["<unk>"]) for p in pieces]

    def decode(self, ids: Iterable[int]) -> str:
        return "".join(self.vocab[i] for i in ids if i >= len(_SPECIALS)).replace("▁", " ").strip()

    def piece(self, i: int) -> str:
        return self.vocab[int(i)]

    def pieces(self, ids: Iterable[int]) -> list[str]:
        return [self.vocab[int(i)] for i in ids]

    def piece_id(self, piece: str) -> int:
        return self.ids.get(piece, self.ids["<unk>"])


class FakeRunner:
    """A deterministic stand-in for the ONNX graphs with their exact inputs and outputs.

    The encoder writes the source ids into channel 0 of the cross-attention keys; each step
    appends the fed piece to channel 0 of the key cache. A step reads both back, so its
    numbers depend on the sentence and on the pieces this row was really fed before.
    ``delay_s`` makes every encode slow, ``step_delay_s`` every step.
    """

    def __init__(self, tokenizer: FakeTokenizer, model: ModelConfig, delay_s: float = 0.0,
                 step_delay_s: float = 0.0) -> None:
        self.tok, self.cfg = tokenizer, model
        self.delay_s, self.step_delay_s = delay_s, step_delay_s

    # -- the "encoder" -------------------------------------------------------------
    def encode(self, src_ids: np.ndarray, src_mask: np.ndarray) -> EncoderOutput:
        if self.delay_s:
            time.sleep(self.delay_s)
        c = self.cfg
        b, s = src_ids.shape
        rng = np.random.default_rng(self._seed(src_ids[0]))
        enc = _softmax(self._attention(rng, np.arange(s), s, None, c.n_encoder_layers)).astype(np.float32)
        cross_k = np.zeros((c.n_decoder_layers, b, c.n_heads, s, c.d_k), np.float32)
        cross_k[..., 0] = src_ids[None, :, None, :]  # the sentence, for the steps to read
        return EncoderOutput(memory=np.zeros((b, s, c.d_model), np.float32),
                             enc_attn=np.repeat(enc[:, None], b, axis=1),  # [L, B, H, S, S]
                             cross_k=cross_k, cross_v=np.zeros_like(cross_k))

    @staticmethod
    def _seed(src: np.ndarray) -> int:
        return zlib.crc32(np.asarray(src, np.uint16).tobytes())  # the fake's vocabulary fits 16 bits

    def _attention(self, rng: np.random.Generator, q_pos: np.ndarray, k_len: int,
                   focus: np.ndarray | None, n_layers: int) -> np.ndarray:
        """[L, H, Q, K] logits: noise plus one pattern per head, sharper with depth."""
        keys = np.arange(k_len)[None, :]
        targets = q_pos[:, None] if focus is None else focus[:, None]
        patterns = [-(np.abs(keys - targets) * 2.0), -(np.abs(keys - (targets - 1)) * 2.0),
                    -(np.abs(keys - (targets + 1)) * 2.0), -(keys * 0.8) + 0.0 * targets]
        out = np.empty((n_layers, self.cfg.n_heads, len(q_pos), k_len))
        for layer in range(n_layers):
            for h in range(self.cfg.n_heads):
                sharp = 0.6 + 0.5 * layer
                out[layer, h] = patterns[h % len(patterns)] * sharp + rng.normal(0, 0.8, out.shape[2:])
        return out

    def _reference(self, src: list[str]) -> tuple[list[int], list[int], dict[int, int]]:
        """Target ids (SOV order), the source position each aligns to, and alternatives."""
        ids_of = self.tok.ids
        subj: list[tuple[str, int]] = []
        mid: list[tuple[str, int]] = []
        verb: list[tuple[str, int]] = []
        tail: list[tuple[str, int]] = []
        for s_i, p in enumerate(src):
            entry = _LEXICON.get(p.lstrip("▁"))
            if entry is None:
                (tail if p in _PUNCT else mid).append((p, s_i))
                continue
            pieces, _alt, role = entry
            bucket = {"subj": subj, "verb": verb}.get(role, mid)
            bucket.extend((k, s_i) for k in pieces)
        order = subj + mid + verb + tail
        ids = [ids_of.get(p, self.cfg.unk_id) for p, _ in order]
        alts = {}
        for t, (p, s_i) in enumerate(order):
            entry = _LEXICON.get(src[s_i].lstrip("▁"))
            if entry and entry[1] and entry[0] and p == entry[0][0]:
                alts[t] = ids_of[entry[1]]
        return ids, [s for _, s in order], alts

    # -- one "decoder" step ------------------------------------------------------
    def step(self, token: np.ndarray, position: np.ndarray, src_mask: np.ndarray, cross_k: np.ndarray,
             cross_v: np.ndarray, past_k: np.ndarray, past_v: np.ndarray) -> StepOutput:
        if self.step_delay_s:
            time.sleep(self.step_delay_s)
        c = self.cfg
        k, t = token.shape[0], int(position[0])
        if past_k.shape[3] != t or cross_k.shape[1] != k or past_k.shape[1] != k:
            raise ValueError(f"position {t} with a cache of {past_k.shape[3]}, {k} rows "
                             f"(cache {past_k.shape[1]}, keys {cross_k.shape[1]})")
        new = np.zeros((c.n_decoder_layers, k, c.n_heads, 1, c.d_k), np.float32)
        new[..., 0, 0] = token[None, :, 0, None]
        present_k = np.concatenate([past_k, new], axis=3)  # [L, K, H, t+1, d_k]
        logits = np.empty((k, c.vocab_size), np.float32)
        self_att = np.empty((c.n_decoder_layers, k, c.n_heads, 1, t + 1), np.float32)
        cross = np.empty((c.n_decoder_layers, k, c.n_heads, 1, cross_k.shape[3]), np.float32)
        for row in range(k):
            src = cross_k[0, row, 0, :, 0].astype(np.int64)  # the sentence
            fed = present_k[0, row, 0, :, 0].astype(np.int64)  # BOS, y1 .. this row's piece
            lg, sa, ca = self._row(src, fed)
            logits[row], self_att[:, row], cross[:, row] = lg, sa[:, :, None], ca[:, :, None]
        return StepOutput(logits, present_k, np.concatenate([past_v, np.zeros_like(new)], axis=3),
                          self_att, cross)

    def _row(self, src: np.ndarray, fed: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Logits [V], self-attention [L, H, t+1], cross-attention [L, H, S] of one row."""
        c = self.cfg
        pieces = self.tok.pieces(src.tolist())
        ref, align, alts = self._reference(pieces[:-1])
        ref.append(c.eos_id)
        align.append(len(pieces) - 1)
        t, tok = len(fed) - 1, int(fed[-1])
        # Markov in (step, fed piece): the same prefix end always gives the same numbers.
        rng = np.random.default_rng([self._seed(src), t, tok])
        # Where in the reference this row is: on track, after a unique skipped-to piece,
        # or (after a what-if detour) simply at step t.
        if t == 0:
            pos = 0
        elif t - 1 < len(ref) and tok == ref[t - 1]:
            pos = t
        elif ref[:-1].count(tok) == 1:
            pos = ref.index(tok) + 1
        else:
            pos = t
        pos = min(pos, len(ref) - 1)
        z = rng.normal(0.0, 1.0, c.vocab_size)
        z[: c.eos_id] -= 4.0  # pad, unk, bos: never likely
        z[ref[pos]] += 5.5
        if pos in alts:
            z[alts[pos]] += 3.5
        if pos + 1 < len(ref):
            z[ref[pos + 1]] += 1.5
        n = c.n_decoder_layers
        sa = _softmax(self._attention(rng, np.array([t]), t + 1, None, n))[:, :, 0]
        ca = _softmax(self._attention(rng, np.array([t]), len(src), np.array([align[pos]]), n))[:, :, 0]
        return z.astype(np.float32), sa, ca


class FakeEngine(Engine):
    """The real Engine over ``FakeRunner``; records every ``inspect`` call in ``calls``."""

    def __init__(self, model_config: ModelConfig | None = None, delay_s: float = 0.0,
                 bundle_path: Path | None = None, step_delay_s: float = 0.0) -> None:
        model = model_config or default_model_config()
        tok = FakeTokenizer(model.vocab_size)
        bundle = Bundle(path=bundle_path or Path("<fake>"), config={"name": "fake"}, model=model)
        super().__init__(bundle, tok, FakeRunner(tok, model, delay_s, step_delay_s), "CPU")
        self.calls: list[tuple[str, DecodeConfig]] = []

    def inspect(self, text: str, config: DecodeConfig | None = None, progress: ProgressFn | None = None,
                cancel: CancelFn | None = None, progress_due: DueFn | None = None) -> Inspection:
        cfg = config or DecodeConfig()
        self.calls.append((text, cfg))
        return super().inspect(text, cfg, progress=progress, cancel=cancel, progress_due=progress_due)


def load_fake_engine(bundle: str | Path | None = None, precision: str = "float", delay_s: float = 0.0) -> FakeEngine:
    """A bundle 'loads' when it is an existing folder; anything else raises ValueError."""
    if precision != "float":
        raise ValueError("the fake model has no 8-bit graphs")
    if bundle is None:
        return FakeEngine(delay_s=delay_s)
    path = Path(bundle)
    if not path.is_dir():
        raise ValueError(f"{path} is not a model bundle folder")
    return FakeEngine(delay_s=delay_s, bundle_path=path)


def fake_engine() -> FakeEngine:
    return FakeEngine()


# -- snapshots --------------------------------------------------------------------------

def _blend(a: np.ndarray, w: float) -> np.ndarray:
    """w * a + (1 - w) * uniform over the keys each row can see."""
    if a.size == 0:
        return a
    seen = (a > 0).astype(np.float32)
    uniform = seen / np.maximum(seen.sum(axis=-1, keepdims=True), 1)
    return np.asarray(w * a + (1 - w) * uniform, np.float32)


@dataclass(frozen=True)
class _FakeBundle:
    model: ModelConfig
    path: Path = Path("<fake>")


class FakeSnapshotSet:
    """A stand-in for ``SnapshotSet``: each snapshot blends the fake engine's attention with
    uniform attention in the proportion training had reached, and truncates the translation
    the same way, so a panel per snapshot differs the way real snapshots do."""

    def __init__(self, steps: tuple[int, ...] = (0, 12, 36, 120, 360, 1200),
                 engine: FakeEngine | None = None) -> None:
        self.engine = engine or FakeEngine()
        self.bundle = _FakeBundle(self.engine.model_config)
        last = max(steps)
        self.infos = tuple(
            SnapshotInfo(f"step-{s:06d}", s, Path(f"<fake>/snapshots/step-{s:06d}"),
                         {"step": s, "fraction": s / last, "probe_nll": 6.5 * np.exp(-s / 150) + 0.3,
                          "train_loss": 6.8 * np.exp(-s / 150) + 0.3, "train_loss_step": max(s, 1),
                          "best_head": [2, 1], "best_aer": 0.9 - 0.6 * s / last})
            for s in steps)
        self.calls = 0

    def __len__(self) -> int:
        return len(self.infos)

    def inspect(self, text: str, config: DecodeConfig | None = None) -> tuple[SnapshotDecode, ...]:
        self.calls += 1
        ins = self.engine.inspect(text, config or DecodeConfig())
        out = []
        for info in self.infos:
            w = float(info.meta["fraction"]) ** 0.5
            best = replace(ins.best, cross_attention=_blend(ins.best.cross_attention, w),
                           decoder_self_attention=_blend(ins.best.decoder_self_attention, w))
            words = ins.translation.split()
            shown = " ".join(words[: int(round(w * len(words)))])
            out.append(SnapshotDecode(info, replace(ins, encoder_attention=_blend(ins.encoder_attention, w),
                                                    best=best, translation=shown)))
        return tuple(out)


if __name__ == "__main__":
    eng = FakeEngine()
    for strategy in ("greedy", "beam"):
        ins = eng.inspect("I love you", DecodeConfig(strategy=strategy))
        print(strategy, ins.source_pieces, "->", ins.target_pieces, repr(ins.translation),
              len(ins.nodes), "nodes", ins.timings_ms)
