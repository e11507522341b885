"""Run one panel alone with fake data: ``python -m app.<panel>`` ends up here."""

from __future__ import annotations

import sys
from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, QEvent
from PySide6.QtWidgets import QApplication, QWidget

from app import theme
from app.fake_engine import FakeEngine
from app.state import AppState
from core.config import DecodeConfig


def demo_state(text: str = "I love you", config: DecodeConfig | None = None,
               engine: FakeEngine | None = None) -> AppState:
    """An AppState holding a fake decode of ``text`` (needs a QApplication)."""
    state = AppState()
    engine = engine or FakeEngine()
    state.piece_fn = engine.piece
    state.set_inspection(engine.inspect(text, config or DecodeConfig()))
    return state


def app_instance(argv: list[str] | None = None) -> QApplication:
    from app.fonts import install_cjk_font

    app = QApplication.instance() or QApplication(argv or sys.argv[:1])
    theme.apply(theme.current().name, app)
    install_cjk_font(app)
    return app


def run_panel(factory: Callable[[AppState], QWidget], size: tuple[int, int] = (900, 600),
              screenshot: str | None = None) -> int:
    """Show ``factory(state)`` alone; with ``--shot PATH`` save a PNG and exit."""
    app = app_instance()
    args = sys.argv[1:]
    if "--shot" in args:
        screenshot = args[args.index("--shot") + 1]
    state = demo_state()
    w = factory(state)
    w.resize(*size)
    w.show()
    app.processEvents()
    if screenshot:
        app.processEvents()
        w.grab().save(screenshot)
        rc = 0
    else:
        rc = app.exec()
    # Delete the panel before its state, explicitly: leaving both to the garbage collector
    # at interpreter exit can destroy them in the wrong order.
    w.close()
    w.deleteLater()
    state.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    return rc
