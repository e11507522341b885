"""An Inspection as JSON-ready data (the keys `attnscope inspect --json` prints), and the
schema header every dump shares (docs/dumps.md describes each key).

Every dump says which ``schema_version`` it follows, which bundle made it (folder name
and a content hash of the files that decide its numbers), how it decoded, that indices
count from 0, and that alignment links are (source, target) pairs as in Pharaoh. A field
that is null has its reason in ``null_reasons``, keyed by its path (``a.b``, ``a[].b``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from attnscope.core.inference.inspection import Inspection, node_rows

SCHEMA_VERSION = 2
INDEX_BASE = {
    "base": 0,
    "note": "layer, head, step, position and node indices in dumps count from 0; titles, the "
            "command line and the app count layers, heads and steps from 1",
}
LINK_ORDER = "source-target"  # every alignment link is [source position, target position], as Pharaoh's i-j
IDENTITY_FILES = ("config.json", "spm.model", "encoder.onnx", "decoder.onnx")
_HASHES: dict[tuple[str, int, int], str] = {}


def _file_digest(path: Path) -> str:
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _HASHES:
        h = hashlib.sha256()
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _HASHES[key] = h.hexdigest()
    return _HASHES[key]


def bundle_identity(bundle: Any) -> dict[str, Any] | None:
    """``{"name", "snapshot", "sha256"}``: the folder's name and one SHA-256 over the files
    that decide every number (config, tokenizer, the graphs that ran), so two dumps with
    the same hash came from the same model whatever the folder was called. None for a model
    that is not a bundle folder on disk (a test double)."""
    if not all(Path(bundle.file(name)).is_file() for name in IDENTITY_FILES):
        return None
    h = hashlib.sha256()
    for name in IDENTITY_FILES:
        f = bundle.file(name)
        h.update(name.encode() + b"\0" + _file_digest(f).encode() + b"\0")
    return {"name": Path(bundle.path).name, "snapshot": bundle.snapshot_name, "sha256": h.hexdigest()}


def decode_settings(ins: Inspection) -> dict[str, Any]:
    c = ins.config
    return {"strategy": c.strategy, "beam_size": c.beam_size, "length_penalty": c.length_penalty,
            "n_best": c.n_best, "temperature": c.temperature, "top_k": c.top_k, "top_p": c.top_p,
            "seed": c.seed, "max_len": c.max_len, "forced_prefix": list(c.forced_prefix)}


def header(kind: str, bundle: Any = None, ins: Inspection | None = None) -> dict[str, Any]:
    """The keys every dump starts with (``bundle`` None: not known to the caller)."""
    return {"schema_version": SCHEMA_VERSION, "dump": kind, "index_base": INDEX_BASE,
            "link_order": LINK_ORDER, "bundle": None if bundle is None else bundle_identity(bundle),
            "decode": None if ins is None else decode_settings(ins)}


def header_reasons(head: dict[str, Any]) -> dict[str, str]:
    """Why a header field is null."""
    reasons = {}
    if head["bundle"] is None:
        reasons["bundle"] = "the caller did not say which bundle made this, or it is not a folder on disk"
    elif head["bundle"]["snapshot"] is None:
        reasons["bundle.snapshot"] = "the final model ran, not a training snapshot"
    if head["decode"] is None:
        reasons["decode"] = "not drawn from a decode (training log or heads.json)"
    return reasons


def null_paths(obj: Any, path: str = "") -> Iterator[str]:
    """Paths of every null in ``obj`` (``a.b``; ``a[]`` for any element of a list)."""
    if obj is None:
        yield path
    elif isinstance(obj, dict):
        for k, v in obj.items():
            if k != "null_reasons":
                yield from null_paths(v, f"{path}.{k}" if path else str(k))
    elif isinstance(obj, list | tuple):
        for v in obj:
            yield from null_paths(v, f"{path}[]")


def unexplained_nulls(data: dict[str, Any]) -> set[str]:
    """Null paths with no reason in ``data["null_reasons"]`` (a dump must have none); a
    reason for ``a`` covers everything under it (``a.b``, ``a[]``)."""
    reasons = data.get("null_reasons") or {}
    return {p for p in null_paths(data) if not any(p == r or p.startswith((r + ".", r + "[")) for r in reasons)}


def _arr(a: np.ndarray, digits: int = 6) -> Any:
    return np.round(a.astype(np.float64), digits).tolist()


def inspection_to_json(ins: Inspection, top_logits: int = 10, piece: Callable[[int], str] | None = None,
                       node_attention: bool = False, bundle: Any = None) -> dict[str, Any]:
    """Plain dict: translation, pieces, every attention tensor, the beam tree, step logits, timings.

    ``top_logits`` > 0 keeps only the k most likely pieces of each step (ids, pieces and
    logits); 0 keeps the whole vocabulary (above 64k pieces: every piece the Inspection
    kept). Each step also gives ``log_z``, log-sum-exp of its whole row, so log p = z - log_z. ``node_attention`` adds, to every beam-tree node
    that was fed to the model, the attention of the step it fed (the whole tree's attention).
    """
    from attnscope.core.inference.alignment import inspection_aer

    known = {n.token: ins.node_pieces[n.id] for n in ins.nodes}
    name = piece or (lambda i: known.get(i, f"#{i}"))
    steps: list[Any] = []
    logits = ins.best.step_logits
    for t in range(len(logits)):
        if top_logits == 0 and logits.dense:  # the whole vocabulary, in id order
            z = logits.values[t]
            idx = np.arange(len(z))
        else:  # most likely first; above 64k pieces only the kept ones (core.inference.logits)
            idx, z = logits.kept(t)
            idx, z = (idx[:top_logits], z[:top_logits]) if top_logits > 0 else (idx, z)
        steps.append({"step": t, "ids": idx.tolist(), "pieces": [name(int(i)) for i in idx],
                      "logits": _arr(z, 4), "log_z": round(float(logits.log_z[t]), 6)})
    rows = node_rows(ins.steps)
    tree = []
    for n in ins.nodes:
        node: dict[str, Any] = {
            "id": n.id, "parent": n.parent, "token": n.token, "piece": ins.node_pieces[n.id],
            "logprob": round(n.logprob, 6), "cum_logprob": round(n.cum_logprob, 6), "score": round(n.score, 6),
            "step": n.step, "status": n.status, "forced": n.forced, "fed": n.id in rows}
        if node_attention:
            fed = rows.get(n.id)
            node["attention"] = None if fed is None else {
                "step": fed[0],
                "decoder_self_attention": _arr(ins.steps[fed[0]].self_attention[:, :, fed[1]]),  # [L, H, t+1]
                "cross_attention": _arr(ins.steps[fed[0]].cross_attention[:, :, fed[1]])}  # [L, H, S]
        tree.append(node)
    gold = inspection_aer(ins)
    head = header("inspection", bundle, ins)
    reasons = header_reasons(head)
    if gold is None:
        reasons["gold_alignment"] = ("the sentence is outside the generated grammar, whose gold "
                                     "alignments are the only ones the inspection knows")
        reasons["aer"] = reasons["gold_alignment"]
    else:
        if gold["links"] is None:
            reasons["gold_alignment.links"] = gold["note"]
        if gold["aer"] is None:
            reasons["aer"] = f"no gold links to score the heads against: {gold['note']}"
    if ins.norm_weighted("encoder") is None:
        reasons["norm_weighted_attention"] = "the bundle's graphs predate the value norms (export it again)"
    if ins.contributions is None:
        reasons["contributions"] = ("no ALTI+: the bundle has no contributions.onnx, it was switched off, "
                                    "or nothing was generated")
    if node_attention:
        reasons["beam_tree[].attention"] = "a node that was never fed to the model (pruned, or finished) has none"
    gold_out = None if gold is None else {
        "reference": gold["reference"], "pharaoh": gold["pharaoh"], "note": gold["note"],
        # core.inference.alignment gives (target, source); dumps use one order, source-target
        "links": None if gold["links"] is None else [[s, t] for t, s in gold["links"]]}
    return {
        **head,
        "text": ins.text,
        "translation": ins.translation,
        "source_pieces": list(ins.source_pieces),
        "target_pieces": list(ins.target_pieces),
        "decoder_input_pieces": list(ins.best.decoder_input_pieces),
        "truncated_input": ins.truncated_input,
        "truncated_output": ins.truncated_output,
        "encoder_self_attention": _arr(ins.encoder_attention),  # [L, H, S, S]
        "decoder_self_attention": _arr(ins.decoder_attention),  # [L, H, T, T]
        "cross_attention": _arr(ins.cross_attention),  # [L, H, T, S]
        "norm_weighted_attention": _norm_weighted(ins),  # the same three, ||alpha f(x)||
        "contributions": _contributions(ins),  # ALTI+ of the best hypothesis
        "beam_tree": tree,
        "hypotheses": [{"node_id": h.node_id, "pieces": _path_pieces(ins, h.node_id), "score": h.score,
                        "cum_logprob": h.cum_logprob, "finished": h.finished} for h in ins.hypotheses],
        "step_logits": steps,
        "gold_alignment": gold_out,
        "aer": None if gold is None else gold["aer"],
        "provider": ins.provider,
        "timings_ms": {k: round(v, 3) for k, v in ins.timings_ms.items()},
        "null_reasons": reasons,
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
