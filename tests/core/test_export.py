"""ONNX export: checker-valid graphs, every attention as an output, parity with torch."""

from __future__ import annotations

import json
from pathlib import Path

import onnx

from attnscope.core.onnx_export import DECODER_OUTPUTS, ENCODER_OUTPUTS


def test_bundle_files_and_graph_outputs(tiny_bundle: Path) -> None:
    for name in ("config.json", "spm.model", "encoder.onnx", "decoder.onnx", "weights.safetensors",
                 "metrics.jsonl"):
        assert (tiny_bundle / name).stat().st_size > 0, name
    cfg = json.loads((tiny_bundle / "config.json").read_text())
    assert cfg["format_version"] == 1 and cfg["provenance"]["preset"] == "tiny"
    enc = onnx.load(str(tiny_bundle / "encoder.onnx"))
    dec = onnx.load(str(tiny_bundle / "decoder.onnx"))
    onnx.checker.check_model(enc)
    onnx.checker.check_model(dec)
    assert [o.name for o in enc.graph.output] == ENCODER_OUTPUTS
    assert [o.name for o in dec.graph.output] == DECODER_OUTPUTS
    meta = {p.key: p.value for p in dec.metadata_props}
    assert json.loads(meta["attnscope_config"])["model"]["n_heads"] == cfg["model"]["n_heads"]


def test_onnxruntime_matches_torch(tiny_run: Path, tiny_bundle: Path) -> None:
    from attnscope.core.onnx_export import verify_parity
    from attnscope.core.train import load_run_model

    model, _, _ = load_run_model(tiny_run)
    sentences = ["I love you", "She eats an apple.", "Did the child help the mother?",
                 "we went home yesterday", "The dog runs in the park every day."]
    report = verify_parity(tiny_bundle, model, sentences, max_len=12)
    assert report["verified"], report
    assert report["identical_greedy"] == report["identical_beam4"] == len(sentences)
    for name, diff in report["max_abs_diff"].items():
        assert diff <= 1e-4, name
