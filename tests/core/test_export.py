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


def test_a_bundle_re_exported_from_its_weights_keeps_what_its_run_measured(tmp_path: Path) -> None:
    """`attnscope export-onnx <bundle>`: new graphs from the bundle's own weights, and its
    heads.json, piece counts, snapshots, name and provenance carried over unchanged."""
    from attnscope.core.bundle import DEFAULT_BUNDLE, read_bundle
    from attnscope.core.config import DecodeConfig
    from attnscope.core.inference.engine import Engine
    from attnscope.core.onnx_export import export_bundle

    out = tmp_path / "again"
    report = export_bundle(DEFAULT_BUNDLE, out)
    src = json.loads((DEFAULT_BUNDLE / "config.json").read_text(encoding="utf-8"))
    cfg = json.loads((out / "config.json").read_text(encoding="utf-8"))
    for name in ("heads.json", "piece_counts.json", "weights.safetensors", "spm.model"):
        assert (out / name).read_bytes() == (DEFAULT_BUNDLE / name).read_bytes(), name
    shipped = sorted(p.relative_to(DEFAULT_BUNDLE) for p in (DEFAULT_BUNDLE / "snapshots").rglob("*") if p.is_file())
    assert shipped and sorted(p.relative_to(out) for p in (out / "snapshots").rglob("*") if p.is_file()) == shipped
    for key in ("name", "languages", "model", "heads", "snapshots"):
        assert cfg[key] == src[key], key
    def made(prov: dict) -> dict:  # the provenance of the training run, before any re-export
        return {k: v for k, v in prov.items() if k != "reexported"}

    assert made(cfg["provenance"]) == made(src["provenance"]) and made(src["provenance"])
    assert cfg["provenance"]["reexported"]["from"] == str(DEFAULT_BUNDLE)
    assert report["snapshots"] == src["snapshots"]
    bundle = read_bundle(out)
    assert [(i.name, i.meta) for i in bundle.snapshots()] == \
        [(i.name, i.meta) for i in read_bundle(DEFAULT_BUNDLE).snapshots()]
    beam = DecodeConfig(strategy="beam", beam_size=4)
    new, ref = Engine.load(out, threads=1), Engine.load(DEFAULT_BUNDLE, threads=1)
    for text in ("I love you", "The teacher reads a new book.", "She eats an apple."):
        assert new.inspect(text, beam).translation == ref.inspect(text, beam).translation
    first = bundle.snapshots()[0].name
    assert Engine.load(out, threads=1, snapshot=first).inspect("I love you", beam).steps
