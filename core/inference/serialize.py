"""An Inspection as JSON-ready data (the keys `attnscope inspect --json` prints)."""

from __future__ import annotations

from typing import Any

import numpy as np

from attnscope.core.inference.inspection import Inspection, node_rows


def _arr(a: np.ndarray, digits: int = 6) -> Any:
    return np.round(a.astype(np.float64), digits).tolist()


def inspection_to_json(ins: Inspection, top_logits: int = 10) -> dict[str, Any]:
    """Plain dict: translation, pieces, every attention tensor, the beam tree, step logits, timings.

    ``top_logits`` > 0 keeps only the k most likely pieces of each step (with their ids);
    0 keeps the whole vocabulary.
    """
    steps: list[Any] = []
    for t, row in enumerate(ins.best.step_logits):
        if top_logits > 0:
            idx = np.argsort(-row, kind="stable")[:top_logits]
            steps.append({"step": t, "ids": idx.tolist(), "logits": _arr(row[idx], 4)})
        else:
            steps.append({"step": t, "logits": _arr(row, 4)})
    rows = node_rows(ins.steps)
    tree = [
        {"id": n.id, "parent": n.parent, "token": n.token, "piece": ins.node_pieces[n.id],
         "logprob": round(n.logprob, 6), "cum_logprob": round(n.cum_logprob, 6), "score": round(n.score, 6),
         "step": n.step, "status": n.status, "forced": n.forced,
         "attention_row": list(rows[n.id]) if n.id in rows else None}
        for n in ins.nodes
    ]
    return {
        "text": ins.text,
        "translation": ins.translation,
        "source_pieces": list(ins.source_pieces),
        "target_pieces": list(ins.target_pieces),
        "decoder_input_pieces": list(ins.best.decoder_input_pieces),
        "truncated_input": ins.truncated_input,
        "truncated_output": ins.truncated_output,
        "encoder_self_attention": _arr(ins.encoder_attention),
        "decoder_self_attention": _arr(ins.decoder_attention),
        "cross_attention": _arr(ins.cross_attention),
        "norm_weighted_attention": _norm_weighted(ins),
        "contributions": _contributions(ins),
        "beam_tree": tree,
        "hypotheses": [{"pieces": _path_pieces(ins, h.node_id), "score": h.score,
                        "cum_logprob": h.cum_logprob, "finished": h.finished} for h in ins.hypotheses],
        "step_logits": steps,
        "decode": {"strategy": ins.config.strategy, "beam_size": ins.config.beam_size,
                   "length_penalty": ins.config.length_penalty, "temperature": ins.config.temperature,
                   "top_k": ins.config.top_k, "top_p": ins.config.top_p, "seed": ins.config.seed,
                   "max_len": ins.config.max_len, "forced_prefix": list(ins.config.forced_prefix)},
        "provider": ins.provider,
        "timings_ms": {k: round(v, 3) for k, v in ins.timings_ms.items()},
    }


def _path_pieces(ins: Inspection, node_id: int) -> list[str]:
    out = []
    while node_id > 0:
        out.append(ins.node_pieces[node_id])
        node_id = ins.nodes[node_id].parent
    return out[::-1]


def _norm_weighted(ins: Inspection) -> dict[str, Any] | None:
    """||alpha_ij f_h(x_j)|| of each attention kind (Kobayashi et al. 2020); None: graphs without norms."""
    kinds = {"encoder_self_attention": "encoder", "decoder_self_attention": "decoder",
             "cross_attention": "cross"}
    out = {key: ins.norm_weighted(kind) for key, kind in kinds.items()}
    if any(v is None for v in out.values()):
        return None
    return {key: _arr(v) for key, v in out.items() if v is not None}


def _contributions(ins: Inspection) -> dict[str, Any] | None:
    """ALTI+ of the best hypothesis: row t = the prediction of target piece t."""
    c = ins.contributions
    if c is None:
        return None
    return {"source": _arr(c.source), "target_prefix": _arr(c.target), "source_share": _arr(c.source_share),
            "encoder_rollout": _arr(c.encoder_rollout), "encoder_layers": _arr(c.encoder_layers),
            "decoder_self_layers": _arr(c.decoder_self_layers), "cross_layers": _arr(c.cross_layers)}
