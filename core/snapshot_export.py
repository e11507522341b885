"""Snapshots and head tables of a bundle: what ``export_bundle`` adds after the final graphs.

Every ``RUN/snapshots/step-N.safetensors`` becomes ``BUNDLE/snapshots/step-N/`` with its own
encoder.onnx and decoder.onnx, a ``meta.json`` (step, fraction of training, the logged
train/valid loss nearest that step, its own teacher-forced loss on the probe set) and a
``heads.json``. When float graphs would push the bundle over its size budget they are
quantised to 8 bits (onnxruntime dynamic quantisation, MatMul and Gather weights), and
the attention of the 8-bit graphs is compared with the float ones on the probe set: the
difference is written to ``meta.json`` so nobody has to take it on trust.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.torch import load_file

from attnscope.core.bundle import Bundle, read_bundle
from attnscope.core.checkpoint import atomic_write_json
from attnscope.core.config import DecodeConfig
from attnscope.core.data import read_tsv
from attnscope.core.inference.engine import Engine, OrtRunner
from attnscope.core.inference.int8 import quantize_8bit
from attnscope.core.inference.probe import encode_pair, head_report, teacher_force
from attnscope.core.model import Transformer
from attnscope.core.runlog import read_metrics
from attnscope.core.tokenizer import Tokenizer

BUDGET_BYTES = 25_000_000  # the shipped bundle, snapshots included
PROBE_SENTENCES = 200  # valid pairs for heads.json
SNAPSHOT_PROBE = 100  # valid pairs for each snapshot's own numbers
QUANT_PROBE = 24  # sentences the 8-bit-vs-float attention comparison runs on
SNAPSHOT_FILES_BYTES = 16_000  # meta.json + heads.json of one snapshot, for the budget


def probe_pairs(run: Path) -> list[tuple[str, str, str | None]]:
    """The run's validation pairs, with gold alignments when the corpus has them: the
    generated corpus's valid.tsv, else the split training held out of the user's own
    corpus (rebuilt from the provenance in the run's config.json), so every export
    measures its heads; AER only where a third TSV column gave Pharaoh links."""
    f = run / "data" / "valid.tsv"
    if f.is_file():
        return [(p.en, p.ko, p.alignment) for p in read_tsv(f).pairs]
    return _own_corpus_pairs(run)


def _own_corpus_pairs(run: Path) -> list[tuple[str, str, str | None]]:
    from attnscope.core.data.corpus import CorpusError, load_corpus

    try:
        prov = json.loads((run / "config.json").read_text(encoding="utf-8")).get("data") or {}
    except (OSError, ValueError):
        return []
    kind = str(prov.get("kind"))
    arg = {"tsv": prov.get("file"), "folder": prov.get("folder"),
           "parallel": f"{prov.get('source')},{prov.get('target')}"}.get(kind)
    if not arg:
        return []
    try:
        corpus = load_corpus(arg, run / "data")
    except (CorpusError, OSError):
        return []  # the corpus has moved since training: no probe, no heads.json
    tsvs = [Path(arg)] if kind == "tsv" else [Path(arg) / "valid.tsv", Path(arg) / "train.tsv"] if kind == "folder" else []
    links: dict[tuple[str, str], str | None] = {}
    for tsv in tsvs:
        if tsv.is_file():
            for pr in read_tsv(tsv).pairs:
                links.setdefault((pr.en, pr.ko), pr.alignment)
    return [(en, ko, links.get((en, ko))) for en, ko in corpus.valid]


def _nearest(records: list[dict[str, Any]], step: int) -> dict[str, Any] | None:
    return min(records, key=lambda r: (abs(int(r["step"]) - step), r["step"])) if records else None


def _same_weights(a: dict[str, Any], b: dict[str, Any]) -> bool:
    import torch

    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _folder_bytes(d: Path) -> int:
    return sum(p.stat().st_size for p in d.rglob("*") if p.is_file())


def attention_difference(float_b: Bundle, quant_b: Bundle, tok: Tokenizer,
                         pairs: list[tuple[str, str, str | None]]) -> dict[str, Any]:
    """Max and mean |Δ| of every attention tensor (teacher-forced on ``pairs``) between
    the float and the 8-bit graphs, and how often greedy translations agree."""
    m = float_b.model
    ids = [encode_pair(tok, m, en, ko) for en, ko, _ in pairs]
    srcs, tgts = [s for s, _ in ids], [t for _, t in ids]
    a = teacher_force(OrtRunner(float_b, want_cuda=False), m, srcs, tgts)
    b = teacher_force(OrtRunner(quant_b, want_cuda=False), m, srcs, tgts)
    out: dict[str, Any] = {"sentences": len(pairs)}
    for kind in ("encoder", "decoder", "cross"):
        diffs = [np.abs(getattr(x, kind) - getattr(y, kind)) for x, y in zip(a, b, strict=True)]
        flat = np.concatenate([d.ravel() for d in diffs])
        out[f"{kind}_max_abs_diff"] = round(float(flat.max()), 6)
        out[f"{kind}_p99_abs_diff"] = round(float(np.quantile(flat, 0.99)), 6)
        out[f"{kind}_mean_abs_diff"] = round(float(flat.mean()), 6)
        # the most attended source/key of each row: does 8-bit keep it?
        same = [np.mean(x.argmax(-1) == y.argmax(-1)) for x, y in
                zip((getattr(f, kind) for f in a), (getattr(g, kind) for g in b), strict=True)]
        out[f"{kind}_argmax_agreement"] = round(float(np.mean(same)), 4)
    fe, qe = Engine.load(float_b, device="cpu"), Engine.load(quant_b, device="cpu")
    greedy = DecodeConfig(strategy="greedy", max_len=48)
    n_same = sum(fe.inspect(en, greedy).translation == qe.inspect(en, greedy).translation for en, _, _ in pairs)
    out["identical_greedy"] = f"{n_same}/{len(pairs)}"
    return out


def write_head_report(bundle: Bundle, tok: Tokenizer, pairs: list[tuple[str, str, str | None]],
                      out: Path, limit: int) -> dict[str, Any] | None:
    if not pairs:
        return None
    report = head_report(OrtRunner(bundle, want_cuda=False), tok, bundle.model, pairs, limit=limit)
    atomic_write_json(out, report)
    return report


def thin_to_budget(sizes: dict[int, int], room: int) -> list[int]:
    """Steps to drop so the snapshots' ``sizes`` fit in ``room`` bytes: never the first or
    the last, each time the one whose removal leaves the smallest gap in log(step + 1)."""
    keep = sorted(sizes)
    dropped: list[int] = []
    while sum(sizes[s] for s in keep) > room and len(keep) > 2:
        logs = [np.log1p(s) for s in keep]
        gap = {keep[i]: logs[i + 1] - logs[i - 1] for i in range(1, len(keep) - 1)}
        victim = min(gap, key=lambda s: (gap[s], s))
        keep.remove(victim)
        dropped.append(victim)
    return sorted(dropped)


def export_snapshots(run: Path, staging: Path, metadata: dict[str, str], quantize: str = "auto",
                     budget: int = BUDGET_BYTES) -> dict[str, Any]:
    """Write ``staging/snapshots/step-N/`` for every snapshot of ``run``.

    ``quantize``: "auto" quantises to 8 bits only when float would exceed ``budget`` and,
    if even that does not fit, leaves out intermediate snapshots (recorded as
    ``dropped``); "int8" always quantises; "none" never (and never drops).
    """
    from attnscope.core.onnx_export import export_graphs  # here: onnx_export imports this module

    files = sorted((run / "snapshots").glob("step-*.safetensors"))
    if not files:
        return {"count": 0}
    bundle = read_bundle(staging)
    tok = Tokenizer.load(staging / "spm.model")
    records = read_metrics(run)
    train_recs = [r for r in records if r.get("kind") == "train"]
    valid_recs = [r for r in records if r.get("kind") == "valid"]
    run_cfg = json.loads((run / "config.json").read_text())
    max_steps = int(run_cfg.get("train", {}).get("max_steps") or 0)
    pairs = probe_pairs(run)
    root = staging / "snapshots"
    shutil.rmtree(root, ignore_errors=True)
    final = load_file(str(run / "weights.safetensors")) if (run / "weights.safetensors").exists() else None
    names: dict[int, tuple[Path, bool]] = {}  # step -> (folder, is the final model itself)
    for f in files:
        step = int(f.stem.split("-")[1])
        weights = load_file(str(f))
        d = root / f"step-{step:06d}"
        d.mkdir(parents=True)
        if f == files[-1] and final is not None and _same_weights(weights, final):
            # The last snapshot is the final model: it runs the bundle's own float graphs
            # instead of a second copy of them.
            atomic_write_json(d / "meta.json", {"step": step, "graphs": "final"})
            names[step] = (d, True)
            continue
        model = Transformer(bundle.model)
        model.load_state_dict(weights)
        export_graphs(model, d, metadata, contributions=False)  # ALTI+ runs on the final model only
        names[step] = (d, False)
    float_bytes = _folder_bytes(root)
    main_bytes = _folder_bytes(staging) - float_bytes
    use_8bit = quantize == "int8" or (quantize == "auto" and main_bytes + float_bytes > budget)
    summary: dict[str, Any] = {"count": len(names), "float_bytes": float_bytes, "budget_bytes": budget,
                               "quantization": "8-bit dynamic (uint8 weights)" if use_8bit else "none"}
    quant: dict[int, dict[str, Any]] = {}
    for step, (d, is_final) in names.items():
        if not use_8bit or is_final:
            continue
        fdir = d / "float"
        fdir.mkdir()
        for g in ("encoder.onnx", "decoder.onnx"):
            (d / g).rename(fdir / g)
            quantize_8bit(fdir / g, d / g)
        q: dict[str, Any] = {"type": "8-bit dynamic", "weights": "uint8", "ops": ["MatMul", "Gather"],
             "float_bytes": _folder_bytes(fdir), "bytes": _folder_bytes(d) - _folder_bytes(fdir)}
        if pairs:
            q.update(attention_difference(replace(bundle, graphs=fdir), bundle.snapshot(d.name), tok,
                                          pairs[:QUANT_PROBE]))
        shutil.rmtree(fdir)
        quant[step] = q
    if quantize == "auto":
        sizes = {step: _folder_bytes(d) + SNAPSHOT_FILES_BYTES for step, (d, _) in names.items()}
        dropped = thin_to_budget(sizes, budget - main_bytes)
        for step in dropped:
            shutil.rmtree(names.pop(step)[0])
            quant.pop(step, None)
        summary["dropped"] = dropped  # left out to stay within the budget
        summary["count"] = len(names)
    worst: dict[str, float] = {}
    for q in quant.values():
        for k, v in q.items():
            if k.endswith("abs_diff"):
                worst[k] = max(worst.get(k, 0.0), float(v))
            elif k.endswith("argmax_agreement"):
                worst[k] = min(worst.get(k, 1.0), float(v))
    for step, (d, is_final) in names.items():
        heads = write_head_report(bundle.snapshot(d.name), tok, pairs, d / "heads.json", SNAPSHOT_PROBE)
        tr, va = _nearest(train_recs, step), _nearest(valid_recs, step)
        meta: dict[str, Any] = {
            "step": step, "fraction": round(step / max_steps, 4) if max_steps else None,
            "graphs": "final" if is_final else "own",
            "train_loss": tr["loss"] if tr else None, "train_loss_step": tr["step"] if tr else None,
            "valid": {k: va[k] for k in ("step", "bleu", "chrf", "exact_match", "valid_loss") if k in va}
            if va else None,
            "valid_loss": va.get("valid_loss") if va else None,
            "probe_nll": heads["nll"] if heads else None, "probe_ppl": heads["ppl"] if heads else None,
            "probe_sentences": heads["sentences"] if heads else 0,
            "best_head": heads["best_head"] if heads else None, "best_aer": heads["best_aer"] if heads else None,
            "quantization": quant.get(step),
        }
        atomic_write_json(d / "meta.json", meta)
    summary["bytes"] = _folder_bytes(root)
    summary["steps"] = sorted(names)
    if worst:
        summary["attention_vs_float"] = worst  # the worst snapshot on each measure
    return summary


def add_heads_and_snapshots(run: Path, staging: Path, metadata: dict[str, str], snapshots: bool = True,
                            quantize: str = "auto") -> dict[str, Any]:
    """``heads.json`` of the final model and, with ``snapshots``, every snapshot of ``run``.

    Returns the summary ``export_bundle`` reports and keeps in config.json.
    """
    bundle = read_bundle(staging)
    tok = Tokenizer.load(staging / "spm.model")
    heads = write_head_report(bundle, tok, probe_pairs(run), staging / "heads.json", PROBE_SENTENCES)
    out: dict[str, Any] = {"heads": None if heads is None else {
        k: heads[k] for k in ("sentences", "aligned_sentences", "nll", "best_head", "best_aer")}}
    if snapshots:
        out["snapshots"] = export_snapshots(run, staging, metadata, quantize)
    return out
