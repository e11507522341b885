"""Dark and light themes: the Qt palette plus the colours every pyqtgraph view draws with."""

from __future__ import annotations

from dataclasses import dataclass

import pyqtgraph as pg
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QGraphicsItem

COLORMAPS = ("viridis", "magma", "inferno", "plasma", "cividis", "CET-L3", "CET-L1")


@dataclass(frozen=True)
class Theme:
    name: str
    window: str  # widget background
    base: str  # input fields
    plot_bg: str  # every plot's background
    text: str  # foreground, axes, labels
    muted: str  # secondary text, faded branches
    accent: str  # selection, best path, chosen bar
    finished: str  # finished hypotheses
    forced: str  # what-if (forced) pieces
    bar: str  # ordinary probability bars
    cut: str  # top-k / top-p cut-off lines
    warn: str  # truncation notice


DARK = Theme("dark", "#1e1f22", "#2b2d31", "#17181a", "#e6e6e6", "#7c7f86",
             "#ffb02e", "#4cc38a", "#e5534b", "#5b8def", "#e5534b", "#ffb02e")
LIGHT = Theme("light", "#f4f4f6", "#ffffff", "#ffffff", "#1d1d1f", "#9a9ca3",
              "#d9480f", "#2b8a3e", "#c92a2a", "#3b6fd8", "#c92a2a", "#b35c00")
THEMES = {"dark": DARK, "light": LIGHT}

_current: Theme = DARK


def current() -> Theme:
    return _current


def _gui_app() -> QApplication | None:
    inst = QApplication.instance()
    return inst if isinstance(inst, QApplication) else None


def apply(name: str, app: QApplication | None = None) -> Theme:
    """Switch the application palette and pyqtgraph defaults; views re-read ``current()``."""
    global _current
    _current = THEMES.get(name, DARK)
    t = _current
    pg.setConfigOptions(background=t.plot_bg, foreground=t.text, antialias=True,
                        imageAxisOrder="row-major")
    app = app or _gui_app()
    if app is not None:
        app.setStyle("Fusion")
        pal = QPalette()
        roles = {
            QPalette.ColorRole.Window: t.window, QPalette.ColorRole.WindowText: t.text, QPalette.ColorRole.Base: t.base,
            QPalette.ColorRole.AlternateBase: t.window, QPalette.ColorRole.Text: t.text, QPalette.ColorRole.Button: t.base,
            QPalette.ColorRole.ButtonText: t.text, QPalette.ColorRole.ToolTipBase: t.base,
            QPalette.ColorRole.ToolTipText: t.text, QPalette.ColorRole.Highlight: t.accent,
            QPalette.ColorRole.HighlightedText: "#000000" if t.name == "dark" else "#ffffff",
            QPalette.ColorRole.PlaceholderText: t.muted, QPalette.ColorRole.Link: t.bar,
        }
        for role, colour in roles.items():
            pal.setColor(role, QColor(colour))
        pal.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text, QColor(t.muted))
        pal.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, QColor(t.muted))
        app.setPalette(pal)
    return t


def style_plot(plot: pg.PlotItem) -> None:
    """Re-colour one PlotItem's axes for the current theme (backgrounds are per widget).

    Axes also get a device-coordinate cache: pyqtgraph replays each axis's QPicture (text
    and all) on every repaint of the view, which costs more than the data; cached, an
    unchanged axis is a pixmap blit.
    """
    t = _current
    for name in ("left", "bottom", "top", "right"):
        ax = plot.getAxis(name)
        ax.setPen(pg.mkPen(t.muted))
        ax.setTextPen(pg.mkPen(t.text))
        ax.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
    title = plot.titleLabel  # drawn in the colour of the theme it was created under
    if title.text:
        title.setText(title.text, color=t.text)


def style_widget(widget: pg.GraphicsView) -> None:
    """Background of one GraphicsLayoutWidget / PlotWidget and the axes of its plots."""
    widget.setBackground(_current.plot_bg)
    scene = widget.scene()
    if scene is None:
        return
    for item in scene.items():
        if isinstance(item, pg.PlotItem):
            style_plot(item)
