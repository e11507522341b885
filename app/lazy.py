"""Repaint only what is on screen: views mark themselves dirty and catch up when shown;
panels in background dock tabs are not even built until their tab is first raised."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QVBoxLayout, QWidget

from attnscope.app import theme


class LazyView:
    """Mixin for a QWidget view: call ``schedule()`` on data changes, implement ``refresh()``.

    ``schedule()`` repaints at once when the widget is on screen and otherwise defers the
    work until it is shown again (``showEvent``, or ``catch_up()`` when its dock tab is
    raised: Qt parks background dock tabs off-screen instead of hiding them), so hidden
    docks and tabs cost nothing per keystroke.
    """

    _dirty = True
    refresh_count = 0  # how many times refresh() really ran (tests, profiling)
    # While a decode streams in, only views that grow with it (the tree) redraw on every
    # partial result; the others drew its first step and catch up when it completes, so
    # the window leaves the cores to the decode (AppState.growing).
    follows_partial = False

    def on_screen(self) -> bool:
        return self.isVisible() and not self.visibleRegion().isEmpty()  # type: ignore[attr-defined]

    def schedule(self) -> None:
        state = getattr(self, "state", None)
        if state is not None and getattr(state, "growing", False) and not self.follows_partial:
            self._dirty = True
        elif self.on_screen():
            self._run()
        else:
            self._dirty = True

    def catch_up(self) -> None:
        if self._dirty and self.on_screen():
            self._run()

    def _run(self) -> None:
        self._dirty = False
        self.refresh_count += 1
        self.refresh()

    def refresh(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def refit_on_resize(self) -> None:
        """For views whose drawing depends on their size (rows that fit, label room): redraw
        once the resize has settled (one zero-delay timer per burst of resize events)."""
        if getattr(self, "_refit_pending", False):
            return
        self._refit_pending = True

        def refit() -> None:
            self._refit_pending = False
            self._dirty = True
            self.catch_up()

        QTimer.singleShot(0, refit)

    def restyle(self, *views) -> None:
        """After a theme change: restyle these pyqtgraph views and redraw when on screen."""
        for view in views:
            theme.style_widget(view)
        self._dirty = True
        self.schedule()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)  # type: ignore[misc]
        # Qt also "shows" background dock tabs, parked off-screen: those stay dirty until
        # their tab is raised. Geometry may still be settling here, so look again once the
        # event loop has laid the window out.
        if self._dirty:
            if self.on_screen():
                self._run()
            else:
                QTimer.singleShot(0, self.catch_up)


class Deferred(QWidget):
    """A dock's content, built by ``factory`` the first time the dock is on screen.

    Background tabs then cost nothing at start-up (a panel of plots is 20-90 ms to
    build). ``panel()`` builds on demand for code that needs the panel now;
    ``when_built(key, fn)`` applies a window-level setting at once, or right after
    the panel is built (the latest call per key wins).
    """

    def __init__(self, factory: Callable[[], QWidget], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._factory = factory
        self._panel: QWidget | None = None
        self._pending: dict[str, Callable[[QWidget], None]] = {}
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)

    @property
    def built(self) -> bool:
        return self._panel is not None

    def panel(self) -> QWidget:
        if self._panel is None:
            panel = self._factory()
            self._layout.addWidget(panel)
            self._panel = panel
            for fn in self._pending.values():
                fn(panel)
            self._pending.clear()
            if self.isVisible():
                self._layout.activate()  # give it its size before it first shows
                panel.show()
        return self._panel

    def when_built(self, key: str, fn: Callable[[QWidget], None]) -> None:
        if self._panel is not None:
            fn(self._panel)
        else:
            self._pending[key] = fn

    def catch_up(self) -> None:
        panel = self.panel()
        if isinstance(panel, LazyView):
            panel.catch_up()
