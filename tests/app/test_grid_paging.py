"""A 24-layer x 16-head model in the grid: a page of layers at a time, every tile labelled."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QFontMetricsF

from attnscope.app.attention_grid import PAGE_LAYERS, SHORT_VIEW_PX, AttentionGrid
from attnscope.app.state import AppState
from attnscope.app.testing import FakeEngine
from attnscope.core.config import DecodeConfig, ModelConfig

DEEP = ModelConfig(vocab_size=400, d_model=64, n_heads=16, n_encoder_layers=24, n_decoder_layers=24,
                   d_ff=128, dropout=0.0, max_len=64)


def test_deep_model_pages_by_layer(qtbot):
    state = AppState()
    grid = AttentionGrid(state)
    qtbot.addWidget(grid)
    grid.resize(1000, 650)
    grid.show()
    ins = FakeEngine(DEEP).inspect("I love you", DecodeConfig())
    state.set_inspection(ins)
    grid.refresh()
    assert grid.view.height() >= SHORT_VIEW_PX
    assert grid.page_box.isVisible() and grid.page_box.count() == 24 // PAGE_LAYERS + 1
    assert grid.stack.shape[:2] == (PAGE_LAYERS, 16)  # the first page: layers 1-6, all heads
    assert grid.titles.texts[0] == "L1 H1" and grid.titles.texts[-1] == "L6 H16"
    np.testing.assert_array_equal(grid.matrix(2, 15), ins.encoder_attention[2, 15])

    qtbot.keyClick(grid.page_box, Qt.Key.Key_Down)  # the user picks the next page
    grid.refresh()
    assert grid.page_box.currentText().startswith("Layers 7–12")
    np.testing.assert_array_equal(grid.matrix(0, 3), ins.encoder_attention[6, 3])
    got: list[tuple] = []
    state.attention_selected.connect(lambda *a: got.append(a))
    grid.click_tile(1, 4)
    assert got[-1] == ("encoder", "heads", 7, 4)  # layer 8, head 5: the tile's real layer
    assert grid.titles.texts[0] == "L7 H1" and grid.titles.texts[-1] == "L12 H16"


def test_short_grid_pages_fewer_layers(qtbot):
    state = AppState()
    grid = AttentionGrid(state)
    qtbot.addWidget(grid)
    grid.resize(1000, 300)
    grid.show()
    ins = FakeEngine(DEEP).inspect("I love you", DecodeConfig())
    state.set_inspection(ins)
    grid.refresh()
    assert grid.stack.shape[:2] == (PAGE_LAYERS // 2, 16)
    assert grid.page_box.count() == 24 // (PAGE_LAYERS // 2) + 1
    qtbot.keyClick(grid.page_box, Qt.Key.Key_End)  # "All layers"
    grid.refresh()
    assert grid.stack.shape[:2] == (24, 16)
    # 24 rows of titles do not fit 300 px: the columns are named once above the top row, the
    # left axis names the layers, and hovering names the tile.
    assert grid.titles.texts == [f"H{c + 1}" for c in range(16)]
    assert grid.plot.getAxis("left")._labels == [f"L{r + 1}" for r in range(24)]
    vb = grid.plot.vb
    names_at = vb.mapViewToScene(QPointF(0.0, grid.titles.xy[0, 1])).y()  # the top row's top edge
    assert names_at - vb.sceneBoundingRect().top() >= QFontMetricsF(grid.titles.font).height()
    assert abs(names_at - vb.mapViewToScene(QPointF(0.0, -0.5)).y()) < 1.0
    grid.page_box.setCurrentIndex(0)  # a page of 3 layers at 300 px still fits a title per tile
    grid.refresh()
    assert grid.titles.texts[0] == "L1 H1" and len(grid.titles.texts) == 3 * 16


def test_shallow_model_has_no_pages(qtbot):
    state = AppState()
    grid = AttentionGrid(state)
    qtbot.addWidget(grid)
    state.set_inspection(FakeEngine().inspect("I love you", DecodeConfig()))
    grid.refresh()
    assert not grid.page_box.isVisible() and grid.page_box.count() == 0
    assert grid.stack.shape[0] == 3


def test_deep_model_window_fits_a_1000_px_screen(qtbot, settings, decoded):
    """The page box joins the grid's bar: the boxes elide their text rather than force the
    window wider than 1000 px (it used to open at 1058 px with a 12-layer model)."""
    from attnscope.app.main_window import MainWindow

    w = MainWindow(FakeEngine(DEEP), settings)
    qtbot.addWidget(w)
    w.resize(1000, 650)
    w.show()
    w.start("I love you")
    decoded(w, "I love you")
    qtbot.wait(50)  # the layout settles after the page box shows
    assert w.grid.page_box.isVisible()
    assert w.width() == 1000 and w.minimumSizeHint().width() <= 1000
