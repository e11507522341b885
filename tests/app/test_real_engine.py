"""The window on the real onnxruntime engine, when a bundle is at hand.

Uses $ATTNSCOPE_TEST_BUNDLE, else the shipped default model; skipped when neither exists
(training a bundle here would take minutes, tests/core covers the engine itself).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from attnscope.core.bundle import DEFAULT_BUNDLE


def softmax_at(logits: np.ndarray, temperature: float) -> np.ndarray:
    """exp(z / T) / sum exp(z / T), written out here: the oracle shares no code with the app."""
    z = np.asarray(logits, np.float64) / temperature
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _bundle() -> Path | None:
    env = os.environ.get("ATTNSCOPE_TEST_BUNDLE")
    if env:
        return Path(env)
    default = DEFAULT_BUNDLE
    return default if (default / "config.json").is_file() else None


@pytest.fixture(scope="module")
def real_engine():
    pytest.importorskip("onnxruntime")
    bundle = _bundle()
    if bundle is None:
        pytest.skip("no model bundle: set ATTNSCOPE_TEST_BUNDLE or ship resources/models/default")
    from attnscope.core.inference.engine import Engine

    return Engine.load(bundle)


def test_real_engine_drives_every_view(real_engine, qtbot, settings, decoded):
    from attnscope.app.main_window import MainWindow

    w = MainWindow(real_engine, settings)
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    w.sentence.set_text("I love you")
    ins = decoded(w, "I love you", timeout=30_000)
    assert ins.translation in w.sentence.translation.text()
    w.grid.set_options(kind="encoder", mode="heads")
    np.testing.assert_array_equal(w.grid.matrix(0, 0), ins.encoder_attention[0, 0])
    w.grid.set_options(kind="cross")
    np.testing.assert_array_equal(w.grid.matrix(0, 0), ins.best.cross_attention[0, 0])
    assert w.tree.drawn_nodes() == list(range(len(ins.nodes)))
    probs = softmax_at(ins.best.step_logits.dense_values()[w.state.step], 1.0)
    assert w.bars.probs[0] == pytest.approx(probs.max())
    assert w.state.piece(int(w.bars.top_ids[0])) == real_engine.piece(int(np.argmax(probs)))
    assert real_engine.provider in w.provider_label.text()
    # what-if on the real search: force the second-likeliest piece at step 1
    piece = int(w.bars.top_ids[1])
    w.state.set_step(0)
    w.bars.click_bar(1)
    qtbot.waitUntil(lambda: w.state.inspection.config.forced_prefix == (piece,), timeout=30_000)
    forced = w.state.inspection
    assert int(forced.best.target_ids[0]) == piece and forced.nodes[w.state.chain[1]].forced
    w.sentence.set_text("")  # the real engine's empty Inspection
    decoded(w, "", timeout=30_000)
    assert w.tree.node_count == 0
    w.controller.shutdown()


def test_real_loader_bad_bundle_keeps_previous_model(qtbot, settings, tmp_path, monkeypatch):
    """The real Engine.load raises core.bundle.BundleError; the window shows it and keeps
    the model it had (the fake one here)."""
    pytest.importorskip("onnxruntime")
    from PySide6.QtWidgets import QMessageBox

    from attnscope.app.main_window import MainWindow
    from attnscope.app.testing import FakeEngine
    from attnscope.core.bundle import BundleError

    shown = []
    monkeypatch.setattr(QMessageBox, "critical", lambda *a, **k: shown.append(a[2]))
    engine = FakeEngine()
    w = MainWindow(engine, settings)  # default loader: core.inference.engine.Engine.load
    qtbot.addWidget(w)
    bad = tmp_path / "not-a-bundle"
    bad.mkdir()
    (bad / "config.json").write_text("{ broken")
    assert w.open_bundle(bad) is False
    assert shown and BundleError.__name__ in shown[0] and "still in use" in shown[0]
    assert w.controller.engine is engine
    w.controller.shutdown()


def test_opening_a_bundle_from_the_window_loads_in_the_background(qtbot, settings, tmp_path):
    """What Open model, Open recent, a drop and a finished import do: the bundle loads on a
    worker thread (tens of seconds at NLLB size) while the open model keeps translating;
    a bundle that cannot load says why in one line and leaves the open model in place."""
    import shutil

    from attnscope.app.main_window import MainWindow
    from attnscope.app.testing import FakeEngine
    from attnscope.core.bundle import DEFAULT_BUNDLE

    engine = FakeEngine()
    w = MainWindow(engine, settings)  # default loader: core.inference.engine.Engine.load
    qtbot.addWidget(w)
    w.show()
    broken = tmp_path / "broken"
    shutil.copytree(DEFAULT_BUNDLE, broken)
    (broken / "decoder.onnx").write_bytes(b"not a graph")
    assert w.open_model(broken) is True  # started, not done
    assert w.controller.loading and w.controller.engine is engine
    assert "Opening broken" in w.statusBar().currentMessage()
    w.sentence.set_text("I love you")  # the open model still answers meanwhile
    qtbot.waitUntil(lambda: w.state.inspection is not None and w.state.inspection.text == "I love you")
    qtbot.waitUntil(lambda: not w.controller.loading, timeout=60_000)
    assert w.controller.engine is engine
    message = w.statusBar().currentMessage()
    assert "decoder.onnx" in message and "\n" not in message
    w.import_error.close()
    assert str(broken) not in w.store.recent_bundles()

    good = tmp_path / "good"
    shutil.copytree(DEFAULT_BUNDLE, good)
    assert w.open_model(good) is True
    qtbot.waitUntil(lambda: not w.controller.loading, timeout=60_000)
    assert w.controller.engine is not engine and w.controller.engine.bundle_path == good
    assert w.store.recent_bundles()[0] == str(good) and "Opened good" in w.statusBar().currentMessage()
    qtbot.waitUntil(lambda: w.state.inspection is not None and w.state.inspection.text == "I love you"
                    and w.state.inspection.translation == "나는 너를 사랑한다", timeout=30_000)
    w.controller.shutdown()
