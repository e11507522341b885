"""The Inspection: everything one decode saw, as plain numpy and frozen dataclasses.

The app, the figure export and the tests all consume this one object; nothing above
``core.inference`` sees a tensor.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from attnscope.core.config import DecodeConfig
from attnscope.core.inference.contributions import Contributions
from attnscope.core.inference.logits import StepLogits
from attnscope.core.inference.search import BeamNode, Hypothesis


@dataclass(frozen=True)
class StepRecord:
    """One model call: K rows (alive hypotheses) fed one piece each."""

    node_ids: np.ndarray  # [K] tree node fed by each row (its token is the row's input)
    logits: StepLogits  # K rows of raw next-piece logits: whole, or top + log Z above 64k pieces
    self_attention: np.ndarray  # [L, H, K, t+1] decoder self-attention of the new position
    cross_attention: np.ndarray  # [L, H, K, S] cross-attention of the new position
    self_value_norms: np.ndarray | None = None  # [L, H, K] ||f_h(x)|| of each row's new value (None: old graphs)


@dataclass(frozen=True)
class PathView:
    """One hypothesis (a root-to-node path) with its attention and per-step logits."""

    node_id: int
    target_ids: np.ndarray  # [T] generated pieces along the path (no BOS)
    target_pieces: tuple[str, ...]
    decoder_input_pieces: tuple[str, ...]  # [T] what each step was fed: BOS, y1 … y(T-1)
    decoder_self_attention: np.ndarray  # [L, H, T, T], row t attends to inputs 0..t
    cross_attention: np.ndarray  # [L, H, T, S]
    step_logits: StepLogits  # T rows: the logits that chose target t (core.inference.logits)
    decoder_value_norms: np.ndarray | None = None  # [L, H, T] ||f_h(x_j)|| of each decoder input j


@dataclass(frozen=True)
class Inspection:
    """A decoded sentence and every attention matrix behind it."""

    text: str
    config: DecodeConfig
    source_ids: np.ndarray  # [S] pieces fed to the encoder, EOS included
    source_pieces: tuple[str, ...]
    truncated_input: bool  # the source was longer than the model allows and was cut
    encoder_attention: np.ndarray  # [L, H, S, S]
    steps: tuple[StepRecord, ...]  # one per decoder call
    nodes: tuple[BeamNode, ...]  # the whole search tree, root first
    node_pieces: tuple[str, ...]  # piece of every node (root = BOS)
    hypotheses: tuple[Hypothesis, ...]  # n_best, best first
    truncated_output: bool  # the best hypothesis hit max_len without EOS
    translation: str
    best: PathView  # the chosen hypothesis, expanded
    timings_ms: dict[str, float] = field(default_factory=dict)
    provider: str = "CPUExecutionProvider"
    complete: bool = True  # False: handed out while decoding, or a decode cancelled early
    # Norm-based attention (Kobayashi et al. 2020): ||f_h(x_j)|| of every value; None when
    # the bundle's graphs predate them. Cross-attention values are the encoder output's.
    encoder_value_norms: np.ndarray | None = None  # [L, H, S]
    cross_value_norms: np.ndarray | None = None  # [L, H, S]
    contributions: Contributions | None = None  # ALTI+ of the best hypothesis (None: off or no graph)

    def norm_weighted(self, kind: str, path: PathView | None = None) -> np.ndarray | None:
        """||alpha_ij f_h(x_j)|| for "encoder", "decoder" or "cross" [L, H, Q, K] (None: no norms)."""
        p = path if path is not None else self.best
        attn, norms = {"encoder": (self.encoder_attention, self.encoder_value_norms),
                       "decoder": (p.decoder_self_attention, p.decoder_value_norms),
                       "cross": (p.cross_attention, self.cross_value_norms)}[kind]
        return None if norms is None else weight_by_norm(attn, norms)

    # Convenience views of the chosen hypothesis, the names the CLI's JSON uses.
    @property
    def target_pieces(self) -> tuple[str, ...]:
        return self.best.target_pieces

    @property
    def decoder_attention(self) -> np.ndarray:
        return self.best.decoder_self_attention

    @property
    def cross_attention(self) -> np.ndarray:
        return self.best.cross_attention

    @property
    def step_logits(self) -> StepLogits:
        return self.best.step_logits

    @property
    def is_empty(self) -> bool:
        return len(self.steps) == 0

    def path(self, node_id: int) -> PathView:
        """The hypothesis ending at ``node_id``, with the attention each of its pieces saw."""
        return build_path(self.nodes, self.node_pieces, self.steps, node_id)


def node_rows(steps: tuple[StepRecord, ...]) -> dict[int, tuple[int, int]]:
    """Map node id -> (step, row) of the model call that node fed."""
    rows: dict[int, tuple[int, int]] = {}
    for t, rec in enumerate(steps):
        for k, nid in enumerate(rec.node_ids.tolist()):
            rows[int(nid)] = (t, k)
    return rows


def build_path(
    nodes: tuple[BeamNode, ...],
    pieces: tuple[str, ...],
    steps: tuple[StepRecord, ...],
    node_id: int,
) -> PathView:
    """Collect, for the path root → ``node_id``, the rows of each model call along it."""
    if not steps or not nodes:
        empty = np.zeros((0, 0, 0, 0), np.float32)
        return PathView(node_id, np.zeros(0, np.int64), (), (), empty, empty, StepLogits.stack([]))
    chain = []
    nid = node_id
    while nid >= 0:
        chain.append(nid)
        nid = nodes[nid].parent
    chain.reverse()  # root .. node
    rows = node_rows(steps)
    # Each generated piece chain[i] (i >= 1) was chosen by the call its parent chain[i-1] fed.
    feeders = [rows[n] for n in chain[:-1] if n in rows]
    t_len = len(feeders)
    n_layers, n_heads = steps[0].cross_attention.shape[:2]
    src_len = steps[0].cross_attention.shape[-1]
    self_attn = np.zeros((n_layers, n_heads, t_len, t_len), np.float32)
    cross = np.zeros((n_layers, n_heads, t_len, src_len), np.float32)
    logits: list[StepLogits] = []
    has_norms = all(steps[t].self_value_norms is not None for t, _ in feeders)
    norms = np.zeros((n_layers, n_heads, t_len), np.float32) if has_norms else None
    for i, (t, k) in enumerate(feeders):
        rec = steps[t]
        width = rec.self_attention.shape[-1]  # t+1 keys at call t
        self_attn[:, :, i, :width] = rec.self_attention[:, :, k, :]
        cross[:, :, i, :] = rec.cross_attention[:, :, k, :]
        logits.append(rec.logits[k])
        if norms is not None and rec.self_value_norms is not None:
            norms[:, :, i] = rec.self_value_norms[:, :, k]  # the value of the piece fed at path step i
    target = np.array([nodes[n].token for n in chain[1:1 + t_len]], np.int64)
    return PathView(
        node_id=node_id,
        target_ids=target,
        target_pieces=tuple(pieces[n] for n in chain[1:1 + t_len]),
        decoder_input_pieces=tuple(pieces[n] for n in chain[:t_len]),
        decoder_self_attention=self_attn,
        cross_attention=cross,
        step_logits=StepLogits.stack(logits),
        decoder_value_norms=norms,
    )


def weight_by_norm(attn: np.ndarray, norms: np.ndarray) -> np.ndarray:
    """[L, H, Q, K] attention x [L, H, K] value norms: ||alpha_ij f_h(x_j)|| (alpha >= 0)."""
    return (attn * norms[:, :, None, :]).astype(np.float32)


def inspection_nbytes(ins: Inspection) -> dict[str, int]:
    """Bytes of the arrays one Inspection holds, by kind (the tree's nodes are not counted)."""
    logits = sum(r.logits.nbytes for r in ins.steps)
    attention = ins.encoder_attention.nbytes + sum(r.self_attention.nbytes + r.cross_attention.nbytes
                                                   for r in ins.steps)
    b = ins.best
    path = b.step_logits.nbytes + b.cross_attention.nbytes + b.decoder_self_attention.nbytes
    return {"logits": logits, "attention": attention, "best_path": path, "total": logits + attention + path}


def softmax_with_temperature(logits: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities of ``logits / temperature`` along the last axis (no model call)."""
    z = logits.astype(np.float64) / max(float(temperature), 1e-6)
    z -= z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)
