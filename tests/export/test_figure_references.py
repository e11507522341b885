"""Figures compared with committed reference PNGs (small, 60 dpi, single column).

The references come from the seeded FakeEngine inspection and a synthetic training log,
so retraining the real model never changes them. After an intended change of style, look
at the new images and regenerate them with

    ATTNSCOPE_UPDATE_REFERENCES=1 .venv/bin/python -m pytest tests/export/test_figure_references.py
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from attnscope.export.figures import render

REFERENCES = Path(__file__).parent / "references"
UPDATE = os.environ.get("ATTNSCOPE_UPDATE_REFERENCES") == "1"
DPI = 60
# Mean absolute difference per RGB channel (0-255). Re-rendering gives 0; a different
# FreeType or font version moves glyph edges (well under 1); a lost colour bar, label
# column or overlay, or another colour map, costs several units.
TOLERANCE = 1.5
CASES = {
    "head-enc": ("head", {"kind": "enc", "layer": 0, "head": 0}),
    "head-dec": ("head", {"kind": "dec", "layer": 2, "head": 1}),
    "grid-cross": ("grid", {"kind": "cross"}),
    "cross": ("cross", {}),
    "beam": ("beam", {}),
    "probs": ("probs", {"step": 2}),
    "trace": ("trace", {}),
    "curves": ("curves", {}),
}


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.float64)


def _render(name: str, ins, metrics_run: Path, fake_engine, out: Path) -> Path:
    view, opts = CASES[name]
    source = metrics_run if view == "curves" else ins
    render(source, view, out, width="single", dpi=DPI, piece=fake_engine.piece, **opts)
    return out


def mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    if a.shape != b.shape:
        return float("inf")
    return float(np.abs(a - b).mean())


@pytest.mark.parametrize("name", list(CASES))
def test_matches_reference(name, ins, metrics_run, fake_engine, tmp_path):
    ref = REFERENCES / f"{name}.png"
    if UPDATE:
        _render(name, ins, metrics_run, fake_engine, ref)
    assert ref.is_file(), f"missing {ref}; generate with ATTNSCOPE_UPDATE_REFERENCES=1"
    new = _render(name, ins, metrics_run, fake_engine, tmp_path / f"{name}.png")
    a, b = _pixels(new), _pixels(ref)
    assert a.shape == b.shape, f"{name}: size {a.shape[1]}x{a.shape[0]}, reference {b.shape[1]}x{b.shape[0]}"
    diff = mean_abs_diff(a, b)
    assert diff <= TOLERANCE, f"{name}: mean pixel difference {diff:.2f} > {TOLERANCE} (see {new})"


def test_tolerance_catches_a_real_change(ins, metrics_run, fake_engine, tmp_path):
    # Another head of the same layer: same layout, different numbers, must fail the check.
    ref = _pixels(REFERENCES / "head-dec.png")
    other = tmp_path / "other.png"
    render(ins, "head", other, width="single", dpi=DPI, kind="dec", layer=2, head=0)
    assert mean_abs_diff(_pixels(other), ref) > TOLERANCE
    # The cross view without its gold-alignment outlines must fail too.
    plain = tmp_path / "plain.png"
    render(ins, "head", plain, width="single", dpi=DPI, kind="cross", layer=2, head=None)
    assert mean_abs_diff(_pixels(plain), _pixels(REFERENCES / "cross.png")) > TOLERANCE
