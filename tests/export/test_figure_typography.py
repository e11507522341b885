"""Every view at both column widths, read back from matplotlib's own text extents: no text
under 7 pt at print size, no two tick labels of an axis overlapping, one rotation per
axis, axis and colour-bar labels no longer than what they label, tokens never silently
replaced by numbers."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.text import Text

from attnscope.core.config import DecodeConfig
from attnscope.export.data import display_label
from attnscope.export.figures import VIEWS, make_figure
from attnscope.export.style import MIN_PT, Typography

WIDTHS = ("single", "double")
LONG = ("The old man who lives near the river reads a very long book about the cat that sees the dog "
        "in the garden while she eats an apple and he drinks water.")
ATTENTION = {"head", "grid", "cross", "trace", "snapshots"}


def _draw(fig):
    FigureCanvasAgg(fig)
    fig.canvas.draw()
    return fig.canvas.get_renderer()


def _texts(fig) -> list[Text]:
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()
            and (t.axes is None or t.axes.get_visible())]


def _printed_pt(t: Text, renderer, dpi: float) -> float:
    """Height of one line of ``t`` in points at print size, from its drawn extent."""
    box = t.get_window_extent(renderer)
    across = box.width if abs((t.get_rotation() % 180) - 90) < 1 else box.height
    return across * 72 / dpi / (t.get_text().count("\n") + 1)


def _overlap(a, b) -> float:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return max(w, 0) * max(h, 0)


def _tick_labels(ax: Axes, which: str) -> list[Text]:
    axis = ax.xaxis if which == "x" else ax.yaxis
    return [t for t in axis.get_ticklabels() if t.get_visible() and t.get_text().strip()]


def check_typography(fig, name: str) -> None:
    renderer = _draw(fig)
    dpi = fig.dpi
    for t in _texts(fig):
        assert t.get_fontsize() >= MIN_PT, f"{name}: {t.get_text()!r} set at {t.get_fontsize():.1f} pt"
        # matplotlib's extent of one line is one em tall: a 7 pt line spans 7 pt on paper
        assert _printed_pt(t, renderer, dpi) >= MIN_PT - 0.01, f"{name}: {t.get_text()!r} drawn under {MIN_PT} pt"
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        for which in ("x", "y"):
            labels = _tick_labels(ax, which)
            rotations = {round(t.get_rotation()) % 360 for t in labels}
            assert len(rotations) <= 1, f"{name}: {which} tick labels turned {sorted(rotations)}"
            boxes = [t.get_window_extent(renderer) for t in labels]
            for (i, a), (j, b) in itertools.combinations(enumerate(boxes), 2):
                assert _overlap(a, b) <= 0.5, (f"{name}: {which} tick labels {labels[i].get_text()!r} and "
                                               f"{labels[j].get_text()!r} overlap")
        # an axis label is no longer than its axis (by more than a label's own line height)
        pos = ax.get_window_extent(renderer)
        ylab = ax.yaxis.label
        if ylab.get_visible() and ylab.get_text() and ax.get_label() != "<colorbar>":
            extent = ylab.get_window_extent(renderer)
            assert extent.height <= pos.height + 12 * dpi / 72, f"{name}: y label {ylab.get_text()!r} too tall"


@pytest.fixture(scope="module")
def long_ins(fake_engine):
    return fake_engine.inspect(LONG, DecodeConfig(strategy="beam", beam_size=4))


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("view", VIEWS)
def test_every_view_is_legible_at_both_widths(view, width, source_of, fake_engine):
    opts = {"kind": "dec"} if view in ("grid", "head") else {}
    fig = make_figure(source_of(view), view, width=width, piece=fake_engine.piece, **opts)
    check_typography(fig, f"{view}/{width}")


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("view", ["head", "grid", "cross", "trace", "probs", "beam"])
def test_a_long_sentence_stays_legible_and_names_its_tokens(view, width, long_ins, fake_engine):
    fig = make_figure(long_ins, view, width=width, piece=fake_engine.piece, kind="cross")
    check_typography(fig, f"{view}/{width}/long")
    if view in ("head", "grid", "cross"):
        shown = {t.get_text() for ax in fig.axes for t in ax.get_xticklabels() + ax.get_yticklabels()} - {""}
        pieces = {display_label(p) for p in long_ins.source_pieces + long_ins.target_pieces}
        tokens = shown - {t for t in shown if t.replace(".", "").replace("-", "").isdigit() and t not in pieces}
        assert tokens and tokens <= pieces | {t for t in shown if t.replace(".", "").isdigit()}, view
        # fewer names than tokens: the figure says so
        words = " ".join(t.get_text() for t in _texts(fig))
        n_named = len([t for t in fig.axes[0].get_xticklabels() if t.get_text()])
        if n_named < len(long_ins.source_pieces):
            assert "named)" in words, f"{view}/{width}: tokens left unnamed without saying so"


def test_no_title_font_and_size_options(ins):
    fig = make_figure(ins, "cross", width="single", typography=Typography(title=False, size=9))
    texts = [t.get_text() for t in _texts(fig)]
    assert not any("cross-attention ·" in t for t in texts)  # no title
    sizes = {round(t.get_fontsize(), 1) for t in _texts(fig)}
    assert min(sizes) == 8.0 and max(sizes) == 9.0  # body 9 pt, ticks one smaller
    with pytest.raises(ValueError, match="7-24 pt"):
        Typography(size=6)


def test_word_labels_merge_pieces(ins):
    fig = make_figure(ins, "head", kind="dec", words=True)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels() if t.get_text()]
    assert "사랑한다." in labels and "-한다" not in labels  # words as written: ▁사랑 한다 . is one
    image = np.ma.getdata(fig.axes[0].images[0].get_array())
    assert image.shape[0] == len(ins.best.decoder_input_pieces) - 2


@pytest.mark.parametrize("width", WIDTHS)
def test_a_deep_wide_grid_names_its_rows_and_columns_without_overlap(width):
    """NLLB-600M's 12 layers x 16 heads: "head 10" is wider than a tile and "layer 12" taller
    than a row, so the grid names them H10 / L12 instead of running the names together."""
    from attnscope.app.testing import FakeEngine
    from attnscope.core.config import ModelConfig

    deep = ModelConfig(vocab_size=400, d_model=64, n_heads=16, n_encoder_layers=12, n_decoder_layers=12,
                       d_ff=128, dropout=0.0, max_len=64)
    eng = FakeEngine(deep)
    fig = make_figure(eng.inspect("I love you.", DecodeConfig()), "grid", width=width, piece=eng.piece, kind="enc")
    check_typography(fig, f"grid/{width}/12x16")
    renderer = _draw(fig)
    tiles = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    titles = [ax.title for ax in tiles if ax.title.get_text()]
    rows = [ax.yaxis.label for ax in tiles if ax.yaxis.label.get_text()]
    # the short names, every one where they fit, else every k-th from the first
    for got, n, short in (([t.get_text() for t in titles], 16, "H"), ([t.get_text() for t in rows], 12, "L")):
        assert got and got[0] == f"{short}1" and set(got) <= {f"{short}{i + 1}" for i in range(n)}, got
        steps = {int(b[1:]) - int(a[1:]) for a, b in itertools.pairwise(got)}
        assert len(steps) <= 1 and len(got) >= n // 4, got
    for group in (titles, rows):
        boxes = [t.get_window_extent(renderer) for t in group]
        for (i, a), (j, b) in itertools.combinations(enumerate(boxes), 2):
            assert _overlap(a, b) <= 0.5, f"{group[i].get_text()!r} and {group[j].get_text()!r} overlap"
    # a row's name does not run into the tile labels beside it
    for ax in tiles:
        if ax.yaxis.label.get_text():
            name = ax.yaxis.label.get_window_extent(renderer)
            for t in _tick_labels(ax, "y"):
                assert _overlap(name, t.get_window_extent(renderer)) <= 0.5, ax.yaxis.label.get_text()
