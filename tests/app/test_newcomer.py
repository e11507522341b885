"""The window as a newcomer meets it: menus triggered as a click does, labels that follow
the view, small screens, out-of-domain input, the training tabs, export and the hint."""

from __future__ import annotations

import html
import json
import re

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QFileDialog

from attnscope.app import theme
from attnscope.app.testing import FakeEngine


def action(window, text: str):
    """The menu action whose text (without '&') starts with ``text``."""
    for act in window.findChildren(type(window.revert_action)):
        if act.text().replace("&", "").startswith(text):
            return act
    raise AssertionError(f"no action {text!r}")


@pytest.fixture
def real_window(qtbot, settings):
    from attnscope.app.controller import load_real_engine
    from attnscope.app.main_window import MainWindow

    w = MainWindow(load_real_engine(None), settings)
    qtbot.addWidget(w)
    w.resize(1366, 768)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.controller.shutdown()


# -- 1: menu actions get their value, not Qt's `checked` ------------------------------
def test_view_actions_switch_the_attention_kind_and_theme(window, decoded, qtbot):
    window.sentence.set_text("I love you")
    decoded(window, "I love you")
    action(window, "Decoder attention").trigger()
    assert window.grid.kind == "decoder" and window.grid.kind_box.currentData() == "decoder"
    action(window, "Cross attention").trigger()
    assert window.grid.kind == "cross"
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    qtbot.keyClick(window.grid, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert window.grid.kind == "encoder"
    action(window, "Light theme").trigger()
    assert theme.current().name == "light" and action(window, "Light theme").isChecked()
    action(window, "Dark theme").trigger()
    assert theme.current().name == "dark"


def test_open_recent_entry_opens_that_bundle(window, tmp_path, qtbot):
    bundle = tmp_path / "older-bundle"
    bundle.mkdir()
    window.store.add_recent(str(bundle))
    window._fill_recent()
    window.recent_menu.actions()[0].trigger()
    qtbot.waitUntil(lambda: not window.controller.loading)  # it opens in the background
    assert str(window.controller.engine.bundle_path) == str(bundle)


def test_open_bundle_accepts_a_zip(real_window, decoded, tmp_path, monkeypatch, qtbot):
    import zipfile

    from attnscope.core.bundle import DEFAULT_BUNDLE

    zipped = tmp_path / "model.zip"
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_STORED) as zf:
        for name in ("config.json", "spm.model", "encoder.onnx", "decoder.onnx"):
            zf.write(DEFAULT_BUNDLE / name, name)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(zipped), ""))
    action(real_window, "Open bundle .zip").trigger()
    qtbot.waitUntil(lambda: not real_window.controller.loading, timeout=30_000)  # it opens in the background
    assert real_window.store.recent_bundles()[0] == str(zipped)
    real_window.sentence.set_text("You love me")
    assert decoded(real_window, "You love me").translation == "너는 나를 사랑한다"


# -- 2: tile titles follow the aggregate ----------------------------------------------
def test_tile_titles_follow_the_aggregate(window, decoded, qtbot):
    window.sentence.set_text("I love you")
    decoded(window, "I love you")
    layers = window.state.inspection.encoder_attention.shape[0]
    for mode in ("mean", "rollout", "max"):
        window.grid.mode_box.setCurrentIndex(window.grid.mode_box.findData(mode))
        assert window.grid.titles.texts == [f"L{i + 1} {mode}" for i in range(layers)]


# -- 3: out-of-domain input ----------------------------------------------------------
def test_out_of_domain_input_is_marked_and_bytes_are_merged(real_window, decoded, qtbot):
    w = real_window
    w.sentence.set_text("I love you")
    decoded(w, "I love you")
    assert not w.sentence.outside.isVisible()
    text = "The weather is nice today, isn't it?"
    w.sentence.source.clear()
    qtbot.keyClicks(w.sentence.source, text)
    ins = decoded(w, text)
    assert "<0x2C>" in ins.source_pieces
    assert w.sentence.outside.isVisible()
    tip = w.sentence.outside.toolTip()
    assert "weather" in tip and "byte pieces" in tip
    shown = w.sentence.pieces.text()
    assert "&lt;0x2C&gt;" not in shown and "today</u>" not in shown  # merged; "today" is known
    assert "<u style" in shown
    action(w, "Raw byte pieces").trigger()
    assert w.sentence.raw.isChecked() and "&lt;0x2C&gt;" in w.sentence.pieces.text()


def test_examples_menu_decodes_a_covered_sentence(real_window, decoded):
    acts = real_window.examples_menu.actions()
    assert len(acts) >= 10
    pick = next(a for a in acts if a.text() == "She eats an apple.")
    pick.trigger()
    ins = decoded(real_window, "She eats an apple.")
    assert ins.translation == "그녀는 사과를 먹는다."
    assert not real_window.sentence.outside.isVisible()


# -- 5: small screens ----------------------------------------------------------------
@pytest.mark.parametrize("size", [(1000, 650), (1366, 768), (1920, 1080)])
def test_layout_fits_and_adapts(window, decoded, qtbot, size):
    window.sentence.set_text("I love you")
    decoded(window, "I love you")
    window.resize(1000, 650)
    qtbot.waitUntil(lambda: window.size().width() == 1000 and not window._fit_timer.isActive())
    window.resize(*size)
    qtbot.waitUntil(lambda: window.size().width() == size[0] and not window._fit_timer.isActive())
    qtbot.wait(50)
    assert (window.width(), window.height()) == size  # nothing forces the window larger
    tree = window.docks["Beam tree"]
    assert tree.width() >= 280 and tree.width() >= min(0.3 * size[0], 480)
    assert window.bars.slider.width() >= 60
    assert window.docks["Step scrubber"].height() >= 140


def test_no_bottom_tab_forces_a_small_window_larger(window, decoded, qtbot):
    """At 1000x650 every bottom tab, raised by a click on its tab, fits the window."""
    from PySide6.QtWidgets import QTabBar

    window.sentence.set_text("I love you")
    decoded(window, "I love you")
    window.resize(1000, 650)
    qtbot.waitUntil(lambda: window.size().width() == 1000 and not window._fit_timer.isActive())
    bar = next(b for b in window.findChildren(QTabBar)
               if b.isVisible() and any(b.tabText(i) == "Head detail" for i in range(b.count())))
    for i in range(bar.count()):
        qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(i).center())
        qtbot.wait(30)
        name = bar.tabText(i)
        dock = window.docks[name]
        assert dock.isVisible() and not dock.visibleRegion().isEmpty(), name
        assert (window.width(), window.height()) == (1000, 650), name
        assert window.centralWidget().height() >= 150, name  # the grid keeps its room


SCALED = """
import json, sys, time
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication
app = QApplication([])
from attnscope.app import theme
from attnscope.app.fonts import install_cjk_font
from attnscope.app.main_window import MainWindow
from attnscope.app.testing import load_fake_engine
theme.apply("dark", app)
install_cjk_font(app)
w = MainWindow(load_fake_engine(), QSettings(sys.argv[1], QSettings.Format.IniFormat),
               loader=load_fake_engine)
w.show()
def settle(size):
    w.resize(*size)
    for _ in range(40):
        app.processEvents()
        time.sleep(0.01)
settle((1000, 650))
w.start("I love you")
deadline = time.monotonic() + 20
while (w.state.inspection is None or w.controller.runner.busy) and time.monotonic() < deadline:
    app.processEvents()
    time.sleep(0.01)
out = {"ratio": w.devicePixelRatioF()}
for size, hint in (((1000, 650), True), ((1280, 720), True), ((1280, 720), False)):
    if not hint:
        w.hint.ok.click()
    settle(size)
    img = w.grab().toImage()
    tree = w.tree
    tree.plot_widget.grab()
    nodes = w.state.inspection.nodes
    marks = list(tree.item.mark_rects.values())
    live = [r for i, r in tree.item.mark_rects.items() if nodes[i].status != "pruned"]
    caption = tree.caption
    out[f"{size[0]}{'' if hint else ' no hint'}"] = {
        "window": [w.width(), w.height()], "pixels": [img.width(), img.height()],
        "tree_width": w.docks["Beam tree"].width(), "slider": w.bars.slider.width(),
        "scrubber": w.docks["Step scrubber"].height(),
        "caption_fits": caption.label.heightForWidth(caption.width()) <= caption.height(),
        "marks_apart": not any(a.intersects(b) for i, a in enumerate(marks) for b in marks[i + 1:]),
        "live_apart": not any(a.intersects(b) for i, a in enumerate(live) for b in live[i + 1:]),
        "best_labelled": set(tree._chain(w.state.inspection.best.node_id)) <= set(tree.item.label_rects),
    }
w.controller.shutdown()
print(json.dumps(out))
"""


def test_layout_at_150_percent_scaling(tmp_path):
    """QT_SCALE_FACTOR=1.5 (a 1920x1080 screen at 150 % is 1280x720 logical pixels): the
    window keeps its size, its docks their room, and the tree its marks apart."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, QT_SCALE_FACTOR="1.5", QT_QPA_PLATFORM="offscreen")
    done = subprocess.run([sys.executable, "-P", "-c", SCALED, str(tmp_path / "s.ini")], env=env,
                          capture_output=True, text=True, timeout=120, check=True)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["ratio"] == 1.5
    for size, got in (((1000, 650), out["1000"]), ((1280, 720), out["1280"]), ((1280, 720), out["1280 no hint"])):
        assert got["window"] == list(size)  # nothing forces the window larger
        assert got["pixels"] == [round(size[0] * 1.5), round(size[1] * 1.5)]
        assert got["tree_width"] >= 280 and got["slider"] >= 60 and got["scrubber"] >= 140
        assert got["caption_fits"] and got["live_apart"]
    # Under the first-run hint the pruned rows may squeeze; once it is dismissed, nothing does.
    assert out["1280"]["best_labelled"] and out["1280 no hint"]["best_labelled"]
    assert out["1280 no hint"]["marks_apart"]


# -- 6: training tabs ----------------------------------------------------------------
def test_training_tab_shows_the_open_models_log(real_window, qtbot):
    dash = real_window.dashboard
    records = [json.loads(line) for line in
               (real_window.controller.engine.bundle_path / "metrics.jsonl").read_text().splitlines()]
    last = max(r["step"] for r in records)
    assert dash.progress.maximum() == last and dash.progress.value() == last  # not "1 / 1"
    real_window.docks["Training"].raise_()
    qtbot.waitUntil(lambda: dash.curves._built)
    loss = dash.curves.plots["loss"]
    names = {label.text for _s, label in loss.legend.items}
    assert "train" in names and ("valid" in names) == any("valid_loss" in r for r in records)
    assert all(p.height() >= 150 for p in dash.curves.plots.values())  # readable, the tab scrolls
    from PySide6.QtGui import QImage, QPainter

    image = QImage(10, 10, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:  # a failed assert must still end the painter (destroying a painted device aborts Qt)
        specs = {key: [r for r, _flags, _text in dash.curves.plots[key].getAxis("left").generateDrawSpecs(painter)[2]]
                 for key in ("update", "grad", "ppl")}
    finally:
        painter.end()
    for key, rects in specs.items():  # log axes: their labels never run together
        assert len(rects) >= 2
        assert not any(a.intersects(b) for i, a in enumerate(rects) for b in rects[i + 1:]), key


# -- 7, 8: temperature and modes ------------------------------------------------------
def test_preview_temperature_can_be_applied_to_decoding(window, decoded, qtbot):
    window.sentence.set_text("I love you")
    decoded(window, "I love you")
    bars = window.bars
    assert not bars.apply_btn.isEnabled()
    bars.slider.setFocus()
    qtbot.keyClick(bars.slider, Qt.Key.Key_PageUp)  # preview only: the decode keeps T = 1
    shown = window.state.display_temperature
    assert shown > 1.0 and window.controls.config().temperature == 1.0
    assert f"bars at T = {shown:.2f}" in bars.decode_label.text() and "decoding T = 1.00" in bars.decode_label.text()
    qtbot.mouseClick(bars.apply_btn, Qt.MouseButton.LeftButton)
    assert window.controls.config().temperature == round(shown, 2)
    assert not bars.apply_btn.isEnabled()


def test_cut_off_lines_only_when_sampling(window, decoded, qtbot):
    c = window.controls
    c.top_k.setValue(3)
    c.strategy.setCurrentIndex(c.strategy.findData("beam"))
    window.sentence.set_text("you love me")
    decoded(window, "you love me")
    assert not window.bars.k_line.isVisible()
    c.strategy.setCurrentIndex(c.strategy.findData("sample"))
    qtbot.waitUntil(lambda: window.state.inspection.config.strategy == "sample" and not window.controller.runner.busy)
    window.bars.refresh()
    assert window.bars.k_line.isVisible()


def test_greedy_hides_the_length_penalty(window, decoded, qtbot):
    c = window.controls
    c.strategy.setCurrentIndex(c.strategy.findData("greedy"))
    window.sentence.set_text("I love you")
    qtbot.waitUntil(lambda: window.state.inspection is not None
                    and window.state.inspection.config.strategy == "greedy" and not window.controller.runner.busy)
    window.tree.refresh()
    assert not c.length_penalty.isEnabled()
    assert "((5+n)/6)" not in window.tree.caption.text()


@pytest.mark.parametrize(("kind", "rule"), [("gnmt", "Σ log p / ((5+n)/6)<sup>0.6"), ("hf", "Σ log p / n<sup>0.6")])
def test_tree_caption_names_the_length_penalty_in_use(window, decoded, qtbot, kind, rule):
    """Our models rank beams by GNMT's penalty, imported ones by transformers' score / n^α."""
    cfg = window.controls.config().replace(strategy="beam", length_penalty=0.6, length_penalty_kind=kind)
    window.controls.set_config(cfg)
    window.controller.config = cfg
    window.sentence.set_text("I love you too")
    qtbot.waitUntil(lambda: window.state.inspection is not None and window.state.inspection.text == "I love you too"
                    and not window.controller.runner.busy)
    window.tree.refresh()
    assert window.state.inspection.config.length_penalty_kind == kind
    assert rule in window.tree.caption.text()


# -- 4, 14: beam tree ----------------------------------------------------------------
def test_best_path_is_labelled_and_hover_names_both_scores(real_window, decoded, qtbot):
    w = real_window
    w.sentence.set_text("The student reads a new book at the library.")
    ins = decoded(w, "The student reads a new book at the library.")
    qtbot.wait(100)
    tree = w.tree
    best = tree._chain(ins.best.node_id)
    assert set(best) <= set(tree.item.drawn_labels)
    tip = tree._tip(ins.best.node_id)
    assert ins.translation in tip and "hypothesis log p" in tip and "score" in tip
    ticks = tree.plot.getAxis("bottom")._tickLevels[0]
    assert all(float(v).is_integer() for v, _ in ticks)


def test_tree_rows_by_hand():
    """root -> A (alive) -> A1, A2 (finished) and D (pruned); root -> B, C (pruned)."""
    from attnscope.app.tree_rows import BOTTOM_PX, LIVE_PX, PRUNED_PX, TOP_PX, spaced_rows, tree_layout

    parents = np.array([-1, 0, 0, 0, 1, 1, 1])
    pruned = np.array([False, False, True, True, False, False, True])
    rank = np.array([0, 0, 1, 2, 0, 1, 2])  # survivors first
    depth, order = tree_layout(parents, rank)
    assert depth.tolist() == [0, 1, 1, 1, 2, 2, 2] and order.tolist() == [0, 0, 3, 4, 0, 1, 2]
    # Tall: every leaf its own row, a pruned one a third of a surviving one.
    y, groups, unit = spaced_rows(depth, order, parents, pruned, 1000.0)
    assert groups == [] and unit == pytest.approx((1000 - TOP_PX - BOTTOM_PX) / 2)
    np.testing.assert_allclose(y, [0, 0, 5 / 3, 2, 0, 1, 4 / 3])
    # 36 px of rows: B and C (siblings) share one mark, and D (step 2) shares their lane
    # (step 1); the pruned lane sits r = 10 / 26 below A2, so unit * r = 10 px exactly.
    y, groups, unit = spaced_rows(depth, order, parents, pruned, 36.0 + TOP_PX + BOTTOM_PX)
    assert groups == [[2, 3]]
    r = PRUNED_PX / (36 - PRUNED_PX)
    np.testing.assert_allclose(y, [0, 0, 1 + r, 1 + r, 0, 1, 1 + r])
    assert unit >= LIVE_PX and unit * r == pytest.approx(PRUNED_PX)


def _painted_tree(window, qtbot, size):
    """Resize the window, let the docks settle and paint the tree; returns the tree."""
    window.resize(*size)
    qtbot.waitUntil(lambda: window.size().width() == size[0] and not window._fit_timer.isActive())
    qtbot.wait(100)
    tree = window.tree
    tree.plot_widget.grab()  # one paint: the item records what it drew where
    return tree


@pytest.mark.parametrize(("size", "hint"), [((1000, 650), True), ((1280, 800), False), ((1920, 1080), True)])
@pytest.mark.parametrize("text", ["The student reads a new book at the library.", "She eats an apple."])
def test_tree_marks_and_labels_never_overlap(real_window, decoded, qtbot, size, hint, text):
    """Every hypothesis is drawn apart from the others and every label clear of marks,
    labels and the view's edge; at 1000x650 under the first-run hint the pruned rows may
    squeeze, the surviving ones may not. The default size labels the whole best path."""
    w = real_window
    if not hint:
        qtbot.mouseClick(w.hint.ok, Qt.MouseButton.LeftButton)
    w.sentence.set_text(text)
    ins = decoded(w, text)
    tree = _painted_tree(w, qtbot, size)
    marks, labels = tree.item.mark_rects, tree.item.label_rects
    assert set(marks) | {i for g in tree.item.data.groups for i in g} == set(range(len(ins.nodes)))
    live = {i: r for i, r in marks.items() if ins.nodes[i].status != "pruned"}
    small = size == (1000, 650)
    crowd = live if small else marks
    items = list(crowd.items())
    for k, (i, a) in enumerate(items):
        for j, b in items[k + 1:]:
            assert not a.intersects(b), (size, ins.node_pieces[i], ins.node_pieces[j])
    view = tree.plot_widget.mapFromScene(tree.plot.vb.sceneBoundingRect()).boundingRect()
    rects = list(labels.items())
    for k, (i, a) in enumerate(rects):
        assert view.contains(a.toAlignedRect()), (size, ins.node_pieces[i])  # not cut off
        assert not any(a.intersects(b) for _j, b in rects[k + 1:])
        assert not any(a.intersects(m) for j, m in crowd.items() if j != i), ins.node_pieces[i]
    if not small:
        assert set(tree._chain(ins.best.node_id)) <= set(labels)  # the best path is labelled
    caption = tree.caption
    assert caption.label.heightForWidth(caption.width()) <= caption.height()  # nothing cut


def _hover(tree, qtbot, node: int) -> str:
    from PySide6.QtCore import QPointF

    scene_pt = tree.plot.vb.mapViewToScene(QPointF(*tree._pos[node]))
    view_pt = tree.plot_widget.mapFromScene(scene_pt)
    corner = tree.plot_widget.mapFromScene(tree.plot.vb.sceneBoundingRect().bottomRight())
    qtbot.wait(50)  # the scene sends hover events at most every few milliseconds
    qtbot.mouseMove(tree.plot_widget.viewport(), corner - QPoint(3, 3))  # off every node first
    qtbot.waitUntil(lambda: tree.plot.vb.toolTip() == "", timeout=3000)
    qtbot.wait(50)
    qtbot.mouseMove(tree.plot_widget.viewport(), QPoint(int(view_pt.x()), int(view_pt.y())))
    qtbot.waitUntil(lambda: tree.plot.vb.toolTip() != "", timeout=3000)
    return tree.plot.vb.toolTip()


def test_hovering_the_tree_shows_the_hypothesis_and_both_scores(real_window, decoded, qtbot):
    w = real_window
    text = "The student reads a new book at the library."
    w.sentence.set_text(text)
    ins = decoded(w, text)
    tree = _painted_tree(w, qtbot, (1366, 768))
    best = ins.nodes[ins.best.node_id]
    tip = _hover(tree, qtbot, best.id)
    assert ins.translation in tip
    assert f"hypothesis log p (Σ log p) = {best.cum_logprob:.3f}" in tip
    assert f"score = {best.score:.3f}" in tip
    # A mark standing for several pruned candidates lists every one of them.
    group = max(tree.item.data.groups, key=len)
    tip = _hover(tree, qtbot, group[0])
    assert f"{len(group)} candidates pruned" in tip
    for i in group:
        assert f"{ins.node_pieces[i]}   log p = {ins.nodes[i].logprob:.3f}" in tip


def test_log_p_column_is_exact_at_low_temperature(real_window, decoded, qtbot):
    window = real_window
    window.sentence.set_text("I love you")
    ins = decoded(window, "I love you")
    window.state.set_display_temperature(0.1)
    window.scrubber.refresh()
    logits = ins.best.step_logits.dense_values()[0].astype(np.float64) / 0.1
    want = logits - np.logaddexp.reduce(logits)  # independent: pairwise log-add
    table = window.scrubber.table
    for r in range(table.rowCount()):
        piece = table.item(r, 0).text()
        pid = next(i for i in range(len(logits)) if window.state.piece(i) == piece)
        assert float(table.item(r, 2).text()) == pytest.approx(want[pid], abs=0.006)
    assert float(table.item(table.rowCount() - 1, 2).text()) < -69.1  # no floor at log(1e-30)


# -- 11, 13, 14 ------------------------------------------------------------------------
def test_light_theme_titles_are_dark(window, decoded):
    window.set_theme("light")
    plot = window.scrubber.plot
    assert plot.titleLabel.opts["color"] == theme.LIGHT.text
    window.set_theme("dark")
    assert plot.titleLabel.opts["color"] == theme.DARK.text


def test_escape_reverts_the_forced_piece_and_ctrl_z_undoes_typing(window, decoded, qtbot):
    window.sentence.set_text("I love you")
    decoded(window, "I love you")
    window.bars.click_bar(1)
    qtbot.waitUntil(lambda: window.controller.forced != ())
    assert "Esc" in window.revert_action.shortcut().toString()
    src = window.sentence.source
    src.setFocus()
    src.end(False)
    qtbot.keyClicks(src, "x")
    qtbot.keyClick(src, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert src.text() == "I love you"
    qtbot.waitUntil(lambda: not window.controller.runner.busy)
    window.controller.force(0, 5)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    qtbot.keyClick(src, Qt.Key.Key_Escape)
    assert window.controller.forced == ()


def test_long_input_scrolls_instead_of_cutting_off(window, decoded, qtbot):
    text = " ".join(["I love you and the cat"] * 7)  # 42 words
    window.sentence.set_text(text)
    decoded(window, text)
    pieces = window.sentence.pieces
    h = pieces.height()
    assert "target:" in pieces.text()
    assert pieces.document().size().height() > h or pieces.verticalScrollBar().maximum() >= 0
    window.sentence.set_text("I love you")
    decoded(window, "I love you")
    assert pieces.height() == h  # fixed: a new text never relayouts the dock


# -- also: export, first-run hint -------------------------------------------------------
@pytest.mark.parametrize("suffix", [".json", ".png"])
def test_export_a_dock_through_the_figure_renderer(window, decoded, tmp_path, monkeypatch, suffix):
    from attnscope.export.figures import render

    window.sentence.set_text("I love you")
    ins = decoded(window, "I love you")
    out = tmp_path / f"tree{suffix}"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    window.export_actions["Beam tree"].trigger()
    assert out.exists() and out.stat().st_size > 100
    if suffix == ".json":
        ref = tmp_path / "ref.json"
        render(ins, "beam", ref)  # what `attnscope figure --view beam` writes
        assert json.loads(out.read_text()) == json.loads(ref.read_text())


def test_export_under_the_cursor(window, decoded, tmp_path, monkeypatch):
    window.sentence.set_text("I love you")
    decoded(window, "I love you")
    out = tmp_path / "under.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    bars = window.bars.plot_widget
    monkeypatch.setattr("attnscope.app.main_window.QCursor.pos",
                        lambda: bars.mapToGlobal(QPoint(bars.width() // 2, bars.height() // 2)))
    assert window.dock_under_cursor() == "Next-piece probabilities"
    action(window, "Export the view under the cursor").trigger()
    assert json.loads(out.read_text())["view"] == "probs"


def test_first_run_hint_until_dismissed(qtbot, settings):
    from attnscope.app.main_window import MainWindow

    w = MainWindow(FakeEngine(), settings)
    qtbot.addWidget(w)
    w.show()
    assert w.hint.isVisible()
    qtbot.mouseClick(w.hint.ok, Qt.MouseButton.LeftButton)
    assert not w.hint.isVisible()
    w.controller.shutdown()
    w2 = MainWindow(FakeEngine(), settings)
    qtbot.addWidget(w2)
    w2.show()
    assert not w2.hint.isVisible()
    action(w2, "Getting started").trigger()
    assert w2.hint.isVisible()
    w2.controller.shutdown()


def test_clearing_the_input_clears_every_token_axis(window, decoded, qtbot):
    window.sentence.set_text("I love you")
    decoded(window, "I love you")
    assert window.scrubber.plot.getAxis("bottom")._labels
    window.sentence.source.selectAll()
    qtbot.keyClick(window.sentence.source, Qt.Key.Key_Delete)
    decoded(window, "")
    axes = [window.scrubber.plot.getAxis("bottom"), window.bars.plot.getAxis("left"),
            window.grid.plot.getAxis("left"), window.grid.plot.getAxis("bottom")]
    assert all(ax._labels == [] for ax in axes)


def test_pause_button_shows_an_icon_not_a_glyph(window, decoded, qtbot):
    window.sentence.set_text("I love you")
    decoded(window, "I love you")
    play = window.scrubber.play_btn
    assert not play.icon().isNull() and "⏸" not in play.text()
    qtbot.mouseClick(play, Qt.MouseButton.LeftButton)
    assert play.text() == "Pause" and play.icon().cacheKey() == window.scrubber.pause_icon.cacheKey()
    qtbot.mouseClick(play, Qt.MouseButton.LeftButton)
    assert play.text() == "Play"


def test_head_detail_opens_in_its_own_window_with_every_row_labelled(real_window, decoded, qtbot):
    w = real_window
    text = "The student reads a new book at the library."
    w.sentence.set_text(text)
    ins = decoded(w, text)
    action(w, "Head detail in its own window").trigger()
    dock = w.docks["Head detail"]
    qtbot.waitUntil(lambda: dock.isFloating() and dock.height() >= 600)
    qtbot.wait(100)
    w.detail.refresh()
    axis = w.detail.heatmap.getAxis("left")
    rows = [s for _v, s in axis._tickLevels[0]]
    assert len(rows) == len(ins.source_pieces)  # every row has its label


# -- 10: the Lines view labels every token, inside the view -----------------------------
@pytest.mark.parametrize("size", [(1000, 650), (1920, 1080)])
def test_lines_view_labels_every_token_inside_the_view(real_window, decoded, qtbot, size):
    w = real_window
    text = "The old teacher gave the small children a new book at the library yesterday."
    w.sentence.set_text(text)
    ins = decoded(w, text)
    w.resize(*size)
    qtbot.waitUntil(lambda: w.size().width() == size[0] and not w._fit_timer.isActive())
    w.docks["Head detail"].raise_()
    detail = w.detail
    bar = detail.tabs.tabBar()
    qtbot.waitUntil(lambda: bar.isVisible())
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(1).center())
    lines = detail.lines
    qtbot.waitUntil(lambda: lines.isVisible() and lines.matrix.shape == (len(ins.source_pieces),) * 2)
    assert (w.width(), w.height()) == size  # the head detail never forces the window wider
    lines.grab()  # one paint
    xl, xr = lines._columns()
    for side, pieces in (("q", ins.source_pieces), ("k", ins.source_pieces)):
        drawn = [(i, shown, r) for s, i, shown, r in lines.drawn if s == side]
        assert [i for i, _s, _r in drawn] == list(range(len(pieces)))  # every token labelled
        for k, (i, shown, r) in enumerate(drawn):
            assert shown == pieces[i] or (shown.endswith("…") and pieces[i].startswith(shown[:-1]))
            assert 0 <= r.left() and r.right() <= lines.width()  # not cut off at either edge
            assert 0 <= r.top() and r.bottom() <= lines.height()
            assert r.right() <= xl if side == "q" else r.left() >= xr  # clear of the lines
            assert not any(r.intersects(o) for _j, _s, o in drawn[k + 1:]), shown  # no overlap
    if size == (1920, 1080):  # room enough: nothing elided
        assert all(shown == ins.source_pieces[i] for _s, i, shown, _r in lines.drawn)


# -- 9: statistics plots keep their titles, labels and cells inside the view -------------
def _axis_label_rects(axis):
    """(text, scene rect) of each tick label the axis draws: right-aligned beside a left
    axis, centred under a bottom one, measured with the axis font."""
    from PySide6.QtCore import QRectF
    from PySide6.QtGui import QFontMetricsF

    if not axis.style["showValues"] or not axis.isVisible():
        return []
    bounds = axis.mapRectFromParent(axis.geometry())
    vertical = axis.orientation == "left"
    lo, hi = axis.range
    span = bounds.height() if vertical else bounds.width()
    scale = span / (hi - lo)
    fm = QFontMetricsF(axis.style["tickFont"] or axis.font())
    gap = max(0, axis.style["tickLength"]) + axis.style["tickTextOffset"][0 if vertical else 1]
    out = []
    for v, s in axis._tickLevels[0]:
        at = span - (v - lo) * scale if vertical else (v - lo) * scale
        w, h = fm.horizontalAdvance(s), fm.height()
        rect = (QRectF(bounds.right() - gap - w, bounds.top() + at - h / 2, w, h) if vertical
                else QRectF(bounds.left() + at - w / 2, bounds.top() + gap, w, h))
        out.append((s, axis.mapRectToScene(rect)))
    return out


def _assert_plot_inside(view, plot, texts=()):
    """The plot's title, tick labels and ``texts`` (pg.TextItems on cells) lie inside the
    widget's visible area and inside what clips them (the axis, the view box)."""
    visible = view.mapToScene(view.viewport().rect()).boundingRect().adjusted(-0.5, -0.5, 0.5, 0.5)
    title = plot.titleLabel.item.sceneBoundingRect()
    assert plot.titleLabel.text and visible.contains(title), plot.titleLabel.text
    for name in ("left", "bottom"):
        axis = plot.getAxis(name)
        box = axis.sceneBoundingRect().adjusted(-0.5, -0.5, 0.5, 0.5)
        labels = _axis_label_rects(axis)
        for s, r in labels:
            assert visible.contains(r) and box.contains(r), (plot.titleLabel.text, name, s)
    cells = plot.vb.sceneBoundingRect().adjusted(-0.5, -0.5, 0.5, 0.5)
    for item in texts:
        if item.isVisible():
            m = item.textItem.document().documentMargin()  # empty padding around the line
            text = item.mapRectToScene(item.boundingRect().adjusted(m, m, -m, -m))
            assert cells.contains(text), item.textItem.toPlainText()


@pytest.mark.parametrize("size", [(1000, 650), (1920, 1080)])
def test_head_roles_and_statistics_are_not_cut_off(real_window, decoded, qtbot, size):
    w = real_window
    text = "The student reads a new book at the library."
    w.sentence.set_text(text)
    ins = decoded(w, text)
    w.resize(*size)
    qtbot.waitUntil(lambda: w.size().width() == size[0] and not w._fit_timer.isActive())
    w.docks["Head roles"].raise_()
    roles = w.roles
    qtbot.waitUntil(lambda: roles.view.isVisible() and any(t.isVisible() for t in roles.cell_text))
    qtbot.wait(50)
    assert (w.width(), w.height()) == size  # no panel forces the window larger
    aer = np.asarray(roles.heads["cross_aer"])
    cells = [t for t in roles.cell_text if t.isVisible()]
    assert len(cells) == aer.size and sum("★" in t.textItem.toPlainText() for t in cells) == 1
    bottom = [s for s, _r in _axis_label_rects(roles.aer_plot.getAxis("bottom"))]
    assert bottom == [f"H{h + 1}" for h in range(aer.shape[1])]  # the last head's column too
    _assert_plot_inside(roles.view, roles.aer_plot, cells)
    assert roles.best_box.mapRectToScene(roles.best_box.rect()).intersects(roles.aer_plot.vb.sceneBoundingRect())
    w.docks["Head statistics"].raise_()
    stats = w.stats
    qtbot.waitUntil(lambda: stats.view.isVisible() and "entropy" in stats.values)
    qtbot.wait(50)
    assert (w.width(), w.height()) == size
    n_layers = ins.encoder_attention.shape[0]
    for name, plot in stats.plots.items():
        _assert_plot_inside(stats.view, plot, stats.texts.get(name, ()))
    layers = [s for s, _r in _axis_label_rects(stats.distance.getAxis("left"))]
    assert layers == [f"L{i + 1}" for i in range(n_layers)]
    first = _axis_label_rects(stats.similarity.getAxis("left"))[0][0]
    assert first == "L{}H{}".format(*(divmod(int(stats.order[0]), ins.encoder_attention.shape[1])[k] + 1 for k in (0, 1)))


@pytest.mark.parametrize("size", [(1280, 800), (1000, 650)])
def test_head_roles_summary_fits_its_line(real_window, decoded, qtbot, size):
    """The summary line above the AER map shows, for either source, a form that fits its
    width (not one cut off mid-word), naming the best head and its AER; when it is a
    shorter form, the full summary is its tooltip."""
    w = real_window
    text = "The student reads a new book at the library."
    w.sentence.set_text(text)
    decoded(w, text)
    w.resize(*size)
    qtbot.waitUntil(lambda: w.size().width() == size[0] and not w._fit_timer.isActive())
    w.docks["Head roles"].raise_()
    roles = w.roles
    qtbot.waitUntil(lambda: roles.summary.isVisible() and not roles._dirty)
    qtbot.wait(50)
    label = roles.summary.label
    for source in ("bundle", "sentence"):
        roles.source_box.setCurrentIndex(roles.source_box.findData(source))
        roles.refresh()
        shown, tip = label.text(), label.toolTip()
        assert label.width() > 100 and _needs_width(label) <= label.width(), (size, source, shown)
        full = tip or shown
        best = re.match(r"★ best alignment head (L\d+ H\d+): AER (\d\.\d\d) · ", full)
        assert best, full  # the grammar knows the sentence: both sources have an AER
        assert "…" not in shown and f"{best[1]}: AER {best[2]}" in shown, (size, source, shown)
        assert tip != shown


# -- 6: the training charts after dragging the divider ---------------------------------------
def _drag_divider(window, qtbot, dock, dy: int) -> None:
    """Press on the divider above ``dock``, move the mouse ``dy`` pixels, release, as a
    user drags it (the dividers belong to the main window)."""
    top = dock.geometry().top()
    centre = window.centralWidget().geometry()
    at = QPoint(centre.center().x(), (centre.bottom() + top) // 2 + 1)
    qtbot.mouseMove(window, at)
    qtbot.mousePress(window, Qt.MouseButton.LeftButton, pos=at)
    for k in range(1, 6):  # a few steps, as a hand moves (Qt applies each on a timer)
        qtbot.mouseMove(window, at + QPoint(0, dy * k // 5))
        qtbot.wait(20)
    qtbot.mouseRelease(window, Qt.MouseButton.LeftButton, pos=at + QPoint(0, dy))
    qtbot.wait(50)


def _readable(curves) -> None:
    """Every chart at least 150 px tall and 200 wide, inside the widget, its legend inside
    its plot, and no two labels of a log axis touching (2 px apart at least)."""
    from PySide6.QtGui import QImage, QPainter

    width = curves.width()
    for key, plot in curves.plots.items():
        r = plot.sceneBoundingRect()
        assert r.height() >= 150 and r.width() >= 200, (key, r)
        assert r.left() >= 0 and r.right() <= width + 0.5, (key, r, width)  # not cut off at the right
        assert plot.vb.height() >= 90, key
        if plot.legend.items:
            assert plot.vb.sceneBoundingRect().contains(plot.legend.sceneBoundingRect()), key
    image = QImage(10, 10, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        for key in ("update", "grad", "ppl"):
            rects = [r for r, _f, _t in curves.plots[key].getAxis("left").generateDrawSpecs(painter)[2]]
            assert len(rects) >= 2, key
            for i, a in enumerate(rects):
                assert not any(a.adjusted(0, -1, 0, 1).intersects(b) for b in rects[i + 1:]), key
    finally:
        painter.end()


def test_dragging_the_divider_keeps_the_training_charts_readable(real_window, qtbot):
    w = real_window
    w.resize(1280, 800)
    qtbot.waitUntil(lambda: w.width() == 1280 and not w._fit_timer.isActive())
    dock = w.docks["Training"]
    dock.raise_()
    curves = w.dashboard.curves
    qtbot.waitUntil(lambda: curves._built and curves.isVisible())
    qtbot.wait(50)
    _readable(curves)  # the default size
    before = dock.height()
    _drag_divider(w, qtbot, dock, -150)  # taller
    assert dock.height() == pytest.approx(before + 150, abs=12)
    _readable(curves)
    assert w.bottom_share == pytest.approx(dock.height() / w.height(), abs=0.01)  # kept
    _drag_divider(w, qtbot, dock, 400)  # as short as it goes: the charts scroll
    assert dock.height() < before
    _readable(curves)
    w.docks["Gradient flow"].raise_()
    grad = w.gradients
    qtbot.waitUntil(lambda: grad.view.isVisible() and len(grad.layers) > 0)
    qtbot.wait(50)
    visible = grad.view.mapToScene(grad.view.viewport().rect()).boundingRect().adjusted(-0.5, -0.5, 0.5, 0.5)
    for plot in (grad.bars_plot, grad.history):
        assert visible.contains(plot.sceneBoundingRect()) and plot.vb.height() >= 90
        _assert_plot_inside(grad.view, plot) if plot is grad.history else None
    labels = [s for s, _r in _axis_label_rects(grad.bars_plot.getAxis("bottom"))]
    assert labels and labels[0] == "emb"
    assert w.width() == 1280  # nothing forced the window wider


@pytest.mark.parametrize("size", [(1000, 650), (1366, 768), (1920, 1080)])
def test_grid_tile_titles_clear_the_tiles_above(real_window, decoded, qtbot, size):
    """Each "L2 H1" title is drawn in the gap above its tile, never over the tile above it,
    whatever the grid's height; where no gap fits, the grid leaves the titles out."""
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QFontMetricsF

    w = real_window
    w.sentence.set_text("She eats an apple.")
    decoded(w, "She eats an apple.")
    _painted_tree(w, qtbot, size)
    grid = w.grid
    qtbot.wait(50)  # the grid re-lays its tiles once its plot has the new height
    rows, cols, q, _k = grid.stack.shape
    vb, titles = grid.plot.vb, grid.titles
    height = QFontMetricsF(titles.font).height()

    def screen_y(y: float) -> float:
        return vb.mapViewToScene(QPointF(0.0, y)).y()

    # Tile tops in data units, read from the drawn mosaic: a row of tiles starts after a NaN gap.
    filled = ~np.isnan(grid.mosaic[:, 0])
    tops = [y for y in range(len(filled)) if filled[y] and (y == 0 or not filled[y - 1])]
    assert len(tops) == rows
    if size != (1000, 650):
        assert len(titles.texts) == rows * cols  # room enough: every tile is named
    for n, (_x, y) in enumerate(titles.xy):
        r = n // cols
        top = screen_y(y)  # the title's baseline sits on its tile's top edge
        assert abs(top - screen_y(tops[r] - 0.5)) < 1.0
        above = screen_y(tops[r - 1] + q - 0.5) if r else vb.sceneBoundingRect().top()
        assert top - 1 - height >= above - 0.5, (size, titles.texts[n])


def _needs_width(label) -> int:
    """The width a fresh QLabel of the same font and format asks for to show ``label``'s text."""
    from PySide6.QtWidgets import QLabel

    probe = QLabel()
    probe.setFont(label.font())
    probe.setTextFormat(label.textFormat())
    probe.setText(label.text())
    return probe.sizeHint().width()


def test_probability_labels_fit_a_small_window(real_window, decoded, qtbot):
    """At 1000x650 every label of the probability dock shows one line that fits its width
    (a shorter form where the full one does not), with the full text in its tooltip; a
    wider window shows the full text again."""
    from PySide6.QtWidgets import QLabel

    w = real_window
    text = "The student reads a new book at the library."
    w.sentence.set_text(text)
    ins = decoded(w, text)
    bars = w.bars
    for size in ((1000, 650), (1920, 1080)):
        w.resize(*size)
        qtbot.waitUntil(lambda s=size: w.size().width() == s[0] and not w._fit_timer.isActive())
        qtbot.wait(50)
        small = size == (1000, 650)
        for step in range(len(ins.best.target_pieces)):
            w.state.set_step(step)
            bars.refresh()
            labels = [lab for lab in bars.findChildren(QLabel) if lab.isVisible()]
            assert bars.caption.label in labels and bars.decode_label.label in labels
            for label in labels:
                assert _needs_width(label) <= label.width(), (size, step, label.text())
            caption, tip = bars.caption.label, bars.caption.label.toolTip()
            piece = html.escape(ins.best.target_pieces[step])
            assert caption.text().startswith(f"Step {step + 1}:")
            if small:  # the side column is too narrow for the whole caption
                assert "Click a bar to force it." not in caption.text()
                assert tip.startswith(f"Step {step + 1}: fed ") and tip.endswith(". Click a bar to force it.")
                assert f"chose <b>{piece}</b>" in tip
            else:
                assert caption.text().endswith(". Click a bar to force it.") and tip == ""
                assert f"chose <b>{piece}</b>" in caption.text()
        decode = bars.decode_label.label
        full = "bars at T = 1.00 · decoding T = 1.00"
        assert (decode.toolTip(), decode.text()) == ((full, "decoding T = 1.00") if small else ("", full))
        button = bars.apply_btn  # the label leaves the button its whole width
        assert button.width() >= button.sizeHint().width() and button.geometry().right() < bars.width()


def test_one_line_label_cuts_its_shortest_form_when_none_fits(qtbot):
    from attnscope.app.widgets import fixed_label

    label = fixed_label(1)
    qtbot.addWidget(label)
    label.resize(400, label.height())
    label.show()  # a hidden widget's resize events wait until it is shown
    label.set_forms("Step 3: fed <b>&lt;s&gt;</b>, chose <b>▁도서관에서</b>.", "Step 3: <b>▁도서관에서</b>")
    assert label.text() == "Step 3: fed <b>&lt;s&gt;</b>, chose <b>▁도서관에서</b>." and label.label.toolTip() == ""
    label.resize(70, label.height())  # narrower than either form: the last one, cut
    assert label.text().startswith("Step") and label.text().endswith("…") and "<b>" not in label.text()
    assert _needs_width(label.label) <= 70
    assert label.label.toolTip() == "Step 3: fed <b>&lt;s&gt;</b>, chose <b>▁도서관에서</b>."
    label.setText("nothing decoded")  # a plain text again: no forms, no tooltip
    label.resize(400, label.height())
    assert label.text() == "nothing decoded" and label.label.toolTip() == ""
