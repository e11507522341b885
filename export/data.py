"""The numbers behind every figure, as plain dicts of numpy arrays, lists and scalars.

Each view's figure is drawn from exactly this dict, and ``-o OUT.json|OUT.npz`` writes it,
so a dump holds what was plotted (docs/dumps.md: the schema). Layer, head and step indices
here are 0-based array indices (titles say ``layer 1``); ``head`` is a head index or one of
``mean``/``max`` over heads, or ``rollout`` (self-attention, Abnar & Zuidema 2020).
Axis labels are display text (``▁`` dropped, byte pieces decoded, a continuing piece
marked ``-``); the raw pieces travel beside them as ``x_pieces``/``y_pieces``. Alignment
links are ``[source, target]`` pairs, as in Pharaoh.
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

from attnscope.core.inference.headstats import attention_rollout
from attnscope.core.inference.inspection import Inspection, PathView, node_rows
from attnscope.export.alignment import SPECIALS, gold_alignment

VIEWS = ("head", "grid", "cross", "beam", "probs", "trace", "curves", "contributions")
MEASURES = {"weights": "attention weight", "norm": "‖α f(x)‖"}  # norm: Kobayashi et al. 2020
REDUCTIONS = ("mean", "max", "rollout")  # over heads; rollout also over layers (self-attention)
MAX_LABEL_CHARS = 12  # longer labels are abbreviated with "…" (the dump keeps the full piece)
KINDS = {"enc": "encoder self-attention", "dec": "decoder self-attention", "cross": "cross-attention"}
TEMPERATURES = (0.1, 0.5, 1.0, 2.0)  # the reference analysis's temperature table


PieceFn = Callable[[int], str]  # piece id -> text, e.g. ``engine.piece``


class FigureError(ValueError):
    """A request the data cannot satisfy (layer out of range, unknown view, no metrics)."""



# -- labels ---------------------------------------------------------------------------------

def display_label(piece: str) -> str:
    """What a token axis shows for a piece: ``▁word`` -> ``word``, a continuing piece
    ``-ing``, a byte piece ``<0x51>`` -> ``Q``, specials as they are; long ones abbreviated."""
    if piece in SPECIALS:
        return piece
    if piece.startswith("<0x") and piece.endswith(">") and len(piece) == 6:
        code = int(piece[3:5], 16)
        text = chr(code) if 0x20 < code < 0x7F else f"\\x{code:02x}"
        return text
    text = piece[1:] if piece.startswith("▁") else ("-" + piece if piece[:1].isalnum() else piece)
    text = text.replace("▁", " ") or "␣"
    return text if len(text) <= MAX_LABEL_CHARS else text[: MAX_LABEL_CHARS - 1] + "…"


def word_groups(pieces: list[str] | tuple[str, ...]) -> list[list[int]]:
    """Piece indices of each word: a word starts at a ``▁`` piece; a special is its own word."""
    groups: list[list[int]] = []
    for i, p in enumerate(pieces):
        if not groups or p in SPECIALS or p.startswith("▁") or pieces[i - 1] in SPECIALS:
            groups.append([i])
        else:
            groups[-1].append(i)
    return groups


def word_label(pieces: list[str] | tuple[str, ...], group: list[int]) -> str:
    text = "".join(pieces[i] for i in group).replace("▁", " ").strip() or "␣"
    if len(group) == 1 and pieces[group[0]] in SPECIALS:
        return pieces[group[0]]
    return text if len(text) <= MAX_LABEL_CHARS else text[: MAX_LABEL_CHARS - 1] + "…"


def merge_words(m: np.ndarray, rows: list[list[int]] | None, cols: list[list[int]] | None) -> np.ndarray:
    """Piece attention [..., Q, K] to word attention: keys of a word are summed (mass on the
    word), queries of a word averaged (Clark et al. 2019), so each row still sums to 1."""
    out = np.asarray(m, np.float64)
    if cols is not None:
        out = np.stack([out[..., g].sum(axis=-1) for g in cols], axis=-1)
    if rows is not None:
        out = np.stack([out[..., g, :].mean(axis=-2) for g in rows], axis=-2)
    return out


def _labelled(att: dict[str, Any], words: bool) -> dict[str, Any]:
    """Axis labels (and, with ``words``, the stack and mask merged into words)."""
    xs, ys = att["x_labels"], att["y_labels"]
    out = dict(att, x_pieces=list(xs), y_pieces=list(ys), unit="piece")
    if not words:
        out.update(x_labels=[display_label(p) for p in xs], y_labels=[display_label(p) for p in ys])
        return out
    cg, rg = word_groups(xs), word_groups(ys)
    out.update(stack=merge_words(att["stack"], rg, cg), unit="word",
               x_labels=[word_label(xs, g) for g in cg], y_labels=[word_label(ys, g) for g in rg],
               x_groups=[g for g in cg], y_groups=[g for g in rg],
               x_axis=att["x_axis"].replace("piece", "word"), y_axis=att["y_axis"].replace("piece", "word"))
    if att["mask"] is not None:  # the decoder's future, word by word: a word sees words up to itself
        q, k = len(rg), len(cg)
        out["mask"] = np.triu(np.ones((q, k), bool), 1)
    return out

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


Head = int | str | None  # a head index, "mean" (also None), "max" or "rollout"


def _select(att: dict[str, Any], layer: int | None, head: Head) -> tuple[np.ndarray, int, Head]:
    n_layers, n_heads = att["stack"].shape[:2]
    layer = n_layers - 1 if layer is None else int(layer)
    _check_index(layer, n_layers, "layer", att["kind"])
    head = "mean" if head is None else head
    if isinstance(head, str):
        if head not in REDUCTIONS:
            raise FigureError(f"head {head!r}: a head number or one of {', '.join(REDUCTIONS)}")
        if head == "rollout":
            if att["kind"] == "cross":
                raise FigureError("rollout composes self-attention layers: use it with kind enc or dec")
            stack = att["stack"]
            if att.get("measure") == "norm":  # roll out shares, not norms
                stack = stack / np.maximum(stack.sum(axis=-1, keepdims=True), 1e-12)
            return attention_rollout(stack)[layer], layer, head
        m = att["stack"][layer]
        return (m.mean(axis=0) if head == "mean" else m.max(axis=0)), layer, head
    _check_index(int(head), n_heads, "head", att["kind"])
    return att["stack"][layer][int(head)], layer, int(head)


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


def _title(kind: str, layer: int, head: Head, measure: str = "weights") -> str:
    what = {"mean": "mean of heads", "max": "max over heads", "rollout": f"rollout of layers 1-{layer + 1}"}
    norm = "norm-weighted " if measure == "norm" else ""
    return f"{norm}{KINDS[kind]} · layer {layer + 1} · " + (what[head] if isinstance(head, str)
                                                            else f"head {int(head or 0) + 1}")


def _measure_vmax(vmax: float | str | None, values: np.ndarray, measure: str) -> float:
    """Norms are not bounded by 1: their scale is always the data's maximum."""
    return _vmax("auto" if measure == "norm" else vmax, values)


def _base(ins: Inspection, view: str) -> dict[str, Any]:
    return {"view": view, "text": ins.text, "translation": ins.translation}


def head_data(ins: Inspection, kind: str = "enc", layer: int | None = None, head: Head = 0,
              node: int | None = None, vmax: float | str | None = None, words: bool = False,
              measure: str = "weights") -> dict[str, Any]:
    att = _labelled(attention(ins, kind, node, measure), words)
    matrix, layer, head = _select(att, layer, head)
    return {**_base(ins, "head"), "kind": kind, "layer": layer, "head": head, "measure": measure,
            "title": _title(kind, layer, head, measure), "matrix": matrix, "mask": att["mask"],
            "x_labels": att["x_labels"], "y_labels": att["y_labels"], "value_label": MEASURES[measure],
            "x_axis": att["x_axis"], "y_axis": att["y_axis"], "vmin": 0.0,
            "vmax": _measure_vmax(vmax, matrix, measure),
            "x_pieces": att["x_pieces"], "y_pieces": att["y_pieces"], "unit": att["unit"]}


def grid_data(ins: Inspection, kind: str = "enc", node: int | None = None,
              vmax: float | str | None = None, words: bool = False, measure: str = "weights") -> dict[str, Any]:
    att = _labelled(attention(ins, kind, node, measure), words)
    title = ("norm-weighted " if measure == "norm" else "") + KINDS[kind]
    return {**_base(ins, "grid"), "kind": kind, "title": title, "matrices": att["stack"], "measure": measure,
            "mask": att["mask"], "x_labels": att["x_labels"], "y_labels": att["y_labels"],
            "x_axis": att["x_axis"], "y_axis": att["y_axis"], "vmin": 0.0, "value_label": MEASURES[measure],
            "vmax": _measure_vmax(vmax, att["stack"], measure), "x_pieces": att["x_pieces"],
            "y_pieces": att["y_pieces"],
            "unit": att["unit"]}


def contributions_data(ins: Inspection, node: int | None = None) -> dict[str, Any]:
    """ALTI+ (Ferrando et al. 2022): each prediction's contributions from the source pieces
    and the target prefix, and the source share per step (best hypothesis; ``node`` another)."""
    if ins.is_empty:
        raise FigureError("nothing to draw: the inspection is empty (no source text?)")
    path = _path(ins, node)
    c = ins.contributions if path.node_id == ins.best.node_id else None
    if c is None:
        raise FigureError("no ALTI+ contributions: the bundle has no contributions.onnx "
                          "(re-export it), they were switched off, or the hypothesis is not the best")
    xs = list(ins.source_pieces) + list(path.decoder_input_pieces)
    return {**_base(ins, "contributions"), "title": "ALTI+ source and target contributions",
            "matrix": c.total, "source": c.source, "target": c.target, "source_share": c.source_share,
            "x_labels": [display_label(p) for p in xs], "y_labels": [display_label(p) for p in path.target_pieces],
            "x_pieces": xs, "y_pieces": list(path.target_pieces), "n_source": c.source_len,
            "encoder_rollout": c.encoder_rollout, "encoder_layers": c.encoder_layers,
            "decoder_self_layers": c.decoder_self_layers, "cross_layers": c.cross_layers,
            "x_axis": "source pieces | target prefix (decoder inputs)", "y_axis": "predicted piece",
            "vmin": 0.0, "vmax": float(max(np.max(c.total), 1e-6))}


def cross_data(ins: Inspection, layer: int | None = None, head: Head = None,
               node: int | None = None, vmax: float | str | None = None, words: bool = False,
               measure: str = "weights") -> dict[str, Any]:
    """Cross-attention of one layer (mean of heads by default) and the gold alignment."""
    att = _labelled(attention(ins, "cross", node, measure), words)
    matrix, layer, head = _select(att, layer, head)
    gold = gold_alignment(ins, _path(ins, node))
    agreement = None
    links = None  # [n, 2] of (source, target), in the axes' unit
    if gold.links is not None and len(gold.links):
        pairs = {(int(s), int(t)) for t, s in gold.links}
        if words:  # piece links to word links
            sw = {i: w for w, g in enumerate(att["x_groups"]) for i in g}
            tw = {i: w for w, g in enumerate(att["y_groups"]) for i in g}
            pairs = {(sw[s], tw[t]) for s, t in pairs}
        links = np.array(sorted(pairs), np.int64).reshape(-1, 2)
        # Share of aligned generated pieces (words) whose most-attended source is a gold link.
        rows = sorted({t for _, t in pairs})
        hits = [int(np.argmax(matrix[t])) in {s for s, tt in pairs if tt == t} for t in rows]
        agreement = float(np.mean(hits))
    reasons = {}
    if links is None:
        reasons["alignment"] = reasons["argmax_agreement"] = gold.note
    if gold.reference is None:
        reasons["gold_translation"] = reasons["gold_alignment"] = gold.note
    return {**_base(ins, "cross"), "kind": "cross", "layer": layer, "head": head, "measure": measure,
            "title": _title("cross", layer, head, measure), "matrix": matrix, "mask": None,
            "x_labels": att["x_labels"], "y_labels": att["y_labels"], "value_label": MEASURES[measure],
            "x_axis": att["x_axis"], "y_axis": att["y_axis"], "vmin": 0.0,
            "vmax": _measure_vmax(vmax, matrix, measure),
            "x_pieces": att["x_pieces"], "y_pieces": att["y_pieces"], "unit": att["unit"],
            "alignment": links, "gold_translation": gold.reference,
            "gold_alignment": gold.pharaoh, "alignment_note": gold.note,
            "argmax_agreement": agreement, "null_reasons": reasons}


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
    ids, z = logits.kept()  # most likely first; above 64k pieces only the top ones are kept
    ids, z = ids[:top], z[:top].astype(np.float64)
    probs = np.stack([np.exp(z / t - logits.log_partition(t)[0]) for t in temperatures])
    piece = piece_namer(ins, piece)
    chosen = int(path.target_ids[step])
    return {**_base(ins, "probs"), "step": step, "temperatures": np.array(temperatures, np.float64),
            "ids": ids.astype(np.int64), "pieces": [display_label(piece(int(i))) for i in ids],
            "raw_pieces": [piece(int(i)) for i in ids],
            "logits": z, "probs": probs,
            "rest": 1.0 - probs.sum(axis=1),  # mass of the pieces not shown, per temperature
            # False where the partition at T was estimated (a vocabulary over 64k pieces, T != 1)
            "exact": np.array([logits.exact_at(t) for t in temperatures]),
            "chosen_id": chosen, "chosen_piece": path.target_pieces[step],
            "context": path.decoder_input_pieces[step],
            "title": f"next piece after '{display_label(path.decoder_input_pieces[step])}' (step {step + 1})"}


def trace_data(ins: Inspection, layer: int | None = None, head: Head = None, top: int = 3,
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
    chosen = path.target_ids.astype(np.int64)
    # Per step the kept pieces (all of them up to 64k pieces, else the top ones and the one
    # chosen), most likely first, and their probabilities at the temperature.
    kept = [path.step_logits.probs(temperature, row=t) for t in range(len(chosen))]
    ids = np.array([k[:top] for k, _ in kept], np.int64).reshape(len(chosen), -1)
    rank = np.array([int(np.nonzero(k == c)[0][0]) for (k, _), c in zip(kept, chosen, strict=True)], np.int64)
    for t in range(len(chosen)):  # a choice outside the top-k takes the last column, marked by rank
        if rank[t] >= top:
            ids[t, -1] = chosen[t]
    cand_p = np.array([[p[np.nonzero(k == i)[0][0]] for i in row] for (k, p), row in zip(kept, ids, strict=True)],
                      np.float64).reshape(ids.shape)
    chosen_p = np.array([p[r] for (_, p), r in zip(kept, rank, strict=True)], np.float64)
    return {**_base(ins, "trace"), "layer": layer, "head": head, "temperature": float(temperature),
            "title": _title("cross", layer, head), "cross": matrix, "vmin": 0.0, "vmax": _vmax(vmax, matrix),
            "source": [display_label(p) for p in ins.source_pieces],
            "inputs": [display_label(p) for p in path.decoder_input_pieces],
            "selected": [display_label(p) for p in path.target_pieces],
            "source_pieces": list(ins.source_pieces), "input_pieces": list(path.decoder_input_pieces),
            "chosen_ids": chosen, "chosen_rank": rank,
            "chosen_prob": chosen_p,
            "candidate_ids": ids.astype(np.int64),
            "candidates": [[display_label(piece(int(i))) for i in row] for row in ids],
            "candidate_probs": cand_p}


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
                "piece": [display_label(ins.node_pieces[n.id]) for n in nodes],
                "raw_piece": [ins.node_pieces[n.id] for n in nodes],
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
    valid: dict[str, list[float]] = {k: [] for k in ("step", "loss", "bleu", "chrf", "exact_match")}
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
                series.append(_num(rec.get("valid_loss" if k == "loss" else k)))
        elif kind == "start":
            starts.append(_num(rec.get("step", 0)))
    if not train["step"] and not valid["step"]:
        raise FigureError(f"{where}: no training or validation lines")
    return {"view": "curves", "source": where, "title": "training",
            "train": {k: np.array(v, np.float64) for k, v in train.items()},
            "layer_grad_norm": {k: np.array(v, np.float64) for k, v in layers.items()},
            "valid": {k: np.array(v, np.float64) for k, v in valid.items()},
            "starts": np.array(starts, np.float64), "skipped_lines": skipped}


def _run_name(source: str | Path) -> str:
    p = Path(source)
    return (p.parent.name if p.name == "metrics.jsonl" else p.stem if p.suffix == ".zip" else p.name) or str(p)


def runs_data(sources: list[str | Path] | tuple[str | Path, ...]) -> dict[str, Any]:
    """Several runs' curves to overlay: ``runs`` maps a short name to one run's series."""
    if not sources:
        raise FigureError("curves: no run given")
    runs: dict[str, Any] = {}
    for src in sources:
        one = curves_data(src)
        name = _run_name(src)
        while name in runs:
            name += "'"
        runs[name] = {k: one[k] for k in ("source", "train", "layer_grad_norm", "valid", "starts", "skipped_lines")}
    return {"view": "curves", "title": "training" if len(runs) == 1 else f"{len(runs)} runs", "runs": runs,
            "null_reasons": {"runs": "a null inside a series: that value was not logged on that line"}}


# -- heads.json: per-head maps of a bundle --------------------------------------------------

HEAD_KINDS = ("encoder", "decoder", "cross")
ROLES = ("previous", "next", "diagonal", "sink", "alignment", "broad", "mixed")


def read_heads(source: str | Path | dict[str, Any] | None) -> tuple[dict[str, Any], str]:
    """heads.json of a bundle (folder, zip or None = the shipped one), of a snapshot
    folder, or the file itself; also the dict as is."""
    if isinstance(source, dict):
        return source, "heads.json"
    from attnscope.core.bundle import BundleError, read_bundle

    p = Path(source) if source is not None else None
    if p is not None and p.is_file() and p.suffix == ".json":
        try:
            return json.loads(p.read_text(encoding="utf-8")), str(p)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise FigureError(f"{p}: not valid JSON ({e})") from None
    if p is not None and p.is_dir() and (p / "heads.json").is_file() and not (p / "config.json").is_file():
        return read_heads(p / "heads.json")  # a snapshot folder
    try:
        b = read_bundle(p)
    except BundleError as e:
        raise FigureError(str(e)) from None
    heads = b.heads()
    if heads is None:
        raise FigureError(f"{b.file('heads.json')}: missing; export the run again to measure the heads")
    return heads, str(b.file("heads.json"))


def aer_data(source: Any) -> dict[str, Any]:
    """Per-head AER of every cross-attention head, best head marked."""
    heads, where = read_heads(source)
    if heads.get("cross_aer") is None:
        raise FigureError(f"{where}: no AER (the corpus had no gold alignments); "
                          "the roles, entropy and distance views need none")
    aer = np.asarray(heads["cross_aer"], np.float64)
    return {"view": "aer", "source": where, "title": "cross-attention AER per head (lower is better)",
            "aer": aer, "best_head": np.asarray(heads["best_head"], np.int64),
            "best_aer": float(heads["best_aer"]), "sentences": int(heads.get("aligned_sentences", 0))}


def roles_data(source: Any) -> dict[str, Any]:
    """Every head's role (previous, next, diagonal, sink, alignment, broad, mixed) and its number."""
    heads, where = read_heads(source)
    roles, measure, value = {}, {}, {}
    for k in HEAD_KINDS:
        rows = heads["roles"][k]
        roles[k] = [[r["role"] for r in row] for row in rows]
        measure[k] = [[r["measure"] for r in row] for row in rows]
        value[k] = np.array([[float(r["value"]) for r in row] for row in rows], np.float64)
    return {"view": "roles", "source": where, "title": "head roles", "roles": roles, "measures": measure,
            "values": value, "role_names": list(ROLES), "has_aer": heads.get("cross_aer") is not None,
            "sentences": int(heads.get("sentences", 0))}


def stat_data(source: Any, measure: str) -> dict[str, Any]:
    """One measured profile (``entropy`` or ``distance``) of every head, per attention kind."""
    heads, where = read_heads(source)
    values = {k: np.asarray(heads["profiles"][k][measure], np.float64) for k in HEAD_KINDS}
    what = {"entropy": ("normalised attention entropy", "entropy (0 = one key, 1 = uniform)"),
            "distance": ("mean attention distance", "mean |query − key| (positions)")}[measure]
    return {"view": measure, "source": where, "title": what[0], "label": what[1], "values": values,
            "sentences": int(heads.get("sentences", 0))}


def entropy_data(source: Any) -> dict[str, Any]:
    return stat_data(source, "entropy")


def distance_data(source: Any) -> dict[str, Any]:
    return stat_data(source, "distance")


# -- many inspections: a corpus, a model's snapshots ----------------------------------------------

CORPUS_BINS = 10  # relative positions per axis when sentences of any length are averaged


def _binned(m: np.ndarray, bins: int) -> np.ndarray:
    """[..., Q, K] -> [..., bins, bins]: key mass summed per relative-position bin, query
    rows averaged per bin; rows still sum to 1, so sentences of any length average."""
    q, k = m.shape[-2:]
    kb = np.minimum((np.arange(k) * bins) // max(k, 1), bins - 1)
    qb = np.minimum((np.arange(q) * bins) // max(q, 1), bins - 1)
    cols = np.stack([m[..., kb == b].sum(axis=-1) for b in range(bins)], axis=-1)
    out = np.full(m.shape[:-2] + (bins, bins), np.nan)
    for b in range(bins):
        sel = qb == b
        if sel.any():
            out[..., b, :] = cols[..., sel, :].mean(axis=-2)
    return out


def corpus_data(inspections: list[Inspection] | tuple[Inspection, ...], kind: str = "enc",
                bins: int = CORPUS_BINS, vmax: float | str | None = None) -> dict[str, Any]:
    """Every layer and head's attention averaged over sentences, on relative positions."""
    usable = [i for i in inspections if not i.is_empty]
    if not usable:
        raise FigureError("the corpus has no sentence to average")
    shortest = min(min(attention(i, kind)["stack"].shape[-2:]) for i in usable)
    bins = max(1, min(bins, shortest))  # every bin holds a position of every sentence
    mats = [_binned(attention(i, kind)["stack"].astype(np.float64), bins) for i in usable]
    stack = np.nanmean(np.stack(mats), axis=0)  # a bin no sentence reached stays NaN
    labels = [f"{100 * b // bins}" for b in range(bins)]
    side = {"enc": ("source", "source"), "dec": ("decoder input", "decoder input"),
            "cross": ("source", "generated")}[kind]
    return {"view": "corpus", "kind": kind, "title": f"{KINDS[kind]}, mean of {len(usable)} sentences",
            "matrices": stack, "mask": None, "x_labels": labels, "y_labels": labels,
            "x_axis": f"key position in the {side[0]} (%)", "y_axis": f"query position in the {side[1]} (%)",
            "vmin": 0.0, "vmax": _vmax(vmax, np.nan_to_num(stack)), "sentences": [i.text for i in usable],
            "bins": bins, "unit": "relative position"}


def snapshots_data(series: list[tuple[str, Inspection]], kind: str = "cross", layer: int | None = None,
                   head: Head = 0, vmax: float | str | None = None, words: bool = False) -> dict[str, Any]:
    """One head (or a reduction) of one layer in every training snapshot, earliest first."""
    if not series:
        raise FigureError("the bundle has no training snapshots")
    mats: list[np.ndarray] = []
    labels: list[str] = []
    first: dict[str, Any] = {}
    for name, ins in series:
        att = _labelled(attention(ins, kind), words)
        m, layer_i, head_v = _select(att, layer, head)
        if first and m.shape != mats[0].shape:
            raise FigureError(f"snapshot {name}: attention of shape {m.shape}, the first has {mats[0].shape} "
                              "(snapshots must decode the same target)")
        first = first or att
        mats.append(m)
        labels.append(name)
    return {"view": "snapshots", "kind": kind, "layer": layer_i, "head": head_v,
            "title": _title(kind, layer_i, head_v) + " across training", "matrices": np.stack(mats),
            "snapshots": labels, "mask": first["mask"], "x_labels": first["x_labels"],
            "y_labels": first["y_labels"], "x_axis": first["x_axis"], "y_axis": first["y_axis"],
            "x_pieces": first["x_pieces"], "y_pieces": first["y_pieces"], "unit": first["unit"],
            "text": series[-1][1].text, "translation": series[-1][1].translation,
            "vmin": 0.0, "vmax": _vmax(vmax, np.stack(mats))}


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
    """Nested dict to ``a/b`` keys of plain arrays (strings as unicode), one per JSON leaf;
    a null is an empty float array (its reason is under ``null_reasons/<path>``)."""
    out: dict[str, Any] = {}  # str -> np.ndarray
    for k, v in data.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(flatten(v, key + "/"))
        elif isinstance(v, dict):
            out[key] = np.zeros(0)  # an empty object: nothing under it
        elif v is None:
            out[key] = np.zeros(0)
        elif isinstance(v, np.ndarray):
            out[key] = v
        elif isinstance(v, list | tuple) and any(isinstance(x, list | tuple) for x in v):
            try:
                out[key] = np.array(v)  # e.g. candidates [T, k], roles [L, H]
            except ValueError:  # ragged (word groups): one string per row
                out[key] = np.array([json.dumps(x) for x in v], dtype=str)
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
