"""Repaint only what is on screen: views mark themselves dirty and catch up when shown."""

from __future__ import annotations


class LazyView:
    """Mixin for a QWidget view: call ``schedule()`` on data changes, implement ``refresh()``.

    ``schedule()`` repaints at once when the widget is on screen and otherwise defers the
    work until it is shown again (``showEvent``, or ``catch_up()`` when its dock tab is
    raised: Qt parks background dock tabs off-screen instead of hiding them), so hidden
    docks and tabs cost nothing per keystroke.
    """

    _dirty = True
    refresh_count = 0  # how many times refresh() really ran (tests, profiling)

    def on_screen(self) -> bool:
        return self.isVisible() and not self.visibleRegion().isEmpty()  # type: ignore[attr-defined]

    def schedule(self) -> None:
        if self.on_screen():
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

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)  # type: ignore[misc]
        if self._dirty:
            self._run()


def fixed_label(lines: int = 1):
    """A rich-text QLabel whose size never depends on its text, so changing the text per
    keystroke never relayouts (and repaints) the dock around it."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QFontMetrics
    from PySide6.QtWidgets import QLabel, QSizePolicy

    label = QLabel()
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setWordWrap(lines > 1)
    label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
    label.setFixedHeight(QFontMetrics(label.font()).lineSpacing() * lines + 4)
    label.setMinimumWidth(10)
    return label
