"""Fixtures for the app tests: a themed QApplication, a fake engine and a main window."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings

from attnscope.app import theme
from attnscope.app.fonts import install_cjk_font
from attnscope.app.testing import FakeEngine, load_fake_engine


@pytest.fixture(autouse=True)
def _app(qapp):
    theme.apply("dark", qapp)
    install_cjk_font(qapp)
    return qapp


@pytest.fixture
def engine():
    return FakeEngine()


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "attnscope.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def window(qtbot, engine, settings):
    from attnscope.app.main_window import MainWindow

    w = MainWindow(engine, settings, loader=load_fake_engine)
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.controller.shutdown()


@pytest.fixture
def decoded(qtbot):
    """``decoded(window, text)``: wait until the window shows a decode of ``text``."""

    def wait(window, text: str, timeout: int = 10_000):
        qtbot.waitUntil(lambda: window.state.inspection is not None
                        and window.state.inspection.text == text
                        and not window.controller.runner.busy, timeout=timeout)
        return window.state.inspection

    return wait
