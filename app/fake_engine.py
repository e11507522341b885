"""A deterministic stand-in for ``core.inference.engine.Engine``, for demos and tests.

It has the real engine's interface (``load``, ``provider``, ``model_config``,
``bundle_path``, ``piece``, ``piece_id``, ``inspect``) and returns genuine
:class:`Inspection` objects: a tiny lexicon drives seeded-random logits towards a
plausible Korean translation, and every attention matrix is a row-softmax of seeded
noise plus a per-head pattern, so shapes, sums and the search tree are all real.
Qt-free.
"""

from __future__ import annotations

import re
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from attnscope.core.config import DecodeConfig, ModelConfig
from attnscope.core.inference.inspection import Inspection, StepRecord, build_path
from attnscope.core.inference.search import make_search

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
    return e / e.sum(axis=-1, keepdims=True)


class FakeEngine:
    """Same interface as the real Engine; ``delay_s`` makes every ``inspect`` slow."""

    provider = "CPU"

    def __init__(self, model_config: ModelConfig | None = None, delay_s: float = 0.0,
                 bundle_path: Path | None = None) -> None:
        self.model_config = model_config or ModelConfig(
            vocab_size=320, d_model=128, n_heads=4, n_encoder_layers=3, n_decoder_layers=3,
            d_ff=512, dropout=0.0, max_len=64)
        self.delay_s = delay_s
        self.bundle_path = bundle_path or Path("<fake>")
        self.calls: list[tuple[str, DecodeConfig]] = []  # every inspect(), for tests
        self._vocab = _build_vocab(self.model_config.vocab_size)
        self._ids = {p: i for i, p in enumerate(self._vocab)}

    @classmethod
    def load(cls, bundle: str | Path | None = None, delay_s: float = 0.0) -> FakeEngine:
        """A bundle 'loads' when it is an existing folder; anything else raises ValueError."""
        if bundle is None:
            return cls(delay_s=delay_s)
        path = Path(bundle)
        if not path.is_dir():
            raise ValueError(f"{path} is not a model bundle folder")
        return cls(delay_s=delay_s, bundle_path=path)

    # -- vocabulary ------------------------------------------------------------
    def piece(self, piece_id: int) -> str:
        return self._vocab[piece_id]

    def piece_id(self, piece: str) -> int:
        return self._ids.get(piece, self.model_config.unk_id)

    def _word_pieces(self, word: str) -> list[str]:
        if "▁" + word in self._ids:
            return ["▁" + word]
        chars = [c for c in word if c in self._ids]
        return (["▁" + chars[0]] + chars[1:]) if chars else ["<unk>"]

    def _tokenize(self, text: str) -> tuple[list[str], list[int]]:
        """Pieces and, for each piece, the index of the word it came from."""
        pieces, words = [], []
        for w_i, word in enumerate(re.findall(r"[A-Za-z]+|[^\sA-Za-z]", text.lower())):
            for p in (self._word_pieces(word) if word.isalpha() else [word]):
                pieces.append(p if p in self._ids else "<unk>")
                words.append(w_i)
        return pieces, words

    def _reference(self, src: list[str]) -> tuple[list[int], list[int], dict[int, int]]:
        """Target ids (SOV order), the source position each aligns to, and alternatives."""
        subj, mid, verb, tail = [], [], [], []
        for s_i, p in enumerate(src):
            entry = _LEXICON.get(p.lstrip("▁"))
            if entry is None:
                (tail if p in _PUNCT else mid).append((p, s_i))
                continue
            pieces, _alt, role = entry
            bucket = {"subj": subj, "verb": verb}.get(role, mid)
            bucket.extend((k, s_i) for k in pieces)
        order = subj + mid + verb + tail
        ids = [self._ids.get(p, self.model_config.unk_id) for p, _ in order]
        alts = {}
        for t, (p, s_i) in enumerate(order):
            entry = _LEXICON.get(src[s_i].lstrip("▁"))
            if entry and entry[1] and entry[0] and p == entry[0][0]:
                alts[t] = self._ids[entry[1]]
        return ids, [s for _, s in order], alts

    # -- the "model" -----------------------------------------------------------
    def _attention(self, rng: np.random.Generator, q_pos: np.ndarray, k_len: int,
                   focus: np.ndarray | None) -> np.ndarray:
        """[L, H, Q, K] row-softmax of noise plus one pattern per head, sharper with depth."""
        cfg = self.model_config
        n_layers = cfg.n_encoder_layers if focus is None else cfg.n_decoder_layers
        keys = np.arange(k_len)[None, :]
        targets = q_pos[:, None] if focus is None else focus[:, None]
        patterns = [-(np.abs(keys - targets) * 2.0), -(np.abs(keys - (targets - 1)) * 2.0),
                    -(np.abs(keys - (targets + 1)) * 2.0), -(keys * 0.8) + 0.0 * targets]
        out = np.empty((n_layers, cfg.n_heads, len(q_pos), k_len))
        for layer in range(n_layers):
            for h in range(cfg.n_heads):
                sharp = 0.6 + 0.5 * layer
                z = patterns[h % len(patterns)] * sharp + rng.normal(0, 0.8, out.shape[2:])
                out[layer, h] = z
        return out

    def inspect(self, text: str, config: DecodeConfig, progress: Callable[[Inspection], None] | None = None,
                cancel: Callable[[], bool] | None = None) -> Inspection:
        """As ``Engine.inspect``; ``cancel`` stops the decode loop, ``progress`` is not called."""
        t0 = time.perf_counter()
        self.calls.append((text, config))
        if self.delay_s:
            time.sleep(self.delay_s)
        cfg = self.model_config
        pieces, _words = self._tokenize(text)
        if not pieces:  # as the real engine: nothing to translate is an empty Inspection
            empty = build_path((), (), (), 0)
            return Inspection(text, config, np.zeros(0, np.int64), (), False,
                              np.zeros((cfg.n_encoder_layers, cfg.n_heads, 0, 0), np.float32),
                              (), (), (), (), False, "", empty,
                              {"total": (time.perf_counter() - t0) * 1e3}, "CPUExecutionProvider")
        truncated_in = len(pieces) > cfg.max_len - 1
        pieces = pieces[: cfg.max_len - 1] + ["</s>"]
        src_ids = np.array([self._ids[p] for p in pieces], np.int64)
        s_len = len(pieces)
        seed = zlib.crc32(text.encode())
        rng = np.random.default_rng(seed)
        enc = self._attention(rng, np.arange(s_len), s_len, None)
        enc = _softmax(enc).astype(np.float32)
        ref, align, alts = self._reference(pieces[:-1])
        ref.append(cfg.eos_id)
        align.append(s_len - 1)
        t1 = time.perf_counter()

        search = make_search(config, cfg.bos_id, cfg.eos_id, cfg.vocab_size)
        raw: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        t = 0
        cancelled = False
        while not search.done:
            if cancel is not None and cancel():
                cancelled = True
                break
            tokens = np.asarray(search.input_tokens()).reshape(-1)
            logits, self_att, cross = self._decode_step(seed, t, tokens, ref, align, alts, s_len)
            raw.append((logits, self_att, cross))
            search.advance(logits)
            t += 1
        result = search.result()
        steps = tuple(
            StepRecord(np.asarray(ids, np.int64), lg, sa, ca)
            for ids, (lg, sa, ca) in zip(result.alive_per_step, raw, strict=True))
        nodes = tuple(result.nodes)
        node_pieces = tuple(self._vocab[n.token] for n in nodes)
        best = build_path(nodes, node_pieces, steps, result.hypotheses[0].node_id)
        hyp = result.hypotheses[0]
        out_pieces = [self._vocab[i] for i in hyp.tokens if i != cfg.eos_id]
        t2 = time.perf_counter()
        return Inspection(
            text=text, config=config, source_ids=src_ids, source_pieces=tuple(pieces),
            truncated_input=truncated_in, encoder_attention=enc, steps=steps, nodes=nodes,
            node_pieces=node_pieces, hypotheses=tuple(result.hypotheses),
            truncated_output=not hyp.finished,
            translation="".join(out_pieces).replace("▁", " ").strip(), best=best,
            timings_ms={"encoder": (t1 - t0) * 1e3, "decoder": (t2 - t1) * 1e3,
                        "total": (t2 - t0) * 1e3},
            provider="CPUExecutionProvider", complete=not cancelled)

    def _decode_step(self, seed: int, t: int, tokens: np.ndarray, ref: list[int],
                     align: list[int], alts: dict[int, int], s_len: int):
        """Logits [K, V], self-attention [L, H, K, t+1], cross-attention [L, H, K, S]."""
        cfg = self.model_config
        k = len(tokens)
        logits = np.empty((k, cfg.vocab_size), np.float32)
        self_att = np.empty((cfg.n_decoder_layers, cfg.n_heads, k, t + 1), np.float32)
        cross = np.empty((cfg.n_decoder_layers, cfg.n_heads, k, s_len), np.float32)
        for row, tok in enumerate(tokens.tolist()):
            # Markov in (step, fed piece): the same prefix end always gives the same numbers.
            rng = np.random.default_rng([seed, t, int(tok)])
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
            z = rng.normal(0.0, 1.0, cfg.vocab_size)
            z[: cfg.eos_id] -= 4.0  # pad, unk, bos: never likely
            z[ref[pos]] += 5.5
            if pos in alts:
                z[alts[pos]] += 3.5
            if pos + 1 < len(ref):
                z[ref[pos + 1]] += 1.5
            logits[row] = z
            focus = np.array([align[pos]])
            self_att[:, :, row] = _softmax(self._attention(rng, np.array([t]), t + 1, None)[
                : cfg.n_decoder_layers])[:, :, 0]
            cross[:, :, row] = _softmax(self._attention(rng, np.array([t]), s_len, focus))[:, :, 0]
        return logits, self_att, cross


if __name__ == "__main__":
    eng = FakeEngine()
    for strategy in ("greedy", "beam"):
        ins = eng.inspect("I love you", DecodeConfig(strategy=strategy))
        print(strategy, ins.source_pieces, "->", ins.target_pieces, repr(ins.translation),
              len(ins.nodes), "nodes", ins.timings_ms)
