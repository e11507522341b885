"""Teacher-forced attention on a probe set, and the head report written to ``heads.json``.

``teacher_force`` feeds the reference translation through a runner (the ONNX graphs, or
torch through the same interface) in batches and keeps, per sentence, every attention
matrix and the log-loss of each reference piece. ``head_report`` turns that into the
per-head table of a bundle: AER of every cross-attention head against the gold word
alignment, positional profiles, and a role per head. No torch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from attnscope.core.config import ModelConfig
from attnscope.core.inference.alignment import (
    aer_from_counts,
    best_head,
    head_aer_counts,
    piece_links,
    word_rows_cols,
)
from attnscope.core.inference.engine import Runner
from attnscope.core.inference.headroles import (
    KINDS,
    classify_heads,
    mean_profiles,
    positional_profile,
    roles_to_json,
)
from attnscope.core.inference.search import log_softmax
from attnscope.core.tokenizer import BOS, EOS, PAD, Tokenizer


@dataclass(frozen=True)
class Forced:
    """One sentence decoded with its reference fed in (teacher forcing)."""

    src_ids: np.ndarray  # [S] source pieces, EOS last
    tgt_ids: np.ndarray  # [T] reference pieces, EOS last (no BOS)
    encoder: np.ndarray  # [L, H, S, S]
    decoder: np.ndarray  # [L, H, T, T] row t saw BOS, y1 .. y(t)
    cross: np.ndarray  # [L, H, T, S] row t chose reference piece t
    nll: np.ndarray  # [T] -log p(reference piece t)


def teacher_force(runner: Runner, m: ModelConfig, sources: Sequence[Sequence[int]],
                  targets: Sequence[Sequence[int]], batch: int = 32) -> list[Forced]:
    """Run each (source, reference) pair through ``runner``; batched, padded, trimmed back."""
    out: list[Forced] = []
    for start in range(0, len(sources), batch):
        srcs, tgts = sources[start:start + batch], targets[start:start + batch]
        b, s_len, t_len = len(srcs), max(map(len, srcs)), max(map(len, tgts))
        src = np.full((b, s_len), PAD, np.int64)
        tgt = np.full((b, t_len), PAD, np.int64)
        for i, (s_ids, t_ids) in enumerate(zip(srcs, tgts, strict=True)):
            src[i, :len(s_ids)], tgt[i, :len(t_ids)] = s_ids, t_ids
        mask = (src != PAD).astype(np.int64)
        enc = runner.encode(src, mask)
        past_k = np.zeros((m.n_decoder_layers, b, m.n_heads, 0, m.d_k), np.float32)
        past_v = past_k
        selfs = np.zeros((m.n_decoder_layers, b, m.n_heads, t_len, t_len), np.float32)
        cross = np.zeros((m.n_decoder_layers, b, m.n_heads, t_len, s_len), np.float32)
        nll = np.zeros((b, t_len))
        for t in range(t_len):
            token = np.full((b, 1), BOS, np.int64) if t == 0 else tgt[:, t - 1:t].copy()
            step = runner.step(token, np.array([t], np.int64), mask, enc.cross_k, enc.cross_v, past_k, past_v)
            past_k, past_v = step.present_k, step.present_v
            selfs[:, :, :, t, :t + 1] = step.self_attn[:, :, :, 0, :]
            cross[:, :, :, t, :] = step.cross_attn[:, :, :, 0, :]
            logp = log_softmax(step.logits)
            nll[:, t] = -logp[np.arange(b), tgt[:, t]]
        for i, (s_ids, t_ids) in enumerate(zip(srcs, tgts, strict=True)):
            ns, nt = len(s_ids), len(t_ids)
            out.append(Forced(np.asarray(s_ids, np.int64), np.asarray(t_ids, np.int64),
                              enc.enc_attn[:, i, :, :ns, :ns], selfs[:, i, :, :nt, :nt],
                              cross[:, i, :, :nt, :ns], nll[i, :nt]))
    return out


def encode_pair(tok: Tokenizer, m: ModelConfig, en: str, ko: str) -> tuple[list[int], list[int]]:
    """Source and reference ids as training sees them (EOS on both, no BOS)."""
    return tok.encode(en)[: m.max_len - 1] + [EOS], tok.encode(ko)[: m.max_len - 2] + [EOS]


def _r(a: np.ndarray, digits: int = 4) -> Any:
    return np.round(np.asarray(a, np.float64), digits).tolist()


def head_report(runner: Runner, tok: Tokenizer, m: ModelConfig,
                pairs: Sequence[tuple[str, str, str | None]], limit: int = 200) -> dict[str, Any]:
    """Per-head table of a model on ``pairs`` (English, Korean, Pharaoh alignment or None).

    Keys: ``sentences``, ``nll`` / ``ppl`` (teacher-forced, per reference piece),
    ``profiles`` {kind: {measure: [L][H]}}, ``cross_aer`` [L][H] with ``best_head`` and
    ``best_aer`` (None without gold alignments), ``aligned_sentences``, ``roles``.
    """
    pairs = list(pairs)[:limit]
    ids = [encode_pair(tok, m, en, ko) for en, ko, _ in pairs]
    forced = teacher_force(runner, m, [s for s, _ in ids], [t for _, t in ids])
    counts = np.zeros((m.n_decoder_layers, m.n_heads, 3), np.int64)
    aligned = 0
    for f, (en, ko, pharaoh) in zip(forced, pairs, strict=True):
        if not pharaoh:
            continue
        src_p, tgt_p = tok.pieces(f.src_ids.tolist()), tok.pieces(f.tgt_ids.tolist())
        links = piece_links(src_p, tgt_p, en, ko, pharaoh)
        if links is None:
            continue
        rows, cols = word_rows_cols(src_p, tgt_p)
        counts += head_aer_counts(f.cross, links, rows, cols)
        aligned += 1
    profiles = {
        "encoder": mean_profiles([positional_profile(f.encoder, "encoder") for f in forced]),
        "decoder": mean_profiles([positional_profile(f.decoder, "decoder") for f in forced]),
        "cross": mean_profiles([positional_profile(f.cross, "cross") for f in forced]),
    }
    aer = aer_from_counts(counts) if aligned else None
    n_tokens = sum(len(f.nll) for f in forced)
    nll = float(sum(f.nll.sum() for f in forced) / max(n_tokens, 1))
    report: dict[str, Any] = {
        "sentences": len(forced), "aligned_sentences": aligned, "nll": round(nll, 5),
        "ppl": round(math.exp(min(nll, 50.0)), 4),
        "profiles": {k: {name: _r(v) for name, v in profiles[k].items()} for k in KINDS},
        "cross_aer": None if aer is None else _r(aer), "best_head": None, "best_aer": None,
        "roles": {k: roles_to_json(classify_heads(profiles[k], k, aer if k == "cross" else None))
                  for k in KINDS},
    }
    if aer is not None:
        layer, head = best_head(aer)
        report["best_head"], report["best_aer"] = [layer, head], round(float(aer[layer, head]), 4)
    return report
