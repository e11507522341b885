"""One attention heatmap as a pyqtgraph PlotItem: an ImageItem with token tick labels.

Built once and updated in place: ``set_matrix`` swaps the image data, ``set_labels`` the
ticks (only when the tokens changed). Rows run top to bottom (``invertY``) as in
pyqtgraph's MatrixDisplayExample. Used by the layer x head grid and the large view.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QFontMetricsF, QTransform

from attnscope.app import theme
from attnscope.app.static_text import static_text
from attnscope.app.view_range import set_range

pg.setConfigOptions(imageAxisOrder="row-major")


def short(piece: str, limit: int = 8) -> str:
    """A piece trimmed for an axis label."""
    return piece if len(piece) <= limit else piece[: limit - 1] + "…"


class TokenAxis(pg.AxisItem):
    """Token tick labels that thin out (every n-th) instead of overlapping when crowded.

    Labels sit at integer positions 0..n-1, or at ``positions`` (the attention mosaic
    repeats each tile's tokens); thinning keeps every n-th label of each repeat.
    """

    def __init__(self, orientation: str, limit: int = 8, **kw) -> None:
        self._labels: list[str] = []
        self._positions: list[float] = []
        self._apart = 1.0
        self._period = 0
        self._limit = limit
        self._stride = 0
        super().__init__(orientation, **kw)
        # Fixed text space: pyqtgraph's auto-expansion resizes the axis *while painting*,
        # which relayouts the plot and paints the whole view a second time.
        self.setStyle(autoExpandTextSpace=False, autoReduceTextSpace=False)
        if orientation in ("top", "bottom"):
            self.setHeight(int(QFontMetricsF(self.font()).height()) + 8)

    def set_labels(self, labels, positions=None, period: int = 0) -> None:
        """Show ``labels`` at ``positions`` (default 0..n-1); ``period`` = labels per repeat."""
        labels = [short(s, self._limit) for s in labels]
        positions = list(range(len(labels))) if positions is None else list(positions)
        if labels == self._labels and positions == self._positions:
            return
        self._labels, self._positions = labels, positions
        # data units between neighbouring labels (1 for a token axis, a tile's height for layer names)
        self._apart = max(float(np.min(np.diff(np.sort(positions)))), 1.0) if len(positions) > 1 else 1.0
        self._period = period or len(labels)
        self._stride = 0
        if self.orientation in ("left", "right") and labels:
            fm = QFontMetricsF(self.font())
            self.setWidth(int(max(fm.horizontalAdvance(s) for s in labels)) + 10)
        self._retick()

    def resizeEvent(self, ev=None) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(ev)
        self._retick()

    def _retick(self) -> None:
        n = len(self._labels)
        if n == 0:
            self._stride = 0
            self.setTicks([[], []])
            return
        fm = QFontMetricsF(self.font())
        if self.orientation in ("left", "right"):
            need, room = fm.height(), self.geometry().height()  # rows never overlap
        else:
            need = max(fm.horizontalAdvance(s) for s in self._labels) + 3
            room = self.geometry().width()
        span = (max(self._positions) - min(self._positions) + 1) if n else 1
        per_unit = room / max(span, 1.0)  # pixels per data unit along this axis
        stride = max(1, int(np.ceil(need / max(per_unit * self._apart, 1e-6)))) if room > 1 else 1
        if stride == self._stride:
            return
        self._stride = stride
        period = max(self._period, 1)
        major = [(x, s) for k, (x, s) in enumerate(zip(self._positions, self._labels, strict=True))
                 if (k % period) % stride == 0]
        self.setTicks([major, []])

    def paint(self, p, *_args) -> None:
        """The axis line, a tick and a label per shown token, straight onto the painter.

        pyqtgraph's generic path measures every label through QPainter, records a
        QPicture and replays it, ~1.5 ms per axis; token labels change with each keystroke,
        so this draws cached static text instead (a fifth of the time).
        """
        view = self.linkedView()
        if view is None:
            return
        bounds = self.mapRectFromParent(self.geometry())
        vertical = self.orientation in ("left", "right")
        lo, hi = self.range
        span = (bounds.height() if vertical else bounds.width()) or 1.0
        scale = span / (hi - lo) if hi != lo else 1.0
        tick_len = self.style["tickLength"]
        p.setRenderHint(p.RenderHint.Antialiasing, False)
        p.setPen(self.pen())
        if self.orientation == "left":
            edge = bounds.right() - 1
            p.drawLine(QPointF(edge, bounds.top()), QPointF(edge, bounds.bottom()))
        elif self.orientation == "bottom":
            edge = bounds.top() + 1
            p.drawLine(QPointF(bounds.left(), edge), QPointF(bounds.right(), edge))
        else:  # top / right: not used by the token views; keep pyqtgraph's drawing
            super().paint(p, *_args)
            return
        ticks = self._tickLevels[0] if self._tickLevels else []
        # Data value -> position along this axis, as pyqtgraph maps it (range may be reversed).
        where = [((v - lo) * scale if not vertical else span - (v - lo) * scale, s)
                 for v, s in ticks]
        where = [(x, s) for x, s in where if -0.5 <= x <= span + 0.5]
        if tick_len:
            p.setPen(self.tickPen())
            for x, _s in where:
                if vertical:
                    y = bounds.top() + x
                    p.drawLine(QPointF(edge, y), QPointF(edge - tick_len, y))
                else:
                    x0 = bounds.left() + x
                    p.drawLine(QPointF(x0, edge), QPointF(x0, edge + tick_len))
        if not self.style["showValues"] or not where:
            return
        font = self.style["tickFont"] or self.font()
        p.setFont(font)
        p.setPen(self.textPen())
        p.setClipRect(self.boundingRect())
        gap = max(0, tick_len) + self.style["tickTextOffset"][1 if not vertical else 0]
        key = font.key()
        for x, s in where:
            st = static_text(s, font, key)
            size = st.size()
            if vertical:
                pos = QPointF(bounds.right() - gap - size.width(), bounds.top() + x - size.height() / 2)
            else:
                pos = QPointF(bounds.left() + x - size.width() / 2, bounds.top() + gap)
            p.drawStaticText(pos, st)


class HeatmapPlot(pg.PlotItem):
    """A [rows, cols] matrix with tokens on the axes; emits ``clicked`` and ``hovered``."""

    clicked = Signal()
    hovered = Signal(int, int, float)  # row, col, value (-1, -1 when the cursor leaves)

    def __init__(self, small: bool = False, **kw) -> None:
        self._small = small
        limit = 6 if small else 12
        axes = {"left": TokenAxis("left", limit), "bottom": TokenAxis("bottom", limit)}
        super().__init__(axisItems=axes, **kw)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setTransform(QTransform().translate(-0.5, -0.5))  # cell (0,0) centred on 0
        self.addItem(self.image)
        self.invertY(True)
        self.setDefaultPadding(0.0)
        self.setMouseEnabled(False, False)
        self.hideButtons()
        self.setMenuEnabled(False)
        self.showAxes((True, False, False, True), showValues=(True, False, False, True),
                      size=None)
        for name in ("left", "bottom"):
            self.getAxis(name).setStyle(tickLength=0 if small else -4, tickTextOffset=2)
        self._data = np.zeros((1, 1), np.float32)
        self._highlight = pg.QtWidgets.QGraphicsRectItem()
        self._highlight.setPen(pg.mkPen(theme.current().accent, width=2))
        self._highlight.setVisible(False)
        self.addItem(self._highlight, ignoreBounds=True)
        self.image.setAcceptHoverEvents(True)
        self.image.hoverEvent = self._on_hover
        self.image.mouseClickEvent = self._on_click
        theme.style_plot(self)

    @property
    def data(self) -> np.ndarray:
        return self._data

    def set_matrix(self, m: np.ndarray, levels: tuple[float, float]) -> None:
        self._data = m
        shape_changed = self.image.image is None or self.image.image.shape != m.shape
        self.image.setImage(m, levels=levels, autoLevels=False)
        if shape_changed:
            set_range(self, x=(-0.5, m.shape[1] - 0.5), y=(-0.5, m.shape[0] - 0.5))

    def set_labels(self, rows: tuple[str, ...], cols: tuple[str, ...]) -> None:
        self.getAxis("left").set_labels(rows)
        self.getAxis("bottom").set_labels(cols)

    def show_labels(self, left: bool, bottom: bool) -> None:
        self.getAxis("left").setStyle(showValues=left)
        self.getAxis("bottom").setStyle(showValues=bottom)

    def set_colormap(self, cmap: pg.ColorMap) -> None:
        self.image.setColorMap(cmap)

    def highlight_row(self, row: int | None) -> None:
        """Outline one query row (the selected decoding step); None hides it."""
        if row is None or row >= self._data.shape[0]:
            self._highlight.setVisible(False)
            return
        self._highlight.setPen(pg.mkPen(theme.current().accent, width=2 if self._small else 3))
        self._highlight.setRect(-0.5, row - 0.5, self._data.shape[1], 1.0)
        self._highlight.setVisible(True)

    def _cell(self, pos: QPointF) -> tuple[int, int] | None:
        c, r = int(np.floor(pos.x())), int(np.floor(pos.y()))
        if 0 <= r < self._data.shape[0] and 0 <= c < self._data.shape[1]:
            return r, c
        return None

    def _on_hover(self, ev) -> None:
        if ev.isExit():
            self.hovered.emit(-1, -1, 0.0)
            return
        cell = self._cell(ev.pos())
        if cell is not None:
            r, c = cell
            self.hovered.emit(r, c, float(self._data[r, c]))

    def _on_click(self, ev) -> None:
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self.clicked.emit()
