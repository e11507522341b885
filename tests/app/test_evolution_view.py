"""The evolution view: one panel per snapshot, each with that snapshot's own attention,
translation and loss; decoding off the GUI thread, only when shown; a real bundle's
snapshots through the window."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from attnscope.app.demo import demo_state
from attnscope.app.evolution_view import CAPTION_CHARS, EvolutionView, elide, head_matrix
from attnscope.app.testing import FakeSnapshotSet
from attnscope.core.bundle import DEFAULT_BUNDLE


@pytest.fixture
def view(qtbot):
    state = demo_state("I love you")
    v = EvolutionView(state)
    qtbot.addWidget(v)
    v.resize(1300, 420)
    yield v
    v.shutdown()


def test_one_panel_per_snapshot_with_its_own_numbers(view, qtbot):
    snaps = FakeSnapshotSet()
    view.set_snapshots(snaps)
    assert snaps.calls == 0  # hidden: nothing decoded yet
    view.show()
    qtbot.waitUntil(lambda: len(view.decodes) == len(snaps.infos), timeout=10_000)
    assert len(view.panels) == len(view.captions) == 6
    view.head_box.setCurrentIndex(view.head_box.findData(1))
    view.layer_box.setCurrentIndex(view.layer_box.findData(2))
    for p, cap, d in zip(view.panels, view.captions, view.decodes, strict=True):
        assert f"step {d.info.step} " in p.titleLabel.text and f"loss {d.loss:.2f}" in p.titleLabel.text
        assert elide(d.inspection.translation or "∅", CAPTION_CHARS) in cap.text
        np.testing.assert_allclose(p.data, d.inspection.best.cross_attention[2, 1])
    # the snapshots really differ: the earliest is nearly uniform, the last is not
    assert view.panels[0].data.std() < view.panels[-1].data.std()
    view.slider.setValue(1)
    assert "step 12" in view.detail.text() and "train loss" in view.detail.text()
    view.kind_box.setCurrentIndex(view.kind_box.findData("encoder"))
    d = view.decodes[3]
    np.testing.assert_allclose(view.panels[3].data, head_matrix(d, "encoder", view.layer_box.currentData(), 1))


def test_new_sentence_reruns_every_snapshot_once(view, qtbot):
    snaps = FakeSnapshotSet()
    view.set_snapshots(snaps)
    view.show()
    qtbot.waitUntil(lambda: len(view.decodes) == 6, timeout=10_000)
    calls = snaps.calls
    view.state.set_inspection(view.state.inspection)  # same text and config: redraw only
    assert snaps.calls == calls
    from attnscope.app.testing import FakeEngine

    view.state.set_inspection(FakeEngine().inspect("you love me", view.state.inspection.config))
    qtbot.waitUntil(lambda: view.decodes and view.decodes[-1].inspection.text == "you love me", timeout=10_000)


def test_no_snapshots_says_so(view):
    view.set_snapshots(None)
    view.show()
    assert view.empty_label.isVisible() and not view.view.isVisible()


def _bundle_with_snapshots() -> Path | None:
    default = DEFAULT_BUNDLE
    return default if (default / "snapshots").is_dir() else None


@pytest.mark.skipif(_bundle_with_snapshots() is None, reason="the shipped bundle has no snapshots")
def test_shipped_snapshots_in_the_window(qtbot, settings, decoded):
    from attnscope.app.main_window import MainWindow
    from attnscope.core.inference.engine import Engine

    engine = Engine.load(_bundle_with_snapshots())
    w = MainWindow(engine, settings)
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    w.start("I love you")
    decoded(w, "I love you")
    w.docks["Evolution"].raise_()
    ev = w.evolution
    n = len(engine.bundle.snapshots())
    assert n >= 4  # 0, 1, 10 and 100 % of training fit the 25 MB budget
    qtbot.waitUntil(lambda: len(ev.panels) == n, timeout=5000)  # built once its tab is raised
    qtbot.waitUntil(lambda: len(ev.decodes) == n, timeout=30_000)
    assert all(d.inspection is not None for d in ev.decodes)
    assert ev.decodes[-1].inspection.translation == "나는 너를 사랑한다"
    assert ev.decodes[0].inspection.translation != "나는 너를 사랑한다"  # random init
    losses = [d.loss for d in ev.decodes]
    assert losses[-1] < losses[0]
    w.controller.shutdown()
    ev.shutdown()
