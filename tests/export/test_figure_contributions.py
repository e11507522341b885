"""Norm-based attention and ALTI+ in figures and dumps, on the shipped model."""

from __future__ import annotations

import json

import numpy as np
import pytest

import attnscope.export.cli as cli
from attnscope.core.config import DecodeConfig
from attnscope.export.figures import FigureError, figure_data, render

TEXT = "The teacher reads a new book and the child drinks the milk."


@pytest.fixture(scope="module")
def real():  # noqa: ANN201
    from attnscope.core.inference.engine import Engine

    return Engine.load(None).inspect(TEXT, DecodeConfig(strategy="beam", beam_size=4))


def test_norm_measure_in_head_grid_and_cross(real) -> None:  # noqa: ANN001
    a, n = real.cross_attention, real.cross_value_norms  # [L,H,T,S], [L,H,S]
    cross = figure_data(real, "cross", layer=1, head=None, measure="norm")
    np.testing.assert_allclose(cross["matrix"], (a[1] * n[1][:, None, :]).mean(axis=0), rtol=1e-5)
    assert cross["vmax"] == pytest.approx(float(cross["matrix"].max()))  # norms are not bounded by 1
    head = figure_data(real, "head", kind="enc", layer=0, head=3, measure="norm")
    want = real.encoder_attention[0, 3] * real.encoder_value_norms[0, 3][None, :]
    np.testing.assert_allclose(head["matrix"], want, rtol=1e-5)
    grid = figure_data(real, "grid", kind="dec", measure="norm")
    dec = real.best.decoder_self_attention * real.best.decoder_value_norms[:, :, None, :]
    np.testing.assert_allclose(grid["matrices"], dec, rtol=1e-5)
    assert "norm-weighted" in grid["title"] and grid["value_label"] != "attention weight"


def test_contributions_figure_and_dumps(real, tmp_path) -> None:  # noqa: ANN001
    c = real.contributions
    data = render(real, "contributions", tmp_path / "c.npz")
    np.testing.assert_array_equal(data["matrix"], c.total)
    with np.load(tmp_path / "c.npz") as z:
        np.testing.assert_allclose(z["source_share"], c.source_share)
        np.testing.assert_allclose(z["cross_layers"], c.cross_layers)
    render(real, "contributions", tmp_path / "c.json")
    js = json.loads((tmp_path / "c.json").read_text(encoding="utf-8"))
    assert js["n_source"] == len(real.source_pieces)
    assert js["x_pieces"] == list(real.source_pieces) + list(real.best.decoder_input_pieces)
    np.testing.assert_allclose(np.sum(js["matrix"], axis=1), 1.0, atol=1e-5)
    for ext in ("pdf", "png"):
        render(real, "contributions", tmp_path / f"c.{ext}", dpi=60)
        assert (tmp_path / f"c.{ext}").stat().st_size > 5000


def test_bundle_without_the_measures_is_a_one_line_error(monkeypatch, fake_engine, capsys, tmp_path) -> None:  # noqa: ANN001
    ins = fake_engine.inspect("I love you.", DecodeConfig())
    with pytest.raises(FigureError, match="re-export"):
        figure_data(ins, "grid", kind="enc", measure="norm")
    monkeypatch.setattr(cli, "load_engine", lambda *_args: fake_engine)
    assert cli.main(["I love you.", "--view", "contributions", "-o", str(tmp_path / "c.pdf")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "contributions.onnx" in err
