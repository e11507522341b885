"""Entry point: ``attnscope gui`` calls ``main(argv)``.

    --bundle B        model bundle folder (default: the shipped model)
    --text T          first sentence (default "I love you")
    --screenshot PNG  render once, save the whole window, exit 0 (works offscreen)
    --fake            a deterministic fake engine instead of onnxruntime (demos, tests)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from concurrent.futures import Future

    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from attnscope.app.main_window import MainWindow
    from attnscope.core.inference.protocols import InspectionEngine

APP_NAME = "AttnScope"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="attnscope gui", description=__doc__.split("\n")[0])
    p.add_argument("--bundle", help="model bundle folder (default: the shipped model)")
    p.add_argument("--text", default="I love you", help="first sentence to translate")
    p.add_argument("--screenshot", metavar="PNG", help="render once, save the window, exit")
    p.add_argument("--fake", action="store_true", help="use the deterministic fake engine")
    p.add_argument("--theme", choices=("dark", "light"), help="colour theme")
    return p.parse_args(argv)


def display_problem(argv: list[str] | None = None) -> str | None:
    """Why Qt could not open a window here, or None when it can (Linux needs a display)."""
    if not sys.platform.startswith("linux"):
        return None
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    args = argv or []
    if "-platform" in args:
        platform = args[args.index("-platform") + 1] if args.index("-platform") + 1 < len(args) else ""
    if platform.split(":")[0] in ("offscreen", "minimal", "vnc", "eglfs", "linuxfb"):
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    return ("AttnScope needs a display: no DISPLAY or WAYLAND_DISPLAY is set. Run it in a "
            "desktop session, or render headless with QT_QPA_PLATFORM=offscreen "
            "(e.g. QT_QPA_PLATFORM=offscreen attnscope gui --screenshot out.png).")


def make_engine(args: argparse.Namespace) -> InspectionEngine:
    """The fake engine with --fake, else the real one (imported lazily)."""
    if args.fake:
        from attnscope.app.testing import load_fake_engine

        return load_fake_engine(args.bundle)
    from attnscope.app.controller import load_real_engine

    return load_real_engine(args.bundle)


def wait_for_result(app: QApplication, window: MainWindow, timeout_s: float = 30.0) -> bool:
    """Spin the event loop until the window shows a decode of the current text."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        app.processEvents()
        ins = window.state.inspection
        if ins is not None and ins.text == window.controller.text and not window.controller.runner.busy:
            for _ in range(3):  # let layouts settle and deferred repaints run
                app.processEvents()
                time.sleep(0.02)
            return True
        time.sleep(0.005)
    return False


SPLASH_AFTER_S = 0.5  # a model still loading after this gets a splash (NLLB-600M: 15-25 s here)


def await_engine(app: QApplication, loading: Future, args: argparse.Namespace) -> InspectionEngine:
    """The loading engine (its exception, if it failed). One that takes longer than
    ``SPLASH_AFTER_S`` shows a splash that names the model meanwhile (not for --screenshot)."""
    from concurrent.futures import wait

    if args.screenshot or wait([loading], timeout=SPLASH_AFTER_S).done:
        return loading.result()
    from PySide6.QtCore import QPoint, QRect, Qt
    from PySide6.QtGui import QColor, QPainter, QPixmap
    from PySide6.QtWidgets import QSplashScreen

    from attnscope.app import theme

    t = theme.current()
    pixmap = QPixmap(420, 300)
    pixmap.fill(QColor(t.plot_bg))
    painter = QPainter(pixmap)
    painter.drawPixmap(QPoint(110, 20), app_icon().pixmap(200, 200))
    painter.setPen(QColor(t.text))
    name = os.path.basename(os.path.normpath(args.bundle)) if args.bundle else "the default model"
    painter.drawText(QRect(10, 230, 400, 60), int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap),
                     f"{APP_NAME}: opening {name}…")
    painter.end()
    splash = QSplashScreen(pixmap)
    splash.show()
    try:
        while not wait([loading], timeout=0.05).done:
            app.processEvents()
    finally:
        splash.close()
    return loading.result()


def launch(args: argparse.Namespace) -> tuple[QApplication, MainWindow] | int:
    """Create the application and show the window with the first request made.

    Returns (QApplication, MainWindow), or an exit code after telling the user why not.
    The model loads on a worker thread while the plotting library imports and the window
    is built (onnxruntime builds its sessions without holding the interpreter lock).
    """
    from concurrent.futures import ThreadPoolExecutor

    from PySide6.QtCore import QSettings, Qt
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication, QMessageBox

    if QApplication.instance() is None:  # fractional scaling (150 %) stays crisp, not rounded
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
            Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    inst = QApplication.instance()
    app = inst if isinstance(inst, QApplication) else QApplication([sys.argv[0] if sys.argv else APP_NAME])
    app.setOrganizationName(APP_NAME)
    app.setApplicationName(APP_NAME)
    app.setDesktopFileName("attnscope")  # matches resources/attnscope.desktop
    app.setWindowIcon(app_icon())
    with ThreadPoolExecutor(1, thread_name_prefix="attnscope-load") as pool:
        loading = pool.submit(make_engine, args)
        from attnscope.app import theme
        from attnscope.app.fonts import install_cjk_font
        from attnscope.app.main_window import MainWindow

        settings = QSettings()
        theme.apply(args.theme or str(settings.value("theme", "dark")), app)
        if install_cjk_font(app) is None:
            print("warning: no CJK font found; Korean may show as boxes "
                  "(pip install koreanize-matplotlib)", file=sys.stderr)
        try:
            engine = await_engine(app, loading, args)
        except Exception as exc:  # noqa: BLE001 - ImportError, BundleError, anything the bundle raises
            if isinstance(exc, ImportError):  # a broken install, not the user's input
                message = ("The inference engine (attnscope.core.inference.engine) is not available:\n"
                           f"{type(exc).__name__}: {exc}\n\nUse --fake for the demo engine.")
                print(message, file=sys.stderr)
            else:  # the user's bundle (or setting): one line, status 2
                message = f"cannot open the model: {exc} (--fake runs the demo engine)"
                print(f"attnscope: {message}", file=sys.stderr)
            if not args.screenshot and app.platformName() != "offscreen":
                QMessageBox.critical(None, APP_NAME, message)
            return 1 if isinstance(exc, ImportError) else 2
    window = MainWindow(engine, settings)
    if args.screenshot:
        window.resize(1280, 800)
    window.show()
    window.start(args.text)
    return app, window


def app_icon() -> QIcon:
    """The project's icon (resources/icons), the same one the desktop entry names."""
    from importlib import resources

    from PySide6.QtGui import QIcon

    icons = resources.files("attnscope.resources").joinpath("icons")
    icon = QIcon()
    for name in ("attnscope.svg", "attnscope-256.png"):
        icon.addFile(str(icons.joinpath(name)))
    return icon


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    problem = display_problem(argv)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    launched = launch(args)
    if isinstance(launched, int):
        return launched
    app, window = launched
    if args.screenshot:
        ok = wait_for_result(app, window)
        window.grab().save(args.screenshot)
        window.controller.shutdown()
        window.deleteLater()
        if not ok:
            print("warning: the decode did not finish before the screenshot", file=sys.stderr)
        print(args.screenshot)
        return 0
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
