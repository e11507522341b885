"""The first-run hint: what to type and what each view shows, until the user dismisses it.

Shown above the input on the first start (and again from Help → Getting started); "Got
it" hides it and the window remembers that in its settings.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from attnscope.app import theme

HINT = (
    "<b>New here?</b> Type an English sentence in the box below (or pick one from "
    "<b>Examples</b>) and the model translates it as you type. "
    "<b>Centre:</b> attention of every layer × head (rows attend to columns; click a tile "
    "for the head detail). <b>Beam tree:</b> every hypothesis the search kept or pruned. "
    "<b>Next-piece probabilities:</b> what the model could have said at the selected step "
    "(click a bar to force it). Bottom tabs: the step scrubber, head statistics, and how "
    "the model learned (Evolution, Training, Gradient flow)."
)


class FirstRunHint(QFrame):
    dismissed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("first_run_hint")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.label = QLabel(HINT)
        self.label.setWordWrap(True)
        self.ok = QPushButton("Got it")
        self.ok.clicked.connect(self._on_ok_clicked)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(8, 4, 8, 4)
        lay.addWidget(self.label, 1)
        lay.addWidget(self.ok)
        self.apply_theme()

    def _on_ok_clicked(self) -> None:
        self.hide()
        self.dismissed.emit()

    def apply_theme(self) -> None:
        t = theme.current()
        self.setStyleSheet(f"#first_run_hint {{ border: 1px solid {t.accent}; border-radius: 4px; }}")
