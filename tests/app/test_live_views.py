"""Typing drives every view with the engine's own numbers (model -> view), and the views
drive the model back (temperature, forced pieces, hypothesis selection)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt


def softmax_at(logits: np.ndarray, temperature: float) -> np.ndarray:
    """exp(z / T) / sum exp(z / T), written out here: the oracle shares no code with the app."""
    z = np.asarray(logits, np.float64) / temperature
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_typing_updates_translation_and_every_view(window, decoded, qtbot):
    window.sentence.source.setText("")
    window.sentence.source.setFocus()
    for ch in "you love me":
        window.sentence.source.insert(ch)  # one textChanged per keystroke, like typing
    ins = decoded(window, "you love me")
    # translation and pieces
    assert ins.translation and ins.translation in window.sentence.translation.text()
    for piece in ins.target_pieces:
        assert piece.replace("<", "&lt;").replace(">", "&gt;") in window.sentence.pieces.text()
    # encoder grid: every cell is exactly the Inspection's matrix
    grid = window.grid
    grid.set_options(kind="encoder", mode="heads", shared=False)
    for layer in range(ins.encoder_attention.shape[0]):
        for head in range(ins.encoder_attention.shape[1]):
            m = ins.encoder_attention[layer, head]
            np.testing.assert_array_equal(grid.matrix(layer, head), m)
            # and the pixels drawn are that matrix on the head's own colour scale
            np.testing.assert_allclose(grid.tile_image(layer, head), m / m.max(), rtol=1e-6)
    # cross-attention grid follows the best hypothesis; shared scale uses one maximum
    grid.set_options(kind="cross", shared=True)
    top = ins.best.cross_attention.max()
    np.testing.assert_array_equal(grid.matrix(2, 1), ins.best.cross_attention[2, 1])
    np.testing.assert_allclose(grid.tile_image(2, 1), ins.best.cross_attention[2, 1] / top,
                               rtol=1e-6)
    grid.set_options(kind="decoder", mode="mean")
    np.testing.assert_allclose(grid.matrix(0, 1),
                               ins.best.decoder_self_attention[1].mean(axis=0), rtol=1e-6)
    # beam tree: one point per tree node
    assert window.tree.node_count == len(ins.nodes)
    assert window.tree.drawn_nodes() == list(range(len(ins.nodes)))
    # probability bars: the stored logits at the selected step, temperature 1
    step = window.state.step
    probs = softmax_at(ins.best.step_logits.dense_values()[step], 1.0)
    np.testing.assert_allclose(window.bars.probs, np.sort(probs)[::-1][: len(window.bars.probs)])
    # data flow (a background tab: repainted once raised) shows this input's lengths
    window.docks["Data flow"].raise_()
    s, t = len(ins.source_pieces), len(ins.target_pieces)
    qtbot.waitUntil(lambda: ("Source tokens", f"[1, {s}]") in window.flow.shapes(), timeout=3000)
    assert ("Output projection (logits)", f"[1, {t}, 320]") in window.flow.shapes()


def test_hidden_views_wait_until_shown(window, decoded, qtbot):
    window.sentence.set_text("hello")
    decoded(window, "hello")
    window.docks["Step scrubber"].raise_()
    stats = window.stats
    before = stats.refresh_count
    window.sentence.set_text("I love you")
    ins = decoded(window, "I love you")
    assert not stats.on_screen() and stats.refresh_count == before  # not repainted hidden
    window.docks["Head statistics"].raise_()
    qtbot.waitUntil(lambda: stats.refresh_count == before + 1, timeout=3000)  # caught up
    assert stats.on_screen()
    assert stats.values["entropy"].shape == ins.encoder_attention.shape[:2]


def test_background_tabs_are_built_when_first_raised(window, decoded, qtbot):
    """Start-up builds only what is on screen; a raised tab builds and shows this input."""
    window.sentence.set_text("I love you")
    ins = decoded(window, "I love you")
    assert not window.deferred["Head statistics"].built
    assert not window.deferred["Data flow"].built
    window.docks["Data flow"].raise_()
    qtbot.waitUntil(lambda: window.deferred["Data flow"].built, timeout=3000)
    s = len(ins.source_pieces)
    qtbot.waitUntil(lambda: ("Source tokens", f"[1, {s}]") in window.flow.shapes(), timeout=3000)
    assert not window.deferred["Head statistics"].built  # the others still wait


def test_large_view_shows_the_clicked_cell(window, decoded, qtbot):
    window.sentence.set_text("I love you")
    ins = decoded(window, "I love you")
    window.grid.set_options(kind="cross", mode="heads")
    # a real click in the middle of tile (layer 2, head 4)
    grid = window.grid
    _r, _c, q, k, gy, gx = grid._geom
    vb = grid.plot.vb
    scene_pt = vb.mapViewToScene(QPointF(3 * (k + gx) + k / 2 - 0.5, 1 * (q + gy) + q / 2 - 0.5))
    view_pt = grid.view.mapFromScene(scene_pt)
    qtbot.mouseClick(grid.view.viewport(), Qt.MouseButton.LeftButton,
                     pos=QPoint(int(view_pt.x()), int(view_pt.y())))
    assert window.state.attention == ("cross", "heads", 1, 3)
    assert window.detail.isVisible()
    np.testing.assert_array_equal(window.detail.heatmap.image.image, ins.best.cross_attention[1, 3])
    window.detail.tabs.setCurrentIndex(1)  # the line view draws the same matrix
    np.testing.assert_array_equal(window.detail.lines.matrix, ins.best.cross_attention[1, 3])


def test_temperature_slider_changes_bars_without_engine_call(window, decoded, engine):
    window.sentence.set_text("I love you")
    ins = decoded(window, "I love you")
    calls = len(engine.calls)
    before = window.bars.probs.copy()
    window.bars.slider.setValue(window.bars.slider.value() + 40)  # T = 1 -> ~2.5
    t = window.state.display_temperature
    assert t > 2.0
    expected = np.sort(softmax_at(ins.best.step_logits.dense_values()[window.state.step], t))[::-1]
    np.testing.assert_allclose(window.bars.probs, expected[: len(window.bars.probs)])
    assert window.bars.probs[0] < before[0]  # hotter: flatter
    assert len(engine.calls) == calls  # never asked the engine
    assert window.controller.runner.latest_id == window.controller.runner.delivered_id


def test_clicking_a_bar_forces_the_piece_and_back(window, decoded, engine, qtbot):
    window.sentence.set_text("I love you")
    decoded(window, "I love you")
    window.state.set_step(1)
    bars = window.bars
    piece = int(bars.top_ids[2])
    prefix = tuple(int(t) for t in window.state.path.target_ids[:1]) + (piece,)
    # a real mouse click on the third bar
    vb = bars.plot.vb
    scene_pt = vb.mapViewToScene(QPointF(float(bars.probs[2]) / 2, 2.0))
    view_pt = bars.plot_widget.mapFromScene(scene_pt)
    qtbot.mouseClick(bars.plot_widget.viewport(), Qt.MouseButton.LeftButton,
                     pos=QPoint(int(view_pt.x()), int(view_pt.y())))
    qtbot.waitUntil(lambda: engine.calls[-1][1].forced_prefix == prefix, timeout=5000)
    ins = decoded(window, "I love you")
    assert tuple(ins.best.target_ids[:2]) == prefix
    assert ins.nodes[window.state.chain[2]].forced
    assert window.sentence.revert.isVisible() and window.revert_action.isEnabled()
    window.sentence.revert.click()  # the obvious way back
    qtbot.waitUntil(lambda: engine.calls[-1][1].forced_prefix == (), timeout=5000)
    decoded(window, "I love you")
    assert not window.sentence.revert.isVisible()


def test_clicking_a_tree_node_selects_that_hypothesis(window, decoded, qtbot):
    window.sentence.set_text("I love you")
    ins = decoded(window, "I love you")
    pruned = next(n for n in ins.nodes if n.status == "pruned" and n.step >= 2)
    tree = window.tree
    # a real click on the node's scatter point
    vb = tree.plot.vb
    scene_pt = vb.mapViewToScene(QPointF(*tree._pos[pruned.id]))
    view_pt = tree.plot_widget.mapFromScene(scene_pt)
    qtbot.mouseClick(tree.plot_widget.viewport(), Qt.MouseButton.LeftButton,
                     pos=QPoint(int(view_pt.x()), int(view_pt.y())))
    qtbot.waitUntil(lambda: window.state.node_id == pruned.id, timeout=3000)
    path = ins.path(pruned.id)
    assert window.state.step == len(path.target_ids) - 1
    assert window.state.path.target_pieces == path.target_pieces
    window.grid.set_options(kind="cross", mode="heads")
    np.testing.assert_array_equal(window.grid.matrix(0, 0), path.cross_attention[0, 0])
    probs = softmax_at(path.step_logits.dense_values()[-1], window.state.display_temperature)
    np.testing.assert_allclose(window.bars.probs[0], probs.max())
    assert "selected hypothesis" in window.sentence.translation.text()


def test_hovering_a_tree_node_tells_its_score(window, decoded, qtbot):
    window.sentence.set_text("I love you")
    ins = decoded(window, "I love you")
    tree = window.tree
    node = next(n for n in ins.nodes if n.status == "finished")
    scene_pt = tree.plot.vb.mapViewToScene(QPointF(*tree._pos[node.id]))
    view_pt = tree.plot_widget.mapFromScene(scene_pt)
    qtbot.mouseMove(tree.plot_widget.viewport(), QPoint(int(view_pt.x()), int(view_pt.y())))
    qtbot.waitUntil(lambda: f"score = {node.score:.3f}" in tree.plot.vb.toolTip(), timeout=3000)
    assert ins.node_pieces[node.id] in tree.plot.vb.toolTip() and "finished" in tree.plot.vb.toolTip()


def test_tree_labels_never_overlap(qtbot):
    """Labels on one spot: the earliest in priority order sits above its node, the next
    below its own, and a third that has neither place is left out."""
    import pyqtgraph as pg
    from PySide6.QtGui import QImage, QPainter

    from attnscope.app.tree_item import TreeData, TreeItem, TreeStyle

    widget = pg.PlotWidget()
    qtbot.addWidget(widget)
    item = TreeItem()
    widget.addItem(item)
    pos = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 0.02], [2.0, 3.0], [1.0, 0.01]])
    data = TreeData(pos=pos, parents=np.array([-1, 0, 0, 1, 0]), live_edges=[1, 2, 3, 4],
                    marks={"alive": [0, 1, 2, 3, 4]}, label_ids=[2, 1, 4, 3, 0],
                    label_texts=["first", "second", "fourth", "third", "root"], label_colors=["#fff"] * 5)
    item.set_tree(data, TreeStyle())
    widget.resize(400, 300)
    widget.show()
    qtbot.waitExposed(widget)
    widget.setRange(xRange=(-0.5, 3), yRange=(-0.5, 3.5), padding=0)
    image = QImage(400, 300, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    widget.render(painter)
    painter.end()
    assert item.drawn_labels == [2, 1, 3, 0]  # "second" below its node; "fourth" has no room


def test_decode_controls_take_effect_at_once(window, decoded, engine, qtbot):
    window.sentence.set_text("I love you")
    decoded(window, "I love you")
    window.controls.beam.setValue(2)
    qtbot.waitUntil(lambda: engine.calls[-1][1].beam_size == 2, timeout=5000)
    window.controls.strategy.setCurrentIndex(window.controls.strategy.findData("greedy"))
    qtbot.waitUntil(lambda: engine.calls[-1][1].strategy == "greedy", timeout=5000)
    ins = decoded(window, "I love you")
    assert ins.config.strategy == "greedy"
    assert window.tree.node_count == len(ins.nodes)


def test_step_scrubber_walks_the_steps(window, decoded):
    window.sentence.set_text("I love you")
    ins = decoded(window, "I love you")
    window.docks["Step scrubber"].raise_()
    sc = window.scrubber
    sc.slider.setValue(2)
    assert window.state.step == 2
    expected = ins.best.cross_attention[-1, :, 2, :].mean(axis=0)
    np.testing.assert_allclose(sc.bars.opts["height"], expected)
    top = np.argsort(-ins.best.step_logits.dense_values()[2])[0]
    assert sc.table.item(0, 0).text() == window.state.piece(int(top))


def test_clearing_the_text_empties_every_view(window, decoded, qtbot):
    """The real engine returns an empty Inspection (no nodes, no steps) for empty text."""
    window.sentence.set_text("I love you")
    decoded(window, "I love you")
    window.state.select_attention("cross", "heads", 0, 0)
    window.sentence.set_text("")
    ins = decoded(window, "")
    assert ins.is_empty and ins.nodes == ()
    for kind in ("encoder", "decoder", "cross"):
        for mode in ("heads", "mean", "max", "rollout"):
            window.grid.set_options(kind=kind, mode=mode)
    for name in ("Head detail", "Data flow", "Head statistics", "Step scrubber"):
        window.docks[name].raise_()
        qtbot.wait(20)
    assert window.tree.node_count == 0
    assert len(window.bars.probs) == 0
    assert "∅" in window.sentence.translation.text()
    window.sentence.set_text("you love me")  # and back to life
    ins = decoded(window, "you love me")
    assert window.tree.drawn_nodes() == list(range(len(ins.nodes)))
