"""One style, no global side effects, Hangul drawn by a real font or a clear error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import matplotlib as mpl
import pytest
from matplotlib.text import Text

import attnscope.export.style as style
from attnscope.export.figures import make_figure, render
from attnscope.export.fonts import CJKFontNotFound


def test_render_leaves_rcparams_alone(ins, tmp_path):
    before = dict(mpl.rcParams)
    render(ins, "cross", tmp_path / "c.pdf")
    render(ins, "probs", tmp_path / "p.png", dpi=30)
    assert dict(mpl.rcParams) == before


def test_every_label_has_a_glyph(ins):
    # what "never boxes" means: each character is in DejaVu Sans or the CJK font
    for view in ("head", "grid", "cross", "beam", "probs", "trace"):
        fig = make_figure(ins, view, kind="dec")
        texts = [t.get_text() for t in fig.findobj(Text)]
        assert any(any("\uac00" <= c <= "\ud7a3" for c in t) for t in texts), view
        assert not style.missing_glyphs("".join(texts)), view


def test_the_cjk_font_is_found_and_registered():
    family, path = style.cjk_family()
    assert family is not None, path
    assert family in style.rc()["font.family"]
    assert style.rc()["pdf.fonttype"] == 42 and style.rc()["svg.fonttype"] == "path"
    assert style.rc(typo=style.Typography(svg_fonttype="text"))["svg.fonttype"] == "none"
    assert not style.missing_glyphs("나는 너를 사랑한다 ▁the </s>")


def test_no_cjk_font_is_a_clear_error_not_boxes(ins, metrics_run, monkeypatch, tmp_path):
    message = "No font that can draw Korean was found: install ..."
    monkeypatch.setattr(style, "cjk_family", lambda: (None, message))
    with pytest.raises(CJKFontNotFound, match="cannot draw .*No font that can draw Korean"):
        render(ins, "cross", tmp_path / "c.png", dpi=30)
    assert not (tmp_path / "c.png").exists()
    render(metrics_run, "curves", tmp_path / "curves.png", dpi=30)  # English-only figures still work
    render(ins, "head", tmp_path / "enc.png", kind="enc", dpi=30)


def test_cli_reports_a_missing_font_in_one_line(monkeypatch, capsys, tmp_path, fake_engine):
    import attnscope.export.cli as cli

    monkeypatch.setattr(cli, "load_engine", lambda bundle, snapshot=None: fake_engine)
    monkeypatch.setattr(style, "cjk_family", lambda: (None, "No font that can draw Korean was found"))
    assert cli.main(["I love you.", "--view", "beam", "-o", str(tmp_path / "b.pdf")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "No font that can draw Korean" in err


def test_unknown_characters_are_refused():
    assert style.missing_glyphs("a\U00013000b") == {"\U00013000"}  # an Egyptian hieroglyph


def test_widths():
    assert style.width_inches("single") == 3.5 and style.width_inches("double") == 7.0
    assert style.width_inches(5) == 5.0
    with pytest.raises(ValueError):
        style.width_inches("wide")


def test_export_imports_neither_qt_nor_torch_nor_koreanize():
    code = ("import sys, attnscope.export.figures, attnscope.export.cli, attnscope.export.draw, attnscope.export.data, attnscope.export.alignment;"
            "bad = [m for m in ('torch', 'PySide6', 'pyqtgraph', 'koreanize_matplotlib', 'attnscope.app',"
            " 'matplotlib.pyplot') if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    root = Path(__file__).resolve().parents[2]
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=root)
    assert r.returncode == 0, r.stdout + r.stderr


def test_a_missing_glyph_stops_the_figure():
    from matplotlib.figure import Figure

    fig = Figure()
    fig.text(0.1, 0.5, "▁나는 \U00013000")
    with pytest.raises(style.MissingGlyphs, match="\U00013000"):
        style.check_glyphs(fig)
