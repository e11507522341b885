"""The opt-in 8-bit mode: off by default, on only when asked, its attention cost on show."""

from __future__ import annotations

import numpy as np

from attnscope.app.controller import load_real_engine
from attnscope.core.config import DecodeConfig
from attnscope.core.inference.engine import Engine


def test_8bit_mode_is_opt_in_and_reports_its_attention_difference(qtbot, settings, decoded, tmp_path,
                                                                   monkeypatch):
    from attnscope.app.main_window import MainWindow

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    w = MainWindow(load_real_engine(None), settings, loader=load_real_engine)
    qtbot.addWidget(w)
    w.show()
    w.start("The teacher reads a new book.")
    decoded(w, "The teacher reads a new book.")
    assert w.controller.engine.precision == "float" and not w.int8_action.isChecked()
    assert "float32" in w.provider_label.text() and "8-bit" not in w.provider_label.text()

    w.int8_action.trigger()
    # Quantising runs off the GUI thread: the window is back at once, still on the float
    # model (which keeps translating), with the action greyed out until the 8-bit one is in use.
    assert w.controller.loading and w.controller.engine.precision == "float"
    assert not w.int8_action.isEnabled() and "Quantising" in w.statusBar().currentMessage()
    w.sentence.set_text("The child reads.")
    decoded(w, "The child reads.")
    qtbot.waitUntil(lambda: not w.controller.loading, timeout=120_000)
    eng = w.controller.engine
    assert eng.precision == "int8" and w.int8_action.isChecked() and w.int8_action.isEnabled()
    w.sentence.set_text("The teacher reads a new book.")
    assert any(p.is_file() for p in (tmp_path / "cache").rglob("decoder.onnx"))  # quantised, cached
    # The reported difference is a real measurement: recompute it on one probe by hand.
    ref = Engine.load(None, device="cpu")
    text = "The teacher reads a new book."
    f = ref.inspect(text, DecodeConfig(strategy="greedy", max_len=32))
    q = eng.inspect(text, DecodeConfig(strategy="greedy", max_len=32,
                                       forced_prefix=tuple(int(t) for t in f.best.target_ids)))
    d = np.abs(f.cross_attention - q.cross_attention)
    assert 0 < d.max() <= eng.int8_difference["max"] + 1e-6
    assert 0 < eng.int8_difference["mean"] < 0.05
    label = w.provider_label.text()
    assert "8-bit" in label and f"{eng.int8_difference['mean']:.4f}" in label
    decoded(w, text)  # the window decodes again with the 8-bit graphs

    w.int8_action.trigger()  # and back
    qtbot.waitUntil(lambda: not w.controller.loading, timeout=60_000)
    assert w.controller.engine.precision == "float" and "float32" in w.provider_label.text()
    w.controller.shutdown()


def test_a_failed_8bit_load_keeps_the_float_model_and_says_why(qtbot, settings, decoded):
    from attnscope.app.main_window import MainWindow
    from attnscope.core.bundle import BundleError

    def loader(bundle, precision="float"):  # noqa: ANN001, ANN202
        if precision == "int8":
            raise BundleError("decoder.onnx: no room left on the device")
        return load_real_engine(bundle)

    w = MainWindow(load_real_engine(None), settings, loader=loader)
    qtbot.addWidget(w)
    w.show()
    w.start("The teacher reads a new book.")
    decoded(w, "The teacher reads a new book.")
    before = w.controller.engine
    w.int8_action.trigger()
    qtbot.waitUntil(lambda: not w.controller.loading, timeout=30_000)
    assert w.controller.engine is before and before.precision == "float"
    assert not w.int8_action.isChecked() and w.int8_action.isEnabled()
    assert "no room left on the device" in w.statusBar().currentMessage()
    w.sentence.set_text("The child reads.")
    decoded(w, "The child reads.")  # still translating
    w.controller.shutdown()
