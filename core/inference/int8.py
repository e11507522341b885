"""Opt-in 8-bit mode: the bundle's graphs quantised when loaded, and what that costs.

Dynamic quantisation (onnxruntime): MatMul and Gather weights stored as uint8, activations
quantised per call. It is never switched on silently: ``Engine.load(precision="int8")``
asks for it, and the attention difference to the float graphs is measured right then on
probe sentences so the window can show it beside the speed it buys.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import replace
from pathlib import Path

import numpy as np

from attnscope.core.bundle import GRAPHS, Bundle

PROBES = ("The teacher reads a new book.", "Did the child help the mother?",
          "They did not open the big red door today.")


def quantize_8bit(src: Path, dst: Path, weights: str = "uint8") -> None:
    """Dynamic 8-bit quantisation of one graph's MatMul and Gather (embedding) weights.

    uint8 weights by default (graphs that travel, such as a bundle's 8-bit snapshots):
    with uint8 activations, int8 weights saturate the u8 x s8 products on CPUs without
    VNNI, which on the shipped model's early snapshots made the attention differ ten times
    more (mean |Δ| 0.017 against 0.0016, measured). ``weights="int8"`` is for graphs
    quantised for a CPU with VNNI (``weights_for_this_cpu``): no saturation there, and its
    u8 x s8 kernels run a Marian-base step ~20 % faster than u8 x u8 (measured)."""
    import tempfile

    if weights not in ("uint8", "int8"):
        raise ValueError(f"weights must be 'uint8' or 'int8', got {weights!r}")
    with tempfile.TemporaryDirectory(prefix="attnscope-int8-") as tmp:
        _quantize(_unshare_gemm_weights(src, Path(tmp)), dst, weights)


def weights_for_this_cpu() -> str:
    """"int8" where the CPU has VNNI (its u8 x s8 dot products never saturate), else "uint8"."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:  # not Linux: the portable choice
        return "uint8"
    words = set(flags.split())
    return "int8" if {"avx512_vnni", "avx_vnni"} & words else "uint8"


def _unshare_gemm_weights(src: Path, tmp: Path) -> Path:
    """``src``, or a copy in ``tmp`` where a Gemm(transB=1) that shares its weight with a
    Gather (the tied output projection reading the embedding table) has a transposed copy.

    onnxruntime's dynamic quantiser rewrites every Gemm as a MatMul and transposes its
    weight in place, which would also transpose the embedding table under the Gather."""
    import onnx
    from onnx import numpy_helper

    proto = onnx.load(str(src), load_external_data=False)
    inits = {i.name for i in proto.graph.initializer}
    users: dict[str, int] = {}
    for node in proto.graph.node:
        for name in node.input:
            users[name] = users.get(name, 0) + 1
    shared = [n for n in proto.graph.node if n.op_type == "Gemm" and len(n.input) > 1 and n.input[1] in inits
              and users.get(n.input[1], 0) > 1
              and any(a.name == "transB" and a.i == 1 for a in n.attribute)]
    if not shared:
        return src
    onnx.load_external_data_for_model(proto, str(src.parent))
    tables = {i.name: i for i in proto.graph.initializer}
    for node in shared:
        weight = numpy_helper.to_array(tables[node.input[1]])  # [N, K]
        copy = numpy_helper.from_array(weight.T.copy(), node.input[1] + ".T")  # [K, N]
        proto.graph.initializer.append(copy)
        node.input[1] = copy.name
        for a in node.attribute:
            if a.name == "transB":
                a.i = 0
    out = tmp / src.name
    onnx.save_model(proto, str(out), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=src.name + ".data", size_threshold=1024)
    return out


def _quantize(src: Path, dst: Path, weights: str = "uint8") -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantiser logs a pre-processing hint on every call
    # The quantiser reads a graph's external data from beside ``src``. Its 8-bit weights are
    # a quarter of the float ones, so up to an 8 GB float graph (NLLB-1.3B's decoder is
    # 4.5 GB) they fit in one file; past that they go to "<dst>.data" as well.
    data = src.with_name(src.name + ".data")
    external = data.is_file() and data.stat().st_size > 7_000_000_000
    try:
        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8 if weights == "int8" else QuantType.QUInt8,
                         op_types_to_quantize=["MatMul", "Gather"], use_external_data_format=external)
    finally:
        root.setLevel(level)


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "attnscope" / "int8"


def int8_bundle(bundle: Bundle, root: Path | None = None) -> Bundle:
    """``bundle`` with 8-bit graphs, quantised once for this CPU (``weights_for_this_cpu``)
    into a cache keyed by the float graphs and the weight type."""
    weights = weights_for_this_cpu()
    key = hashlib.sha256(weights.encode())
    for g in GRAPHS:
        st = bundle.file(g).stat()
        key.update(f"{bundle.file(g).resolve()}:{st.st_size}:{st.st_mtime_ns};".encode())
    out = (root or cache_root()) / key.hexdigest()[:16]
    if not all((out / g).is_file() for g in GRAPHS):
        out.mkdir(parents=True, exist_ok=True)
        for g in GRAPHS:
            tmp = out / ".partial"
            tmp.mkdir(exist_ok=True)
            quantize_8bit(bundle.file(g), tmp / g, weights)
            if (tmp / f"{g}.data").is_file():  # external data first: a graph present is complete
                (tmp / f"{g}.data").replace(out / f"{g}.data")
            (tmp / g).replace(out / g)  # a half-written graph never looks finished
    return replace(bundle, graphs=out)


def attention_difference(float_engine: object, int8_engine: object, texts: tuple[str, ...] = PROBES) -> dict[str, float]:
    """Mean and max |Δ| of every attention between the two engines on ``texts``, the 8-bit
    one forced along the float one's greedy path so the same cells are compared."""
    from attnscope.core.config import DecodeConfig

    greedy = DecodeConfig(strategy="greedy", max_len=32)
    diffs: dict[str, list[np.ndarray]] = {"encoder": [], "decoder": [], "cross": []}
    for text in texts:
        ref = float_engine.inspect(text, greedy)  # type: ignore[attr-defined]
        if ref.is_empty:
            continue
        forced = greedy.replace(forced_prefix=tuple(int(t) for t in ref.best.target_ids))
        q = int8_engine.inspect(text, forced)  # type: ignore[attr-defined]
        diffs["encoder"].append(np.abs(ref.encoder_attention - q.encoder_attention).ravel())
        diffs["decoder"].append(np.abs(ref.decoder_attention - q.decoder_attention).ravel())
        diffs["cross"].append(np.abs(ref.cross_attention - q.cross_attention).ravel())
    flat = np.concatenate([np.concatenate(v) for v in diffs.values() if v]) if diffs["encoder"] else np.zeros(1)
    out = {"mean": float(flat.mean()), "max": float(flat.max()), "sentences": float(len(diffs["encoder"]))}
    for kind, v in diffs.items():
        if v:
            out[f"{kind}_mean"] = float(np.concatenate(v).mean())
    return out
