"""End to end with a real (tiny, seconds-trained) model bundle: onnxruntime, sentencepiece
pieces, the CLI's own engine loading, and the curves of a real training log."""

from __future__ import annotations

import json

import numpy as np
import pytest

import attnscope.export.cli as cli
from attnscope.core.config import DecodeConfig
from attnscope.export.data import display_label
from attnscope.export.figures import render
from attnscope.export.style import Typography

SENTENCE = "The cat sees the dog."


@pytest.fixture(scope="module")
def engine(tiny_bundle):
    from attnscope.core.inference.engine import Engine

    return Engine.load(tiny_bundle)


def test_cli_renders_a_real_model(tiny_bundle, engine, tmp_path):
    out = tmp_path / "cross.json"
    assert cli.main([SENTENCE, "--bundle", str(tiny_bundle), "--view", "cross", "--beam", "2",
                     "-o", str(out)]) == 0
    d = json.loads(out.read_text(encoding="utf-8"))
    ins = engine.inspect(SENTENCE, DecodeConfig(strategy="beam", beam_size=2))
    assert d["x_pieces"] == list(ins.source_pieces) and d["y_pieces"] == list(ins.target_pieces)
    assert d["bundle"]["name"] == tiny_bundle.name and len(d["bundle"]["sha256"]) == 64
    assert d["decode"]["beam_size"] == 2 and d["schema_version"] == 2
    np.testing.assert_allclose(d["matrix"], ins.cross_attention[-1].mean(axis=0), rtol=1e-5, atol=1e-7)
    png = tmp_path / "cross.png"
    assert cli.main([SENTENCE, "--bundle", str(tiny_bundle), "--view", "cross", "--dpi", "40",
                     "-o", str(png)]) == 0
    assert png.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("view", ["grid", "beam", "probs", "trace"])
def test_every_view_draws_real_pieces(engine, view, tmp_path):
    ins = engine.inspect(SENTENCE, DecodeConfig(strategy="beam", beam_size=3, max_len=8))
    path = tmp_path / f"{view}.svg"
    render(ins, view, path, width="double", piece=engine.piece, kind="enc",
           typography=Typography(svg_fonttype="text"))
    svg = path.read_text(encoding="utf-8")
    shown = {"grid": ins.source_pieces[:1], "beam": ins.target_pieces[:1],
             "probs": ins.target_pieces[:1], "trace": ins.source_pieces[:1]}[view]
    for piece in shown:
        label = display_label(piece)
        assert f">{label.replace('<', '&lt;').replace('>', '&gt;')}<" in svg, label


def test_curves_from_the_bundle_and_the_run(tiny_bundle, tiny_run, tmp_path):
    for source in (tiny_bundle, tiny_run):
        out = tmp_path / f"{source.name}.json"
        assert cli.main(["--view", "curves", "--run", str(source), "-o", str(out)]) == 0
        d = json.loads(out.read_text(encoding="utf-8"))["runs"][source.name]
        logged = [json.loads(x) for x in (source / "metrics.jsonl").read_text().splitlines()]
        assert d["train"]["step"] == [r["step"] for r in logged if r.get("kind") == "train"]
        assert len(d["valid"]["step"]) == sum(r.get("kind") == "valid" for r in logged)
    assert cli.main(["--view", "curves", "--bundle", str(tiny_bundle), "-o", str(tmp_path / "c.pdf")]) == 0
