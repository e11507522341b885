"""The numbers behind every figure, as plain dicts of numpy arrays, lists and scalars.

Each view's figure is drawn from exactly this dict, and ``-o OUT.json|OUT.npz`` writes it,
so a dump holds what was plotted. Layer and head indices here are 0-based array indices
(titles say ``layer 1``); ``head=None`` means the mean over heads.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from attnscope.core.inference.inspection import Inspection, PathView, node_rows, softmax_with_temperature
from attnscope.export.alignment import gold_alignment

VIEWS = ("head", "grid", "cross", "beam", "probs", "trace", "curves", "contributions")
MEASURES = {"weights": "attention weight", "norm": "||alpha f(x)||"}  # norm: Kobayashi et al. 2020
KINDS = {"enc": "encoder self-attention", "dec": "decoder self-attention", "cross": "cross-attention"}
TEMPERATURES = (0.1, 0.5, 1.0, 2.0)  # the reference analysis's temperature table


PieceFn = Callable[[int], str]  # piece id -> text, e.g. ``engine.piece``


class FigureError(ValueError):
    """A request the data cannot satisfy (layer out of range, unknown view, no metrics)."""


# -- attention ------------------------------------------------------------------------

def _path(ins: Inspection, node: int | None) -> PathView:
    if node is None:
        return ins.best
    if not 0 <= node < len(ins.nodes):
        raise FigureError(f"node {node} is not in the search tree (0-{len(ins.nodes) - 1})")
    return ins.path(node)


def attention(ins: Inspection, kind: str, node: int | None = None, measure: str = "weights") -> dict[str, Any]:
    """All layers and heads of one attention kind with its axis labels and causal mask;
    ``measure`` "norm" gives norm-based attention ||alpha_ij f_h(x_j)|| instead of alpha."""
    if kind not in KINDS:
        raise FigureError(f"kind {kind!r}: use one of {', '.join(KINDS)}")
    if measure not in MEASURES:
        raise FigureError(f"measure {measure!r}: use one of {', '.join(MEASURES)}")
    if ins.is_empty:
        raise FigureError("nothing to draw: the inspection is empty (no source text?)")
    path = _path(ins, node)
    if kind == "enc":
        stack, xs, ys = ins.encoder_attention, ins.source_pieces, ins.source_pieces
        axes = ("key (source)", "query (source)")
    elif kind == "dec":
        stack, xs, ys = path.decoder_self_attention, path.decoder_input_pieces, path.decoder_input_pieces
        axes = ("key (decoder input)", "query (decoder input)")
    else:
        stack, xs, ys = path.cross_attention, ins.source_pieces, path.target_pieces
        axes = ("source piece", "generated piece")
    if measure == "norm":
        weighted = ins.norm_weighted({"enc": "encoder", "dec": "decoder", "cross": "cross"}[kind], path)
        if weighted is None:
            raise FigureError("this bundle's graphs have no value norms: re-export it for norm-based attention")
        stack = weighted
    q, k = stack.shape[-2:]
    mask = np.triu(np.ones((q, k), bool), 1) if kind == "dec" else None  # the future
    return {"kind": kind, "stack": np.asarray(stack), "x_labels": list(xs), "y_labels": list(ys),
            "x_axis": axes[0], "y_axis": axes[1], "mask": mask, "measure": measure,
            "value_label": MEASURES[measure]}


def _check_index(value: int | None, n: int, what: str, kind: str) -> None:
    if value is not None and not 0 <= value < n:
        raise FigureError(f"{what} {value + 1} is out of range: {KINDS[kind]} has {what}s 1-{n}")


def _select(att: dict[str, Any], layer: int | None, head: int | None) -> tuple[np.ndarray, int, int | None]:
    n_layers, n_heads = att["stack"].shape[:2]
    layer = n_layers - 1 if layer is None else int(layer)
    _check_index(layer, n_layers, "layer", att["kind"])
    _check_index(head, n_heads, "head", att["kind"])
    m = att["stack"][layer]
    return (m.mean(axis=0) if head is None else m[head]), layer, head


def _vmax(vmax: float | str | None, values: np.ndarray) -> float:
    """Top of the colour scale: 1 (default, comparable across figures), 'auto' (the data's
    maximum, for diffuse heads) or a number."""
    if vmax is None:
        return 1.0
    if vmax == "auto":
        top = float(np.max(values)) if values.size else 1.0
        return top if top > 0 else 1.0
    try:
        v = float(vmax)
    except (TypeError, ValueError):
        raise FigureError(f"vmax {vmax!r}: a number in (0, 1] or 'auto'") from None
    if not 0 < v <= 1:
        raise FigureError(f"vmax {v}: a number in (0, 1] or 'auto'")
    return v


def _title(kind: str, layer: int, head: int | None, measure: str = "weights") -> str:
    what = "norm-weighted " if measure == "norm" else ""
    return f"{what}{KINDS[kind]} · layer {layer + 1} · " + ("mean of heads" if head is None else f"head {head + 1}")


def _measure_vmax(vmax: float | str | None, values: np.ndarray, measure: str) -> float:
    """Norms are not bounded by 1: their scale is always the data's maximum."""
    return _vmax("auto" if measure == "norm" else vmax, values)


def _base(ins: Inspection, view: str) -> dict[str, Any]:
    return {"view": view, "text": ins.text, "translation": ins.translation}


def head_data(ins: Inspection, kind: str = "enc", layer: int | None = None, head: int | None = 0,
              node: int | None = None, vmax: float | str | None = None, measure: str = "weights") -> dict[str, Any]:
    att = attention(ins, kind, node, measure)
    matrix, layer, head = _select(att, layer, head)
    return {**_base(ins, "head"), "kind": kind, "layer": layer, "head": head, "measure": measure,
            "title": _title(kind, layer, head, measure), "matrix": matrix, "mask": att["mask"],
            "x_labels": att["x_labels"], "y_labels": att["y_labels"], "value_label": att["value_label"],
            "x_axis": att["x_axis"], "y_axis": att["y_axis"], "vmin": 0.0,
            "vmax": _measure_vmax(vmax, matrix, measure)}


def grid_data(ins: Inspection, kind: str = "enc", node: int | None = None,
              vmax: float | str | None = None, measure: str = "weights") -> dict[str, Any]:
    att = attention(ins, kind, node, measure)
    title = ("norm-weighted " if measure == "norm" else "") + KINDS[kind]
    return {**_base(ins, "grid"), "kind": kind, "title": title, "matrices": att["stack"], "measure": measure,
            "mask": att["mask"], "x_labels": att["x_labels"], "y_labels": att["y_labels"],
            "x_axis": att["x_axis"], "y_axis": att["y_axis"], "vmin": 0.0, "value_label": att["value_label"],
            "vmax": _measure_vmax(vmax, att["stack"], measure)}


def contributions_data(ins: Inspection) -> dict[str, Any]:
    """ALTI+ (Ferrando et al. 2022) of the best hypothesis: each prediction's contributions
    from the source pieces and the target prefix, and the source share per step."""
    if ins.is_empty:
        raise FigureError("nothing to draw: the inspection is empty (no source text?)")
    c = ins.contributions
    if c is None:
        raise FigureError("no ALTI+ contributions: the bundle has no contributions.onnx "
                          "(re-export it) or they were switched off")
    return {**_base(ins, "contributions"), "title": "ALTI+ source and target contributions",
            "matrix": c.total, "source": c.source, "target": c.target, "source_share": c.source_share,
            "x_labels": list(ins.source_pieces) + list(ins.best.decoder_input_pieces),
            "y_labels": list(ins.best.target_pieces), "n_source": c.source_len,
            "source_pieces": list(ins.source_pieces), "decoder_input_pieces": list(ins.best.decoder_input_pieces),
            "target_pieces": list(ins.best.target_pieces), "encoder_rollout": c.encoder_rollout,
            "encoder_layers": c.encoder_layers, "decoder_self_layers": c.decoder_self_layers,
            "cross_layers": c.cross_layers,
            "x_axis": "source pieces | target prefix (decoder inputs)", "y_axis": "predicted piece",
            "vmin": 0.0, "vmax": float(max(np.max(c.total), 1e-6))}


def cross_data(ins: Inspection, layer: int | None = None, head: int | None = None,
               node: int | None = None, vmax: float | str | None = None,
               measure: str = "weights") -> dict[str, Any]:
    """Cross-attention of one layer (mean of heads by default) and the gold alignment."""
    att = attention(ins, "cross", node, measure)
    matrix, layer, head = _select(att, layer, head)
    gold = gold_alignment(ins, _path(ins, node))
    agreement = None
    if gold.links is not None and len(gold.links):
        # Share of aligned generated pieces whose most-attended source piece is a gold link.
        rows = sorted({int(t) for t, _ in gold.links})
        hits = [int(np.argmax(matrix[t])) in {int(s) for tt, s in gold.links if tt == t} for t in rows]
        agreement = float(np.mean(hits))
    return {**_base(ins, "cross"), "kind": "cross", "layer": layer, "head": head, "measure": measure,
            "title": _title("cross", layer, head, measure), "matrix": matrix, "mask": None,
            "x_labels": att["x_labels"], "y_labels": att["y_labels"], "value_label": att["value_label"],
            "x_axis": att["x_axis"], "y_axis": att["y_axis"], "vmin": 0.0,
            "vmax": _measure_vmax(vmax, matrix, measure),
            "alignment": gold.links, "gold_translation": gold.reference,
            "gold_alignment": gold.pharaoh, "alignment_note": gold.note,
            "argmax_agreement": agreement}


# -- search and probabilities -------------------------------------------------------------

def piece_namer(ins: Inspection, piece: PieceFn | None) -> PieceFn:
    """``piece`` or, without a tokenizer, the pieces the search tree knows (else ``#id``)."""
    if piece is not None:
        return piece
    known = {n.token: ins.node_pieces[n.id] for n in ins.nodes}
    return lambda i: known.get(i, f"#{i}")


def _check_step(path: PathView, step: int) -> None:
    n = len(path.target_pieces)
    if not 0 <= step < n:
        raise FigureError(f"step {step + 1} is out of range: the hypothesis has steps 1-{n}")


def probs_data(ins: Inspection, step: int = 0, temperatures: tuple[float, ...] = TEMPERATURES,
               top: int = 8, node: int | None = None, piece: PieceFn | None = None) -> dict[str, Any]:
    """Top-``top`` next pieces at ``step`` under each temperature (order is T-invariant)."""
    path = _path(ins, node)
    if ins.is_empty:
        raise FigureError("nothing to draw: the inspection is empty (no source text?)")
    _check_step(path, step)
    if not temperatures or any(not (t > 0 and math.isfinite(t)) for t in temperatures):
        raise FigureError(f"temperatures must be positive numbers, got {list(temperatures)}")
    if top < 1:
        raise FigureError(f"top must be at least 1, got {top}")
    logits = path.step_logits[step]
    ids = np.argsort(-logits, kind="stable")[:top]
    probs = np.stack([softmax_with_temperature(logits, t)[ids] for t in temperatures])
    piece = piece_namer(ins, piece)
    chosen = int(path.target_ids[step])
    return {**_base(ins, "probs"), "step": step, "temperatures": np.array(temperatures, np.float64),
            "ids": ids.astype(np.int64), "pieces": [piece(int(i)) for i in ids],
            "logits": logits[ids].astype(np.float64), "probs": probs,
            "rest": 1.0 - probs.sum(axis=1),  # mass of the pieces not shown, per temperature
            "chosen_id": chosen, "chosen_piece": path.target_pieces[step],
            "context": path.decoder_input_pieces[step],
            "title": f"next piece after {path.decoder_input_pieces[step]!r} (step {step + 1})"}


def trace_data(ins: Inspection, layer: int | None = None, head: int | None = None, top: int = 3,
               temperature: float = 1.0, node: int | None = None, piece: PieceFn | None = None,
               vmax: float | str | None = None) -> dict[str, Any]:
    """The reference's layer-3 trace: per step the input, cross-attention, top candidates, choice."""
    att = attention(ins, "cross", node)
    matrix, layer, head = _select(att, layer, head)
    path = _path(ins, node)
    if top < 1:
        raise FigureError(f"top must be at least 1, got {top}")
    if not (temperature > 0 and math.isfinite(temperature)):
        raise FigureError(f"temperature must be positive, got {temperature}")
    piece = piece_namer(ins, piece)
    probs = softmax_with_temperature(path.step_logits, temperature)  # [T, V]
    order = np.argsort(-probs, axis=-1, kind="stable")
    ids = order[:, :top].copy()
    chosen = path.target_ids.astype(np.int64)
    rank = np.array([int(np.nonzero(order[t] == c)[0][0]) for t, c in enumerate(chosen)], np.int64)
    for t in range(len(chosen)):  # a choice outside the top-k takes the last column, marked by rank
        if rank[t] >= top:
            ids[t, -1] = chosen[t]
    cand_p = np.take_along_axis(probs, ids, axis=-1)
    return {**_base(ins, "trace"), "layer": layer, "head": head, "temperature": float(temperature),
            "title": _title("cross", layer, head), "cross": matrix, "vmin": 0.0, "vmax": _vmax(vmax, matrix),
            "source": list(ins.source_pieces), "inputs": list(path.decoder_input_pieces),
            "selected": list(path.target_pieces), "chosen_ids": chosen, "chosen_rank": rank,
            "chosen_prob": probs[np.arange(len(chosen)), chosen],
            "candidate_ids": ids.astype(np.int64),
            "candidates": [[piece(int(i)) for i in row] for row in ids], "candidate_probs": cand_p}


def tree_layout(parents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(depth, y) per node (root = -1, parents first): leaves 0, 1, 2 … depth-first, inner
    nodes at the mean of their children."""
    n = len(parents)
    children: list[list[int]] = [[] for _ in range(n)]
    for i in range(1, n):
        children[int(parents[i])].append(i)
    depth, y = np.zeros(n), np.zeros(n)
    leaf = 0.0
    stack: list[tuple[int, bool]] = [(0, False)] if n else []
    while stack:
        node, done = stack.pop()
        if done:
            y[node] = np.mean([y[c] for c in children[node]])
        elif not children[node]:
            y[node], leaf = leaf, leaf + 1
        else:
            stack.append((node, True))
            for c in reversed(children[node]):
                depth[c] = depth[node] + 1
                stack.append((c, False))
    return depth, y


def beam_data(ins: Inspection, runner_ups: bool = False) -> dict[str, Any]:
    """The search tree; by default only hypotheses that were on the beam (fed to the model),
    finished or alive, leaving out the runner-up candidates that never made it."""
    if not ins.nodes:
        raise FigureError("nothing to draw: the inspection has no search tree")
    fed = node_rows(ins.steps)
    keep = [n.id for n in ins.nodes
            if runner_ups or n.id == 0 or n.id in fed or n.status != "pruned"]
    index = {nid: i for i, nid in enumerate(keep)}
    nodes = [ins.nodes[i] for i in keep]
    parent = np.array([index.get(n.parent, -1) for n in nodes], np.int64)
    depth, y = tree_layout(parent)
    best = []
    nid = ins.hypotheses[0].node_id if ins.hypotheses else -1
    while nid >= 0:
        best.append(nid)
        nid = ins.nodes[nid].parent
    hyp_rank = {h.node_id: r for r, h in enumerate(ins.hypotheses)}
    return {**_base(ins, "beam"), "title": f"beam search (beam {ins.config.beam_size})",
            "runner_ups": runner_ups,
            "nodes": {
                "id": np.array(keep, np.int64),
                "parent": np.array([n.parent for n in nodes], np.int64),
                "piece": [ins.node_pieces[n.id] for n in nodes],
                "token": np.array([n.token for n in nodes], np.int64),
                "logprob": np.array([n.logprob for n in nodes], np.float64),
                "cum_logprob": np.array([n.cum_logprob for n in nodes], np.float64),
                "score": np.array([n.score for n in nodes], np.float64),
                "step": np.array([n.step for n in nodes], np.int64),
                "status": [n.status for n in nodes],
                "forced": np.array([n.forced for n in nodes], bool),
                "hypothesis_rank": np.array([hyp_rank.get(n.id, -1) for n in nodes], np.int64),
                "x": depth, "y": y},
            "best_path": np.array(best[::-1], np.int64)}


# -- training curves ------------------------------------------------------------------------

def _metrics_text(source: str | Path) -> tuple[str, str]:
    p = Path(source)
    if p.is_dir():
        f = p / "metrics.jsonl"
        if not f.is_file():
            raise FigureError(f"{p}: no metrics.jsonl in this run or bundle folder")
        return f.read_text(encoding="utf-8", errors="replace"), str(f)
    if p.suffix == ".zip" and p.is_file():
        with zipfile.ZipFile(p) as z:
            names = [n for n in z.namelist() if n.endswith("metrics.jsonl")]
            if not names:
                raise FigureError(f"{p}: the bundle holds no metrics.jsonl")
            return io.TextIOWrapper(z.open(min(names, key=len)), encoding="utf-8").read(), f"{p}:{names[0]}"
    if p.is_file():
        return p.read_text(encoding="utf-8", errors="replace"), str(p)
    raise FigureError(f"{p}: no such run folder, bundle or metrics.jsonl")


def curves_data(source: str | Path) -> dict[str, Any]:
    """Training and validation series from a run folder, a bundle or a metrics.jsonl."""
    text, where = _metrics_text(source)
    train: dict[str, list[float]] = {k: [] for k in ("step", "loss", "ppl", "lr", "grad_norm",
                                                     "update_ratio", "tokens_per_s")}
    layers: dict[str, list[float]] = {}
    valid: dict[str, list[float]] = {k: [] for k in ("step", "bleu", "chrf", "exact_match")}
    starts: list[float] = []
    skipped = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            skipped += 1  # e.g. a half-written last line while training runs
            continue
        if not isinstance(rec, dict):
            skipped += 1
            continue
        kind = rec.get("kind")
        if kind == "train":
            n = len(train["step"])
            for k, series in train.items():
                series.append(_num(rec.get(k)))
            for name, v in (rec.get("layer_grad_norm") or {}).items():
                layers.setdefault(name, [math.nan] * n).append(_num(v))
            for series in layers.values():  # a layer missing from this line
                series.extend([math.nan] * (n + 1 - len(series)))
        elif kind == "valid":
            for k, series in valid.items():
                series.append(_num(rec.get(k)))
        elif kind == "start":
            starts.append(_num(rec.get("step", 0)))
    if not train["step"] and not valid["step"]:
        raise FigureError(f"{where}: no training or validation lines")
    return {"view": "curves", "source": where, "title": "training",
            "train": {k: np.array(v, np.float64) for k, v in train.items()},
            "layer_grad_norm": {k: np.array(v, np.float64) for k, v in layers.items()},
            "valid": {k: np.array(v, np.float64) for k, v in valid.items()},
            "starts": np.array(starts, np.float64), "skipped_lines": skipped}


def _num(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


# -- writing --------------------------------------------------------------------------------

def to_jsonable(obj: Any) -> Any:
    """Arrays to nested lists, NaN to null, tuples to lists (strict JSON)."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return to_jsonable(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dict to ``a/b`` keys of plain arrays (strings as unicode); None is left out."""
    out: dict[str, Any] = {}  # str -> np.ndarray
    for k, v in data.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "/"))
        elif v is None:
            continue
        elif isinstance(v, np.ndarray):
            out[key] = v
        elif isinstance(v, list | tuple) and any(isinstance(x, list | tuple) for x in v):
            out[key] = np.array(v, dtype=str)  # e.g. candidates [T, k]
        else:
            out[key] = np.asarray(v)
    return out


def write_data(data: dict[str, Any], path: str | Path) -> Path:
    """Write a figure's data as ``.json`` (nested) or ``.npz`` (flat ``a/b`` keys, no pickle)."""
    p = Path(path)
    if p.suffix.lower() == ".json":
        p.write_text(json.dumps(to_jsonable(data), ensure_ascii=False, allow_nan=False, indent=1),
                     encoding="utf-8")
    elif p.suffix.lower() == ".npz":
        np.savez_compressed(p, **flatten(data))
    else:
        raise FigureError(f"{p}: data dumps are .json or .npz")
    return p
