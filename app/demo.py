"""Run one panel alone with fake data: ``python -m app.<panel>`` ends up here."""

from __future__ import annotations

import sys
from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, QEvent
from PySide6.QtWidgets import QApplication, QWidget

from attnscope.app import theme
from attnscope.app.state import AppState
from attnscope.app.testing import FakeEngine
from attnscope.core.config import DecodeConfig


def demo_state(text: str = "I love you", config: DecodeConfig | None = None,
               engine: FakeEngine | None = None) -> AppState:
    """An AppState holding a fake decode of ``text`` (needs a QApplication)."""
    state = AppState()
    engine = engine or FakeEngine()
    state.piece_fn = engine.piece
    state.set_inspection(engine.inspect(text, config or DecodeConfig()))
    return state


def app_instance(argv: list[str] | None = None) -> QApplication:
    from attnscope.app.fonts import install_cjk_font

    inst = QApplication.instance()
    app = inst if isinstance(inst, QApplication) else QApplication(argv or sys.argv[:1])
    theme.apply(theme.current().name, app)
    install_cjk_font(app)
    return app


def run_panel(factory: Callable[[AppState], QWidget], size: tuple[int, int] = (900, 600),
              screenshot: str | None = None, ready: Callable[[QWidget], bool] | None = None) -> int:
    """Show ``factory(state)`` alone; with ``--shot PATH`` save a PNG and exit.

    ``ready(widget)`` says when a panel that works off the GUI thread has drawn (the
    screenshot waits for it, at most 10 s).
    """
    state = demo_state()
    return show_alone(lambda: factory(state), size, screenshot, ready, state)


def show_alone(make: Callable[[], QWidget], size: tuple[int, int] = (900, 600), screenshot: str | None = None,
               ready: Callable[[QWidget], bool] | None = None, state: AppState | None = None) -> int:
    """Show ``make()`` alone (no AppState needed); ``--shot PATH`` as in ``run_panel``."""
    import time

    app = app_instance()
    args = sys.argv[1:]
    if "--shot" in args:
        screenshot = args[args.index("--shot") + 1]
    w = make()
    w.resize(*size)
    w.show()
    app.processEvents()
    if screenshot:
        deadline = time.monotonic() + 10
        while ready is not None and not ready(w) and time.monotonic() < deadline:
            app.processEvents()
            time.sleep(0.01)
        app.processEvents()
        w.grab().save(screenshot)
        rc = 0
    else:
        rc = app.exec()
    # Delete the panel before its state, explicitly: leaving both to the garbage collector
    # at interpreter exit can destroy them in the wrong order.
    w.close()
    w.deleteLater()
    if state is not None:
        state.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    return rc
