"""Small widgets the panels share: labels whose text changes cost no layout pass, and
combo boxes filled from a {key: text} table."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QFont, QFontMetrics, QTextDocument
from PySide6.QtWidgets import QComboBox, QFrame, QLabel, QScrollArea, QSizePolicy, QWidget


class StableLabel(QWidget):
    """Rich text of fixed height whose text changes never re-run a layout.

    A QLabel's setText asks its parent layout to run again, and Qt passes that up to the
    dock and the main window, which lays out every dock (the Fusion style even reloads
    the dock title icons): ~3 ms a keystroke. Here the QLabel inside has no layout around
    it and a fixed size, set from this widget's size when it is resized, so a new text
    only repaints the label.
    """

    linkActivated = Signal(str)

    def __init__(self, lines: int = 1, font: QFont | None = None) -> None:
        super().__init__()
        if font is not None:
            self.setFont(font)
        self.label = QLabel(self)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setWordWrap(lines > 1)
        self.label.linkActivated.connect(self.linkActivated)
        self._hint = QSize(10, QFontMetrics(self.font()).lineSpacing() * lines + 4)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(self._hint.height())
        self.setMinimumWidth(10)
        self.label.setFixedSize(self._hint)
        self._forms: tuple[str, ...] = ()  # set_forms: the full text first, shorter ones after

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self.label.setFixedSize(self.size())
        if self._forms:
            self._show_form()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return self._hint

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return self._hint

    def setText(self, text: str) -> None:  # noqa: N802 - QLabel's name
        if self._forms:
            self._forms = ()
            self.label.setToolTip("")
        self.label.setText(text)

    def set_forms(self, *forms: str) -> None:
        """One line: the first of ``forms`` (the full text, then shorter ones) that fits the
        width, or else the last one cut with "…"; again on every resize. When the text
        shown is not the full one, the full one is the label's tooltip. The same forms again
        (a refresh that changed nothing here) cost nothing: the width is handled on resize."""
        if forms == self._forms:
            return
        self._forms = forms
        self._show_form()

    def _show_form(self) -> None:
        shown = fitting_text(self._forms, self.label.font(), self.label.width())
        self.label.setText(shown)
        self.label.setToolTip("" if shown == self._forms[0] else self._forms[0])

    def text(self) -> str:
        return self.label.text()

    def setTextInteractionFlags(self, flags: Qt.TextInteractionFlag) -> None:  # noqa: N802
        self.label.setTextInteractionFlags(flags)


def rich_text_width(text: str, font: QFont) -> int:
    """Pixels the rich text ``text`` takes on one line in ``font`` (as a QLabel lays it out)."""
    doc = QTextDocument()
    doc.setDefaultFont(font)
    doc.setDocumentMargin(0)
    doc.setHtml(text)
    return math.ceil(doc.idealWidth())


def fitting_text(forms: Sequence[str], font: QFont, width: int) -> str:
    """The first of the rich texts ``forms`` that fits ``width`` pixels on one line, or
    else the last one as plain text cut with "…" to fit (escaped, so it stays rich text)."""
    for text in forms:
        if rich_text_width(text, font) <= width:
            return text
    doc = QTextDocument()
    doc.setHtml(forms[-1])
    cut = QFontMetrics(font).elidedText(doc.toPlainText(), Qt.TextElideMode.ElideRight, max(width, 0))
    return html.escape(cut, quote=False)


def fixed_label(lines: int = 1) -> StableLabel:
    """A rich-text label of ``lines`` lines whose size never depends on its text, so
    changing the text per keystroke never relayouts (and repaints) the dock around it."""
    return StableLabel(lines)


def combo_box(items: dict[str, str]) -> QComboBox:
    """A combo box showing each text, with its key as the item data."""
    box = QComboBox()
    for key, text in items.items():
        box.addItem(text, key)
    return box


def fit_to_layout(view) -> None:
    """A pyqtgraph GraphicsLayoutWidget at least as wide and tall as its plots' smallest
    layout (titles, axes, labels): a narrower widget would cut them off at its edge."""
    need = view.ci.layout.effectiveSizeHint(Qt.SizeHint.MinimumSize)
    view.setMinimumSize(max(view.minimumWidth(), int(need.width()) + 2),
                        max(view.minimumHeight(), int(need.height()) + 2))


def scrolled(widget: QWidget) -> QScrollArea:
    """``widget`` in a vertical scroll area: it keeps its minimum height (every plot
    readable) and the dock around it may be shorter."""
    area = QScrollArea()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    return area
