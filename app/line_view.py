"""bertviz-style line view of one attention matrix: query tokens on the left, key tokens
on the right, a line from each query to each key whose opacity and width are the weight.
Hovering a token shows only its lines. Painted with QPainter: one paintEvent, no items.

Every token keeps its label: the view asks for a line of text per token (its parent
scrolls when the dock is shorter), and the label columns are as wide as the longest
piece, elided only when the view is too narrow for both columns and the lines between.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFontMetricsF, QPainter, QPen
from PySide6.QtWidgets import QWidget

from attnscope.app import theme

PAD = 15.0  # above the first and below the last token
GAP = 8.0  # between a label and the end of its lines
MIDDLE = 80.0  # the least room the lines get between the label columns


class LineView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.matrix = np.zeros((0, 0), np.float32)
        self.queries: tuple[str, ...] = ()
        self.keys: tuple[str, ...] = ()
        self.focus: tuple[str, int] | None = None  # ("q"|"k", index) under the cursor
        self.highlight_row: int | None = None
        # What the last paint wrote: (side, index, text as drawn, its bounding rectangle).
        self.drawn: list[tuple[str, int, str, QRectF]] = []
        self.setMouseTracking(True)
        self.setMinimumSize(240, 100)

    def set_data(self, matrix: np.ndarray, queries: tuple[str, ...],
                 keys: tuple[str, ...], highlight_row: int | None = None) -> None:
        self.matrix, self.queries, self.keys = matrix, queries, keys
        self.highlight_row = highlight_row
        n = max(len(queries), len(keys), 1)
        # One text line per token: a shorter dock scrolls instead of stacking labels.
        self.setMinimumHeight(max(100, int(2 * PAD + n * self._line())))
        self.update()

    def _line(self) -> float:
        return QFontMetricsF(self.font()).height() + 1

    def _rows(self, n: int) -> tuple[float, float]:
        """(top y, spacing) for n tokens in the widget's height."""
        spacing = min(28.0, max((self.height() - 2 * PAD) / max(n, 1), self._line()))
        top = PAD + (self.height() - 2 * PAD - spacing * n) / 2 + spacing / 2
        return top, spacing

    def _label_width(self) -> float:
        """Width of each label column: the longest piece, or what the view can spare."""
        fm = QFontMetricsF(self.font())
        widest = max((fm.horizontalAdvance(t) for t in self.queries + self.keys), default=0.0)
        return max(min(widest, (self.width() - MIDDLE) / 2 - 2 * GAP), 20.0)

    def _columns(self) -> tuple[float, float]:
        """x of the query and the key ends of the lines."""
        lw = self._label_width()
        return lw + 2 * GAP, self.width() - lw - 2 * GAP

    def paintEvent(self, _ev) -> None:  # noqa: N802 - Qt override
        t = theme.current()
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(t.plot_bg))
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        nq, nk = self.matrix.shape if self.matrix.ndim == 2 else (0, 0)
        if nq == 0 or nk == 0:
            p.setPen(QColor(t.muted))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "no attention to show")
            return
        xl, xr = self._columns()
        qt, qs = self._rows(nq)
        kt, ks = self._rows(nk)
        top = float(self.matrix.max()) or 1.0
        line = QColor(t.bar)
        for i in range(nq):
            if self.focus and self.focus[0] == "q" and self.focus[1] != i:
                continue
            for j in range(nk):
                if self.focus and self.focus[0] == "k" and self.focus[1] != j:
                    continue
                w = float(self.matrix[i, j]) / top
                if w < 0.02:
                    continue
                line.setAlphaF(min(1.0, 0.15 + 0.85 * w))
                p.setPen(QPen(line, 0.5 + 4.0 * w))
                p.drawLine(QPointF(xl + 6, qt + i * qs), QPointF(xr - 6, kt + j * ks))
        lw = self._label_width()
        fm = QFontMetricsF(self.font())
        self.drawn = []
        for side, labels, x, y0, s in (("q", self.queries, xl, qt, qs),
                                       ("k", self.keys, xr, kt, ks)):
            for i, text in enumerate(labels[: nq if side == "q" else nk]):
                active = (self.focus == (side, i)) or (side == "q" and i == self.highlight_row)
                p.setPen(QColor(t.accent if active else t.text))
                rect = QRectF(x - GAP - lw if side == "q" else x + GAP, y0 + i * s - s / 2, lw, s)
                align = (Qt.AlignmentFlag.AlignRight if side == "q" else Qt.AlignmentFlag.AlignLeft)
                shown = fm.elidedText(text, Qt.TextElideMode.ElideRight, lw)
                flags = align | Qt.AlignmentFlag.AlignVCenter
                p.drawText(rect, flags, shown)
                self.drawn.append((side, i, shown, p.boundingRect(rect, flags, shown)))

    def mouseMoveEvent(self, ev) -> None:  # noqa: N802 - Qt override
        xl, xr = self._columns()
        x, y = ev.position().x(), ev.position().y()
        focus = None
        nq, nk = self.matrix.shape if self.matrix.ndim == 2 else (0, 0)
        reach = self._label_width() + 2 * GAP
        for side, n, x0 in (("q", nq, xl), ("k", nk, xr)):
            if n and abs(x - x0) < reach and ((side == "q" and x < x0 + 6) or
                                               (side == "k" and x > x0 - 6)):
                top, s = self._rows(n)
                i = int(round((y - top) / s))
                if 0 <= i < n:
                    focus = (side, i)
        if focus != self.focus:
            self.focus = focus
            self.update()

    def leaveEvent(self, _ev) -> None:  # noqa: N802 - Qt override
        self.focus = None
        self.update()


if __name__ == "__main__":
    import sys

    from attnscope.app.demo import run_panel

    def _make(state):
        w = LineView()
        ins = state.inspection
        w.set_data(ins.best.cross_attention[-1].mean(axis=0), ins.target_pieces,
                   ins.source_pieces, highlight_row=0)
        return w

    sys.exit(run_panel(_make, (520, 360)))
