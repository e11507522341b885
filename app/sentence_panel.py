"""Source input, the translation with its pieces, the truncation notice and the what-if bar.

Every keystroke emits ``text_changed``; the translation is drawn from the state. Pieces
are links: clicking one selects that decoding step everywhere. Byte-fallback pieces show
as the characters they spell (``raw`` shows them as they are), and pieces the model
barely or never saw in training are marked, with a notice that says why.
"""

from __future__ import annotations

import html

from PySide6.QtCore import QSignalBlocker, Qt, QUrl, Signal
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from attnscope.app import theme
from attnscope.app.state import AppState
from attnscope.app.widgets import StableLabel
from attnscope.core.inference.familiarity import PieceCounts, assess, detokenize, merge_bytes

OUTSIDE = "⚠ Outside what this model learned"


class PiecesView(QTextBrowser):
    """The source and target pieces: wraps, and scrolls when a long sentence needs more
    than its fixed three lines (a fixed height, so a new text never relayouts the dock)."""

    linkActivated = Signal(str)

    def __init__(self, lines: int = 3) -> None:
        super().__init__()
        self.setOpenLinks(False)
        self.setFrameShape(QTextBrowser.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.document().setDocumentMargin(1)
        self.setFixedHeight(QFontMetrics(self.font()).lineSpacing() * lines + 6)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.anchorClicked.connect(self._on_anchor_clicked)
        self.viewport().setAutoFillBackground(False)
        self._html = ""

    def _on_anchor_clicked(self, url: QUrl) -> None:
        self.linkActivated.emit(url.toString())

    def setText(self, text: str) -> None:  # noqa: N802 - QLabel's name
        if text != self._html:
            self._html = text
            self.setHtml(text)

    def text(self) -> str:
        return self._html


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
        self.counts: PieceCounts | None = None  # the bundle's training piece counts
        self.unk_id = 1
        self.hidden: frozenset[str] = frozenset()  # pieces the translation text leaves out (language codes)
        self.familiarity = assess((), (), None)
        self.outside = QLabel(OUTSIDE)
        self.outside.setVisible(False)
        self.outside.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
        self.raw = QCheckBox("raw pieces")
        self.raw.setToolTip("Show byte-fallback pieces as they are (<0x2C>) instead of the "
                            "characters they spell")
        self.raw.toggled.connect(self._on_raw_toggled)
        self.translation = StableLabel(1, font=f)
        self.pieces = PiecesView(3)
        self.pieces.setToolTip("Click a piece to show that decoding step in every view. "
                               "Underlined pieces: the model barely or never saw them in training")
        self.whatif = QLabel()
        self.revert = QPushButton("↩ Back to the model's choice (Esc)")
        self.revert.setToolTip("Drop the forced piece and decode freely again (Esc)")
        self.revert.clicked.connect(self.revert_requested)
        top = QHBoxLayout()
        top.addWidget(self.source, 1)
        top.addWidget(self.notice)
        top.addWidget(self.outside)
        top.addWidget(self.raw)
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

    def set_hidden(self, pieces: frozenset[str]) -> None:
        """Pieces that frame rather than translate (a forced language code): left out of the text."""
        self.hidden = pieces
        self._on_state_changed()

    def set_counts(self, counts: PieceCounts | None, unk_id: int = 1) -> None:
        """The open bundle's training piece counts (None: only byte pieces are marked)."""
        self.counts, self.unk_id = counts, unk_id
        self._on_state_changed()

    def _on_raw_toggled(self, _checked: bool) -> None:
        self._on_state_changed()

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
        words = detokenize([p for p in path.target_pieces if p not in self.hidden])
        label = "" if is_best else f" <span style='color:{t.muted}'>(selected hypothesis)</span>"
        self.translation.setText(f"<b>{html.escape(words) or '∅'}</b>{label}")
        fam = self.familiarity = assess(ins.source_pieces, ins.source_ids.tolist(), self.counts, self.unk_id,
                                        path.target_pieces)
        self.outside.setVisible(not fam.familiar)
        self.outside.setText(f"<span style='color:{t.warn}'>{OUTSIDE}</span>")
        self.outside.setToolTip("The model answers this as confidently as anything it knows, but:\n• "
                                + "\n• ".join(fam.reasons))
        raw = self.raw.isChecked()
        nodes = ins.nodes
        parts = []
        for text, idx in self._units(path.target_pieces, raw):
            i = idx[0]
            node = nodes[self.state.chain[i + 1]] if i + 1 < len(self.state.chain) else None
            colour = t.forced if node is not None and node.forced else t.text
            style = f"color:{colour};text-decoration:none;"
            if self.state.step in idx:
                style += f"background:{t.accent};color:#000;"
            if len(idx) > 1 or text != path.target_pieces[i]:  # bytes merged: still unfamiliar
                style += f"border-bottom:1px solid {t.warn};color:{t.warn};"
            parts.append(f"<a href='{i}' style='{style}'>&nbsp;{html.escape(text)}&nbsp;</a>")
        src = []
        for text, idx in self._units(ins.source_pieces, raw):
            piece = html.escape(text)
            if any(fam.marked[i] for i in idx):
                piece = f"<u style='color:{t.warn}'>{piece}</u>"
            src.append(piece)
        lines = [f"<span style='color:{t.muted}'>source:</span> {' '.join(src)}",
                 f"<span style='color:{t.muted}'>target:</span> " + " ".join(parts)]
        if not fam.familiar:
            lines.append(f"<span style='color:{t.warn}'>Outside what this model learned: "
                         f"{html.escape('; '.join(fam.reasons))}</span>")
        self.pieces.setText("<br>".join(lines))

    @staticmethod
    def _units(pieces, raw: bool) -> list[tuple[str, list[int]]]:
        return [(p, [i]) for i, p in enumerate(pieces)] if raw else merge_bytes(pieces)

if __name__ == "__main__":
    import sys

    from attnscope.app.demo import run_panel

    sys.exit(run_panel(SentencePanel, (900, 120)))
