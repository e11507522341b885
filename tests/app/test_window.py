"""The window as a desktop app: entry point, screenshot, bundles, settings, fonts."""

from __future__ import annotations

import runpy
import sys

import pytest
from PySide6.QtGui import QFont, QFontDatabase, QImage, QRawFont
from PySide6.QtWidgets import QApplication, QMessageBox

from attnscope.app import main as app_main
from attnscope.app.testing import FakeEngine

PANELS = ["attention_grid", "attention_detail", "beam_tree", "prob_bars", "step_scrubber",
          "data_flow", "head_stats_view", "sentence_panel", "decode_controls", "line_view",
          "evolution_view", "head_roles_view", "training_curves", "training_dashboard", "gradient_flow"]


@pytest.mark.filterwarnings("ignore:'attnscope.app.*' found in sys.modules:RuntimeWarning")
@pytest.mark.parametrize("module", PANELS)
def test_every_panel_runs_alone(module, tmp_path, monkeypatch):
    """Each panel's ``__main__`` block shows it alone with fake data (here: --shot PNG)."""
    shot = tmp_path / f"{module}.png"
    monkeypatch.setattr(sys, "argv", [module, "--shot", str(shot)])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_module(f"attnscope.app.{module}", run_name="__main__")
    assert exit_info.value.code == 0
    img = QImage(str(shot))
    assert not img.isNull() and img.width() > 100 and img.height() > 20
    # not an empty panel: more than a handful of distinct colours
    colours = {img.pixel(x, y) for x in range(0, img.width(), 7) for y in range(0, img.height(), 7)}
    assert len(colours) > 8


def test_smoke_main_screenshot(tmp_path, monkeypatch):
    shot = tmp_path / "window.png"
    rc = app_main.main(["--fake", "--text", "I love you", "--screenshot", str(shot)])
    assert rc == 0
    img = QImage(str(shot))
    assert (img.width(), img.height()) == (1280, 800)


def test_no_display_is_a_clear_error_not_an_abort(monkeypatch, capsys):
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    assert app_main.main(["--fake"]) == 2
    assert "display" in capsys.readouterr().err.lower()


def test_missing_real_engine_is_reported(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "attnscope.core.inference.engine", None)  # import fails
    assert app_main.main(["--screenshot", "/tmp/never.png"]) == 1
    assert "attnscope.core.inference.engine" in capsys.readouterr().err


def test_bad_bundle_shows_dialog_and_keeps_previous_model(window, decoded, monkeypatch,
                                                          tmp_path, engine):
    shown = []
    monkeypatch.setattr(QMessageBox, "critical",
                        lambda *a, **k: shown.append(a) or QMessageBox.StandardButton.Ok)
    window.sentence.set_text("I love you")
    decoded(window, "I love you")
    assert window.open_bundle(tmp_path / "no-such-bundle") is False
    assert len(shown) == 1 and "no-such-bundle" in shown[0][2]
    assert window.controller.engine is engine  # previous model kept
    window.sentence.set_text("you love me")
    decoded(window, "you love me")
    assert engine.calls[-1][0] == "you love me"
    # a good bundle loads, becomes recent, and the status bar says so
    good = tmp_path / "good-bundle"
    good.mkdir()
    assert window.open_bundle(good) is True
    assert window.controller.engine is not engine
    assert str(good) in window.store.recent_bundles()
    assert "good-bundle" in window.bundle_label.text()
    assert "CPU" in window.provider_label.text()


def test_settings_survive_a_restart(qtbot, settings, engine, decoded):
    from attnscope.app.main_window import MainWindow

    w = MainWindow(engine, settings)
    qtbot.addWidget(w)
    w.show()
    w.grid.set_options(kind="cross", mode="max", cmap="magma", shared=True)
    w.controls.beam.setValue(3)
    w.sentence.set_text("the dog")
    decoded(w, "the dog")
    w.store.add_recent("/some/bundle")
    w.close()
    w2 = MainWindow(FakeEngine(), settings)
    qtbot.addWidget(w2)
    assert w2.grid.options() == {"kind": "cross", "mode": "max", "cmap": "magma", "shared": True}
    assert w2.controls.config().beam_size == 3
    assert w2.store.last_text() == "the dog"
    assert w2.store.recent_bundles()[0] == "/some/bundle"
    w2.controller.shutdown()


def test_theme_switch_recolours_views(window, decoded):
    window.sentence.set_text("I love you")
    decoded(window, "I love you")
    window.set_theme("light")
    assert QApplication.palette().window().color().name() == "#f4f4f6"
    assert window.grid.view.backgroundBrush().color().name() == "#ffffff"
    window.set_theme("dark")
    assert window.grid.view.backgroundBrush().color().name() == "#17181a"


def test_hangul_font_is_registered_and_covers_korean():
    from attnscope.app.fonts import cjk_family
    from attnscope.export.fonts import find_cjk_font

    path = find_cjk_font()
    assert path.is_file()
    family = cjk_family()
    assert family and family in QFontDatabase.families()
    raw = QRawFont(str(path), 12)
    assert raw.isValid() and raw.supportsCharacter(ord("나")) and raw.supportsCharacter(ord("를"))
    assert family in QFont().families() or family in QFont.substitutes(QFont().family())


def test_find_cjk_font_explains_when_there_is_none(monkeypatch):
    import attnscope.export.fonts as fonts

    monkeypatch.delenv(fonts.ENV_VAR, raising=False)
    monkeypatch.setattr(fonts, "packaged_font_dir", lambda: None)
    monkeypatch.setattr(fonts, "_system_fonts", lambda dirs=(): None)
    with pytest.raises(fonts.CJKFontNotFound, match="koreanize-matplotlib"):
        fonts.find_cjk_font()


def test_dropping_a_bundle_folder_opens_it(window, tmp_path, qtbot):
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDropEvent

    bundle = tmp_path / "dropped-bundle"
    bundle.mkdir()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(bundle))])
    ev = QDropEvent(QPointF(200, 200), Qt.DropAction.CopyAction, mime,
                    Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    window.dropEvent(ev)
    qtbot.waitUntil(lambda: str(window.controller.engine.bundle_path) == str(bundle), timeout=3000)
    assert window.store.recent_bundles()[0] == str(bundle)
    assert window.recent_menu.actions()[0].text() == str(bundle)


def test_truncated_input_shows_a_notice(qtbot, settings, decoded):
    from attnscope.app.main_window import MainWindow
    from attnscope.core.config import ModelConfig

    short = FakeEngine(ModelConfig(vocab_size=320, n_heads=4, max_len=6))
    w = MainWindow(short, settings)
    qtbot.addWidget(w)
    w.show()
    w.sentence.set_text("I love you")
    decoded(w, "I love you")
    assert not w.sentence.notice.isVisible()
    w.sentence.set_text("I love you and the cat and the dog")
    ins = decoded(w, "I love you and the cat and the dog")
    assert ins.truncated_input and len(ins.source_pieces) == 6
    assert w.sentence.notice.isVisible() and "truncated" in w.sentence.notice.text()
    w.controller.shutdown()


def test_a_slow_model_load_shows_a_splash(qtbot, monkeypatch):
    """NLLB-size bundles take 15-25 s to open: a splash says so meanwhile; a quick load and
    --screenshot show none, and a failing load still raises (main then prints one line)."""
    import argparse
    import time
    from concurrent.futures import ThreadPoolExecutor

    from PySide6.QtWidgets import QApplication, QSplashScreen

    shown: list[QSplashScreen] = []
    original = QSplashScreen.show
    monkeypatch.setattr(QSplashScreen, "show", lambda self: (shown.append(self), original(self))[1])
    app = QApplication.instance()
    args = argparse.Namespace(bundle="/models/nllb-600m.bundle", screenshot=None)

    def slow(result: object, fail: bool = False) -> object:
        time.sleep(app_main.SPLASH_AFTER_S + 0.5)
        if fail:
            raise OSError("disk went away")
        return result

    with ThreadPoolExecutor(1) as pool:
        assert app_main.await_engine(app, pool.submit(lambda: "quick"), args) == "quick"
        assert shown == []
        assert app_main.await_engine(app, pool.submit(slow, "engine"), args) == "engine"
        assert len(shown) == 1 and not shown[0].isVisible()
        shown.clear()
        with pytest.raises(OSError, match="disk went away"):
            app_main.await_engine(app, pool.submit(slow, None, True), args)
        assert len(shown) == 1 and not shown[0].isVisible()
        shown.clear()
        screenshot = argparse.Namespace(bundle=None, screenshot="out.png")
        assert app_main.await_engine(app, pool.submit(slow, "engine"), screenshot) == "engine"
        assert shown == []
