"""Export a trained run to a model bundle: encoder and one-step decoder ONNX graphs that
output every attention matrix, plus the parity check against torch (``--verify``).
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
import shutil
import time
import warnings
from pathlib import Path
from typing import Any, cast

import numpy as np
import onnx
import torch
from torch import Tensor, nn
from torch.nn import functional as F  # noqa: N812

from attnscope.core.bundle import FORMAT_VERSION, read_bundle
from attnscope.core.checkpoint import atomic_write_json
from attnscope.core.config import DecodeConfig, ModelConfig, to_dict
from attnscope.core.contributions import CONTRIB_INPUTS, CONTRIB_OUTPUTS, ContributionsGraph
from attnscope.core.inference.engine import EncoderOutput, Engine, StepOutput
from attnscope.core.inference.familiarity import write_piece_counts
from attnscope.core.inference.logits import difference
from attnscope.core.model import NEG_INF, DecoderLayer, EncoderLayer, MultiHeadAttention, Transformer
from attnscope.core.runlog import read_metrics
from attnscope.core.snapshot_export import add_heads_and_snapshots
from attnscope.core.tokenizer import Tokenizer
from attnscope.core.train import load_run_model

OPSET = 17
ENCODER_INPUTS = ["src_ids", "src_mask"]
# enc_vnorm, cross_vnorm [L,B,H,S] and self_vnorm [L,B,H,1]: ||f_h(x_j)|| of every value,
# so the engine can draw norm-based attention (Kobayashi et al. 2020) as alpha * norm.
ENCODER_OUTPUTS = ["memory", "enc_attn", "cross_k", "cross_v", "enc_vnorm", "cross_vnorm"]
DECODER_INPUTS = ["token", "position", "src_mask", "cross_k", "cross_v", "past_k", "past_v"]
DECODER_OUTPUTS = ["logits", "present_k", "present_v", "self_attn", "cross_attn", "self_vnorm"]


GRAPH_FILES = ("encoder.onnx", "decoder.onnx", "contributions.onnx")
# A graph whose weights are over this many bytes keeps them in "<graph>.data" beside it
# (ONNX external data): one protobuf message cannot exceed 2 GiB.
EXTERNAL_DATA_OVER = 2_000_000_000
INLINE_UNDER = 1024  # tensors smaller than this stay in the graph (shapes, scalars: what shape inference reads)


def additive_mask(src_mask: Tensor) -> Tensor:
    """[B, S] of 1 (piece) / 0 (pad) → [B, 1, 1, S] additive attention mask."""
    return ((1 - src_mask).float() * NEG_INF)[:, None, None, :]


class EncoderGraph(nn.Module):
    """src_ids, src_mask → memory, enc_attn [L,B,H,S,S], cross keys/values [L,B,H,S,d_k].

    ``Transformer.encode`` and ``cross_kv`` with each self-attention's Q/K/V, and each cross
    attention's K/V, as one projection on stacked weights; value norms reuse the attention's
    own values and each head's Gram matrix of W_O (no second V projection, no copy of W_O).
    """

    def __init__(self, model: Transformer) -> None:
        super().__init__()
        self.model = model
        for i, layer in enumerate(model.encoder):
            sa = cast(EncoderLayer, layer).self_attn
            _stacked(self, f"qkv{i}", sa.w_q, sa.w_k, sa.w_v)
            self.register_buffer(f"gram{i}", _gram(sa))
        for i, layer in enumerate(model.decoder):
            ca = cast(DecoderLayer, layer).cross_attn
            _stacked(self, f"kv{i}", ca.w_k, ca.w_v)
            self.register_buffer(f"cross_gram{i}", _gram(ca))

    def forward(self, src_ids: Tensor, src_mask: Tensor) -> tuple[Tensor, ...]:
        m = self.model
        x = m.pos(m.embed_scaled(src_ids))  # (B, S, D)
        mask = additive_mask(src_mask)
        attns, norms = [], []
        for i, layer in enumerate(m.encoder):
            lay = cast(EncoderLayer, layer)
            sa = lay.self_attn
            qkv = F.linear(lay.sub1.inp(x), getattr(self, f"qkv{i}_w"), getattr(self, f"qkv{i}_b"))
            q, k, v = (sa.split(t) for t in qkv.chunk(3, dim=-1))  # (B, H, S, d_k) each
            a, probs = sa.attend_heads(q, k, v, mask)
            x = lay.sub1.out(x, a)
            x = lay.sub2.out(x, lay.ffn(lay.sub2.inp(x)))
            attns.append(probs)
            norms.append(_gram_norms(v, getattr(self, f"gram{i}")))
        memory = m.enc_norm(x)
        keys, values, cross_norms = [], [], []
        for i, layer in enumerate(m.decoder):
            ca = cast(DecoderLayer, layer).cross_attn
            k, v = (ca.split(t) for t in F.linear(memory, getattr(self, f"kv{i}_w"),
                                                   getattr(self, f"kv{i}_b")).chunk(2, dim=-1))
            keys.append(k)
            values.append(v)
            cross_norms.append(_gram_norms(v, getattr(self, f"cross_gram{i}")))
        return (memory, torch.stack(attns), torch.stack(keys), torch.stack(values),
                torch.stack(norms), torch.stack(cross_norms))


def _stacked(graph: nn.Module, name: str, *linears: nn.Linear) -> None:
    """Buffers ``<name>_w`` / ``<name>_b``: the linears' weights and biases stacked, so the
    graph computes their projections of one input as one Gemm."""
    with torch.no_grad():
        graph.register_buffer(f"{name}_w", torch.cat([lin.weight for lin in linears]))
        graph.register_buffer(f"{name}_b", torch.cat([lin.bias for lin in linears]))


def _gram(attn: MultiHeadAttention) -> Tensor:
    """(H, d_k, d_k) Gram matrices G_h = W_O^h W_O^h^T of an attention's output projection."""
    with torch.no_grad():
        w_o = attn.w_o.weight.t().reshape(attn.n_heads, attn.d_k, -1)  # (H, d_k, D): W_O^h stacked
        return w_o @ w_o.transpose(-2, -1)


def _gram_norms(v: Tensor, gram: Tensor) -> Tensor:
    """``MultiHeadAttention.value_norms`` of v (B, H, S, d_k) as sqrt(v G_h v^T) (B, H, S):
    ||v W_O^h|| from 1/8 of W_O's bytes at d_k = 64."""
    return ((v @ gram) * v).sum(dim=-1).clamp_min(0.0).sqrt()


class DecoderStepGraph(nn.Module):
    """One decoding step with a key/value cache; every layer's attention for the new position.

    The same arithmetic as ``DecoderLayer.forward`` with one new position, written for a
    step: rows are [B, D] (every projection is one Gemm with its bias), the self-attention's
    Q, K and V are one Gemm on their stacked weights, reshapes have constant shapes, and the
    new piece's value norm uses each head's d_k x d_k Gram matrix of W_O instead of a second
    copy of W_O (``_gram_norms``). A step reads little more than its weights (benchmarks/bench_real_size.py).
    """

    def __init__(self, model: Transformer) -> None:
        super().__init__()
        self.model = model
        for i, layer in enumerate(model.decoder):
            sa = cast(DecoderLayer, layer).self_attn
            _stacked(self, f"qkv{i}", sa.w_q, sa.w_k, sa.w_v)
            self.register_buffer(f"gram{i}", _gram(sa))  # (H, d_k, d_k)

    def forward(self, token: Tensor, position: Tensor, src_mask: Tensor, cross_k: Tensor,
                cross_v: Tensor, past_k: Tensor, past_v: Tensor) -> tuple[Tensor, ...]:
        m = self.model
        y = m.embed_target(token, position)[:, 0]  # (B, D)
        mask = additive_mask(src_mask)  # (B, 1, 1, S)
        keys, values, selfs, crosses, norms = [], [], [], [], []
        for i, layer in enumerate(m.decoder):
            lay = cast(DecoderLayer, layer)
            sa, ca = lay.self_attn, lay.cross_attn
            h, dk = sa.n_heads, sa.d_k
            d = h * dk
            x = lay.sub1.inp(y)
            qkv = F.linear(x, getattr(self, f"qkv{i}_w"), getattr(self, f"qkv{i}_b"))  # (B, 3D): one Gemm
            q = qkv[:, :d].reshape(-1, h, 1, dk)
            k = torch.cat([past_k[i], qkv[:, d:2 * d].reshape(-1, h, 1, dk)], dim=2)  # (B, H, P+1, d_k)
            v_new = qkv[:, 2 * d:].reshape(-1, h, 1, dk)
            v = torch.cat([past_v[i], v_new], dim=2)
            a, sp = _attend_one(sa, q, k, v, None)
            y = lay.sub1.out(y, a)
            q = F.linear(lay.sub2.inp(y), ca.w_q.weight, ca.w_q.bias).reshape(-1, h, 1, dk)
            c, cp = _attend_one(ca, q, cross_k[i], cross_v[i], mask)
            y = lay.sub2.out(y, c)
            y = lay.sub3.out(y, lay.ffn(lay.sub3.inp(y)))
            keys.append(k)
            values.append(v)
            selfs.append(sp)
            crosses.append(cp)
            norms.append(_gram_norms(v_new, getattr(self, f"gram{i}")))  # (B, H, 1): the new piece
        logits = output_projection(m, m.dec_norm(y))  # (B, V)
        return (logits, torch.stack(keys), torch.stack(values), torch.stack(selfs), torch.stack(crosses),
                torch.stack(norms))


def _attend_one(attn: MultiHeadAttention, q: Tensor, k: Tensor, v: Tensor,
                mask: Tensor | None) -> tuple[Tensor, Tensor]:
    """``MultiHeadAttention.attend_heads`` for one query row per sequence: q (B, H, 1, d_k) ->
    (output (B, D), probabilities (B, H, 1, S)). With one row, (B, H, 1, d_k) is already
    laid out as the concatenated heads: no transpose."""
    probs = attn.weights(q, k, mask)
    out = (probs @ v).reshape(-1, attn.n_heads * attn.d_k)
    return F.linear(out, attn.w_o.weight, attn.w_o.bias), probs


def output_projection(m: Transformer, h: Tensor) -> Tensor:
    """``m.generator`` on [B, D] as one Gemm(transB=1): the tied embedding table is read in
    place (``y @ W.t()`` would make the exporter fold a transposed copy of it, +1 GB at a
    256k vocabulary)."""
    if m.out_proj is not None:
        weight = m.out_proj.weight
    else:
        weight = (m.embed if m.tgt_embed is None else m.tgt_embed).weight
    # With a bias the exporter writes Gemm; without one, MatMul on a folded transpose. A
    # broadcast scalar zero is the smallest bias there is.
    bias = m.logits_bias if m.cfg.logits_bias else torch.zeros(1, dtype=h.dtype)
    return F.linear(h, weight, bias)  # (B, V)


def _example_inputs(cfg: ModelConfig) -> tuple[tuple[Tensor, ...], tuple[Tensor, ...]]:
    # Made outside inference_mode: the exporter cannot trace inference tensors.
    b, s, p = 2, 5, 3
    src = torch.randint(4, cfg.vocab_size, (b, s))
    src_mask = torch.ones(b, s, dtype=torch.long)
    shape = (cfg.n_decoder_layers, b, cfg.decoder_n_heads, s, cfg.decoder_d_k)
    past = (cfg.n_decoder_layers, b, cfg.decoder_n_heads, p, cfg.decoder_d_k)
    dec = (torch.randint(4, cfg.vocab_size, (b, 1)), torch.tensor([p], dtype=torch.long), src_mask,
           torch.randn(shape), torch.randn(shape), torch.randn(past), torch.randn(past))
    return (src, src_mask), dec


def export_contributions(model: Transformer, path: Path, src: Tensor, tgt: Tensor) -> None:
    """Write the ALTI+ graph without weights: its parameters are inputs named as in
    ``weights.safetensors``, which the engine feeds, so the bundle holds them once."""
    torch.onnx.export(
        ContributionsGraph(model), (src, tgt), str(path), dynamo=False, export_params=False,
        do_constant_folding=False,  # folding would bake transposed copies of the weights in
        input_names=CONTRIB_INPUTS, output_names=CONTRIB_OUTPUTS, opset_version=OPSET,
        dynamic_axes={"src_ids": {1: "src_len"}, "tgt_ids": {1: "tgt_len"},
                      "enc_alti": {1: "src_len", 2: "src_len"}, "dec_self_alti": {1: "tgt_len", 2: "tgt_len"},
                      "cross_alti": {1: "tgt_len", 2: "src_len_1"}},
    )
    proto = onnx.load(str(path))
    renames = {i.name: i.name.removeprefix("model.") for i in proto.graph.input if i.name.startswith("model.")}
    for i in proto.graph.input:
        i.name = renames.get(i.name, i.name)
    for node in proto.graph.node:
        node.input[:] = [renames.get(n, n) for n in node.input]
    onnx.save(proto, str(path))


def export_graphs(model: Transformer, out: Path, metadata: dict[str, str], contributions: bool = True,
                  external_over: int = EXTERNAL_DATA_OVER) -> None:
    """Write encoder.onnx and decoder.onnx (TorchScript exporter: ~0.5 s, matches torch), and
    with ``contributions`` the ALTI+ graph (core.contributions).

    A graph with more than ``external_over`` bytes of weights stores them in one
    ``<graph>.data`` file beside it (NLLB-size models); onnxruntime reads it from there."""
    model.eval()
    enc_in, dec_in = _example_inputs(model.cfg)
    scratch = out / ".export"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # Each graph in its own scratch folder: over 2 GB the exporter writes one file per tensor.
        (scratch / "encoder").mkdir()
        torch.onnx.export(
            EncoderGraph(model), enc_in, str(scratch / "encoder" / "encoder.onnx"), dynamo=False,
            input_names=ENCODER_INPUTS, output_names=ENCODER_OUTPUTS, opset_version=OPSET,
            dynamic_axes={"src_ids": {0: "batch", 1: "src_len"}, "src_mask": {0: "batch", 1: "src_len"},
                          "memory": {0: "batch", 1: "src_len"}, "enc_attn": {1: "batch", 3: "src_len", 4: "src_len"},
                          "cross_k": {1: "batch", 3: "src_len"}, "cross_v": {1: "batch", 3: "src_len"},
                          "enc_vnorm": {1: "batch", 3: "src_len"}, "cross_vnorm": {1: "batch", 3: "src_len"}},
        )
        _finish_graph(scratch / "encoder" / "encoder.onnx", out, metadata, external_over)
        (scratch / "decoder").mkdir()
        torch.onnx.export(
            DecoderStepGraph(model), dec_in, str(scratch / "decoder" / "decoder.onnx"), dynamo=False,
            input_names=DECODER_INPUTS, output_names=DECODER_OUTPUTS, opset_version=OPSET,
            dynamic_axes={"token": {0: "batch"}, "src_mask": {0: "batch", 1: "src_len"},
                          "cross_k": {1: "batch", 3: "src_len"}, "cross_v": {1: "batch", 3: "src_len"},
                          "past_k": {1: "batch", 3: "past_len"}, "past_v": {1: "batch", 3: "past_len"},
                          "logits": {0: "batch"}, "present_k": {1: "batch", 3: "total_len"},
                          "present_v": {1: "batch", 3: "total_len"}, "self_attn": {1: "batch", 4: "total_len"},
                          "cross_attn": {1: "batch", 4: "src_len"}, "self_vnorm": {1: "batch"}},
        )
        _finish_graph(scratch / "decoder" / "decoder.onnx", out, metadata, external_over)
        if contributions:  # no weights inside: they are fed from weights.safetensors
            export_contributions(model, out / "contributions.onnx", enc_in[0][:1], dec_in[0][:1].repeat(1, 4))
            _finish_graph(out / "contributions.onnx", out, metadata, external_over)
    shutil.rmtree(scratch, ignore_errors=True)


def _weight_bytes(proto: onnx.ModelProto) -> int:
    """Bytes of a graph's initializers, inline or external (the data is not read)."""
    total = 0
    for init in proto.graph.initializer:
        if init.data_location == onnx.TensorProto.EXTERNAL:
            total += int({e.key: e.value for e in init.external_data}.get("length", 0))
        else:
            total += init.ByteSize()
    return total


def _finish_graph(src: Path, out: Path, metadata: dict[str, str], external_over: int) -> None:
    """Check the exported graph, stamp the metadata and write it to ``out`` under its name,
    its weights inline or, over ``external_over`` bytes, in one ``<name>.data`` file.

    The weights are never all in memory at once here: an exporter's per-tensor files are
    copied one tensor at a time into the one data file."""
    name = src.name
    proto = onnx.load(str(src), load_external_data=False)
    external = any(i.data_location == onnx.TensorProto.EXTERNAL for i in proto.graph.initializer)
    if external:
        onnx.checker.check_model(str(src))  # by path: a model over 2 GB is checked in place
    else:
        onnx.checker.check_model(proto)
    del proto.metadata_props[:]
    for k, v in metadata.items():
        proto.metadata_props.add(key=k, value=v)
    data = out / (name + ".data")
    data.unlink(missing_ok=True)
    if external:
        _gather_external(proto, src.parent, data)
        onnx.save(proto, str(out / name))
    elif _weight_bytes(proto) > external_over:
        onnx.save_model(proto, str(out / name), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=data.name, size_threshold=INLINE_UNDER)
    else:
        onnx.save(proto, str(out / name))


def _gather_external(proto: onnx.ModelProto, folder: Path, data: Path, align: int = 4096) -> None:
    """Copy every external tensor of ``proto`` (files under ``folder``) into ``data``, one at
    a time, and point the initializers there (offsets aligned for memory mapping)."""
    with data.open("wb") as f:
        for init in proto.graph.initializer:
            if init.data_location != onnx.TensorProto.EXTERNAL:
                continue
            info = {e.key: e.value for e in init.external_data}
            with (folder / info["location"]).open("rb") as part:
                part.seek(int(info.get("offset", 0)))
                blob = part.read(int(info["length"])) if "length" in info else part.read()
            del init.external_data[:]
            if len(blob) < INLINE_UNDER:
                init.data_location = onnx.TensorProto.DEFAULT
                init.raw_data = blob
                continue
            f.write(b"\0" * (-f.tell() % align))
            offset = f.tell()
            f.write(blob)
            del blob
            for k, v in (("location", data.name), ("offset", str(offset)), ("length", str(f.tell() - offset))):
                init.external_data.add(key=k, value=v)


class TorchRunner:
    """The same decode as the ONNX engine, run eagerly in torch (for parity and benchmarks)."""

    def __init__(self, model: Transformer) -> None:
        self.enc, self.dec = EncoderGraph(model.eval()), DecoderStepGraph(model.eval())

    @torch.no_grad()
    def encode(self, src_ids: np.ndarray, src_mask: np.ndarray) -> EncoderOutput:
        out = self.enc(torch.from_numpy(src_ids), torch.from_numpy(src_mask))
        return EncoderOutput(*(t.numpy() for t in out))

    @torch.no_grad()
    def step(self, token: np.ndarray, position: np.ndarray, src_mask: np.ndarray, cross_k: np.ndarray,
             cross_v: np.ndarray, past_k: np.ndarray, past_v: np.ndarray) -> StepOutput:
        args = [torch.from_numpy(np.ascontiguousarray(a)) for a in
                (token, position, src_mask, cross_k, cross_v, past_k, past_v)]
        return StepOutput(*(t.numpy() for t in self.dec(*args)))


def verify_parity(bundle: Path, model: Transformer, sentences: list[str], max_len: int = 64) -> dict[str, Any]:
    """Decode ``sentences`` with onnxruntime and with torch: max |Δ| of logits and every
    attention tensor, and whether greedy and beam-4 outputs are identical."""
    ort_engine = Engine.load(bundle)
    torch_engine = Engine.load(bundle, runner=TorchRunner(model))
    worst: dict[str, float] = {"logits": 0.0, "encoder_attention": 0.0, "self_attention": 0.0,
                               "cross_attention": 0.0}
    same = {"greedy": 0, "beam4": 0}
    for text in sentences:
        for name, cfg in (("greedy", DecodeConfig(strategy="greedy", max_len=max_len)),
                          ("beam4", DecodeConfig(strategy="beam", beam_size=4, max_len=max_len))):
            a, b = ort_engine.inspect(text, cfg), torch_engine.inspect(text, cfg)
            same[name] += int(a.translation == b.translation and
                              [n.token for n in a.nodes] == [n.token for n in b.nodes])
            worst["encoder_attention"] = max(worst["encoder_attention"],
                                             float(np.abs(a.encoder_attention - b.encoder_attention).max()))
            for sa, sb in zip(a.steps, b.steps, strict=False):
                if len(sa.logits) != len(sb.logits):
                    break
                worst["logits"] = max(worst["logits"], difference(sa.logits, sb.logits))
                worst["self_attention"] = max(worst["self_attention"],
                                              float(np.abs(sa.self_attention - sb.self_attention).max()))
                worst["cross_attention"] = max(worst["cross_attention"],
                                               float(np.abs(sa.cross_attention - sb.cross_attention).max()))
    n = len(sentences)
    ok = all(v <= 1e-4 for v in worst.values()) and same["greedy"] == n and same["beam4"] == n
    return {"sentences": n, "max_abs_diff": worst, "identical_greedy": same["greedy"],
            "identical_beam4": same["beam4"], "verified": ok}


def export_bundle(run: Path, out: Path, verify: bool = False, snapshots: bool = True,
                  sentences: list[str] | None = None, quantize: str = "auto") -> dict[str, Any]:
    """Write the bundle of DESIGN.md from a run folder; optionally check parity with torch.

    With ``snapshots`` every training snapshot of the run goes to ``snapshots/`` (int8 when
    ``quantize`` says so, see core.snapshot_export); ``heads.json`` is always measured."""
    t0 = time.perf_counter()
    model, tok, run_cfg = load_run_model(run)
    source = _source_bundle(run)
    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    metrics = read_metrics(run)
    valid = [m for m in metrics if m.get("kind") == "valid"]
    config = {
        "format_version": FORMAT_VERSION,
        "name": run.name,
        "languages": {"source": "en", "target": "ko"} if run_cfg.get("data", {}).get("kind") == "generated"
        else run_cfg.get("languages", {"source": "src", "target": "tgt"}),
        "model": to_dict(model.cfg),
        "tokenizer": {"type": "sentencepiece", "file": "spm.model", "vocab_size": len(tok),
                      **tok.special.to_config(), "shared": True, "byte_fallback": True},
        "onnx": {"opset": OPSET, "encoder": {"inputs": ENCODER_INPUTS, "outputs": ENCODER_OUTPUTS},
                 "decoder": {"inputs": DECODER_INPUTS, "outputs": DECODER_OUTPUTS},
                 "contributions": {"inputs": CONTRIB_INPUTS, "outputs": CONTRIB_OUTPUTS}},
        "provenance": {
            "run": str(run), "preset": run_cfg.get("preset"), "train": run_cfg.get("train"),
            "data": run_cfg.get("data"), "steps": metrics[-1]["step"] if metrics else None,
            "final_validation": valid[-1] if valid else None, "torch": torch.__version__,
            "onnx": onnx.__version__, "python": platform.python_version(),
            "exported": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        },
    }
    meta = {"attnscope_config": json.dumps({k: config[k] for k in ("format_version", "model", "tokenizer")})}
    export_graphs(model, staging, meta)
    tok.save(staging / "spm.model")
    write_piece_counts(run, staging, tok)  # what the window marks as barely or never seen
    shutil.copyfile(run / "weights.safetensors", staging / "weights.safetensors") \
        if (run / "weights.safetensors").exists() else None
    if (run / "metrics.jsonl").exists():
        shutil.copyfile(run / "metrics.jsonl", staging / "metrics.jsonl")
    if source is not None:  # a bundle re-exported: what it measured when it was made comes along
        extras = _carry_over(run, staging, source, config)
    else:
        atomic_write_json(staging / "config.json", config)
        extras = add_heads_and_snapshots(run, staging, meta, snapshots=snapshots, quantize=quantize)
    config.update(extras)
    atomic_write_json(staging / "config.json", config)
    read_bundle(staging)  # the bundle we hand out must load
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    report: dict[str, Any] = {"bundle": str(out), "export_s": round(time.perf_counter() - t0, 2),
                              "files": {p.name: p.stat().st_size for p in sorted(out.iterdir()) if p.is_file()},
                              "bytes": sum(p.stat().st_size for p in out.rglob("*") if p.is_file()), **extras}
    if verify:
        texts = sentences or _verify_sentences(run, 60)
        report["verify"] = verify_parity(out, model, texts)
        report["verified"] = report["verify"]["verified"]
    return report


def _source_bundle(folder: Path) -> dict[str, Any] | None:
    """The config.json of ``folder`` when it is a bundle of ours (not a training run)."""
    try:
        cfg = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    is_bundle = "format_version" in cfg and (folder / "encoder.onnx").is_file()
    return cfg if is_bundle and cfg.get("tokenizer", {}).get("file") == "spm.model" else None


def _carry_over(source_dir: Path, staging: Path, source: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """Re-exporting a bundle from its own weights: its name, languages and provenance, and
    what was measured from its training run (heads.json, piece_counts.json, the snapshots,
    which keep their graphs) stay; the new graphs are stamped in the provenance. Returns
    the config sections carried (heads, snapshots)."""
    for key in ("name", "languages"):
        if key in source:
            config[key] = source[key]
    old = dict(source.get("provenance") or {})
    config["provenance"] = {**old, "reexported": {
        "from": str(source_dir), "torch": torch.__version__, "onnx": onnx.__version__,
        "python": platform.python_version(), "exported": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")}}
    for name in ("heads.json", "piece_counts.json"):
        if (source_dir / name).is_file():
            shutil.copyfile(source_dir / name, staging / name)
    if (source_dir / "snapshots").is_dir():
        shutil.copytree(source_dir / "snapshots", staging / "snapshots")
    return {k: source[k] for k in ("heads", "snapshots") if k in source}


def _verify_sentences(run: Path, n: int) -> list[str]:
    for name in ("test.tsv", "valid.tsv"):
        f = run / "data" / name
        if f.exists():
            lines = [ln.split("\t")[0] for ln in f.read_text(encoding="utf-8").splitlines() if ln.strip()]
            if lines:
                step = max(len(lines) // n, 1)
                return lines[::step][:n]
    source = _source_bundle(run)  # a bundle of the generated corpus: fresh sentences of it
    if source is not None and (source.get("provenance") or {}).get("data", {}).get("kind") == "generated":
        from attnscope.core.data.generate import generate_pairs, required_pairs

        return list(dict.fromkeys([p.en for p in required_pairs()] + [p.en for p in generate_pairs(4 * n, seed=7)]))[:n]
    return ["I love you", "hello world"] * (n // 2)


__all__ = ["export_bundle", "verify_parity", "TorchRunner", "EncoderGraph", "DecoderStepGraph", "Tokenizer"]
