"""Which matrices an attention view draws: kind x aggregate mode, from one Inspection.

Qt-free. Every function returns a 4-D stack [grid rows, grid cols, Q, K] plus the query
and key labels, so the grid, the large view and the line view all draw the same numbers.
"""

from __future__ import annotations

import numpy as np

from attnscope.core.inference.headstats import attention_rollout
from attnscope.core.inference.inspection import Inspection, PathView

KINDS = {"encoder": "Encoder self-attention", "decoder": "Decoder self-attention",
         "cross": "Cross-attention"}
MODES = {"heads": "Every head", "mean": "Mean over heads", "max": "Max over heads",
         "rollout": "Attention rollout"}
MEASURES = {"weights": "Weights α", "norm": "Norm-weighted ‖αf(x)‖"}  # Kobayashi et al. 2020


def has_norms(ins: Inspection | None) -> bool:
    """Whether this inspection carries value norms (bundles exported before them do not)."""
    return ins is not None and ins.encoder_value_norms is not None and ins.cross_value_norms is not None


def raw(ins: Inspection, path: PathView, kind: str, measure: str = "weights") -> np.ndarray:
    """[L, H, Q, K] attention of ``kind`` for the selected hypothesis; with ``measure``
    "norm" the norm-based attention ||alpha_ij f_h(x_j)|| (weights when there are no norms)."""
    if measure == "norm":
        weighted = ins.norm_weighted(kind, path)
        if weighted is not None:
            return weighted
    if kind == "encoder":
        return ins.encoder_attention
    if kind == "decoder":
        return path.decoder_self_attention
    return path.cross_attention


def labels(ins: Inspection, path: PathView, kind: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(query labels, key labels): rows are what attends, columns what is attended to."""
    if kind == "encoder":
        return ins.source_pieces, ins.source_pieces
    if kind == "decoder":
        return path.decoder_input_pieces, path.decoder_input_pieces
    return path.target_pieces, ins.source_pieces


def _rows_to_one(a: np.ndarray) -> np.ndarray:
    """Norm-weighted rows rescaled to sum 1, so the rollout mixes shares, not norms."""
    return a / np.maximum(a.sum(axis=-1, keepdims=True), 1e-12)


def rollout(ins: Inspection, path: PathView, kind: str, measure: str = "weights") -> np.ndarray:
    """[L, Q, K] rollout. Cross-attention: each decoder layer's head-mean cross-attention
    carried through the encoder's full rollout, i.e. how much each source *word* (not
    encoder state) reaches each target piece."""
    if kind in ("encoder", "decoder"):
        a = raw(ins, path, kind, measure)
        if a.shape[-1] == 0:
            return np.zeros(a.shape[:1] + a.shape[2:], np.float32)
        return attention_rollout(_rows_to_one(a) if measure == "norm" else a).astype(np.float32)
    enc_a = raw(ins, path, "encoder", measure)
    enc = attention_rollout(_rows_to_one(enc_a) if measure == "norm" else enc_a)[-1]  # (S, S)
    cross_a = raw(ins, path, "cross", measure)
    cross = (_rows_to_one(cross_a) if measure == "norm" else cross_a).mean(axis=1)  # (L, T, S)
    return (cross @ enc).astype(np.float32)


def grid(ins: Inspection, path: PathView, kind: str, mode: str, measure: str = "weights") -> np.ndarray:
    """[rows, cols, Q, K]: L x H for "heads", 1 x L for the aggregates (layers side by side)."""
    a = raw(ins, path, kind, measure)
    if mode == "heads":
        return a
    if a.size == 0:  # an empty decode: nothing to aggregate
        return np.zeros((1, a.shape[0], a.shape[2], a.shape[3]), np.float32)
    if mode == "mean":
        agg = a.mean(axis=1)
    elif mode == "max":
        agg = a.max(axis=1) if a.size else a.mean(axis=1)
    else:
        agg = rollout(ins, path, kind, measure)
    return agg[None]


def title(mode: str, row: int, col: int) -> str:
    return f"{row_title(row)} {column_title('heads', col)}" if mode == "heads" else f"L{col + 1} {mode}"


def row_title(row: int) -> str:
    """A row's (layer's) name when the grid names its rows once, on the left axis."""
    return f"L{row + 1}"


def column_title(mode: str, col: int) -> str:
    """A column's name when the grid names its columns once (rows too short for titles)."""
    return f"H{col + 1}" if mode == "heads" else title(mode, 0, col)


def layer_head(mode: str, row: int, col: int) -> tuple[int, int]:
    """(layer, head) of a grid cell; head -1 means an aggregate over heads."""
    return (row, col) if mode == "heads" else (col, -1)
