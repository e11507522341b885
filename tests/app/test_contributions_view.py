"""The norm-weighted selector and the ALTI+ view, driven like a user drives them."""

from __future__ import annotations

import numpy as np
import pytest

from attnscope.core.config import DecodeConfig


@pytest.fixture(scope="module")
def real_inspection():  # noqa: ANN201
    from attnscope.core.inference.engine import Engine

    return Engine.load(None).inspect("The little boy reads a long book in the garden.", DecodeConfig())


def test_measure_selector_switches_every_attention_view(qtbot, real_inspection) -> None:  # noqa: ANN001
    from attnscope.app.attention_detail import AttentionDetail
    from attnscope.app.attention_grid import AttentionGrid
    from attnscope.app.state import AppState

    state = AppState()
    grid, detail = AttentionGrid(state), AttentionDetail(state)
    for w in (grid, detail):
        qtbot.addWidget(w)
        w.show()
    state.set_inspection(real_inspection)
    grid.set_options(kind="cross", mode="heads")
    state.select_attention("cross", "heads", 1, 2)
    grid.refresh()
    detail.refresh()
    np.testing.assert_allclose(grid.matrix(1, 2), real_inspection.cross_attention[1, 2])
    grid.measure_box.setCurrentIndex(grid.measure_box.findData("norm"))  # what picking it does
    grid.refresh()
    detail.refresh()
    ins = real_inspection
    want = ins.cross_attention[1, 2] * ins.cross_value_norms[1, 2][None, :]  # alpha_ij * ||f(x_j)||
    np.testing.assert_allclose(grid.matrix(1, 2), want, rtol=1e-5)
    assert detail.measure_box.currentData() == "norm"  # the other view follows
    np.testing.assert_allclose(detail.matrix(), want, rtol=1e-5)
    assert grid.measure_box.isEnabled()


def test_contributions_view_draws_the_best_hypothesis(qtbot, real_inspection) -> None:  # noqa: ANN001
    from attnscope.app.contributions_view import ContributionsView
    from attnscope.app.state import AppState

    state = AppState()
    view = ContributionsView(state)
    qtbot.addWidget(view)
    view.show()
    state.set_inspection(real_inspection)
    state.set_step(1)
    view.refresh()
    c = real_inspection.contributions
    np.testing.assert_array_equal(view.matrix(), c.total)
    x, y = view.share_curve.getData()
    np.testing.assert_allclose(x, c.source_share)  # one point per heatmap row
    np.testing.assert_array_equal(y, np.arange(len(c.source_share)))
    assert "best hypothesis · step 2 " in view.caption.text()
    assert f"source {c.source_share[1]:.0%}" in view.caption.text()


def test_contributions_follow_the_selected_hypothesis(qtbot, real_inspection) -> None:  # noqa: ANN001
    from attnscope.app.contributions_view import ContributionsView
    from attnscope.app.state import AppState
    from attnscope.core.inference.engine import Engine

    engine = Engine.load(None)
    state = AppState()
    state.contributions_fn = engine.contributions
    view = ContributionsView(state)
    qtbot.addWidget(view)
    view.show()
    state.set_inspection(real_inspection)
    other = next(h.node_id for h in real_inspection.hypotheses[1:]) if len(real_inspection.hypotheses) > 1 \
        else next(n.id for n in real_inspection.nodes if n.status == "pruned" and n.step > 1)
    state.select_node(other)
    view.refresh()
    path = real_inspection.path(other)
    want = engine.contributions(real_inspection.source_ids, path.target_ids)  # teacher-forced on that path
    assert view.matrix().shape == (len(path.target_ids), len(real_inspection.source_ids) + len(path.target_ids))
    np.testing.assert_allclose(view.matrix(), want.total, atol=1e-6)
    assert "selected hypothesis" in view.caption.text()


def test_window_has_the_contributions_tab(qtbot, tmp_path) -> None:  # noqa: ANN001
    from PySide6.QtCore import QSettings

    from attnscope.app.contributions_view import ContributionsView
    from attnscope.app.main_window import MainWindow
    from attnscope.app.testing import FakeEngine

    win = MainWindow(FakeEngine(), settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(win)
    win.docks["Contributions"].raise_()
    assert isinstance(win.contributions, ContributionsView)
