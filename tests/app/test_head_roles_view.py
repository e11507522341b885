"""AER heatmap with the best head outlined, and role labels with their numbers."""

from __future__ import annotations

import json
import shutil

import numpy as np
from PySide6.QtCore import Qt

from attnscope.app.demo import demo_state
from attnscope.app.head_roles_view import HeadRolesView


def _heads() -> dict:
    aer = [[0.9, 0.8, 0.7, 0.95], [0.6, 0.15, 0.5, 0.9], [0.4, 0.3, 0.8, 0.85]]
    role = {"role": "previous", "measure": "mass", "value": 0.81}
    grid = [[role] * 4 for _ in range(3)]
    cross = [[{"role": "alignment" if a <= 0.5 else "broad", "measure": "AER" if a <= 0.5 else "entropy",
               "value": a if a <= 0.5 else 0.9} for a in row] for row in aer]
    return {"sentences": 200, "aligned_sentences": 200, "cross_aer": aer, "best_head": [1, 1],
            "best_aer": 0.15, "roles": {"encoder": grid, "decoder": grid, "cross": cross}}


def test_bundle_heads_heatmap_and_roles(qtbot):
    v = HeadRolesView(demo_state())
    qtbot.addWidget(v)
    v.resize(1600, 500)  # wide enough for the whole summary line
    v.show()
    v.set_heads(_heads())
    np.testing.assert_allclose(v.aer_plot.data, np.asarray(_heads()["cross_aer"]), rtol=1e-6)
    r = v.best_box.rect()
    assert (r.x() + 0.5, r.y() + 0.5) == (1.0, 1.0) and v.best_box.isVisible()
    assert v.summary.text() == "★ best alignment head L2 H2: AER 0.15 · 200 aligned of 200 validation sentences"
    v.resize(900, 500)  # narrower: a shorter form, the whole line in the tooltip
    qtbot.waitUntil(lambda: v.summary.label.toolTip() != "")
    assert v.summary.label.toolTip().startswith("★ best alignment head L2 H2: AER 0.15 · 200 aligned")
    assert "L2 H2: AER 0.15" in v.summary.text() and "…" not in v.summary.text()
    assert v.role_text(1, 1) == "alignment (AER 0.15)"
    assert any(t.toPlainText().startswith("★") for t in v.cell_text if t.isVisible())
    v.kind_box.setCurrentIndex(v.kind_box.findData("encoder"))
    assert v.role_text(0, 0) == "previous (mass 0.81)"


def test_this_sentence_measures_the_decode(qtbot):
    state = demo_state("I love you.")
    v = HeadRolesView(state)
    qtbot.addWidget(v)
    v.resize(1600, 500)
    v.show()
    v.set_heads(None)  # no heads.json: the sentence is measured without being asked
    assert v.source_box.currentData() == "sentence"
    ins = state.inspection
    m = ins.best.cross_attention.shape
    assert v.aer_plot.data.shape == m[:2] and "best alignment head" in v.summary.text()
    assert v.table.rowCount() == m[0] and v.table.columnCount() == m[1]
    assert v.role_text(0, 0).split(" (")[0] in {"alignment", "sink", "broad", "mixed"}


def _bundle_offered(box) -> bool:
    """Whether the probe-set entry of the source box can be chosen (its item is enabled)."""
    item = box.model().item(box.findData("bundle"))
    return bool(item.flags() & Qt.ItemFlag.ItemIsEnabled)


def test_a_bundle_without_heads_json_offers_only_the_sentence(qtbot, settings, decoded, tmp_path):
    """The shipped bundle measures on its probe set; a copy without heads.json cannot (the
    entry is disabled and says why), so the sentence is measured; back on the shipped
    bundle the probe set returns, unless the user had chosen the sentence."""
    from attnscope.app.controller import load_real_engine
    from attnscope.app.main_window import MainWindow
    from attnscope.core.bundle import DEFAULT_BUNDLE

    bare = tmp_path / "no-heads"
    bare.mkdir()
    for name in ("config.json", "spm.model", "encoder.onnx", "decoder.onnx"):
        shutil.copy(DEFAULT_BUNDLE / name, bare / name)
    shipped_aer = np.asarray(json.loads((DEFAULT_BUNDLE / "heads.json").read_text())["cross_aer"])
    w = MainWindow(load_real_engine(None), settings)
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    qtbot.waitExposed(w)
    try:
        w.sentence.set_text("She eats an apple.")
        ins = decoded(w, "She eats an apple.")
        w.docks["Head roles"].raise_()
        v = w.roles
        qtbot.waitUntil(lambda: v.on_screen() and not v._dirty)
        box = v.source_box
        assert box.currentData() == "bundle" and _bundle_offered(box) and box.toolTip() == ""
        np.testing.assert_allclose(v.aer_plot.data, shipped_aer, rtol=1e-6)

        assert w.open_bundle(bare)
        ins = decoded(w, "She eats an apple.")
        assert not _bundle_offered(box) and box.currentData() == "sentence"
        tip = box.model().item(box.findData("bundle")).toolTip()
        assert "no heads.json" in tip and box.toolTip() == tip
        layers, heads = ins.best.cross_attention.shape[:2]
        assert v.aer_plot.data.shape == (layers, heads) and "no heads.json" not in v.summary.text()
        box.setFocus()
        qtbot.keyClick(box, Qt.Key.Key_Up)  # the keyboard skips the disabled entry
        assert box.currentData() == "sentence"

        assert w.open_bundle(DEFAULT_BUNDLE)  # the probe set again: it was not the user who left it
        assert box.currentData() == "bundle" and _bundle_offered(box) and box.toolTip() == ""
        np.testing.assert_allclose(v.aer_plot.data, shipped_aer, rtol=1e-6)
        qtbot.keyClick(box, Qt.Key.Key_Down)  # the user picks this sentence
        assert box.currentData() == "sentence"
        assert w.open_bundle(bare) and w.open_bundle(DEFAULT_BUNDLE)
        assert _bundle_offered(box) and box.currentData() == "sentence"  # the user's choice stays
    finally:
        w.controller.shutdown()
