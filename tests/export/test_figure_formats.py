"""Every view in every figure format gives a valid, single-page, font-embedded file."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image

from attnscope.export.data import display_label
from attnscope.export.figures import VIEWS, render
from attnscope.export.style import Typography

SVG_NS = "{http://www.w3.org/2000/svg}"
# (view, options): every view, and the attention kinds whose labels hold Hangul
CASES = [("head", {"kind": "enc"}), ("head", {"kind": "dec"}), ("grid", {"kind": "enc"}),
         ("grid", {"kind": "cross"}), ("cross", {}), ("beam", {}), ("probs", {}), ("trace", {}),
         ("curves", {}), ("aer", {}), ("roles", {}), ("entropy", {}), ("distance", {}),
         ("corpus", {"kind": "enc"}), ("snapshots", {"kind": "cross"}), ("contributions", {})]
IDS = [v + ("-" + o["kind"] if o else "") for v, o in CASES]
ENGLISH_ONLY = {"head-enc", "grid-enc", "curves", "aer", "roles", "entropy", "distance", "corpus-enc"}


def _svg_texts(path: Path) -> list[str]:
    root = ET.parse(path).getroot()  # raises if the SVG is not well-formed XML
    return ["".join(el.itertext()) for el in root.iter(f"{SVG_NS}text")]


def _expected_tokens(case: str, ins) -> set[str]:
    """Labels each view must show as text: source pieces and (Hangul) target pieces."""
    src = {display_label(p) for p in ins.source_pieces}
    tgt = {display_label(p) for p in ins.target_pieces}
    dec = {display_label(p) for p in ins.best.decoder_input_pieces}
    heads = {"encoder", "decoder", "cross", "layer", "head"}
    return {"head-enc": src, "head-dec": dec, "grid-enc": {"head 1", "layer 1"}, "grid-cross": {"head 1"},
            "cross": src | tgt, "beam": tgt, "probs": {display_label(ins.target_pieces[0])},
            "trace": src, "curves": {"loss", "learning rate", "BLEU", "validation"},
            "aer": {"AER", "head", "layer"}, "roles": heads, "entropy": heads, "distance": heads,
            "corpus-enc": {"head 1", "layer 1"}, "snapshots-cross": {"step 0", "step 1200"},
            "contributions": {"source", "target prefix", "step"}}[case]


def test_cases_cover_every_view():
    assert {v for v, _ in CASES} == set(VIEWS)


@pytest.mark.parametrize("view,opts", CASES, ids=IDS)
def test_pdf_is_one_page_with_truetype_fonts_embedded(view, opts, source_of, tmp_path, fake_engine, request):
    case = request.node.callspec.id
    out = render(source_of(view), view, tmp_path / f"{view}.pdf", width="single",
                 piece=fake_engine.piece, **opts)
    raw = (tmp_path / f"{view}.pdf").read_bytes()
    assert raw.startswith(b"%PDF-")
    assert len(re.findall(rb"/Type\s*/Page(?![a-z])", raw)) == 1
    assert re.search(rb"/Count 1\b", raw)
    assert b"/FontFile2" in raw  # TrueType program embedded (Type 42)
    assert b"/CIDFontType2" in raw or b"/TrueType" in raw
    assert b"/Type3" not in raw  # no bitmap-ish Type 3 fonts
    if case not in ENGLISH_ONLY:
        assert b"NanumGothic" in raw or b"CJK" in raw, "Hangul font not embedded"
    assert out["view"] == view


@pytest.mark.parametrize("view,opts", CASES, ids=IDS)
def test_svg_keeps_tokens_as_text_when_asked(view, opts, ins, source_of, tmp_path, fake_engine, request):
    case = request.node.callspec.id
    path = tmp_path / f"{view}.svg"
    render(source_of(view), view, path, width="double", piece=fake_engine.piece,
           typography=Typography(svg_fonttype="text"), **opts)
    texts = _svg_texts(path)
    joined = "\n".join(texts)
    for token in _expected_tokens(case, ins):
        assert token in texts or token in joined, f"{token!r} is not a <text> in the {case} SVG"
    if case not in ENGLISH_ONLY:
        assert any("\uac00" <= c <= "\ud7a3" for c in joined), "no Hangul <text> content"
    assert "DejaVuSans-" not in path.read_text(encoding="utf-8")  # no glyph outlines (<use> of paths)


@pytest.mark.parametrize("view", ["cross", "beam"])
def test_svg_draws_glyphs_as_paths_by_default(view, ins, tmp_path, fake_engine):
    # Hangul must show in a viewer without a Korean font: no <text>, glyph outlines instead
    path = tmp_path / f"{view}.svg"
    render(ins, view, path, piece=fake_engine.piece)
    svg = path.read_text(encoding="utf-8")
    assert not _svg_texts(path)
    assert re.search(r'<path id="NanumGothic-[0-9a-f]+"', svg)  # Hangul glyphs drawn as outlines


@pytest.mark.parametrize("view,width,inches", [(v, "single", 3.5) for v in VIEWS]
                         + [("head", "double", 7.0), ("trace", "double", 7.0), ("curves", 5.0, 5.0)])
def test_png_width_is_inches_times_dpi(view, width, inches, source_of, tmp_path, fake_engine):
    dpi = 40
    path = tmp_path / f"{view}-{width}.png"
    render(source_of(view), view, path, width=width, dpi=dpi, piece=fake_engine.piece)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as im:
        w, h = im.size
        info_dpi = im.info.get("dpi")
    assert abs(w - inches * dpi) <= 1
    assert 1.0 * dpi <= h <= 9.0 * dpi + 1  # the style's height range
    assert info_dpi is not None and round(info_dpi[0]) == dpi


def test_png_dpi_scales_pixels(ins, tmp_path):
    sizes = []
    for dpi in (50, 100):
        p = tmp_path / f"h{dpi}.png"
        render(ins, "head", p, width="single", dpi=dpi)
        with Image.open(p) as im:
            sizes.append(im.size)
    assert abs(sizes[1][0] - 2 * sizes[0][0]) <= 1 and abs(sizes[1][1] - 2 * sizes[0][1]) <= 2


def test_same_input_gives_identical_svg_and_pdf(ins, tmp_path):
    for ext in ("svg", "pdf"):
        a, b = tmp_path / f"a.{ext}", tmp_path / f"b.{ext}"
        render(ins, "cross", a)
        render(ins, "cross", b)
        assert a.read_bytes() == b.read_bytes(), f"{ext} output is not reproducible"
