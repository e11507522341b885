"""Source input, the translation with its pieces, the truncation notice and the what-if bar.

Every keystroke emits ``text_changed``; the translation is drawn from the state. Pieces
are links: clicking one selects that decoding step everywhere.
"""

from __future__ import annotations

import html

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from attnscope.app import theme
from attnscope.app.state import AppState
from attnscope.app.widgets import StableLabel, fixed_label


class SentencePanel(QWidget):
    text_changed = Signal(str)
    revert_requested = Signal()  # leave the what-if and go back to the model's choice

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.source = QLineEdit()
        self.source.setPlaceholderText("Type an English sentence…")
        self.source.setClearButtonEnabled(True)
        self.source.setMinimumHeight(30)
        f = self.source.font()
        f.setPointSizeF(f.pointSizeF() * 1.25)
        self.source.setFont(f)
        self.notice = QLabel()
        self.notice.setVisible(False)
        self.notice.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
        self.translation = StableLabel(1, font=f)
        self.pieces = fixed_label(1)
        self.pieces.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse)
        self.pieces.setToolTip("Click a piece to show that decoding step in every view")
        self.whatif = QLabel()
        self.revert = QPushButton("↩ Back to the model's choice")
        self.revert.setToolTip("Drop the forced piece and decode freely again (Ctrl+Z)")
        self.revert.clicked.connect(self.revert_requested)
        top = QHBoxLayout()
        top.addWidget(self.source, 1)
        top.addWidget(self.notice)
        out = QHBoxLayout()
        out.addWidget(self.translation, 1)
        out.addWidget(self.whatif)
        out.addWidget(self.revert)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 2)
        lay.setSpacing(2)
        lay.addLayout(top)
        lay.addLayout(out)
        lay.addWidget(self.pieces)
        self.set_forced(None)
        self.source.textChanged.connect(self._on_text_changed)
        self.pieces.linkActivated.connect(self._on_piece_clicked)
        state.inspection_changed.connect(self._on_state_changed)
        state.selection_changed.connect(self._on_state_changed)
        self._on_state_changed()

    def set_text(self, text: str) -> None:
        """Put ``text`` in the input; emits ``text_changed`` like typing would."""
        self.source.setText(text)

    def set_forced(self, description: str | None) -> None:
        """Show (or hide, with None) the what-if banner."""
        t = theme.current()
        self.whatif.setVisible(description is not None)
        self.revert.setVisible(description is not None)
        if description:
            self.whatif.setText(f"<span style='color:{t.forced}'><b>What-if:</b> "
                                f"{html.escape(description)}</span>")

    def _on_text_changed(self, text: str) -> None:
        self.text_changed.emit(text)

    def _on_piece_clicked(self, link: str) -> None:
        self.state.set_step(int(link))

    def _on_state_changed(self, *_args) -> None:
        ins, path = self.state.inspection, self.state.path
        if ins is None or path is None:
            return
        t = theme.current()
        if ins.text != self.source.text():  # e.g. the first decode, or a screenshot run
            with QSignalBlocker(self.source):
                self.source.setText(ins.text)
        self.notice.setVisible(ins.truncated_input or ins.truncated_output)
        notes = []
        if ins.truncated_input:
            notes.append("input truncated to the model's maximum length")
        if ins.truncated_output:
            notes.append("output hit max length without EOS")
        self.notice.setText(f"<span style='color:{t.warn}'>⚠ {'; '.join(notes)}</span>")
        is_best = self.state.node_id == ins.best.node_id
        words = "".join(path.target_pieces).replace("▁", " ").replace("</s>", "").strip()
        label = "" if is_best else f" <span style='color:{t.muted}'>(selected hypothesis)</span>"
        self.translation.setText(f"<b>{html.escape(words) or '∅'}</b>{label}")
        nodes = ins.nodes
        parts = []
        for i, piece in enumerate(path.target_pieces):
            node = nodes[self.state.chain[i + 1]] if i + 1 < len(self.state.chain) else None
            colour = t.forced if node is not None and node.forced else t.text
            style = f"color:{colour};text-decoration:none;"
            if i == self.state.step:
                style += f"background:{t.accent};color:#000;"
            parts.append(f"<a href='{i}' style='{style}'>&nbsp;{html.escape(piece)}&nbsp;</a>")
        src = " ".join(html.escape(p) for p in ins.source_pieces)
        self.pieces.setText(f"<span style='color:{t.muted}'>source:</span> {src}"
                            f"&nbsp;&nbsp;&nbsp;<span style='color:{t.muted}'>target:</span> "
                            + " ".join(parts))


if __name__ == "__main__":
    import sys

    from attnscope.app.demo import run_panel

    sys.exit(run_panel(SentencePanel, (900, 120)))
