"""What training logs at each validation beyond BLEU: validation loss, and per-head
attention entropy and mean distance on a fixed probe set (the reference's layer 4)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from attnscope.core.inference.headstats import attention_entropy, mean_attention_distance
from attnscope.core.model import Transformer
from attnscope.core.tokenizer import BOS, EOS, PAD, Tokenizer

PROBE_SIZE = 16  # the first valid sentences: fixed for the whole run, so the curves compare


def _pad(rows: Sequence[Sequence[int]], device: torch.device) -> torch.Tensor:
    out = torch.full((len(rows), max(map(len, rows))), PAD, dtype=torch.long)
    for i, r in enumerate(rows):
        out[i, :len(r)] = torch.tensor(list(r), dtype=torch.long)
    return out.to(device)


def encode(tok: Tokenizer, pairs: Sequence[tuple[str, str]], max_len: int) -> list[tuple[list[int], list[int]]]:
    """(source + EOS, BOS + reference + EOS) ids, as the training batches have them."""
    return [(tok.encode(en)[: max_len - 1] + [EOS], [BOS] + tok.encode(ko)[: max_len - 2] + [EOS])
            for en, ko in pairs]


@torch.no_grad()
def validation_loss(model: Transformer, examples: list[tuple[list[int], list[int]]],
                    device: torch.device, batch: int = 100) -> float:
    """Mean cross-entropy per reference piece (no label smoothing), teacher-forced."""
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(examples), batch):
        chunk = examples[i:i + batch]
        src = _pad([s for s, _ in chunk], device)
        tgt = _pad([t for _, t in chunk], device)
        logits = model(src, tgt[:, :-1]).float()  # (B, T, V)
        gold = tgt[:, 1:]
        nll = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), gold.reshape(-1),
                                                ignore_index=PAD, reduction="sum")
        total += float(nll)
        count += int((gold != PAD).sum())
    return total / max(count, 1)


@torch.no_grad()
def head_statistics(model: Transformer, examples: list[tuple[list[int], list[int]]],
                    device: torch.device) -> dict[str, Any]:
    """{"entropy": {kind: [L][H]}, "distance": {kind: [L][H]}} averaged over the probe
    sentences, each trimmed to its own length; entropy normalised to [0, 1]."""
    model.eval()
    src = _pad([s for s, _ in examples], device)
    tgt_in = _pad([t[:-1] for _, t in examples], device)
    mask = model.src_mask(src)
    memory, enc = model.encode(src, mask)
    _, dec, cross = model.decode(tgt_in, memory, mask)
    stats: dict[str, dict[str, list[np.ndarray]]] = {"entropy": {}, "distance": {}}
    for i, (s, t) in enumerate(examples):
        ns, nt = len(s), len(t) - 1
        for kind, attn, q, k in (("encoder", enc, ns, ns), ("decoder", dec, nt, nt), ("cross", cross, nt, ns)):
            a = torch.stack([x[i, :, :q, :k] for x in attn]).float().cpu().numpy()  # (L, H, q, k)
            stats["entropy"].setdefault(kind, []).append(attention_entropy(a, normalize=True))
            stats["distance"].setdefault(kind, []).append(mean_attention_distance(a, scale_queries=kind == "cross"))
    return {name: {kind: np.round(np.mean(v, axis=0), 4).tolist() for kind, v in by_kind.items()}
            for name, by_kind in stats.items()}


def validation_extras(model: Transformer, tok: Tokenizer, pairs: Sequence[tuple[str, str]],
                      device: torch.device) -> dict[str, Any]:
    """valid_loss / valid_ppl on ``pairs`` and head statistics on the first PROBE_SIZE."""
    examples = encode(tok, pairs, model.cfg.max_len)
    loss = validation_loss(model, examples, device)
    return {"valid_loss": loss, "valid_ppl": math.exp(min(loss, 50.0)),
            "head_stats": head_statistics(model, examples[:PROBE_SIZE], device),
            "probe_sentences": min(PROBE_SIZE, len(examples))}
